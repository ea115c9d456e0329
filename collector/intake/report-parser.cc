/*
 * report-parser.cc - streaming parse of one DMARC aggregate report
 * (RFC 7489 appendix C, RFC 9990) with libxml2's xmlTextReader.
 *
 * Users: ingest (every report payload), the bench and fuzz targets.
 *
 * How: a state machine over reader nodes.  Elements are matched by local
 * name against a whitelist that depends on the parent element; text of a
 * leaf element is gathered into one reused buffer and stored when the leaf
 * closes; one Record is reused for every <record>.  Only the current node is
 * ever looked at (no xmlTextReaderExpand), and the reader frees what it has
 * passed, so memory stays flat at any number of records.
 *
 * Security: XML_PARSE_NONET; never NOENT, DTDLOAD, DTDATTR or HUGE.  A
 * DOCTYPE is refused at its node, before any entity could be referenced
 * (XXE, billion laughs).  Depth, text length and record count are capped
 * (LimitError naming the configuration key).  Elements outside the
 * whitelist are skipped whole, under the same caps.
 *
 * Thread-safety: one parse per thread.  libxml2 is initialised once; the
 * per-thread structured error handler is replaced for the duration of a
 * parse and restored afterwards.
 *
 * Error policy:
 *  - Not a report (root is not <feedback>, no policy domain, no usable
 *    date_range): ParseError.  Numbers are never guessed: a record whose
 *    <count> is missing or not a number is skipped with a warning, a
 *    report whose begin/end is missing or not a number is refused.
 *  - Message counts never wrap (a forged report must not cancel real ones
 *    in a total): a <count> above 2^64-1, or one that would carry the
 *    report's total of messages past it, is a ParseError naming the record.
 *    No cap below 2^64-1 is put on a count.
 *  - Damaged XML (not well-formed).  libxml2 stops at the first fatal
 *    error; everything before it was parsed exactly as written.  When the
 *    header (report_metadata and policy_published, both closed) and at
 *    least one complete record came before the damage, the report is kept:
 *    the records before the damage are delivered, the record the damage
 *    falls into is dropped, nothing after it is read, and the result says
 *    recovered=true with a warning naming the error and its line.  This is
 *    the common real-world case (truncated or garbled tail).  Otherwise
 *    (damage in the header or before any record) ParseError naming the
 *    error and line.  Caveat: the reader parses ahead of what it hands out
 *    (up to a few KiB), so complete records in the last chunk before the
 *    damage can be lost too; they are never invented.
 *  - Text after the root element closes (trailing garbage, a second
 *    document) is not read at all.
 *  - Leading whitespace before the XML declaration (which libxml2 rejects)
 *    is dropped, with a warning.
 *  - An exception thrown by the ByteSource is caught inside the C read
 *    callback, libxml2 is told the read failed, and the exception is
 *    rethrown unchanged once the reader has returned.  Exceptions thrown by
 *    the sink propagate unchanged (they are never inside a C callback).
 */
#include "config.h"

#include "collector/intake/report-parser.hh"

#include "collector/common/config-keys.hh"

#include "collector/common/text.hh"

#include "collector/common/errors.hh"

#include <libxml/parser.h>
#include <libxml/xmlerror.h>
#include <libxml/xmlreader.h>

#include <algorithm>
#include <array>
#include <charconv>
#include <cstdint>
#include <cstring>
#include <exception>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

