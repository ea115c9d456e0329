/*
 * test-report-trust.cc - the reporter catalog (parse, errors, look-ups, the shipped file) and
 * judgeReport's rules, and the shipped catalog against the real report mails of the corpus.
 */
#define BOOST_TEST_NO_MAIN
#include <boost/test/unit_test.hpp>

#include "collector/auth/report-check.hh"
#include "collector/auth/report-trust.hh"
#include "collector/common/errors.hh"
#include "collector/common/text.hh"
#include "collector/intake/mime.hh"
#include "collector/intake/report-parser.hh"
#include "collector/intake/unpack.hh"
#include "t/unit/psl-fixture.hh"
#include "t/unit/test-util.hh"

#include <filesystem>
#include <set>

using namespace dmarcwatch::collector;
using dmarcwatch::test::testPsl;

namespace
{

const char* const c_catalog = "# test catalog\n"
                              "reporter google\n"
                              "name google.com\n"
                              "name Google,  Inc.\n"
                              "email-domain google.com\n"
                              "mail-domain google.com\n"
                              "\n"
                              "reporter yahoo\n"
                              "name Yahoo! Inc.\n"
                              "email-domain yahooinc.com\n"
                              "email-domain Yahoo.com\n"
                              "mail-domain yahoo.com\n"
                              "mail-domain yahooinc.com\n"
                              "reporter shop-uk\n"
                              "name Shop UK\n"
                              "mail-domain mail.shop.co.uk\n";

const ReporterCatalog& testCatalog()
{
  static const ReporterCatalog s_catalog = ReporterCatalog::fromText(c_catalog, "test.conf");
  return s_catalog;
}

ReportMetadata report(std::string orgName, std::string email)
{
  ReportMetadata m;
  m.orgName = std::move(orgName);
  m.email = std::move(email);
  return m;
}

//! What the checks give a mail From fromDomain with one passing signature d=dkimDomain (aligned
//! when it shares the From's organizational domain) and a DMARC record.
MessageAuth passing(const std::string& fromDomain, const std::string& dkimDomain)
{
  MessageAuth a;
  a.fromDomain = fromDomain;
  a.dkim = "pass";
  a.signatures.push_back({dkimDomain, "s1", "pass", "", 2048});
  a.dkimAligned = testPsl().organizationalDomain(fromDomain) == testPsl().organizationalDomain(dkimDomain);
  a.dmarc = a.dkimAligned ? "pass" : "fail";
  a.dmarcPolicy = "reject";
  a.provenDomains = {dkimDomain};
  if (a.dmarc == "pass" && fromDomain != dkimDomain) {
    a.provenDomains.insert(a.provenDomains.begin(), fromDomain);
  }
  return a;
}

//! A mail From google.com that fails DMARC (p=reject) with SPF checked and failing, no signature.
MessageAuth dmarcFailing()
{
  MessageAuth a;
  a.fromDomain = "google.com";
  a.spf = "fail";
  a.spfDomain = "google.com";
  a.dmarc = "fail";
  a.dmarcPolicy = "reject";
  return a;
}

ReportVerdict judge(const MessageAuth& auth, const ReportMetadata& metadata)
{
  return judgeReport(auth, metadata, testCatalog(), testPsl());
}

//! The verdict on a report, checked: its authenticity, and its reason unless wantReason is empty.
void expectVerdict(const MessageAuth& auth, const ReportMetadata& metadata, Authenticity want,
                   const std::string& wantReason = {})
{
  const ReportVerdict got = judge(auth, metadata);
  BOOST_CHECK_MESSAGE(got.authenticity == want, "got " << authenticityName(got.authenticity) << " want "
                                                        << authenticityName(want) << ": " << got.reason);
  if (!wantReason.empty()) {
    BOOST_CHECK_EQUAL(got.reason, wantReason);
  }
}

std::string parseError(const std::string& text)
{
  try {
    (void)ReporterCatalog::fromText(text, "r.conf");
  }
  catch (const ConfigError& e) {
    return e.what();
  }
  return "(no error)";
}

} // namespace

BOOST_AUTO_TEST_SUITE(report_trust)

