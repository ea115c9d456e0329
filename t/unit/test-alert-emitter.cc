/*
 * test-alert-emitter.cc - alerts as RFC 5424 lines: the exact format, PRI
 * numbers, what values become (escaped, printable, cut), the 2 KiB bound, and
 * AlertEmitter against real receivers (unix datagram, UDP, TCP, stderr,
 * nobody listening).
 */
#ifndef BOOST_TEST_DYN_LINK
#define BOOST_TEST_DYN_LINK
#endif
#define BOOST_TEST_NO_MAIN
#include <boost/test/unit_test.hpp>

#include "collector/alerts/alert-emitter.hh"
#include "collector/common/config.hh"
#include "collector/common/errors.hh"
#include "t/unit/socket-util.hh"
#include "t/unit/test-util.hh"

#include <cstdio>
#include <string>
#include <vector>

#include <fcntl.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

using namespace dmarcwatch::collector;
using dmarcwatch::test::Socket;

namespace
{

//! The alert of the golden lines: 2023-11-14T22:13:20Z, two fields.
Alert sampleAlert()
{
  Alert alert;
  alert.id = "0123456789abcdef";
  alert.rule = "spoofing";
  alert.domain = "example.com";
  alert.severity = AlertSeverity::Error;
  alert.time = 1700000000;
  alert.message = "310 messages from unknown sources fail DMARC for example.com";
  alert.fields = {{"service", "SendGrid"}, {"messages", "310"}};
  return alert;
}

//! The SD-PARAM value of name in a formatted line, as it is on the wire (escaped), or "<none>".
std::string wireValue(const std::string& line, const std::string& name)
{
  std::string start = " " + name + "=\"";
  size_t at = line.find(start);
  if (at == std::string::npos) {
    return "<none>";
  }
  at += start.size();
  size_t end = at;
  while (end < line.size() && line[end] != '"') {
    end += line[end] == '\\' ? 2 : 1;
  }
  return line.substr(at, end - at);
}

//! The line of one alert whose only field is value="..." (mail, "h", pid 1).
std::string lineWithValue(const std::string& value)
{
  Alert alert = sampleAlert();
  alert.fields = {{"value", value}};
  return formatAlert(alert, AlertSyslogOptions{}, "h", 1);
}

//! The end of text as long as want (to compare with want).
std::string tail(const std::string& text, const std::string& want)
{
  return text.size() < want.size() ? text : text.substr(text.size() - want.size());
}

//! True when text is well-formed UTF-8 (a lenient check is enough: printableUtf8 is stricter).
bool wellFormedUtf8(const std::string& text)
{
  for (size_t at = 0; at < text.size();) {
    auto lead = static_cast<unsigned char>(text[at]);
    size_t length = lead < 0x80 ? 1 : lead >= 0xF0 ? 4 : lead >= 0xE0 ? 3 : lead >= 0xC2 ? 2 : 0;
    if (length == 0 || at + length > text.size()) {
      return false;
    }
    for (size_t i = 1; i < length; ++i) {
      if ((static_cast<unsigned char>(text[at + i]) & 0xC0) != 0x80) {
        return false;
      }
    }
    at += length;
  }
  return true;
}

} // namespace

BOOST_AUTO_TEST_SUITE(test_alert_emitter)

BOOST_AUTO_TEST_CASE(golden_line)
{
  std::string got = formatAlert(sampleAlert(), AlertSyslogOptions{}, "mx1.example.net", 4711);
  // mail (2) * 8 + err (3) = 19
  std::string want = "<19>1 2023-11-14T22:13:20.000000Z mx1.example.net dmarcwatch 4711 spoofing "
                     "[dmarcwatch@32473 id=\"0123456789abcdef\" rule=\"spoofing\" domain=\"example.com\" "
                     "severity=\"err\" service=\"SendGrid\" messages=\"310\"] "
                     "310 messages from unknown sources fail DMARC for example.com";
  BOOST_CHECK_EQUAL(got, want);
}