namespace dmarcwatch::collector
{

namespace
{

// Configuration keys named in LimitError messages.
constexpr const char* s_keyMaxXmlDepth = keys::maxXmlDepth;
constexpr const char* s_keyMaxTextLength = keys::maxTextLength;
constexpr const char* s_keyMaxRecords = keys::maxRecords;

//! Records held back while report_metadata/policy_published have not been seen yet.
constexpr size_t s_maxPendingRecords = 1000;

//! Longest element name quoted in a warning or error (names are untrusted).
constexpr size_t s_maxQuotedName = 64;

//! Longest <count> text quoted in an error (2^64-1 has 20 digits; longer ones are cut).
constexpr size_t s_maxQuotedCount = 40;

// Element names we understand.  Several spellings map to one tag.
enum class Tag : uint8_t
{
  Unknown,
  Document, // the virtual parent of the root element
  Feedback,
  Version,
  ReportMetadata,
  OrgName,
  Email,
  ExtraContactInfo,
  ReportId,
  DateRange,
  Begin,
  End,
  Error,
  Generator,
  PolicyPublished,
  Domain,
  Adkim,
  Aspf,
  P,
  Sp,
  Np,
  Pct,
  Fo,
  Testing,
  DiscoveryMethod,
  Record,
  Row,
  SourceIp,
  Count,
  PolicyEvaluated,
  Disposition,
  Dkim,
  Spf,
  Reason,
  Type,
  Comment,
  Identifiers,
  HeaderFrom,
  EnvelopeFrom,
  EnvelopeTo,
  AuthResults,
  Selector,
  Result,
  HumanResult,
  Scope,
  Extension,
};

//! Map a local name to a tag: switch on length, then compare (names are short; no allocation).
Tag lookupTag(std::string_view name)
{
  auto is = [&name](const char* word) { return std::memcmp(name.data(), word, name.size()) == 0; };
  switch (name.size()) {
  case 1:
    return name[0] == 'p' ? Tag::P : name[0] == 't' ? Tag::Testing
                                                      : Tag::Unknown;
  case 2:
    return is("sp") ? Tag::Sp : is("np") ? Tag::Np
                              : is("fo") ? Tag::Fo
                                         : Tag::Unknown;
  case 3:
    return is("row") ? Tag::Row : is("spf") ? Tag::Spf
                                : is("end") ? Tag::End
                                : is("pct") ? Tag::Pct
                                : is("psd") ? Tag::DiscoveryMethod
                                            : Tag::Unknown;
  case 4:
    return is("dkim") ? Tag::Dkim : is("aspf") ? Tag::Aspf
                                  : is("type") ? Tag::Type
                                               : Tag::Unknown;
  case 5:
    return is("count") ? Tag::Count : is("scope") ? Tag::Scope
                                    : is("begin") ? Tag::Begin
                                    : is("email") ? Tag::Email
                                    : is("adkim") ? Tag::Adkim
                                    : is("error") ? Tag::Error
                                                  : Tag::Unknown;
  case 6:
    return is("result") ? Tag::Result : is("domain") ? Tag::Domain
                                      : is("record") ? Tag::Record
                                      : is("reason") ? Tag::Reason
                                                     : Tag::Unknown;
  case 7:
    return is("version") ? Tag::Version : is("testing") ? Tag::Testing
                                        : is("comment") ? Tag::Comment
                                                        : Tag::Unknown;
  case 8:
    return is("selector") ? Tag::Selector : is("feedback") ? Tag::Feedback
                                          : is("org_name") ? Tag::OrgName
                                                           : Tag::Unknown;
  case 9:
    return is("source_ip") ? Tag::SourceIp : is("report_id") ? Tag::ReportId
                                           : is("generator") ? Tag::Generator
                                           : is("extension") ? Tag::Extension
                                                             : Tag::Unknown;
  case 10:
    // data_range: a misspelling one real reporter (KDDI) sends.
    return is("date_range") ? Tag::DateRange : is("identities") ? Tag::Identifiers
                                             : is("data_range") ? Tag::DateRange
                                                                : Tag::Unknown;
  case 11:
    return is("header_from") ? Tag::HeaderFrom : is("disposition") ? Tag::Disposition
                                               : is("identifiers") ? Tag::Identifiers
                                               : is("envelope_to") ? Tag::EnvelopeTo
                                                                   : Tag::Unknown;
  case 12:
    return is("auth_results") ? Tag::AuthResults : is("human_result") ? Tag::HumanResult
                                                                      : Tag::Unknown;
  case 13:
    return is("envelope_from") ? Tag::EnvelopeFrom : Tag::Unknown;
  case 15:
    return is("report_metadata") ? Tag::ReportMetadata : Tag::Unknown;
  case 16:
    return is("policy_evaluated") ? Tag::PolicyEvaluated : is("policy_published") ? Tag::PolicyPublished
                                                         : is("discovery_method") ? Tag::DiscoveryMethod
                                                                                  : Tag::Unknown;
  case 18:
    return is("extra_contact_info") ? Tag::ExtraContactInfo : Tag::Unknown;
  default:
    return Tag::Unknown;
  }
}

// What an element is in its context: a container we descend into, a leaf whose text we keep, or unknown.
enum class Role : uint8_t
{
  Unknown,
  Container,
  Leaf,
  Skip, // known but deliberately ignored (extension)
};

//! The whitelist: which children each element may have.
Role roleOf(Tag parent, Tag child)
{
  switch (parent) {
  case Tag::Document:
    return child == Tag::Feedback ? Role::Container : Role::Unknown;
  case Tag::Feedback:
    switch (child) {
    case Tag::Version:
      return Role::Leaf;
    case Tag::ReportMetadata:
    case Tag::PolicyPublished:
    case Tag::Record:
      return Role::Container;
    case Tag::Extension:
      return Role::Skip;
    default:
      return Role::Unknown;
    }
  case Tag::ReportMetadata:
    switch (child) {
    case Tag::OrgName:
    case Tag::Email:
    case Tag::ExtraContactInfo:
    case Tag::ReportId:
    case Tag::Error:
    case Tag::Generator:
      return Role::Leaf;
    case Tag::DateRange:
      return Role::Container;
    default:
      return Role::Unknown;
    }
  case Tag::DateRange:
    return child == Tag::Begin || child == Tag::End ? Role::Leaf : Role::Unknown;
  case Tag::PolicyPublished:
    switch (child) {
    case Tag::Domain:
    case Tag::Adkim:
    case Tag::Aspf:
    case Tag::P:
    case Tag::Sp:
    case Tag::Np:
    case Tag::Pct:
    case Tag::Fo:
    case Tag::Testing:
    case Tag::DiscoveryMethod:
      return Role::Leaf;
    default:
      return Role::Unknown;
    }
  case Tag::Record:
    switch (child) {
    case Tag::Row:
    case Tag::Identifiers:
    case Tag::AuthResults:
      return Role::Container;
    case Tag::Extension:
      return Role::Skip;
    default:
      return Role::Unknown;
    }
  case Tag::Row:
    switch (child) {
    case Tag::SourceIp:
    case Tag::Count:
      return Role::Leaf;
    case Tag::PolicyEvaluated:
      return Role::Container;
    default:
      return Role::Unknown;
    }
  case Tag::PolicyEvaluated:
    switch (child) {
    case Tag::Disposition:
    case Tag::Dkim:
    case Tag::Spf:
      return Role::Leaf;
    case Tag::Reason:
      return Role::Container;
    default:
      return Role::Unknown;
    }
  case Tag::Reason:
    return child == Tag::Type || child == Tag::Comment ? Role::Leaf : Role::Unknown;
  case Tag::Identifiers:
    return child == Tag::HeaderFrom || child == Tag::EnvelopeFrom || child == Tag::EnvelopeTo ? Role::Leaf
                                                                                                : Role::Unknown;
  case Tag::AuthResults:
    return child == Tag::Dkim || child == Tag::Spf ? Role::Container : Role::Unknown;
  case Tag::Dkim:
    return child == Tag::Domain || child == Tag::Selector || child == Tag::Result || child == Tag::HumanResult
      ? Role::Leaf
      : Role::Unknown;
  case Tag::Spf:
    return child == Tag::Domain || child == Tag::Scope || child == Tag::Result || child == Tag::HumanResult
      ? Role::Leaf
      : Role::Unknown;
  default:
    return Role::Unknown;
  }
}

//! Untrusted text fit for a message: printable ASCII only, truncated.
std::string printable(std::string_view text, size_t max = s_maxQuotedName)
{
  std::string out;
  for (char c : text.substr(0, max)) {
    out.push_back(c >= 0x20 && c < 0x7f ? c : '?');
  }
  if (text.size() > max) {
    out += "...";
  }
  return out;
}

std::string_view asView(const xmlChar* text)
{
  return text == nullptr ? std::string_view() : std::string_view(reinterpret_cast<const char*>(text));
}

//! Decimal digits only, all of them, no sign.
template <typename T>
bool parseNumber(std::string_view text, T& out)
{
  if (text.empty() || text.front() < '0' || text.front() > '9') {
    return false;
  }
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), out);
  return ec == std::errc() && end == text.data() + text.size();
}

/*
 * The first fatal libxml2 error of this parse (the one that stops the
 * reader), and where the parser stood: the elements still open at that
 * moment are the ones whose end was never seen.  Warnings and non-fatal
 * errors (namespace URI complaints are common) do not stop anything.
 */
