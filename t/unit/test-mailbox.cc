/*
 * test-mailbox.cc - mbox splitting (quoting, caps, line ends) and Maildir listing.
 */
#define BOOST_TEST_DYN_LINK
#define BOOST_TEST_NO_MAIN
#include <boost/test/unit_test.hpp>

#include "collector/intake/mailbox.hh"
#include "collector/intake/mime.hh"
#include "t/unit/test-util.hh"

#include <fstream>

using namespace dmarcwatch::collector;
using dmarcwatch::test::readData;

namespace
{

struct Split
{
  std::vector<std::string> messages;
  std::vector<unsigned> indexes;
  std::vector<std::string> errors;
};

Split split(const std::string& mbox, const Limits& limits = Limits{})
{
  Split out;
  MemorySource source(mbox);
  forEachMboxMessage(source, limits, [&](std::string_view message, unsigned index, std::string_view error) {
    out.messages.emplace_back(message);
    out.indexes.push_back(index);
    out.errors.emplace_back(error);
  });
  return out;
}

void touch(const std::filesystem::path& path)
{
  std::ofstream(path) << "Subject: x\n\nbody\n";
}

} // namespace

BOOST_AUTO_TEST_SUITE(test_mailbox)

BOOST_AUTO_TEST_CASE(three_messages_with_quoting)
{
  const Split got = split(readData("mailbox-three.mbox"));
  BOOST_REQUIRE_EQUAL(got.messages.size(), 3U);
  const std::vector<unsigned> wantIndexes{1, 2, 3};
  BOOST_CHECK_EQUAL_COLLECTIONS(got.indexes.begin(), got.indexes.end(), wantIndexes.begin(), wantIndexes.end());
  for (size_t i = 0; i < got.messages.size(); ++i) {
    const std::string& m = got.messages[i];
    BOOST_CHECK(got.errors[i].empty());
    BOOST_CHECK(m.starts_with("From: noreply@"));
    BOOST_CHECK(m.find("\nFrom the desk of ") != std::string::npos);
    BOOST_CHECK(m.find("\n>From twice quoted") != std::string::npos);
    BOOST_CHECK(m.find(">From the desk") == std::string::npos);
    // Each message still carries its report.
    Warnings warnings;
    BOOST_CHECK_EQUAL(extractPayloadParts(m, Limits{}, warnings).size(), 1U);
  }
  BOOST_CHECK(got.messages[0].find("Subject: Report 1") != std::string::npos);
  BOOST_CHECK(got.messages[2].find("Subject: Report 3") != std::string::npos);
}

BOOST_AUTO_TEST_CASE(separator_needs_blank_line_before)
{
  const Split got = split("From a Mon\nSubject: one\n\nbody\nFrom here on, not a separator\n\nFrom b Tue\nSubject: two\n\nx\n");
  BOOST_REQUIRE_EQUAL(got.messages.size(), 2U);
  BOOST_CHECK_EQUAL(got.messages[0], "Subject: one\n\nbody\nFrom here on, not a separator\n");
  BOOST_CHECK_EQUAL(got.messages[1], "Subject: two\n\nx\n");
}

BOOST_AUTO_TEST_CASE(from_lines_without_blank_line_before)
{
  // Some writers put the next message's From_ line right after the last body line: with its
  // date it is a separator all the same (before: one message of three, the others lost).
  // Body text that starts with "From " has no date and stays text.
  const Split got = split("From MAILER-DAEMON Thu Jan  1 00:00:00 2024\nSubject: one\n\nbody\n"
                          "From noreply@google.com Fri Jan  2 01:05:34 +0000 2024\nSubject: two\n\nHello,\n"
                          "From the desk of the postmaster, on Jan 3 at 10:00 in 2024\n"
                          "From - Sat Jan 03 10:00 2024\r\nSubject: three\r\n\r\nx\r\n");
  BOOST_REQUIRE_EQUAL(got.messages.size(), 3U);
  BOOST_CHECK_EQUAL(got.messages[0], "Subject: one\n\nbody\n");
  BOOST_CHECK_EQUAL(got.messages[1], "Subject: two\n\nHello,\nFrom the desk of the postmaster, on Jan 3 at 10:00 in 2024\n");
  BOOST_CHECK_EQUAL(got.messages[2], "Subject: three\r\n\r\nx\r\n");
}

