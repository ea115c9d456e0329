// test-session.cc - milter/session.cc driven through a recording fake MilterApi:
// the verdicts, header/recipient changes and SMTP replies of each outcome, with
// a real Store (no mocks of the store; a read-only one makes a real StoreError).
#define BOOST_TEST_DYN_LINK
#define BOOST_TEST_NO_MAIN
#include <boost/test/unit_test.hpp>

#include "collector/common/config.hh"
#include "collector/common/log.hh"
#include "collector/common/errors.hh"
#include "collector/ingest/ingest.hh"
#include "collector/store/store.hh"
#include "milter/session.hh"
#include "t/unit/log-capture.hh"
#include "t/unit/test-util.hh"

#include <array>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <stdexcept>
#include <thread>
#include <utility>
#include <ostream>
#include <string>
#include <system_error>
#include <vector>

using namespace dmarcwatch::collector;
using namespace dmarcwatch::milter;
using dmarcwatch::test::LogCapture;
using dmarcwatch::test::TempDir;

namespace dmarcwatch::milter
{
// Boost.Test prints verdicts in failure messages.
std::ostream& operator<<(std::ostream& out, Verdict verdict)
{
  switch (verdict) {
  case Verdict::Continue:
    return out << "Continue";
  case Verdict::Accept:
    return out << "Accept";
  case Verdict::Discard:
    return out << "Discard";
  case Verdict::Tempfail:
    return out << "Tempfail";
  case Verdict::Reject:
    return out << "Reject";
  case Verdict::NoReply:
    return out << "NoReply";
  }
  return out << "?";
}
} // namespace dmarcwatch::milter

namespace
{

//! Records every MTA-visible call as one line, in order; macros come from a map.
class FakeMilterApi : public MilterApi
{
public:
  std::map<std::string, std::string> macros{{"i", "QTEST"}};
  std::vector<std::string> calls;

  std::optional<std::string> symbol(const char* name) override
  {
    auto found = macros.find(name);
    if (found == macros.end()) {
      return std::nullopt;
    }
    return found->second;
  }
  bool addHeader(const std::string& name, const std::string& value) override
  {
    calls.push_back("addHeader " + name + ": " + value);
    return true;
  }
  bool deleteHeader(const std::string& name, int index) override
  {
    calls.push_back("deleteHeader " + name + " " + std::to_string(index));
    return true;
  }
  bool deleteRecipient(const std::string& recipient) override
  {
    calls.push_back("deleteRecipient " + recipient);
    return true;
  }
  bool setReply(const std::string& rcode, const std::string& xcode, const std::string& text) override
  {
    calls.push_back("setReply " + rcode + " " + xcode + " " + text);
    return true;
  }
};

//! A DMARC aggregate report of two records (3 + 4 messages).
std::string reportXml(const std::string& reportId)
{
  std::string record = "<record><row><source_ip>IP</source_ip><count>N</count><policy_evaluated>"
                       "<disposition>none</disposition><dkim>pass</dkim><spf>pass</spf></policy_evaluated></row>"
                       "<identifiers><header_from>example.test</header_from></identifiers>"
                       "<auth_results><spf><domain>example.test</domain><result>pass</result></spf>"
                       "</auth_results></record>";
  auto make = [&](const std::string& ip, const std::string& count) {
    std::string r = record;
    r.replace(r.find("IP"), 2, ip);
    r.replace(r.find(">N<") + 1, 1, count);
    return r;
  };
  return "<?xml version=\"1.0\"?><feedback><report_metadata><org_name>google.com</org_name>"
         "<email>noreply@google.com</email><report_id>" +
    reportId +
    "</report_id><date_range><begin>1700000000</begin><end>1700086399</end></date_range>"
    "</report_metadata><policy_published><domain>example.test</domain><p>none</p></policy_published>" +
    make("192.0.2.1", "3") + make("192.0.2.2", "4") + "</feedback>\n";
}

using Headers = std::vector<std::pair<std::string, std::string>>;

//! A mail whose single body part is the XML report.
Headers reportHeaders()
{
  return {{"From", "noreply@google.com"},
          {"To", "rua@example.test"},
          {"Subject", "Report domain: example.test"},
          {"MIME-Version", "1.0"},
          {"Content-Type", "text/xml"},
          {"Content-Disposition", "attachment; filename=\"report.xml\""}};
}

struct Message
{
  std::string from = "<noreply@google.com>";
  std::vector<std::string> rcpts{"<rua@example.test>"};
  Headers headers = reportHeaders();
  std::string body = reportXml("rid-1");
};

//! One message the way an MTA sends it; stops at the first verdict that is not Continue.
struct Sent
{
  Verdict verdict = Verdict::Continue;
  std::string stage;
};

Sent send(ConnectionContext& conn, MilterApi& api, const Message& m, bool withData = true)
{
  auto step = [](Sent& out, const char* stage, Verdict v) {
    out.verdict = v;
    out.stage = stage;
    return v == Verdict::Continue;
  };
  Sent out;
  if (!step(out, "envfrom", conn.onEnvFrom(api, m.from))) {
    return out;
  }
  for (const auto& rcpt : m.rcpts) {
    if (!step(out, "envrcpt", conn.onEnvRcpt(api, rcpt))) {
      return out;
    }
  }
  if (withData && !step(out, "data", conn.onData(api))) {
    return out;
  }
  for (const auto& [name, value] : m.headers) {
    if (!step(out, "header", conn.onHeader(api, name, value))) {
      return out;
    }
  }
  if (!step(out, "eoh", conn.onEndOfHeaders(api))) {
    return out;
  }
  for (size_t i = 0; i < m.body.size(); i += 4096) {
    if (!step(out, "body", conn.onBody(api, std::string_view(m.body).substr(i, 4096)))) {
      return out;
    }
  }
  step(out, "eom", conn.onEndOfMessage(api));
  return out;
}

//! A temp dir holding the store and the temp-file directory, and a Runtime over them.
struct SessionFixture
{
  TempDir dir;
  LogCapture log;
  std::unique_ptr<Runtime> runtime;

  std::string dbDir() const { return (dir.path() / "db").string(); }
  std::string tmpDir() const { return (dir.path() / "tmp").string(); }