struct XmlErrorCapture
{
  bool seen = false;
  std::string message;
  int line = 0;
  int code = 0;
  bool positionKnown = false;
  std::vector<const xmlNode*> openElements; // innermost first
  const xmlNode* document = nullptr;
};

void captureXmlError(void* arg, xmlErrorPtr error)
{
  auto* capture = static_cast<XmlErrorCapture*>(arg);
  if (capture == nullptr || error == nullptr || capture->seen || error->level != XML_ERR_FATAL) {
    return;
  }
  // Called from C: nothing may escape.  A lost error text is not worth dying for.
  try {
    capture->seen = true;
    capture->line = error->line;
    capture->code = error->code;
    capture->message = printable(trimAscii(error->message != nullptr ? error->message : "unknown XML error"), 200);
    if (error->domain == XML_FROM_PARSER && error->ctxt != nullptr) {
      const auto* ctxt = static_cast<const xmlParserCtxt*>(error->ctxt);
      for (const xmlNode* node = ctxt->node; node != nullptr && node->type == XML_ELEMENT_NODE; node = node->parent) {
        capture->openElements.push_back(node);
      }
      capture->document = reinterpret_cast<const xmlNode*>(ctxt->myDoc);
      capture->positionKnown = true;
      // In push mode libxml2 words a document cut short as "Extra content at the end"; say what it is.
      if (error->code == XML_ERR_DOCUMENT_END && !capture->openElements.empty()) {
        capture->message = "document ends inside <" + printable(asView(capture->openElements.front()->name)) + "> (truncated)";
      }
    }
  }
  catch (...) {
    capture->positionKnown = false;
  }
}

//! Restores the thread's previous structured error handler (libxml2 keeps it per thread).
class ErrorHandlerGuard
{
public:
  explicit ErrorHandlerGuard(XmlErrorCapture& capture) :
    d_oldHandler(xmlStructuredError), d_oldContext(xmlStructuredErrorContext)
  {
    xmlSetStructuredErrorFunc(&capture, captureXmlError);
  }
  ~ErrorHandlerGuard() { xmlSetStructuredErrorFunc(d_oldContext, d_oldHandler); }
  ErrorHandlerGuard(const ErrorHandlerGuard&) = delete;
  ErrorHandlerGuard& operator=(const ErrorHandlerGuard&) = delete;

private:
  xmlStructuredErrorFunc d_oldHandler;
  void* d_oldContext;
};

/*
 * The bytes libxml2 pulls, from the ByteSource.  Runs inside a C callback:
 * nothing may throw out of read(), so the exception is kept for later.
 */
class InputPump
{
public:
  explicit InputPump(ByteSource& source) :
    d_source(source) {}

  int read(char* buffer, int len) noexcept
  {
    try {
      return readSome(reinterpret_cast<uint8_t*>(buffer), static_cast<size_t>(len));
    }
    catch (...) {
      d_error = std::current_exception();
      return -1;
    }
  }

  [[nodiscard]] const std::exception_ptr& error() const { return d_error; }
  [[nodiscard]] bool skippedLeadingWhitespace() const { return d_skippedWhitespace; }
  [[nodiscard]] uint64_t bytesRead() const { return d_bytesRead; }

private:
  int readSome(uint8_t* buffer, size_t len)
  {
    if (len == 0) {
      return 0;
    }
    // Whitespace before "<?xml" makes libxml2 refuse the document; some reporters send it, after
    // a UTF-8 BOM too (classify.hh calls both XML).  Drop whitespace at the very start, or right
    // after a BOM, which stays for libxml2 to see; UTF-16 text is never touched.
    for (;;) {
      size_t got = d_source.read(std::span<uint8_t>(buffer, len));
      if (got == 0) {
        return 0;
      }
      if (d_atStart) {
        got = dropLeadingWhitespace(buffer, got);
      }
      if (got > 0) {
        d_bytesRead += got;
        return static_cast<int>(got);
      }
    }
  }

  //! The start of the document, in pieces as they come: keep a BOM, drop the whitespace after it.
  size_t dropLeadingWhitespace(uint8_t* buffer, size_t got)
  {
    static constexpr uint8_t s_bom[] = {0xef, 0xbb, 0xbf};
    size_t out = 0;
    for (size_t in = 0; in < got; ++in) {
      const uint8_t c = buffer[in];
      if (d_bomSeen < 3 && d_bomPossible && c == s_bom[d_bomSeen]) {
        buffer[out++] = c;
        d_bomPossible = ++d_bomSeen < 3;
        continue;
      }
      if (!(d_bomSeen > 0 && d_bomPossible) && isSpaceAscii(static_cast<char>(c))) {
        d_bomPossible = false;
        d_skippedWhitespace = true;
        continue;
      }
      // Anything else (or a BOM cut short) ends the start: the rest passes as it is.
      d_atStart = false;
      std::memmove(buffer + out, buffer + in, got - in);
      return out + (got - in);
    }
    return out;
  }

  ByteSource& d_source;
  std::exception_ptr d_error;
  bool d_atStart = true;
  bool d_bomPossible = true; //!< no byte but a BOM's seen yet
  unsigned d_bomSeen = 0;    //!< BOM bytes passed so far
  bool d_skippedWhitespace = false;
  uint64_t d_bytesRead = 0;
};

extern "C" int pumpRead(void* context, char* buffer, int len)
{
  return static_cast<InputPump*>(context)->read(buffer, len);
}

extern "C" int pumpClose(void* /* context */)
{
  return 0;
}

struct ReaderDeleter
{
  void operator()(xmlTextReaderPtr reader) const { xmlFreeTextReader(reader); }
};
using ReaderPtr = std::unique_ptr<xmlTextReader, ReaderDeleter>;

// One-shot warnings: each quirk is reported once per report, checked with a bit, not a string search.
enum Quirk : uint32_t
{
  QuirkMixedCase = 1U << 0,
  QuirkPadding = 1U << 1,
  QuirkFractionalTime = 1U << 2,
  QuirkNoSourceIp = 1U << 3,
  QuirkBadSourceIp = 1U << 4,
  QuirkBadCount = 1U << 5,
  QuirkNoCount = 1U << 6,
  QuirkEmptyAuthResults = 1U << 7,
  QuirkNoAuthResults = 1U << 8,
  QuirkTooManyAuthResults = 1U << 9,
  QuirkBadPct = 1U << 10,
  QuirkUnknownElement = 1U << 11,
  QuirkEmptyOrgName = 1U << 12,
  QuirkEmptyEmail = 1U << 13,
  QuirkNoReportId = 1U << 14,
  QuirkEndBeforeBegin = 1U << 15,
  QuirkStrayText = 1U << 16,
  QuirkDataRange = 1U << 17,
  QuirkDomainFromHeaderFrom = 1U << 18,
};

