/*
 * test-html-report.cc - the page of `dmarcwatch report --html` (html-report.hh)
 * from views built by hand: hostile names escaped and shortened, nothing that
 * loads or runs (no script, no URL, no src), the numbers shown, the whole page
 * well-formed XML (libxml2, no network, no entities), the same bytes every time.
 */
#ifndef BOOST_TEST_DYN_LINK
#define BOOST_TEST_DYN_LINK
#endif
#define BOOST_TEST_NO_MAIN
#include <boost/test/unit_test.hpp>

#include "collector/views/html-escape.hh"
#include "collector/views/html-report.hh"

#include <libxml/parser.h>
#include <libxml/tree.h>

#include <memory>
#include <set>

using namespace dmarcwatch::collector;

namespace
{

constexpr uint32_t s_today = 20000; // 2024-10-04

const std::string s_hostile = "<script>alert(\"x\")</script> & 'co'";

//! A domain with two services (one with a hostile name), a failing source, a reporter and days.
DomainView sampleView(const std::string& serviceName = s_hostile, const std::string& org = "Evil \"org\" <b>&amp;")
{
  DomainView view;
  DomainStatus& s = view.status;
  s.domain = "example.com";
  s.fromDay = s_today - 29;
  s.toDay = s_today;
  s.messages = 12345;
  s.dmarcPass = 12012;
  s.dmarcFail = 333;
  s.wouldBlock = 300;
  s.authenticity.messages = {300, 12000, 45}; // unauthenticated, authenticated, forged
  s.authenticity.reports = {1, 2, 1};
  s.dataDays = std::make_pair(s_today - 2, s_today);
  s.newestDay = s_today;
  s.trend = {{s_today - 2, 4000, 3900, 3}, {s_today - 1, 4000, 3900, 3}, {s_today, 4345, 4212, 3}};

  ServiceSummary good;
  good.name = "Microsoft 365";
  good.category = "mail-platform";
  good.cls = "authorized";
  good.messages = 12000;
  good.dmarcPass = 12000;
  good.sources = 4;
  good.auth.spfPass = 11000;
  good.auth.spfAligned = 10000;
  good.auth.dkimPass = 12000;
  good.auth.dkimAligned = 12000;
  ServiceSummary bad;
  bad.name = serviceName;
  bad.category = "<i>marketing</i>";
  bad.cls = "known-not-authorized\" onmouseover=\"x";
  bad.messages = 345;
  bad.dmarcPass = 12;
  bad.dmarcFail = 333;
  bad.sources = 2;
  bad.failure = "DKIM signs as <evil>.example, not aligned";
  bad.fix = "set up DKIM for example.com at \"Evil\" & co";
  s.services = {good, bad};

  SourceSummary src;
  src.ip = IpAddress::parse("198.51.100.7");
  src.service = serviceName;
  src.cls = "suspicious";
  src.messages = 340;
  src.dmarcFail = 333;
  src.country = "<NL>";
  src.asn = 64500;
  src.asOrg = "AS & Org <x>";
  src.ptr = "mail.<evil>.example";
  s.failingSources = {src};
  s.topSources = {src};

  view.policy.p = "none";
  view.policy.from = "reports";
  view.reportedPolicy = "none";
  view.coveredDays = 3;
  view.readiness.state = Readiness::Blocked;
  view.readiness.services = {serviceName};
  view.readiness.policy = "none";
  view.readiness.detail = "data covers 3 of 14 days";
  view.reporters = {{org, 3, 12345, int64_t{s_today - 2} * 86400, int64_t{s_today + 1} * 86400 - 1}};
  view.serviceTrends = {{"Microsoft 365", {{s_today - 2, 3900, 3900, 1}, {s_today, 4200, 4200, 1}}},
                        {serviceName, {{s_today - 1, 100, 2, 1}, {s_today, 145, 10, 1}}}};
  return view;
}

HtmlReportOptions sampleOptions()
{
  HtmlReportOptions options;
  options.generatedAt = int64_t{s_today} * 86400 + 3600;
  options.fromDay = s_today - 29;
  options.toDay = s_today;
  options.generator = "dmarcwatch test";
  return options;
}

using XmlDoc = std::unique_ptr<xmlDoc, decltype(&xmlFreeDoc)>;

//! The page parsed as XML (no network, no entity expansion, no DTD); null with why on failure.
XmlDoc parse(const std::string& page, std::string& why)
{
  XmlDoc doc(xmlReadMemory(page.data(), static_cast<int>(page.size()), "report.html", "UTF-8",
                           XML_PARSE_NONET | XML_PARSE_NOERROR | XML_PARSE_NOWARNING),
             &xmlFreeDoc);
  if (!doc) {
    const xmlError* error = xmlGetLastError();
    why = error != nullptr && error->message != nullptr ? std::string(error->message) + " at line " + std::to_string(error->line)
                                                         : "no error given";
  }
  return doc;
}

//! What the page's elements are made of.
struct Census
{
  std::multiset<std::string> elements;
  std::vector<std::string> links;         //!< href and src values
  std::vector<std::string> handlers;      //!< on* attributes
};

void walk(xmlNode* node, Census& census)
{
  for (; node != nullptr; node = node->next) {
    if (node->type != XML_ELEMENT_NODE) {
      continue;
    }
    census.elements.insert(reinterpret_cast<const char*>(node->name));
    for (xmlAttr* attr = node->properties; attr != nullptr; attr = attr->next) {
      const std::string name = reinterpret_cast<const char*>(attr->name);
      xmlChar* value = xmlNodeListGetString(node->doc, attr->children, 1);
      const std::string text = value != nullptr ? reinterpret_cast<const char*>(value) : "";
      xmlFree(value);
      if (name == "href" || name == "src" || name == "srcset" || name == "action") {
        census.links.push_back(name + "=" + text);
      }
      if (name.starts_with("on")) {
        census.handlers.push_back(name);
      }
    }
    walk(node->children, census);
  }
}

} // namespace