  //! A Runtime with the base config plus extra lines, and (unless storeless) a store.
  void start(const std::string& extra = "", bool withStore = true, bool readOnlyStore = false,
             const std::string& tempDirectory = {})
  {
    std::filesystem::create_directories(tmpDir());
    std::string text = "ReportAddress rua@example.test\nDatabase " + dbDir() + "\nTempDirectory " +
      (tempDirectory.empty() ? tmpDir() : tempDirectory) + "\n" + extra;
    auto config = parseConfig(text, "session-test.conf");
    runtime = std::make_unique<Runtime>(config);
    if (withStore) {
      Store::Options options;
      options.mapSize = 16ULL << 20;
      options.sync = false;
      if (readOnlyStore) {
        // Create it, then open it read-only: every write is a real StoreError (EACCES).
        Store(dbDir(), options);
        options.readOnly = true;
      }
      runtime->setStore(std::make_unique<Store>(dbDir(), options));
    }
  }

  [[nodiscard]] size_t storedReports() const
  {
    Store::Options options;
    options.readOnly = true;
    if (!std::filesystem::exists(dir.path() / "db" / "data.mdb")) {
      return 0;
    }
    // Shares the open environment (one per path per process).
    return Store(dbDir(), options).listReports().size();
  }
};

void checkCalls(const FakeMilterApi& api, const std::vector<std::string>& want)
{
  const auto& got = api.calls;
  BOOST_CHECK_EQUAL_COLLECTIONS(got.begin(), got.end(), want.begin(), want.end());
}

//! What the MailChecks of one factory were given, and on which threads the factory made them.
struct CheckLog
{
  std::mutex mutex;
  std::vector<std::thread::id> madeOn;
  std::vector<std::string> messages;
  std::vector<MailEnvelope> envelopes;
  std::vector<bool> approximate;
};

//! A factory whose checks record what they get and judge every report with verdict.
MailCheckFactory recordingChecks(const std::shared_ptr<CheckLog>& checks, const ReportVerdict& verdict = {})
{
  return [checks, verdict](const Config&) {
    {
      std::lock_guard<std::mutex> lock(checks->mutex);
      checks->madeOn.push_back(std::this_thread::get_id());
    }
    return MailCheck([checks, verdict](std::string_view message, const MailEnvelope& envelope, bool approximate) {
      std::lock_guard<std::mutex> lock(checks->mutex);
      checks->messages.emplace_back(message);
      checks->envelopes.push_back(envelope);
      checks->approximate.push_back(approximate);
      return ReportJudge([verdict](const ReportHeader&) { return verdict; });
    });
  };
}

/*!
 * The real ingest, then each report judged with the IngestTrust's judge the way the Ingester
 * applies it (the storetrust part); trust, when given, receives a copy of what the milter passed.
 */
IngestStep judgingIngest(std::shared_ptr<IngestTrust> seen = nullptr)
{
  return [seen](Store& store, const Config& config, const IngestTrust& trust, std::string_view message,
                const std::string& source) {
    if (seen) {
      *seen = trust;
    }
    IngestOutcome outcome = Ingester(store, config.limits).ingestMessage(message, source);
    if (trust.checkMail) {
      ReportJudge judge = trust.checkMail(message);
      for (auto& report : outcome.reports) {
        report.verdict = judge(report.header);
      }
    }
    return outcome;
  };
}

//! A report outcome as the Ingester gives it (google.com about example.test, 2 records, 7 messages).
ReportOutcome madeReport(const std::string& reportId, Authenticity authenticity, const std::string& reason)
{
  ReportOutcome report;
  report.header.metadata.orgName = "google.com";
  report.header.metadata.reportId = reportId;
  report.header.policy.domain = "example.test";
  report.records = 2;
  report.messages = 7;
  report.verdict = {authenticity, reason};
  return report;
}

//! An outcome whose one report the store refused (ReportOutcome::rejected) for stateReason.
IngestOutcome refusedOutcome(const std::string& reportId, const ReportVerdict& verdict, const std::string& stateReason)
{
  IngestOutcome outcome;
  ReportOutcome report = madeReport(reportId, verdict.authenticity, verdict.reason);
  report.rejected = true;
  report.stateReason = stateReason;
  outcome.reports.push_back(report);
  return outcome;
}

//! An ingest step that stores nothing and gives outcome (or throws what make throws).
IngestStep fixedIngest(std::function<IngestOutcome()> make)
{
  return [make](Store&, const Config&, const IngestTrust&, std::string_view, const std::string&) { return make(); };
}

//! The header fields of a message as the buffer must hold them: "Name:" value, folds as CRLF, then CRLF.
std::string headerBytes(const Headers& headers, bool leadingSpace)
{
  std::string out;
  for (const auto& [name, value] : headers) {
    out += name + (leadingSpace ? ":" : ": ");
    for (size_t i = 0; i < value.size(); ++i) {
      if (value[i] == '\n' && (i == 0 || value[i - 1] != '\r')) {
        out += '\r';
      }
      out += value[i];
    }
    out += "\r\n";
  }
  return out + "\r\n";
}

} // namespace

BOOST_FIXTURE_TEST_SUITE(test_session, SessionFixture)

BOOST_AUTO_TEST_CASE(non_report_mail_is_accepted_early_with_nothing_buffered)
{
  // No store, and a temp directory that does not exist with a 0-byte memory buffer:
  // touching the store or buffering one byte would show (tempfail, system_error).
  start("MemoryBufferSize 0\n", /*withStore=*/false, /*readOnlyStore=*/false, tmpDir() + "/missing");
  ConnectionContext conn(*runtime, "192.0.2.10");
  FakeMilterApi api;
  Message plain;
  plain.rcpts = {"<bob@example.test>", "<carol@other.test>"};
  plain.headers.emplace_back("X-DMARCwatch", "stored; reports=1; records=2; messages=7");

  Sent got = send(conn, api, plain);
  BOOST_CHECK_EQUAL(got.verdict, Verdict::Accept);
  BOOST_CHECK_EQUAL(got.stage, "data");
  // MTAs without the DATA callback: the first header, or eoh when there is none.
  got = send(conn, api, plain, /*withData=*/false);
  BOOST_CHECK_EQUAL(got.verdict, Verdict::Accept);
  BOOST_CHECK_EQUAL(got.stage, "header");
  plain.headers.clear();
  got = send(conn, api, plain, /*withData=*/false);
  BOOST_CHECK_EQUAL(got.verdict, Verdict::Accept);
  BOOST_CHECK_EQUAL(got.stage, "eoh");
  checkCalls(api, {});

  // The probe works: a report message under this config does need the temp directory.
  Message report;
  BOOST_CHECK_THROW(send(conn, api, report), std::system_error);
}