class Parser
{
public:
  Parser(ByteSource& xml, const Limits& limits, ReportSink& sink, Warnings& warnings) :
    d_pump(xml), d_limits(limits), d_sink(sink), d_warnings(warnings)
  {
    d_stack.reserve(limits.maxXmlDepth + 1);
  }

  ParseResult run();

private:
  enum class Step : uint8_t
  {
    Continue,
    Skip, // onElement: the caller skips the element's subtree
    Done,
  };

  void openReader();
  Step onElement(const xmlChar* name, Tag tag, bool empty);
  Tag tagOf(const xmlChar* name, const xmlNode* node);
  Step onEndElement();
  void onText(std::string_view value);
  int skipSubtree(xmlTextReaderPtr reader);
  void resumeFromTree(xmlTextReaderPtr reader);
  [[nodiscard]] bool isOpen(const xmlNode* node) const;
  void onLeaf(Tag parent, Tag leaf);
  void onRecordStart();
  Step onRecordEnd();
  Step deliverHeaderIfReady(bool atEnd);
  void checkHeader();
  void finishAfterXmlError(xmlTextReaderPtr reader);

  void quirk(Quirk which, const char* text);
  void storeText(std::string& out);
  void storeWord(std::string& out);
  void storeTimestamp(int64_t& out, bool& ok, const char* which);
  void pushDepth(Tag tag)
  {
    if (d_stack.size() >= d_limits.maxXmlDepth) [[unlikely]] {
      tooDeep();
    }
    d_stack.push_back(tag);
  }
  [[noreturn]] void tooDeep() const;

  [[nodiscard]] std::string_view text() const { return d_text; }

  InputPump d_pump;
  const Limits& d_limits;
  ReportSink& d_sink;
  Warnings& d_warnings;
  XmlErrorCapture d_xmlError;
  ReaderPtr d_reader;

  std::vector<Tag> d_stack; // open elements we descended into, root first
  struct TagCacheEntry
  {
    const xmlChar* name = nullptr;
    Tag tag = Tag::Unknown;
  };
  std::array<TagCacheEntry, 256> d_tagCache{}; // see tagOf
  std::string d_wrapperName; // a non-report element around <feedback> (see onElement)
  Tag d_leaf = Tag::Unknown; // the leaf whose text is being gathered (Unknown: none)
  std::string d_text;        // reused for every leaf

  ReportHeader d_header;
  bool d_haveMetadata = false;
  bool d_havePolicy = false;
  bool d_beginOk = false;
  bool d_endOk = false;
  bool d_headerDelivered = false;
  bool d_rootClosed = false;
  bool d_feedbackOpened = false; // a <feedback> start was seen (inside a wrapper or as the root)

  // Where the reader stood, for resuming over the already-parsed tree after an error.
  uintptr_t d_lastNode = 0;        // the last node handed out (compared, never dereferenced)
  bool d_lastDescended = false;    // it was an element start whose children come next
  xmlNodePtr d_skipping = nullptr; // element being skipped when the error came

  Record d_record; // reused for every record
  bool d_inRecord = false;
  bool d_recordHasCount = false;
  bool d_recordBadCount = false;
  bool d_recordHasSourceIp = false;
  bool d_recordHasAuthResults = false;
  uint64_t d_recordsSeen = 0;
  uint64_t d_messagesSeen = 0; // counts of the records kept so far, delivered or held back (never wraps)
  std::vector<Record> d_pending; // records before the header was complete

  uint32_t d_quirks = 0;
  ParseResult d_result;
};

void Parser::quirk(Quirk which, const char* text)
{
  if ((d_quirks & which) == 0) {
    d_quirks |= which;
    d_warnings.add(text);
  }
}

//! Free text: trimmed (padding warned), kept as written otherwise.
void Parser::storeText(std::string& out)
{
  std::string_view value = trimAscii(d_text);
  if (value.size() != d_text.size()) {
    quirk(QuirkPadding, "whitespace-padded values");
  }
  out.assign(value);
}

//! Enumerated word (pass, fail, none, quarantine ...): trimmed and lower-cased.
void Parser::storeWord(std::string& out)
{
  storeText(out);
  bool upper = false;
  for (char& c : out) {
    if (c >= 'A' && c <= 'Z') {
      c = static_cast<char>(c - 'A' + 'a');
      upper = true;
    }
  }
  if (upper) {
    quirk(QuirkMixedCase, "mixed-case result words");
  }
}

void Parser::storeTimestamp(int64_t& out, bool& ok, const char* which)
{
  std::string_view value = trimAscii(d_text);
  if (value.size() != d_text.size()) {
    quirk(QuirkPadding, "whitespace-padded values");
  }
  // "1700000000.5": the whole seconds are exact, the fraction does not matter for a day-granular report.
  std::string_view whole = value;
  auto dot = value.find('.');
  if (dot != std::string_view::npos) {
    std::string_view fraction = value.substr(dot + 1);
    bool digits = !fraction.empty() && fraction.find_first_not_of("0123456789") == std::string_view::npos;
    if (digits) {
      whole = value.substr(0, dot);
    }
  }
  ok = parseNumber(whole, out);
  if (ok && whole.size() != value.size()) {
    quirk(QuirkFractionalTime, "fractional timestamps truncated");
  }
  if (!ok) {
    d_warnings.add(std::string("date_range/") + which + " is not a number: \"" + printable(value) + "\"");
  }
}

void Parser::tooDeep() const
{
  throw LimitError("XML elements nested deeper than " + std::to_string(d_limits.maxXmlDepth) + " (" +
                   s_keyMaxXmlDepth + ")");
}

/*
 * The tag of an element name.  The reader hands out element names interned in
 * the document's dictionary (one pointer per distinct name, alive as long as
 * the reader), so a small cache keyed by the pointer saves the strlen and the
 * compares on all but the first occurrence of a name.  Only pointers the
 * dictionary owns are cached: a pointer to a freed name could come back with
 * other text.
 */
