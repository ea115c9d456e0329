/*
 * fuzz-util.hh - shared pieces of the fuzz targets in t/fuzz/.
 *
 * Users: fuzz-report-parser.cc, fuzz-unpack.cc, fuzz-mime.cc, fuzz-milter-protocol.cc,
 * built two ways:
 * with standalone-runner.cc (g++, `make check` replays the seed corpora) and
 * with libFuzzer (clang, run-libfuzzer.sh).
 *
 * Error policy: ParseError (and LimitError) is the expected answer to bad
 * input and is swallowed by the targets.  Anything else - another exception,
 * a broken contract of the library (checked here with fuzzCheck), a sanitizer
 * report - aborts, which is what the fuzzer and the replay count as a crash.
 * Never assert(): NDEBUG would silence it.
 *
 * Thread-safety: one input at a time (libFuzzer runs targets in one thread).
 */
#pragma once

#include "collector/intake/byte-source.hh"
#include "collector/common/limits.hh"
#include "collector/intake/report-parser.hh"

#include "collector/common/warnings.hh"

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <span>

namespace dmarcwatch::fuzz
{

//! \brief Abort with a message when a library contract is broken. Does not return on failure.
inline void fuzzCheck(bool ok, const char* what)
{
  if (!ok) {
    std::fprintf(stderr, "fuzz contract broken: %s\n", what);
    std::abort();
  }
}

/*!
 * \brief Small caps, so that one input stays fast (well under 100 ms) and
 * every cap is reachable by the fuzzer.  Hitting one is a LimitError.
 */
inline collector::Limits fuzzLimits()
{
  collector::Limits limits;
  limits.maxMessageBytes = 1U << 20;
  limits.maxDecompressedBytes = 4U << 20;
  limits.maxCompressionRatio = 200;
  limits.ratioGraceBytes = 64U << 10;
  limits.maxArchiveMembers = 8;
  limits.maxNesting = 4;
  limits.maxMimeParts = 32;
  limits.maxMimeDepth = 8;
  limits.maxRecords = 2000;
  limits.maxXmlDepth = 32;
  limits.maxTextLength = 1024;
  limits.maxAuthResults = 8;
  limits.maxWarnings = 16;
  limits.maxRawArchiveBytes = 1U << 20;
  limits.maxReportDays = 31;
  return limits;
}

/*!
 * Bytes in memory handed out in short, uneven reads (1, 2, 3, 5, 8, ...
 * bytes, then whatever was asked), so that every stage above it meets its
 * input split at awkward places: a BOM cut in two, a tag cut in two.
 */
class ShortReadSource : public collector::ByteSource
{
public:
  explicit ShortReadSource(std::span<const uint8_t> bytes) :
    d_bytes(bytes) {}

  size_t read(std::span<uint8_t> out) override
  {
    static constexpr size_t c_steps[] = {1, 2, 3, 5, 8, 13, 4096};
    const size_t step = c_steps[std::min<size_t>(d_reads, std::size(c_steps) - 1)];
    ++d_reads;
    const size_t n = std::min({out.size(), step, d_bytes.size() - d_pos});
    std::copy_n(d_bytes.begin() + static_cast<std::ptrdiff_t>(d_pos), n, out.begin());
    d_pos += n;
    return n;
  }
  [[nodiscard]] uint64_t consumed() const override { return d_pos; }

private:
  std::span<const uint8_t> d_bytes;
  size_t d_pos = 0;
  size_t d_reads = 0;
};

/*!
 * A sink that keeps nothing but checks the order promised by
 * report-parser.hh: the header once, before any record; after onHeader
 * answered false, no record.  Whether it answers false is up to the input
 * (a report id of length 3 mod 4), so the duplicate path is fuzzed too.
 */
class CheckingSink : public collector::ReportSink
{
public:
  explicit CheckingSink(const collector::Limits& limits) :
    d_limits(limits) {}

  bool onHeader(const collector::ReportHeader& header) override
  {
    fuzzCheck(!d_sawHeader, "onHeader called twice");
    d_sawHeader = true;
    d_accepted = header.metadata.reportId.size() % 4 != 3;
    return d_accepted;
  }
  void onRecord(const collector::Record& record) override
  {
    fuzzCheck(d_sawHeader, "onRecord before onHeader");
    fuzzCheck(d_accepted, "onRecord after onHeader returned false");
    fuzzCheck(record.dkimResults.size() + record.spfResults.size() <= d_limits.maxAuthResults,
              "record carries more auth results than Limits::maxAuthResults");
    ++d_records;
    d_messages += record.count;
  }

  //! \brief Check the result of parseReport against what the sink saw.
  void checkResult(const collector::ParseResult& result) const
  {
    fuzzCheck(result.records == d_records, "ParseResult::records differs from the records delivered");
    fuzzCheck(result.messages == d_messages, "ParseResult::messages differs from the sum of counts delivered");
    fuzzCheck(result.stoppedAfterHeader == (d_sawHeader && !d_accepted), "ParseResult::stoppedAfterHeader is wrong");
  }

private:
  const collector::Limits& d_limits;
  bool d_sawHeader = false;
  bool d_accepted = true;
  uint64_t d_records = 0;
  uint64_t d_messages = 0;
};

//! \brief Check that a warning list kept to its cap.
inline void checkWarnings(const collector::Warnings& warnings, const collector::Limits& limits)
{
  fuzzCheck(warnings.items().size() <= limits.maxWarnings, "more warnings kept than Limits::maxWarnings");
}

} // namespace dmarcwatch::fuzz