BOOST_AUTO_TEST_CASE(report_is_stored_and_gets_the_header)
{
  start();
  ConnectionContext conn(*runtime, "192.0.2.10");
  FakeMilterApi api;
  Sent got = send(conn, api, Message{});
  BOOST_CHECK_EQUAL(got.verdict, Verdict::Accept);
  BOOST_CHECK_EQUAL(got.stage, "eom");
  checkCalls(api, {"addHeader X-DMARCwatch: stored; reports=1; records=2; messages=7; auth=unauthenticated; auth-reason=\"mail not checked\""});
  BOOST_CHECK_EQUAL(storedReports(), 1U);
  BOOST_CHECK_EQUAL(log.count({"report message", "qid=QTEST", "report_id=rid-1", "outcome=stored", "action=keep"}), 1U);

  // The same report again: a duplicate, nothing new stored.
  api.calls.clear();
  got = send(conn, api, Message{});
  BOOST_CHECK_EQUAL(got.verdict, Verdict::Accept);
  checkCalls(api, {"addHeader X-DMARCwatch: duplicate; reports=1; records=2; messages=7; auth=unauthenticated; auth-reason=\"mail not checked\""});
  BOOST_CHECK_EQUAL(storedReports(), 1U);
}

BOOST_AUTO_TEST_CASE(forged_result_headers_are_deleted_before_ours_is_added)
{
  start();
  ConnectionContext conn(*runtime, "192.0.2.10");
  FakeMilterApi api;
  Message m;
  m.headers.insert(m.headers.begin(), {"X-DMARCwatch", "stored; reports=9; records=9; messages=9"});
  m.headers.emplace_back("x-dmarcwatch", "duplicate");
  m.headers.emplace_back("X-DMARCwatch-Other", "not ours");
  Sent got = send(conn, api, m);
  BOOST_CHECK_EQUAL(got.verdict, Verdict::Accept);
  // Last first, so the indexes hold whether or not the MTA renumbers.
  checkCalls(api, {"deleteHeader X-DMARCwatch 2", "deleteHeader X-DMARCwatch 1",
                   "addHeader X-DMARCwatch: stored; reports=1; records=2; messages=7; auth=unauthenticated; auth-reason=\"mail not checked\""});
  BOOST_CHECK_EQUAL(log.count({"forged result header removed", "headers=2"}), 1U);

  // The count is per message: the next one (no forged header) deletes nothing.
  api.calls.clear();
  send(conn, api, Message{});
  checkCalls(api, {"addHeader X-DMARCwatch: duplicate; reports=1; records=2; messages=7; auth=unauthenticated; auth-reason=\"mail not checked\""});
}

BOOST_AUTO_TEST_CASE(discard_with_only_the_rua_recipient_discards)
{
  start("ReportAction discard\n");
  ConnectionContext conn(*runtime, "192.0.2.10");
  FakeMilterApi api;
  Sent got = send(conn, api, Message{});
  BOOST_CHECK_EQUAL(got.verdict, Verdict::Discard);
  checkCalls(api, {});
  BOOST_CHECK_EQUAL(storedReports(), 1U);
  BOOST_CHECK_EQUAL(log.count({"report message", "outcome=stored", "action=discard"}), 1U);
}

BOOST_AUTO_TEST_CASE(discard_with_other_recipients_deletes_only_the_rua)
{
  start("ReportAction discard\n");
  ConnectionContext conn(*runtime, "192.0.2.10");
  FakeMilterApi api;
  Message m;
  m.rcpts = {"<bob@example.test>", "<RUA@Example.TEST>", "<carol@other.test>"};
  Sent got = send(conn, api, m);
  BOOST_CHECK_EQUAL(got.verdict, Verdict::Accept);
  // As the MTA sent it (smfi_delrcpt compares it with what it has), and no header.
  checkCalls(api, {"deleteRecipient <RUA@Example.TEST>"});
  BOOST_CHECK_EQUAL(storedReports(), 1U);
  BOOST_CHECK_EQUAL(log.count({"report message", "outcome=stored", "action=delrcpt"}), 1U);
}

BOOST_AUTO_TEST_CASE(parse_failure_is_kept_with_the_error_header)
{
  start("ReportAction discard\n"); // never discards what it could not store
  ConnectionContext conn(*runtime, "192.0.2.10");
  FakeMilterApi api;
  Message m;
  m.body = "<?xml version=\"1.0\"?><feedback><report_metadata><org_name>x</org_name>";
  Sent got = send(conn, api, m);
  BOOST_CHECK_EQUAL(got.verdict, Verdict::Accept);
  BOOST_REQUIRE_EQUAL(api.calls.size(), 1U);
  BOOST_CHECK_MESSAGE(api.calls[0].starts_with("addHeader X-DMARCwatch: error; "), "got " << api.calls[0]);
  BOOST_CHECK_EQUAL(storedReports(), 0U);
  BOOST_CHECK_EQUAL(log.count({"report message not stored", "qid=QTEST", "outcome=error", "action=keep"}), 1U);
}

BOOST_AUTO_TEST_CASE(message_over_max_message_size_is_kept_with_the_error)
{
  start("MaxMessageSize 64K\nMemoryBufferSize 1K\n");
  ConnectionContext conn(*runtime, "192.0.2.10");
  FakeMilterApi api;
  Message m;
  m.body += std::string(70 * 1024, 'x');
  Sent got = send(conn, api, m);
  BOOST_CHECK_EQUAL(got.verdict, Verdict::Accept);
  checkCalls(api, {"addHeader X-DMARCwatch: error; message larger than MaxMessageSize (65536 bytes)"});
  BOOST_CHECK_EQUAL(storedReports(), 0U);
  // The spilled temp file was unlinked at creation: nothing in TempDirectory.
  BOOST_CHECK(std::filesystem::is_empty(tmpDir()));
}

