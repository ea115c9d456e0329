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
  try {
    d_client.assign(client);
  }
  catch (...) {
    // Out of memory for a few bytes: the address is only for logs.
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

Verdict ConnectionContext::onEnvFrom(MilterApi& api, std::string_view /*sender*/)
{
  // A new message: whatever the previous one left is gone.
  d_message = std::make_unique<MessageContext>();
  ++d_messages;
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
  // Reconstruct the header as it was: "Name: value" CRLF (libmilter strips the space).
  std::string line;
  line.reserve(name.size() + value.size() + 4);
  line.append(name);
  line.append(": ");
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

  // Step 2: hand it to the collector (one write transaction per report).
  Runtime::StoreLease lease = d_runtime.acquireStore();
  if (lease.get() == nullptr) {
    logWarning("report message deferred", {{"qid", qid}, {"outcome", "tempfail"}, {"error", "shutting down"}});
    api.setReply(s_tempfailCode, s_storeStatus, "dmarcwatch: shutting down, try again later");
    return Verdict::Tempfail;
  }
  collector::IngestOutcome outcome;
  try {
    collector::Ingester ingester(*lease.get(), config.limits);
    outcome = ingester.ingestMessage(buffer.view(), "milter " + qid);
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
    std::string header = "error; store: " + printable(e.what(), 160);
    return deliver(api, msg, qid, &header);
  }
  catch (const collector::ParseError& e) {
    // The contract makes parse failures values; accept a thrown one the same way.
    outcome.errors.emplace_back(e.what());
  }

  // Step 3: one line per report found in the message.
  bool discard = config.reportAction == collector::ReportAction::Discard && !outcome.failed();
  const char* action = !discard ? "keep" : (msg.otherRecipients == 0 ? "discard" : "delrcpt");
  for (const auto& report : outcome.reports) {
    logInfo("report message", {{"qid", qid},
                               {"client", d_client},
                               {"reporter", report.header.metadata.orgName},
                               {"domain", report.header.policy.domain},
                               {"report_id", report.header.metadata.reportId},
                               {"records", std::to_string(report.records)},
                               {"messages", std::to_string(report.messages)},
                               {"outcome", report.statusWord()},
                               {"action", action}});
  }

  // Step 4: unreadable (or no report at all): keep the mail so nothing is lost.
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

  // Step 5: stored (or duplicate, or a conflict kept in the store): keep with the header, or drop our copy.
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
    api.addHeader(s_resultHeader, *header);
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
    value = "error; " + printable(error, 160);
    if (!outcome.reports.empty()) {
      value += "; reports=" + std::to_string(outcome.reports.size());
    }
    return value;
  }
  // A conflict (same key, other records) is kept and listed, not counted: say so.
  value = anyStored ? "stored" : (anyConflict ? "conflict" : "duplicate");
  value += "; reports=" + std::to_string(outcome.reports.size()) + "; records=" + std::to_string(records) +
    "; messages=" + std::to_string(messages);
  return value;
}

} // namespace dmarcwatch::milter