BOOST_AUTO_TEST_CASE(catalog_lookups_ignore_case_and_white_space)
{
  const auto& catalog = testCatalog();
  BOOST_REQUIRE_EQUAL(catalog.reporters().size(), 3U);
  const Reporter* google = catalog.byName("  GOOGLE, \t inc. ");
  BOOST_REQUIRE(google != nullptr);
  BOOST_CHECK_EQUAL(google->id, "google");
  BOOST_CHECK(catalog.byName("Google Inc.") == nullptr);
  BOOST_CHECK(catalog.byName("") == nullptr);
  BOOST_CHECK(catalog.byName(std::string(1000, 'x')) == nullptr);
  // Email domains match themselves and their subdomains, whatever the case; "yahoo.com" was
  // written "Yahoo.com" in the file.
  const Reporter* yahoo = catalog.byEmailDomain("DMARC.Yahoo.COM.");
  BOOST_REQUIRE(yahoo != nullptr);
  BOOST_CHECK_EQUAL(yahoo->id, "yahoo");
  BOOST_CHECK(catalog.byEmailDomain("notyahoo.com") == nullptr);
  BOOST_CHECK(catalog.byEmailDomain("com") == nullptr);
  const std::vector<std::string> want{"yahoo.com", "yahooinc.com"};
  BOOST_CHECK(catalog.mailDomainsFor("Yahoo! Inc.", "postmaster@dmarc.yahoo.com") == want);
  const std::vector<std::string> both{"google.com", "yahoo.com", "yahooinc.com"};
  BOOST_CHECK(catalog.mailDomainsFor("google.com", "dmarchelp@yahooinc.com") == both);
  BOOST_CHECK(catalog.mailDomainsFor("Unknown Org", "a@elsewhere.example").empty());
}

BOOST_AUTO_TEST_CASE(email_domain_of_report_addresses)
{
  BOOST_CHECK_EQUAL(emailDomain("noreply-dmarc-support@google.com"), "google.com");
  BOOST_CHECK_EQUAL(emailDomain("<bad-xml@Bad-XML.net>"), "bad-xml.net");
  BOOST_CHECK_EQUAL(emailDomain("mailto:a@b.example, mailto:c@d.example"), "b.example");
  BOOST_CHECK_EQUAL(emailDomain("MAILER-DAEMON@esa1.x.iphmx.com."), "esa1.x.iphmx.com");
  BOOST_CHECK_EQUAL(emailDomain("postmaster@test"), "");
  BOOST_CHECK_EQUAL(emailDomain("no address"), "");
  BOOST_CHECK_EQUAL(emailDomain("a@"), "");
}

BOOST_AUTO_TEST_CASE(catalog_errors_name_file_and_line)
{
  const std::vector<std::pair<std::string, std::string>> cases{
    {"name Google\n", "r.conf:1: 'name' before the first 'reporter' line"},
    {"reporter Google\n", "r.conf:1: reporter needs one id of lower-case letters, digits and '-' (at most 63)"},
    {"reporter a b\n", "r.conf:1: reporter needs one id of lower-case letters, digits and '-' (at most 63)"},
    {"reporter a\n# c\nhost a.com\n", "r.conf:3: unknown key 'host' (reporter, name, email-domain, mail-domain)"},
    {"reporter a\nmail-domain com\n", "r.conf:2: bad domain name 'com' for mail-domain"},
    {"reporter a\nmail-domain a.com b.com\n", "r.conf:2: one domain after mail-domain"},
    {"reporter a\nmail-domain a.com\nmail-domain A.com.\n", "r.conf:3: mail-domain 'a.com' given twice for reporter 'a'"},
    {"reporter a\nname A\n\nreporter b\nname x\nmail-domain b.com\n",
     "r.conf:1: reporter 'a' needs a mail-domain and a name or an email-domain"},
    {"reporter a\nmail-domain a.com\n", "r.conf:1: reporter 'a' needs a mail-domain and a name or an email-domain"},
    {"reporter a\nname\nmail-domain a.com\n", "r.conf:2: name needs text of 1 to 100 characters"},
    {"reporter a\nname A\x01\n", "r.conf:2: control character in line"},
    {"reporter a\nname " + std::string(2000, 'x') + "\n", "r.conf:2: line longer than 1024 bytes"},
    {"reporter a\nname A\nmail-domain a.com\nreporter b\nname  a \nmail-domain b.com\n",
     "r.conf:4: name 'a' of reporter 'b' is also reporter 'a''s (r.conf:1)"},
    {"reporter a\nemail-domain a.com\nmail-domain a.com\nreporter b\nemail-domain A.COM\nmail-domain a.com\n",
     "r.conf:4: email-domain 'a.com' of reporter 'b' is also reporter 'a''s (r.conf:1)"},
  };
  for (const auto& [text, want] : cases) {
    BOOST_CHECK_EQUAL(parseError(text), want);
  }
  // A mail domain may be shared (one operator, two brands); an empty text is an empty catalog.
  BOOST_CHECK_EQUAL(parseError("reporter a\nname A\nmail-domain a.com\nreporter b\nname B\nmail-domain a.com\n"),
                    "(no error)");
  BOOST_CHECK(ReporterCatalog::fromText("# nothing\n", "r.conf").empty());
  ReporterCatalogLimits small;
  small.maxReporters = 1;
  BOOST_CHECK_EXCEPTION(ReporterCatalog::fromText("reporter a\nname A\nmail-domain a.com\nreporter b\n", "r.conf", small),
                        ConfigError, [](const ConfigError& e) { return e.line() == 4; });
}

