/*
 * report-parser.hh - streaming parse of one aggregate report document.
 *
 * libxml2's xmlTextReader pulls the document through a ByteSource, so memory
 * does not grow with the number of records.  Security: XML_PARSE_NONET, no
 * NOENT, no DTDLOAD, no HUGE; a DOCTYPE is refused outright (XXE and
 * billion-laughs); depth, text length and record count are capped (LimitError).
 *
 * Namespace-agnostic: elements are matched by local name, so RFC 7489,
 * RFC 9990 (urn:ietf:params:xml:ns:dmarc-2.0), draft namespaces and prefixed
 * roots all parse.  Every tolerated oddity (mixed-case words, padding, empty
 * org_name, rows without source_ip, unknown elements, fractional timestamps
 * ...) becomes a warning.  Elements are matched against a whitelist; others
 * are skipped whole.
 *
 * The sink sees the header once, before the first record (metadata and
 * policy precede records in every real report; records that come earlier are
 * held back, up to a small cap), then each record in order.
 *
 * Thread-safety: one parse per thread; libxml2 is initialised once by the
 * first parse (xmlInitParser is thread-safe from then on).
 */
#pragma once

#include "collector/intake/byte-source.hh"
#include "collector/common/limits.hh"
#include "collector/intake/report.hh"
#include "collector/common/warnings.hh"

namespace dmarcwatch::collector
{

class ReportSink
{
public:
  virtual ~ReportSink() = default;
  //! \return false to stop parsing after the header (duplicate report): parseReport then returns at once.
  virtual bool onHeader(const ReportHeader& header) = 0;
  virtual void onRecord(const Record& record) = 0;
};

struct ParseResult
{
  uint64_t records = 0;  //!< records handed to the sink
  uint64_t messages = 0; //!< sum of their counts (never wraps: an overflowing report is refused)
  bool stoppedAfterHeader = false;
  bool recovered = false; //!< the document was damaged; what was stored is what could be read without guessing
};

/*!
 * \brief Parse one report document from xml into sink.
 * \throw ParseError when the input is not a DMARC aggregate report, or damaged beyond recovery
 *        (the message names the problem and, where known, the line), or when a record's <count>
 *        or the report's total of messages does not fit in 64 bits (the message names the
 *        record); LimitError for caps.
 *        Exceptions thrown by the sink propagate unchanged.
 */
ParseResult parseReport(ByteSource& xml, const Limits& limits, ReportSink& sink, Warnings& warnings);

} // namespace dmarcwatch::collector