Tag Parser::tagOf(const xmlChar* name, const xmlNode* node)
{
  const auto bits = reinterpret_cast<uintptr_t>(name);
  auto& slot = d_tagCache[static_cast<size_t>((bits * 0x9E3779B97F4A7C15ULL) >> 56) % d_tagCache.size()];
  if (slot.name == name && name != nullptr) {
    return slot.tag;
  }
  Tag tag = lookupTag(asView(name));
  if (node != nullptr && node->doc != nullptr && node->doc->dict != nullptr && name != nullptr &&
      xmlDictOwns(node->doc->dict, name) == 1) {
    slot.name = name;
    slot.tag = tag;
  }
  return tag;
}

void Parser::onLeaf(Tag parent, Tag leaf)
{
  switch (parent) {
  case Tag::Feedback:
    storeText(d_header.metadata.version);
    return;
  case Tag::ReportMetadata: {
    auto& md = d_header.metadata;
    switch (leaf) {
    case Tag::OrgName:
      storeText(md.orgName);
      return;
    case Tag::Email:
      storeText(md.email);
      return;
    case Tag::ExtraContactInfo:
      storeText(md.extraContactInfo);
      return;
    case Tag::ReportId:
      storeText(md.reportId);
      return;
    case Tag::Error:
      if (md.errors.size() < d_limits.maxAuthResults) {
        storeText(md.errors.emplace_back());
      }
      return;
    case Tag::Generator:
      storeText(md.generator);
      return;
    default:
      return;
    }
  }
  case Tag::DateRange:
    if (leaf == Tag::Begin) {
      storeTimestamp(d_header.metadata.begin, d_beginOk, "begin");
    }
    else {
      storeTimestamp(d_header.metadata.end, d_endOk, "end");
    }
    return;
  case Tag::PolicyPublished: {
    auto& pp = d_header.policy;
    switch (leaf) {
    case Tag::Domain:
      storeText(pp.domain);
      return;
    case Tag::Adkim:
      storeWord(pp.adkim);
      return;
    case Tag::Aspf:
      storeWord(pp.aspf);
      return;
    case Tag::P:
      storeWord(pp.p);
      return;
    case Tag::Sp:
      storeWord(pp.sp);
      return;
    case Tag::Np:
      storeWord(pp.np);
      return;
    case Tag::Fo:
      storeWord(pp.fo);
      return;
    case Tag::Testing:
      storeWord(pp.testing);
      return;
    case Tag::DiscoveryMethod:
      storeWord(pp.discoveryMethod);
      return;
    case Tag::Pct: {
      std::string_view value = trimAscii(d_text);
      uint32_t pct = 0;
      if (parseNumber(value, pct)) {
        pp.pct = pct;
      }
      else if (!value.empty()) {
        quirk(QuirkBadPct, "non-numeric pct ignored");
      }
      return;
    }
    default:
      return;
    }
  }
  case Tag::Row:
    if (leaf == Tag::SourceIp) {
      std::string_view value = trimAscii(d_text);
      if (value.size() != d_text.size()) {
        quirk(QuirkPadding, "whitespace-padded values");
      }
      d_record.sourceIp = IpAddress::parse(value);
      d_recordHasSourceIp = true;
      if (!d_record.sourceIp) {
        quirk(QuirkBadSourceIp, "unparseable source_ip kept as unknown");
      }
    }
    else {
      std::string_view value = trimAscii(d_text);
      if (value.size() != d_text.size()) {
        quirk(QuirkPadding, "whitespace-padded values");
      }
      d_recordHasCount = true;
      if (!parseNumber(value, d_record.count)) {
        // All digits yet no number: it does not fit in 64 bits.  Skipping it would hide a forged
        // report; storing it modulo 2^64 would be a lie.  Refuse the report.
        if (!value.empty() && value.find_first_not_of("0123456789") == std::string_view::npos) {
          throw ParseError("record " + std::to_string(d_recordsSeen) + ": message count " +
                           printable(value, s_maxQuotedCount) + " overflows 64 bits");
        }
        d_recordBadCount = true;
      }
    }
    return;
  case Tag::PolicyEvaluated:
    storeWord(leaf == Tag::Disposition ? d_record.disposition : leaf == Tag::Dkim ? d_record.dkim
                                                                                   : d_record.spf);
    return;
  case Tag::Reason:
    if (!d_record.reasons.empty()) {
      if (leaf == Tag::Type) {
        storeWord(d_record.reasons.back().type);
      }
      else {
        storeText(d_record.reasons.back().comment);
      }
    }
    return;
  case Tag::Identifiers:
    storeText(leaf == Tag::HeaderFrom ? d_record.headerFrom : leaf == Tag::EnvelopeFrom ? d_record.envelopeFrom
                                                                                         : d_record.envelopeTo);
    return;
  case Tag::Dkim:
    if (!d_record.dkimResults.empty()) {
      auto& dkim = d_record.dkimResults.back();
      switch (leaf) {
      case Tag::Domain:
        storeText(dkim.domain);
        return;
      case Tag::Selector:
        storeText(dkim.selector);
        return;
      case Tag::Result:
        storeWord(dkim.result);
        return;
      default:
        storeText(dkim.humanResult);
        return;
      }
    }
    return;
  case Tag::Spf:
    if (!d_record.spfResults.empty()) {
      auto& spf = d_record.spfResults.back();
      switch (leaf) {
      case Tag::Domain:
        storeText(spf.domain);
        return;
      case Tag::Scope:
        storeWord(spf.scope);
        return;
      case Tag::Result:
        storeWord(spf.result);
        return;
      default:
        storeText(spf.humanResult);
        return;
      }
    }
    return;
  default:
    return;
  }
}

void Parser::onRecordStart()
{
  if (d_recordsSeen >= d_limits.maxRecords) {
    throw LimitError("report has more than " + std::to_string(d_limits.maxRecords) + " records (" +
                     s_keyMaxRecords + ")");
  }
  ++d_recordsSeen;
  // Clear in place: strings and vectors keep their capacity from the previous record.
  d_record.sourceIp.reset();
  d_record.count = 0;
  d_record.disposition.clear();
  d_record.dkim.clear();
  d_record.spf.clear();
  d_record.judgedDkim.clear();
  d_record.judgedSpf.clear();
  d_record.reasons.clear();
  d_record.headerFrom.clear();
  d_record.envelopeFrom.clear();
  d_record.envelopeTo.clear();
  d_record.dkimResults.clear();
  d_record.spfResults.clear();
  d_inRecord = true;
  d_recordHasCount = false;
  d_recordBadCount = false;
  d_recordHasSourceIp = false;
  d_recordHasAuthResults = false;
}

