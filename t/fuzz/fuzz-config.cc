/*
 * fuzz-config.cc - fuzz target: one configuration file through parseConfig.
 *
 * The input is the text of a dmarcwatch.conf (seed corpus: t/fuzz/corpus-config/,
 * conf/dmarcwatch.conf, the default configuration and small hand-written files
 * with every kind of value: sizes, durations, lists, networks, addresses,
 * enumerations).  A configuration file is written by an administrator, not an
 * attacker, but it is parsed at every reload by a running milter: a crash or a
 * hang there is an outage.  It also runs parseSize and parseDuration over the
 * raw bytes, and on a parsed Config the lookups the milter makes per message
 * (isReportRecipient, ownNetwork), and checks the promise of config.hh: the
 * map starts no larger than it may grow.
 *
 * Built with standalone-runner.cc for `make check` (replay) and with
 * libFuzzer by run-libfuzzer.sh.  ConfigError ("path:line: message") is the
 * expected outcome of a bad file; anything else escapes and aborts.
 */
#include "config.h"

#include "collector/common/config.hh"
#include "collector/common/errors.hh"
#include "collector/common/ip-address.hh"
#include "t/fuzz/fuzz-util.hh"

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

using namespace dmarcwatch;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size)
{
  const std::string_view text(reinterpret_cast<const char*>(data), size);

  // Step: the value parsers alone take any bytes and answer false on junk.
  uint64_t value = 0;
  (void)collector::parseSize(text, value);
  (void)collector::parseDuration(text, value);

  // Step: the whole file; a bad one is a ConfigError that names the file.
  std::shared_ptr<const collector::Config> config;
  try {
    config = collector::parseConfig(text, "fuzz.conf");
  }
  catch (const collector::ConfigError& e) {
    fuzz::fuzzCheck(std::string_view(e.what()).starts_with("fuzz.conf"), "ConfigError does not name the file");
    return 0;
  }
  fuzz::fuzzCheck(config != nullptr, "parseConfig returned no configuration");
  fuzz::fuzzCheck(config->mapSize <= config->maxDatabaseSize, "MapSize above MaxDatabaseSize accepted");

  // Step: the per-message lookups over what was parsed.
  (void)config->isReportRecipient("rua@example.test");
  (void)config->isReportRecipient(text.substr(0, 256));
  for (const char* address : {"192.0.2.1", "10.1.2.3", "2001:db8::1", "::ffff:192.0.2.1"}) {
    const auto ip = collector::IpAddress::parse(address);
    fuzz::fuzzCheck(ip.has_value(), "IpAddress::parse refused a literal");
    (void)config->ownNetwork(*ip);
  }
  return 0;
}