BOOST_AUTO_TEST_CASE(mboxcl2_content_length_keeps_from_lines_in_the_body)
{
  // mboxcl2 (mutt, Solaris mail): no ">From " quoting, the body is Content-Length bytes.  Its
  // "From " lines after blank lines, even a dated one, are body text (before: each one split
  // the message, and the report after them was cut off from its header).
  const std::string body1 = "Hello,\n\nFrom the desk of the postmaster\n\nFrom MAILER-DAEMON Thu Jan  1 00:00:00 2026\n"
                            ">From stays as it is\n";
  const std::string header1 = "Subject: one\nContent-Length: " + std::to_string(body1.size()) + "\n\n";
  const std::string header2 = "Subject: two\ncontent-length : 4\n\n"; // body without its last line break
  const std::string header3 = "Subject: three\r\nContent-Length: 3\r\n\r\n";
  const Split got = split("From a@b.test Thu Jan  1 00:00:00 2026\n" + header1 + body1 + "\n" +
                          "From c@d.test Thu Jan  1 00:00:01 2026\n" + header2 + "last\n" +
                          "From e@f.test Thu Jan  1 00:00:02 2026\r\n" + header3 + "x\r\n");
  BOOST_REQUIRE_EQUAL(got.messages.size(), 3U);
  BOOST_CHECK_EQUAL(got.messages[0], header1 + body1);
  BOOST_CHECK_EQUAL(got.messages[1], header2 + "last");
  BOOST_CHECK_EQUAL(got.messages[2], header3 + "x\r\n");
  for (const auto& error : got.errors) {
    BOOST_CHECK(error.empty());
  }
}

BOOST_AUTO_TEST_CASE(mboxcl2_wrong_content_length_falls_back_to_from_lines)
{
  // A Content-Length is honoured only when a From_ line (after at most one blank line) or the end
  // of the input follows the body it counts, as mutt checks; otherwise the message is split by
  // From_ lines as if it had none, and nothing of the next messages is swallowed.
  Limits small;
  small.maxMessageBytes = 200;
  const std::vector<std::pair<std::string, Limits>> wrong = {
    {"Content-Length: 100000\n", Limits{}},  // past the end of the input
    {"Content-Length: 3\n", Limits{}},       // ends inside the first body line
    {"Content-Length: 10\n", Limits{}},      // ends after the first body line, more text follows
    {"Content-Length: 25\n", Limits{}},      // ends inside the next message
    {"Content-Length: abc\n", Limits{}},
    {"Content-Length: -5\n", Limits{}},
    {"Content-Length: 99999999999999999999999\n", Limits{}}, // over 64 bits
    {"Content-Length: 150\n", small},        // over the message cap with its header
    {"Content-Length: 15\nContent-Length: 15\n", Limits{}}, // twice: which one?
  };
  for (const auto& [field, limits] : wrong) {
    BOOST_TEST_CONTEXT(field)
    {
      const std::string first = "Subject: one\n" + field + "\nbody line\nmore\n";
      const Split got = split("From a@b.test Thu Jan  1 00:00:00 2026\n" + first + "\n" +
                              "From c@d.test Thu Jan  1 00:00:01 2026\nSubject: two\n\nsecond\n\n" +
                              "From e@f.test Thu Jan  1 00:00:02 2026\nSubject: three\n\nthird\n", limits);
      BOOST_REQUIRE_EQUAL(got.messages.size(), 3U);
      BOOST_CHECK_EQUAL(got.messages[0], first);
      BOOST_CHECK_EQUAL(got.messages[1], "Subject: two\n\nsecond\n");
      BOOST_CHECK_EQUAL(got.messages[2], "Subject: three\n\nthird\n");
    }
  }
}