BOOST_AUTO_TEST_CASE(catalog_files)
{
  BOOST_CHECK(ReporterCatalog::load("none").empty());
  dmarcwatch::test::TempDir dir;
  BOOST_CHECK_THROW(ReporterCatalog::load((dir.path() / "missing.conf").string()), ConfigError);
  BOOST_CHECK_THROW(ReporterCatalog::load(dir.path().string()), ConfigError);
  ReporterCatalogLimits tiny;
  tiny.maxFileBytes = 10;
  const auto shipped = (dmarcwatch::test::srcDir() / "contrib" / "reporters.conf").string();
  BOOST_CHECK_THROW(ReporterCatalog::load(shipped, tiny), ConfigError);

  // The shipped catalog loads and knows the big reporters by the names their reports carry.
  const ReporterCatalog catalog = ReporterCatalog::load(shipped);
  BOOST_CHECK_GE(catalog.reporters().size(), 20U);
  const std::vector<std::pair<std::string, std::string>> names{
    {"Enterprise Outlook", "microsoft"}, {"Outlook.com", "microsoft"}, {"Google, Inc.", "google"},
    {"Yahoo", "yahoo"},                  {"Mail.Ru", "mailru"},       {"WEB.DE", "webde"},
    {"GMX", "gmx"},                      {"AMAZON-SES", "amazon-ses"}, {"FastMail Pty Ltd", "fastmail"},
    {"Mimecast", "mimecast"}};
  for (const auto& [name, id] : names) {
    const Reporter* r = catalog.byName(name);
    BOOST_CHECK_MESSAGE(r != nullptr && r->id == id, name << ": want " << id);
  }
  const Reporter* gmx = catalog.byEmailDomain("sicher.gmx.net");
  BOOST_CHECK(gmx != nullptr && gmx->id == "gmx");
}

