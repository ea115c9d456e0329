/*
 * ingest.hh - the intake pipeline: bytes in, reports stored.
 *
 *   input -> classify -+-> mbox -> messages -+-> MIME walker -> payloads -+-> unpack -> XML documents
 *                      +-> mail -------------+                            |
 *                      +-> payload ---------------------------------------+
 *     -> streaming parser -> ReportWriter (one transaction per report)
 *
 * Each input is classified once (classify.hh), by its caller or here, and
 * each inner layer (a MIME part, a member of a zip) once at its own layer.
 *
 * A message or payload may hold several reports (zip with several members,
 * several attachments); each is stored, found duplicate or found in conflict
 * on its own.  A payload is archived once, with the first report of it that
 * the store keeps.  Parsing runs without the store's write lock (store.hh).
 * Parse failures are values (IngestOutcome::errors); StoreError propagates,
 * because the caller must answer it differently (the milter tempfails so the
 * MTA retries; the CLI exits 1).
 *
 * Trust (issue 14): with an IngestTrust, each mail is checked once (checkMail) before its
 * reports are parsed, and each report judged with its header just before commit; the
 * verdict's action (UntrustedReports for forged, UnauthenticatedReports for unauthenticated
 * ones) decides: count and flag store and count it, quarantine stores it out of the totals
 * ("forged: <why>"), reject stores nothing (ReportOutcome::rejected).  A checkMail or judge
 * that throws makes the reports unauthenticated with the reason: a report is never lost to a
 * failed check.  The per-day sender limits are the store's (store.hh); OverLimitAction
 * tempfail throws SenderLimitExceeded (a StoreError) out of the ingest call.
 *
 * Thread-safety: an Ingester is cheap; use one per thread over a shared Store.
 */
#pragma once

#include "collector/intake/byte-source.hh"
#include "collector/intake/classify.hh"
#include "collector/common/config.hh"
#include "collector/common/limits.hh"
#include "collector/intake/report.hh"
#include "collector/store/store.hh"

#include <functional>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace dmarcwatch::collector
{

//! Decides one report's authenticity from its mail's checks and its header (report-trust.hh).
using ReportJudge = std::function<ReportVerdict(const ReportHeader&)>;

/*!
 * How reports are judged and what a verdict or a per-day limit does to them (issue 14).
 * checkMail runs once per mail (a message; each message of an mbox) before its reports are
 * parsed and gives the judge of that mail's reports (the milter's checks SPF with the
 * client's envelope; the CLI's cannot); reports not in a mail (a bare file), or all reports
 * when checkMail is empty, are unauthenticated.  The store applies the actions.
 */
struct IngestTrust
{
  std::function<ReportJudge(std::string_view message)> checkMail;
  //! The judge of reports that are not in a mail (reindex: the verdict each had); empty:
  //! unauthenticated, "not a mail".
  ReportJudge outsideMail;
  UntrustedAction forged = UntrustedAction::Count;
  UntrustedAction unauthenticated = UntrustedAction::Count;
  SenderLimits limits{0, 0, 0, 0, 0, 0, OverLimitAction::Quarantine}; //!< 0: no limit
};

//! \brief The IngestTrust of a configuration's TrustSettings with checkMail (empty: no checks). Pure.
IngestTrust makeIngestTrust(const TrustSettings& settings, std::function<ReportJudge(std::string_view message)> checkMail = {});

struct ReportOutcome
{
  ReportHeader header;
  uint64_t records = 0;
  uint64_t messages = 0;
  StoreStatus status = StoreStatus::Stored;
  bool duplicate = false; //!< status == Duplicate
  uint64_t sequence = 0;
  uint64_t related = 0;   //!< the copy a stored report superseded, or the stored report a conflict is with
  std::vector<std::string> warnings;
  ReportVerdict verdict;     //!< what the judge said (unauthenticated without one: "not a mail", ...)
  bool quarantined = false;  //!< stored out of the totals (UntrustedReports, a per-day limit)
  bool rejected = false;     //!< not stored: UntrustedReports reject, or a limit with OverLimitAction tempfail
  std::string stateReason;   //!< why quarantined or rejected (a duplicate: the stored copy's reason)
  std::string limitNotice;   //!< a per-day limit first passed by this report ("" otherwise): log it once
  ReportState state = ReportState::Active; //!< of the stored copy (this one, or the one it duplicates)

  //! "stored", "duplicate", "conflict" or "rejected" (the JSON and log word).
  [[nodiscard]] const char* statusWord() const;
};

struct IngestOutcome
{
  std::vector<ReportOutcome> reports;
  std::vector<std::string> warnings; //!< about the container (mail, archive), not one report
  std::vector<std::string> errors;   //!< one per payload or document that could not be stored
  std::optional<uint64_t> messages;  //!< an mbox: the messages read from it

  //! Failed: something could not be read or stored, or nothing in it was a report.
  [[nodiscard]] bool failed() const { return !errors.empty() || reports.empty(); }
  //! A report in it conflicts with a stored one (kept, not counted: the CLI counts it as a failed input).
  [[nodiscard]] bool hasConflict() const;
  //! A report in it was rejected for its verdict (nothing stored: the CLI counts it as a failed input).
  [[nodiscard]] bool hasRejected() const;
};

class Ingester
{
public:
  //! \param trust how reports are judged (nullptr: all unauthenticated and counted, no limits); must outlive this
  Ingester(Store& store, const Limits& limits, const IngestTrust* trust = nullptr) :
    d_store(store), d_limits(limits), d_trust(trust) {}
  void setTrust(const IngestTrust* trust) { d_trust = trust; }

  //! \brief A message (the milter, a message of an mbox): classified, then walked (mime.hh). \throw StoreError
  IngestOutcome ingestMessage(std::string_view message, const std::string& source);
  //! \brief A bare payload in memory (gzip, zip, zlib, XML; a stored raw payload); archived raw. \throw StoreError
  IngestOutcome ingestPayload(std::span<const uint8_t> payload, const std::string& source);
  //! \brief Anything in memory: classified (classify.hh), then ingestClassified. \throw StoreError
  IngestOutcome ingestBytes(std::span<const uint8_t> bytes, const std::string& source);
  /*!
   * \brief Bytes the caller has classified already (they are not looked at again): an mbox is split, a
   * mail walked, a payload unpacked, anything else refused ("not a report"). \throw StoreError
   */
  IngestOutcome ingestClassified(const Classified& input, std::span<const uint8_t> bytes, const std::string& source);
  /*!
   * \brief A bare payload too big to hold: streamed, not archived raw.
   * \param kind what the caller classified it as; without it, it is classified here. \throw StoreError
   */
  IngestOutcome ingestStream(ByteSource& payload, const std::string& source, std::optional<InputKind> kind = std::nullopt);
  /*!
   * \brief An mbox, one message at a time (memory: one message).  A message without a report is a
   * warning, not an error; IngestOutcome::messages counts the messages read.
   * \param start bytes before the first From_ line (Classified::start), skipped. \throw StoreError
   */
  IngestOutcome ingestMbox(ByteSource& mbox, const std::string& source, size_t start = 0);

private:
  //! A mail classified already (Mail, Mbox, or none of them: then one leaf without a header).
  IngestOutcome ingestMail(std::string_view message, const Classified& input, const std::string& source);

  Store& d_store;
  const Limits& d_limits;
  const IngestTrust* d_trust = nullptr;
};

} // namespace dmarcwatch::collector
