/*
 * html-report.hh - `dmarcwatch report --html`: the domain views (domain-view.hh)
 * as one self-contained HTML page, for an admin to open or mail on.
 *
 * Per domain: the headline (messages, DMARC pass, the policy and where it comes
 * from, the readiness verdict), the services with what fails and the fix, the
 * charts (volume and pass rate per service per day, the domain's days), the
 * what-if of p=quarantine and p=reject, the failing sources by country and as a
 * table, the reporters and the days covered.
 *
 * Self-contained: inline CSS and SVG only, no script, no URL, and a CSP meta that
 * forbids any load, so the page shows the same offline and leaks nothing when
 * opened.  Every string from the store is escaped and shortened (html-escape.hh);
 * the page is well-formed XML too (tests parse it).  Nothing here reads a clock:
 * the same views and options give the same bytes.
 *
 * Thread-safety: pure function.  Errors: none (bad_alloc).
 */
#pragma once

#include "collector/views/domain-view.hh"

#include <cstdint>
#include <string>
#include <vector>

namespace dmarcwatch::collector
{

struct HtmlReportOptions
{
  int64_t generatedAt = 0;   //!< seconds since the epoch, shown as "generated ... UTC"
  uint32_t fromDay = 0;      //!< the window asked for (each domain shows its own status days)
  uint32_t toDay = 0;
  bool allDays = false;      //!< --since all: the window is every stored day
  std::string generator;     //!< "dmarcwatch 1.0" in the footer
  size_t chartServices = 6;  //!< services drawn apart in the charts; the rest add up to "other"
};

/*!
 * \brief The page for these views (one section each, in their order; views built with
 * DomainViewOptions::detail for the AuthCounts, reporters and per-service trends).
 * Does not block.
 */
std::string renderHtmlReport(const std::vector<DomainView>& views, const HtmlReportOptions& options);

} // namespace dmarcwatch::collector