BOOST_AUTO_TEST_CASE(reporter_domains_follow_the_claim)
{
  const auto& psl = testPsl();
  // A domain org_name and a matching email: the organizational domain, once.
  auto r = reporterDomains(report("Google.com", "noreply-dmarc-support@google.com"), testCatalog(), psl);
  BOOST_CHECK(r.named == std::vector<std::string>{"google.com"});
  BOOST_CHECK(r.contact.empty());
  // A catalog name: its mail domains; an email elsewhere does not count at all.
  r = reporterDomains(report("Yahoo! Inc.", "x@evil.com"), testCatalog(), psl);
  BOOST_CHECK((r.named == std::vector<std::string>{"yahoo.com", "yahooinc.com"}));
  BOOST_CHECK(r.contact.empty());
  // A domain org_name the catalog does not name and an email elsewhere: the email is a contact.
  r = reporterDomains(report("fred.com", "noreply-dmarc-support@google.com"), testCatalog(), psl);
  BOOST_CHECK(r.named == std::vector<std::string>{"fred.com"});
  BOOST_CHECK(r.contact == std::vector<std::string>{"google.com"});
  // Free text: the email and its catalog reporter.
  r = reporterDomains(report("Test Inc.", "dmarchelp@YahooInc.com"), testCatalog(), psl);
  BOOST_CHECK((r.named == std::vector<std::string>{"yahooinc.com", "yahoo.com"}));
  // Multi-label public suffixes: the organizational domain is shop.co.uk, never co.uk.
  r = reporterDomains(report("Shop UK", "dmarc@reports.shop.co.uk"), testCatalog(), psl);
  BOOST_CHECK(r.named == std::vector<std::string>{"shop.co.uk"});
  r = reporterDomains(report("co.uk", "postmaster@test"), testCatalog(), psl);
  BOOST_CHECK(r.all().empty());
}

BOOST_AUTO_TEST_CASE(authenticated_when_dmarc_passes_as_the_reporter)
{
  expectVerdict(passing("google.com", "google.com"), report("google.com", "noreply-dmarc-support@google.com"), Authenticity::Authenticated,
                "dmarc=pass as google.com (reporter google.com)");
  // A subdomain sender: Yahoo's mail comes From dmarc.yahoo.com, its report gives yahooinc.com.
  expectVerdict(passing("dmarc.yahoo.com", "yahoo.com"), report("Yahoo", "dmarchelp@yahooinc.com"), Authenticity::Authenticated,
                "dmarc=pass as dmarc.yahoo.com (reporter yahoo.com)");
  // The catalog name, whatever the case.
  expectVerdict(passing("yahoo.com", "yahoo.com"), report("YAHOO! inc.", ""), Authenticity::Authenticated);
  // example.co.uk: the reporter's mail domain mail.shop.co.uk covers reports.shop.co.uk.
  expectVerdict(passing("reports.shop.co.uk", "shop.co.uk"), report("Shop UK", ""), Authenticity::Authenticated,
                "dmarc=pass as reports.shop.co.uk (reporter shop.co.uk)");
  // No DMARC record: a passing aligned DKIM signature is the proof.
  auto a = passing("reporter.example", "mail.reporter.example");
  a.dmarc = "none";
  expectVerdict(a, report("Small Org", "dmarc@reporter.example"), Authenticity::Authenticated,
                "dkim=pass as reporter.example (dmarc=none) (reporter reporter.example)");
  // A pass is a pass: a late answer for another signature changes nothing.
  a = passing("google.com", "google.com");
  a.signatures.push_back({"other.example", "s", "temperror", "key query timed out", 0});
  a.timedOut = true;
  expectVerdict(a, report("google.com", ""), Authenticity::Authenticated);
}

BOOST_AUTO_TEST_CASE(forged_when_authenticated_as_another_organisation)
{
  expectVerdict(passing("evil.example", "evil.example"), report("google.com", "noreply-dmarc-support@google.com"), Authenticity::Forged,
                "authenticated as evil.example, report names google.com");
  // A catalog name with the sender's own address as <email>: still Google's name.
  expectVerdict(passing("evil.example", "evil.example"), report("Google, Inc.", "dmarc@evil.example"), Authenticity::Forged,
                "authenticated as evil.example, report names google.com");
  // A look-alike: notgoogle.com is not google.com.
  expectVerdict(passing("notgoogle.com", "notgoogle.com"), report("google.com", "x@google.com"), Authenticity::Forged);
  // A timeout could have proven more: no verdict.
  auto a = passing("evil.example", "evil.example");
  a.timedOut = true;
  expectVerdict(a, report("google.com", ""), Authenticity::Unauthenticated,
                "dns timeout");
}