Parser::Step Parser::onRecordEnd()
{
  d_inRecord = false;
  // A record's number of messages cannot be guessed: without a usable count it is dropped.
  if (!d_recordHasCount) {
    quirk(QuirkNoCount, "record without <count> skipped");
    return Step::Continue;
  }
  if (d_recordBadCount) {
    quirk(QuirkBadCount, "record with non-numeric <count> skipped");
    return Step::Continue;
  }
  if (!d_recordHasSourceIp) {
    quirk(QuirkNoSourceIp, "record without source_ip");
  }
  if (!d_recordHasAuthResults) {
    quirk(QuirkNoAuthResults, "record without auth_results");
  }
  // The report's total over every record kept (held back or delivered) must fit: then
  // ParseResult::messages, a sum over some of them, cannot wrap either.
  if (__builtin_add_overflow(d_messagesSeen, d_record.count, &d_messagesSeen)) {
    throw ParseError("report message total overflows 64 bits at record " + std::to_string(d_recordsSeen));
  }
  if (!d_headerDelivered) {
    if (d_pending.size() >= s_maxPendingRecords) {
      throw ParseError("more than " + std::to_string(s_maxPendingRecords) +
                       " records before report_metadata/policy_published");
    }
    d_pending.push_back(d_record);
    // Some reporters (Yahoo, 2015) omit policy_published/domain.  The report went to this
    // domain's rua and its rows name it as header_from: take that, and say so.
    if (d_header.policy.domain.empty() && d_haveMetadata && d_havePolicy && !d_record.headerFrom.empty()) {
      d_header.policy.domain = lowerAscii(d_record.headerFrom);
      quirk(QuirkDomainFromHeaderFrom, "policy_published has no domain: the first record's header_from used");
      return deliverHeaderIfReady(false);
    }
    return Step::Continue;
  }
  d_sink.onRecord(d_record);
  ++d_result.records;
  d_result.messages += d_record.count;
  return Step::Continue;
}

//! Refuse a header that cannot be stored without guessing.
void Parser::checkHeader()
{
  if (d_header.policy.domain.empty()) {
    throw ParseError("report has no policy_published/domain");
  }
  if (!d_beginOk || !d_endOk) {
    throw ParseError("report has no usable report_metadata/date_range");
  }
  if (d_header.metadata.reportId.empty()) {
    quirk(QuirkNoReportId, "report has no report_id");
  }
  if (d_header.metadata.orgName.empty()) {
    quirk(QuirkEmptyOrgName, "empty org_name");
  }
  if (d_header.metadata.email.empty()) {
    quirk(QuirkEmptyEmail, "empty email");
  }
  if (d_header.metadata.end < d_header.metadata.begin) {
    quirk(QuirkEndBeforeBegin, "date_range end before begin");
  }
}

/*
 * Hand the header to the sink when it is complete (or the document ended),
 * then any records held back.  Done when the sink wants no records.
 */
Parser::Step Parser::deliverHeaderIfReady(bool atEnd)
{
  if (d_headerDelivered || (!atEnd && !(d_haveMetadata && d_havePolicy))) {
    return Step::Continue;
  }
  // Without a policy domain, wait for the first record's header_from (see onRecordEnd).
  if (!atEnd && d_header.policy.domain.empty()) {
    return Step::Continue;
  }
  checkHeader();
  d_headerDelivered = true;
  if (!d_sink.onHeader(d_header)) {
    d_result.stoppedAfterHeader = true;
    return Step::Done;
  }
  for (const auto& record : d_pending) {
    d_sink.onRecord(record);
    ++d_result.records;
    d_result.messages += record.count;
  }
  d_pending.clear();
  d_pending.shrink_to_fit();
  return Step::Continue;
}

void Parser::onText(std::string_view value)
{
  if (d_text.size() + value.size() > d_limits.maxTextLength) {
    throw LimitError("XML text longer than " + std::to_string(d_limits.maxTextLength) + " bytes (" +
                     s_keyMaxTextLength + ")");
  }
  if (d_leaf != Tag::Unknown) {
    d_text.append(value);
  }
  else if (!trimAscii(value).empty()) {
    quirk(QuirkStrayText, "text outside of a value element ignored");
  }
}

/*
 * Skip an element we do not use, with its subtree, under the same depth and
 * text caps (xmlTextReaderNext would not let us check them).
 */
int Parser::skipSubtree(xmlTextReaderPtr reader)
{
  if (xmlTextReaderIsEmptyElement(reader) == 1) {
    return 1;
  }
  const size_t base = d_stack.size();
  size_t depth = base + 1; // the skipped element itself
  if (depth > d_limits.maxXmlDepth) {
    throw LimitError("XML elements nested deeper than " + std::to_string(d_limits.maxXmlDepth) + " (" +
                     s_keyMaxXmlDepth + ")");
  }
  while (depth > base) {
    int rc = xmlTextReaderRead(reader);
    if (rc != 1) {
      // End of data inside an element is damage too (libxml2 reports it as an error).
      return -1;
    }
    switch (xmlTextReaderNodeType(reader)) {
    case XML_READER_TYPE_ELEMENT:
      if (xmlTextReaderIsEmptyElement(reader) != 1) {
        if (++depth > d_limits.maxXmlDepth) {
          throw LimitError("XML elements nested deeper than " + std::to_string(d_limits.maxXmlDepth) + " (" +
                           s_keyMaxXmlDepth + ")");
        }
      }
      break;
    case XML_READER_TYPE_END_ELEMENT:
      --depth;
      break;
    case XML_READER_TYPE_TEXT:
    case XML_READER_TYPE_CDATA:
      if (static_cast<size_t>(xmlStrlen(xmlTextReaderConstValue(reader))) > d_limits.maxTextLength) {
        throw LimitError("XML text longer than " + std::to_string(d_limits.maxTextLength) + " bytes (" +
                         s_keyMaxTextLength + ")");
      }
      break;
    default:
      break;
    }
  }
  return 1;
}

