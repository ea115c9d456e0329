/*
 * unpack.cc - the recursive unpacker (gzip, zlib, zip, XML).
 *
 * Users: ingest.cc (files, mail attachments, the milter's payloads).
 * Thread-safety: plain functions, no state.
 * Error policy: an unusable payload throws ParseError (LimitError for caps);
 * inside a zip, a ParseError of one member (its container, or the visitor's)
 * is recorded as "zip:NAME: message" and the other members go on; when no
 * document at all was visited successfully, the recorded errors are thrown
 * as one ParseError (a LimitError when every one of them was a cap).  Every
 * other exception (StoreError, I/O) propagates.
 * Security: the payload is untrusted.  Nesting is capped (maxNesting), each
 * inflate stream is capped (see inflate.cc), zip archives are read into
 * memory only up to maxMessageBytes, and members up to maxArchiveMembers.
 */
#include "config.h"

#include "collector/intake/unpack.hh"

#include "collector/common/config-keys.hh"
#include "collector/common/errors.hh"
#include "collector/intake/inflate.hh"
#include "collector/intake/zip.hh"

#include <optional>

namespace dmarcwatch::collector
{

namespace
{

// Configuration keys named in LimitError messages.
constexpr const char* kKeyNesting = keys::maxNesting;
constexpr const char* kKeyMessage = keys::maxMessageSize;

//! Untrusted names in labels: printable ASCII only, cut short.
std::string printableName(std::string_view name)
{
  std::string out;
  for (const char c : name.substr(0, 100)) {
    out += (c >= 0x20 && c < 0x7f) ? c : '?';
  }
  return out;
}

std::string hexPrefix(std::span<const uint8_t> head)
{
  static const char* const digits = "0123456789abcdef";
  std::string out;
  for (size_t i = 0; i < head.size() && i < 8; ++i) {
    if (i > 0) {
      out += ' ';
    }
    out += digits[head[i] >> 4];
    out += digits[head[i] & 0x0f];
  }
  return out;
}

std::string childLabel(const std::string& parent, const std::string& name)
{
  return parent.empty() ? name : parent + "/" + name;
}

//! State shared by one unpack call: caps, the visitor and the outcome being built.
class Unpacker
{
public:
  Unpacker(const Limits& limits, Warnings& warnings, const DocumentVisitor& visit) :
    d_limits(limits), d_warnings(warnings), d_visit(visit) {}

  /*!
   * Unpack one payload.  whole is the same payload as a span when it is held
   * in memory already (a zip is then used in place rather than copied).  known
   * is what the caller classified it as; each inner layer is classified here.
   */
  void unpack(ByteSource& source, std::optional<std::span<const uint8_t>> whole, const std::string& label, unsigned depth,
              std::optional<InputKind> known = std::nullopt)
  {
    // Look at the first bytes without consuming them.
    PeekSource peek(source);
    const auto head = peek.peek(s_sniffBytes);
    if (head.empty()) {
      const size_t slash = label.rfind('/');
      const std::string last = slash == std::string::npos ? label : label.substr(slash + 1);
      throw ParseError(last == "gzip" || last == "zlib" ? "empty payload inside " + last : std::string("empty payload"));
    }
    const InputKind kind = known ? *known : classify(head).kind;

    // Containers count against the nesting cap; plain XML does not.
    if (kind == InputKind::Gzip || kind == InputKind::Zlib || kind == InputKind::Zip) {
      if (depth >= d_limits.maxNesting) {
        throw LimitError(std::string("containers nested deeper than ") + kKeyNesting + " (" +
                         std::to_string(d_limits.maxNesting) + ")");
      }
    }

    switch (kind) {
    case InputKind::Gzip:
    case InputKind::Zlib: {
      // Stream through the inflater: nothing is decompressed ahead of the parser.
      const auto format = kind == InputKind::Gzip ? CompressionFormat::Gzip : CompressionFormat::Zlib;
      InflateSource inflated(peek, format, d_limits, d_warnings);
      unpack(inflated, std::nullopt, childLabel(label, inputKindName(kind)), depth + 1);
      return;
    }
    case InputKind::Zip: {
      // Zip needs random access: use the bytes in place, or read them in under the message cap.
      if (whole) {
        unpackZip(*whole, label, depth);
      }
      else {
        const std::string bytes = readAll(peek, d_limits.maxMessageBytes, (std::string("zip archive: ") + kKeyMessage).c_str());
        unpackZip(std::span<const uint8_t>(reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size()), label, depth);
      }
      return;
    }
    case InputKind::Xml: {
      // A document: hand the stream to the visitor; it counts once the visitor returns.
      d_visit(peek, label.empty() ? std::string("xml") : label);
      ++d_outcome.documents;
      return;
    }
    case InputKind::Html:
      throw ParseError("not a report: an HTML page");
    case InputKind::Mbox:
    case InputKind::Mail:
    case InputKind::Unknown:
      break;
    }
    throw ParseError("not a report: unrecognised payload (starts with " + hexPrefix(head) + ")");
  }

