/*
 * geoip-rate.cc - GeoIp against real data: check a converted ASN file row by
 * row against its CSV, then time look-ups.  By hand only (not in make check:
 * the real files are fetched by contrib/geoip/fetch-geoip.sh and are not in
 * the tree).
 *
 *   make t/bench/geoip-rate
 *   t/bench/geoip-rate COUNTRY.mmdb ASN.mmdb [ASN.csv...]
 *
 * Check: for every CSV row "FIRST,LAST,ASN,..." the first and the last address
 * must answer ASN (a row the converter cut for an overlap may differ: those are
 * counted apart as "differ" and printed, at most 10).  Rate: 1,000,000
 * addresses from a fixed-seed generator, 3 in 4 IPv4 (random over the whole
 * space) and 1 in 4 IPv6 (random within 2000::/4), country + ASN + org per
 * look-up, on one thread.  Prints "checked=N differ=D lookups=L seconds=S
 * rate=R/s found_country=C found_asn=A".  Exit 0, or 1 when a file cannot be
 * opened or read, 2 on usage.
 */
#include "config.h"

#include "collector/common/errors.hh"
#include "collector/common/ip-address.hh"
#include "collector/geo/geoip.hh"

#include <chrono>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <random>
#include <string>

using namespace dmarcwatch::collector;

namespace
{

//! \brief Check the first and last address of every row; \return rows checked, rows that differ.
std::pair<uint64_t, uint64_t> checkCsv(const GeoIp& geo, const std::string& path)
{
  std::ifstream in(path);
  if (!in) {
    throw std::runtime_error(path + ": cannot open");
  }
  uint64_t checked = 0;
  uint64_t differ = 0;
  std::string line;
  while (std::getline(in, line)) {
    auto c1 = line.find(',');
    auto c2 = line.find(',', c1 + 1);
    auto c3 = line.find(',', c2 + 1);
    if (c1 == std::string::npos || c2 == std::string::npos) {
      continue;
    }
    auto first = IpAddress::parse(line.substr(0, c1));
    auto last = IpAddress::parse(line.substr(c1 + 1, c2 - c1 - 1));
    auto want = static_cast<uint32_t>(std::stoul(line.substr(c2 + 1, c3 - c2 - 1)));
    if (!first || !last) {
      throw std::runtime_error(path + ": bad row: " + line);
    }
    ++checked;
    auto gotFirst = geo.lookup(*first).asn;
    auto gotLast = geo.lookup(*last).asn;
    if (gotFirst != want || gotLast != want) {
      if (++differ <= 10) {
        std::cerr << path << ": " << line << ": got AS" << gotFirst << " .. AS" << gotLast << "\n";
      }
    }
  }
  return {checked, differ};
}

} // namespace

int main(int argc, char** argv)
{
  if (argc < 3) {
    std::cerr << "usage: geoip-rate COUNTRY.mmdb ASN.mmdb [ASN.csv...]\n";
    return 2;
  }
  try {
    GeoIp geo;
    geo.open(argv[1], argv[2]);
    uint64_t checked = 0;
    uint64_t differ = 0;
    for (int arg = 3; arg < argc; ++arg) {
      auto [c, d] = checkCsv(geo, argv[arg]);
      checked += c;
      differ += d;
    }

    // The addresses first, so the timed loop holds look-ups only.
    constexpr unsigned s_count = 1000000;
    std::mt19937_64 random(20261207);
    std::vector<IpAddress> addresses(s_count);
    for (unsigned i = 0; i < s_count; ++i) {
      uint64_t high = random();
      uint64_t low = random();
      auto& bytes = addresses[i].bytes;
      if (i % 4 != 3) {
        bytes[10] = bytes[11] = 0xff;
        for (unsigned b = 0; b < 4; ++b) {
          bytes[12 + b] = static_cast<uint8_t>(low >> (8 * b));
        }
      }
      else {
        for (unsigned b = 0; b < 8; ++b) {
          bytes[b] = static_cast<uint8_t>(high >> (8 * b));
          bytes[8 + b] = static_cast<uint8_t>(low >> (8 * b));
        }
        bytes[0] = static_cast<uint8_t>(0x20 | (bytes[0] & 0x0f)); // 2000::/4, where the global unicast is
      }
    }
    uint64_t foundCountry = 0;
    uint64_t foundAsn = 0;
    auto start = std::chrono::steady_clock::now();
    for (const auto& address : addresses) {
      auto answer = geo.lookup(address);
      foundCountry += answer.country.empty() ? 0 : 1;
      foundAsn += answer.asn == 0 ? 0 : 1;
    }
    std::chrono::duration<double> seconds = std::chrono::steady_clock::now() - start;
    std::printf("checked=%llu differ=%llu lookups=%u seconds=%.3f rate=%.0f/s found_country=%llu found_asn=%llu\n",
                static_cast<unsigned long long>(checked), static_cast<unsigned long long>(differ), s_count,
                seconds.count(), s_count / seconds.count(), static_cast<unsigned long long>(foundCountry),
                static_cast<unsigned long long>(foundAsn));
  }
  catch (const std::exception& e) {
    std::cerr << "geoip-rate: " << e.what() << "\n";
    return 1;
  }
  return 0;
}
