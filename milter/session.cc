/*
 * session.cc - connection and message logic of dmarcwatch-milter (see
 * session.hh for the flow, thread-safety and error policy).
 *
 * Security: everything here comes from the SMTP client.  Message bytes are
 * capped (Limits::maxMessageBytes, "MaxMessageSize"); beyond the cap they
 * are counted and dropped, never buffered.  Temp files are created with
 * mkstemp (0600) in TempDirectory and unlinked before the first byte is
 * written, so no other user can open them and nothing is left after a crash.
 * Values logged or put in headers and replies pass through printable().
 * Envelope values (HELO name, MAIL FROM) are capped at s_maxEnvelopeText
 * bytes; a longer one (no MTA passes one) is cut, and its SPF check then
 * finds nothing: "none", never a pass.
 *
 * Authenticity (issue 14): the checks of a report mail run at its end, on the
 * worker (Runtime::mailCheck, one per worker thread), on the bytes buffered
 * here: header fields exactly as the MTA sent them when it agreed to
 * SMFIP_HDR_LEADSPC.  A check that throws or times out never holds up the
 * mail: its reports are unauthenticated.  Only a report the store refused
 * as forged (UntrustedReports reject) makes us answer 550.
 *
 * Forged results: a sender can put "X-DMARCwatch: stored" in a report
 * message itself.  Such headers are counted (report mail only) and deleted
 * at end of message, highest index first so the indexes stay valid whether
 * or not the MTA renumbers the remaining ones after a deletion; then ours is
 * added.
 * What remains: a header with a look-alike name (X-DMARCwatch2, non-ASCII
 * lookalikes) is not ours to judge and stays.
 */
#include "config.h"

#include "milter/session.hh"

#include "collector/common/errors.hh"

#include "collector/common/config-keys.hh"
#include "collector/common/log.hh"
#include "collector/common/text.hh"
#include "collector/intake/byte-source.hh"

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <system_error>

#include <fcntl.h>
#include <sys/mman.h>
#include <unistd.h>