BOOST_AUTO_TEST_CASE(abort_drops_the_message_in_progress)
{
  start("MemoryBufferSize 1K\n");
  ConnectionContext conn(*runtime, "192.0.2.10");
  FakeMilterApi api;
  BOOST_CHECK_EQUAL(conn.onEnvFrom(api, "<noreply@google.com>"), Verdict::Continue);
  BOOST_CHECK_EQUAL(conn.onEnvRcpt(api, "<rua@example.test>"), Verdict::Continue);
  BOOST_CHECK_EQUAL(conn.onData(api), Verdict::Continue);
  for (const auto& [name, value] : reportHeaders()) {
    conn.onHeader(api, name, value);
  }
  conn.onEndOfHeaders(api);
  std::string body = reportXml("rid-aborted") + std::string(4096, ' ');
  BOOST_CHECK_EQUAL(conn.onBody(api, body), Verdict::Continue);
  conn.onAbort();

  // An end of message with no message in progress stores nothing.
  BOOST_CHECK_EQUAL(conn.onEndOfMessage(api), Verdict::Accept);
  checkCalls(api, {});
  BOOST_CHECK_EQUAL(storedReports(), 0U);

  // The connection goes on: the next message starts fresh (no recipient carried over).
  Message next;
  next.rcpts = {"<bob@example.test>"};
  BOOST_CHECK_EQUAL(send(conn, api, next).verdict, Verdict::Accept);
  checkCalls(api, {});
  BOOST_CHECK(std::filesystem::is_empty(tmpDir()));
}

BOOST_AUTO_TEST_CASE(store_error_tempfails_with_the_451_reply)
{
  start("", /*withStore=*/true, /*readOnlyStore=*/true);
  ConnectionContext conn(*runtime, "192.0.2.10");
  FakeMilterApi api;
  Sent got = send(conn, api, Message{});
  BOOST_CHECK_EQUAL(got.verdict, Verdict::Tempfail);
  BOOST_CHECK_EQUAL(got.stage, "eom");
  checkCalls(api, {"setReply 451 4.3.0 dmarcwatch: cannot store the report now, try again later"});
  BOOST_CHECK_EQUAL(log.count({"report message not stored", "qid=QTEST", "outcome=store-error", "action=tempfail"}),
                    1U);
}

BOOST_AUTO_TEST_CASE(store_error_with_on_store_error_accept_keeps_the_mail)
{
  start("OnStoreError accept\n", /*withStore=*/true, /*readOnlyStore=*/true);
  ConnectionContext conn(*runtime, "192.0.2.10");
  FakeMilterApi api;
  Message m;
  m.headers.emplace_back("X-DMARCwatch", "stored");
  Sent got = send(conn, api, m);
  BOOST_CHECK_EQUAL(got.verdict, Verdict::Accept);
  BOOST_REQUIRE_EQUAL(api.calls.size(), 2U);
  BOOST_CHECK_EQUAL(api.calls[0], "deleteHeader X-DMARCwatch 1");
  BOOST_CHECK_MESSAGE(api.calls[1].starts_with("addHeader X-DMARCwatch: error; store: "), "got " << api.calls[1]);
}

BOOST_AUTO_TEST_CASE(no_store_at_shutdown_tempfails)
{
  start("", /*withStore=*/false);
  ConnectionContext conn(*runtime, "192.0.2.10");
  FakeMilterApi api;
  Sent got = send(conn, api, Message{});
  BOOST_CHECK_EQUAL(got.verdict, Verdict::Tempfail);
  checkCalls(api, {"setReply 451 4.3.0 dmarcwatch: shutting down, try again later"});
}

BOOST_AUTO_TEST_CASE(failure_verdict_tempfails_report_mail_and_accepts_plain_mail)
{
  start();
  ConnectionContext conn(*runtime, "192.0.2.10");
  FakeMilterApi api;
  // A report message in progress: an exception means tempfail with a 451 reply.
  conn.onEnvFrom(api, "<noreply@google.com>");
  conn.onEnvRcpt(api, "<rua@example.test>");
  BOOST_CHECK_EQUAL(conn.failureVerdict(&api, "body", "disk full"), Verdict::Tempfail);
  checkCalls(api, {"setReply 451 4.3.0 dmarcwatch: internal error, try again later"});
  // Mail already known not to be a report is never held up.
  api.calls.clear();
  conn.onEnvFrom(api, "<alice@sender.test>");
  conn.onEnvRcpt(api, "<bob@example.test>");
  BOOST_CHECK_EQUAL(conn.onData(api), Verdict::Accept);
  BOOST_CHECK_EQUAL(conn.failureVerdict(&api, "eom", "oops"), Verdict::Accept);
  checkCalls(api, {});
}

BOOST_AUTO_TEST_CASE(waived_steps_answer_no_reply_and_keep_a_decision_for_the_next_reply)
{
  // No temp directory and a 0-byte memory buffer: the first header of a report throws.
  start("MemoryBufferSize 0\n", /*withStore=*/true, /*readOnlyStore=*/false, tmpDir() + "/missing");
  ConnectionContext conn(*runtime, "unknown");
  conn.setNoReplySteps(Step::Connect | Step::EnvFrom | Step::EnvRcpt | Step::Header | Step::EndOfHeaders);
  FakeMilterApi api;
  auto header = [&](const char* name, const char* value) {
    return conn.step(Step::Header, api, "header", [&] { return conn.onHeader(api, name, value); });
  };
  auto begin = [&](const char* rcpt) {
    BOOST_CHECK_EQUAL(conn.step(Step::EnvFrom, api, "envfrom", [&] { return conn.onEnvFrom(api, "<a@b.test>"); }),
                      Verdict::NoReply);
    BOOST_CHECK_EQUAL(conn.step(Step::EnvRcpt, api, "envrcpt", [&] { return conn.onEnvRcpt(api, rcpt); }),
                      Verdict::NoReply);
  };
  auto data = [&] { return conn.step(Step::Data, api, "data", [&] { return conn.onData(api); }); };
  auto eoh = [&] { return conn.step(Step::EndOfHeaders, api, "eoh", [&] { return conn.onEndOfHeaders(api); }); };
  auto body = [&] { return conn.step(Step::Body, api, "body", [&] { return conn.onBody(api, "x"); }); };
  auto eom = [&] { return conn.step(Step::EndOfMessage, api, "eom", [&] { return conn.onEndOfMessage(api); }); };

  conn.onConnect("192.0.2.10");
  BOOST_CHECK_EQUAL(conn.step(Step::Connect, api, "connect", [] { return Verdict::Continue; }), Verdict::NoReply);

  // Plain mail: still accepted at DATA, which has its reply.
  begin("<bob@example.test>");
  BOOST_CHECK_EQUAL(data(), Verdict::Accept);

  // A report failing at its first header: no reply there; the rest of the message is
  // not run; the next step with a reply (here eom) gets the tempfail and its 451.
  begin("<rua@example.test>");
  BOOST_CHECK_EQUAL(data(), Verdict::Continue);
  BOOST_CHECK_EQUAL(header("From", "noreply@google.com"), Verdict::NoReply);
  BOOST_CHECK_EQUAL(header("To", "rua@example.test"), Verdict::NoReply);
  BOOST_CHECK_EQUAL(eoh(), Verdict::NoReply);
  BOOST_CHECK_EQUAL(eom(), Verdict::Tempfail);
  const std::string reply = "setReply 451 4.3.0 dmarcwatch: internal error, try again later";
  checkCalls(api, {reply, reply});
  BOOST_CHECK_EQUAL(log.count({"milter callback failed", "qid=QTEST", "stage=header", "action=tempfail"}), 1U);

  // Nothing carries over: the next message, and one after an abort, are decided afresh.
  api.calls.clear();
  begin("<bob@example.test>");
  BOOST_CHECK_EQUAL(data(), Verdict::Accept);
  begin("<rua@example.test>");
  BOOST_CHECK_EQUAL(data(), Verdict::Continue);
  BOOST_CHECK_EQUAL(header("From", "noreply@google.com"), Verdict::NoReply);
  conn.onAbort();
  begin("<bob@example.test>");
  BOOST_CHECK_EQUAL(data(), Verdict::Accept);
  // A new message forgets a decision kept by one the MTA ended without abort.
  begin("<rua@example.test>");
  BOOST_CHECK_EQUAL(data(), Verdict::Continue);
  BOOST_CHECK_EQUAL(header("From", "noreply@google.com"), Verdict::NoReply);
  begin("<bob@example.test>");
  BOOST_CHECK_EQUAL(data(), Verdict::Accept);

  // An MTA without the DATA step, header replies waived: plain mail is accepted at the
  // first step with a reply (the body).
  api.calls.clear();
  begin("<bob@example.test>");
  BOOST_CHECK_EQUAL(header("Subject", "plain"), Verdict::NoReply);
  BOOST_CHECK_EQUAL(eoh(), Verdict::NoReply);
  BOOST_CHECK_EQUAL(body(), Verdict::Accept);
  checkCalls(api, {});
  BOOST_CHECK_EQUAL(log.count({"milter callback failed"}), 3U); // one per report message above
  BOOST_CHECK_EQUAL(storedReports(), 0U);
}

