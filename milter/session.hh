/*
 * session.hh - what the milter does with one connection and one message.
 *
 *   negotiate -> ConnectionContext (holds the Config current then) and the
 *               steps the MTA will not wait for an answer to (setNoReplySteps)
 *   connect  -> the client address (onConnect)
 *   helo     -> the HELO name (onHelo)
 *   envfrom  -> a fresh MessageContext (also reset at abort and eom) with the
 *               envelope (client address, HELO name, MAIL FROM) for SPF
 *   header   -> "Name:value" as the MTA sent it when it agreed to leading-space
 *               preservation, else "Name: value", marked approximate
 *   envrcpt  -> recipients sorted into report (rua) and other
 *   data     -> no rua recipient: Accept (nothing buffered, store untouched)
 *   header/eoh/body -> MessageBuffer (memory, then a private temp file, capped)
 *   eom      -> the mail's checks (Runtime::mailCheck: SPF, DKIM, DMARC; on the
 *               worker), then Ingester::ingestMessage over the shared Store with
 *               the IngestTrust of the Config; the verdict, header and
 *               recipient removal follow ReportAction, OnStoreError,
 *               OnParseError, UntrustedReports (a rejected forged report: 550)
 *               and the sender limits (over one: 451).  X-DMARCwatch headers
 *               the message arrived with are deleted before ours is added.
 *
 * No-reply steps: where the MTA waives the answer (SMFIP_NR_*, agreed in
 * dispatch.cc) every step runs through step(), which answers NoReply there.
 * A verdict other than Continue at such a step (an exception's failure
 * verdict; Accept for non-report mail when the MTA has no DATA step) is kept
 * and given at the next step of the message that has a reply (DATA or end of
 * message); the steps in between are not run.  The SMTP client sees the same
 * outcome: the MTA answers MAIL/RCPT without us anyway, and a message's
 * header/body verdicts only reach the client after its final dot.
 *
 * Users: dispatch.cc (one milter connection) and tests, through MilterApi.
 *
 * Thread-safety: a ConnectionContext is used by one thread at a time (the
 * event loop, or a worker at the end of a report message; engine.hh).
 * Runtime is shared by all threads and is thread-safe.
 *
 * Error policy: the on*() functions may throw (bad_alloc, temp file I/O,
 * StoreError from an unexpected place); step() catches everything and
 * asks failureVerdict() what to answer.  Expected outcomes (not a report,
 * unreadable report, duplicate, oversize) are handled here and logged.
 */
#pragma once

