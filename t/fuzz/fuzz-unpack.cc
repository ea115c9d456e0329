/*
 * fuzz-unpack.cc - fuzz target: one payload through unpackPayload, every
 * XML document found parsed by parseReport.
 *
 * The input is a payload as found in a mail attachment: gzip, zip, raw zlib
 * or XML, possibly nested (seed corpus: t/fuzz/corpus-unpack/, taken from
 * t/data/).  This is the path of `ingestPayload` without the store: inflate,
 * zip directory walking, sniffing and the streaming hand-over to libxml2.
 *
 * Built with standalone-runner.cc for `make check` (replay) and with
 * libFuzzer by run-libfuzzer.sh.  ParseError is the expected outcome of bad
 * input (also from a visitor, which unpackPayload may record per member);
 * anything else escapes and aborts.
 */
#include "config.h"

#include "collector/common/errors.hh"
#include "collector/intake/report-parser.hh"
#include "collector/intake/unpack.hh"
#include "t/fuzz/fuzz-util.hh"

#include <cstddef>
#include <cstdint>

using namespace dmarcwatch;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size)
{
  static const collector::Limits s_limits = fuzz::fuzzLimits();
  collector::Warnings warnings(s_limits.maxWarnings);
  unsigned completed = 0; // visits that returned: UnpackOutcome::documents counts these
  try {
    const auto outcome = collector::unpackPayload(
      std::span<const uint8_t>(data, size), s_limits, warnings,
      [&completed](collector::ByteSource& xml, const std::string& /* label */) {
        fuzz::CheckingSink sink(s_limits);
        collector::Warnings documentWarnings(s_limits.maxWarnings);
        const collector::ParseResult result = collector::parseReport(xml, s_limits, sink, documentWarnings);
        sink.checkResult(result);
        fuzz::checkWarnings(documentWarnings, s_limits);
        ++completed;
      });
    fuzz::checkWarnings(warnings, s_limits);
    fuzz::fuzzCheck(outcome.documents == completed, "UnpackOutcome::documents differs from the visits that returned");
  }
  catch (const collector::ParseError&) {
    // Expected: unknown format, corrupt container, a cap, or a document that is no report.
  }
  return 0;
}
