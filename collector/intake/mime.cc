/*
 * mime.cc - a tolerant MIME walker that finds report payloads in a message.
 *
 * Users: ingest.cc (.eml files, mbox and Maildir messages, the milter).
 * Thread-safety: plain functions over immutable input, no state.
 * Error policy: malformed structure is tolerated (a warning at most): a
 * missing final boundary, a missing blank line after the headers, bad
 * base64 characters.  Only the caps throw (LimitError: maxMimeParts,
 * maxMimeDepth).
 * Security: the message is untrusted.  The walker works on views into the
 * caller's buffer; only decoded bodies are copied.  Depth and part count are
 * capped, every scan is linear in the part it scans, and header text handed
 * out by summarizeMail is printable ASCII and truncated.
 */
#include "config.h"

#include "collector/intake/mime.hh"

#include "collector/common/config-keys.hh"

#include "collector/common/text.hh"
#include "collector/common/errors.hh"
#include "collector/intake/classify.hh"

#include <algorithm>
#include <array>
#include <cctype>
#include <map>
#include <optional>
#include <string_view>
#include <utility>

namespace dmarcwatch::collector
{

namespace
{

// Configuration keys named in LimitError messages.
constexpr const char* kKeyParts = keys::maxMimeParts;
constexpr const char* kKeyDepth = keys::maxMimeDepth;
//! Length of header values returned by summarizeMail.
constexpr size_t kSummaryMax = 200;

//! One line of text: [begin, end) without its line break; next is where the following line starts.
struct Line
{
  size_t begin;
  size_t end;
  size_t next;
};

Line lineAt(std::string_view text, size_t pos)
{
  const size_t nl = text.find('\n', pos);
  const size_t stop = nl == std::string_view::npos ? text.size() : nl;
  size_t end = stop;
  if (end > pos && text[end - 1] == '\r') {
    --end;
  }
  return {pos, end, nl == std::string_view::npos ? text.size() : nl + 1};
}

//! RFC 2045 token characters (RFC 2231's '*' included): printable ASCII but tspecials and space.
bool isTokenChar(unsigned char c)
{
  return c > 32 && c < 127 && std::string_view("()<>@,;:\\\"/[]?=").find(static_cast<char>(c)) == std::string_view::npos;
}

/*!
 * Does an unindented line look like MIME parameters ("name=value; name2=\"v\"")?  Microsoft's
 * report mails fold a Content-Type or a part header so, without indenting the next line: MUAs
 * take such a line as a continuation.  Body text cannot be mistaken for it: base64 has no
 * '=' but trailing padding (a value must not start with '='), nor ';' or '"'.
 */
bool looksLikeParameters(std::string_view line)
{
  line = trimAscii(line);
  size_t pos = 0;
  auto skipSpace = [&] {
    while (pos < line.size() && (line[pos] == ' ' || line[pos] == '\t')) {
      ++pos;
    }
  };
  auto token = [&] {
    const size_t start = pos;
    while (pos < line.size() && isTokenChar(static_cast<unsigned char>(line[pos]))) {
      ++pos;
    }
    return pos > start;
  };
  bool any = false;
  while (pos < line.size()) {
    if (!token()) {
      return false;
    }
    skipSpace();
    if (pos >= line.size() || line[pos] != '=') {
      return false;
    }
    ++pos;
    skipSpace();
    if (pos < line.size() && line[pos] == '"') {
      const size_t close = line.find('"', pos + 1);
      if (close == std::string_view::npos) {
        return false;
      }
      pos = close + 1;
    }
    else if (!token()) {
      return false;
    }
    any = true;
    skipSpace();
    if (pos < line.size()) {
      if (line[pos] != ';') {
        return false;
      }
      ++pos;
      skipSpace();
    }
  }
  return any;
}

//! Unfolded header fields of one entity, names lower-cased, in order.
struct Entity
{
  std::vector<std::pair<std::string, std::string>> fields;
  std::string_view body;