BOOST_AUTO_TEST_SUITE(test_html_report)

BOOST_AUTO_TEST_CASE(escape_helper)
{
  BOOST_TEST(escapeHtml("<a href='x'>&\"</a>") == "&lt;a href=&#39;x&#39;&gt;&amp;&quot;&lt;/a&gt;");
  // Invalid UTF-8 and control characters become U+FFFD; valid UTF-8 stays.
  BOOST_TEST(escapeHtml("a\xff\x01z") == "a\xEF\xBF\xBD\xEF\xBF\xBDz");
  BOOST_TEST(escapeHtml("M\xC3\xBCnchen") == "M\xC3\xBCnchen");
  BOOST_TEST(escapeHtml("\xC0\xAF") == "\xEF\xBF\xBD\xEF\xBF\xBD"); // an overlong '/'
  BOOST_TEST(escapeHtml("\xED\xA0\x80") == "\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD"); // a surrogate
  // Capped in characters, not bytes: a multi-byte character is never cut.
  BOOST_TEST(escapeHtml("\xC3\xBC\xC3\xBC\xC3\xBC", 2) == "\xC3\xBC\xC3\xBC\xE2\x80\xA6");
  BOOST_TEST(escapeHtml("abc", 3) == "abc");
  BOOST_TEST(escapeHtml("<<<<", 2) == "&lt;&lt;\xE2\x80\xA6");
}

BOOST_AUTO_TEST_CASE(hostile_names_are_text)
{
  const std::string page = renderHtmlReport({sampleView()}, sampleOptions());
  // The names are shown, escaped.
  BOOST_TEST(page.find("&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt; &amp; &#39;co&#39;") != std::string::npos);
  BOOST_TEST(page.find("Evil &quot;org&quot; &lt;b&gt;&amp;amp;") != std::string::npos);
  BOOST_TEST(page.find("mail.&lt;evil&gt;.example") != std::string::npos);
  BOOST_TEST(page.find("&lt;NL&gt;") != std::string::npos);
  // Nothing of them is markup.
  for (const char* bad : {"<script", "<b>", "<i>", "<evil", "<NL>", "<x>", "\" onmouseover"}) {
    BOOST_TEST_INFO("got " << bad);
    BOOST_TEST(page.find(bad) == std::string::npos);
  }
  // No URL and no source of anything, anywhere.
  for (const char* bad : {"http://", "https://", "src=", "url(", "@import", "<img", "<link", "<iframe", "<object"}) {
    BOOST_TEST_INFO("got " << bad);
    BOOST_TEST(page.find(bad) == std::string::npos);
  }
  BOOST_TEST(page.find("<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; style-src "
                       "'unsafe-inline'; img-src data:\"/>") != std::string::npos);
}