BOOST_AUTO_TEST_CASE(without_waived_steps_step_answers_as_before)
{
  start();
  ConnectionContext conn(*runtime, "192.0.2.10");
  FakeMilterApi api;
  BOOST_CHECK_EQUAL(conn.noReplySteps(), 0U);
  BOOST_CHECK_EQUAL(conn.step(Step::EnvFrom, api, "envfrom", [&] { return conn.onEnvFrom(api, "<a@b.test>"); }),
                    Verdict::Continue);
  BOOST_CHECK_EQUAL(conn.step(Step::EnvRcpt, api, "envrcpt", [&] { return conn.onEnvRcpt(api, "<rua@example.test>"); }),
                    Verdict::Continue);
  // An exception becomes the failure verdict, answered at once.
  BOOST_CHECK_EQUAL(conn.step(Step::Header, api, "header", []() -> Verdict { throw std::runtime_error("boom"); }),
                    Verdict::Tempfail);
  checkCalls(api, {"setReply 451 4.3.0 dmarcwatch: internal error, try again later"});
  // The end of message is never waived.
  conn.setNoReplySteps(Step::Body | Step::EndOfMessage);
  BOOST_CHECK_EQUAL(conn.noReplySteps(), static_cast<unsigned>(Step::Body));
}

// ------------------------------------------------------- header bytes (issue 14)

BOOST_AUTO_TEST_CASE(header_fields_are_kept_as_sent_when_the_mta_keeps_the_leading_space)
{
  start();
  auto checks = std::make_shared<CheckLog>();
  runtime->setMailCheckFactory(recordingChecks(checks));
  ConnectionContext conn(*runtime, "unknown");
  conn.setLeadingSpace(true);
  FakeMilterApi api;
  Message m;
  // SMFIP_HDR_LEADSPC: the value is everything after the colon (Postfix folds with a bare LF).
  m.headers = {{"From", " noreply@google.com"}, {"Subject", "no-space"}, {"Subject", "\ttab"},
               {"X-Folded", " first\n\tsecond\r\n third"}, {"To", "  rua@example.test"},
               {"MIME-Version", " 1.0"}, {"Content-Type", " text/xml"}};
  BOOST_CHECK_EQUAL(send(conn, api, m).verdict, Verdict::Accept);
  BOOST_REQUIRE_EQUAL(checks->messages.size(), 1U);
  const std::string& got = checks->messages[0];
  BOOST_CHECK(got.find("\r\nSubject:no-space\r\nSubject:\ttab\r\nX-Folded: first\r\n\tsecond\r\n third\r\nTo:  rua@") !=
              std::string::npos);
  BOOST_CHECK_EQUAL(got, headerBytes(m.headers, /*leadingSpace=*/true) + m.body);
  BOOST_CHECK(!checks->approximate[0]);
  BOOST_CHECK_EQUAL(log.count({"report headers approximate"}), 0U);
  BOOST_CHECK_EQUAL(storedReports(), 1U); // the same bytes went to the Ingester
}

BOOST_AUTO_TEST_CASE(without_leading_space_headers_are_rebuilt_and_marked_approximate)
{
  start();
  auto checks = std::make_shared<CheckLog>();
  runtime->setMailCheckFactory(recordingChecks(checks));
  FakeMilterApi api;
  Message m;
  // What the MTA sends after eating one space: "Subject:no-space" and "Subject: no-space" alike.
  m.headers.emplace_back("Subject", "no-space");
  m.headers.emplace_back("Subject", "\ttab");
  {
    ConnectionContext conn(*runtime, "unknown");
    BOOST_CHECK(!conn.leadingSpace());
    BOOST_CHECK_EQUAL(send(conn, api, m).verdict, Verdict::Accept);
    m.body = reportXml("rid-2");
    BOOST_CHECK_EQUAL(send(conn, api, m).verdict, Verdict::Accept);
  }
  BOOST_REQUIRE_EQUAL(checks->messages.size(), 2U);
  BOOST_CHECK(checks->messages[0].find("\r\nSubject: no-space\r\nSubject: \ttab\r\n") != std::string::npos);
  BOOST_CHECK_EQUAL(checks->messages[1], headerBytes(m.headers, /*leadingSpace=*/false) + m.body);
  BOOST_CHECK(checks->approximate[0] && checks->approximate[1]);
  // Logged once per connection.
  BOOST_CHECK_EQUAL(log.count({"report headers approximate", "qid=QTEST", "SMFIP_HDR_LEADSPC"}), 1U);
  ConnectionContext other(*runtime, "unknown");
  m.body = reportXml("rid-3");
  send(other, api, m);
  BOOST_CHECK_EQUAL(log.count({"report headers approximate"}), 2U);
  BOOST_CHECK_EQUAL(storedReports(), 3U);
}