  UnpackOutcome finish()
  {
    // Nothing usable at all: the recorded member errors become the payload's error.
    if (d_outcome.documents == 0 && !d_outcome.errors.empty()) {
      std::string message;
      for (const auto& error : d_outcome.errors) {
        message += message.empty() ? error : "; " + error;
      }
      if (d_onlyLimitErrors) {
        throw LimitError(message);
      }
      throw ParseError(message);
    }
    return std::move(d_outcome);
  }

private:
  void unpackZip(std::span<const uint8_t> archive, const std::string& label, unsigned depth)
  {
    // Every member is tried; one member's ParseError is recorded and does not stop its siblings.
    const auto members = listZipMembers(archive, d_limits, d_warnings);
    if (members.empty()) {
      throw ParseError("zip: archive has no file members");
    }
    for (const auto& member : members) {
      const std::string memberLabel = childLabel(label, "zip:" + printableName(member.name));
      try {
        // The member's CRC is checked as its bytes are read (a stored member: before anything
        // else reads it, since its bytes may be used in place).
        MemorySource raw(member.data);
        if (member.method == 8) {
          InflateSource inflated(raw, CompressionFormat::RawDeflate, d_limits, d_warnings);
          ZipCrcSource checked(inflated, member);
          unpack(checked, std::nullopt, memberLabel, depth + 1);
          checked.finish();
        }
        else {
          ZipCrcSource checked(raw, member);
          checked.finish();
          MemorySource again(member.data);
          unpack(again, member.data, memberLabel, depth + 1);
        }
      }
      catch (const LimitError& e) {
        d_outcome.errors.push_back(memberLabel + ": " + e.what());
      }
      catch (const ParseError& e) {
        d_outcome.errors.push_back(memberLabel + ": " + e.what());
        d_onlyLimitErrors = false;
      }
    }
  }

  const Limits& d_limits;
  Warnings& d_warnings;
  const DocumentVisitor& d_visit;
  UnpackOutcome d_outcome;
  //! True while every recorded member error was a cap (then the joined error is a LimitError too).
  bool d_onlyLimitErrors = true;
};

} // namespace

UnpackOutcome unpackPayload(std::span<const uint8_t> payload, const Limits& limits, Warnings& warnings,
                            const DocumentVisitor& visit, std::optional<InputKind> kind)
{
  // The payload is in memory: a zip is parsed in place.
  Unpacker unpacker(limits, warnings, visit);
  MemorySource source(payload);
  unpacker.unpack(source, payload, "", 0, kind);
  return unpacker.finish();
}

UnpackOutcome unpackStream(ByteSource& payload, const Limits& limits, Warnings& warnings, const DocumentVisitor& visit,
                           std::optional<InputKind> kind)
{
  // A stream: gzip, zlib and XML flow through; only a zip is read into memory.
  Unpacker unpacker(limits, warnings, visit);
  unpacker.unpack(payload, std::nullopt, "", 0, kind);
  return unpacker.finish();
}

} // namespace dmarcwatch::collector