#include "collector/auth/auth-result.hh"
#include "collector/common/config.hh"
#include "collector/ingest/ingest.hh"
#include "collector/store/store.hh"
#include "milter/milter-api.hh"

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <exception>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace dmarcwatch::milter
{

//! The header the milter adds to report messages.
constexpr const char* s_resultHeader = "X-DMARCwatch";

/*!
 * The checks of one report mail (SPF of the envelope, DKIM, DMARC): the judge
 * of its reports (ingest.hh).  headersApproximate: the header fields were
 * rebuilt as "Name: value" (the MTA did not agree to SMFIP_HDR_LEADSPC), so
 * a DKIM signature with "simple" header canonicalization may fail on our
 * copy only: that failure must not count as forged.  Blocks (DNS, bounded by
 * AuthTimeout); may throw (the report is then unauthenticated).
 */
using MailCheck = std::function<collector::ReportJudge(std::string_view message, const collector::MailEnvelope& envelope,
                                                       bool headersApproximate)>;
/*!
 * Makes the MailCheck of one worker thread for one configuration (a
 * MessageAuthenticator with its own Resolver, say).  Called on that thread,
 * at its first report mail under that configuration; never on the event loop.
 */
using MailCheckFactory = std::function<MailCheck(const collector::Config& config)>;
//! The ingest step of end of message (the real Ingester; tests give outcomes of their own).
using IngestStep = std::function<collector::IngestOutcome(collector::Store& store, const collector::Config& config,
                                                          const collector::IngestTrust& trust, std::string_view message,
                                                          const std::string& source)>;

/*!
 * Process-wide state shared by every connection: the current configuration
 * (replaced on reload) and the store (opened once).
 */
class Runtime
{
public:
  explicit Runtime(std::shared_ptr<const collector::Config> config);

  //! The configuration new connections use. Thread-safe.
  [[nodiscard]] std::shared_ptr<const collector::Config> config() const;
  //! Replace it (reload); connections keep the one they started with.
  void setConfig(std::shared_ptr<const collector::Config> config);
  //! Install the store (after daemonizing and dropping privileges).
  void setStore(std::unique_ptr<collector::Store> store);
  //! Install how report mail is checked (none: every report is unauthenticated). Before the engine runs.
  void setMailCheckFactory(MailCheckFactory factory);
  /*!
   * \brief The calling thread's MailCheck for config, made by the factory on
   * first use on this thread (and again after a reload or a new factory).
   * Empty without a factory. \throw what the factory throws
   */
  const MailCheck& mailCheck(const std::shared_ptr<const collector::Config>& config);
  //! Replace the ingest step (tests). Before the engine runs.
  void setIngestStep(IngestStep step);
  [[nodiscard]] const IngestStep& ingestStep() const { return d_ingest; }

  //! Use of the store by one message; releases it at scope exit.
  class StoreLease
  {
  public:
    StoreLease(Runtime* runtime, collector::Store* store) :
      d_runtime(runtime), d_store(store) {}
    ~StoreLease();
    StoreLease(StoreLease&& other) noexcept :
      d_runtime(other.d_runtime), d_store(other.d_store) { other.d_store = nullptr; }
    StoreLease(const StoreLease&) = delete;
    StoreLease& operator=(const StoreLease&) = delete;
    StoreLease& operator=(StoreLease&&) = delete;
    [[nodiscard]] collector::Store* get() const { return d_store; }

  private:
    Runtime* d_runtime;
    collector::Store* d_store;
  };
  //! \brief The store for one message; get() is nullptr when there is none or we are stopping.
  StoreLease acquireStore();
  /*!
   * \brief Refuse new leases, wait until current ones end (or timeout), close the store.
   * \return true when every lease ended in time. Blocks.
   */
  bool shutdown(std::chrono::milliseconds timeout);

  //! A new connection id (for log lines before the queue id is known).
  uint64_t nextConnectionId();

private:
  mutable std::mutex d_mutex;
  std::condition_variable d_idle;
  std::shared_ptr<const collector::Config> d_config;
  std::unique_ptr<collector::Store> d_store;
  MailCheckFactory d_mailCheckFactory;
  uint64_t d_mailCheckGeneration = 0; //!< unique per factory installed (process-wide), 0: none
  IngestStep d_ingest;
  unsigned d_leases = 0;
  bool d_stopping = false;
  uint64_t d_connections = 0;
};

/*!
 * One message's bytes: in memory up to memoryBytes, then in a private temp
 * file (mkstemp in tempDirectory, unlinked at once, so nothing is left behind
 * even after SIGKILL).  Bytes beyond maxBytes are counted, not kept.
 */
class MessageBuffer
{
public:
  MessageBuffer(uint64_t memoryBytes, uint64_t maxBytes, std::string tempDirectory);
  ~MessageBuffer();
  MessageBuffer(const MessageBuffer&) = delete;
  MessageBuffer& operator=(const MessageBuffer&) = delete;

  //! \brief Add bytes. \throw std::system_error when the temp file cannot be created or written.
  void append(std::string_view data);
  //! True when more than maxBytes were offered.
  [[nodiscard]] bool overflow() const { return d_seen > d_max; }
  //! Bytes offered so far (kept or not).
  [[nodiscard]] uint64_t seen() const { return d_seen; }
  //! True once the message spilled to a temp file.
  [[nodiscard]] bool onDisk() const { return d_fd >= 0; }
  //! True when append() of that many bytes would create or write the temp file.
  [[nodiscard]] bool wouldWriteFile(uint64_t bytes) const
  {
    return d_seen + bytes <= d_max && (d_fd >= 0 || d_bytes.size() + bytes > d_memory);
  }
  //! \brief The kept bytes (the file is mapped read-only). \throw std::system_error
  std::string_view view();

private:
  void spill();

  uint64_t d_memory;
  uint64_t d_max;
  std::string d_tempDirectory;
  std::string d_bytes;
  int d_fd = -1;
  uint64_t d_kept = 0;
  uint64_t d_seen = 0;
  void* d_map = nullptr;
  size_t d_mapLength = 0;
};

//! State of the message in progress (between MAIL FROM and end of message or abort).
struct MessageContext
{
  std::string queueId;
  std::vector<std::string> reportRecipients; //!< as the MTA sent them (for MilterApi::deleteRecipient)
  unsigned otherRecipients = 0;
  std::unique_ptr<MessageBuffer> buffer; //!< created at the first header of a report message
  unsigned forgedHeaders = 0;            //!< X-DMARCwatch headers the message arrived with (report mail only)
  bool decided = false;                  //!< Accept already answered for a non-report message
  collector::MailEnvelope envelope;      //!< client, HELO name and MAIL FROM, for SPF
  //! Header fields rebuilt as "Name: value": the MTA ate a space after the colon (no SMFIP_HDR_LEADSPC).
  bool headersApproximate = false;

  [[nodiscard]] bool isReport() const { return !reportRecipients.empty(); }
};

//! Protocol steps as bits, for the set of steps whose answer the MTA waived (SMFIP_NR_*).
enum class Step : unsigned
{
  Connect = 1U << 0,
  EnvFrom = 1U << 1,
  EnvRcpt = 1U << 2,
  Data = 1U << 3,
  Header = 1U << 4,
  EndOfHeaders = 1U << 5,
  Body = 1U << 6,
  EndOfMessage = 1U << 7, //!< never waived: the message's verdict is given here at the latest
  Helo = 1U << 8          //!< decides nothing: answered Continue or, when waived, not at all
};

constexpr unsigned operator|(Step a, Step b)
{
  return static_cast<unsigned>(a) | static_cast<unsigned>(b);
}
constexpr unsigned operator|(unsigned a, Step b)
{
  return a | static_cast<unsigned>(b);
}

//! State of one SMTP connection (one per milter connection, renewed at QUIT_NC).
class ConnectionContext
{
public:
  ConnectionContext(Runtime& runtime, std::string client);

  //! \brief The steps (Step bits) the MTA expects no answer to, as negotiated for this milter connection.
  void setNoReplySteps(unsigned steps) noexcept { d_noReply = steps & ~static_cast<unsigned>(Step::EndOfMessage); }
  [[nodiscard]] unsigned noReplySteps() const noexcept { return d_noReply; }
  //! \brief Whether the MTA sends header values as they are (SMFIP_HDR_LEADSPC agreed).
  void setLeadingSpace(bool kept) noexcept { d_leadingSpace = kept; }
  [[nodiscard]] bool leadingSpace() const noexcept { return d_leadingSpace; }

  /*!
   * \brief Run one protocol step: what to answer the MTA.  Runs `run` (one of
   * the on*() calls) unless an earlier waived step already decided the
   * message; an exception becomes failureVerdict(); at a waived step the
   * answer is NoReply and a decision is kept (see the file comment).
   * Never throws.
   */
  template <typename Run>
  Verdict step(Step step, MilterApi& api, const char* stage, Run run) noexcept
  {
    Verdict verdict = Verdict::Continue;
    try {
      if (std::optional<Verdict> early = decidedEarlier(step, api)) {
        return *early;
      }
      verdict = run();
    }
    catch (const std::exception& e) {
      verdict = failureVerdict(&api, stage, e.what());
    }
    catch (...) {
      verdict = failureVerdict(&api, stage, "unknown exception");
    }
    return answer(step, verdict);
  }

  /*!
   * \brief connect: the SMTP client's address, for logs and SPF ("local" or
   * anything else that is not an address: no address, SPF "none").  Never
   * throws (keeps "unknown" on failure).
   */
  void onConnect(std::string_view client) noexcept;
  //! \brief helo: the name the client gave in HELO/EHLO (capped), for SPF.  Never throws.
  void onHelo(std::string_view name) noexcept;

  Verdict onEnvFrom(MilterApi& api, std::string_view sender);
  Verdict onEnvRcpt(MilterApi& api, std::string_view recipient);
  Verdict onData(MilterApi& api);
  Verdict onHeader(MilterApi& api, std::string_view name, std::string_view value);
  Verdict onEndOfHeaders(MilterApi& api);
  Verdict onBody(MilterApi& api, std::string_view chunk);
  Verdict onEndOfMessage(MilterApi& api);
  //! The MTA aborted the message (RSET, lost client): drop it.
  void onAbort();

  /*!
   * \brief What to answer after an exception escaped an on*() call (stage:
   * "connect", "eom", ...).  Logs it, resets the message, sets the 451 reply
   * when the answer is Tempfail.  Never throws.
   */
  Verdict failureVerdict(MilterApi* api, const char* stage, const char* what) noexcept;

  //! True while a message with a report recipient is in progress (its end of message is slow).
  [[nodiscard]] bool reportInProgress() const noexcept { return d_message && d_message->isReport(); }
  /*!
   * \brief True when taking that many more bytes of the message, or dropping
   * it, touches its temp file: such steps run off the event loop, so a slow
   * disk never holds up other MTA connections.
   */
  [[nodiscard]] bool touchesDisk(uint64_t bytes) const noexcept;
  [[nodiscard]] uint64_t id() const { return d_id; }
  //! For log lines: the queue id when known, else "conn-N".
  [[nodiscard]] std::string logId() const;
  [[nodiscard]] const collector::Config& config() const { return *d_config; }

private:
  std::optional<Verdict> decidedEarlier(Step step, MilterApi& api);
  Verdict answer(Step step, Verdict verdict) noexcept;
  MessageContext& message();
  //! The message's buffer, created on first use (MemoryBufferSize, MaxMessageSize, TempDirectory).
  MessageBuffer& bufferOf(MessageContext& msg);
  //! The buffer of the message in progress when it is a report; nullptr (and decided) when it is not.
  MessageBuffer* reportBuffer();
  Verdict finishReport(MilterApi& api, MessageContext& msg);
  //! The judge of the message's reports from Runtime::mailCheck (empty without one; one that fails: unauthenticated). Never throws.
  collector::ReportJudge checkMail(MessageContext& msg, const std::string& qid, std::string_view message) noexcept;
  Verdict deliver(MilterApi& api, const MessageContext& msg, const std::string& qid, const std::string* header);

  Runtime& d_runtime;
  std::shared_ptr<const collector::Config> d_config;
  uint64_t d_id;
  std::string d_client;
  std::optional<collector::IpAddress> d_clientAddress; //!< d_client when it is an address
  std::string d_helo;
  bool d_leadingSpace = false;      //!< SMFIP_HDR_LEADSPC agreed
  bool d_warnedApproximate = false; //!< "headers approximate" logged on this connection
  unsigned d_messages = 0;
  std::unique_ptr<MessageContext> d_message;
  unsigned d_noReply = 0;         //!< Step bits the MTA expects no answer to
  std::optional<Verdict> d_kept;  //!< decided at a waived step; answered at the next step with a reply
};

/*!
 * \brief The X-DMARCwatch value for an outcome ("stored; reports=1; records=12;
 * messages=34; auth=authenticated"): the worst authenticity over its reports
 * (forged, unauthenticated, authenticated), its reason in auth-reason="..."
 * when it is not authenticated.
 */
std::string resultHeaderValue(const collector::IngestOutcome& outcome);

/*!
 * \brief For tests and debugging (dmarcwatch-milter --dump-messages): a factory
 * whose checks first write each report mail as the checks get it to
 * directory/N.eml, and its envelope to N.envelope (client=, helo=, mail_from=,
 * headers_approximate= lines), N counting from 1 in this process; then they
 * run inner's check, if any.  Files are new (O_EXCL), 0600, never followed
 * symlinks; a write failure is logged and changes nothing else.
 */
MailCheckFactory dumpMessages(std::string directory, MailCheckFactory inner);

//! \brief The IngestTrust of a configuration's TrustSettings, with the judge of one mail (may be empty).
collector::IngestTrust mailTrust(const collector::TrustSettings& settings, collector::ReportJudge judge);

} // namespace dmarcwatch::milter