Parser::Step Parser::onElement(const xmlChar* rawName, Tag tag, bool empty)
{
  // The name as text is needed only for warnings and errors.
  auto name = [rawName] { return asView(rawName); };
  Tag parent = d_stack.empty() ? Tag::Document : d_stack.back();

  // The root must be <feedback>.  Seen in the wild: a report wrapped in an
  // unclosed <xs:schema>; one wrapper whose first child is <feedback> is accepted.
  if (parent == Tag::Document && tag != Tag::Feedback) {
    if (d_stack.empty() && !empty) {
      d_wrapperName = printable(name());
      pushDepth(Tag::Document);
      return Step::Continue;
    }
    throw ParseError("not a DMARC aggregate report (root element <" +
                     (d_wrapperName.empty() ? printable(name()) : d_wrapperName) + ">)");
  }
  if (parent == Tag::Document && !d_stack.empty()) {
    d_warnings.add("report wrapped in <" + d_wrapperName + "> element");
  }
  if (tag == Tag::Feedback) {
    d_feedbackOpened = true;
  }
  // Inside a leaf nothing is expected; the element is skipped (its text is not part of the value).
  Role role = d_leaf != Tag::Unknown ? Role::Unknown : roleOf(parent, tag);
  switch (role) {
  case Role::Unknown:
    if ((d_quirks & QuirkUnknownElement) == 0) {
      d_quirks |= QuirkUnknownElement;
      d_warnings.add("unknown element <" + printable(name()) + "> ignored");
    }
    return Step::Skip;
  case Role::Skip:
    return Step::Skip;
  case Role::Leaf:
    d_text.clear();
    if (empty) {
      d_leaf = Tag::Unknown;
      onLeaf(parent, tag);
      return Step::Continue;
    }
    pushDepth(tag);
    d_leaf = tag;
    return Step::Continue;
  case Role::Container:
    break;
  }

  // Containers: set up what their children fill in.
  switch (tag) {
  case Tag::Record:
    if (deliverHeaderIfReady(false) == Step::Done) {
      return Step::Done;
    }
    onRecordStart();
    break;
  case Tag::Reason:
    d_record.reasons.emplace_back();
    break;
  case Tag::DateRange:
    if (name().substr(0, 4) == "data") {
      quirk(QuirkDataRange, "misspelled <data_range> read as <date_range>");
    }
    break;
  case Tag::AuthResults:
    d_recordHasAuthResults = true;
    if (empty) {
      quirk(QuirkEmptyAuthResults, "empty auth_results");
    }
    break;
  case Tag::Dkim:
  case Tag::Spf:
    if (d_record.dkimResults.size() + d_record.spfResults.size() >= d_limits.maxAuthResults) {
      quirk(QuirkTooManyAuthResults, "more auth results in a record than kept (MaxAuthResults)");
      return Step::Skip;
    }
    if (tag == Tag::Dkim) {
      d_record.dkimResults.emplace_back();
    }
    else {
      d_record.spfResults.emplace_back();
    }
    break;
  default:
    break;
  }
  if (empty) {
    // <record/>, <date_range/>: open and closed at once.
    pushDepth(tag);
    return onEndElement();
  }
  pushDepth(tag);
  return Step::Continue;
}

Parser::Step Parser::onEndElement()
{
  if (d_stack.empty()) {
    return Step::Continue;
  }
  Tag tag = d_stack.back();
  d_stack.pop_back();
  if (d_leaf != Tag::Unknown) {
    d_leaf = Tag::Unknown;
    onLeaf(d_stack.empty() ? Tag::Document : d_stack.back(), tag);
    return Step::Continue;
  }
  switch (tag) {
  case Tag::Record:
    return onRecordEnd();
  case Tag::ReportMetadata:
    d_haveMetadata = true;
    return d_pending.empty() ? Step::Continue : deliverHeaderIfReady(false);
  case Tag::PolicyPublished:
    d_havePolicy = true;
    return d_pending.empty() ? Step::Continue : deliverHeaderIfReady(false);
  case Tag::AuthResults:
    if (d_record.dkimResults.empty() && d_record.spfResults.empty()) {
      quirk(QuirkEmptyAuthResults, "empty auth_results");
    }
    return Step::Continue;
  case Tag::Feedback:
    d_rootClosed = true;
    return Step::Done;
  default:
    return Step::Continue;
  }
}

void Parser::openReader()
{
  // NONET: no network fetches.  NOCDATA: CDATA arrives as plain text.
  // COMPACT/NOBLANKS: fewer allocations for the whitespace between elements.
  // Deliberately absent: NOENT, DTDLOAD, DTDATTR (entity and DTD expansion), HUGE (lifts libxml2's own caps).
  constexpr int options = XML_PARSE_NONET | XML_PARSE_NOCDATA | XML_PARSE_COMPACT | XML_PARSE_NOBLANKS;
  d_reader.reset(xmlReaderForIO(pumpRead, pumpClose, &d_pump, nullptr, nullptr, options));
  if (d_pump.error()) {
    std::rethrow_exception(d_pump.error());
  }
  if (!d_reader) {
    throw ParseError(d_xmlError.seen ? "not well-formed XML: " + d_xmlError.message
                                     : std::string("cannot start the XML reader"));
  }
  xmlTextReaderSetStructuredErrorHandler(d_reader.get(), captureXmlError, &d_xmlError);
}

/*
 * The reader stopped on damaged XML.  Keep what was read when that is a
 * whole header and at least one whole record (see the error policy above).
 */
bool Parser::isOpen(const xmlNode* node) const
{
  const auto& open = d_xmlError.openElements;
  return std::find(open.begin(), open.end(), node) != open.end();
}

/*
 * libxml2 parses ahead of what the reader hands out (up to a few KiB) and
 * its reader gives up at the first fatal error, so complete records just
 * before the damage sit parsed in the tree, never handed out.  Walk them
 * here, in document order, with the same handlers.  Elements that were
 * still open at the error are entered but never closed, so a record the
 * damage falls into is never delivered, and a value cut short never stored.
 */