// ------------------------------------------------------------ the envelope

BOOST_AUTO_TEST_CASE(envelope_has_the_client_address_the_helo_name_and_mail_from)
{
  start();
  auto checks = std::make_shared<CheckLog>();
  runtime->setMailCheckFactory(recordingChecks(checks));
  FakeMilterApi api;
  ConnectionContext conn(*runtime, "unknown");
  conn.onConnect("192.0.2.10");
  conn.onHelo("mail-sor-f41.google.com");
  Message m;
  m.from = "<noreply-dmarc-support@google.com>";
  send(conn, api, m);
  // The null sender; a second HELO replaces the name.
  conn.onHelo("mx.second.test");
  m.from = "<>";
  m.body = reportXml("rid-null");
  send(conn, api, m);
  // A local (unix socket) client has no address; Sendmail's "IPv6:" prefix is dropped.
  ConnectionContext local(*runtime, "unknown");
  local.onConnect("local");
  m.body = reportXml("rid-local");
  send(local, api, m);
  ConnectionContext v6(*runtime, "unknown");
  v6.onConnect("IPv6:2001:DB8::1");
  v6.onHelo(std::string(2000, 'h'));
  m.from = "noreply@google.com"; // without brackets: taken as is
  m.body = reportXml("rid-v6");
  send(v6, api, m);

  BOOST_REQUIRE_EQUAL(checks->envelopes.size(), 4U);
  const MailEnvelope& first = checks->envelopes[0];
  BOOST_REQUIRE(first.client);
  BOOST_CHECK_EQUAL(first.client->toString(), "192.0.2.10");
  BOOST_CHECK_EQUAL(first.helo, "mail-sor-f41.google.com");
  BOOST_CHECK_EQUAL(first.mailFrom, "noreply-dmarc-support@google.com");
  BOOST_CHECK_EQUAL(checks->envelopes[1].mailFrom, "");
  BOOST_CHECK_EQUAL(checks->envelopes[1].helo, "mx.second.test");
  BOOST_CHECK(!checks->envelopes[2].client);
  BOOST_CHECK_EQUAL(checks->envelopes[2].helo, "");
  BOOST_REQUIRE(checks->envelopes[3].client);
  BOOST_CHECK_EQUAL(checks->envelopes[3].client->toString(), "2001:db8::1");
  BOOST_CHECK_EQUAL(checks->envelopes[3].helo.size(), 512U); // capped
  BOOST_CHECK_EQUAL(checks->envelopes[3].mailFrom, "noreply@google.com");
  BOOST_CHECK_EQUAL(log.count({"report message", "client=192.0.2.10", "report_id=rid-1"}), 1U);
}

// ------------------------------------------------------ the per-thread check

BOOST_AUTO_TEST_CASE(mail_check_is_made_once_per_thread_configuration_and_factory)
{
  start();
  auto checks = std::make_shared<CheckLog>();
  runtime->setMailCheckFactory(recordingChecks(checks));
  FakeMilterApi api;
  int reportNumber = 0;
  auto oneReport = [&](ConnectionContext& conn) {
    Message m;
    m.body = reportXml("rid-t" + std::to_string(++reportNumber));
    BOOST_CHECK_EQUAL(send(conn, api, m).verdict, Verdict::Accept);
  };
  ConnectionContext conn(*runtime, "unknown");
  oneReport(conn);
  oneReport(conn);
  ConnectionContext second(*runtime, "unknown"); // same config: same check
  oneReport(second);
  BOOST_CHECK_EQUAL(checks->madeOn.size(), 1U);
  // Another thread makes its own, on that thread.
  std::thread::id workerId;
  std::thread worker([&] {
    workerId = std::this_thread::get_id();
    ConnectionContext onWorker(*runtime, "unknown");
    oneReport(onWorker);
  });
  worker.join();
  BOOST_REQUIRE_EQUAL(checks->madeOn.size(), 2U);
  BOOST_CHECK(checks->madeOn[0] == std::this_thread::get_id());
  BOOST_CHECK(checks->madeOn[1] == workerId);
  // A reload (connections from now on hold the new Config), then a new factory: made again.
  runtime->setConfig(parseConfig("ReportAddress rua@example.test\nTempDirectory " + tmpDir() + "\n", "reload.conf"));
  ConnectionContext reloaded(*runtime, "unknown");
  oneReport(reloaded);
  BOOST_CHECK_EQUAL(checks->madeOn.size(), 3U);
  oneReport(conn); // a connection older than the reload keeps its Config: made again for it
  BOOST_CHECK_EQUAL(checks->madeOn.size(), 4U);
  auto other = std::make_shared<CheckLog>();
  runtime->setMailCheckFactory(recordingChecks(other));
  oneReport(conn);
  BOOST_CHECK_EQUAL(other->madeOn.size(), 1U);
  BOOST_CHECK_EQUAL(checks->messages.size(), 6U);
  BOOST_CHECK_EQUAL(other->messages.size(), 1U);
  // No factory: no check, and the reports are stored all the same.
  runtime->setMailCheckFactory({});
  oneReport(conn);
  BOOST_CHECK_EQUAL(other->messages.size(), 1U);
  BOOST_CHECK_EQUAL(storedReports(), 8U);
}

// ------------------------------------------------ verdicts, header, log line