BOOST_AUTO_TEST_CASE(unauthenticated_when_the_claim_cannot_be_judged)
{
  // The report names no domain (free text, single-label email).
  expectVerdict(passing("test.example", "test.example"), report("Test Inc.", "postmaster@test"), Authenticity::Unauthenticated,
                "dmarc=pass as test.example, report names no domain");
  // Proven as the report's contact address only, while org_name names another domain.
  expectVerdict(passing("google.com", "google.com"), report("fred.com", "noreply-dmarc-support@google.com"), Authenticity::Unauthenticated,
                "dmarc=pass as google.com (the report's email), report names fred.com");
  // The From is another organisation's, but a passing signature is the reporter's.
  auto a = passing("lists.example", "lists.example");
  a.signatures.push_back({"google.com", "s2", "pass", "", 2048});
  a.provenDomains.push_back("google.com");
  expectVerdict(a, report("google.com", ""), Authenticity::Unauthenticated,
                "dmarc=pass as lists.example, not the reporter's; google.com is");
  // No From domain; no signature and no record; a broken record.
  MessageAuth none;
  expectVerdict(none, report("google.com", ""), Authenticity::Unauthenticated,
                "no single From domain");
  none.fromDomain = "google.com";
  expectVerdict(none, report("google.com", ""), Authenticity::Unauthenticated,
                "no signature, no dmarc record for google.com");
  none.dmarc = "permerror";
  expectVerdict(none, report("google.com", ""), Authenticity::Unauthenticated,
                "dmarc=permerror for google.com");
}

BOOST_AUTO_TEST_CASE(a_temporary_error_never_gives_forged)
{
  // DMARC fails while a key query timed out, the SPF check failed temporarily, or DMARC's own
  // query did: any of them could have passed.
  MessageAuth a = dmarcFailing();
  a.dkim = "temperror";
  a.signatures.push_back({"google.com", "x", "temperror", "key query timed out", 0});
  expectVerdict(a, report("google.com", ""), Authenticity::Unauthenticated,
                "dkim=temperror (d=google.com s=x)");
  a.signatures.clear();
  a.dkim = "none";
  a.spf = "temperror";
  expectVerdict(a, report("google.com", ""), Authenticity::Unauthenticated,
                "spf=temperror (google.com)");
  a.spf = "fail";
  a.dmarc = "temperror";
  expectVerdict(a, report("google.com", ""), Authenticity::Unauthenticated,
                "dmarc=temperror");
  a.dmarc = "fail";
  a.timedOut = true;
  a.signatures.push_back({"google.com", "x", "fail", "signature verification failed", 2048});
  expectVerdict(a, report("google.com", ""), Authenticity::Unauthenticated,
                "dns timeout");
}

BOOST_AUTO_TEST_CASE(forged_when_a_check_fails_that_should_pass)
{
  // DMARC fails for the From domain with SPF checked (the milter): forged.
  MessageAuth a = dmarcFailing();
  expectVerdict(a, report("google.com", ""), Authenticity::Forged,
                "dmarc=fail for google.com (spf=fail, dkim=none)");
  // Without an SPF check (the CLI) and only a missing key (permerror): an archived mail whose
  // key was rotated, not proof of forgery.
  a.spf = "none";
  a.spfDomain.clear();
  a.dkim = "permerror";
  a.signatures.push_back({"google.com", "20120113", "permerror", "key not found", 0});
  expectVerdict(a, report("google.com", ""), Authenticity::Unauthenticated,
                "dmarc=fail for google.com without spf (no client address), dkim=permerror");
  // The reporter's own signature broken and nothing passing: forged, with or without DMARC.
  a.dkim = "fail";
  a.signatures.push_back({"google.com", "x", "fail", "", 2048});
  expectVerdict(a, report("google.com", ""), Authenticity::Forged,
                "dkim=fail (d=google.com s=x): signature verification failed");
  a.dmarc = "none";
  a.fromDomain = "reports.example";
  expectVerdict(a, report("Google, Inc.", ""), Authenticity::Forged);
  // Something passed (SPF of the envelope): a broken signature alone is no verdict -- but the
  // report names a known reporter and its mail is From another domain: not its report.
  a.spf = "pass";
  a.spfDomain = "bounces.example";
  expectVerdict(a, report("Google, Inc.", ""), Authenticity::Forged,
                "report names google.com (a known reporter), its mail is From reports.example");
  // The same From a domain of the report's own (no catalog reporter): no verdict.
  expectVerdict(a, report("reports.example", ""), Authenticity::Unauthenticated);
}