namespace dmarcwatch::milter
{

using collector::FailureAction;
using collector::logError;
using collector::logInfo;
using collector::logWarning;
using collector::printable;

namespace
{

//! Replies for Tempfail answers (smfi_setreply); '%' never appears in them.
constexpr const char* s_tempfailCode = "451";
constexpr const char* s_storeStatus = "4.3.0";
constexpr const char* s_parseStatus = "4.6.0";
constexpr const char* s_internalErrorText = "dmarcwatch: internal error, try again later";
//! Over a per-day sender limit (OverLimitAction tempfail).
constexpr const char* s_limitStatus = "4.7.1";
constexpr const char* s_limitText = "dmarcwatch: sender over its daily limit";
//! A forged report under UntrustedReports reject.
constexpr const char* s_rejectCode = "550";
constexpr const char* s_rejectStatus = "5.7.1";
//! HELO name and MAIL FROM: RFC 5321 allows 255 and 256 bytes; what is beyond this is cut.
constexpr size_t s_maxEnvelopeText = 512;
//! Authentication reasons in our header and in SMTP replies.
constexpr size_t s_maxReasonText = 160;

//! Each MailCheckFactory installed gets its own generation, so a thread never takes a check made by another.
std::atomic<uint64_t> s_mailCheckGenerations{0};

//! One thread's MailCheck (Runtime::mailCheck): made on this thread, for one factory and one Config.
struct ThreadMailCheck
{
  uint64_t generation = 0;
  std::shared_ptr<const collector::Config> config; //!< held, so its address is not reused while cached
  MailCheck check;
};
thread_local ThreadMailCheck t_mailCheck;

//! The real ingest step: an Ingester over the store, with the trust of this mail.
collector::IngestOutcome ingestWithTrust(collector::Store& store, const collector::Config& config,
                                         const collector::IngestTrust& trust, std::string_view message,
                                         const std::string& source)
{
  collector::Ingester ingester(store, config.limits, &trust);
  return ingester.ingestMessage(message, source);
}

//! MAIL FROM as SPF takes it: without the angle brackets ("" for the null sender <>), capped.
std::string envelopeSender(std::string_view sender)
{
  if (sender.size() >= 2 && sender.front() == '<' && sender.back() == '>') {
    sender = sender.substr(1, sender.size() - 2);
  }
  return std::string(sender.substr(0, s_maxEnvelopeText));
}

//! The client address of a CONNECT ("192.0.2.1", "2001:db8::1", Sendmail's "IPv6:2001:db8::1"); none for "local".
std::optional<collector::IpAddress> clientAddress(std::string_view client)
{
  constexpr std::string_view v6Tag = "IPv6:";
  if (client.size() > v6Tag.size() && collector::equalsIgnoreCaseAscii(client.substr(0, v6Tag.size()), v6Tag)) {
    client.remove_prefix(v6Tag.size());
  }
  return collector::IpAddress::parse(client);
}

//! How bad a verdict is, for "the worst over a message's reports".
int badness(collector::Authenticity authenticity)
{
  switch (authenticity) {
  case collector::Authenticity::Authenticated:
    return 0;
  case collector::Authenticity::Unauthenticated:
    return 1;
  case collector::Authenticity::Forged:
    return 2;
  }
  return 1;
}

//! The first report with the worst verdict of the message; nullptr without reports.
const collector::ReportOutcome* worstVerdict(const collector::IngestOutcome& outcome)
{
  const collector::ReportOutcome* worst = nullptr;
  for (const auto& report : outcome.reports) {
    if (worst == nullptr || badness(report.verdict.authenticity) > badness(worst->verdict.authenticity)) {
      worst = &report;
    }
  }
  return worst;
}

//! Text for a quoted header parameter: printable, capped, no '"' or '\\' (nothing to escape).
std::string quotedText(std::string_view text, size_t max = s_maxReasonText)
{
  std::string out = printable(text, max);
  for (char& c : out) {
    if (c == '"' || c == '\\') {
      c = '\'';
    }
  }
  return out;
}

//! Text for an unquoted header value: quotedText's, and no ';' (no parameter of its own).
std::string unquotedText(std::string_view text, size_t max)
{
  std::string out = quotedText(text, max);
  std::replace(out.begin(), out.end(), ';', ',');
  return out;
}

//! "; auth=forged; spf=pass smtp.mailfrom=example.net; spf-mac=...; auth-reason=\"...\"" for a
//! message's reports ("" without reports).  spf= only when it was checked from the client's
//! address, signed with the store's key: `dmarcwatch ingest --milter-spf` reads it back
//! (recorded-spf.hh).
std::string authHeaderPart(const collector::IngestOutcome& outcome)
{
  const collector::ReportOutcome* worst = worstVerdict(outcome);
  if (worst == nullptr) {
    return {};
  }
  std::string part = "; auth=" + std::string(collector::authenticityName(worst->verdict.authenticity));
  if (!worst->verdict.spf.empty()) {
    part += "; " + worst->verdict.spf;
  }
  if (worst->verdict.authenticity != collector::Authenticity::Authenticated && !worst->verdict.reason.empty()) {
    part += "; auth-reason=\"" + quotedText(worst->verdict.reason) + "\"";
  }
  return part;
}

//! A report's state in the log: "counted", "quarantined" (stored out of the totals) or "rejected" (not stored).
const char* stateWord(const collector::ReportOutcome& report)
{
  if (report.rejected) {
    return "rejected";
  }
  return report.quarantined ? "quarantined" : "counted";
}

//! Header values: CR/LF folded lines from the MTA become CRLF; anything else stays.
void appendCrlf(std::string& out, std::string_view text)
{
  for (size_t i = 0; i < text.size(); ++i) {
    if (text[i] == '\n' && (i == 0 || text[i - 1] != '\r')) {
      out.push_back('\r');
    }
    out.push_back(text[i]);
  }
}

//! Text safe for an SMTP reply: printable, no '%' (libmilter treats it specially), short.
std::string replyText(std::string_view text)
{
  std::string out = printable(text, 160);
  for (char& c : out) {
    if (c == '%') {
      c = '?';
    }
  }
  return out;
}

void writeAll(int fd, const char* data, size_t size)
{
  while (size > 0) {
    ssize_t n = write(fd, data, size);
    if (n < 0 && errno == EINTR) {
      continue;
    }
    if (n <= 0) {
      throw std::system_error(errno != 0 ? errno : EIO, std::generic_category(), "writing the message temp file");
    }
    data += n;
    size -= static_cast<size_t>(n);
  }
}

} // namespace

// ---------------------------------------------------------------- Runtime

Runtime::Runtime(std::shared_ptr<const collector::Config> config) :
  d_config(std::move(config)), d_ingest(ingestWithTrust)
{
}

std::shared_ptr<const collector::Config> Runtime::config() const
{
  std::lock_guard<std::mutex> lock(d_mutex);
  return d_config;
}

void Runtime::setConfig(std::shared_ptr<const collector::Config> config)
{
  std::lock_guard<std::mutex> lock(d_mutex);
  d_config = std::move(config);
}

void Runtime::setStore(std::unique_ptr<collector::Store> store)
{
  std::lock_guard<std::mutex> lock(d_mutex);
  d_store = std::move(store);
}

Runtime::StoreLease Runtime::acquireStore()
{
  std::lock_guard<std::mutex> lock(d_mutex);
  if (d_stopping || !d_store) {
    return StoreLease(this, nullptr);
  }
  ++d_leases;
  return StoreLease(this, d_store.get());
}

Runtime::StoreLease::~StoreLease()
{
  if (d_store == nullptr) {
    return;
  }
  std::lock_guard<std::mutex> lock(d_runtime->d_mutex);
  if (--d_runtime->d_leases == 0) {
    d_runtime->d_idle.notify_all();
  }
}

bool Runtime::shutdown(std::chrono::milliseconds timeout)
{
  std::unique_lock<std::mutex> lock(d_mutex);
  d_stopping = true;
  bool idle = d_idle.wait_for(lock, timeout, [this] { return d_leases == 0; });
  if (idle) {
    // No thread uses the store any more and none can start to: close it.
    d_store.reset();
  }
  return idle;
}

void Runtime::setMailCheckFactory(MailCheckFactory factory)
{
  std::lock_guard<std::mutex> lock(d_mutex);
  d_mailCheckFactory = std::move(factory);
  d_mailCheckGeneration = d_mailCheckFactory ? ++s_mailCheckGenerations : 0;
}

const MailCheck& Runtime::mailCheck(const std::shared_ptr<const collector::Config>& config)
{
  MailCheckFactory factory;
  uint64_t generation = 0;
  {
    std::lock_guard<std::mutex> lock(d_mutex);
    generation = d_mailCheckGeneration;
    if (generation == t_mailCheck.generation && config == t_mailCheck.config) {
      return t_mailCheck.check;
    }
    factory = d_mailCheckFactory;
  }
  // Another factory or configuration: the old check goes first (its resolver, its config), then
  // the new one is made outside the lock (making a resolver may take a while).
  t_mailCheck = ThreadMailCheck{};
  MailCheck made = factory ? factory(*config) : MailCheck{};
  t_mailCheck = ThreadMailCheck{generation, config, std::move(made)};
  return t_mailCheck.check;
}

void Runtime::setIngestStep(IngestStep step)
{
  std::lock_guard<std::mutex> lock(d_mutex);
  d_ingest = step ? std::move(step) : IngestStep(ingestWithTrust);
}

uint64_t Runtime::nextConnectionId()
{
  std::lock_guard<std::mutex> lock(d_mutex);
  return ++d_connections;
}

// ---------------------------------------------------------- MessageBuffer

MessageBuffer::MessageBuffer(uint64_t memoryBytes, uint64_t maxBytes, std::string tempDirectory) :
  d_memory(memoryBytes), d_max(maxBytes), d_tempDirectory(std::move(tempDirectory))
{
}

MessageBuffer::~MessageBuffer()
{
  if (d_map != nullptr) {
    munmap(d_map, d_mapLength);
  }
  if (d_fd >= 0) {
    close(d_fd);
  }
}

void MessageBuffer::spill()
{
  std::string pattern = d_tempDirectory + "/dmarcwatch-milter.XXXXXX";
  int fd = mkostemp(pattern.data(), O_CLOEXEC);
  if (fd < 0) {
    throw std::system_error(errno, std::generic_category(), "creating a temp file in " + d_tempDirectory);
  }
  // Unlinked at once: private to this process, gone even after SIGKILL.
  unlink(pattern.c_str());
  d_fd = fd;
  writeAll(d_fd, d_bytes.data(), d_bytes.size());
  std::string().swap(d_bytes);
}

void MessageBuffer::append(std::string_view data)
{
  d_seen += data.size();
  if (d_seen > d_max) {
    // Over the cap: the message will not be ingested, so keep nothing.
    if (d_kept > 0) {
      std::string().swap(d_bytes);
      if (d_fd >= 0) {
        close(d_fd);
        d_fd = -1;
      }
      d_kept = 0;
    }
    return;
  }
  if (d_fd < 0 && d_bytes.size() + data.size() > d_memory) {
    spill();
  }
  if (d_fd >= 0) {
    writeAll(d_fd, data.data(), data.size());
  }
  else {
    d_bytes.append(data);
  }
  d_kept += data.size();
}

std::string_view MessageBuffer::view()
{
  if (d_fd < 0) {
    return d_bytes;
  }
  if (d_map == nullptr && d_kept > 0) {
    void* map = mmap(nullptr, d_kept, PROT_READ, MAP_PRIVATE, d_fd, 0);
    if (map == MAP_FAILED) {
      throw std::system_error(errno, std::generic_category(), "mapping the message temp file");
    }
    d_map = map;
    d_mapLength = d_kept;
  }
  return {static_cast<const char*>(d_map), d_mapLength};
}

// ------------------------------------------------------ ConnectionContext

ConnectionContext::ConnectionContext(Runtime& runtime, std::string client) :
  d_runtime(runtime), d_config(runtime.config()), d_id(runtime.nextConnectionId()), d_client(std::move(client))
{
}

void ConnectionContext::onConnect(std::string_view client) noexcept
{
  d_clientAddress = clientAddress(client); // no allocation
  try {
    d_client.assign(client);
  }
  catch (...) {
    // Out of memory for a few bytes: the text is only for logs.
  }
}

void ConnectionContext::onHelo(std::string_view name) noexcept
{
  try {
    d_helo.assign(name.substr(0, s_maxEnvelopeText));
  }
  catch (...) {
    d_helo.clear(); // out of memory: SPF of the HELO name is "none" then
  }
}

std::optional<Verdict> ConnectionContext::decidedEarlier(Step step, MilterApi& api)
{
  if (step == Step::EnvFrom) {
    d_kept.reset(); // a new message: nothing decided yet
  }
  if (!d_kept) {
    return std::nullopt;
  }
  if ((d_noReply & static_cast<unsigned>(step)) != 0) {
    return Verdict::NoReply;
  }
  // The first step with a reply since the decision: give it now; it ends the message.
  Verdict kept = *d_kept;
  d_kept.reset();
  d_message.reset();
  if (kept == Verdict::Tempfail) {
    // Only failureVerdict() keeps a Tempfail; its reply belongs with this answer.
    api.setReply(s_tempfailCode, s_storeStatus, s_internalErrorText);
  }
  return kept;
}

Verdict ConnectionContext::answer(Step step, Verdict verdict) noexcept
{
  if ((d_noReply & static_cast<unsigned>(step)) == 0) {
    return verdict;
  }
  if (verdict != Verdict::Continue && verdict != Verdict::NoReply && !d_kept) {
    d_kept = verdict;
  }
  return Verdict::NoReply;
}

MessageContext& ConnectionContext::message()
{
  if (!d_message) {
    d_message = std::make_unique<MessageContext>();
  }
  return *d_message;
}

MessageBuffer& ConnectionContext::bufferOf(MessageContext& msg)
{
  if (!msg.buffer) {
    msg.buffer = std::make_unique<MessageBuffer>(d_config->memoryBufferBytes, d_config->limits.maxMessageBytes,
                                                 d_config->tempDirectory);
  }
  return *msg.buffer;
}

MessageBuffer* ConnectionContext::reportBuffer()
{
  MessageContext& msg = message();
  if (!msg.isReport()) {
    msg.decided = true; // answered Accept by the caller
    return nullptr;
  }
  return &bufferOf(msg);
}

bool ConnectionContext::touchesDisk(uint64_t bytes) const noexcept
{
  if (!d_message || !d_message->isReport()) {
    return false;
  }
  if (!d_message->buffer) {
    return bytes > d_config->memoryBufferBytes;
  }
  return d_message->buffer->onDisk() || d_message->buffer->wouldWriteFile(bytes);
}

std::string ConnectionContext::logId() const
{
  if (d_message && !d_message->queueId.empty()) {
    return d_message->queueId;
  }
  return "conn-" + std::to_string(d_id);
}

Verdict ConnectionContext::onEnvFrom(MilterApi& api, std::string_view sender)
{
  // A new message: whatever the previous one left is gone.
  d_message = std::make_unique<MessageContext>();
  ++d_messages;
  // Its envelope, for SPF at end of message (kept for every message: cheap, and the recipients are not known yet).
  d_message->envelope.client = d_clientAddress;
  d_message->envelope.helo = d_helo;
  d_message->envelope.mailFrom = envelopeSender(sender);
  if (auto qid = api.symbol("i")) {
    d_message->queueId = printable(*qid, 64);
  }
  return Verdict::Continue;
}

Verdict ConnectionContext::onEnvRcpt(MilterApi& api, std::string_view recipient)
{
  MessageContext& msg = message();
  if (msg.queueId.empty()) {
    if (auto qid = api.symbol("i")) {
      msg.queueId = printable(*qid, 64);
    }
  }
  if (d_config->isReportRecipient(recipient)) {
    // Bounded by the MTA's own recipient limit; keep a sane cap anyway.
    if (msg.reportRecipients.size() < 1000) {
      msg.reportRecipients.emplace_back(recipient);
    }
  }
  else {
    ++msg.otherRecipients;
  }
  return Verdict::Continue;
}

Verdict ConnectionContext::onData(MilterApi& /*api*/)
{
  // DATA follows the last RCPT: the earliest point where "no report
  // recipient" is certain.  Accepting here means the MTA sends us nothing more.
  MessageContext& msg = message();
  if (!msg.isReport()) {
    msg.decided = true;
    return Verdict::Accept;
  }
  return Verdict::Continue;
}

Verdict ConnectionContext::onHeader(MilterApi& /*api*/, std::string_view name, std::string_view value)
{
  MessageBuffer* buffer = reportBuffer();
  if (buffer == nullptr) {
    return Verdict::Accept; // MTAs or protocol versions without the DATA callback
  }
  // A result header the message brought along is forged: deleted at eom.
  // (No cap needed: each one costs the sender a header line, bounded by MaxMessageSize.)
  if (collector::equalsIgnoreCaseAscii(name, s_resultHeader)) {
    ++d_message->forgedHeaders;
  }
  // Rebuild the field as it was, folds as CRLF.  With SMFIP_HDR_LEADSPC the value is everything
  // after the colon, its leading white space too: "Name:value".  Without it the MTA ate one space
  // after the colon if there was one (Postfix milter8.c, Sendmail): "Name: value" is right for the
  // usual form only ("Name:value" and "Name:\tvalue" come out wrong), so the message is marked
  // approximate.  The MTA drops white space between the name and the colon either way.
  std::string line;
  line.reserve(name.size() + value.size() + 4);
  line.append(name);
  line.push_back(':');
  if (!d_leadingSpace) {
    line.push_back(' ');
    d_message->headersApproximate = true;
  }
  appendCrlf(line, value);
  line.append("\r\n");
  buffer->append(line);
  return Verdict::Continue;
}

Verdict ConnectionContext::onEndOfHeaders(MilterApi& /*api*/)
{
  MessageBuffer* buffer = reportBuffer();
  if (buffer == nullptr) {
    return Verdict::Accept;
  }
  buffer->append("\r\n");
  return Verdict::Continue;
}

Verdict ConnectionContext::onBody(MilterApi& /*api*/, std::string_view chunk)
{
  MessageBuffer* buffer = reportBuffer();
  if (buffer == nullptr) {
    return Verdict::Accept;
  }
  buffer->append(chunk);
  return Verdict::Continue;
}

Verdict ConnectionContext::onEndOfMessage(MilterApi& api)
{
  if (!d_message || !d_message->isReport()) {
    d_message.reset();
    return Verdict::Accept;
  }
  // Take the message out first: whatever happens, the next one starts fresh.
  std::unique_ptr<MessageContext> msg = std::move(d_message);
  if (auto qid = api.symbol("i"); qid && msg->queueId.empty()) {
    msg->queueId = printable(*qid, 64);
  }
  return finishReport(api, *msg);
}

void ConnectionContext::onAbort()
{
  d_message.reset();
  d_kept.reset();
}

Verdict ConnectionContext::finishReport(MilterApi& api, MessageContext& msg)
{
  const collector::Config& config = *d_config;
  std::string qid = msg.queueId.empty() ? "conn-" + std::to_string(d_id) : msg.queueId;
  MessageBuffer& buffer = bufferOf(msg); // a report without headers or body has none yet

  // Step 1: over the size cap - nothing to parse; deliver it with the error.
  if (buffer.overflow()) {
    std::string error = "message larger than " + std::string(collector::keys::maxMessageSize) + " (" + std::to_string(config.limits.maxMessageBytes) +
      " bytes)";
    logWarning("report message not stored", {{"qid", qid}, {"outcome", "error"}, {"error", error},
                                             {"bytes", std::to_string(buffer.seen())}, {"action", "keep"}});
    std::string header = "error; " + error;
    return deliver(api, msg, qid, &header);
  }

  // Step 2: a store to write to.
  Runtime::StoreLease lease = d_runtime.acquireStore();
  if (lease.get() == nullptr) {
    logWarning("report message deferred", {{"qid", qid}, {"outcome", "tempfail"}, {"error", "shutting down"}});
    api.setReply(s_tempfailCode, s_storeStatus, "dmarcwatch: shutting down, try again later");
    return Verdict::Tempfail;
  }

  // Step 3: the mail's checks (SPF, DKIM, DMARC), here on the worker, DNS bounded by AuthTimeout.
  // They give the judge of its reports; they never hold up the mail.
  std::string_view message = buffer.view();
  if (msg.headersApproximate && !d_warnedApproximate) {
    d_warnedApproximate = true;
    logWarning("report headers approximate", {{"qid", qid},
                                              {"reason", "the MTA did not agree to keep the space after the colon "
                                                         "(SMFIP_HDR_LEADSPC): a DKIM signature with simple header "
                                                         "canonicalization cannot make a report forged"}});
  }
  const collector::IngestTrust trust = mailTrust(config.trust, checkMail(msg, qid, message));

  // Step 4: hand it to the collector (one write transaction per report).
  collector::IngestOutcome outcome;
  try {
    outcome = d_runtime.ingestStep()(*lease.get(), config, trust, message, "milter " + qid);
  }
  catch (const collector::SenderLimitExceeded& e) {
    // Over a per-day limit with OverLimitAction tempfail: the MTA retries later (a new day's window),
    // whatever OnStoreError says.  The first report over that limit that day says so once.
    if (!e.notice().empty()) {
      logWarning("sender limit reached", {{"qid", qid}, {"limit", printable(e.notice(), s_maxReasonText)}});
    }
    logWarning("report message deferred", {{"qid", qid}, {"outcome", "sender-limit"}, {"error", e.reason()},
                                           {"action", "tempfail"}});
    api.setReply(s_tempfailCode, s_limitStatus, s_limitText);
    return Verdict::Tempfail;
  }
  catch (const collector::StoreError& e) {
    // Disk full, map full, lock: the MTA keeps the message and retries; dedup makes that safe.
    bool tempfail = config.onStoreError == FailureAction::Tempfail;
    logError("report message not stored", {{"qid", qid}, {"outcome", "store-error"}, {"error", e.what()},
                                           {"action", tempfail ? "tempfail" : "accept"}});
    if (tempfail) {
      api.setReply(s_tempfailCode, s_storeStatus, "dmarcwatch: cannot store the report now, try again later");
      return Verdict::Tempfail;
    }
    std::string header = "error; store: " + unquotedText(e.what(), 160);
    return deliver(api, msg, qid, &header);
  }
  catch (const collector::ParseError& e) {
    // The contract makes parse failures values; accept a thrown one the same way.
    outcome.errors.emplace_back(e.what());
  }

  // Step 5: a report the store refused makes the whole mail refused: a forged one (UntrustedReports
  // reject) with 550, one over a per-day limit (OverLimitAction tempfail) with 451.
  const collector::ReportOutcome* forged = nullptr;
  const collector::ReportOutcome* overLimit = nullptr;
  for (const auto& report : outcome.reports) {
    if (!report.rejected) {
      continue;
    }
    const collector::ReportOutcome*& slot =
      report.verdict.authenticity == collector::Authenticity::Forged ? forged : overLimit;
    slot = slot != nullptr ? slot : &report;
  }
  bool discard = config.reportAction == collector::ReportAction::Discard && !outcome.failed();
  const char* action = nullptr;
  if (forged != nullptr) {
    action = "reject";
  }
  else if (overLimit != nullptr) {
    action = "tempfail";
  }
  else {
    action = !discard ? "keep" : (msg.otherRecipients == 0 ? "discard" : "delrcpt");
  }

  // Step 6: one line per report found in the message, and one per sender limit first passed.
  for (const auto& report : outcome.reports) {
    logInfo("report message", {{"qid", qid},
                               {"client", d_client},
                               {"reporter", report.header.metadata.orgName},
                               {"domain", report.header.policy.domain},
                               {"report_id", report.header.metadata.reportId},
                               {"records", std::to_string(report.records)},
                               {"messages", std::to_string(report.messages)},
                               {"outcome", report.rejected ? "rejected" : report.statusWord()},
                               {"auth", std::string(collector::authenticityName(report.verdict.authenticity))},
                               {"auth_reason", printable(report.verdict.reason, s_maxReasonText)},
                               {"state", stateWord(report)},
                               {"state_reason", printable(report.stateReason, s_maxReasonText)},
                               {"action", action}});
    if (!report.limitNotice.empty()) {
      logWarning("sender limit reached", {{"qid", qid},
                                          {"reporter", report.header.metadata.orgName},
                                          {"domain", report.header.policy.domain},
                                          {"limit", printable(report.limitNotice, s_maxReasonText)}});
    }
  }
  if (forged != nullptr) {
    std::string reason = forged->verdict.reason.empty() ? "no reason given" : forged->verdict.reason;
    api.setReply(s_rejectCode, s_rejectStatus, "dmarcwatch: forged report: " + replyText(reason));
    return Verdict::Reject;
  }
  if (overLimit != nullptr) {
    api.setReply(s_tempfailCode, s_limitStatus, s_limitText);
    return Verdict::Tempfail;
  }

  // Step 7: unreadable (or no report at all): keep the mail so nothing is lost.
  if (outcome.failed()) {
    std::string error = outcome.errors.empty() ? "no report found" : outcome.errors.front();
    bool tempfail = config.onParseError == FailureAction::Tempfail;
    logWarning("report message not stored", {{"qid", qid}, {"outcome", "error"}, {"error", error},
                                             {"stored", std::to_string(outcome.reports.size())},
                                             {"action", tempfail ? "tempfail" : "keep"}});
    if (tempfail) {
      api.setReply(s_tempfailCode, s_parseStatus, "dmarcwatch: report not readable: " + replyText(error));
      return Verdict::Tempfail;
    }
    std::string header = resultHeaderValue(outcome);
    return deliver(api, msg, qid, &header);
  }

  // Step 8: stored (or duplicate, or a conflict kept in the store): keep with the header, or drop our copy.
  if (discard) {
    if (msg.otherRecipients == 0) {
      return Verdict::Discard;
    }
    bool removed = true;
    for (const auto& rcpt : msg.reportRecipients) {
      removed = api.deleteRecipient(rcpt) && removed;
    }
    if (removed) {
      // The other recipients get the mail without our header (and without a forged one).
      return deliver(api, msg, qid, nullptr);
    }
    logWarning("cannot remove report recipient", {{"qid", qid}, {"action", "keep"}});
  }
  std::string header = resultHeaderValue(outcome);
  return deliver(api, msg, qid, &header);
}

collector::ReportJudge ConnectionContext::checkMail(MessageContext& msg, const std::string& qid,
                                                  std::string_view message) noexcept
{
  // A check that fails says so in its reports' reason: unauthenticated, never forged, never a failed mail.
  auto failed = [&qid](std::string_view what) -> collector::ReportJudge {
    std::string reason = "mail check failed: " + printable(what, 120);
    logWarning("report mail not checked", {{"qid", qid}, {"error", reason}});
    return [reason](const collector::ReportHeader&) {
      return collector::ReportVerdict{collector::Authenticity::Unauthenticated, reason};
    };
  };
  try {
    try {
      const MailCheck& check = d_runtime.mailCheck(d_config);
      if (!check) {
        return {};
      }
      // The judge runs inside the Ingester, per report (which makes what it throws that report's reason).
      return check(message, msg.envelope, msg.headersApproximate);
    }
    catch (const std::exception& e) {
      return failed(e.what());
    }
    catch (...) {
      return failed("unknown exception");
    }
  }
  catch (...) {
    return {}; // out of memory while saying so: the reports are unauthenticated all the same
  }
}

Verdict ConnectionContext::deliver(MilterApi& api, const MessageContext& msg, const std::string& qid,
                                   const std::string* header)
{
  // Step 1: delete forged result headers, last first (see the file comment).
  if (msg.forgedHeaders > 0) {
    unsigned failed = 0;
    for (unsigned index = msg.forgedHeaders; index >= 1; --index) {
      if (!api.deleteHeader(s_resultHeader, static_cast<int>(index))) {
        ++failed;
      }
    }
    logWarning("forged result header removed", {{"qid", qid}, {"headers", std::to_string(msg.forgedHeaders)},
                                                {"failed", std::to_string(failed)}});
  }
  // Step 2: ours, when configured.
  if (header != nullptr && d_config->addHeader) {
    // With SMFIP_HDR_LEADSPC agreed the MTA adds the value as given, so it carries its own space
    // (Postfix's milter8.c, Sendmail's milter.c); otherwise the MTA puts one after the colon.
    api.addHeader(s_resultHeader, d_leadingSpace ? " " + *header : *header);
  }
  return Verdict::Accept;
}

Verdict ConnectionContext::failureVerdict(MilterApi* api, const char* stage, const char* what) noexcept
{
  try {
    bool knownPlain = d_message && d_message->decided;
    bool notReport = d_message && !d_message->isReport() && std::string_view(stage) != "envrcpt";
    bool tempfail = !knownPlain && !notReport && d_config->onStoreError == FailureAction::Tempfail;
    logError("milter callback failed", {{"qid", logId()}, {"stage", stage}, {"error", what},
                                        {"action", tempfail ? "tempfail" : "accept"}});
    d_message.reset();
    if (tempfail && api != nullptr) {
      api->setReply(s_tempfailCode, s_storeStatus, s_internalErrorText);
    }
    return tempfail ? Verdict::Tempfail : Verdict::Accept;
  }
  catch (...) {
    return Verdict::Tempfail;
  }
}

std::string resultHeaderValue(const collector::IngestOutcome& outcome)
{
  uint64_t records = 0;
  uint64_t messages = 0;
  bool anyStored = false;
  bool anyConflict = false;
  for (const auto& report : outcome.reports) {
    records += report.records;
    messages += report.messages;
    anyStored = anyStored || report.status == collector::StoreStatus::Stored;
    anyConflict = anyConflict || report.status == collector::StoreStatus::Conflict;
  }
  std::string value;
  if (outcome.failed()) {
    std::string error = outcome.errors.empty() ? "no report found" : outcome.errors.front();
    // No ';' or '"' from the mail's content: the parameters after it must stay ours.
    value = "error; " + unquotedText(error, 160);
    if (!outcome.reports.empty()) {
      value += "; reports=" + std::to_string(outcome.reports.size());
    }
    return value + authHeaderPart(outcome);
  }
  // A conflict (same key, other records) is kept and listed, not counted: say so.
  value = anyStored ? "stored" : (anyConflict ? "conflict" : "duplicate");
  value += "; reports=" + std::to_string(outcome.reports.size()) + "; records=" + std::to_string(records) +
    "; messages=" + std::to_string(messages);
  return value + authHeaderPart(outcome);
}

namespace
{

//! Writes one new file of the dump directory (0600, O_EXCL, O_NOFOLLOW). \throw std::system_error
void writeNewFile(const std::string& path, std::string_view data)
{
  int fd = open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
  if (fd < 0) {
    throw std::system_error(errno, std::generic_category(), "creating " + path);
  }
  collector::FileDescriptor owned(fd);
  writeAll(fd, data.data(), data.size());
}

} // namespace

MailCheckFactory dumpMessages(std::string directory, MailCheckFactory inner)
{
  auto counter = std::make_shared<std::atomic<uint64_t>>(0);
  return [directory = std::move(directory), inner = std::move(inner), counter](const collector::Config& config) {
    MailCheck check = inner ? inner(config) : MailCheck{};
    return [directory, counter, check = std::move(check)](std::string_view message,
                                                            const collector::MailEnvelope& envelope,
                                                            bool headersApproximate) -> collector::ReportJudge {
      std::string base = directory + "/" + std::to_string(++*counter);
      try {
        writeNewFile(base + ".eml", message);
        writeNewFile(base + ".envelope", "client=" + (envelope.client ? envelope.client->toString() : std::string()) +
                                           "\nhelo=" + envelope.helo + "\nmail_from=" + envelope.mailFrom +
                                           "\nheaders_approximate=" + (headersApproximate ? "1" : "0") + "\n");
      }
      catch (const std::exception& e) {
        logWarning("cannot dump the message", {{"file", base}, {"error", e.what()}});
      }
      return check ? check(message, envelope, headersApproximate) : collector::ReportJudge{};
    };
  };
}

collector::IngestTrust mailTrust(const collector::TrustSettings& settings, collector::ReportJudge judge)
{
  // The milter's message is one mail: its judge is the one the check gave.
  std::function<collector::ReportJudge(std::string_view)> checkMail;
  if (judge) {
    checkMail = [judge = std::move(judge)](std::string_view /*message*/) { return judge; };
  }
  return collector::makeIngestTrust(settings, std::move(checkMail));
}

} // namespace dmarcwatch::milter
