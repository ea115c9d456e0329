/*
 * limits.hh - caps on untrusted input, one struct shared by every stage.
 *
 * Reports come from the Internet: every size, ratio, count and depth has a
 * cap, configurable (see config.hh) with safe defaults.  Hitting a cap throws
 * LimitError naming the cap and the configuration key that raises it.
 */
#pragma once

#include <cstdint>

namespace dmarcwatch::collector
{

struct Limits
{
  //! Bytes of one mail message (milter buffer, .eml/mbox message, zip archive read into memory).
  uint64_t maxMessageBytes = 64ULL << 20;
  //! Decompressed bytes of one payload (all gzip members / one zip member).
  uint64_t maxDecompressedBytes = 4ULL << 30;
  //! Decompressed/compressed ratio, checked once output passes ratioGraceBytes.
  uint64_t maxCompressionRatio = 200;
  uint64_t ratioGraceBytes = 1ULL << 20;
  //! Members of one zip archive, and nesting of containers (gzip in gzip in zip ...).
  uint32_t maxArchiveMembers = 64;
  uint32_t maxNesting = 4;
  //! MIME: parts per message and multipart nesting depth.
  uint32_t maxMimeParts = 256;
  uint32_t maxMimeDepth = 16;
  //! XML: records per report, element depth, bytes of one text node.
  uint64_t maxRecords = 10'000'000;
  uint32_t maxXmlDepth = 32;
  uint32_t maxTextLength = 4096;
  //! Auth results (dkim + spf) kept per record; warnings kept per report.
  uint32_t maxAuthResults = 32;
  uint32_t maxWarnings = 64;
  //! Raw payload archived per report (bytes after compression); bigger ones are not archived.
  uint64_t maxRawArchiveBytes = 16ULL << 20;
  //! Days one report may be spread over (fact rows are split evenly across its UTC days).
  uint32_t maxReportDays = 31;
};

} // namespace dmarcwatch::collector
