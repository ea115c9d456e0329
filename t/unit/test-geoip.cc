/*
 * test-geoip.cc - collector/geo (GeoIp over libmaxminddb) and the converter
 * contrib/geoip/csv-to-mmdb.py that writes the MMDB files it reads.
 *
 * The MMDB files are made at test time from the CSV files in t/data/geoip by the
 * converter (python3), once per run, into a temporary directory; none is
 * committed.  So every run tests the writer (tree, CIDR split, data section,
 * metadata) through libmaxminddb, the reader the daemon uses.
 */
#ifndef BOOST_TEST_DYN_LINK
#define BOOST_TEST_DYN_LINK
#endif
#define BOOST_TEST_NO_MAIN
#include <boost/test/unit_test.hpp>

#include "collector/common/config.hh"
#include "collector/common/errors.hh"
#include "collector/geo/geoip.hh"
#include "t/unit/test-util.hh"

#include <cstdio>
#include <fstream>
#include <sys/wait.h>
#include <thread>
#include <vector>

using namespace dmarcwatch::collector;
using dmarcwatch::test::TempDir;

namespace dmarcwatch::collector
{
//! For BOOST_TEST's got/want messages.
std::ostream& operator<<(std::ostream& out, const GeoAnswer& answer)
{
  return out << "{country '" << answer.country << "', AS" << answer.asn << ", org '" << answer.asOrg << "'}";
}
} // namespace dmarcwatch::collector

namespace
{

struct CommandResult
{
  int status = -1; //!< exit status, -1 when it did not exit normally
  std::string output; //!< stdout and stderr together
};

//! \brief Run a shell command, collecting its output (the converter's messages).
CommandResult run(const std::string& command)
{
  CommandResult result;
  FILE* pipe = popen((command + " 2>&1").c_str(), "r");
  if (pipe == nullptr) {
    throw std::runtime_error("popen failed: " + command);
  }
  char buffer[4096];
  size_t got = 0;
  while ((got = fread(buffer, 1, sizeof(buffer), pipe)) > 0) {
    result.output.append(buffer, got);
  }
  int status = pclose(pipe);
  if (status != -1 && WIFEXITED(status)) {
    result.status = WEXITSTATUS(status);
  }
  return result;
}

std::string quote(const std::string& text)
{
  std::string out = "'";
  for (char c : text) {
    out += c == '\'' ? std::string("'\\''") : std::string(1, c);
  }
  return out + "'";
}

//! \brief csv-to-mmdb.py ARGS; the result of the run.
CommandResult convert(const std::string& args)
{
  auto script = dmarcwatch::test::srcDir() / "contrib" / "geoip" / "csv-to-mmdb.py";
  return run("python3 " + quote(script.string()) + " --epoch 1700000000 " + args);
}

//! The test databases, made once per run (the converter takes ~0.1 s per file).
struct TestDbs
{
  TempDir dir;
  std::string asn = (dir.path() / "asn.mmdb").string();
  std::string country = (dir.path() / "country.mmdb").string();
  std::string geolite2 = (dir.path() / "geolite2-country.mmdb").string();
  std::string countryV4 = (dir.path() / "country-v4.mmdb").string();

  TestDbs()
  {
    auto data = [](const char* name) { return quote(dmarcwatch::test::dataPath(std::string("geoip/") + name).string()); };
    for (const auto& [args, out] : std::vector<std::pair<std::string, std::string>>{
           {"--layout asn --strict", asn},
           {"--layout country-code --strict", country},
           {"--layout geolite2-country --strict", geolite2}}) {
      auto csv = out == asn ? "asn.csv" : out == country ? "country.csv" : "geolite2-country.csv";
      auto result = convert(args + " " + quote(out) + " " + data(csv));
      if (result.status != 0) {
        throw std::runtime_error("csv-to-mmdb.py failed: " + result.output);
      }
    }
    auto result = convert("--layout country-code --ip-version 4 " + quote(countryV4) + " " + data("country-v4.csv"));
    if (result.status != 0) {
      throw std::runtime_error("csv-to-mmdb.py failed: " + result.output);
    }
  }
};

const TestDbs& dbs()
{
  static const TestDbs s_dbs;
  return s_dbs;
}

IpAddress ip(const char* text)
{
  auto parsed = IpAddress::parse(text);
  if (!parsed) {
    throw std::runtime_error(std::string("bad test address ") + text);
  }
  return *parsed;
}

GeoIp asnOnly()
{
  GeoIp geo;
  geo.open("", dbs().asn);
  return geo;
}

uint32_t asnOf(const GeoIp& geo, const char* address)
{
  return geo.lookup(ip(address)).asn;
}

//! \brief Check the AS number of each address (0: not in the file).
void checkAsns(const GeoIp& geo, std::initializer_list<std::pair<const char*, uint32_t>> want)
{
  for (const auto& [address, asn] : want) {
    auto got = asnOf(geo, address);
    BOOST_TEST(got == asn, address << ": got AS" << got << ", want AS" << asn);
  }
}

std::string openError(const std::string& country, const std::string& asn)
{
  try {
    GeoIp geo;
    geo.open(country, asn);
  }
  catch (const ConfigError& e) {
    return e.what();
  }
  return "no error";
}

} // namespace