BOOST_AUTO_TEST_CASE(a_known_reporter_cannot_be_named_by_unproven_mail)
{
  // From a domain without a DMARC record, unsigned: nothing fails, yet a report naming Google
  // cannot come from it.
  MessageAuth unsigned_;
  unsigned_.fromDomain = "evil.example";
  unsigned_.spf = "pass";
  unsigned_.spfDomain = "evil.example";
  expectVerdict(unsigned_, report("google.com", "noreply-dmarc-support@google.com"), Authenticity::Forged);
  expectVerdict(unsigned_, report("Google, Inc.", ""), Authenticity::Forged);
  // A forger's own selector that never answers (timedOut) does not save it: From google.com,
  // SPF failing, DMARC failing, the only signature the forger's, unanswered.
  MessageAuth blackhole = dmarcFailing();
  blackhole.dkim = "temperror";
  blackhole.signatures.push_back({"blackhole.example", "s", "temperror", "key look-up timed out", 0});
  blackhole.timedOut = true;
  expectVerdict(blackhole, report("google.com", ""), Authenticity::Forged);
  // A signature of the reporter's own domain unanswered: no verdict (it might have passed).
  MessageAuth maybe = dmarcFailing();
  maybe.dmarc = "temperror";
  maybe.signatures.push_back({"google.com", "s", "temperror", "key look-up timed out", 0});
  maybe.timedOut = true;
  expectVerdict(maybe, report("google.com", ""), Authenticity::Unauthenticated);
  // And From the reporter with a signature of the reporter unanswered, From another domain: no verdict.
  MessageAuth other = maybe;
  other.fromDomain = "relay.example";
  expectVerdict(other, report("Google, Inc.", ""), Authenticity::Unauthenticated);
}

BOOST_AUTO_TEST_CASE(reasons_are_printable_and_short)
{
  auto a = passing("evil.example", "evil.example");
  a.fromDomain = "evil\x01" + std::string(300, 'x') + ".example";
  const auto v = judge(a, report("google.com", ""));
  BOOST_CHECK(v.authenticity == Authenticity::Forged);
  BOOST_CHECK(isPrintableLine(v.reason));
  BOOST_CHECK_LE(v.reason.size(), 200U);
}

namespace
{

//! The first value of a header field in a mail's header block (unfolded), "" when absent.
std::string headerField(const std::string& mail, std::string_view name)
{
  size_t end = mail.find("\n\n");
  const size_t crlf = mail.find("\r\n\r\n");
  end = std::min(end, crlf);
  const std::string head = mail.substr(0, end);
  size_t pos = 0;
  while (pos < head.size()) {
    size_t eol = head.find('\n', pos);
    if (eol == std::string::npos) {
      eol = head.size();
    }
    std::string_view line(head.data() + pos, eol - pos);
    if (line.size() > name.size() && line[name.size()] == ':' && equalsIgnoreCaseAscii(line.substr(0, name.size()), name)) {
      std::string value(line.substr(name.size() + 1));
      // Unfold continuation lines.
      while (eol + 1 < head.size() && (head[eol + 1] == ' ' || head[eol + 1] == '\t')) {
        const size_t next = std::min(head.find('\n', eol + 1), head.size());
        value += head.substr(eol + 1, next - eol - 1);
        eol = next;
      }
      return value;
    }
    pos = eol + 1;
  }
  return {};
}

//! The d= tag of a DKIM-Signature value, lower case.
std::string dkimDomain(const std::string& signature)
{
  std::string compact;
  for (char c : signature) {
    if (!isSpaceAscii(c)) {
      compact += lowerAscii(c);
    }
  }
  for (size_t pos = 0; pos < compact.size();) {
    const size_t end = std::min(compact.find(';', pos), compact.size());
    if (compact.compare(pos, 2, "d=") == 0) {
      return compact.substr(pos + 2, end - pos - 2);
    }
    pos = end + 1;
  }
  return {};
}

class HeaderSink : public ReportSink
{
public:
  bool onHeader(const ReportHeader& header) override
  {
    headers.push_back(header.metadata);
    return false;
  }
  void onRecord(const Record&) override {}
  std::vector<ReportMetadata> headers;
};

} // namespace

