/*
 * status-text.cc - status's tables and CSV (status-text.hh).
 */
#include "collector/cli/status-text.hh"

#include "collector/cli/table-format.hh"
#include "collector/cli/terminal.hh"
#include "collector/common/arithmetic.hh"
#include "collector/common/csv.hh"
#include "collector/common/log.hh"
#include "collector/common/text.hh"

#include <algorithm>
#include <cmath>
#include <cstdio>

namespace dmarcwatch::cli
{

using namespace collector;

namespace
{

//! "12,345": a count a reader takes in at a glance.
std::string grouped(uint64_t n)
{
  return groupedCount(n);
}

//! "98.7": one decimal, "-" of nothing.
std::string pct(uint64_t part, uint64_t whole)
{
  return percentDecimal(part, whole);
}

//! Red under 90 %, yellow under 98 %, green above.
Colour passColour(uint64_t pass, uint64_t total)
{
  const double p = percent(pass, total);
  return total == 0 ? Colour::None : p < 90 ? Colour::Red : p < 98 ? Colour::Yellow : Colour::Green;
}

Colour readinessColour(Readiness state)
{
  switch (state) {
  case Readiness::Blocked:
  case Readiness::Losing:
    return Colour::Red;
  case Readiness::ReadyForQuarantine:
  case Readiness::ReadyForReject:
  case Readiness::AtEnforcement:
    return Colour::Green;
  default:
    return Colour::Yellow;
  }
}

//! A class as a table shows it: "not authorized" says what "known-not-authorized" means, shorter.
std::string classText(const std::string& cls)
{
  return cls == "known-not-authorized" ? "not authorized" : cls;
}

//! "none" (the reports'), "none (dns)" (the live record's), "reject 50%", "unknown".
std::string policyText(const DomainView& view)
{
  const auto& p = view.policy;
  if (p.p.empty()) {
    return "unknown";
  }
  std::string out = p.p;
  if (p.pct != 100) {
    out += " " + std::to_string(p.pct) + "%";
  }
  if (p.testing) {
    out += " t=y";
  }
  // From the reports unless marked: the live record is the news.
  return p.from == "dns" ? out + " (dns)" : out;
}

//! "42 in the window, 40 authenticated (97.1 % of messages), 1 unauthenticated, 1 forged".
std::string reportsText(const DomainStatus& s)
{
  const AuthenticityCounts& a = s.authenticity;
  return grouped(a.allReports()) + " in the window, " + grouped(a.reportsOf(Authenticity::Authenticated)) +
         " authenticated (" + pct(a.messagesOf(Authenticity::Authenticated), s.messages) + " % of messages), " +
         grouped(a.reportsOf(Authenticity::Unauthenticated)) + " unauthenticated, " +
         grouped(a.reportsOf(Authenticity::Forged)) + " forged";
}

std::string windowText(const DomainStatus& s, uint32_t coveredDays)
{
  return formatDay(s.fromDay) + " .. " + formatDay(s.toDay) + " (" + std::to_string(s.toDay - s.fromDay + 1) +
         " days, data on " + std::to_string(coveredDays) + ")";
}

//! A heading line, bold on a terminal.
std::string heading(std::string_view text, const TextOptions& options)
{
  return coloured(text, Colour::Bold, options.colour) + "\n";
}

//! A paragraph wrapped to the width after an indent and a label ("  fix: ...").
std::string wrapped(std::string_view label, std::string_view text, size_t indent, const TextOptions& options)
{
  const std::string lead(indent, ' ');
  const size_t room = options.width > indent + label.size() + 10 ? options.width - indent - label.size() : 10;
  std::string out;
  bool first = true;
  for (const auto& line : wrapText(text, room)) {
    out += lead + (first ? std::string(label) : std::string(label.size(), ' ')) + line + "\n";
    first = false;
  }
  return out;
}

std::string sourcesTable(const std::vector<const SourceSummary*>& sources, const TextOptions& options)
{
  Table table({{"SOURCE", 15, 39, true, Align::Left},
               {"CC", 2, 2, false, Align::Left},
               {"AS", 4, 28, true, Align::Left},
               {"PTR", 8, 40, true, Align::Left},
               {"SERVICE", 8, 24, true, Align::Left},
               {"CLASS", 14, 14, false, Align::Left},
               {"FAILING", 7, 0, false, Align::Right},
               {"OF", 6, 0, false, Align::Right}});
  for (const auto* src : sources) {
    const std::string as = src->asn == 0 ? "" : "AS" + std::to_string(src->asn) + (src->asOrg.empty() ? "" : " " + src->asOrg);
    table.addRow({src->ip ? src->ip->toString() : "(no address)", src->country.empty() ? "-" : src->country,
                  as.empty() ? "-" : as, src->ptr.empty() ? "-" : src->ptr, src->service, classText(src->cls),
                  Cell(grouped(src->dmarcFail), Colour::Red), grouped(src->messages)});
  }
  return table.render(options.width, options.colour, 2);
}

std::string whatIfText(const WhatIf& w, const TextOptions& options)
{
  std::string out = heading("WHAT IF p=" + w.policy + (w.pct != 100 ? " pct=" + std::to_string(w.pct) : ""), options);
  out += wrapped("", grouped(w.stopped) + " of " + grouped(w.messages) + " messages would have been " +
                       (w.policy == "reject" ? "rejected" : "quarantined") + ", " + grouped(w.stoppedLegitimate) +
                       " of them from authorized or known services; forwarded " + grouped(w.forwarded) +
                       " and overridden " + grouped(w.overridden) + " counted apart",
                 2, options);
  if (w.services.empty()) {
    return out + "\n";
  }
  Table table({{"SERVICE", 10, 32, true, Align::Left},
               {"CLASS", 14, 14, false, Align::Left},
               {w.policy == "reject" ? "REJECTED" : "QUARANTINED", 8, 0, false, Align::Right},
               {"FAILING", 7, 0, false, Align::Right},
               {"FORWARDED", 9, 0, false, Align::Right},
               {"OVERRIDDEN", 10, 0, false, Align::Right}});
  for (const auto& s : w.services) {
    table.addRow({s.name, classText(s.cls), Cell(grouped(s.stopped), s.legitimate && s.stopped > 0 ? Colour::Red : Colour::None),
                  grouped(s.failing), grouped(s.forwarded), grouped(s.overridden)});
  }
  return out + table.render(options.width, options.colour, 2) + "\n";
}

std::string spfText(const SpfAdvice& spf, const TextOptions& options)
{
  std::string out = heading("SPF", options);
  out += wrapped("record: ", spf.record.empty() ? "(" + spf.state + ")" : spf.record, 2, options);
  out += "  look-ups: " + (spf.lookups ? std::to_string(*spf.lookups) : std::string("unknown")) +
         (spf.error.empty() ? "" : " (" + spf.error + ")") + "\n";
  if (!spf.mechanisms.empty()) {
    Table table({{"MECHANISM", 10, 40, true, Align::Left},
                 {"VERDICT", 7, 20, false, Align::Left},
                 {"USED BY", 7, 0, true, Align::Left}});
    for (const auto& m : spf.mechanisms) {
      std::string users;
      for (const auto& u : m.usedBy) {
        users += (users.empty() ? "" : ", ") + u;
      }
      table.addRow({m.mechanism, m.verdict, users.empty() ? "-" : users});
    }
    out += table.render(options.width, options.colour, 2);
  }
  for (const auto& change : spf.add) {
    out += wrapped("add " + change.mechanism + ": ", change.why, 2, options);
  }
  for (const auto& change : spf.remove) {
    out += wrapped(std::string(change.review ? "review, " : "") + "remove " + change.mechanism + ": ", change.why, 2,
                   options);
  }
  for (const auto& note : spf.notes) {
    out += wrapped("note: ", note, 2, options);
  }
  if (!spf.suggested.empty() && spf.suggested != spf.record) {
    out += wrapped(spf.startingPoint ? "starting point (never applied): " : "suggested (never applied): ", spf.suggested,
                   2, options);
  }
  return out + "\n";
}

} // namespace

namespace
{

constexpr const char* s_blocks[] = {"\u2581", "\u2582", "\u2583", "\u2584", "\u2585", "\u2586", "\u2587", "\u2588"};

//! The block for part of whole (0..7 eighths), whole > 0.
const char* blockOf(uint64_t part, uint64_t whole)
{
  const auto level = static_cast<size_t>(static_cast<double>(part) / static_cast<double>(whole) * 7.0 + 0.5);
  return s_blocks[std::min<size_t>(level, 7)];
}

//! values summed in runs so that at most width remain (more days than room).
std::vector<uint64_t> bucketed(const std::vector<uint64_t>& values, size_t width)
{
  const size_t per = (values.size() + width - 1) / width;
  std::vector<uint64_t> out;
  for (size_t i = 0; i < values.size(); i += per) {
    uint64_t sum = 0;
    for (size_t j = i; j < std::min(values.size(), i + per); ++j) {
      sum = saturatingAdd(sum, values[j]);
    }
    out.push_back(sum);
  }
  return out;
}

} // namespace

std::string sparkline(const std::vector<uint64_t>& values, size_t width)
{
  if (values.empty() || width == 0) {
    return "";
  }
  const auto buckets = bucketed(values, width);
  const uint64_t top = *std::max_element(buckets.begin(), buckets.end());
  std::string out;
  for (uint64_t v : buckets) {
    out += top == 0 ? s_blocks[0] : blockOf(v, top);
  }
  return out;
}

std::string passSparkline(const std::vector<uint64_t>& messages, const std::vector<uint64_t>& pass, size_t width)
{
  if (messages.empty() || width == 0 || pass.size() != messages.size()) {
    return "";
  }
  const auto total = bucketed(messages, width);
  const auto passed = bucketed(pass, width);
  std::string out;
  for (size_t i = 0; i < total.size(); ++i) {
    out += total[i] == 0 ? " " : blockOf(std::min(passed[i], total[i]), total[i]);
  }
  return out;
}

// A window longer than this shows no sparkline (--since all over decades of bad dates).
constexpr uint32_t s_maxSparkDays = 20000;

// The overview's READINESS column is never narrower: "ready for quarantine" is never cut.
constexpr size_t s_shortVerdict = 20;
namespace
{

// The overview's AUTH column (the first to go when the width is short).
constexpr size_t s_authColumn = 3;

//! The width of a row of columns this wide, gap spaces apart.
size_t rowWidth(const std::vector<size_t>& widths, size_t gap)
{
  size_t sum = widths.empty() ? 0 : gap * (widths.size() - 1);
  for (const size_t w : widths) {
    sum += w;
  }
  return sum;
}

//! "97%": messages from authenticated reports, in whole percent rounded down (100% only when all); "-" of none.
std::string authText(const DomainStatus& s)
{
  return s.messages == 0 ? "-" : std::to_string(percentOf(s.authenticity.messagesOf(Authenticity::Authenticated), s.messages)) + "%";
}

} // namespace

std::string statusOverviewText(const std::vector<DomainView>& views, const TextOptions& options)
{
  if (views.empty()) {
    return "";
  }
  // The window every line shares (under --since all each domain's days differ: their span).
  uint32_t fromDay = views.front().status.fromDay;
  uint32_t toDay = views.front().status.toDay;
  for (const auto& view : views) {
    fromDay = std::min(fromDay, view.status.fromDay);
    toDay = std::max(toDay, view.status.toDay);
  }
  std::string out = "Window " + formatDay(fromDay) + " .. " + formatDay(toDay) + " (UTC)\n";
  std::vector<ColumnSpec> columns{{"DOMAIN", 12, 40, true, Align::Left},
                                  {"MESSAGES", 8, 0, false, Align::Right},
                                  {"PASS %", 6, 0, false, Align::Right},
                                  {"AUTH", 4, 0, false, Align::Right},
                                  {"POLICY", 6, 22, true, Align::Left},
                                  {"SERVICES", 8, 0, false, Align::Right},
                                  {"UNKNOWN", 7, 0, false, Align::Right},
                                  {"READINESS", s_shortVerdict, 0, true, Align::Left}};
  std::vector<std::vector<Cell>> rows;
  std::vector<std::pair<std::string, std::string>> verdicts; // domain, verdict: repeated below when cut
  for (const auto& view : views) {
    const DomainStatus& s = view.status;
    size_t services = 0;
    for (const auto& svc : s.services) {
      services += legitimateSender(svc) ? 1 : 0;
    }
    const std::string readiness =
      s.messages == 0 ? (s.newestDay ? "no reports in this window; newest " + formatDay(*s.newestDay) : "no reports")
                      : view.readiness.text();
    rows.push_back({s.domain, grouped(s.messages), Cell(pct(s.dmarcPass, s.messages), passColour(s.dmarcPass, s.messages)),
                    Cell(authText(s), s.authenticity.messagesOf(Authenticity::Forged) > 0 ? Colour::Red : Colour::None),
                    policyText(view), std::to_string(services), grouped(view.unknownMessages),
                    Cell(readiness, readinessColour(view.readiness.state))});
    verdicts.emplace_back(s.domain, readiness);
  }
  // The widths the table gets: a row whose domain or verdict they cut is said in full below.
  // AUTH is left out when the row would not fit the width with it (80 columns: the others fill it).
  auto fitted = [&] {
    std::vector<size_t> natural(columns.size(), 0);
    for (size_t c = 0; c < columns.size(); ++c) {
      natural[c] = columns[c].header.size();
      for (const auto& row : rows) {
        natural[c] = std::max(natural[c], printable(row[c].text, row[c].text.size() + 1).size());
      }
    }
    return fitColumns(columns, natural, options.width, 0, 2);
  };
  auto widths = fitted();
  if (rowWidth(widths, 2) > options.width) {
    columns.erase(columns.begin() + s_authColumn);
    for (auto& row : rows) {
      row.erase(row.begin() + s_authColumn);
    }
    widths = fitted();
  }
  Table table(std::move(columns));
  std::string longer;
  for (size_t i = 0; i < rows.size(); ++i) {
    const auto& [domain, verdict] = verdicts[i];
    if (printable(domain, 100).size() > widths.front() || printable(verdict, verdict.size() + 1).size() > widths.back()) {
      longer += wrapped(printable(domain, 100) + ": ", verdict, 2, options);
    }
    table.addRow(std::move(rows[i]));
  }
  out += table.render(options.width, options.colour, 0);
  if (!longer.empty()) {
    out += "\n" + longer;
  }
  return out;
}

std::string statusDetailText(const DomainView& view, const StatusExtras& extras, const TextOptions& options)
{
  const DomainStatus& s = view.status;
  std::string out = coloured(s.domain, Colour::Bold, options.colour) + "  " + windowText(s, view.coveredDays) + "\n";
  if (s.messages == 0) {
    out += s.newestDay ? "  no reports in this window; newest report " + formatDay(*s.newestDay) + "\n"
                       : "  no reports stored for this domain\n";
    return out + "\n";
  }
  out += wrapped("  policy     ", "p=" + policyText(view) +
                                     (view.policy.from == "dns"       ? " (the live DMARC record)"
                                      : view.policy.from == "reports" ? " (as the newest report published it)"
                                                                      : "") +
                                     (view.reportedPolicy.empty() || view.policy.from == "reports"
                                        ? ""
                                        : "; reports say p=" + view.reportedPolicy),
                 0, options);
  out += wrapped("  messages   ", grouped(s.messages) + ", DMARC pass " + grouped(s.dmarcPass) + " (" +
                                     pct(s.dmarcPass, s.messages) + " %), fail " + grouped(s.dmarcFail) +
                                     "; p=reject would refuse " + grouped(whatIf(s, "reject", 100).stopped) +
                                     " (forwarded and overridden mail apart)",
                 0, options);
  out += wrapped("  reports    ", reportsText(s), 0, options);
  const std::string verdict = printable(view.readiness.text(), 1000);
  out += 13 + verdict.size() <= options.width
           ? "  readiness  " + coloured(verdict, readinessColour(view.readiness.state), options.colour) + "\n"
           : wrapped("  readiness  ", verdict, 0, options);
  out += wrapped("             ", view.readiness.detail, 0, options);
  // Every day of the window (a day without reports is a gap, not skipped), as two lines.
  std::vector<uint64_t> perDay;
  std::vector<uint64_t> passPerDay;
  if (!s.trend.empty() && s.toDay >= s.fromDay && s.toDay - s.fromDay < s_maxSparkDays) {
    perDay.assign(s.toDay - s.fromDay + 1, 0);
    passPerDay.assign(perDay.size(), 0);
    for (const auto& day : s.trend) {
      if (day.day >= s.fromDay && day.day <= s.toDay) {
        perDay[day.day - s.fromDay] = day.messages;
        passPerDay[day.day - s.fromDay] = day.dmarcPass;
      }
    }
  }
  const std::string dates = "  messages, " + formatDay(s.fromDay) + " .. " + formatDay(s.toDay);
  const size_t lead = 13; // "  per day    "
  const size_t room = options.width > lead + dates.size() + 10 ? options.width - lead - dates.size() : 10;
  out += "  per day    " + sparkline(perDay, room) + dates + "\n";
  out += "             " + passSparkline(perDay, passPerDay, room) + "  DMARC pass %\n\n";

  // Services, then forwarders apart.
  out += heading("SERVICES (pass in % of their messages; ALIGN: SPF/DKIM aligned)", options);
  Table services({{"SERVICE", 10, 32, true, Align::Left},
                  {"CLASS", 14, 14, false, Align::Left},
                  {"MESSAGES", 8, 0, false, Align::Right},
                  {"SPF", 5, 0, false, Align::Right},
                  {"DKIM", 5, 0, false, Align::Right},
                  {"ALIGN S/D", 9, 0, false, Align::Right},
                  {"DMARC", 5, 0, false, Align::Right}});
  std::vector<const ServiceSummary*> forwarders;
  std::string fixes;
  for (const auto& svc : s.services) {
    if (svc.cls == "forwarder") {
      forwarders.push_back(&svc);
      continue;
    }
    const auto& a = svc.auth;
    services.addRow({svc.name, classText(svc.cls), grouped(svc.messages), pct(a.spfPass, svc.messages), pct(a.dkimPass, svc.messages),
                     pct(a.spfAligned, svc.messages) + "/" + pct(a.dkimAligned, svc.messages),
                     Cell(pct(svc.dmarcPass, svc.messages), passColour(svc.dmarcPass, svc.messages))});
    if (!svc.failure.empty()) {
      fixes += "  " + coloured(printable(svc.name, 100), Colour::Bold, options.colour) + " (" + grouped(svc.dmarcFail) +
               " failing)\n";
      fixes += wrapped("fails: ", svc.failure, 4, options);
      if (!svc.fix.empty()) {
        fixes += wrapped("fix:   ", svc.fix, 4, options);
      }
    }
  }
  out += services.render(options.width, options.colour, 2) + "\n";
  if (!fixes.empty()) {
    out += heading("WHAT FAILS AND HOW TO FIX IT", options) + fixes + "\n";
  }
  if (!forwarders.empty()) {
    out += heading("FORWARDERS (their failures are not yours to fix)", options);
    Table table({{"FORWARDER", 10, 32, true, Align::Left},
                 {"MESSAGES", 8, 0, false, Align::Right},
                 {"DMARC %", 7, 0, false, Align::Right},
                 {"FORWARDED", 9, 0, false, Align::Right}});
    for (const auto* svc : forwarders) {
      table.addRow({svc->name, grouped(svc->messages), pct(svc->dmarcPass, svc->messages), grouped(svc->auth.forwarded)});
    }
    out += table.render(options.width, options.colour, 2) + "\n";
  }

  // Unknown and failing sources, with where they are.
  std::vector<const SourceSummary*> failing;
  for (const auto& src : s.failingSources) {
    failing.push_back(&src);
  }
  if (!failing.empty()) {
    out += heading("UNKNOWN AND FAILING SOURCES", options) + sourcesTable(failing, options) + "\n";
  }
  if (!view.reporters.empty()) {
    out += heading("REPORTERS", options);
    Table table({{"REPORTER", 10, 40, true, Align::Left},
                 {"REPORTS", 7, 0, false, Align::Right},
                 {"MESSAGES", 8, 0, false, Align::Right},
                 {"FROM", 10, 0, false, Align::Left},
                 {"TO", 10, 0, false, Align::Left}});
    for (const auto& r : view.reporters) {
      table.addRow({r.org.empty() ? "(no org_name)" : r.org, grouped(r.reports), grouped(r.messages), formatUtc(r.firstBegin, "%Y-%m-%d"),
                    formatUtc(r.lastEnd, "%Y-%m-%d")});
    }
    out += table.render(options.width, options.colour, 2) + "\n";
  }
  if (extras.whatIf) {
    out += whatIfText(*extras.whatIf, options);
  }
  if (extras.spf) {
    out += spfText(*extras.spf, options);
  }
  return out;
}

std::string statusServicesCsv(const std::vector<DomainView>& views)
{
  CsvWriter csv;
  csv.row({"domain", "service", "id", "category", "class", "legitimate", "messages", "dmarc_pass", "dmarc_fail",
           "spf_pass", "spf_aligned", "dkim_pass", "dkim_aligned", "forwarded", "overridden", "sources", "failure", "fix"});
  for (const auto& view : views) {
    for (const auto& svc : view.status.services) {
      csv.field(view.status.domain).field(svc.name).field(svc.id).field(svc.category).field(svc.cls)
        .field(legitimateSender(svc)).field(svc.messages).field(svc.dmarcPass).field(svc.dmarcFail);
      if (view.detail) {
        csv.field(svc.auth.spfPass).field(svc.auth.spfAligned).field(svc.auth.dkimPass).field(svc.auth.dkimAligned)
          .field(svc.auth.forwarded).field(svc.auth.overridden);
      }
      else {
        // The overview counts none of these: empty, not 0.
        for (int i = 0; i < 6; ++i) {
          csv.field("");
        }
      }
      if (view.status.sourcesCounted) {
        csv.field(svc.sources);
      }
      else {
        csv.field(""); // the overview does not count sources
      }
      csv.field(view.detail ? svc.failure : "").field(view.detail ? svc.fix : "");
      csv.endRow();
    }
  }
  return csv.str();
}

} // namespace dmarcwatch::cli