  [[nodiscard]] const std::string* field(std::string_view name) const
  {
    for (const auto& [key, value] : fields) {
      if (key == name) {
        return &value;
      }
    }
    return nullptr;
  }
};

/*!
 * Split an entity into header fields and body.  The header ends at the first
 * empty line, or at the first line that is neither a field nor a
 * continuation (then that line starts the body: some senders omit the blank line).
 * A continuation is an indented line, or an unindented one of MIME parameters
 * (looksLikeParameters).
 */
Entity parseEntity(std::string_view text, bool isMessage)
{
  Entity entity;
  size_t pos = 0;

  // An mbox separator line ("From sender date") heading a message is not a header field.
  if (isMessage && text.starts_with("From ")) {
    pos = lineAt(text, 0).next;
  }
  while (pos < text.size()) {
    const Line line = lineAt(text, pos);
    const std::string_view content = text.substr(line.begin, line.end - line.begin);
    if (content.empty()) {
      pos = line.next;
      break;
    }

    // Continuation lines unfold onto the previous field.
    const bool indented = content.front() == ' ' || content.front() == '\t';
    if (indented || (!entity.fields.empty() && looksLikeParameters(content))) {
      if (!entity.fields.empty()) {
        entity.fields.back().second += ' ';
        entity.fields.back().second += trimAscii(content);
      }
      pos = line.next;
      continue;
    }
    const auto nameLength = headerFieldNameLength(content);
    if (!nameLength) {
      break;
    }

    // Field names compare case-insensitively; the common "ContentType:" typo means Content-Type.
    std::string name = lowerAscii(content.substr(0, *nameLength));
    if (name == "contenttype") {
      name = "content-type";
    }
    const size_t colon = content.find(':');
    entity.fields.emplace_back(std::move(name), std::string(trimAscii(content.substr(colon + 1))));
    pos = line.next;
  }
  entity.body = pos < text.size() ? text.substr(pos) : std::string_view();
  return entity;
}

//! A parsed Content-Type or Content-Disposition: the lower-cased value and its parameters.
struct HeaderValue
{
  std::string value;
  std::map<std::string, std::string> params; //!< names lower-cased
};

HeaderValue parseHeaderValue(std::string_view text)
{
  // The value runs to the first ';'; parameters follow as name=token or name="quoted".
  HeaderValue result;
  size_t pos = text.find(';');
  result.value = lowerAscii(trimAscii(text.substr(0, pos)));
  while (pos != std::string_view::npos && pos < text.size()) {
    ++pos;
    const size_t eq = text.find('=', pos);
    if (eq == std::string_view::npos) {
      break;
    }
    const std::string name = lowerAscii(trimAscii(text.substr(pos, eq - pos)));
    size_t cur = eq + 1;
    while (cur < text.size() && (text[cur] == ' ' || text[cur] == '\t')) {
      ++cur;
    }
    std::string value;
    if (cur < text.size() && text[cur] == '"') {
      // Quoted string: backslash escapes the next character; an unclosed quote runs to the end.
      ++cur;
      while (cur < text.size() && text[cur] != '"') {
        if (text[cur] == '\\' && cur + 1 < text.size()) {
          ++cur;
        }
        value += text[cur];
        ++cur;
      }
      pos = text.find(';', cur);
    }
    else {
      pos = text.find(';', cur);
      value = std::string(trimAscii(text.substr(cur, pos == std::string_view::npos ? std::string_view::npos : pos - cur)));
    }
    if (!name.empty() && result.params.find(name) == result.params.end()) {
      result.params.emplace(name, std::move(value));
    }
  }
  return result;
}

int hexValue(char c)
{
  if (c >= '0' && c <= '9') {
    return c - '0';
  }
  if (c >= 'a' && c <= 'f') {
    return c - 'a' + 10;
  }
  if (c >= 'A' && c <= 'F') {
    return c - 'A' + 10;
  }
  return -1;
}

std::string percentDecode(std::string_view text)
{
  std::string out;
  for (size_t i = 0; i < text.size(); ++i) {
    if (text[i] == '%' && i + 2 < text.size() && hexValue(text[i + 1]) >= 0 && hexValue(text[i + 2]) >= 0) {
      out += static_cast<char>(hexValue(text[i + 1]) * 16 + hexValue(text[i + 2]));
      i += 2;
    }
    else {
      out += text[i];
    }
  }
  return out;
}

/*!
 * A parameter by name with RFC 2231 forms: name, name*=charset'lang'value,
 * and continuations name*0, name*1*, ...  The charset is dropped (bytes kept).
 */
std::string parameter(const HeaderValue& header, const std::string& name)
{
  if (const auto it = header.params.find(name); it != header.params.end()) {
    return it->second;
  }
  auto stripCharset = [](std::string_view value) {
    const size_t first = value.find('\'');
    const size_t second = first == std::string_view::npos ? first : value.find('\'', first + 1);
    return second == std::string_view::npos ? value : value.substr(second + 1);
  };
  if (const auto it = header.params.find(name + "*"); it != header.params.end()) {
    return percentDecode(stripCharset(it->second));
  }
  std::string joined;
  for (unsigned i = 0; i < 100; ++i) {
    const std::string key = name + "*" + std::to_string(i);
    if (const auto plain = header.params.find(key); plain != header.params.end()) {
      joined += plain->second;
    }
    else if (const auto starred = header.params.find(key + "*"); starred != header.params.end()) {
      joined += percentDecode(i == 0 ? stripCharset(starred->second) : std::string_view(starred->second));
    }
    else {
      break;
    }
  }
  return joined;
}

//! Base64 alphabet value of c, or -1.
int base64Value(unsigned char c)
{
  if (c >= 'A' && c <= 'Z') {
    return c - 'A';
  }
  if (c >= 'a' && c <= 'z') {
    return c - 'a' + 26;
  }
  if (c >= '0' && c <= '9') {
    return c - '0' + 52;
  }
  if (c == '+' || c == '-') {
    return 62;
  }
  if (c == '/' || c == '_') {
    return 63;
  }
  return -1;
}

//! True when the text is nothing but base64 (some senders omit Content-Transfer-Encoding).
bool looksLikeBase64(std::string_view text)
{
  size_t symbols = 0;
  for (const char c : text) {
    if (base64Value(static_cast<unsigned char>(c)) >= 0) {
      ++symbols;
    }
    else if (c != '=' && c != '\r' && c != '\n' && c != ' ' && c != '\t') {
      return false;
    }
  }
  return symbols >= 16;
}

/*!
 * Whether a decoded leaf body of the given kind (classify()) is a report payload.  The bytes
 * decide, except that a text/html part is a summary even when it sniffs as XML.
 */
bool isPayload(const std::string& contentType, InputKind kind)
{
  return isPayloadKind(kind) && !(kind == InputKind::Xml && contentType == "text/html");
}

//! Header text fit for logs: printable ASCII (tabs become spaces), cut to max bytes with "...".
std::string printableField(std::string_view text, size_t max)
{
  std::string out;
  for (const char c : text) {
    const auto u = static_cast<unsigned char>(c);
    out += (u >= 0x20 && u < 0x7f) ? c : (c == '\t' ? ' ' : '?');
  }
  if (out.size() > max) {
    out.resize(max > 3 ? max - 3 : 0);
    out += "...";
  }
  return out;
}

//! The walk over one message: caps, warnings and the parts found so far.
class Walker
{
public:
  Walker(const Limits& limits, Warnings& warnings) :
    d_limits(limits), d_warnings(warnings) {}