BOOST_AUTO_TEST_CASE(wrong_content_lengths_cost_linear_time)
{
  // 20,000 messages each claiming a body of 1,000,000 bytes: each claim reads ahead and is found
  // wrong.  The bytes read ahead are split again once, by From_ lines only, so the work stays
  // linear (reading ahead again from each message would be 20,000 x 1 MB).
  std::string mbox;
  for (int i = 0; i < 20000; ++i) {
    mbox += "From x@y.test Thu Jan  1 00:00:00 2026\nContent-Length: 1000000\n\nbody " + std::to_string(i) + "\n\n";
  }
  const Split got = split(mbox);
  BOOST_REQUIRE_EQUAL(got.messages.size(), 20000U);
  BOOST_CHECK_EQUAL(got.messages[19999], "Content-Length: 1000000\n\nbody 19999\n");
}

BOOST_AUTO_TEST_CASE(crlf_and_no_final_newline)
{
  const Split got = split("From a\r\nSubject: one\r\n\r\nbody\r\n\r\nFrom b\r\nSubject: two\r\n\r\nlast line");
  BOOST_REQUIRE_EQUAL(got.messages.size(), 2U);
  BOOST_CHECK_EQUAL(got.messages[0], "Subject: one\r\n\r\nbody\r\n");
  BOOST_CHECK_EQUAL(got.messages[1], "Subject: two\r\n\r\nlast line");
}

BOOST_AUTO_TEST_CASE(oversized_message_skipped_rest_read)
{
  const std::string big(5000, 'x');
  Limits limits;
  limits.maxMessageBytes = 1000;
  const Split got = split("From a\nSubject: small\n\n1\n\nFrom b\nSubject: big\n\n" + big + "\n\nFrom c\nSubject: after\n\n3\n", limits);
  BOOST_REQUIRE_EQUAL(got.messages.size(), 3U);
  BOOST_CHECK(got.errors[0].empty());
  BOOST_CHECK(got.messages[1].empty());
  BOOST_CHECK_EQUAL(got.errors[1], "message over MaxMessageSize (1000 bytes)");
  BOOST_CHECK_EQUAL(got.indexes[1], 2U);
  BOOST_CHECK_EQUAL(got.messages[2], "Subject: after\n\n3\n");
}

BOOST_AUTO_TEST_CASE(many_lines_over_cap)
{
  std::string body;
  for (int i = 0; i < 200; ++i) {
    body += "line " + std::to_string(i) + "\n";
  }
  Limits limits;
  limits.maxMessageBytes = 500;
  const Split got = split("From a\n" + body + "\nFrom b\nok\n", limits);
  BOOST_REQUIRE_EQUAL(got.messages.size(), 2U);
  BOOST_CHECK(!got.errors[0].empty());
  BOOST_CHECK_EQUAL(got.messages[1], "ok\n");
}

BOOST_AUTO_TEST_CASE(empty_mbox)
{
  BOOST_CHECK(split("").messages.empty());
  BOOST_CHECK(split("\n\n").messages.empty());
}

BOOST_AUTO_TEST_CASE(maildir_listing)
{
  dmarcwatch::test::TempDir dir;
  const auto root = dir.path() / "Maildir";
  BOOST_CHECK(!isMaildir(root.string()));
  for (const char* sub : {"cur", "new", "tmp"}) {
    std::filesystem::create_directories(root / sub);
  }
  touch(root / "new" / "2.host");
  touch(root / "cur" / "1.host:2,S");
  touch(root / "cur" / "3.host:2,");
  touch(root / "tmp" / "4.host");
  touch(root / "cur" / ".hidden");
  std::filesystem::create_directories(root / "cur" / "subdir");
  BOOST_CHECK(isMaildir(root.string()));
  BOOST_CHECK(!isMaildir((root / "cur" / "1.host:2,S").string()));
  const auto got = listMaildir(root.string());
  const std::vector<std::string> want{(root / "cur" / "1.host:2,S").string(), (root / "cur" / "3.host:2,").string(),
                                      (root / "new" / "2.host").string()};
  BOOST_CHECK_EQUAL_COLLECTIONS(got.begin(), got.end(), want.begin(), want.end());
}

BOOST_AUTO_TEST_CASE(maildir_with_only_new)
{
  dmarcwatch::test::TempDir dir;
  std::filesystem::create_directories(dir.path() / "new");
  touch(dir.path() / "new" / "a");
  BOOST_CHECK(isMaildir(dir.path().string()));
  BOOST_CHECK_EQUAL(listMaildir(dir.path().string()).size(), 1U);
}

BOOST_AUTO_TEST_SUITE_END()