void Parser::resumeFromTree(xmlTextReaderPtr reader)
{
  if (!d_xmlError.positionKnown) {
    return;
  }
  xmlNodePtr node = nullptr;
  xmlNodePtr parent = nullptr;
  xmlNodePtr current = xmlTextReaderCurrentNode(reader);
  if (d_skipping != nullptr) {
    // The damage came inside an element being skipped: go on after it (if it ever closed).
    node = d_skipping->next;
    parent = d_skipping->parent;
  }
  else if (d_lastNode == 0) {
    // Nothing handed out yet: start at the top of the document.
    if (d_xmlError.document == nullptr) {
      return;
    }
    node = d_xmlError.document->children;
    parent = const_cast<xmlNodePtr>(d_xmlError.document);
  }
  else if (current != nullptr && reinterpret_cast<uintptr_t>(current) == d_lastNode) {
    node = d_lastDescended ? current->children : current->next;
    parent = d_lastDescended ? current : current->parent;
  }
  else if (current != nullptr) {
    // The reader moved on to a (text) node and failed before handing it out.
    node = current;
    parent = current->parent;
  }
  else {
    return;
  }

  for (;;) {
    if (node == nullptr) {
      // The parent's children end here; its end was seen only if it is not open.
      if (parent == nullptr || parent->type != XML_ELEMENT_NODE || isOpen(parent)) {
        return;
      }
      if (onEndElement() == Step::Done) {
        return;
      }
      node = parent->next;
      parent = parent->parent;
      continue;
    }
    switch (node->type) {
    case XML_ELEMENT_NODE: {
      const bool open = isOpen(node);
      const bool empty = node->children == nullptr && !open;
      Step step = onElement(node->name, lookupTag(asView(node->name)), empty);
      if (step == Step::Done || (step == Step::Skip && open)) {
        return;
      }
      if (step == Step::Continue && !empty) {
        parent = node;
        node = node->children;
        continue;
      }
      break;
    }
    case XML_TEXT_NODE:
    case XML_CDATA_SECTION_NODE:
      onText(asView(node->content));
      break;
    case XML_DTD_NODE:
      throw ParseError("DOCTYPE not allowed in a report");
    case XML_ENTITY_REF_NODE:
      throw ParseError("entity reference not allowed in a report");
    default:
      break;
    }
    node = node->next;
  }
}

/*
 * The reader stopped on damaged XML.  Read what was parsed before the
 * damage; keep the report when that is a whole header and at least one
 * whole record (see the error policy above).
 */
void Parser::finishAfterXmlError(xmlTextReaderPtr reader)
{
  if (d_pump.bytesRead() == 0) {
    throw ParseError("empty document");
  }
  resumeFromTree(reader);
  if (d_result.stoppedAfterHeader) {
    return;
  }
  std::string where = d_xmlError.seen ? "line " + std::to_string(d_xmlError.line) + ": " + d_xmlError.message
                                      : std::string("unknown error");
  if (d_rootClosed) {
    // The report itself was whole; the damage is after it (trailing garbage, an unclosed wrapper).
    d_warnings.add("damaged XML after the report ignored (" + where + ")");
    deliverHeaderIfReady(true);
    return;
  }
  if (!d_haveMetadata || !d_havePolicy || (d_result.records + d_pending.size()) == 0) {
    throw ParseError("not well-formed XML at " + where);
  }
  d_warnings.add("damaged XML at " + where + "; kept the " + std::to_string(d_result.records + d_pending.size()) +
                 " complete records before it" + (d_inRecord ? ", dropped the damaged one" : "") +
                 ", nothing after it was read");
  d_result.recovered = true;
  deliverHeaderIfReady(true);
}

ParseResult Parser::run()
{
  ErrorHandlerGuard guard(d_xmlError);
  openReader();
  xmlTextReaderPtr reader = d_reader.get();

  bool sawRoot = false;
  for (;;) {
    int rc = xmlTextReaderRead(reader);
    if (d_pump.error()) {
      std::rethrow_exception(d_pump.error());
    }
    if (rc == 0) {
      break;
    }
    if (rc < 0) {
      finishAfterXmlError(reader);
      return d_result;
    }
    Step step = Step::Continue;
    bool descended = false;
    switch (xmlTextReaderNodeType(reader)) {
    case XML_READER_TYPE_ELEMENT: {
      if (!sawRoot) {
        sawRoot = true;
        if (d_pump.skippedLeadingWhitespace()) {
          d_warnings.add("whitespace before the XML declaration ignored");
        }
      }
      const bool empty = xmlTextReaderIsEmptyElement(reader) == 1;
      const xmlChar* name = xmlTextReaderConstLocalName(reader);
      step = onElement(name, tagOf(name, xmlTextReaderCurrentNode(reader)), empty);
      if (step == Step::Skip) {
        xmlNodePtr skipped = xmlTextReaderCurrentNode(reader);
        if (skipSubtree(reader) < 0) {
          if (d_pump.error()) {
            std::rethrow_exception(d_pump.error());
          }
          d_skipping = skipped;
          finishAfterXmlError(reader);
          return d_result;
        }
      }
      descended = step == Step::Continue && !empty;
      break;
    }
    case XML_READER_TYPE_END_ELEMENT:
      step = onEndElement();
      break;
    case XML_READER_TYPE_TEXT:
    case XML_READER_TYPE_CDATA:
      onText(asView(xmlTextReaderConstValue(reader)));
      break;
    case XML_READER_TYPE_DOCUMENT_TYPE:
      // No report needs a DTD; refusing it here is what keeps entities (XXE, billion laughs) out.
      throw ParseError("DOCTYPE not allowed in a report");
    case XML_READER_TYPE_ENTITY_REFERENCE:
      throw ParseError("entity reference not allowed in a report");
    default:
      break;
    }
    if (step == Step::Done) {
      if (d_result.stoppedAfterHeader) {
        return d_result;
      }
      break;
    }
    d_lastNode = reinterpret_cast<uintptr_t>(xmlTextReaderCurrentNode(reader));
    d_lastDescended = descended;
  }
  if (!sawRoot) {
    throw ParseError(d_pump.bytesRead() == 0 ? "empty document" : "no XML element in the document");
  }
  if (!d_rootClosed && !d_feedbackOpened && !d_wrapperName.empty()) {
    // A well-formed <html>...</html>: some other document, not a truncated report.
    throw ParseError("not a DMARC aggregate report (root element <" + d_wrapperName + ">)");
  }
  if (!d_rootClosed) {
    throw ParseError("not well-formed XML: document ended inside <feedback>");
  }
  deliverHeaderIfReady(true);
  return d_result;
}

std::once_flag g_xmlInit;

} // namespace

ParseResult parseReport(ByteSource& xml, const Limits& limits, ReportSink& sink, Warnings& warnings)
{
  // xmlInitParser is not safe to race with itself; after it has run, parsing in several threads is.
  std::call_once(g_xmlInit, [] { xmlInitParser(); });
  Parser parser(xml, limits, sink, warnings);
  return parser.run();
}

} // namespace dmarcwatch::collector