BOOST_AUTO_TEST_SUITE(test_geoip)

BOOST_AUTO_TEST_CASE(ipv4_range_off_cidr_boundaries)
{
  // 192.0.2.3-192.0.2.9 is 192.0.2.3/32 + .4/30 + .8/31: every address of the /28 around it,
  // so both sides of each boundary (and of each CIDR piece inside it) are asked.
  auto geo = asnOnly();
  for (unsigned last = 0; last < 16; ++last) {
    auto address = "192.0.2." + std::to_string(last);
    auto got = geo.lookup(ip(address.c_str()));
    bool inside = last >= 3 && last <= 9;
    BOOST_TEST(got.asn == (inside ? 64500U : 0U), address << ": got AS" << got.asn);
    BOOST_TEST(got.asOrg == (inside ? "Example Net" : ""), address << ": got org '" << got.asOrg << "'");
  }
}

BOOST_AUTO_TEST_CASE(touching_ranges_keep_their_own_records)
{
  auto geo = asnOnly();
  checkAsns(geo, {
    {"192.0.2.19", 0},
    {"192.0.2.20", 64504},
    {"192.0.2.37", 64504},
    {"192.0.2.38", 64505},
    {"192.0.2.40", 64505},
    {"192.0.2.41", 0},
  });
  // Across a /24 boundary: 203.0.113.255-203.0.114.0 is two /32s in different /24s.
  checkAsns(geo, {
    {"203.0.113.254", 0},
    {"203.0.113.255", 4200000000},
    {"203.0.114.0", 4200000000},
    {"203.0.114.1", 0},
  });
}

BOOST_AUTO_TEST_CASE(organisation_text_from_csv_quoting)
{
  auto geo = asnOnly();
  BOOST_TEST(geo.lookup(ip("198.51.100.0")) == (GeoAnswer{"", 64501, "Example, Inc."}));
  BOOST_TEST(geo.lookup(ip("198.51.100.255")) == (GeoAnswer{"", 64501, "Example, Inc."}));
  BOOST_TEST(geo.lookup(ip("203.0.113.255")).asOrg == "LLC \"Quoted\"");
  // An empty organisation is left out of the record: the AS is known, its name is not.
  BOOST_TEST(geo.lookup(ip("198.51.101.127")) == (GeoAnswer{"", 64502, ""}));
  BOOST_TEST(asnOf(geo, "198.51.101.128") == 0U);
}

BOOST_AUTO_TEST_CASE(ipv6_range_off_cidr_boundaries)
{
  auto geo = asnOnly();
  checkAsns(geo, {
    {"2001:db8::", 0},
    {"2001:db8::fe", 0},
    {"2001:db8::ff", 64510},
    {"2001:db8::100", 64510},
    {"2001:db8::ffff", 64510},
    {"2001:db8::1:0", 64510},
    {"2001:db8::1:1", 0},
  });
  BOOST_TEST(geo.lookup(ip("2001:db8:1::")) == (GeoAnswer{"", 64511, "Six Wide"}));
  checkAsns(geo, {
    {"2001:db8:1:ffff:ffff:ffff:ffff:ffff", 64511},
    {"2001:db8:0:ffff:ffff:ffff:ffff:ffff", 0},
    {"2001:db8:2::", 0},
  });
}

