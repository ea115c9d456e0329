#define BOOST_TEST_DYN_LINK
#define BOOST_TEST_NO_MAIN
#include <boost/test/unit_test.hpp>

#include "collector/common/csv.hh"

using namespace dmarcwatch::collector;

BOOST_AUTO_TEST_SUITE(test_csv)

BOOST_AUTO_TEST_CASE(plain_fields_stay_bare)
{
  BOOST_CHECK_EQUAL(csvField("Twilio SendGrid"), "Twilio SendGrid");
  BOOST_CHECK_EQUAL(csvField(""), "");
  BOOST_CHECK_EQUAL(csvField("192.0.2.10"), "192.0.2.10");
}

BOOST_AUTO_TEST_CASE(quoting)
{
  BOOST_CHECK_EQUAL(csvField("a,b"), "\"a,b\"");
  BOOST_CHECK_EQUAL(csvField("say \"hi\""), "\"say \"\"hi\"\"\"");
  BOOST_CHECK_EQUAL(csvField("two\nlines"), "\"two\nlines\"");
  BOOST_CHECK_EQUAL(csvField("cr\rhere"), "\"cr\rhere\"");
}

BOOST_AUTO_TEST_CASE(formulas_are_defused)
{
  BOOST_CHECK_EQUAL(csvField("=1+1"), "'=1+1");
  BOOST_CHECK_EQUAL(csvField("+33"), "'+33");
  BOOST_CHECK_EQUAL(csvField("-cmd"), "'-cmd");
  BOOST_CHECK_EQUAL(csvField("@SUM(A1)"), "'@SUM(A1)");
  // Defused first, then quoted: the quote is inside the field.
  BOOST_CHECK_EQUAL(csvField("=HYPERLINK(\"x\",\"y\")"), "\"'=HYPERLINK(\"\"x\"\",\"\"y\"\")\"");
  BOOST_CHECK_EQUAL(csvField("a=b"), "a=b");
}

BOOST_AUTO_TEST_CASE(rows)
{
  CsvWriter w;
  w.row({"domain", "messages", "ok"});
  w.field("example.com").field(uint64_t{42}).field(true).endRow();
  w.field("a,b").field(int64_t{-3}).field(false).endRow();
  BOOST_CHECK_EQUAL(w.str(), "domain,messages,ok\nexample.com,42,true\n\"a,b\",-3,false\n");
}

BOOST_AUTO_TEST_SUITE_END()
