/*
 * html-report.cc - the self-contained HTML page of `dmarcwatch report --html`
 * (html-report.hh).  Sections are built by one function each, in page order.
 */
#include "config.h"

#include "collector/views/html-report.hh"

#include "collector/common/arithmetic.hh"
#include "collector/common/text.hh"
#include "collector/views/html-escape.hh"
#include "collector/views/svg-chart.hh"

#include <algorithm>
#include <cinttypes>
#include <cmath>
#include <cstdio>
#include <limits>
#include <map>

namespace dmarcwatch::collector
{

namespace
{

//! Longer texts from the store: words about a failure or fix, a DNS record.
constexpr size_t s_sentenceChars = 300;
//! A DNS name (domain, PTR) is at most this long anyway.
constexpr size_t s_dnsNameChars = 253;
//! A chart has at most this many columns; a longer window puts several days in one.
constexpr uint32_t s_maxColumns = 366;
//! The pass-rate chart's columns: a year is a column a week.
constexpr uint32_t s_maxRateColumns = 60;
//! Bars of the failing-sources-by-country chart.
constexpr size_t s_maxCountries = 12;

constexpr const char* s_passColour = "#2da44e";
constexpr const char* s_failColour = "#cf222e";
constexpr const char* s_otherColour = "#8c959f";
constexpr const char* s_palette[] = {"#0969da", "#bf8700", "#8250df", "#1a7f37", "#e16f24", "#bf3989",
                                     "#1b7c83", "#6e7781", "#953800", "#0550ae"};

// Inline CSS (the CSP allows inline styles only).  Narrow screens: one column, tables scroll
// in their wrapper, never the page.  No '<' or '&' in it: the page stays well-formed XML.
constexpr const char* s_css = R"(
:root { color-scheme: light; }
* { box-sizing: border-box; }
body { font: 14px/1.45 system-ui, -apple-system, "Segoe UI", sans-serif; color: #1f2328; background: #fff;
  margin: 0 auto; padding: 16px 20px 40px; max-width: 1240px; overflow-wrap: break-word; }
h1 { font-size: 1.6em; margin: 0.2em 0; }
h2 { font-size: 1.35em; margin: 2em 0 0.6em; padding-bottom: 4px; border-bottom: 2px solid #d0d7de; }
h3 { font-size: 1.05em; margin: 1.4em 0 0.4em; }
p { margin: 0.4em 0; }
.muted { color: #57606a; }
.small { font-size: 0.88em; }
nav ul { padding-left: 1.2em; margin: 0.3em 0; }
.cards { display: grid; grid-template-columns: repeat(auto-fit, minmax(210px, 1fr)); gap: 12px; margin: 12px 0; }
.card { border: 1px solid #d0d7de; border-radius: 6px; padding: 10px 12px; background: #f6f8fa; min-width: 0; }
.card .label { color: #57606a; font-size: 0.85em; text-transform: uppercase; letter-spacing: 0.03em; }
.card .big { font-size: 1.5em; font-weight: 600; }
.card .big.long { font-size: 1.1em; }
.ok { border-left: 5px solid #2da44e; }
.bad { border-left: 5px solid #cf222e; }
.warn { border-left: 5px solid #bf8700; }
.scroll { overflow-x: auto; max-width: 100%; margin: 6px 0 12px; }
table { border-collapse: collapse; width: 100%; font-variant-numeric: tabular-nums; }
th, td { padding: 5px 8px; border-bottom: 1px solid #e1e4e8; text-align: left; vertical-align: top; }
th { background: #f6f8fa; font-weight: 600; white-space: nowrap; }
td.n, th.n { text-align: right; white-space: nowrap; }
td.words { min-width: 10em; }
svg.bars { max-width: 760px; }
.charts { display: grid; grid-template-columns: repeat(auto-fit, minmax(min(100%, 520px), 1fr)); gap: 18px; }
figure { margin: 0; min-width: 0; }
figcaption { font-weight: 600; margin-bottom: 4px; }
svg.chart { width: 100%; height: auto; display: block; }
.legend { list-style: none; padding: 0; margin: 4px 0 0; display: flex; flex-wrap: wrap; gap: 2px 14px; font-size: 0.88em; }
.legend i { display: inline-block; width: 0.8em; height: 0.8em; margin-right: 5px; border-radius: 2px; vertical-align: -1px; }
.tag { display: inline-block; padding: 0 6px; border-radius: 10px; font-size: 0.85em; background: #eaeef2; white-space: nowrap; }
.tag.authorized { background: #dafbe1; }
.tag.forwarder { background: #ddf4ff; }
.tag.known-not-authorized { background: #fff8c5; }
.tag.suspicious { background: #ffebe9; }
footer { margin-top: 3em; font-size: 0.85em; color: #57606a; }
@media (max-width: 600px) {
  body { padding: 10px 10px 30px; font-size: 13px; }
  .cards { grid-template-columns: 1fr 1fr; gap: 8px; }
  .card .big { font-size: 1.2em; }
}
)";

std::string esc(std::string_view text, size_t maxChars = s_htmlNameChars)
{
  return escapeHtml(text, maxChars);
}

//! "1,234,567": message counts are read, not parsed.
std::string count(uint64_t value)
{
  return groupedCount(value);
}

//! "97.3 %" of part in whole; "-" when whole is 0.
std::string percentText(uint64_t part, uint64_t whole)
{
  return whole == 0 ? "-" : percentDecimal(part, whole) + " %";
}

//! A class as a tag; the CSS class only for the classes we know (never text from the store).
std::string classTag(std::string_view cls)
{
  static constexpr std::string_view known[] = {"authorized", "forwarder", "known-not-authorized", "suspicious", "unknown"};
  const bool styled = std::find(std::begin(known), std::end(known), cls) != std::end(known);
  return "<span class=\"tag" + std::string(styled ? " " : "") + std::string(styled ? cls : "") + "\">" + esc(cls, 40) +
         "</span>";
}

std::string th(std::string_view text, bool numeric = false)
{
  return numeric ? "<th class=\"n\">" + std::string(text) + "</th>" : "<th>" + std::string(text) + "</th>";
}
std::string td(std::string_view escaped, bool numeric = false)
{
  return numeric ? "<td class=\"n\">" + std::string(escaped) + "</td>" : "<td>" + std::string(escaped) + "</td>";
}

//! Headline figures longer than this (a verdict naming services) get a smaller font.
constexpr size_t s_bigChars = 32;

std::string card(std::string_view label, std::string_view bigEscaped, std::string_view moreEscaped,
                 std::string_view tone = "")
{
  std::string out = "<div class=\"card";
  if (!tone.empty()) {
    out += " " + std::string(tone);
  }
  out += "\"><div class=\"label\">" + std::string(label) + "</div><div class=\"big" +
         (bigEscaped.size() > s_bigChars ? " long" : "") + "\">" + std::string(bigEscaped) + "</div>";
  if (!moreEscaped.empty()) {
    out += "<p class=\"small\">" + std::string(moreEscaped) + "</p>";
  }
  return out + "</div>";
}

//! The policy in words: "p=quarantine pct=50 (t=y)".
std::string policyText(const EffectivePolicy& policy)
{
  if (policy.p.empty()) {
    return "unknown";
  }
  std::string out = "p=" + esc(policy.p, 20);
  if (policy.pct != 100) {
    out += " pct=" + std::to_string(policy.pct);
  }
  if (policy.testing) {
    out += " (t=y: testing)";
  }
  return out;
}

const char* readinessTone(Readiness state)
{
  switch (state) {
  case Readiness::Blocked:
  case Readiness::Losing:
    return "bad";
  case Readiness::ReadyForQuarantine:
  case Readiness::ReadyForReject:
  case Readiness::AtEnforcement:
    return "ok";
  case Readiness::NoData:
  case Readiness::NoSenders:
    return "warn";
  }
  return "";
}

// ---------------------------------------------------------------- the days of the charts

//! The chart's columns: the window's days, several to a column when there are too many.
struct DayAxis
{
  uint32_t fromDay = 0;
  uint32_t daysPerColumn = 1;
  size_t columns = 0;

  [[nodiscard]] size_t columnOf(uint32_t d) const { return (d - fromDay) / daysPerColumn; }
  [[nodiscard]] std::vector<std::string> labels() const
  {
    std::vector<std::string> out;
    for (size_t i = 0; i < columns; ++i) {
      out.push_back(formatDay(fromDay + static_cast<uint32_t>(i) * daysPerColumn));
    }
    return out;
  }
};

DayAxis axisOf(const DomainStatus& status, uint32_t maxColumns)
{
  DayAxis axis;
  uint32_t from = status.fromDay;
  uint32_t to = std::max(status.toDay, from);
  // Trends only hold days of the window; be safe should a caller widen nothing.
  for (const auto& d : status.trend) {
    from = std::min(from, d.day);
    to = std::max(to, d.day);
  }
  const uint64_t span = uint64_t{to} - from + 1;
  axis.fromDay = from;
  axis.daysPerColumn = static_cast<uint32_t>((span + maxColumns - 1) / maxColumns);
  axis.columns = static_cast<size_t>((span + axis.daysPerColumn - 1) / axis.daysPerColumn);
  return axis;
}

//! A series' messages and passes per column, and what the charts draw of them.
struct Sums
{
  std::vector<uint64_t> messages;
  std::vector<uint64_t> pass;

  explicit Sums(size_t columns) :
    messages(columns), pass(columns) {}
  void add(const DayAxis& axis, const std::vector<DayTotals>& days)
  {
    for (const auto& d : days) {
      if (d.day < axis.fromDay || axis.columnOf(d.day) >= messages.size()) {
        continue;
      }
      const size_t i = axis.columnOf(d.day);
      messages[i] = saturatingAdd(messages[i], d.messages);
      pass[i] = saturatingAdd(pass[i], d.dmarcPass);
    }
  }
  [[nodiscard]] std::vector<double> volume() const { return {messages.begin(), messages.end()}; }
  [[nodiscard]] std::vector<double> rate() const
  {
    std::vector<double> out(messages.size(), std::numeric_limits<double>::quiet_NaN());
    for (size_t i = 0; i < messages.size(); ++i) {
      if (messages[i] > 0) {
        out[i] = 100.0 * static_cast<double>(pass[i]) / static_cast<double>(messages[i]);
      }
    }
    return out;
  }
};

// ---------------------------------------------------------------- sections

void headline(std::string& out, const DomainView& view)
{
  const DomainStatus& s = view.status;
  out += "<div class=\"cards\">";
  out += card("Messages", count(s.messages),
              "DMARC fail " + count(s.dmarcFail) + "; p=reject would refuse " + count(whatIf(s, "reject", 100).stopped) + " (forwarded and overridden apart)");
  out += card("DMARC pass", percentText(s.dmarcPass, s.messages), count(s.dmarcPass) + " messages passed",
              s.messages == 0 ? "" : (s.dmarcPass == s.messages ? "ok" : ""));
  std::string from = view.policy.from == "dns" ? "from the live DNS record" :
                     view.policy.from == "reports" ? "from the newest report" : "no record seen";
  if (!view.reportedPolicy.empty() && view.policy.from == "dns") {
    from += "; reports say p=" + esc(view.reportedPolicy, 20);
  }
  if (view.live && !view.live->record.empty()) {
    from += "<br/><code>" + esc(view.live->record, s_sentenceChars) + "</code>";
  }
  // How much of the data authenticated reports carry (forged ones counted: UntrustedReports count or flag).
  const AuthenticityCounts& a = s.authenticity;
  const uint64_t forged = a.messagesOf(Authenticity::Forged);
  out += card("Authenticated reports", percentText(a.messagesOf(Authenticity::Authenticated), s.messages),
              "of the messages; " + count(a.reportsOf(Authenticity::Authenticated)) + " of " + count(a.allReports()) +
                " reports authenticated, " + count(a.reportsOf(Authenticity::Unauthenticated)) + " unauthenticated, " +
                count(a.reportsOf(Authenticity::Forged)) + " forged",
              forged > 0 ? "bad" : (s.messages > 0 && a.messagesOf(Authenticity::Authenticated) == s.messages ? "ok" : ""));
  out += card("Policy now", policyText(view.policy), from, view.policy.enforcing() ? "ok" : "");
  std::string detail = esc(view.readiness.detail, s_sentenceChars);
  if (view.unknownMessages > 0) {
    detail += (detail.empty() ? "" : "; ") + count(view.unknownMessages) + " messages from unknown or suspicious senders";
  }
  out += card("Readiness", esc(view.readiness.text(), s_sentenceChars), detail, readinessTone(view.readiness.state));
  out += "</div>";
}

void servicesTable(std::string& out, const DomainStatus& s)
{
  out += "<h3>Services</h3><div class=\"scroll\"><table><thead><tr>" + th("Service") + th("Class") + th("Messages", true) +
         th("DMARC pass", true) + th("SPF pass / aligned", true) + th("DKIM pass / aligned", true) + th("Sources", true) +
         th("What fails") + th("The fix") + "</tr></thead><tbody>";
  for (const auto& svc : s.services) {
    const uint64_t m = svc.messages;
    std::string name = esc(svc.name);
    if (!svc.category.empty()) {
      name += "<br/><span class=\"muted small\">" + esc(svc.category, 40) + "</span>";
    }
    out += "<tr>" + td(name) + td(classTag(svc.cls)) + td(count(m), true) + td(percentText(svc.dmarcPass, m), true) +
           td(percentText(svc.auth.spfPass, m) + " / " + percentText(svc.auth.spfAligned, m), true) +
           td(percentText(svc.auth.dkimPass, m) + " / " + percentText(svc.auth.dkimAligned, m), true) +
           td(count(svc.sources), true) + "<td class=\"words\">" + esc(svc.failure, s_sentenceChars) +
           "</td><td class=\"words\">" + esc(svc.fix, s_sentenceChars) + "</td></tr>";
  }
  out += "</tbody></table></div>";
}

void figure(std::string& out, std::string_view caption, const std::string& svg, const std::string& legend = "")
{
  out += "<figure><figcaption>" + std::string(caption) + "</figcaption>" + svg + legend + "</figure>";
}

//! Volume and pass rate per service (the biggest apart, the rest "other"), and the domain's days.
//! One service's (or "other"'s) sums over an axis, with its colour.
struct ServiceSums
{
  std::string name;
  const char* colour;
  Sums sums;
};

/*!
 * The chart services' sums over the axis: the biggest `apart` services by messages in order,
 * the rest as one "other" at the end.  The trends are in status.services order.
 */
std::vector<ServiceSums> serviceSums(const DomainView& view, const DayAxis& axis, size_t apart)
{
  const auto& services = view.status.services;
  std::vector<size_t> order(std::min(services.size(), view.serviceTrends.size()));
  for (size_t i = 0; i < order.size(); ++i) {
    order[i] = i;
  }
  std::stable_sort(order.begin(), order.end(),
                   [&](size_t a, size_t b) { return services[a].messages > services[b].messages; });
  std::vector<ServiceSums> out;
  for (size_t rank = 0; rank < order.size(); ++rank) {
    const size_t i = order[rank];
    if (rank == apart) {
      out.push_back({"other", s_otherColour, Sums(axis.columns)});
    }
    if (rank < apart) {
      out.push_back({services[i].name, s_palette[rank % std::size(s_palette)], Sums(axis.columns)});
    }
    out.back().sums.add(axis, view.serviceTrends[i].days);
  }
  return out;
}

std::string perColumn(const DayAxis& axis)
{
  return axis.daysPerColumn == 1 ? "per day" : "per " + std::to_string(axis.daysPerColumn) + " days";
}

//! Volume and pass rate per service (the biggest apart, the rest "other"), and the domain's days.
void charts(std::string& out, const DomainView& view, const HtmlReportOptions& options)
{
  const DomainStatus& s = view.status;
  // Step: volume per day (up to a year a column each); rates over coarser columns, where a
  // small service's day-to-day noise averages out.
  const DayAxis axis = axisOf(s, s_maxColumns);
  const DayAxis rateAxis = axisOf(s, s_maxRateColumns);
  std::vector<ChartSeries> volume;
  for (const auto& service : serviceSums(view, axis, options.chartServices)) {
    volume.push_back({service.name, service.colour, service.sums.volume()});
  }
  std::vector<ChartSeries> rate;
  for (const auto& service : serviceSums(view, rateAxis, options.chartServices)) {
    rate.push_back({service.name, service.colour, service.sums.rate()});
  }

  out += "<h3>Over time</h3><div class=\"charts\">";
  ChartFrame frame{"Messages per service, " + perColumn(axis), axis.labels(), ""};
  figure(out, frame.title, svgStackedColumns(frame, volume), chartLegend(volume));
  ChartFrame rateFrame{"DMARC pass rate per service, " + perColumn(rateAxis), rateAxis.labels(), "%"};
  figure(out, rateFrame.title, svgLines(rateFrame, rate, 100), chartLegend(rate));
  // Step: the domain's own days, passing and failing stacked.
  Sums domain(axis.columns);
  domain.add(axis, s.trend);
  std::vector<ChartSeries> days{{"DMARC pass", s_passColour, {}}, {"DMARC fail", s_failColour, {}}};
  for (size_t i = 0; i < axis.columns; ++i) {
    days[0].values.push_back(static_cast<double>(domain.pass[i]));
    days[1].values.push_back(static_cast<double>(domain.messages[i] - std::min(domain.pass[i], domain.messages[i])));
  }
  frame.title = "All mail of the domain, " + perColumn(axis);
  figure(out, frame.title, svgStackedColumns(frame, days), chartLegend(days));
  out += "</div>";
}

void whatIfSection(std::string& out, const DomainStatus& s)
{
  out += "<h3>What if the policy were enforced</h3>"
         "<p class=\"muted small\">Failing mail the policy would stop, per service. Forwarded mail and mail a "
         "receiver overrode the policy for are counted apart: receivers may still take it.</p>";
  for (const char* policy : {"quarantine", "reject"}) {
    const WhatIf w = whatIf(s, policy, 100);
    out += "<h3>p=" + std::string(policy) + "</h3><p>Stops <strong>" + count(w.stopped) + "</strong> of " +
           count(w.messages) + " messages; of authorized or legitimate senders <strong>" + count(w.stoppedLegitimate) +
           "</strong>. Apart: forwarded " + count(w.forwarded) + ", overridden " + count(w.overridden) + ".</p>";
    if (w.services.empty()) {
      out += "<p class=\"muted\">No failing mail: nothing would be stopped.</p>";
      continue;
    }
    out += "<div class=\"scroll\"><table><thead><tr>" + th("Service") + th("Class") + th("Messages", true) +
           th("Failing", true) + th("Forwarded", true) + th("Overridden", true) + th("Stopped", true) +
           "</tr></thead><tbody>";
    for (const auto& svc : w.services) {
      out += "<tr>" + td(esc(svc.name) + (svc.legitimate ? " <span class=\"tag\">legitimate</span>" : "")) +
             td(classTag(svc.cls)) + td(count(svc.messages), true) + td(count(svc.failing), true) +
             td(count(svc.forwarded), true) + td(count(svc.overridden), true) + td(count(svc.stopped), true) + "</tr>";
    }
    out += "</tbody></table></div>";
  }
}

void failingSources(std::string& out, const DomainStatus& s)
{
  out += "<h3>Failing sources</h3>";
  if (s.failingSources.empty()) {
    out += "<p class=\"muted\">No source failed DMARC in this window.</p>";
    return;
  }
  // Step: the failing messages of the top failing sources by country ("" unknown).
  std::map<std::string, uint64_t> byCountry;
  for (const auto& src : s.failingSources) {
    auto& n = byCountry[src.country.empty() ? "unknown" : src.country];
    n = saturatingAdd(n, src.dmarcFail);
  }
  std::vector<ChartBar> bars;
  for (const auto& [country, failing] : byCountry) {
    bars.push_back({country, failing, s_failColour});
  }
  std::stable_sort(bars.begin(), bars.end(), [](const auto& a, const auto& b) { return a.value > b.value; });
  if (bars.size() > s_maxCountries) {
    bars.resize(s_maxCountries);
  }
  out += "<div class=\"charts\">";
  figure(out, "Failing messages by country (the " + std::to_string(s.failingSources.size()) + " top failing sources)",
         svgBars("Failing messages by country", bars));
  out += "</div><div class=\"scroll\"><table><thead><tr>" + th("Source IP") + th("Country") + th("AS") + th("PTR") +
         th("Service") + th("Class") + th("Failing", true) + th("Messages", true) + "</tr></thead><tbody>";
  for (const auto& src : s.failingSources) {
    std::string as = src.asn == 0 ? "" : "AS" + std::to_string(src.asn);
    if (!src.asOrg.empty()) {
      as += " " + esc(src.asOrg);
    }
    out += "<tr>" + td(src.ip ? esc(src.ip->toString(), 64) : "(no source IP)") + td(esc(src.country, 8)) + td(as) +
           td(esc(src.ptr, s_dnsNameChars)) + td(esc(src.service)) + td(classTag(src.cls)) +
           td(count(src.dmarcFail), true) + td(count(src.messages), true) + "</tr>";
  }
  out += "</tbody></table></div>";
}

void reporters(std::string& out, const DomainView& view)
{
  const DomainStatus& s = view.status;
  out += "<h3>Reporters and days covered</h3><p>";
  if (s.dataDays) {
    out += "Data on " + std::to_string(s.trend.size()) + " days from " + formatDay(s.dataDays->first) + " to " +
           formatDay(s.dataDays->second);
  }
  else {
    out += "No data";
  }
  out += " in the " + std::to_string(uint64_t{s.toDay} - std::min(s.fromDay, s.toDay) + 1) + " days from " +
         formatDay(s.fromDay) + " to " + formatDay(s.toDay) + ".</p>";
  if (view.reporters.empty()) {
    return;
  }
  out += "<div class=\"scroll\"><table><thead><tr>" + th("Reporter") + th("Reports", true) + th("Messages", true) +
         th("First day") + th("Last day") + "</tr></thead><tbody>";
  for (const auto& r : view.reporters) {
    out += "<tr>" + td(esc(r.org)) + td(count(r.reports), true) + td(count(r.messages), true) +
           td(formatUtc(r.firstBegin, "%Y-%m-%d")) + td(formatUtc(r.lastEnd, "%Y-%m-%d")) + "</tr>";
  }
  out += "</tbody></table></div>";
}

void domainSection(std::string& out, const DomainView& view, size_t index, const HtmlReportOptions& options)
{
  const DomainStatus& s = view.status;
  out += "<section id=\"domain-" + std::to_string(index) + "\"><h2>" + esc(s.domain, s_dnsNameChars) + "</h2>";
  out += "<p class=\"muted\">" + formatDay(s.fromDay) + " to " + formatDay(s.toDay) + "</p>";
  if (s.messages == 0) {
    out += "<p>No reports in this window";
    if (s.newestDay) {
      out += "; the newest report is of " + formatDay(*s.newestDay);
    }
    out += ".</p></section>";
    return;
  }
  headline(out, view);
  servicesTable(out, s);
  charts(out, view, options);
  whatIfSection(out, s);
  failingSources(out, s);
  reporters(out, view);
  out += "</section>";
}

} // namespace

std::string renderHtmlReport(const std::vector<DomainView>& views, const HtmlReportOptions& options)
{
  std::string out;
  out.reserve(64 * 1024);
  // Step: the head.  The CSP forbids every load (the page has none) and every script.
  const std::string window = options.allDays ? "every stored day"
                                             : formatDay(options.fromDay) + " to " + formatDay(options.toDay);
  out += "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"/>"
         "<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; style-src 'unsafe-inline'; img-src data:\"/>"
         "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\"/><title>DMARC report";
  if (views.size() == 1) {
    out += ": " + esc(views.front().status.domain, s_dnsNameChars);
  }
  out += "</title><style>";
  out += s_css;
  out += "</style></head><body><header><h1>DMARC report</h1><p class=\"muted\">" + window + "; generated " +
         formatUtc(options.generatedAt, "%Y-%m-%d %H:%M") + " UTC</p>";
  // Step: a list of the domains when there are several.
  if (views.size() > 1) {
    out += "<nav><ul>";
    for (size_t i = 0; i < views.size(); ++i) {
      const auto& s = views[i].status;
      out += "<li><a href=\"#domain-" + std::to_string(i) + "\">" + esc(s.domain, s_dnsNameChars) + "</a> " +
             count(s.messages) + " messages, DMARC pass " + percentText(s.dmarcPass, s.messages) + ", " +
             esc(views[i].readiness.text(), s_sentenceChars) + "</li>";
    }
    out += "</ul></nav>";
  }
  out += "</header>";
  if (views.empty()) {
    out += "<p>No reports stored.</p>";
  }
  for (size_t i = 0; i < views.size(); ++i) {
    domainSection(out, views[i], i, options);
  }
  out += "<footer>" + esc(options.generator) + ". Counts are messages as the reporters counted them.</footer>"
         "</body></html>\n";
  return out;
}

} // namespace dmarcwatch::collector