BOOST_AUTO_TEST_CASE(facility_severity_app_name_and_enterprise_number)
{
  Config config;
  config.alerts.facility = "local7";
  config.alerts.appName = "dmarc alerts"; // a header token has no spaces
  config.alerts.enterpriseNumber = 99999;
  config.syslogTarget = "udp:127.0.0.1:514";
  AlertSyslogOptions options = AlertSyslogOptions::fromConfig(config);
  BOOST_CHECK_EQUAL(options.target, "udp:127.0.0.1:514");
  BOOST_CHECK_EQUAL(options.facility, 23 * 8);

  Alert alert = sampleAlert();
  alert.severity = AlertSeverity::Info;
  alert.fields.clear();
  alert.message.clear();
  // local7 (23) * 8 + info (6) = 190; no message: the line ends with the structured data.
  BOOST_CHECK_EQUAL(formatAlert(alert, options, "h", 7),
                    "<190>1 2023-11-14T22:13:20.000000Z h dmarcalerts 7 spoofing [dmarcwatch@99999 "
                    "id=\"0123456789abcdef\" rule=\"spoofing\" domain=\"example.com\" severity=\"info\"]");

  options.facility = 3 * 8; // daemon
  alert.severity = AlertSeverity::Warning;
  BOOST_CHECK_EQUAL(formatAlert(alert, options, "h", 7).substr(0, 6), "<28>1 ");
  alert.severity = AlertSeverity::Notice;
  BOOST_CHECK_EQUAL(formatAlert(alert, options, "h", 7).substr(0, 6), "<29>1 ");

  config.alerts.facility = "no-such-facility";
  BOOST_CHECK_THROW(AlertSyslogOptions::fromConfig(config), ConfigError);
}

BOOST_AUTO_TEST_CASE(quote_backslash_and_bracket_are_escaped)
{
  std::string got = lineWithValue(R"(a"b\c]d)");
  BOOST_CHECK_EQUAL(wireValue(got, "value"), R"(a\"b\\c\]d)");
  // The structured data still ends where it should: right before the message.
  BOOST_CHECK(got.find(R"(value="a\"b\\c\]d"] 310 messages)") != std::string::npos);
  // The message is no SD-PARAM: it is not escaped.
  Alert alert = sampleAlert();
  alert.message = R"(say "x" [y] \z)";
  std::string line = formatAlert(alert, AlertSyslogOptions{}, "h", 1);
  BOOST_CHECK_EQUAL(tail(line, R"( say "x" [y] \z)"), R"( say "x" [y] \z)");
}

BOOST_AUTO_TEST_CASE(control_bytes_become_question_marks)
{
  BOOST_CHECK_EQUAL(wireValue(lineWithValue(std::string("x\ny\tz\x7f\r") + '\0' + "e"), "value"), "x?y?z???e");
  Alert alert = sampleAlert();
  alert.message = "line one\n<13>1 forged line\x1b[31m";
  std::string line = formatAlert(alert, AlertSyslogOptions{}, "h", 1);
  BOOST_CHECK_EQUAL(line.find('\n'), std::string::npos);
  BOOST_CHECK_EQUAL(tail(line, " line one?<13>1 forged line?[31m"), " line one?<13>1 forged line?[31m");
}

BOOST_AUTO_TEST_CASE(valid_utf8_is_kept_invalid_becomes_question_marks)
{
  // Kept: 2-, 3- and 4-byte characters.
  std::string kept = "Z\xc3\xbcrich \xe2\x9c\x93 \xf0\x9f\x98\x80";
  BOOST_CHECK_EQUAL(wireValue(lineWithValue(kept), "value"), kept);
  // Replaced, one '?' per byte: a stray continuation byte, a lead without its continuation,
  // 0xff, an overlong '/', a surrogate, beyond U+10FFFF, a C1 control (U+0085), a truncated end.
  BOOST_CHECK_EQUAL(wireValue(lineWithValue("a\x80" "b\xc3(c\xff"), "value"), "a?b?(c?");
  BOOST_CHECK_EQUAL(wireValue(lineWithValue("\xc0\xaf|\xed\xa0\x80|\xf4\x90\x80\x80"), "value"), "??|???|????");
  BOOST_CHECK_EQUAL(wireValue(lineWithValue("\xc2\x85|\xe2\x9c"), "value"), "??|??");
}

