/*
 * ingest.cc - the intake pipeline (see ingest.hh).
 *
 * Error policy: ParseError (and LimitError) of one payload or document is
 * recorded in IngestOutcome::errors and the next one is tried; StoreError and
 * anything else propagate, because then nothing can be trusted to be stored.
 * A failed authenticity check is never an error: the report is unauthenticated.
 */
#include "config.h"

#include "collector/ingest/ingest.hh"

#include "collector/common/config-keys.hh"

#include "collector/common/errors.hh"
#include "collector/intake/inflate.hh"
#include "collector/intake/mailbox.hh"
#include "collector/intake/mime.hh"
#include "collector/intake/report-parser.hh"
#include "collector/intake/unpack.hh"
#include "collector/judge/public-suffix.hh"
#include "collector/judge/verdict.hh"

#include <algorithm>

namespace dmarcwatch::collector
{
namespace
{

//! Hands parsed records to one ReportWriter (the store writes them in chunks, see store.hh).
class StoringSink : public ReportSink
{
public:
  StoringSink(Store& store, Warnings& warnings) :
    d_store(store), d_warnings(warnings) {}

  bool onHeader(const ReportHeader& header) override
  {
    // Dates are checked (and milliseconds converted) before the dedup key is made of them.
    d_header = header;
    if (auto refused = checkReportDates(d_header.metadata, d_store.now(), d_warnings)) {
      throw ParseError(*refused);
    }
    d_writer = d_store.beginReport(d_header);
    return true; // parsed whole even when probably a duplicate: the content decides (store.hh)
  }

  void onRecord(const Record& record) override
  {
    // Step: our own verdict (collector/judge).  Where the reporter's policy_evaluated
    // contradicts auth_results, say so; where it leaves dkim or spf out (older Google and
    // AOL reports), the store counts ours: a copy carries it, so the parser's record stays as read.
    const Verdict verdict =
      judgeRecord(record, d_header.policy, PublicSuffixList::system(), VerdictDetail::PassOnly);
    for (const auto& contradiction : verdict.contradictions) {
      d_warnings.add("verdict: " + contradiction);
    }
    if (record.dkim.empty() || record.spf.empty()) {
      d_judged = record;
      applyVerdict(d_judged, verdict);
      d_warnings.add("verdict: policy_evaluated without dkim or spf, computed from auth_results");
      d_writer->addRecord(d_judged);
      return;
    }
    d_writer->addRecord(record);
  }