namespace
{

//! One file of the corpus with the reports in it.
struct CorpusFile
{
  std::string name;      //!< under files/
  MailSummary summary;   //!< From and Subject empty: not a mail
  std::string signature; //!< the first DKIM-Signature of a mail
  std::vector<ReportMetadata> reports;
};

//! contrib/reporters.conf, loaded once.
const ReporterCatalog& shippedCatalog()
{
  static const ReporterCatalog s_catalog =
    ReporterCatalog::load((dmarcwatch::test::srcDir() / "contrib" / "reporters.conf").string());
  return s_catalog;
}

//! The corpus directory, or "" when it (or the system's public suffix list) is absent.
std::filesystem::path corpusDir()
{
  const char* corpus = std::getenv("CORPUS");
  const std::filesystem::path dir = corpus != nullptr ? corpus : (dmarcwatch::test::srcDir() / ".." / "shared" / "corpus");
  if (!std::filesystem::exists(dir / "MANIFEST.tsv") || !std::filesystem::exists(PublicSuffixList::s_systemPath)) {
    return {};
  }
  return dir;
}

//! Every file of the corpus with its reports' metadata (a file that does not unpack has none).
std::vector<CorpusFile> corpusFiles(const std::filesystem::path& dir)
{
  std::vector<CorpusFile> out;
  for (const auto& entry : std::filesystem::recursive_directory_iterator(dir / "files")) {
    if (!entry.is_regular_file() || entry.file_size() > (4U << 20)) {
      continue;
    }
    CorpusFile file;
    file.name = std::filesystem::relative(entry.path(), dir / "files").string();
    const std::string bytes = dmarcwatch::test::readFile(entry.path());
    HeaderSink sink;
    Limits limits;
    Warnings warnings;
    const auto visit = [&](ByteSource& xml, const std::string&) { parseReport(xml, limits, sink, warnings); };
    try {
      // Step: a mail's attachments, or the file as a payload of its own.
      file.summary = summarizeMail(bytes);
      if (!file.summary.from.empty() && !file.summary.subject.empty()) {
        file.signature = headerField(bytes, "DKIM-Signature");
        for (const MailPart& part : extractPayloadParts(bytes, limits, warnings)) {
          const auto* data = reinterpret_cast<const uint8_t*>(part.body.data());
          unpackPayload(std::span<const uint8_t>(data, part.body.size()), limits, warnings, visit, part.kind);
        }
      }
      else {
        file.summary = {};
        const auto* data = reinterpret_cast<const uint8_t*>(bytes.data());
        unpackPayload(std::span<const uint8_t>(data, bytes.size()), limits, warnings, visit);
      }
    }
    catch (const std::exception&) {
      // a broken file: whatever parsed before the error counts
    }
    file.reports = std::move(sink.headers);
    out.push_back(std::move(file));
  }
  return out;
}

} // namespace

