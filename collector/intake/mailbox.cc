/*
 * mailbox.cc - mbox splitting and Maildir listing for `dmarcwatch ingest`.
 *
 * Users: ingest.cc.
 * Thread-safety: plain functions, no state.
 * Error policy: I/O errors throw std::system_error; a message over
 * Limits::maxMessageBytes is not an error for the mbox as a whole: the
 * visitor is told (empty message, error text) and splitting goes on.
 * Memory: one message (capped) plus one read buffer, whatever the mbox size;
 * after a wrong Content-Length, the body read by it (capped) once more.
 * A single line longer than the cap is dropped as it streams by.
 * Security: the mbox holds untrusted mail.  A Content-Length is parsed with
 * overflow checks and trusted only under the message cap; bodies read ahead
 * by a wrong one are split again without trusting any length in them, so the
 * work stays linear in the mbox size.
 */
#include "config.h"

#include "collector/intake/mailbox.hh"

#include "collector/common/config-keys.hh"
#include "collector/common/errors.hh"
#include "collector/common/text.hh"
#include "collector/intake/classify.hh"

#include <algorithm>
#include <charconv>
#include <filesystem>
#include <iterator>
#include <optional>
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

/*!
 * The value of a Content-Length field ("Content-Length: 1234"), or nullopt when it is not one
 * number of at most 64 bits (digits only, blanks around them).
 */
std::optional<uint64_t> contentLengthValue(std::string_view value)
{
  const size_t begin = value.find_first_not_of(" \t");
  const size_t end = value.find_last_not_of(" \t\r\n");
  if (begin == std::string_view::npos || end == std::string_view::npos || end < begin) {
    return std::nullopt;
  }
  value = value.substr(begin, end + 1 - begin);
  if (!allDigits(value)) {
    return std::nullopt;
  }
  uint64_t length = 0;
  const auto [ptr, ec] = std::from_chars(value.data(), value.data() + value.size(), length);
  if (ec != std::errc() || ptr != value.data() + value.size()) {
    return std::nullopt; // out of range
  }
  return length;
}

bool isBlankLine(std::string_view text)
{
  return text == "\n" || text == "\r\n";
}

/*!
 * Collects lines into the current message and hands complete messages to the visitor.
 *
 * Messages end at From_ separators (mboxo, mboxrd), or, when the header holds one
 * Content-Length (mboxcl2), after that many body bytes, so that unquoted "From " lines in the
 * body do not split it.  The length is trusted only when what follows the body is a "From "
 * line, after at most one blank line, or the end of the input (mutt's check); the body lines
 * read ahead are then split again by From_ lines, once: a length found inside them is not
 * trusted, so a crafted chain of wrong lengths costs linear time.
 */
class MboxSplitter
{
public:
  MboxSplitter(const Limits& limits,
               const std::function<void(std::string_view, unsigned, std::string_view)>& visit) :
    d_limits(limits), d_visit(visit) {}

  //! One complete line, line break included (except possibly the very last line).
  void line(std::string_view text, bool truncated)
  {
    step(text, truncated, true);
    replay();
  }

  //! End of input: the last message (a body shorter than its Content-Length is split by From_ lines).
  void finish()
  {
    if (d_body == Body::Counting) {
      fallBack(std::string_view(), false);
      replay();
    }
    flush(d_body == Body::Counted);
  }

private:
  //! How the current message's body ends: at a From_ line, or after Content-Length bytes.
  enum class Body
  {
    Lines,    //!< mboxo, mboxrd, or a header still being read
    Counting, //!< d_remaining body bytes to go
    Counted   //!< the body is complete: a From_ line or the end must follow
  };

  void step(std::string_view text, bool truncated, bool fresh)
  {
    switch (d_body) {
    case Body::Counting:
      count(text, truncated);
      return;
    case Body::Counted:
      afterBody(text, truncated);
      return;
    case Body::Lines:
      break;
    }

    // A separator is "From " at the start of the file or after an empty line, or a From_ line
    // with its date anywhere (some writers leave out the empty line: mutt reads those too).
    if (!truncated && text.starts_with("From ") && (d_previousEmpty || isFromLine(text))) {
      startMessage();
      return;
    }
    d_previousEmpty = isBlankLine(text);

    // Text before any separator is a message only if it is more than blank lines.
    if (!d_started) {
      if (d_previousEmpty && d_message.empty()) {
        return;
      }
      d_started = true;
      d_inHeader = true;
    }

    // In the header: note a Content-Length; at its end, count the body by it when it is usable.
    if (d_inHeader) {
      if (d_previousEmpty) {
        d_inHeader = false;
        append(text, truncated);
        startCounting(fresh);
        return;
      }
      noteContentLength(text);
    }

    // mboxrd quoting: ">From ", ">>From " ... lose one '>'.
    const size_t quotes = text.find_first_not_of('>');
    if (quotes != std::string_view::npos && quotes > 0 && text.substr(quotes).starts_with("From ")) {
      text.remove_prefix(1);
    }
    append(text, truncated);
  }