BOOST_AUTO_TEST_CASE(long_values_are_cut_to_256_bytes_on_a_character_boundary)
{
  std::string got = wireValue(lineWithValue(std::string(1000, 'a')), "value");
  BOOST_CHECK_EQUAL(got, std::string(253, 'a') + "...");

  std::string accents;
  for (int i = 0; i < 300; ++i) {
    accents += "\xc3\xa9"; // é
  }
  got = wireValue(lineWithValue(accents), "value");
  BOOST_CHECK_LE(got.size(), 256U);
  BOOST_CHECK_EQUAL(got.substr(got.size() - 3), "...");
  BOOST_CHECK_EQUAL(got.size(), 252U + 3U); // 126 characters of 2 bytes, then "..."
  BOOST_CHECK(wellFormedUtf8(got));

  // Escaping comes after the cut: 256 bytes of '"' are 253 + "..." and then doubled on the wire.
  got = wireValue(lineWithValue(std::string(300, '"')), "value");
  BOOST_CHECK_EQUAL(got.size(), 253U * 2 + 3U);
}

BOOST_AUTO_TEST_CASE(the_whole_line_fits_one_datagram)
{
  Alert alert = sampleAlert();
  alert.fields.clear();
  for (int i = 0; i < 40; ++i) {
    alert.fields.emplace_back("f" + std::to_string(i), std::string(300, 'v'));
  }
  alert.message = std::string(5000, 'm');
  std::string line = formatAlert(alert, AlertSyslogOptions{}, std::string(300, 'h'), 1);
  BOOST_TEST_MESSAGE("length " << line.size());
  BOOST_CHECK_LT(line.size(), s_alertMaxLineBytes);
  // The first fields are there in order, the later ones left out, the message cut but present.
  BOOST_CHECK(line.find(" f0=\"") < line.find(" f1=\""));
  BOOST_CHECK(line.find(" f1=\"") != std::string::npos);
  BOOST_CHECK_EQUAL(line.find(" f39=\""), std::string::npos);
  BOOST_CHECK(line.find("] mmmm") != std::string::npos);
  BOOST_CHECK_EQUAL(line.substr(line.size() - 3), "...");
}

BOOST_AUTO_TEST_CASE(bad_targets_are_config_errors)
{
  AlertSyslogOptions options;
  for (const char* target : {"udp:127.0.0.1", "tcp:127.0.0.1:port", "unix:", "syslog-ng", "file:/tmp/x"}) {
    options.target = target;
    BOOST_CHECK_THROW(AlertEmitter{options}, ConfigError);
  }
  for (const char* target : {"/dev/log", "stderr", "udp:[::1]:514", "tcp:127.0.0.1:1"}) {
    options.target = target;
    BOOST_CHECK_NO_THROW(AlertEmitter{options}); // nothing is opened yet
  }
}

BOOST_AUTO_TEST_CASE(a_datagram_to_a_unix_socket)
{
  dmarcwatch::test::TempDir dir;
  std::string path = (dir.path() / "alerts.sock").string();
  Socket receiver(AF_UNIX, SOCK_DGRAM);
  dmarcwatch::test::bindUnix(receiver.fd, path);
  AlertSyslogOptions options;
  options.target = "unix:" + path;
  options.facility = 16 * 8; // local0
  AlertEmitter emitter(options);
  Alert alert = sampleAlert();
  BOOST_CHECK(emitter.emit(alert));
  std::string got = dmarcwatch::test::receiveDatagram(receiver.fd);
  BOOST_CHECK_EQUAL(got, formatAlert(alert, options, localHostName(), getpid()));
  BOOST_CHECK_EQUAL(got.substr(0, 7), "<131>1 ");
}

BOOST_AUTO_TEST_CASE(a_datagram_over_udp)
{
  Socket receiver(AF_INET, SOCK_DGRAM);
  uint16_t port = dmarcwatch::test::bindLoopback(receiver.fd);
  AlertSyslogOptions options;
  options.target = "udp:127.0.0.1:" + std::to_string(port);
  AlertEmitter emitter(options);
  Alert alert = sampleAlert();
  BOOST_CHECK(emitter.emit(alert));
  BOOST_CHECK_EQUAL(dmarcwatch::test::receiveDatagram(receiver.fd), formatAlert(alert, options, localHostName(), getpid()));
}

