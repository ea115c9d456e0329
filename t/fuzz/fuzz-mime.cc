/*
 * fuzz-mime.cc - fuzz target: one mail message through the MIME walker.
 *
 * The input is an RFC 5322 message (seed corpus: t/fuzz/corpus-mime/, copied from
 * the .eml files of t/data).  It runs classify, extractPayloadParts (multipart
 * nesting, base64, quoted-printable, header folding, sniffing) and
 * summarizeMail, plus the two body decoders over the raw bytes, and checks
 * the promises of mime.hh: summaries are printable ASCII, parts are within
 * Limits::maxMimeParts.
 *
 * Built with standalone-runner.cc for `make check` (replay) and with
 * libFuzzer by run-libfuzzer.sh.  ParseError (LimitError) is the expected
 * outcome of bad input; anything else escapes and aborts.
 */
#include "config.h"

#include "collector/common/errors.hh"
#include "collector/intake/mime.hh"
#include "t/fuzz/fuzz-util.hh"

#include <cstddef>
#include <cstdint>
#include <string_view>

using namespace dmarcwatch;

namespace
{

bool isPrintableAscii(std::string_view text)
{
  for (const char c : text) {
    const auto u = static_cast<unsigned char>(c);
    if (u < 0x20 || u >= 0x7f) {
      return false;
    }
  }
  return true;
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size)
{
  static const collector::Limits s_limits = fuzz::fuzzLimits();
  const std::string_view message(reinterpret_cast<const char*>(data), size);

  // Step: the cheap helpers first; they take any bytes and never throw ParseError.
  (void)collector::classify(std::span<const uint8_t>(data, size));
  (void)collector::decodeBase64(message);
  (void)collector::decodeQuotedPrintable(message);

  // Step: the walker; a cap or a hopeless message is a ParseError.
  collector::Warnings warnings(s_limits.maxWarnings);
  try {
    const auto parts = collector::extractPayloadParts(message, s_limits, warnings);
    fuzz::fuzzCheck(parts.size() <= s_limits.maxMimeParts, "more payload parts than Limits::maxMimeParts");
  }
  catch (const collector::ParseError&) {
    // Expected: a cap (parts, depth) was hit.
  }
  fuzz::checkWarnings(warnings, s_limits);

  // Step: the summary is meant for log lines and headers: printable ASCII only.
  const collector::MailSummary summary = collector::summarizeMail(message);
  fuzz::fuzzCheck(isPrintableAscii(summary.subject), "summarizeMail: subject not printable ASCII");
  fuzz::fuzzCheck(isPrintableAscii(summary.from), "summarizeMail: from not printable ASCII");
  fuzz::fuzzCheck(isPrintableAscii(summary.messageId), "summarizeMail: message-id not printable ASCII");
  return 0;
}