BOOST_AUTO_TEST_CASE(ends_of_the_address_spaces)
{
  auto geo = asnOnly();
  checkAsns(geo, {
    {"255.255.255.253", 0},
    {"255.255.255.254", 64506},
    {"255.255.255.255", 64506},
    {"0.0.0.0", 0},
    {"ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffef", 0},
    {"ffff:ffff:ffff:ffff:ffff:ffff:ffff:fff0", 64512},
    {"ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", 64512},
    {"::", 0},
  });
  // IPv4 lives at ::/96 in the file; an IPv6 address that is not IPv4-mapped is not IPv4.
  BOOST_TEST(asnOf(geo, "::c000:203") == 64500U); // ::192.0.2.3, as MaxMind's files answer too
  BOOST_TEST(asnOf(geo, "2001:db8::c000:203") == 0U);
}

BOOST_AUTO_TEST_CASE(ip_location_db_country_layout)
{
  GeoIp geo;
  geo.open(dbs().country, "");
  BOOST_TEST(geo.hasCountry());
  BOOST_TEST(!geo.hasAsn());
  BOOST_TEST(geo.lookup(ip("192.0.2.127")) == (GeoAnswer{"US", 0, ""}));
  BOOST_TEST(geo.lookup(ip("192.0.2.128")).country == "DE"); // written "de" in the CSV
  BOOST_TEST(geo.lookup(ip("2001:db8:ffff::1")).country == "FR");
  BOOST_TEST(geo.lookup(ip("2001:db9::")).country == "");
  BOOST_TEST(geo.lookup(ip("10.1.2.3")).country == "");
}

BOOST_AUTO_TEST_CASE(geolite2_country_layout)
{
  GeoIp geo;
  geo.open(dbs().geolite2, "");
  BOOST_TEST(geo.lookup(ip("192.0.2.1")).country == "US");
  BOOST_TEST(geo.lookup(ip("198.51.100.7")).country == "NL");
  BOOST_TEST(geo.lookup(ip("2001:db8::1")).country == "FR");
  // "country" (where the addresses are) wins over "registered_country" (who holds them) ...
  BOOST_TEST(geo.lookup(ip("203.0.113.1")).country == "AU");
  // ... which answers when GeoLite2 has no "country" for a network.
  BOOST_TEST(geo.lookup(ip("198.51.101.1")).country == "GB");
  BOOST_TEST(geo.lookup(ip("198.51.102.1")).country == "");
}

BOOST_AUTO_TEST_CASE(both_files)
{
  GeoIp geo;
  geo.open(dbs().country, dbs().asn);
  BOOST_TEST(geo.hasCountry());
  BOOST_TEST(geo.hasAsn());
  BOOST_TEST(geo.lookup(ip("192.0.2.5")) == (GeoAnswer{"US", 64500, "Example Net"}));
  BOOST_TEST(geo.lookup(ip("192.0.2.15")) == (GeoAnswer{"US", 0, ""}));
  BOOST_TEST(geo.lookup(ip("2001:db8::ff")) == (GeoAnswer{"FR", 64510, "Six Net"}));
  BOOST_TEST(geo.lookup(ip("2001:db8:1::1")) == (GeoAnswer{"FR", 64511, "Six Wide"}));
  BOOST_TEST(geo.lookup(ip("203.0.114.0")) == (GeoAnswer{"", 4200000000U, "LLC \"Quoted\""}));
}

BOOST_AUTO_TEST_CASE(not_configured_is_unknown)
{
  GeoIp none;
  BOOST_TEST(!none.hasCountry());
  BOOST_TEST(!none.hasAsn());
  BOOST_TEST(none.lookup(ip("192.0.2.5")) == GeoAnswer{});

  // Config: unset by default, and "none" is unset too.
  auto config = parseConfig("GeoIPCountry none\nGeoIPAsn " + dbs().asn + "\n", "t.conf");
  BOOST_TEST(config->geoIpCountry == "");
  GeoIp fromConfig;
  fromConfig.open(*config);
  BOOST_TEST(!fromConfig.hasCountry());
  BOOST_TEST(fromConfig.lookup(ip("192.0.2.5")) == (GeoAnswer{"", 64500, "Example Net"}));
  GeoIp defaults;
  defaults.open(*parseConfig("", "empty.conf"));
  BOOST_TEST(!defaults.hasCountry());
  BOOST_TEST(!defaults.hasAsn());
}