  //! Visit a whole message as classify() found it: from its first header line, or, without a header, as one leaf.
  void walkMessage(std::string_view message, const Classified& input)
  {
    if (input.kind == InputKind::Mail || input.kind == InputKind::Mbox) {
      walk(message.substr(input.start), 0, true);
      return;
    }
    countPart(0);
    leaf(Entity{{}, message}, HeaderValue{}, std::string(), input.kind);
  }

  //! Visit one entity (a message when isMessage, else a body part) at the given multipart depth.
  void walk(std::string_view text, unsigned depth, bool isMessage)
  {
    countPart(depth);

    // Type and transfer encoding; a missing Content-Type means text/plain.
    const Entity entity = parseEntity(text, isMessage);
    const std::string* typeField = entity.field("content-type");
    const HeaderValue type = typeField != nullptr ? parseHeaderValue(*typeField) : HeaderValue{};
    const std::string* cteField = entity.field("content-transfer-encoding");
    const std::string encoding = cteField != nullptr ? lowerAscii(trimAscii(*cteField)) : std::string();

    // Containers: multipart splits on its boundary, message/rfc822 is a whole message again.
    if (type.value.starts_with("multipart/")) {
      if (walkMultipart(entity.body, parameter(type, "boundary"), depth)) {
        return;
      }
    }
    else if (type.value == "message/rfc822" || type.value == "message/global") {
      if (encoding == "base64" || encoding == "quoted-printable") {
        const std::string decoded = decodeBody(entity.body, encoding);
        walk(decoded, depth + 1, true);
      }
      else {
        walk(entity.body, depth + 1, true);
      }
      return;
    }
    leaf(entity, type, encoding, std::nullopt);
  }

