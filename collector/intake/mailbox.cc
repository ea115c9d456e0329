/*
 * mailbox.cc - mbox splitting and Maildir listing for `dmarcwatch ingest`.
 *
 * Users: ingest.cc.
 * Thread-safety: plain functions, no state.
 * Error policy: I/O errors throw std::system_error; a message over
 * Limits::maxMessageBytes is not an error for the mbox as a whole: the
 * visitor is told (empty message, error text) and splitting goes on.
 * Memory: one message (capped) plus one read buffer, whatever the mbox size.
 * A single line longer than the cap is dropped as it streams by.
 */
#include "config.h"

#include "collector/intake/mailbox.hh"

#include "collector/common/config-keys.hh"
#include "collector/common/errors.hh"

#include <algorithm>
#include <filesystem>
#include <iterator>
#include <system_error>
#include <utility>
#include <vector>

namespace dmarcwatch::collector
{

namespace
{

// Configuration key named when a message is too big.
constexpr const char* kKeyMessage = keys::maxMessageSize;

//! "Jan".."Dec".
bool isMonth(std::string_view word)
{
  static constexpr std::string_view s_months[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                                  "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
  return std::find(std::begin(s_months), std::end(s_months), word) != std::end(s_months);
}

bool allDigits(std::string_view text)
{
  return !text.empty() && std::all_of(text.begin(), text.end(), [](char c) { return c >= '0' && c <= '9'; });
}

/*!
 * Is this an mbox From_ line: "From SENDER [Weekday[,]] Month Day hh:mm[:ss] [zone] Year",
 * the asctime() order mutt accepts (a zone may also follow the year)?  Text that starts with
 * "From " ("From the desk of ...") is not one, even when it names a date.
 */
bool isFromLine(std::string_view line)
{
  if (!line.starts_with("From ")) {
    return false;
  }
  std::vector<std::string_view> words;
  for (size_t pos = 5; pos < line.size() && words.size() < 12;) {
    const size_t start = line.find_first_not_of(" \t\r\n", pos);
    if (start == std::string_view::npos) {
      break;
    }
    const size_t end = line.find_first_of(" \t\r\n", start);
    words.push_back(line.substr(start, end == std::string_view::npos ? std::string_view::npos : end - start));
    pos = end == std::string_view::npos ? line.size() : end;
  }
  static constexpr std::string_view s_weekdays[] = {"Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"};
  auto isWeekday = [](std::string_view word) {
    if (word.ends_with(',')) {
      word.remove_suffix(1);
    }
    return std::find(std::begin(s_weekdays), std::end(s_weekdays), word) != std::end(s_weekdays);
  };
  auto isTime = [](std::string_view word) {
    // hh:mm or hh:mm:ss
    return (word.size() == 5 || word.size() == 8) && allDigits(word.substr(0, 2)) && word[2] == ':' &&
           allDigits(word.substr(3, 2)) && (word.size() == 5 || (word[5] == ':' && allDigits(word.substr(6, 2))));
  };
  auto isZone = [](std::string_view word) {
    return ((word.front() == '+' || word.front() == '-') && word.size() == 5 && allDigits(word.substr(1))) ||
           (word.size() >= 3 && word.size() <= 5 &&
            std::all_of(word.begin(), word.end(), [](char c) { return c >= 'A' && c <= 'Z'; }));
  };
  size_t i = 1; // words[0] is the sender
  if (i < words.size() && isWeekday(words[i])) {
    ++i;
  }
  if (i + 2 >= words.size() || !isMonth(words[i]) || words[i + 1].size() > 2 || !allDigits(words[i + 1]) ||
      !isTime(words[i + 2])) {
    return false;
  }
  i += 3;
  for (int zones = 0; zones < 2 && i < words.size() && isZone(words[i]); ++zones) {
    ++i;
  }
  return i < words.size() && words[i].size() == 4 && allDigits(words[i]);
}

//! Collects lines into the current message and hands complete messages to the visitor.
class MboxSplitter
{
public:
  MboxSplitter(const Limits& limits,
               const std::function<void(std::string_view, unsigned, std::string_view)>& visit) :
    d_limits(limits), d_visit(visit) {}

  //! One complete line, line break included (except possibly the very last line).
  void line(std::string_view text, bool truncated)
  {
    // A separator is "From " at the start of the file or after an empty line, or a From_ line
    // with its date anywhere (some writers leave out the empty line: mutt reads those too).
    if (!truncated && text.starts_with("From ") && (d_previousEmpty || isFromLine(text))) {
      flush();
      d_started = true;
      d_previousEmpty = false;
      return;
    }
    d_previousEmpty = text == "\n" || text == "\r\n";

    // Text before any separator is a message only if it is more than blank lines.
    if (!d_started) {
      if (d_previousEmpty && d_message.empty()) {
        return;
      }
      d_started = true;
    }

    // mboxrd quoting: ">From ", ">>From " ... lose one '>'.
    const size_t quotes = text.find_first_not_of('>');
    if (quotes != std::string_view::npos && quotes > 0 && text.substr(quotes).starts_with("From ")) {
      text.remove_prefix(1);
    }
    append(text, truncated);
  }

  //! End of input: the last message.
  void finish() { flush(); }

private:
  void append(std::string_view text, bool truncated)
  {
    // Past the cap the message is only counted, never stored.
    if (truncated || d_oversized || d_message.size() + text.size() > d_limits.maxMessageBytes) {
      d_oversized = true;
      d_message.clear();
      d_message.shrink_to_fit();
      return;
    }
    d_message.append(text);
  }

  void flush()
  {
    // The empty line before a separator belongs to the mbox format, not to the message.
    if (!d_started) {
      return;
    }
    ++d_index;
    if (d_oversized) {
      const std::string error = "message over " + std::string(kKeyMessage) + " (" + std::to_string(d_limits.maxMessageBytes) + " bytes)";
      d_visit(std::string_view(), d_index, error);
    }
    else {
      std::string_view message(d_message);
      if (message.ends_with("\r\n\r\n")) {
        message.remove_suffix(2);
      }
      else if (message.ends_with("\n\n")) {
        message.remove_suffix(1);
      }
      d_visit(message, d_index, std::string_view());
    }
    d_message.clear();
    d_oversized = false;
    d_started = false;
  }

  const Limits& d_limits;
  const std::function<void(std::string_view, unsigned, std::string_view)>& d_visit;
  std::string d_message;
  unsigned d_index = 0;
  bool d_started = false;
  bool d_oversized = false;
  bool d_previousEmpty = true;
};

} // namespace

void forEachMboxMessage(ByteSource& mbox, const Limits& limits,
                        const std::function<void(std::string_view message, unsigned index, std::string_view error)>& visit)
{
  // Read in chunks and cut lines; a line longer than the cap is dropped as it goes by (marked truncated).
  MboxSplitter splitter(limits, visit);
  std::vector<uint8_t> buffer(65536);
  std::string pending;
  bool pendingTruncated = false;
  for (;;) {
    const size_t got = mbox.read(buffer);
    if (got == 0) {
      break;
    }
    std::string_view chunk(reinterpret_cast<const char*>(buffer.data()), got);
    while (!chunk.empty()) {
      const size_t nl = chunk.find('\n');
      const std::string_view piece = chunk.substr(0, nl == std::string_view::npos ? chunk.size() : nl + 1);
      chunk.remove_prefix(piece.size());
      if (!pendingTruncated) {
        if (pending.size() + piece.size() > limits.maxMessageBytes) {
          pendingTruncated = true;
          pending.clear();
          pending.shrink_to_fit();
        }
        else {
          pending.append(piece);
        }
      }
      if (nl != std::string_view::npos) {
        splitter.line(pending, pendingTruncated);
        pending.clear();
        pendingTruncated = false;
      }
    }
  }

  // The last line may lack its line break.
  if (!pending.empty() || pendingTruncated) {
    splitter.line(pending, pendingTruncated);
  }
  splitter.finish();
}

bool isMaildir(const std::string& path)
{
  std::error_code ec;
  if (!std::filesystem::is_directory(path, ec)) {
    return false;
  }
  return std::filesystem::is_directory(std::filesystem::path(path) / "cur", ec) ||
    std::filesystem::is_directory(std::filesystem::path(path) / "new", ec);
}

std::vector<std::string> listMaildir(const std::string& path)
{
  // cur/ then new/, regular files only (dot files are editor or client leftovers), sorted by path.
  std::vector<std::string> files;
  for (const char* sub : {"cur", "new"}) {
    const std::filesystem::path dir = std::filesystem::path(path) / sub;
    std::error_code ec;
    if (!std::filesystem::is_directory(dir, ec)) {
      continue;
    }
    std::filesystem::directory_iterator it(dir, ec);
    if (ec) {
      throw std::system_error(ec, "list " + dir.string());
    }
    for (const auto& entry : it) {
      const std::string name = entry.path().filename().string();
      if (name.empty() || name.front() == '.') {
        continue;
      }
      std::error_code typeError;
      if (entry.is_regular_file(typeError)) {
        files.push_back(entry.path().string());
      }
    }
  }
  std::sort(files.begin(), files.end());
  return files;
}

} // namespace dmarcwatch::collector