BOOST_AUTO_TEST_CASE(each_verdict_reaches_the_header_and_the_log_line)
{
  start("UntrustedReports quarantine\nUnauthenticatedReports flag\nReporterReportsPerDay 77\n");
  auto seen = std::make_shared<IngestTrust>();
  runtime->setIngestStep(judgingIngest(seen));
  struct Case
  {
    ReportVerdict verdict;
    std::string header;
    std::array<std::string_view, 3> logged;
  };
  const std::vector<Case> cases = {
    {{Authenticity::Authenticated, "dmarc=pass (p=reject)"},
     "stored; reports=1; records=2; messages=7; auth=authenticated",
     {"auth=authenticated", "auth_reason=\"dmarc=pass (p=reject)\"", "state=counted"}},
    {{Authenticity::Forged, "dkim=fail \"bad\\sig\" (d=evil.test)"},
     "stored; reports=1; records=2; messages=7; auth=forged; auth-reason=\"dkim=fail 'bad'sig' (d=evil.test)\"",
     {"auth=forged", "auth_reason=\"dkim=fail \\\"bad\\\\sig\\\" (d=evil.test)\"", "state=counted"}},
    {{Authenticity::Unauthenticated, "no DKIM signature; spf=none"},
     "stored; reports=1; records=2; messages=7; auth=unauthenticated; auth-reason=\"no DKIM signature; spf=none\"",
     {"auth=unauthenticated", "auth_reason=\"no DKIM signature; spf=none\"", "state=counted"}},
    {{Authenticity::Unauthenticated, ""},
     "stored; reports=1; records=2; messages=7; auth=unauthenticated",
     {"auth=unauthenticated", "auth_reason=\"\"", "state_reason=\"\""}},
  };
  int n = 0;
  for (const auto& c : cases) {
    BOOST_TEST_CONTEXT("verdict " << authenticityName(c.verdict.authenticity) << " " << c.verdict.reason)
    {
      runtime->setMailCheckFactory(recordingChecks(std::make_shared<CheckLog>(), c.verdict));
      ConnectionContext conn(*runtime, "192.0.2.10");
      FakeMilterApi api;
      Message m;
      std::string reportId = "rid-v" + std::to_string(++n);
      m.body = reportXml(reportId);
      BOOST_CHECK_EQUAL(send(conn, api, m).verdict, Verdict::Accept);
      checkCalls(api, {"addHeader X-DMARCwatch: " + c.header});
      const std::string idNeedle = "report_id=" + reportId;
      BOOST_CHECK_EQUAL(log.count({"info: report message", idNeedle, "action=keep", c.logged[0], c.logged[1], c.logged[2]}),
                        1U);
    }
  }
  // The milter passed the configured actions and limits on, with the judge.
  BOOST_CHECK(seen->checkMail);
  BOOST_CHECK(seen->forged == UntrustedAction::Quarantine);
  BOOST_CHECK(seen->unauthenticated == UntrustedAction::Flag);
  BOOST_CHECK_EQUAL(seen->limits.reporterReports, 77U);
  BOOST_CHECK_EQUAL(storedReports(), 4U);
  // Without a check there is no judge to pass on.
  runtime->setMailCheckFactory({});
  ConnectionContext conn(*runtime, "192.0.2.10");
  FakeMilterApi api;
  Message m;
  m.body = reportXml("rid-nocheck");
  send(conn, api, m);
  BOOST_CHECK(!seen->checkMail);
  checkCalls(api, {"addHeader X-DMARCwatch: stored; reports=1; records=2; messages=7; auth=unauthenticated; auth-reason=\"mail not checked\""});
}

BOOST_AUTO_TEST_CASE(header_gives_the_worst_verdict_of_the_message_with_its_reason_capped)
{
  IngestOutcome outcome;
  outcome.reports.push_back(madeReport("a", Authenticity::Authenticated, "dmarc=pass"));
  outcome.reports.push_back(madeReport("b", Authenticity::Unauthenticated, ""));
  BOOST_CHECK_EQUAL(resultHeaderValue(outcome), "stored; reports=2; records=4; messages=14; auth=unauthenticated");
  outcome.reports.push_back(madeReport("c", Authenticity::Forged, "first\x01\r\n" + std::string(300, 'x')));
  outcome.reports.push_back(madeReport("d", Authenticity::Forged, "second"));
  std::string got = resultHeaderValue(outcome);
  const std::string prefix = "stored; reports=4; records=8; messages=28; auth=forged; auth-reason=\"first???xxx";
  BOOST_CHECK_MESSAGE(got.starts_with(prefix), "got " << got);
  BOOST_CHECK_MESSAGE(got.ends_with("...\""), "got " << got);
  BOOST_CHECK_LE(got.size(), prefix.size() + 160);
  // A failed message with a report says the report's verdict too; without reports, no verdict.
  IngestOutcome failed;
  failed.errors.emplace_back("zip: bad member");
  failed.reports.push_back(madeReport("a", Authenticity::Authenticated, "dmarc=pass"));
  BOOST_CHECK_EQUAL(resultHeaderValue(failed), "error; zip: bad member; reports=1; auth=authenticated");
  failed.reports.clear();
  BOOST_CHECK_EQUAL(resultHeaderValue(failed), "error; zip: bad member");
  // An error's text comes from the mail: it never adds a parameter (or a quote) of its own.
  failed.errors.front() = "bad <x a=\"1; spf=pass smtp.mailfrom=google.com\">";
  BOOST_CHECK_EQUAL(resultHeaderValue(failed), "error; bad <x a='1, spf=pass smtp.mailfrom=google.com'>");
}

BOOST_AUTO_TEST_CASE(header_records_the_spf_the_milter_checked)
{
  // ReportMailCheck sets it only when SPF was checked from a client address (recorded-spf.hh).
  IngestOutcome outcome;
  outcome.reports.push_back(madeReport("a", Authenticity::Unauthenticated, "no signature"));
  outcome.reports.back().verdict.spf = "spf=pass smtp.mailfrom=bounce.example.net";
  BOOST_CHECK_EQUAL(resultHeaderValue(outcome), "stored; reports=1; records=2; messages=7; auth=unauthenticated; "
                                                "spf=pass smtp.mailfrom=bounce.example.net; auth-reason=\"no signature\"");
}

BOOST_AUTO_TEST_CASE(a_rejected_forged_report_answers_550_with_the_reason)
{
  start("UntrustedReports reject\nReportAction discard\n");
  runtime->setIngestStep(fixedIngest([] {
    IngestOutcome outcome = refusedOutcome("rid-forged", {Authenticity::Forged, "dkim=fail (d=evil.test) 100%"},
                                           "UntrustedReports reject");
    outcome.reports.insert(outcome.reports.begin(), madeReport("rid-ok", Authenticity::Authenticated, "dmarc=pass"));
    return outcome;
  }));
  ConnectionContext conn(*runtime, "192.0.2.10");
  FakeMilterApi api;
  Message m;
  m.headers.emplace_back("X-DMARCwatch", "stored"); // the mail is refused: nothing is edited
  Sent got = send(conn, api, m);
  BOOST_CHECK_EQUAL(got.verdict, Verdict::Reject);
  BOOST_CHECK_EQUAL(got.stage, "eom");
  checkCalls(api, {"setReply 550 5.7.1 dmarcwatch: forged report: dkim=fail (d=evil.test) 100?"});
  BOOST_CHECK_EQUAL(log.count({"report message", "report_id=rid-forged", "outcome=rejected", "auth=forged",
                               "state=rejected", "state_reason=\"UntrustedReports reject\"", "action=reject"}),
                    1U);
  BOOST_CHECK_EQUAL(log.count({"report message", "report_id=rid-ok", "auth=authenticated", "action=reject"}), 1U);
}