BOOST_AUTO_TEST_CASE(tcp_frames_are_octet_counted)
{
  Socket listener(AF_INET, SOCK_STREAM);
  uint16_t port = dmarcwatch::test::bindLoopback(listener.fd);
  BOOST_REQUIRE_EQUAL(listen(listener.fd, 4), 0);
  AlertSyslogOptions options;
  options.target = "tcp:127.0.0.1:" + std::to_string(port);
  AlertEmitter emitter(options);
  Alert first = sampleAlert();
  Alert second = sampleAlert();
  second.domain = "example.org";
  second.message = "line\nbreak \xc3\xa9";
  BOOST_CHECK(emitter.emit(first));
  BOOST_CHECK(emitter.emit(second)); // the same connection
  int conn = accept(listener.fd, nullptr, nullptr);
  BOOST_REQUIRE(conn >= 0);
  std::vector<std::string> frames = dmarcwatch::test::receiveFrames(conn, 3);
  close(conn);
  BOOST_REQUIRE_EQUAL(frames.size(), 2U);
  BOOST_CHECK_EQUAL(frames[0], formatAlert(first, options, localHostName(), getpid()));
  BOOST_CHECK_EQUAL(frames[1], formatAlert(second, options, localHostName(), getpid()));
  BOOST_CHECK_EQUAL(tail(frames[1], " line?break \xc3\xa9"), " line?break \xc3\xa9");
}

BOOST_AUTO_TEST_CASE(false_when_nobody_listens)
{
  dmarcwatch::test::TempDir dir;
  AlertSyslogOptions options;
  options.target = "unix:" + (dir.path() / "absent.sock").string();
  BOOST_CHECK(!AlertEmitter(options).emit(sampleAlert()));

  // A TCP port that is bound but not listening refuses the connection.
  Socket bound(AF_INET, SOCK_STREAM);
  uint16_t port = dmarcwatch::test::bindLoopback(bound.fd);
  options.target = "tcp:127.0.0.1:" + std::to_string(port);
  BOOST_CHECK(!AlertEmitter(options).emit(sampleAlert()));
}

BOOST_AUTO_TEST_CASE(stderr_gets_the_line)
{
  dmarcwatch::test::TempDir dir;
  std::string path = (dir.path() / "stderr").string();
  AlertSyslogOptions options;
  options.target = "stderr";
  AlertEmitter emitter(options);
  // stderr to a file for the emit, then back.
  fflush(stderr);
  int saved = dup(STDERR_FILENO);
  int file = open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
  BOOST_REQUIRE(saved >= 0 && file >= 0);
  dup2(file, STDERR_FILENO);
  bool sent = emitter.emit(sampleAlert());
  dup2(saved, STDERR_FILENO);
  close(saved);
  close(file);
  BOOST_CHECK(sent);
  BOOST_CHECK_EQUAL(dmarcwatch::test::readFile(path),
                    formatAlert(sampleAlert(), options, localHostName(), getpid()) + "\n");
}

BOOST_AUTO_TEST_CASE(udp_nobody_listening_is_not_taken)
{
  // The ICMP error of a datagram shows as ECONNREFUSED on the next send: no alert may count as
  // sent while nobody listens (it would leave the outbox and be lost).
  int probe = ::socket(AF_INET, SOCK_DGRAM, 0);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ::bind(probe, reinterpret_cast<sockaddr*>(&address), sizeof address);
  socklen_t length = sizeof address;
  ::getsockname(probe, reinterpret_cast<sockaddr*>(&address), &length);
  const int port = ntohs(address.sin_port);
  ::close(probe);
  AlertSyslogOptions options;
  options.target = "udp:127.0.0.1:" + std::to_string(port);
  AlertEmitter emitter(options);
  Alert alert;
  alert.id = "0123456789abcdef";
  alert.rule = "spoofing";
  alert.domain = "example.com";
  alert.message = "m";
  int taken = 0;
  for (int i = 0; i < 5; ++i) {
    taken += emitter.emit(alert) ? 1 : 0;
    ::usleep(20000);
  }
  BOOST_CHECK_LT(taken, 2); // the first datagram cannot know yet
}

BOOST_AUTO_TEST_SUITE_END()