BOOST_AUTO_TEST_CASE(shipped_catalog_covers_the_corpus)
{
  // Step: each report mail of the corpus, as a passing check would see it (its From domain proven by
  // DMARC, its first DKIM d= passing), must be authenticated with the shipped catalog.  The
  // made-up mails (example domains, a Microsoft From around a Google report) are not reporters.
  const auto dir = corpusDir();
  if (dir.empty()) {
    BOOST_TEST_MESSAGE("corpus or public suffix list absent, skipped");
    return;
  }
  const auto& psl = PublicSuffixList::system();
  const ReporterCatalog& catalog = shippedCatalog();
  const std::set<std::string> madeUp{"JasperWallace__django-dmarc2/dmarcreport-email-gz.eml",
                                     "JasperWallace__django-dmarc2/dmarcreport-email-zip.eml",
                                     "JasperWallace__django-dmarc2/duplicate_report.eml",
                                     "WoodySlum__dmarc-parser/rfc_7489_B5.eml",
                                     "ZeWaren__dmarc-report-milter/multipart-report-with-html.eml"};
  unsigned mails = 0;
  unsigned covered = 0;
  unsigned needed = 0; // reports authenticated only with the catalog's help
  const std::vector<CorpusFile> files = corpusFiles(dir);
  for (const auto& file : files) {
    if (file.summary.from.empty() || file.reports.empty() || madeUp.count(file.name) != 0) {
      continue;
    }
    ++mails;
    MessageAuth auth;
    auth.fromDomain = emailDomain(file.summary.from);
    auth.dmarc = "pass";
    auth.provenDomains.push_back(auth.fromDomain);
    if (const std::string d = dkimDomain(file.signature); !d.empty()) {
      auth.dkim = "pass";
      auth.signatures.push_back({d, "s", "pass", "", 2048});
      auth.dkimAligned = psl.organizationalDomain(d) == psl.organizationalDomain(auth.fromDomain);
      auth.provenDomains.push_back(d);
    }
    bool all = true;
    for (const auto& metadata : file.reports) {
      const ReportVerdict v = judgeReport(auth, metadata, catalog, psl);
      BOOST_CHECK_MESSAGE(v.authenticity == Authenticity::Authenticated,
                          file.name << " (org_name '" << metadata.orgName << "'): " << v.reason);
      all = all && v.authenticity == Authenticity::Authenticated;
      const ReportVerdict bare = judgeReport(auth, metadata, ReporterCatalog(), psl);
      needed += bare.authenticity == Authenticity::Authenticated ? 0 : 1;
    }
    covered += all ? 1 : 0;
  }
  BOOST_TEST_MESSAGE("corpus report mails covered by the catalog: " << covered << " of " << mails
                                                                   << "; reports that need it: " << needed);
  BOOST_CHECK_GE(mails, 15U);
  BOOST_CHECK_EQUAL(covered, mails);

  // Step: a catalog name is backed by its reporter's domains only, so a real report carrying that
  // name with an <email> the catalog does not give it would be judged forged: none may.
  unsigned reports = 0;
  unsigned named = 0;
  for (const auto& file : files) {
    for (const auto& metadata : file.reports) {
      ++reports;
      const std::string email = emailDomain(metadata.email);
      if (catalog.byName(metadata.orgName) == nullptr || email.empty()) {
        continue;
      }
      ++named;
      const auto domains = reporterDomains(metadata, catalog, psl);
      const std::string emailOrg = psl.organizationalDomain(email);
      BOOST_CHECK_MESSAGE(std::find(domains.named.begin(), domains.named.end(), emailOrg) != domains.named.end(),
                          file.name << ": org_name '" << metadata.orgName << "' with email " << email);
    }
  }
  BOOST_TEST_MESSAGE("corpus reports: " << reports << ", with a catalog name and an email domain: " << named);
  BOOST_CHECK_GE(named, 30U);
}

BOOST_AUTO_TEST_CASE(rebuilt_header_fields_excuse_only_a_failing_signature)
{
  // The milter without leading-space preservation rebuilds header fields: a c=simple signature
  // can fail for that alone.  A verdict resting on it becomes unauthenticated; one whose mail
  // proved another organisation stays forged.
  MessageAuth broken = dmarcFailing();
  broken.dkim = "fail";
  broken.signatures.push_back({"google.com", "s1", "fail", "signature verification failed", 2048});
  const ReportMetadata google = report("google.com", "noreply-dmarc-support@google.com");
  BOOST_CHECK(judgeWithHeaders(broken, google, testCatalog(), testPsl(), false).authenticity == Authenticity::Forged);
  const ReportVerdict excused = judgeWithHeaders(broken, google, testCatalog(), testPsl(), true);
  BOOST_CHECK(excused.authenticity == Authenticity::Unauthenticated);
  BOOST_CHECK(excused.reason.find("header fields rebuilt") != std::string::npos);
  MessageAuth other = passing("evil.example", "evil.example");
  other.dkim = "fail"; // a second signature failing does not excuse the proof of another domain
  other.signatures.push_back({"google.com", "s1", "fail", "signature verification failed", 2048});
  BOOST_CHECK(judgeWithHeaders(other, google, testCatalog(), testPsl(), true).authenticity == Authenticity::Forged);
}

BOOST_AUTO_TEST_SUITE_END()