BOOST_AUTO_TEST_CASE(a_report_over_a_sender_limit_tempfails_with_451_whatever_on_store_error_says)
{
  start("OnStoreError accept\nOverLimitAction tempfail\n");
  // The store's refusal as an exception; the first over the limit that day carries the notice.
  const std::string limit = "over ReporterReportsPerDay (10) for google.com on 2026-12-07";
  bool first = true;
  runtime->setIngestStep(fixedIngest([&]() -> IngestOutcome {
    throw SenderLimitExceeded(limit, std::exchange(first, false) ? limit : "");
  }));
  const std::string reply = "setReply 451 4.7.1 dmarcwatch: sender over its daily limit";
  for (int i = 0; i < 2; ++i) {
    ConnectionContext conn(*runtime, "192.0.2.10");
    FakeMilterApi api;
    Sent got = send(conn, api, Message{});
    BOOST_CHECK_EQUAL(got.verdict, Verdict::Tempfail);
    checkCalls(api, {reply});
  }
  BOOST_CHECK_EQUAL(log.count({"warning: report message deferred", "outcome=sender-limit",
                               "error=\"" + limit + "\"", "action=tempfail"}),
                    2U);
  BOOST_CHECK_EQUAL(log.count({"warning: sender limit reached", "limit=\"" + limit + "\""}), 1U);
  FakeMilterApi api;
  Sent got;
  // ... or as a rejected report that is not forged: the same answer.
  api.calls.clear();
  runtime->setIngestStep(
    fixedIngest([] { return refusedOutcome("rid-over", {Authenticity::Unauthenticated, ""}, "DomainReportsPerDay"); }));
  ConnectionContext again(*runtime, "192.0.2.10");
  got = send(again, api, Message{});
  BOOST_CHECK_EQUAL(got.verdict, Verdict::Tempfail);
  checkCalls(api, {reply});
  BOOST_CHECK_EQUAL(log.count({"report message", "report_id=rid-over", "state=rejected", "action=tempfail"}), 1U);
  // A plain StoreError under OnStoreError accept still keeps the mail (the limit is not a store failure).
  api.calls.clear();
  // Its text is unquoted header text like the other errors': no ';' (a parameter) and no '"'.
  runtime->setIngestStep(
    fixedIngest([]() -> IngestOutcome { throw StoreError("commit", 28, "disk full; \"x\"=y"); }));
  ConnectionContext third(*runtime, "192.0.2.10");
  BOOST_CHECK_EQUAL(send(third, api, Message{}).verdict, Verdict::Accept);
  BOOST_REQUIRE_EQUAL(api.calls.size(), 1U);
  const std::string prefix = "addHeader X-DMARCwatch: error; store: ";
  BOOST_CHECK(api.calls[0].starts_with(prefix));
  BOOST_CHECK_MESSAGE(api.calls[0].find_first_of(";\"", prefix.size()) == std::string::npos, "got " << api.calls[0]);
}

BOOST_AUTO_TEST_CASE(quarantine_and_a_limit_first_passed_are_logged)
{
  start();
  runtime->setIngestStep(fixedIngest([] {
    IngestOutcome outcome;
    ReportOutcome report = madeReport("rid-q", Authenticity::Authenticated, "dmarc=pass");
    report.quarantined = true;
    report.stateReason = "ReporterReportsPerDay 10 reached";
    report.limitNotice = "reporter google.com: ReporterReportsPerDay 10";
    outcome.reports.push_back(report);
    return outcome;
  }));
  ConnectionContext conn(*runtime, "192.0.2.10");
  FakeMilterApi api;
  BOOST_CHECK_EQUAL(send(conn, api, Message{}).verdict, Verdict::Accept);
  checkCalls(api, {"addHeader X-DMARCwatch: stored; reports=1; records=2; messages=7; auth=authenticated"});
  BOOST_CHECK_EQUAL(log.count({"info: report message", "report_id=rid-q", "state=quarantined",
                               "state_reason=\"ReporterReportsPerDay 10 reached\"", "action=keep"}),
                    1U);
  BOOST_CHECK_EQUAL(log.count({"warning: sender limit reached", "qid=QTEST", "reporter=google.com",
                               "domain=example.test", "limit=\"reporter google.com: ReporterReportsPerDay 10\""}),
                    1U);
}

BOOST_AUTO_TEST_CASE(a_failing_check_makes_the_reports_unauthenticated_never_a_failed_mail)
{
  start();
  runtime->setIngestStep(judgingIngest());
  FakeMilterApi api;
  auto header = [&](const std::string& reportId) {
    api.calls.clear();
    ConnectionContext conn(*runtime, "192.0.2.10");
    Message m;
    m.body = reportXml(reportId);
    BOOST_CHECK_EQUAL(send(conn, api, m).verdict, Verdict::Accept);
    return api.calls.size() == 1 ? api.calls[0] : "calls: " + std::to_string(api.calls.size());
  };
  // The check throws (a DNS time-out the check did not turn into a verdict, say).
  runtime->setMailCheckFactory([](const Config&) {
    return MailCheck([](std::string_view, const MailEnvelope&, bool) -> ReportJudge {
      throw std::runtime_error("resolver: timed out");
    });
  });
  BOOST_CHECK_EQUAL(header("rid-c1"), "addHeader X-DMARCwatch: stored; reports=1; records=2; messages=7; "
                                      "auth=unauthenticated; auth-reason=\"mail check failed: resolver: timed out\"");
  BOOST_CHECK_EQUAL(log.count({"warning: report mail not checked", "resolver: timed out"}), 1U);
  // The factory throws (no resolver): the same, and it is tried again at the next mail.
  int attempts = 0;
  runtime->setMailCheckFactory([&attempts](const Config&) -> MailCheck {
    ++attempts;
    throw std::runtime_error("no resolver");
  });
  BOOST_CHECK(header("rid-c2").ends_with("auth-reason=\"mail check failed: no resolver\""));
  BOOST_CHECK(header("rid-c3").ends_with("auth-reason=\"mail check failed: no resolver\""));
  BOOST_CHECK_EQUAL(attempts, 2);
  BOOST_CHECK_EQUAL(storedReports(), 3U);
}

BOOST_AUTO_TEST_SUITE_END()
