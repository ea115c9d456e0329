/*
 * cli-commands.cc - ingest and reports for `dmarcwatch` (status: status-command.cc).
 *
 * Output: human tables by default, one JSON document (reports, status) or one
 * JSON object per input line (ingest) with --json; the JSON shapes are the
 * contract in DESIGN.md that scripts and tests rely on.
 */
#include "config.h"

#include "collector/cli/cli-commands.hh"

#include "collector/auth/header-key.hh"
#include "collector/auth/recorded-spf.hh"
#include "collector/auth/report-check.hh"

#include "collector/common/config-keys.hh"

#include "collector/common/errors.hh"
#include "collector/ingest/ingest.hh"
#include "collector/common/json.hh"
#include "collector/common/log.hh"
#include "collector/common/text.hh"
#include "collector/intake/mailbox.hh"
#include "collector/cli/table-format.hh"
#include "collector/views/status-naming.hh"
#include "collector/views/status-view.hh"
#include "collector/store/store.hh"
#include "collector/intake/classify.hh"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <charconv>
#include <cinttypes>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <filesystem>
#include <thread>
#include <iostream>
#include <set>
#include <sstream>

namespace dmarcwatch::cli
{
using namespace collector;

Store::Options storeOptions(const Config& config, bool readOnly)
{
  Store::Options options;
  options.readOnly = readOnly;
  options.mapSize = config.mapSize;
  options.maxMapSize = config.maxDatabaseSize;
  options.maxRawArchiveBytes = config.limits.maxRawArchiveBytes;
  options.maxReportDays = config.limits.maxReportDays;
  return options;
}

namespace
{

std::string isoTime(int64_t epoch)
{
  return formatUtc(epoch, "%Y-%m-%d %H:%M");
}

// ---------------------------------------------------------------- ingest

//! Read, classify and ingest one file (or stdin when path is "-").
IngestOutcome ingestFile(Ingester& ingester, const Config& config, const std::string& path)
{
  const Limits& limits = config.limits;
  FileDescriptor fd;
  if (path == "-") {
    fd = FileDescriptor(dup(STDIN_FILENO));
  }
  else {
    fd = openForReading(path);
  }
  struct stat st{};
  bool regular = fstat(fd.get(), &st) == 0 && S_ISREG(st.st_mode);
  FileSource file(std::move(fd));
  PeekSource source(file);
  auto head = source.peek(s_sniffBytes);
  const std::string label = path == "-" ? "stdin" : path;

  // What the input is, decided here once (classify.hh); everything below goes by this decision.
  const Classified input = classify(head);
  if (input.kind == InputKind::Mbox) {
    return ingester.ingestMbox(source, label, input.start);
  }
  // Big bare gzip/zlib/XML inputs stream through in flat memory (and are not archived raw);
  // mail and zip need the whole thing in memory, capped.  A pipe is read ahead up to the
  // archive cap to learn which it is, so a report piped in is archived like a file.
  bool streamable = input.kind == InputKind::Gzip || input.kind == InputKind::Zlib || input.kind == InputKind::Xml;
  uint64_t inMemoryLimit = std::min(limits.maxMessageBytes, limits.maxRawArchiveBytes);
  if (streamable && !regular && source.peek(inMemoryLimit + 1).size() > inMemoryLimit) {
    return ingester.ingestStream(source, label, input.kind);
  }
  if (streamable && regular && static_cast<uint64_t>(st.st_size) > inMemoryLimit) {
    return ingester.ingestStream(source, label, input.kind);
  }
  std::string bytes = readAll(source, limits.maxMessageBytes, (std::string("input (") + keys::maxMessageSize + ")").c_str());
  return ingester.ingestClassified(
    input, std::span<const uint8_t>(reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size()), label);
}

//! One input after expanding directories: a file to read, or what is wrong with an entry.
struct Input
{
  std::string path;
  std::string error; //!< "": read it
};

/*!
 * The files of a directory tree, sorted by path, and an error for each entry that cannot be
 * read (an unreadable subdirectory, a symlink loop) or is not a regular file (a FIFO, a
 * socket: refused, reading one could block forever).  Symlinked directories are not followed
 * (a loop would never end); symlinked files are.
 */
void walkDirectory(const std::filesystem::path& top, std::vector<Input>& out)
{
  std::vector<Input> found;
  std::vector<std::filesystem::path> pending{top};
  while (!pending.empty()) {
    const std::filesystem::path dir = std::move(pending.back());
    pending.pop_back();
    std::error_code ec;
    std::filesystem::directory_iterator it(dir, ec);
    for (; !ec && it != std::filesystem::directory_iterator(); it.increment(ec)) {
      const auto& entry = *it;
      std::error_code statError;
      const auto status = entry.status(statError); // through symlinks
      if (statError) {
        found.push_back({entry.path().string(), "cannot read " + entry.path().string() + ": " + statError.message()});
      }
      else if (std::filesystem::is_directory(status)) {
        std::error_code linkError;
        if (!entry.is_symlink(linkError)) {
          pending.push_back(entry.path());
        }
      }
      else if (!std::filesystem::is_regular_file(status)) {
        found.push_back({entry.path().string(), entry.path().string() + " is not a regular file: refused"});
      }
      else {
        found.push_back({entry.path().string(), ""});
      }
    }
    if (ec) {
      found.push_back({dir.string(), "cannot read directory " + dir.string() + ": " + ec.message()});
    }
  }
  std::sort(found.begin(), found.end(), [](const Input& a, const Input& b) { return a.path < b.path; });
  out.insert(out.end(), found.begin(), found.end());
}

//! Expand directories: Maildir folders give cur/ and new/, other directories every regular file.
std::vector<Input> expandInputs(const std::vector<std::string>& paths)
{
  std::vector<Input> inputs;
  for (const auto& path : paths) {
    std::error_code ec;
    if (path != "-" && std::filesystem::is_directory(path, ec)) {
      if (isMaildir(path)) {
        try {
          for (auto& file : listMaildir(path)) {
            inputs.push_back({std::move(file), ""});
          }
        }
        catch (const std::exception& e) {
          inputs.push_back({path, e.what()});
        }
        continue;
      }
      walkDirectory(path, inputs);
      continue;
    }
    inputs.push_back({path, ""});
  }
  return inputs;
}

std::vector<std::string> allWarnings(const IngestOutcome& outcome)
{
  std::vector<std::string> warnings = outcome.warnings;
  std::set<std::string> seen(warnings.begin(), warnings.end());
  for (const auto& report : outcome.reports) {
    for (const auto& w : report.warnings) {
      if (seen.insert(w).second) {
        warnings.push_back(w);
      }
    }
  }
  return warnings;
}

//! A failed input: unreadable, a report in conflict with a stored one (kept, not counted), or a
//! report rejected for its verdict (UntrustedReports reject: nothing stored, as the milter's 550).
bool inputFailed(const IngestOutcome& outcome)
{
  return outcome.failed() || outcome.hasConflict() || outcome.hasRejected();
}

//! What became of a report for `ingest`: "rejected" (not stored), else its stored copy's state.
std::string_view outcomeState(const ReportOutcome& report)
{
  return report.rejected ? std::string_view("rejected") : stateName(report.state);
}

//! The fields every JSON report object carries (the contract in DESIGN.md).
void writeReportFields(JsonWriter& json, const ReportHeader& header, uint64_t records, uint64_t messages)
{
  json.key("org").value(header.metadata.orgName)
    .key("report_id").value(header.metadata.reportId)
    .key("domain").value(header.policy.domain)
    .key("begin").value(header.metadata.begin)
    .key("end").value(header.metadata.end)
    .key("records").value(records)
    .key("messages").value(messages);
}

void printIngestJson(const InputResult& input)
{
  JsonWriter json;
  json.beginObject().key("path").value(input.path).key("reports").beginArray();
  for (const auto& report : input.outcome.reports) {
    json.beginObject();
    writeReportFields(json, report.header, report.records, report.messages);
    json.key("status").value(report.statusWord())
      .key("sequence").value(report.sequence)
      .key("authenticity").value(authenticityName(report.verdict.authenticity))
      .key("auth_reason").value(report.verdict.reason)
      .key("state").value(outcomeState(report));
    if (!report.stateReason.empty()) {
      json.key("state_reason").value(report.stateReason);
    }
    if (!report.limitNotice.empty()) {
      json.key("limit_notice").value(report.limitNotice);
    }
    if (report.related != 0) {
      // The stored report this one relates to: the one it conflicts with, duplicates or supersedes.
      const char* relation = report.status == StoreStatus::Conflict    ? "conflicts_with"
                             : report.status == StoreStatus::Duplicate ? "duplicate_of"
                                                                       : "supersedes";
      json.key(relation).value(report.related);
    }
    json
      .key("warnings").stringArray(report.warnings)
      .endObject();
  }
  json.endArray();
  if (input.outcome.messages) {
    json.key("messages").value(*input.outcome.messages);
  }
  json.key("warnings").stringArray(allWarnings(input.outcome)).key("error");
  if (inputFailed(input.outcome)) {
    json.value(errorText(input.outcome));
  }
  else {
    json.null();
  }
  json.endObject();
  std::cout << json.str() << "\n";
}

void printIngestText(const InputResult& input)
{
  for (const auto& report : input.outcome.reports) {
    const auto& meta = report.header.metadata;
    std::cout << input.path << ": " << report.statusWord() << " report "
              << printable(meta.reportId, 80) << " from " << printable(meta.orgName.empty() ? "(no org)" : meta.orgName, 60)
              << " for " << printable(report.header.policy.domain, 80) << ", " << isoTime(meta.begin) << " .. "
              << isoTime(meta.end) << ", " << report.records << " records, " << report.messages << " messages, "
              << authenticityName(report.verdict.authenticity) << " (" << printable(report.verdict.reason, 200) << ")";
    if (report.rejected || report.state == ReportState::Quarantined) {
      std::cout << "; " << (report.rejected ? "not stored: " : "quarantined (not counted): ")
                << printable(report.stateReason, 200);
    }
    std::cout << "\n";
    if (!report.limitNotice.empty()) {
      std::cout << input.path << ": notice: " << printable(report.limitNotice, 200) << "\n";
    }
  }
  if (input.outcome.messages) {
    std::cout << input.path << ": " << *input.outcome.messages << " messages read\n";
  }
  for (const auto& w : allWarnings(input.outcome)) {
    std::cout << input.path << ": warning: " << printable(w, 300) << "\n";
  }
  if (inputFailed(input.outcome)) {
    std::cout << input.path << ": error: " << printable(errorText(input.outcome), 500) << "\n";
  }
}

} // namespace


IngestTrust ingestTrust(const Config& config, bool milterSpf)
{
  // The checks are set up on the first mail: files of bare reports never pay for the resolver
  // or the catalogs.  One check for the command (one thread).
  auto check = std::make_shared<std::unique_ptr<ReportMailCheck>>();
  // The milter's key proves its header; without one (it never recorded SPF in this store) none can.
  std::string key;
  if (milterSpf) {
    key = readHeaderKey(config.database).value_or("");
    if (key.empty()) {
      std::cerr << "dmarcwatch: --milter-spf: no " << headerKeyPath(config.database)
                << " (dmarcwatch-milter makes it the first time it records SPF): SPF is not checked\n";
    }
  }
  return makeIngestTrust(config.trust, [&config, check, milterSpf, key](std::string_view message) {
    if (!*check) {
      *check = std::make_unique<ReportMailCheck>(config);
    }
    MailEnvelope envelope;
    if (milterSpf) {
      envelope.recordedSpf = recordedSpf(message, key);
    }
    return (*check)->check(message, envelope, false);
  });
}

std::string errorText(const IngestOutcome& outcome)
{
  if (!outcome.errors.empty()) {
    return joined(outcome.errors, "; ");
  }
  if (outcome.reports.empty()) {
    return "no report found";
  }
  for (const auto& report : outcome.reports) {
    if (report.rejected) {
      return "report " + report.header.metadata.reportId + " rejected (UntrustedReports reject), nothing stored: " +
             report.stateReason;
    }
    if (report.status == StoreStatus::Conflict) {
      return "report " + report.header.metadata.reportId + " conflicts with stored report " +
             std::to_string(report.related) + " (same reporter, report id, domain and dates, other records): kept as "
             "report " + std::to_string(report.sequence) + ", not counted";
    }
  }
  return "";
}

void printIngestResult(const InputResult& input, bool json)
{
  if (json) {
    printIngestJson(input);
  }
  else {
    printIngestText(input);
  }
  std::cout.flush();
}

int runIngest(const Config& config, const std::vector<std::string>& args)
{
  bool json = false;
  bool milterSpf = false;
  std::vector<std::string> paths;
  for (const auto& arg : args) {
    if (arg == "--json") {
      json = true;
    }
    else if (arg == "--milter-spf") {
      milterSpf = true;
    }
    else if (arg == "-" || !arg.starts_with("-")) {
      paths.push_back(arg);
    }
    else {
      return unknownOption("ingest", arg);
    }
  }
  if (paths.empty()) {
    return usageError("ingest", "no input given (files, directories, mbox, Maildir, or - for stdin)");
  }

  Store store(config.database, storeOptions(config, false));
  const IngestTrust trust = ingestTrust(config, milterSpf);
  Ingester ingester(store, config.limits, &trust);
  bool anyFailed = false;
  for (const auto& [path, refused] : expandInputs(paths)) {
    InputResult input{path == "-" ? "-" : path, {}};
    bool stop = false;
    try {
      if (!refused.empty()) {
        throw std::runtime_error(refused);
      }
      input.outcome = ingestFile(ingester, config, path);
    }
    catch (const StoreError& e) {
      // The failing report's transaction was aborted (reports of the input stored before it
      // are duplicates on a retry).  A full disk or map is this input's error and the next
      // input is tried (a smaller one may fit); anything else means the store is unusable:
      // stop after this input's line.
      input.outcome.reports.clear();
      input.outcome.errors.emplace_back(e.what());
      stop = !e.transient();
    }
    catch (const std::exception& e) {
      input.outcome.errors.emplace_back(e.what());
    }
    anyFailed = anyFailed || inputFailed(input.outcome);
    printIngestResult(input, json);
    if (stop) {
      break;
    }
  }
  return anyFailed ? 1 : 0;
}

int runReports(const Config& config, const std::vector<std::string>& args)
{
  bool json = false;
  std::string domain;
  std::optional<size_t> release;
  std::optional<size_t> quarantine;
  for (size_t i = 0; i < args.size(); ++i) {
    if (args[i] == "--json") {
      json = true;
    }
    else if (args[i] == "--domain" && i + 1 < args.size()) {
      domain = lowerAscii(args[++i]);
    }
    else if ((args[i] == "--release" || args[i] == "--quarantine") && i + 1 < args.size()) {
      auto number = countOrUsage("reports", args[i], args[i + 1]);
      if (!number) {
        return s_exitUsage;
      }
      (args[i] == "--release" ? release : quarantine) = *number;
      ++i;
    }
    else {
      return unknownOption("reports", args[i]);
    }
  }
  if (release || quarantine) {
    // The admin's decision on one report: a quarantined one (a limit, its verdict) back into the
    // totals, or a counted one out of them; exact in one transaction (db verify stays clean).
    const uint64_t sequence = release ? *release : *quarantine;
    try {
      Store store(config.database, storeOptions(config, false));
      if (release) {
        store.setReportState(sequence, ReportState::Active, "");
      }
      else {
        store.setReportState(sequence, ReportState::Quarantined, "quarantined by the administrator");
      }
    }
    catch (const StoreError& e) {
      std::cerr << "dmarcwatch reports: " << e.what() << "\n";
      return 1;
    }
    std::cout << "report " << sequence << (release ? " released into the totals\n" : " quarantined (not counted)\n");
    return 0;
  }
  Store store(config.database, storeOptions(config, true));
  if (!knownDomainOrUsage("reports", domain, store.listDomains())) {
    return s_exitUsage;
  }
  auto reports = store.listReports(domain);
  if (json) {
    JsonWriter out;
    out.beginObject().key("reports").beginArray();
    for (const auto& r : reports) {
      out.beginObject().key("sequence").value(r.sequence);
      writeReportFields(out, r.header, r.records, r.messages);
      out.key("email").value(r.header.metadata.email)
        .key("policy").beginObject()
        .key("p").value(r.header.policy.p)
        .key("sp").value(r.header.policy.sp)
        .key("np").value(r.header.policy.np)
        .key("adkim").value(r.header.policy.adkim)
        .key("aspf").value(r.header.policy.aspf)
        .key("pct");
      if (r.header.policy.pct.has_value()) {
        out.value(*r.header.policy.pct);
      }
      else {
        out.null();
      }
      out.endObject()
        .key("stored_at").value(r.storedAt)
        .key("source").value(r.source)
        .key("recovered").value(r.recovered)
        .key("raw_bytes").value(r.rawBytes)
        .key("state").value(stateName(r.state))
        .key("authenticity").value(authenticityName(r.authenticity))
        .key("auth_reason").value(r.authReason);
      if (r.related != 0) {
        out.key(r.state == ReportState::Conflict ? "conflicts_with" : "superseded_by").value(r.related);
      }
      if (!r.stateReason.empty()) {
        out.key("state_reason").value(r.stateReason);
      }
      out.key("warnings").stringArray(r.warnings)
        .endObject();
    }
    out.endArray().endObject();
    std::cout << out.str() << "\n";
    return 0;
  }
  // The table fits the terminal: the domain, org and report id give way first.
  Table table({{"SEQ", 0, 0, false, Align::Right},
               {"BEGIN (UTC)", 0, 0, false, Align::Left},
               {"DOMAIN", 7, 30, true, Align::Left},
               {"ORG", 5, 24, true, Align::Left},
               {"RECORDS", 0, 0, false, Align::Right},
               {"MESSAGES", 0, 0, false, Align::Right},
               {"STATE", 6, 28, true, Align::Left},
               {"WARN", 0, 0, false, Align::Right},
               {"REPORT ID", 7, 60, true, Align::Left}});
  for (const auto& r : reports) {
    const std::string related =
      r.related != 0 ? (r.state == ReportState::Conflict ? " ~" : " >") + std::to_string(r.related) : "";
    // The verdict rides in STATE (a column of its own would not fit 80 columns): unmarked is
    // unauthenticated, the usual case of a report without a checked mail.
    const std::string verdict = r.authenticity == Authenticity::Authenticated ? " (authenticated)"
                                : r.authenticity == Authenticity::Forged      ? " (forged)"
                                                                              : "";
    const Colour stateColour = r.authenticity == Authenticity::Forged ? Colour::Red
                               : r.counted()                          ? Colour::None
                                                                      : Colour::Yellow;
    table.addRow({std::to_string(r.sequence), isoTime(r.header.metadata.begin), r.header.policy.domain,
                  r.header.metadata.orgName, std::to_string(r.records), std::to_string(r.messages),
                  {std::string(stateName(r.state)) + related + verdict, stateColour},
                  r.warnings.empty() ? std::string() : std::to_string(r.warnings.size()), r.header.metadata.reportId});
  }
  std::cout << table.render(terminalColumns(), colourWanted());
  std::cout << reports.size() << " reports";
  const auto counted = std::count_if(reports.begin(), reports.end(), [](const StoredReport& r) { return r.counted(); });
  const auto marked = std::count_if(reports.begin(), reports.end(), [](const StoredReport& r) {
    return r.authenticity != Authenticity::Unauthenticated;
  });
  if (marked != 0) {
    std::cout << " (STATE says \"(authenticated)\" or \"(forged)\" after the state: the verdict on the report's mail; "
                 "unmarked: unauthenticated)";
  }
  if (static_cast<size_t>(counted) != reports.size()) {
    std::cout << ", " << counted << " counted in the totals (superseded >N: replaced by report N; conflict ~N: "
              << "same key as report N, other records)";
  }
  std::cout << "\n";
  return 0;
}

} // namespace dmarcwatch::cli
