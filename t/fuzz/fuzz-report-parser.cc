/*
 * fuzz-report-parser.cc - fuzz target: one XML document through parseReport.
 *
 * The input is the document itself (seed corpus: t/fuzz/corpus-report-parser/, copied from
 * the .xml files of t/data).  It is fed through a ShortReadSource so libxml2
 * meets it in awkward chunks, into a CheckingSink that verifies the order and
 * the counts promised by report-parser.hh.
 *
 * Built with standalone-runner.cc for `make check` (replay) and with
 * libFuzzer by run-libfuzzer.sh.  ParseError is the expected outcome of bad
 * input; anything else escapes and aborts.
 */
#include "config.h"

#include "collector/common/errors.hh"
#include "collector/intake/report-parser.hh"
#include "t/fuzz/fuzz-util.hh"

#include <cstddef>
#include <cstdint>

using namespace dmarcwatch;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size)
{
  static const collector::Limits s_limits = fuzz::fuzzLimits();
  fuzz::ShortReadSource source(std::span<const uint8_t>(data, size));
  fuzz::CheckingSink sink(s_limits);
  collector::Warnings warnings(s_limits.maxWarnings);
  try {
    const collector::ParseResult result = collector::parseReport(source, s_limits, sink, warnings);
    sink.checkResult(result);
  }
  catch (const collector::ParseError&) {
    // Expected: not a report, damaged beyond recovery, or a cap.
  }
  fuzz::checkWarnings(warnings, s_limits);
  return 0;
}