  std::vector<MailPart> take() { return std::move(d_found); }

private:
  //! Caps before any work: a hostile message may nest or split without end.
  void countPart(unsigned depth)
  {
    if (depth > d_limits.maxMimeDepth) {
      throw LimitError(std::string("MIME nesting deeper than ") + kKeyDepth + " (" + std::to_string(d_limits.maxMimeDepth) + ")");
    }
    if (++d_parts > d_limits.maxMimeParts) {
      throw LimitError(std::string("MIME parts over ") + kKeyParts + " (" + std::to_string(d_limits.maxMimeParts) + ")");
    }
  }

  /*!
   * A leaf: decode it and keep it when its bytes are a payload.  known is what the
   * caller classified entity.body as, when it has (a message without a header).
   */
  void leaf(const Entity& entity, const HeaderValue& type, const std::string& encoding, std::optional<InputKind> known)
  {
    std::string body = decodeBody(entity.body, encoding);
    InputKind kind = known ? *known : classify(body).kind;
    if (!isPayload(type.value, kind) && encoding != "base64" && looksLikeBase64(entity.body)) {
      body = decodeBase64(entity.body);
      kind = classify(body).kind;
    }
    MailPart part;
    part.contentType = type.value;
    part.kind = kind;
    const std::string* dispositionField = entity.field("content-disposition");
    const HeaderValue disposition = dispositionField != nullptr ? parseHeaderValue(*dispositionField) : HeaderValue{};
    part.filename = parameter(disposition, "filename");
    if (part.filename.empty()) {
      part.filename = parameter(type, "name");
    }

    // Text parts (summaries) are dropped silently; an attachment that is no payload is worth a warning.
    if (!isPayload(type.value, kind)) {
      if (!type.value.starts_with("text/") && (disposition.value == "attachment" || type.value.starts_with("application/"))) {
        d_warnings.add("mime: attachment " + printableField(part.filename, 80) + " (" + printableField(type.value, 60) +
                       ") is not a report payload");
      }
      return;
    }
    part.body = std::move(body);
    d_found.push_back(std::move(part));
  }

  static std::string decodeBody(std::string_view body, const std::string& encoding)
  {
    if (encoding == "base64") {
      return decodeBase64(body);
    }
    if (encoding == "quoted-printable") {
      return decodeQuotedPrintable(body);
    }
    return std::string(body);
  }

  /*!
   * Split a multipart body on "--boundary" lines and walk each part.
   * \return false when no delimiter was found (the caller treats the body as a leaf).
   */
  bool walkMultipart(std::string_view body, std::string boundary, unsigned depth)
  {
    // No boundary parameter: guess it from the first "--" line, as mail clients do.
    if (boundary.empty()) {
      for (size_t pos = 0; pos < body.size();) {
        const Line line = lineAt(body, pos);
        const std::string_view content = trimAscii(body.substr(line.begin, line.end - line.begin));
        if (content.size() > 2 && content.starts_with("--")) {
          boundary = std::string(content.substr(2));
          d_warnings.add("mime: multipart without boundary parameter, boundary guessed");
          break;
        }
        pos = line.next;
      }
      if (boundary.empty()) {
        return false;
      }
    }

    // Walk the lines; a delimiter is "--boundary" optionally followed by "--" (close) and whitespace.
    const std::string delimiter = "--" + boundary;
    std::optional<size_t> partStart;
    bool sawDelimiter = false;
    bool closed = false;
    size_t pos = 0;
    while (pos < body.size()) {
      const Line line = lineAt(body, pos);
      const std::string_view content = body.substr(line.begin, line.end - line.begin);
      if (content.starts_with(delimiter)) {
        std::string_view rest = content.substr(delimiter.size());
        const bool closing = rest.starts_with("--");
        if (closing) {
          rest.remove_prefix(2);
        }
        if (trimAscii(rest).empty()) {
          // The line break before the delimiter belongs to the delimiter, not to the part.
          if (partStart) {
            size_t partEnd = line.begin;
            if (partEnd > *partStart && body[partEnd - 1] == '\n') {
              --partEnd;
              if (partEnd > *partStart && body[partEnd - 1] == '\r') {
                --partEnd;
              }
            }
            walk(body.substr(*partStart, partEnd - *partStart), depth + 1, false);
          }
          sawDelimiter = true;
          if (closing) {
            closed = true;
            break;
          }
          partStart = line.next;
        }
      }
      pos = line.next;
    }
    if (!sawDelimiter) {
      d_warnings.add("mime: multipart boundary never found");
      return false;
    }

    // A missing closing delimiter: the last part runs to the end of the body.
    if (!closed) {
      d_warnings.add("mime: missing final boundary");
      if (partStart && *partStart < body.size()) {
        walk(body.substr(*partStart), depth + 1, false);
      }
    }
    return true;
  }