  void startMessage()
  {
    flush(d_body == Body::Counted);
    d_started = true;
    d_inHeader = true;
    d_previousEmpty = false;
  }

  void noteContentLength(std::string_view text)
  {
    const auto nameLength = headerFieldNameLength(text);
    if (!nameLength || !equalsIgnoreCaseAscii(text.substr(0, *nameLength), "content-length")) {
      return;
    }
    ++d_lengthFields;
    d_contentLength = contentLengthValue(text.substr(text.find(':') + 1));
  }

  //! The header just ended: count the body when its one Content-Length fits under the cap.
  void startCounting(bool fresh)
  {
    // d_message.size() <= maxMessageBytes unless oversized (append), so the subtraction holds.
    const bool usable = fresh && !d_oversized && d_lengthFields == 1 && d_contentLength &&
                        *d_contentLength <= d_limits.maxMessageBytes - d_message.size();
    if (usable) {
      d_bodyStart = d_message.size();
      d_remaining = *d_contentLength;
      d_body = d_remaining == 0 ? Body::Counted : Body::Counting;
    }
    d_lengthFields = 0;
    d_contentLength.reset();
  }

  void count(std::string_view text, bool truncated)
  {
    // Whole lines of the body, raw (mboxcl2 quotes nothing).
    if (!truncated && text.size() <= d_remaining) {
      d_message.append(text);
      d_remaining -= text.size();
      if (d_remaining == 0) {
        d_body = Body::Counted;
      }
      return;
    }

    // The body ends inside this line: right only when the rest is the line break before the separator.
    if (!truncated && isBlankLine(text.substr(d_remaining))) {
      d_message.append(text.substr(0, d_remaining));
      d_after.append(text.substr(d_remaining));
      d_remaining = 0;
      d_body = Body::Counted;
      return;
    }
    fallBack(text, truncated);
  }

  void afterBody(std::string_view text, bool truncated)
  {
    // The length was right when a "From " line follows, after at most one blank line.
    if (!truncated && text.starts_with("From ")) {
      startMessage();
      return;
    }
    if (!truncated && d_after.empty() && isBlankLine(text)) {
      d_after.append(text);
      return;
    }
    fallBack(text, truncated);
  }

  /*!
   * The Content-Length was wrong: take back the body read by it, what followed it and this line,
   * to be split again by From_ lines (replay()).
   */
  void fallBack(std::string_view text, bool truncated)
  {
    d_replay = d_message.substr(d_bodyStart);
    d_replay += d_after;
    if (!truncated) {
      d_replay += text;
    }
    d_replayTruncated = truncated;
    d_message.resize(d_bodyStart);
    d_after.clear();
    d_body = Body::Lines;
  }

  //! Split the bytes fallBack() took back into lines again; no Content-Length is trusted among them.
  void replay()
  {
    if (d_replay.empty() && !d_replayTruncated) {
      return;
    }
    const std::string bytes = std::move(d_replay);
    const bool truncated = d_replayTruncated;
    d_replay.clear();
    d_replayTruncated = false;
    for (size_t pos = 0; pos < bytes.size();) {
      const size_t nl = bytes.find('\n', pos);
      const size_t end = nl == std::string::npos ? bytes.size() : nl + 1;
      step(std::string_view(bytes).substr(pos, end - pos), false, false);
      pos = end;
    }
    if (truncated) {
      step(std::string_view(), true, false);
    }
  }

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

  //! Hand the message over; exact: its body was counted by Content-Length (nothing to take off).
  void flush(bool exact)
  {
    // The empty line before a separator belongs to the mbox format, not to the message.
    if (d_started) {
      ++d_index;
      if (d_oversized) {
        const std::string error = "message over " + std::string(kKeyMessage) + " (" + std::to_string(d_limits.maxMessageBytes) + " bytes)";
        d_visit(std::string_view(), d_index, error);
      }
      else {
        std::string_view message(d_message);
        if (!exact && message.ends_with("\r\n\r\n")) {
          message.remove_suffix(2);
        }
        else if (!exact && message.ends_with("\n\n")) {
          message.remove_suffix(1);
        }
        d_visit(message, d_index, std::string_view());
      }
    }
    d_message.clear();
    d_after.clear();
    d_oversized = false;
    d_started = false;
    d_inHeader = false;
    d_body = Body::Lines;
    d_lengthFields = 0;
    d_contentLength.reset();
  }

  const Limits& d_limits;
  const std::function<void(std::string_view, unsigned, std::string_view)>& d_visit;
  std::string d_message;
  unsigned d_index = 0;
  bool d_started = false;
  bool d_oversized = false;
  bool d_previousEmpty = true;

  // mboxcl2: the header's Content-Length fields, and the body counted by it.
  bool d_inHeader = false;
  unsigned d_lengthFields = 0;
  std::optional<uint64_t> d_contentLength;
  Body d_body = Body::Lines;
  size_t d_bodyStart = 0;
  uint64_t d_remaining = 0;
  std::string d_after;  //!< the blank line read after a counted body
  std::string d_replay; //!< bytes taken back from a wrong Content-Length, to split by From_ lines
  bool d_replayTruncated = false;
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
