/*
 * test-daemon-pass.cc - a dmarcwatchd pass (daemon/daemon-pass.hh) and reloads: a
 * configuration the catalog or the alert target cannot take is refused by
 * accepts() (what SIGHUP asks before taking it) and, handed to a pass anyway,
 * logged once while the pass goes on with the old one.
 */
#ifndef BOOST_TEST_DYN_LINK
#define BOOST_TEST_DYN_LINK
#endif
#define BOOST_TEST_NO_MAIN
#include <boost/test/unit_test.hpp>

#include "collector/daemon/daemon-pass.hh"
#include "t/unit/log-capture.hh"
#include "t/unit/store-fixture.hh"
#include "t/unit/test-util.hh"

using namespace dmarcwatch::collector;
using namespace dmarcwatch::test;

BOOST_AUTO_TEST_SUITE(test_daemon_pass)

BOOST_AUTO_TEST_CASE(a_reload_the_catalog_cannot_take_keeps_the_old_configuration)
{
  TempDir tmp;
  Store store{tmp.path().string(), testOptions()};
  ResolverOptions resolver;
  resolver.spec = "none";
  auto good = parseConfig("ServiceCatalog none\nSyslogTarget stderr\n", "t.conf");
  auto catalog = loadCatalog(*good);
  DaemonPass pass(std::make_unique<EnrichmentStep>(std::make_unique<Resolver>(resolver), EnrichOptions{}), good, catalog);
  std::atomic<bool> stop{false};
  BOOST_CHECK_NO_THROW(pass.run(store, false, stop, good));

  auto unknownService = parseConfig("ServiceCatalog none\nSyslogTarget stderr\nAuthorize example.com nosuchservice\n", "t.conf");
  BOOST_CHECK(pass.accepts(*unknownService).find("nosuchservice") != std::string::npos);
  auto badHost = parseConfig("ServiceCatalog none\nSyslogTarget udp:no-such-host.invalid:514\n", "t.conf");
  BOOST_CHECK(!pass.accepts(*badHost).empty());
  auto fine = parseConfig("ServiceCatalog none\nSyslogTarget stderr\nAlertRepeat 1h\n", "t.conf");
  BOOST_CHECK_EQUAL(pass.accepts(*fine), "");

  LogCapture log;
  for (int i = 0; i < 3; ++i) {
    BOOST_CHECK_NO_THROW(pass.run(store, false, stop, unknownService));
  }
  BOOST_CHECK_EQUAL(log.count({"configuration not taken"}), 1U);
  BOOST_CHECK_NO_THROW(pass.run(store, false, stop, fine));
}

BOOST_AUTO_TEST_SUITE_END()
