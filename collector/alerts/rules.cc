/*
 * rules.cc - the alert rules (rules.hh).  Each rule is a function from the
 * domain's picture to findings; evaluateRules calls the enabled ones.
 */
#include "config.h"

#include "collector/alerts/rules.hh"

#include "collector/alerts/alert-codec.hh"
#include "collector/views/readiness.hh"
#include "collector/common/arithmetic.hh"

#include <algorithm>
#include <cstdio>
#include <initializer_list>
#include <map>

namespace dmarcwatch::collector
{

namespace
{

//! Longest part of an alert state key taken as it is.
constexpr size_t s_maxKeyPart = 120;
//! RFC 7208 4.6.4: more DNS look-ups than this and SPF is a permerror.
constexpr unsigned s_spfLookupLimit = 10;
//! A reporter is daily with reports on this many of the 8 days ending with its last one.
constexpr size_t s_dailyDays = 5;
//! Countries and networks named in a spoofing alert.
constexpr size_t s_topPlaces = 3;

std::string percentText(uint64_t pass, uint64_t total)
{
  char text[16];
  std::snprintf(text, sizeof text, "%.1f", total == 0 ? 0.0 : 100.0 * static_cast<double>(pass) / static_cast<double>(total));
  return text;
}

std::string ipText(const NamedSource& source)
{
  return source.ip ? source.ip->toString() : std::string("(no address)");
}

std::string serviceKey(const NamedService& service)
{
  return service.id.empty() ? "unnamed:" + service.name : service.id;
}

//! A finding that only remembers a note under a key (a baseline, a band, a record's text).
Finding remembered(std::string key, std::string note)
{
  Finding f;
  f.key = std::move(key);
  f.note = std::move(note);
  f.silent = true;
  return f;
}

Finding finding(const char* rule, const DomainPicture& picture, const std::string& subject, AlertSeverity severity)
{
  Finding f;
  f.rule = rule;
  f.domain = picture.domain;
  f.subject = subject;
  f.key = alertStateKey({rule, picture.domain, subject});
  f.severity = severity;
  return f;
}

//! The largest failing source of a service: why it fails, in words.
std::string whyFails(const DomainPicture& picture, const NamedService& service)
{
  for (const auto& source : picture.sources) { // most messages first
    if (source.dmarcFail > 0 && !source.failure.empty() && serviceLabel(source) == service.name) {
      return source.failure;
    }
  }
  return "DMARC fails";
}

bool isNamedService(const NamedService& service)
{
  return !service.id.empty() && !service.id.starts_with("network:");
}

// --- new-sender -------------------------------------------------------------------------

void newSender(const DomainPicture& picture, const RuleContext& context, std::vector<Finding>& out)
{
  // The domain's baseline: the first judgement starts the grace; during it senders are learnt,
  // at the first judgement from the domain's history too (a monthly sender is no new one).
  const std::string domainKey = alertStateKey({"domain", picture.domain});
  auto first = context.state(domainKey);
  const int64_t since = first ? first->firstSeen : context.now;
  if (!first) {
    out.push_back(remembered(domainKey, ""));
  }
  const bool learning = !first || context.now < since + context.settings.newSenderGrace.count();
  auto learn = [&](const std::vector<NamedService>& services, bool tell) {
    for (const auto& service : services) {
      if (!isNamedService(service)) {
        continue;
      }
      const std::string seenKey = alertStateKey({"seen", picture.domain, serviceKey(service)});
      if (context.state(seenKey)) {
        continue;
      }
      out.push_back(remembered(seenKey, ""));
      if (!tell) {
        continue;
      }
      Finding f = finding("new-sender", picture, service.name, AlertSeverity::Notice);
      f.message = service.name + " sends as " + picture.domain + " for the first time (" +
                  std::to_string(service.messages) + " messages, " +
                  percentText(service.dmarcPass, service.messages) + " % pass DMARC)";
      f.fields = {{"service", service.name},
                  {"class", std::string(sourceClassName(service.cls))},
                  {"messages", std::to_string(service.messages)},
                  {"pass_pct", percentText(service.dmarcPass, service.messages)}};
      f.value = picture.perDay(service.messages);
      out.push_back(std::move(f));
    }
  };
  if (!first) {
    learn(picture.history, false);
  }
  learn(picture.services, !learning);
  if (learning) {
    return;
  }
  // Unnamed sources are new when first seen in a report this pass follows.  Those that only fail
  // are spoofing's (one alert per domain), forwarders are no senders of the domain.
  for (const auto& source : picture.sources) {
    if (source.name.service != nullptr || source.name.network != nullptr || source.dmarcPass == 0 ||
        source.name.cls == SourceClass::Forwarder || !context.isNew(source)) {
      continue;
    }
    const std::string ip = ipText(source);
    Finding f = finding("new-sender", picture, ip, AlertSeverity::Notice);
    f.message = "an unnamed source, " + ip + (source.network.ptrName.empty() ? "" : " (" + source.network.ptrName + ")") +
                ", sends as " + picture.domain + " for the first time (" + std::to_string(source.messages) +
                " messages, " + percentText(source.dmarcPass, source.messages) + " % pass DMARC)";
    f.fields = {{"service", "unknown"},
                {"ip", ip},
                {"class", std::string(sourceClassName(source.name.cls))},
                {"messages", std::to_string(source.messages)},
                {"pass_pct", percentText(source.dmarcPass, source.messages)},
                {"ptr", source.network.ptrName},
                {"country", source.network.country},
                {"asn", source.network.asn == 0 ? "" : std::to_string(source.network.asn)}};
    f.value = picture.perDay(source.messages);
    out.push_back(std::move(f));
  }
}

// --- unknown-sender ---------------------------------------------------------------------

void unknownSender(const DomainPicture& picture, const RuleContext& context, std::vector<Finding>& out)
{
  for (const auto& source : picture.sources) {
    if (source.name.service != nullptr || source.name.network != nullptr ||
        source.name.cls == SourceClass::Forwarder || source.dmarcPass < context.settings.unknownSenderMessages) {
      continue;
    }
    const std::string ip = ipText(source);
    Finding f = finding("unknown-sender", picture, ip, AlertSeverity::Warning);
    f.message = "an unnamed source, " + ip + (source.network.ptrName.empty() ? "" : " (" + source.network.ptrName + ")") +
                ", sent " + std::to_string(source.dmarcPass) + " messages as " + picture.domain +
                " that pass DMARC" + (source.identity.empty() ? "" : " (as " + source.identity + ")") +
                ": if it is yours, name it with Network; if not, its DKIM key or SPF entry is misused";
    f.fields = {{"service", "unknown"},
                {"ip", ip},
                {"class", std::string(sourceClassName(source.name.cls))},
                {"messages", std::to_string(source.messages)},
                {"pass_pct", percentText(source.dmarcPass, source.messages)},
                {"identity", source.identity},
                {"ptr", source.network.ptrName},
                {"country", source.network.country},
                {"asn", source.network.asn == 0 ? "" : std::to_string(source.network.asn)}};
    f.value = picture.perDay(source.dmarcPass);
    out.push_back(std::move(f));
  }
}

// --- spoofing ---------------------------------------------------------------------------

std::string topList(const std::map<std::string, uint64_t>& counts)
{
  std::vector<std::pair<std::string, uint64_t>> sorted(counts.begin(), counts.end());
  std::stable_sort(sorted.begin(), sorted.end(), [](const auto& a, const auto& b) { return a.second > b.second; });
  std::string text;
  for (size_t i = 0; i < sorted.size() && i < s_topPlaces; ++i) {
    text += (i == 0 ? "" : ", ") + sorted[i].first + " " + std::to_string(sorted[i].second);
  }
  return text;
}

void spoofing(const DomainPicture& picture, const RuleContext& context, std::vector<Finding>& out)
{
  std::map<std::string, bool> legit;
  for (const auto& service : picture.services) {
    legit[service.name] = legitimate(service);
  }
  uint64_t messages = 0;
  uint64_t sources = 0;
  std::map<std::string, uint64_t> countries;
  std::map<std::string, uint64_t> networks;
  const NamedSource* top = nullptr;
  for (const auto& source : picture.sources) {
    const auto cls = source.name.cls;
    if (source.dmarcFail == 0 || cls == SourceClass::Authorized || cls == SourceClass::Forwarder ||
        legit[serviceLabel(source)]) {
      continue;
    }
    messages = saturatingAdd(messages, source.dmarcFail);
    ++sources;
    countries[source.network.country.empty() ? "unknown" : source.network.country] += source.dmarcFail;
    networks[source.network.asn == 0 ? "unknown" : "AS" + std::to_string(source.network.asn)] += source.dmarcFail;
    if (top == nullptr || source.dmarcFail > top->dmarcFail) {
      top = &source;
    }
  }
  if (messages < context.settings.spoofingMessages || top == nullptr) {
    return;
  }
  // Under an enforcing policy receivers already refuse it: worth knowing, not losing sleep over.
  const auto severity = picture.policy.enforcing() ? AlertSeverity::Notice : AlertSeverity::Warning;
  Finding f = finding("spoofing", picture, "unauthorized", severity);
  const std::string where = topList(countries);
  f.message = std::to_string(messages) + " messages failing DMARC from " + std::to_string(sources) +
              " unauthorized source" + (sources == 1 ? "" : "s") + " claim to be " + picture.domain + " (from " + where +
              "; largest " + ipText(*top) + "); policy " + (picture.policy.p.empty() ? "unknown" : picture.policy.p) +
              (picture.policy.enforcing() ? ": receivers refuse it" : ": receivers deliver it");
  f.fields = {{"service", serviceLabel(*top)},
              {"class", std::string(sourceClassName(top->name.cls))},
              {"messages", std::to_string(messages)},
              {"sources", std::to_string(sources)},
              {"countries", where},
              {"asns", topList(networks)},
              {"top_ip", ipText(*top)},
              {"top_ptr", top->network.ptrName},
              {"policy", picture.policy.p}};
  f.value = picture.perDay(messages);
  out.push_back(std::move(f));
}

// --- enforcement-blocker ----------------------------------------------------------------

void enforcementBlocker(const DomainPicture& picture, const RuleContext& context, std::vector<Finding>& out)
{
  for (const auto& service : picture.services) {
    if (!legitimate(service) || service.dmarcFail < context.settings.blockerMessages ||
        passPercent(service.dmarcPass, service.messages) >= context.settings.readyPassRate) {
      continue;
    }
    const bool losing = picture.policy.enforcing();
    Finding f = finding("enforcement-blocker", picture, service.name, losing ? AlertSeverity::Error : AlertSeverity::Warning);
    const std::string why = whyFails(picture, service);
    const std::string pct = percentText(service.dmarcPass, service.messages);
    f.message = service.name + " fails DMARC for " + picture.domain + " (" + std::to_string(service.dmarcFail) + " of " +
                std::to_string(service.messages) + " messages, " + pct + " % pass): " + why +
                (losing ? "; the published policy (" + picture.policy.p + ") already stops this mail"
                        : "; quarantine or reject would stop this mail");
    f.fields = {{"service", service.name},
                {"class", std::string(sourceClassName(service.cls))},
                {"messages", std::to_string(service.messages)},
                {"failing", std::to_string(service.dmarcFail)},
                {"pass_pct", pct},
                {"policy", picture.policy.p.empty() ? "unknown" : picture.policy.p},
                {"why", why}};
    f.value = picture.perDay(service.dmarcFail);
    out.push_back(std::move(f));
  }
}

// --- pass-rate-change -------------------------------------------------------------------

const char* bandOf(unsigned percent)
{
  return percent >= 95 ? "high" : percent > 50 ? "middle" : "low";
}

int bandRank(std::string_view band)
{
  return band == "high" ? 2 : band == "middle" ? 1 : 0;
}

const char* bandRange(std::string_view band)
{
  return band == "high" ? ">= 95 %" : band == "middle" ? "51-94 %" : "<= 50 %";
}

void passRateChange(const DomainPicture& picture, const RuleContext& context, std::vector<Finding>& out)
{
  for (const auto& service : picture.services) {
    if (service.id.empty() || service.cls == SourceClass::Forwarder ||
        service.messages < context.settings.blockerMessages) {
      continue;
    }
    const char* band = bandOf(passPercent(service.dmarcPass, service.messages));
    const std::string bandKey = alertStateKey({"band", picture.domain, serviceKey(service)});
    auto before = context.state(bandKey);
    if (before && before->note == band) {
      continue;
    }
    out.push_back(remembered(bandKey, band));
    if (!before || before->note.empty()) {
      continue; // first seen: no change yet
    }
    const bool worse = bandRank(band) < bandRank(before->note);
    Finding f = finding("pass-rate-change", picture, service.name + " " + band,
                        worse ? AlertSeverity::Warning : AlertSeverity::Notice);
    const std::string pct = percentText(service.dmarcPass, service.messages);
    f.message = service.name + "'s DMARC pass rate for " + picture.domain + " went from " + bandRange(before->note) +
                " to " + bandRange(band) + " (" + pct + " % of " + std::to_string(service.messages) + " messages)" +
                (worse ? ": " + whyFails(picture, service) : "");
    f.fields = {{"service", service.name},
                {"class", std::string(sourceClassName(service.cls))},
                {"messages", std::to_string(service.messages)},
                {"pass_pct", pct},
                {"from_band", bandRange(before->note)},
                {"to_band", bandRange(band)}};
    f.value = picture.perDay(service.messages);
    out.push_back(std::move(f));
  }
}

// --- report-gap -------------------------------------------------------------------------

void reportGap(const DomainPicture& picture, const RuleContext& context, std::vector<Finding>& out)
{
  const int64_t gap = context.settings.reportGap.count();
  for (const auto& reporter : picture.reporters) {
    // Daily: reports on at least 5 of the 8 days ending with its last one.
    if (reporter.days.size() < s_dailyDays) {
      continue;
    }
    // A day's report arrives up to a day after the period ends (lastEnd is clamped to when the
    // report arrived, so no report-supplied date overflows this).
    const int64_t silentFor = context.now - (reporter.lastEnd + s_secondsPerDay);
    if (silentFor < gap) {
      continue;
    }
    const auto lastDay = reporter.lastEnd / s_secondsPerDay;
    Finding f = finding("report-gap", picture, reporter.org, AlertSeverity::Warning);
    f.key = alertStateKey({"report-gap", picture.domain, reporter.org, std::to_string(lastDay)});
    f.message = reporter.org + " sent daily reports for " + picture.domain + " and has sent none for " +
                std::to_string(silentFor / 3600) + " hours: check the rua address in _dmarc." + picture.domain +
                " and that its mail reaches you";
    f.fields = {{"reporter", reporter.org},
                {"silent_hours", std::to_string(silentFor / 3600)},
                {"last_report_end", std::to_string(reporter.lastEnd)},
                {"days_reported", std::to_string(reporter.days.size())}};
    f.value = 1;
    out.push_back(std::move(f));
  }
}

// --- dns-change -------------------------------------------------------------------------

//! One live record compared with what the last full pass saw: a change is told, a first sight remembered.
void recordChange(const DomainPicture& picture, const RuleContext& context, const char* which, const std::string& now,
                  bool gone, std::vector<Finding>& out)
{
  const std::string key = alertStateKey({"dns", picture.domain, which});
  auto before = context.state(key);
  if (before && before->note == now) {
    return;
  }
  out.push_back(remembered(key, now));
  if (!before || before->note.empty()) {
    return;
  }
  const std::string name = std::string(which) == "dmarc" ? "DMARC" : "SPF";
  Finding f = finding("dns-change", picture, std::string(which) + "-" + std::to_string(context.now),
                      gone ? AlertSeverity::Warning : AlertSeverity::Notice);
  f.subject = name + " record";
  f.message = "the " + name + " record of " + picture.domain + (gone ? " is gone" : " changed") + ": was \"" +
              before->note + "\", now \"" + now + "\"";
  f.fields = {{"record", which}, {"old", before->note}, {"new", now}};
  f.value = 1;
  out.push_back(std::move(f));
}

void dnsChange(const DomainPicture& picture, const RuleContext& context, std::vector<Finding>& out)
{
  if (!picture.live) {
    return; // the daemon has not looked the domain up
  }
  const LivePolicy& live = *picture.live;
  if (live.state == "found" || live.state == "none") { // unknown: DNS did not answer, nothing to compare
    const bool found = live.state == "found";
    recordChange(picture, context, "dmarc", found ? live.record : "(none)", !found, out);
  }
  if (live.spfError == "unknown" || live.spfError == "temperror") {
    return;
  }
  const bool spfFound = !live.spfRecord.empty();
  recordChange(picture, context, "spf", spfFound ? live.spfRecord : "(" + live.spfError + ")", !spfFound, out);
  // A record that no receiver can evaluate fails SPF for every source it lists.
  if (live.spfError == "too many look-ups" || live.spfError == "loop" || live.spfError == "multiple SPF records" ||
      live.spfError == "include without SPF record") {
    const std::string lookups = live.spfLookups ? std::to_string(*live.spfLookups) : "";
    Finding f = finding("dns-change", picture, "spf-error", AlertSeverity::Warning);
    f.subject = "SPF record";
    f.message = "the SPF record of " + picture.domain + " is broken (" + live.spfError +
                (lookups.empty() ? "" : ", " + lookups + " DNS look-ups, at most " + std::to_string(s_spfLookupLimit) +
                                            " allowed") +
                "): receivers give permerror, so SPF fails for every sender; flatten or drop includes";
    f.fields = {{"record", "spf"}, {"error", live.spfError}, {"lookups", lookups}, {"new", live.spfRecord}};
    f.value = 1;
    out.push_back(std::move(f));
  }
}

// --- enforcement-ready ------------------------------------------------------------------

void enforcementReady(const DomainPicture& picture, const RuleContext& context, std::vector<Finding>& out)
{
  const auto& policy = picture.policy;
  if (policy.p != "none" && policy.p != "quarantine" && !(policy.p == "reject" && (policy.pct < 100 || policy.testing))) {
    return;
  }
  const auto days = static_cast<uint32_t>(context.settings.readyDays.count() / s_secondsPerDay);
  if (!picture.dataDays || picture.dataDays->first + days > picture.today + 1 || picture.dataDays->second + 2 < picture.today) {
    return; // the data does not cover the whole period (or stopped)
  }
  std::string list;
  unsigned authorized = 0;
  for (const auto& service : picture.services) {
    // Every service whose mail enforcement must not stop: the same set enforcement-blocker watches.
    if (!legitimate(service)) {
      continue;
    }
    if (passPercent(service.dmarcPass, service.messages) < context.settings.readyPassRate) {
      return;
    }
    ++authorized;
    list += (list.empty() ? "" : ", ") + service.name + " " + percentText(service.dmarcPass, service.messages) + " %";
  }
  if (authorized == 0) {
    return;
  }
  const std::string next = policy.p == "none" ? "quarantine" : "reject";
  Finding f = finding("enforcement-ready", picture, next, AlertSeverity::Notice);
  f.message = picture.domain + " is ready for p=" + next + ": every authorized service passed DMARC at least " +
              std::to_string(context.settings.readyPassRate) + " % for " + std::to_string(days) + " days (" + list + ")";
  f.fields = {{"policy", policy.p}, {"next_policy", next}, {"services", list}, {"days", std::to_string(days)}};
  f.value = 1;
  out.push_back(std::move(f));
}

} // namespace

std::string alertStateKey(std::initializer_list<std::string_view> parts)
{
  std::string key;
  for (auto part : parts) {
    if (!key.empty()) {
      key.push_back('|');
    }
    if (part.size() <= s_maxKeyPart) {
      key += part;
      continue;
    }
    key += part.substr(0, s_maxKeyPart - 17);
    key += '#';
    key += alertId(part, 0);
  }
  return key;
}

bool legitimate(const NamedService& service)
{
  return legitimateSender(service.cls, isNamedService(service), service.dmarcPass);
}

std::vector<Finding> evaluateRules(const DomainPicture& picture, const DomainPicture* readiness, const RuleContext& context)
{
  std::vector<Finding> out;
  const auto& settings = context.settings;
  if (settings.enabled("new-sender")) {
    newSender(picture, context, out);
  }
  if (settings.enabled("unknown-sender")) {
    unknownSender(picture, context, out);
  }
  if (settings.enabled("spoofing")) {
    spoofing(picture, context, out);
  }
  if (settings.enabled("enforcement-blocker")) {
    enforcementBlocker(picture, context, out);
  }
  if (settings.enabled("pass-rate-change")) {
    passRateChange(picture, context, out);
  }
  if (context.full && settings.enabled("report-gap")) {
    reportGap(picture, context, out);
  }
  if (context.full && settings.enabled("dns-change")) {
    dnsChange(picture, context, out);
  }
  if (readiness != nullptr && settings.enabled("enforcement-ready")) {
    enforcementReady(*readiness, context, out);
  }
  return out;
}

} // namespace dmarcwatch::collector