  [[nodiscard]] const ReportHeader& header() const { return d_header; }
  [[nodiscard]] ReportWriter* writer() const { return d_writer.get(); }

private:
  Store& d_store;
  Warnings& d_warnings;
  ReportHeader d_header;
  Record d_judged; //!< reused: a record with our verdict filled in
  std::unique_ptr<ReportWriter> d_writer;
};

/*!
 * How the reports of one mail (or of no mail) are judged: the mail's judge, or the reason
 * they are unauthenticated; and what the verdicts do (the Ingester's trust, may be null).
 */
struct Judging
{
  const IngestTrust* trust = nullptr;
  ReportJudge judge;
  std::string noJudge = "not a mail";
};

//! The judging of a mail: checkMail run once (a throw: unauthenticated with the reason).
Judging judgeMail(const IngestTrust* trust, std::string_view message)
{
  Judging judging;
  judging.trust = trust;
  if (trust == nullptr || !trust->checkMail) {
    judging.noJudge = "mail not checked";
    return judging;
  }
  try {
    judging.judge = trust->checkMail(message);
  }
  catch (const std::exception& e) {
    judging.noJudge = std::string("mail checks failed: ") + e.what();
  }
  return judging;
}

//! The judging of reports that are not in a mail: unauthenticated, or what the trust's
//! outsideMail says (reindex: the verdicts they were stored with).
Judging judgeOutsideMail(const IngestTrust* trust)
{
  Judging judging{trust, {}, "not a mail"};
  if (trust != nullptr && trust->outsideMail) {
    judging.judge = trust->outsideMail;
  }
  return judging;
}

//! The verdict on one report (a judge that throws: unauthenticated with the reason).
ReportVerdict judgeReport(const Judging& judging, const ReportHeader& header)
{
  if (!judging.judge) {
    return ReportVerdict{Authenticity::Unauthenticated, judging.noJudge};
  }
  try {
    return judging.judge(header);
  }
  catch (const std::exception& e) {
    return ReportVerdict{Authenticity::Unauthenticated, std::string("report check failed: ") + e.what()};
  }
}

//! What a verdict's action is under trust (no trust: count).
UntrustedAction verdictAction(const IngestTrust* trust, Authenticity authenticity)
{
  if (trust == nullptr) {
    return UntrustedAction::Count;
  }
  switch (authenticity) {
  case Authenticity::Authenticated:
    return UntrustedAction::Count;
  case Authenticity::Forged:
    return trust->forged;
  case Authenticity::Unauthenticated:
    // Never rejected (config.hh): a report without a verdict may be a real one sent plainly.
    return trust->unauthenticated == UntrustedAction::Reject ? UntrustedAction::Quarantine : trust->unauthenticated;
  }
  return UntrustedAction::Count;
}

//! The raw payload to archive with the reports of one payload (kind "": cannot be archived).
struct RawPayload
{
  PayloadArchive archive;
  std::string deflated; //!< owns the bytes when the payload was plain XML
};

void prepareRaw(InputKind kind, std::span<const uint8_t> payload, const Limits& limits, RawPayload& raw)
{
  std::string_view bytes(reinterpret_cast<const char*>(payload.data()), payload.size());
  raw.archive.size = payload.size();
  raw.archive.bytes = bytes;
  switch (kind) {
  case InputKind::Gzip:
  case InputKind::Zip:
  case InputKind::Zlib:
    raw.archive.kind = inputKindName(kind);
    break;
  case InputKind::Xml:
    // Plain XML compresses ~25x; an XML far bigger than the cap will not fit anyway, so skip the work.
    if (payload.size() / 8 <= limits.maxRawArchiveBytes) {
      raw.deflated = deflateBytes(bytes, limits.maxRawArchiveBytes);
      if (!raw.deflated.empty()) {
        raw.archive.kind = "xml+zlib";
        raw.archive.bytes = raw.deflated;
      }
    }
    break;
  case InputKind::Html:
  case InputKind::Mbox:
  case InputKind::Mail:
  case InputKind::Unknown:
    break;
  }
}

/*!
 * Parse one XML document into the store and record the outcome.  A parse error
 * drops the writer uncommitted: whatever it wrote is taken out again (store.hh).
 */
void storeDocument(Store& store, const Limits& limits, const Judging& judging, ByteSource& xml,
                   const std::string& label, const std::string& member, PayloadArchive* payload,
                   const std::string& source, IngestOutcome& outcome)
{
  Warnings warnings(limits.maxWarnings);
  StoringSink sink(store, warnings);
  try {
    ParseResult parsed = parseReport(xml, limits, sink, warnings);
    ReportWriter* writer = sink.writer();
    if (writer == nullptr) {
      throw ParseError("no report header found");
    }

    // Step: the verdict, from the whole header (metadata may follow the records), and its action.
    const ReportVerdict verdict = judgeReport(judging, sink.header());
    const UntrustedAction action = verdictAction(judging.trust, verdict.authenticity);
    const std::string actionReason = std::string(authenticityName(verdict.authenticity)) + ": " + verdict.reason;
    if (action == UntrustedAction::Reject) {
      // Nothing stored: the writer goes uncommitted (whatever it wrote is taken out).
      ReportOutcome report;
      report.header = sink.header();
      report.records = parsed.records;
      report.messages = parsed.messages;
      report.verdict = verdict;
      report.rejected = true;
      report.stateReason = actionReason;
      report.warnings = warnings.items();
      outcome.reports.push_back(std::move(report));
      return;
    }

    if (payload == nullptr) {
      warnings.add("raw payload not archived: input streamed, larger than MaxRawArchive");
    }
    ReportSummary summary;
    summary.records = parsed.records;
    summary.messages = parsed.messages;
    summary.warnings = &warnings;
    summary.recovered = parsed.recovered;
    summary.source = source;
    summary.payload = payload;
    summary.payloadMember = member;
    summary.authenticity = verdict.authenticity;
    summary.authReason = verdict.reason;
    summary.bytes = xml.consumed();
    if (action == UntrustedAction::Quarantine) {
      summary.quarantine = actionReason;
    }
    if (judging.trust != nullptr) {
      summary.limits = &judging.trust->limits;
    }
    StoreResult stored = writer->commit(summary);

    ReportOutcome report;
    report.header = sink.header();
    report.status = stored.status;
    report.duplicate = stored.status == StoreStatus::Duplicate;
    report.sequence = stored.sequence;
    report.related = stored.related;
    report.verdict = verdict;
    report.quarantined = stored.quarantined;
    report.stateReason = stored.stateReason;
    report.limitNotice = stored.limitNotice;
    if (report.duplicate) {
      report.records = stored.existing.records;
      report.messages = stored.existing.messages;
      report.warnings = stored.existing.warnings;
      report.state = stored.existing.state;
      report.stateReason = stored.existing.stateReason; // the stored copy's (quarantined: why)
    }
    else {
      report.records = parsed.records;
      report.messages = parsed.messages;
      if (auto kept = store.report(stored.sequence)) {
        report.warnings = kept->warnings;
        report.state = kept->state;
      }
      else {
        report.warnings = warnings.items();
      }
    }
    if (stored.status == StoreStatus::Conflict) {
      report.warnings.push_back("conflict: report " + std::to_string(stored.related) +
                                " has the same reporter, report id, domain and dates but other records; this copy is "
                                "kept (report " + std::to_string(stored.sequence) + ") and not counted");
    }
    outcome.reports.push_back(std::move(report));
  }
  catch (const ParseError& e) {
    outcome.errors.push_back(label.empty() ? std::string(e.what()) : label + ": " + e.what());
  }
}

//! A payload of the given kind (classified by the caller) into the store.
void ingestPayloadInto(Store& store, const Limits& limits, const Judging& judging, InputKind kind,
                       std::span<const uint8_t> payload, const std::string& label, const std::string& source,
                       IngestOutcome& outcome)
{
  Warnings containerWarnings(limits.maxWarnings);
  try {
    RawPayload raw;
    prepareRaw(kind, payload, limits, raw);
    auto unpacked = unpackPayload(payload, limits, containerWarnings, [&](ByteSource& xml, const std::string& docLabel) {
      std::string where = label.empty() ? docLabel : label + " " + docLabel;
      storeDocument(store, limits, judging, xml, where, docLabel, &raw.archive, source, outcome);
    }, kind);
    for (auto& error : unpacked.errors) {
      outcome.errors.push_back(label.empty() ? error : label + " " + error);
    }
    if (unpacked.documents == 0 && unpacked.errors.empty()) {
      outcome.errors.push_back((label.empty() ? "" : label + ": ") + "no report document in payload");
    }
  }
  catch (const ParseError& e) {
    outcome.errors.push_back(label.empty() ? std::string(e.what()) : label + ": " + e.what());
  }
  for (const auto& w : containerWarnings.items()) {
    outcome.warnings.push_back(w);
  }
}

//! Append one mbox message's outcome to the mbox's, its warnings and errors prefixed with the message.
void mergeOutcome(IngestOutcome& into, IngestOutcome&& from, const std::string& prefix)
{
  for (auto& r : from.reports) {
    into.reports.push_back(std::move(r));
  }
  for (auto& w : from.warnings) {
    into.warnings.push_back(prefix + w);
  }
  for (auto& e : from.errors) {
    into.errors.push_back(prefix + e);
  }
}

} // namespace

IngestOutcome Ingester::ingestMessage(std::string_view message, const std::string& source)
{
  return ingestMail(message, classify(message), source);
}

IngestOutcome Ingester::ingestMail(std::string_view message, const Classified& input, const std::string& source)
{
  IngestOutcome outcome;
  Warnings mimeWarnings(d_limits.maxWarnings);
  std::vector<MailPart> parts;
  try {
    if (message.size() > d_limits.maxMessageBytes) {
      throw LimitError("message of " + std::to_string(message.size()) + " bytes over " + std::string(keys::maxMessageSize) + " (" +
                       std::to_string(d_limits.maxMessageBytes) + ")");
    }
    parts = extractPayloadParts(message, input, d_limits, mimeWarnings);
  }
  catch (const ParseError& e) {
    outcome.errors.emplace_back(e.what());
  }
  for (const auto& w : mimeWarnings.items()) {
    outcome.warnings.push_back(w);
  }
  if (parts.empty() && outcome.errors.empty()) {
    outcome.errors.emplace_back("no report attachment (gzip, zip or XML) in message");
  }
  // The mail's checks, once, before its reports are parsed (only when it has any).
  Judging judging;
  judging.trust = d_trust;
  if (!parts.empty()) {
    judging = judgeMail(d_trust, message);
  }
  for (const auto& part : parts) {
    std::string label = "attachment" + (part.filename.empty() ? std::string() : " " + part.filename);
    ingestPayloadInto(d_store, d_limits, judging, part.kind,
                      std::span<const uint8_t>(reinterpret_cast<const uint8_t*>(part.body.data()), part.body.size()),
                      label, source, outcome);
  }
  return outcome;
}

IngestOutcome Ingester::ingestPayload(std::span<const uint8_t> payload, const std::string& source)
{
  IngestOutcome outcome;
  ingestPayloadInto(d_store, d_limits, judgeOutsideMail(d_trust), classify(payload).kind, payload, "", source,
                    outcome);
  return outcome;
}

IngestOutcome Ingester::ingestBytes(std::span<const uint8_t> bytes, const std::string& source)
{
  return ingestClassified(classify(bytes), bytes, source);
}

IngestOutcome Ingester::ingestClassified(const Classified& input, std::span<const uint8_t> bytes, const std::string& source)
{
  // The caller's decision stands: nothing here looks at the bytes to decide again.
  if (input.kind == InputKind::Mbox) {
    MemorySource mbox(bytes);
    return ingestMbox(mbox, source, input.start);
  }
  if (input.kind == InputKind::Mail) {
    return ingestMail(std::string_view(reinterpret_cast<const char*>(bytes.data()), bytes.size()), input, source);
  }
  IngestOutcome outcome;
  if (isPayloadKind(input.kind) || input.kind == InputKind::Html) {
    ingestPayloadInto(d_store, d_limits, judgeOutsideMail(d_trust), input.kind, bytes, "", source, outcome);
    return outcome;
  }
  outcome.errors.emplace_back(bytes.empty() ? "empty input"
                                            : "not a report: neither a mail message nor a gzip, zip, zlib or XML payload");
  return outcome;
}

IngestOutcome Ingester::ingestStream(ByteSource& payload, const std::string& source, std::optional<InputKind> kind)
{
  IngestOutcome outcome;
  Warnings containerWarnings(d_limits.maxWarnings);
  try {
    auto unpacked = unpackStream(payload, d_limits, containerWarnings, [&](ByteSource& xml, const std::string& label) {
      storeDocument(d_store, d_limits, judgeOutsideMail(d_trust), xml, label, label, nullptr, source, outcome);
    }, kind);
    outcome.errors.insert(outcome.errors.end(), unpacked.errors.begin(), unpacked.errors.end());
    if (unpacked.documents == 0 && unpacked.errors.empty()) {
      outcome.errors.emplace_back("no report document in payload");
    }
  }
  catch (const ParseError& e) {
    outcome.errors.emplace_back(e.what());
  }
  outcome.warnings = containerWarnings.items();
  return outcome;
}

IngestOutcome Ingester::ingestMbox(ByteSource& mbox, const std::string& source, size_t start)
{
  // The blank lines before the first From_ line (as classify() found them) are no message.
  std::vector<uint8_t> skipped(start);
  for (size_t done = 0; done < start;) {
    const size_t got = mbox.read(std::span<uint8_t>(skipped).subspan(done));
    if (got == 0) {
      break;
    }
    done += got;
  }

  // Each message on its own; the mbox fails only for what is wrong with a message, not for a message without a report.
  IngestOutcome total;
  unsigned messages = 0;
  forEachMboxMessage(mbox, d_limits, [&](std::string_view message, unsigned index, std::string_view error) {
    ++messages;
    std::string prefix = "message " + std::to_string(index) + ": ";
    if (!error.empty()) {
      total.errors.push_back(prefix + std::string(error));
      return;
    }
    auto outcome = ingestMessage(message, source + " message " + std::to_string(index));
    // A message of an mbox that holds no report (a bounce, a forensic report) is not a failure of the mbox.
    if (outcome.reports.empty() && outcome.errors.size() == 1 &&
        outcome.errors.front().starts_with("no report attachment")) {
      total.warnings.push_back(prefix + outcome.errors.front());
      outcome.errors.clear();
    }
    mergeOutcome(total, std::move(outcome), prefix);
  });
  if (messages == 0) {
    total.errors.emplace_back("mbox holds no message");
  }
  total.messages = messages;
  return total;
}

const char* ReportOutcome::statusWord() const
{
  if (rejected) {
    return "rejected";
  }
  switch (status) {
  case StoreStatus::Stored:
    return "stored";
  case StoreStatus::Duplicate:
    return "duplicate";
  case StoreStatus::Conflict:
    return "conflict";
  }
  return "stored";
}

IngestTrust makeIngestTrust(const TrustSettings& settings, std::function<ReportJudge(std::string_view message)> checkMail)
{
  IngestTrust trust;
  trust.checkMail = std::move(checkMail);
  trust.forged = settings.forged;
  trust.unauthenticated = settings.unauthenticated;
  trust.limits = settings.limits;
  return trust;
}

bool IngestOutcome::hasConflict() const
{
  return std::any_of(reports.begin(), reports.end(),
                     [](const ReportOutcome& report) { return report.status == StoreStatus::Conflict; });
}

bool IngestOutcome::hasRejected() const
{
  return std::any_of(reports.begin(), reports.end(), [](const ReportOutcome& report) { return report.rejected; });
}

} // namespace dmarcwatch::collector