BOOST_AUTO_TEST_CASE(ipv6_asked_of_an_ipv4_file)
{
  GeoIp geo;
  geo.open(dbs().countryV4, "");
  BOOST_TEST(geo.lookup(ip("192.0.2.200")).country == "US");
  BOOST_TEST(geo.lookup(ip("192.0.3.0")).country == "");
  BOOST_TEST(geo.lookup(ip("2001:db8::1")).country == ""); // unknown, not an error
}

BOOST_AUTO_TEST_CASE(missing_or_broken_file_names_key_and_path)
{
  TempDir dir;
  auto missing = (dir.path() / "no-such.mmdb").string();
  BOOST_TEST(openError(missing, "") ==
             "GeoIPCountry " + missing + ": cannot open MMDB file: Error opening the specified MaxMind DB file "
             "(No such file or directory)");
  BOOST_TEST(openError("", missing).starts_with("GeoIPAsn " + missing + ": cannot open MMDB file: "));

  auto garbage = (dir.path() / "garbage.mmdb").string();
  std::ofstream(garbage) << "this is not an MMDB file\n";
  BOOST_TEST(openError(garbage, "") ==
             "GeoIPCountry " + garbage + ": cannot open MMDB file: The MaxMind DB file contains invalid metadata");

  // The first 1000 bytes of a good file: the metadata marker is gone.
  auto truncated = (dir.path() / "truncated.mmdb").string();
  auto good = dmarcwatch::test::readFile(dbs().asn);
  std::ofstream(truncated, std::ios::binary) << good.substr(0, 1000);
  BOOST_TEST(openError("", truncated).starts_with("GeoIPAsn " + truncated + ": cannot open MMDB file: "));

  auto empty = (dir.path() / "empty.mmdb").string();
  std::ofstream{empty};
  BOOST_TEST(openError(empty, "").starts_with("GeoIPCountry " + empty + ": cannot open MMDB file: "));

  // A failed open leaves the GeoIp as it was: both files, or neither, are replaced.
  GeoIp geo;
  geo.open(dbs().country, dbs().asn);
  BOOST_CHECK_THROW(geo.open(dbs().country, garbage), ConfigError);
  BOOST_TEST(geo.lookup(ip("192.0.2.5")) == (GeoAnswer{"US", 64500, "Example Net"}));
}

BOOST_AUTO_TEST_CASE(lookups_from_several_threads)
{
  GeoIp geo;
  geo.open(dbs().country, dbs().asn);
  const std::vector<std::pair<IpAddress, GeoAnswer>> want = {
    {ip("192.0.2.3"), {"US", 64500, "Example Net"}},
    {ip("192.0.2.2"), {"US", 0, ""}},
    {ip("2001:db8::1:0"), {"FR", 64510, "Six Net"}},
    {ip("10.0.0.1"), {}},
  };
  std::vector<unsigned> wrong(4, 0);
  std::vector<std::thread> threads;
  for (unsigned t = 0; t < wrong.size(); ++t) {
    threads.emplace_back([&, t] {
      for (unsigned i = 0; i < 20000; ++i) {
        const auto& [address, answer] = want[(i + t) % want.size()];
        if (!(geo.lookup(address) == answer)) {
          ++wrong[t];
        }
      }
    });
  }
  for (auto& thread : threads) {
    thread.join();
  }
  for (unsigned t = 0; t < wrong.size(); ++t) {
    BOOST_TEST(wrong[t] == 0U, "thread " << t << ": " << wrong[t] << " wrong answers");
  }
}

