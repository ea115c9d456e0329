#define BOOST_TEST_DYN_LINK
#define BOOST_TEST_NO_MAIN
#include <boost/test/unit_test.hpp>

#include "collector/common/json.hh"

using namespace dmarcwatch::collector;

BOOST_AUTO_TEST_SUITE(test_json)

BOOST_AUTO_TEST_CASE(structure_and_commas)
{
  JsonWriter w;
  w.beginObject()
    .key("a").value(uint64_t{1})
    .key("b").beginArray().value("x").value(int64_t{-2}).null().value(true).endArray()
    .key("c").beginObject().endObject()
    .key("d").stringArray({})
    .endObject();
  BOOST_CHECK_EQUAL(w.str(), R"({"a":1,"b":["x",-2,null,true],"c":{},"d":[]})");
}

BOOST_AUTO_TEST_CASE(escaping)
{
  BOOST_CHECK_EQUAL(jsonQuote("a\"b\\c\n\t\x01"), R"("a\"b\\c\n\t\u0001")");
  // Valid UTF-8 passes; invalid bytes, overlong forms and surrogates become U+FFFD.
  BOOST_CHECK_EQUAL(jsonQuote("caf\xC3\xA9"), "\"caf\xC3\xA9\"");
  BOOST_CHECK_EQUAL(jsonQuote("\xFF"), "\"\xEF\xBF\xBD\"");
  BOOST_CHECK_EQUAL(jsonQuote("\xC0\xAF"), "\"\xEF\xBF\xBD\xEF\xBF\xBD\"");
  BOOST_CHECK_EQUAL(jsonQuote("\xED\xA0\x80"), "\"\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD\"");
  BOOST_CHECK_EQUAL(jsonQuote("\xE2\x82"), "\"\xEF\xBF\xBD\xEF\xBF\xBD\"");
}

BOOST_AUTO_TEST_SUITE_END()
