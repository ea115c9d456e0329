/*
 * alert-pass.cc - one pass of the alerts (alert-pass.hh).
 */
#include "config.h"

#include "collector/alerts/alert-pass.hh"

#include "collector/alerts/alert-codec.hh"
#include "collector/alerts/domain-picture.hh"
#include "collector/common/arithmetic.hh"
#include "collector/common/text.hh"

#include <algorithm>
#include <chrono>
#include <map>
#include <set>

namespace dmarcwatch::collector
{

namespace
{

//! How long sent alerts stay listed by `dmarcwatch alerts` (then the log drops them).
constexpr int64_t s_alertHistory = 400 * s_secondsPerDay;
//! Subjects named in a burst's summary line.
constexpr size_t s_summaryNames = 5;

uint32_t daysOf(std::chrono::seconds span)
{
  return static_cast<uint32_t>(std::max<int64_t>(1, span.count() / s_secondsPerDay));
}

//! What this pass decided about alert states, over what the store holds.
class StateBook
{
public:
  explicit StateBook(const Store& store) : d_store(store) {}
  std::optional<Store::AlertState> get(const std::string& key) const
  {
    if (auto found = d_decided.find(key); found != d_decided.end()) {
      return found->second;
    }
    return d_store.alertState(key);
  }
  void put(const std::string& key, const Store::AlertState& state) { d_decided[key] = state; }
  [[nodiscard]] std::vector<std::pair<std::string, Store::AlertState>> decided() const
  {
    return {d_decided.begin(), d_decided.end()};
  }

private:
  const Store& d_store;
  std::map<std::string, Store::AlertState> d_decided;
};

//! \brief Whether a finding is sent, given its state; updates the state either way.
bool decide(const Finding& finding, Store::AlertState& state, const AlertSettings& settings, int64_t now)
{
  if (state.firstSeen == 0) {
    state.firstSeen = now;
  }
  state.lastSeen = now;
  if (!finding.note.empty() || finding.silent) {
    state.note = finding.note;
  }
  if (finding.silent) {
    return false;
  }
  state.count = state.count == UINT64_MAX ? state.count : state.count + 1;
  const auto severity = static_cast<uint8_t>(finding.severity);
  const bool never = state.severity == 0;
  const bool expired = now - state.lastEmitted >= settings.repeat.count();
  const bool worse = !never && severity < state.severity;
  const bool grown = state.value > 0 && finding.value / 2 >= state.value;
  if (!(never || expired || worse || grown)) {
    return false;
  }
  state.lastEmitted = now;
  state.severity = severity;
  state.value = finding.value;
  return true;
}

Alert alertOf(const Finding& finding, const Store::AlertState& state, int64_t now)
{
  Alert alert;
  // The key, the time and how often it was found: one id per sending.
  alert.id = alertId(finding.key + "#" + std::to_string(state.count), now);
  alert.rule = finding.rule;
  alert.domain = finding.domain;
  alert.severity = finding.severity;
  alert.time = now;
  alert.message = finding.message;
  alert.fields = finding.fields;
  return alert;
}

Store::AlertLogEntry entryOf(const Alert& alert, const std::string& key, bool covered)
{
  Store::AlertLogEntry entry;
  entry.time = alert.time;
  entry.domain = alert.domain;
  entry.key = key;
  entry.emitted = covered;
  entry.payload = encodeAlert(alert);
  return entry;
}

//! One line for a burst: how many, the worst severity, the first few subjects.
Alert summaryOf(const std::vector<const Finding*>& group, int64_t now)
{
  const Finding& first = *group.front();
  Alert alert;
  alert.rule = first.rule;
  alert.domain = first.domain;
  alert.time = now;
  alert.severity = first.severity;
  std::string names;
  std::string members; // every member's key: the summary's id differs from any other summary's
  uint64_t messages = 0;
  for (size_t i = 0; i < group.size(); ++i) {
    alert.severity = std::min(alert.severity, group[i]->severity);
    messages = saturatingAdd(messages, group[i]->value);
    members += group[i]->key;
    members += '\n';
    if (i < s_summaryNames) {
      names += (i == 0 ? "" : ", ") + group[i]->subject;
    }
  }
  alert.id = alertId(members, now);
  alert.message = std::to_string(group.size()) + " " + first.rule + " alerts for " + first.domain + ": " + names +
                  (group.size() > s_summaryNames ? " and " + std::to_string(group.size() - s_summaryNames) + " more" : "") +
                  " (dmarcwatch alerts " + first.domain + " lists each)";
  alert.fields = {{"summary", "yes"},
                  {"count", std::to_string(group.size())},
                  {"subjects", names},
                  {"messages_per_day", std::to_string(messages)}};
  return alert;
}

} // namespace

AlertPass::AlertPass(const Config& config, const Namer& namer) : d_config(config), d_namer(namer) {}

std::pair<uint64_t, uint64_t> AlertPass::sendPending(Store& store, const AlertSink& sink,
                                                     const AlertPassOptions& options, int64_t now)
{
  auto pending = store.pendingAlerts();
  uint64_t sent = 0;
  for (size_t i = 0; i < pending.size(); ++i) {
    if (options.stopRequested && options.stopRequested()) {
      return {sent, pending.size() - i}; // the rest waits, recorded, for the next start
    }
    const Alert alert = decodeAlert(pending[i].payload, pending[i].time);
    if (!sink(alert)) {
      return {sent, pending.size() - i};
    }
    store.markAlertsEmitted({pending[i].number}, now);
    ++sent;
    if (options.checkpoint) {
      options.checkpoint("sent", sent);
    }
  }
  return {sent, 0};
}

AlertPassSummary AlertPass::run(Store& store, const NetworkLookup& lookup, const AlertSink& sink,
                                const AlertPassOptions& options, int64_t now)
{
  const auto started = std::chrono::steady_clock::now();
  AlertPassSummary summary;
  const auto& settings = d_config.alerts;

  // Step 1: what a crash or a refusing syslog left unsent.
  auto [sentBefore, unsentBefore] = sendPending(store, sink, options, now);
  summary.sent = sentBefore;

  // Step 2: the domains of the new reports.
  const uint64_t cursorBefore = store.cursor(options.cursorName).value_or(0);
  uint64_t cursor = cursorBefore;
  std::set<std::string> domains;
  for (const auto& report : store.reportsAfter(cursorBefore, options.maxReports)) {
    if (report.state == ReportState::Loading || report.sequence > options.through) {
      break; // still being stored, or not yet enriched: followed next time, never skipped
    }
    cursor = report.sequence;
    ++summary.reports;
    if (countedState(report.state)) {
      domains.insert(lowerAscii(report.header.policy.domain)); // the store keeps domains in lower case
    }
  }
  if (options.full) {
    for (auto& domain : store.listDomains()) {
      domains.insert(std::move(domain));
    }
  }

  // Step 3: the rules.
  StateBook book(store);
  RuleContext context{settings, now, options.full,
                      [&book](const std::string& key) { return book.get(key); },
                      [&store, cursorBefore](const NamedSource& source) {
                        if (!source.ip) {
                          return false;
                        }
                        auto known = store.source(source.domain, *source.ip);
                        return known && known->firstReport > cursorBefore;
                      }};
  std::vector<std::pair<Finding, Alert>> toSend; // each finding the repeat window lets through, as sent
  for (const auto& domain : domains) {
    if (options.stopRequested && options.stopRequested()) {
      summary.stopped = true;
      return summary;
    }
    // A domain judged for the first time learns its senders from its history (new-sender).
    const bool baseline = settings.enabled("new-sender") && !book.get(alertStateKey({"domain", domain}));
    const DomainPicture picture = buildPicture(store, d_namer, lookup, domain, now, daysOf(settings.window), baseline,
                                               alertsLeaveOut(d_config.trust));
    std::optional<DomainPicture> readiness;
    if (options.full && settings.enabled("enforcement-ready")) {
      readiness = pictureOver(picture, store, d_namer, lookup, daysOf(settings.readyDays));
    }
    auto found = evaluateRules(picture, readiness ? &*readiness : nullptr, context);
    ++summary.domains;
    for (auto& f : found) {
      auto state = book.get(f.key).value_or(Store::AlertState{});
      const bool send = decide(f, state, settings, now);
      book.put(f.key, state);
      if (!f.silent) {
        ++summary.findings;
      }
      if (send) {
        Alert alert = alertOf(f, state, now);
        toSend.emplace_back(std::move(f), std::move(alert));
      }
    }
  }

  // Bursts: more than AlertBurst of one rule and domain become one line.
  std::map<std::pair<std::string, std::string>, std::vector<const Finding*>> groups;
  for (const auto& [f, alert] : toSend) {
    groups[{f.rule, f.domain}].push_back(&f);
  }
  Store::AlertCommit commit;
  for (const auto& [f, alert] : toSend) {
    const auto& group = groups[{f.rule, f.domain}];
    const bool burst = group.size() > settings.burst;
    commit.alerts.push_back(entryOf(alert, f.key, burst));
    if (burst) {
      ++summary.summarised;
      if (group.front() == &f) {
        const Alert line = summaryOf(group, now);
        commit.alerts.push_back(entryOf(line, f.rule + "|" + f.domain + "|summary", false));
        ++summary.raised;
      }
    }
    else {
      ++summary.raised;
    }
  }
  if (options.stopRequested && options.stopRequested()) {
    summary.stopped = true;
    return summary;
  }

  // Step 4: record, then send.
  commit.states = book.decided();
  commit.cursors.emplace_back(options.cursorName, cursor);
  commit.expectCursor = {options.cursorName, cursorBefore};
  commit.pruneBefore = now - s_alertHistory;
  if (!store.commitAlerts(commit)) {
    // Another pass (dmarcwatchd --once beside the daemon) recorded these reports first.
    summary.stopped = true;
    return summary;
  }
  summary.cursor = cursor;
  if (options.checkpoint) {
    options.checkpoint("recorded", 0);
  }
  if (unsentBefore == 0) {
    auto [sent, unsent] = sendPending(store, sink, options, now);
    summary.sent += sent;
    summary.unsent = unsent;
  }
  else {
    summary.unsent = unsentBefore + summary.raised; // syslog refused: try again next pass
  }
  summary.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  return summary;
}

} // namespace dmarcwatch::collector