BOOST_AUTO_TEST_CASE(converter_refuses_bad_rows)
{
  TempDir dir;
  auto out = (dir.path() / "out.mmdb").string();
  auto check = [&](const std::string& layout, const std::string& csvText, const std::string& wantMessage) {
    auto csv = (dir.path() / "in.csv").string();
    std::ofstream(csv) << csvText;
    auto result = convert("--strict --layout " + layout + " " + quote(out) + " " + quote(csv));
    BOOST_TEST(result.status == 1, csvText << ": got status " << result.status);
    BOOST_TEST(result.output == "csv-to-mmdb: " + csv + wantMessage + "\n", csvText);
    BOOST_TEST(!std::filesystem::exists(out));
  };
  check("asn", "192.0.2.0,192.0.2.9,1,A\n192.0.2.9,192.0.2.20,2,B\n",
        ":2: range overlaps the one from " + (dir.path() / "in.csv").string() + ":1");
  check("asn", "192.0.2.9,192.0.2.0,1,A\n", ":1: LAST 192.0.2.0 is before FIRST 192.0.2.9");
  check("asn", "192.0.2.0,2001:db8::,1,A\n", ":1: FIRST and LAST are not both IPv4 or both IPv6");
  check("asn", "192.0.2.0,192.0.2.1,AS1,A\n", ":1: 'AS1' is not an AS number");
  check("asn", "192.0.2.0,192.0.2.1,4294967296,A\n", ":1: '4294967296' is not an AS number");
  check("asn", "192.0.2.0,192.0.2.1,1\n", ":1: want FIRST,LAST,ASN,ORG");
  check("asn", "192.0.2.256,192.0.2.1,1,A\n", ":1: '192.0.2.256' does not appear to be an IPv4 or IPv6 address");
  check("country-code", "192.0.2.0,192.0.2.1,USA\n", ":1: 'USA' is not a two-letter country code");
  check("country-code", "192.0.2.0,192.0.2.1,US,GB\n", ":1: want FIRST,LAST,COUNTRY");
  check("geolite2-country", "192.0.2.0,192.0.2.1,\n", ":1: want FIRST,LAST,COUNTRY[,REGISTERED-COUNTRY]");
  check("geolite2-country", "192.0.2.0,192.0.2.1,US,G1\n", ":1: 'G1' is not a two-letter country code");
}

BOOST_AUTO_TEST_CASE(converter_overlap_without_strict_keeps_the_earlier_range)
{
  // As in ip-location-db's asn CSV: a range that starts inside the one before it.
  TempDir dir;
  auto csv = (dir.path() / "in.csv").string();
  auto out = (dir.path() / "out.mmdb").string();
  std::ofstream(csv) << "192.0.2.0,192.0.2.9,64500,A\n192.0.2.8,192.0.2.20,64501,B\n"
                        "192.0.2.12,192.0.2.13,64502,C\n";
  auto result = convert("--layout asn " + quote(out) + " " + quote(csv));
  BOOST_TEST(result.status == 0, result.output);
  BOOST_TEST(result.output.find("warning: " + csv + ":2: range overlaps the one from " + csv + ":1") !=
             std::string::npos, result.output);
  BOOST_TEST(result.output.find("warning: " + csv + ":3: range overlaps the one from " + csv + ":2") !=
             std::string::npos, result.output);
  GeoIp geo;
  geo.open("", out);
  checkAsns(geo, {
    {"192.0.2.9", 64500},
    {"192.0.2.10", 64501},
    {"192.0.2.12", 64501}, // inside 2's range: row 3 dropped
    {"192.0.2.20", 64501},
    {"192.0.2.21", 0},
  });
}

BOOST_AUTO_TEST_CASE(record_sizes_28_and_32)
{
  // The real files fit 24-bit records; larger ones need 28 or 32 (28 splits a nibble).
  TempDir dir;
  for (const char* size : {"28", "32"}) {
    auto out = (dir.path() / (std::string("asn-") + size + ".mmdb")).string();
    auto result = convert(std::string("--layout asn --strict --record-size ") + size + " " + quote(out) + " " +
                          quote(dmarcwatch::test::dataPath("geoip/asn.csv").string()));
    BOOST_TEST(result.status == 0, result.output);
    BOOST_TEST(result.output.find(std::string(size) + "-bit records") != std::string::npos, result.output);
    GeoIp geo;
    geo.open("", out);
    checkAsns(geo, {
      {"192.0.2.2", 0},
      {"192.0.2.3", 64500},
      {"192.0.2.9", 64500},
      {"192.0.2.10", 0},
      {"2001:db8::1:0", 64510},
      {"ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", 64512},
    });
    BOOST_TEST(geo.lookup(ip("203.0.114.0")).asOrg == "LLC \"Quoted\"");
  }
}

BOOST_AUTO_TEST_CASE(converter_output_is_reproducible)
{
  // Same input and --epoch: the same bytes (installs can compare, tests can cache).
  TempDir dir;
  auto again = (dir.path() / "again.mmdb").string();
  auto result = convert("--layout asn --strict " + quote(again) + " " +
                        quote(dmarcwatch::test::dataPath("geoip/asn.csv").string()));
  BOOST_TEST(result.status == 0, result.output);
  BOOST_TEST(dmarcwatch::test::readFile(again) == dmarcwatch::test::readFile(dbs().asn));
}

BOOST_AUTO_TEST_SUITE_END()
