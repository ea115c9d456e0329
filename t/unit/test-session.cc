// test-session.cc - milter/session.cc driven through a recording fake MilterApi:
// the verdicts, header/recipient changes and SMTP replies of each outcome, with
// a real Store (no mocks of the store; a read-only one makes a real StoreError).
#define BOOST_TEST_DYN_LINK
#define BOOST_TEST_NO_MAIN
#include <boost/test/unit_test.hpp>

#include "collector/common/config.hh"
#include "collector/common/log.hh"
#include "collector/store/store.hh"
#include "milter/session.hh"
#include "t/unit/log-capture.hh"
#include "t/unit/test-util.hh"

#include <map>
#include <stdexcept>
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
  if (!step(out, "envfrom", conn.onEnvFrom(api, "<noreply@google.com>"))) {
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
  checkCalls(api, {"addHeader X-DMARCwatch: stored; reports=1; records=2; messages=7"});
  BOOST_CHECK_EQUAL(storedReports(), 1U);
  BOOST_CHECK_EQUAL(log.count({"report message", "qid=QTEST", "report_id=rid-1", "outcome=stored", "action=keep"}), 1U);

  // The same report again: a duplicate, nothing new stored.
  api.calls.clear();
  got = send(conn, api, Message{});
  BOOST_CHECK_EQUAL(got.verdict, Verdict::Accept);
  checkCalls(api, {"addHeader X-DMARCwatch: duplicate; reports=1; records=2; messages=7"});
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
                   "addHeader X-DMARCwatch: stored; reports=1; records=2; messages=7"});
  BOOST_CHECK_EQUAL(log.count({"forged result header removed", "headers=2"}), 1U);

  // The count is per message: the next one (no forged header) deletes nothing.
  api.calls.clear();
  send(conn, api, Message{});
  checkCalls(api, {"addHeader X-DMARCwatch: duplicate; reports=1; records=2; messages=7"});
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

BOOST_AUTO_TEST_SUITE_END()