BOOST_AUTO_TEST_CASE(well_formed_and_inert)
{
  // A name with a URL and an event handler, bytes that are no UTF-8: still only text.
  auto view = sampleView("<img src=\"https://evil.example/x.png\" onerror=\"alert(1)\">\xff\xfe", "<a href=//x>r</a>");
  std::string why;
  const std::string page = renderHtmlReport({view, sampleView()}, sampleOptions());
  const XmlDoc doc = parse(page, why);
  BOOST_TEST_REQUIRE(doc.get() != nullptr, "the page parses as XML: " << why);
  Census census;
  walk(xmlDocGetRootElement(doc.get()), census);
  for (const char* element : {"script", "img", "link", "iframe", "object", "embed", "a", "image", "use", "foreignObject"}) {
    if (std::string(element) == "a") {
      continue; // the domain list's own anchors: checked below
    }
    BOOST_TEST_INFO("element " << element);
    BOOST_TEST(census.elements.count(element) == 0U);
  }
  BOOST_TEST(census.handlers.empty());
  for (const auto& link : census.links) {
    BOOST_TEST_INFO("link " << link);
    BOOST_TEST(link.starts_with("href=#domain-"));
  }
  BOOST_TEST(census.links.size() == 2U); // the list of the two domains
  // Volume, pass rate and days per domain, and the failing sources by country.
  BOOST_TEST(census.elements.count("svg") == 8U);
  BOOST_TEST(census.elements.count("table") >= 8U);
}

BOOST_AUTO_TEST_CASE(numbers_shown)
{
  const std::string page = renderHtmlReport({sampleView()}, sampleOptions());
  for (const char* want : {"12,345", "97.3 %", "p=none", "from the newest report", "blocked by: ", "data covers 3 of 14 days",
                           "Microsoft 365", "100.0 %", "91.6 % / 83.3 %" /* 91.66 rounded down, as judged */, "100.0 % / 100.0 %", "DKIM signs as &lt;evil&gt;.example, not aligned",
                           "AS64500 AS &amp; Org &lt;x&gt;", "198.51.100.7", "333", "2024-10-02", "2024-10-04",
                           "Data on 3 days from 2024-10-02 to 2024-10-04 in the 30 days", "generated 2024-10-04 01:00 UTC",
                           "p=quarantine", "p=reject", "Authenticated reports", "97.2 %",
                           "2 of 4 reports authenticated, 1 unauthenticated, 1 forged"}) {
    BOOST_TEST_INFO("want " << want);
    BOOST_TEST(page.find(want) != std::string::npos);
  }
}

BOOST_AUTO_TEST_CASE(long_names_capped)
{
  const std::string huge(100000, 'A');
  const std::string page = renderHtmlReport({sampleView(huge, huge)}, sampleOptions());
  // A name in a cell keeps s_htmlNameChars; a sentence naming it (the readiness verdict) 300.
  BOOST_TEST(page.find(std::string(s_htmlNameChars, 'A') + "\xE2\x80\xA6</td>") != std::string::npos);
  BOOST_TEST(page.find(std::string(301, 'A')) == std::string::npos);
  BOOST_TEST(page.size() < 200000U);
}

BOOST_AUTO_TEST_CASE(deterministic)
{
  const auto options = sampleOptions();
  const std::string first = renderHtmlReport({sampleView()}, options);
  BOOST_TEST(renderHtmlReport({sampleView()}, options) == first);
  auto later = options;
  later.generatedAt += 86400;
  BOOST_TEST(renderHtmlReport({sampleView()}, later) != first);
}

BOOST_AUTO_TEST_CASE(empty_and_quiet)
{
  std::string why;
  const std::string none = renderHtmlReport({}, sampleOptions());
  BOOST_TEST(none.find("No reports stored") != std::string::npos);
  BOOST_TEST(parse(none, why).get() != nullptr, why);
  DomainView quiet;
  quiet.status.domain = "quiet.example";
  quiet.status.fromDay = s_today - 29;
  quiet.status.toDay = s_today;
  quiet.status.newestDay = s_today - 40;
  const std::string page = renderHtmlReport({quiet}, sampleOptions());
  BOOST_TEST(page.find("No reports in this window; the newest report is of 2024-08-25") != std::string::npos);
  BOOST_TEST(parse(page, why).get() != nullptr, why);
}

BOOST_AUTO_TEST_CASE(long_window_in_columns)
{
  // Ten years in one chart: several days a column, and it says so.
  auto view = sampleView();
  view.status.fromDay = s_today - 3650;
  const std::string page = renderHtmlReport({view}, sampleOptions());
  BOOST_TEST(page.find("Messages per service, per 10 days") != std::string::npos);
  std::string why;
  BOOST_TEST(parse(page, why).get() != nullptr, why);
}

BOOST_AUTO_TEST_CASE(small_services_are_other)
{
  auto options = sampleOptions();
  options.chartServices = 1;
  const std::string page = renderHtmlReport({sampleView()}, options);
  // In both legends: the biggest service apart, the hostile one folded into "other".
  BOOST_TEST(page.find("<li><i style=\"background:#0969da\"></i>Microsoft 365</li><li><i style=\"background:#8c959f\"></i>other</li></ul>") !=
             std::string::npos);
  BOOST_TEST(page.find("</i>&lt;script&gt;") == std::string::npos);
}

BOOST_AUTO_TEST_SUITE_END()