  const Limits& d_limits;
  Warnings& d_warnings;
  unsigned d_parts = 0;
  std::vector<MailPart> d_found;
};

} // namespace

std::vector<MailPart> extractPayloadParts(std::string_view message, const Limits& limits, Warnings& warnings)
{
  return extractPayloadParts(message, classify(message), limits, warnings);
}

std::vector<MailPart> extractPayloadParts(std::string_view message, const Classified& input, const Limits& limits,
                                          Warnings& warnings)
{
  // Walk from the top-level entity; parts come out in message order.
  Walker walker(limits, warnings);
  walker.walkMessage(message, input);
  return walker.take();
}

MailSummary summarizeMail(std::string_view message)
{
  // Only the top-level header matters; values are unfolded by parseEntity.  No header, no summary.
  const Classified input = classify(message);
  if (input.kind != InputKind::Mail && input.kind != InputKind::Mbox) {
    return {};
  }
  const Entity entity = parseEntity(message.substr(input.start), true);
  MailSummary summary;
  if (const auto* subject = entity.field("subject")) {
    summary.subject = printableField(*subject, kSummaryMax);
  }
  if (const auto* from = entity.field("from")) {
    summary.from = printableField(*from, kSummaryMax);
  }
  if (const auto* id = entity.field("message-id")) {
    summary.messageId = printableField(*id, kSummaryMax);
  }
  return summary;
}

std::string decodeBase64(std::string_view text)
{
  // Six bits per symbol; anything outside the alphabet is skipped.  '=' ends a quantum,
  // so text made of separately padded chunks decodes right, and missing padding is fine.
  std::string out;
  out.reserve(text.size() / 4 * 3 + 3);
  uint32_t bits = 0;
  int count = 0;
  for (const char c : text) {
    if (c == '=') {
      bits = 0;
      count = 0;
      continue;
    }
    const int value = base64Value(static_cast<unsigned char>(c));
    if (value < 0) {
      continue;
    }
    bits = (bits << 6) | static_cast<uint32_t>(value);
    count += 6;
    if (count >= 8) {
      count -= 8;
      out += static_cast<char>((bits >> count) & 0xff);
      bits &= (1U << count) - 1;
    }
  }
  return out;
}

std::string decodeQuotedPrintable(std::string_view text)
{
  // "=XX" is a byte, "=" at the end of a line is a soft break; a stray "=" is kept as is.
  std::string out;
  out.reserve(text.size());
  for (size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    if (c != '=') {
      out += c;
      continue;
    }
    if (i + 2 < text.size() && hexValue(text[i + 1]) >= 0 && hexValue(text[i + 2]) >= 0) {
      out += static_cast<char>(hexValue(text[i + 1]) * 16 + hexValue(text[i + 2]));
      i += 2;
      continue;
    }

    // Soft line break, possibly with trailing whitespace before the line end.
    size_t j = i + 1;
    while (j < text.size() && (text[j] == ' ' || text[j] == '\t')) {
      ++j;
    }
    if (j < text.size() && text[j] == '\r') {
      ++j;
    }
    if (j < text.size() && text[j] == '\n') {
      i = j;
      continue;
    }
    if (j == text.size()) {
      break;
    }
    out += c;
  }
  return out;
}

} // namespace dmarcwatch::collector
