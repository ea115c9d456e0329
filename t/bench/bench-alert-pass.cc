/*
 * bench-alert-pass.cc - one alert pass of dmarcwatchd over N new reports,
 * offline (issue 12: 10,000 new reports in under 10 s).
 *
 *   bench-alert-pass CATALOG_DIR STORE_DIR [N] [--fill-only]
 *
 * Fills a fresh store at STORE_DIR with N one-day reports (100 domains, each
 * N/100 consecutive days ending today, 4 reporters a day; each report 12
 * records: the domain's own servers, Google Workspace by its selector, SendGrid
 * signing as itself (failing, not aligned), forwarders and a few spoofers on
 * fresh addresses), then runs the first pass of the daemon over them (every
 * report new, every domain judged, every rule on, alerts to a counting sink)
 * and prints "reports=N seconds=S domains=D alerts=A" on stdout.  With --fill-only
 * it stops after filling (for timing the whole daemon, `dmarcwatchd --once`, on it).
 * Exit 0, 1 on a store error, 2 on usage error.
 */
#include "collector/alerts/alert-pass.hh"
#include "collector/sources/catalog.hh"

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <string>

using namespace dmarcwatch::collector;

namespace
{

constexpr int64_t s_day = 86400;

IpAddress v4(uint32_t n)
{
  IpAddress ip;
  ip.bytes[10] = 0xff;
  ip.bytes[11] = 0xff;
  ip.bytes[12] = static_cast<uint8_t>(n >> 24);
  ip.bytes[13] = static_cast<uint8_t>(n >> 16);
  ip.bytes[14] = static_cast<uint8_t>(n >> 8);
  ip.bytes[15] = static_cast<uint8_t>(n);
  return ip;
}

Record record(IpAddress ip, uint64_t count, const std::string& headerFrom, const std::string& signer,
              const std::string& selector, bool aligned, bool spfPass)
{
  Record r;
  r.sourceIp = ip;
  r.count = count;
  r.disposition = "none";
  r.headerFrom = headerFrom;
  r.dkim = aligned ? "pass" : "fail";
  r.spf = spfPass ? "pass" : "fail";
  r.dkimResults.push_back(DkimResult{signer, selector, aligned || signer != headerFrom ? "pass" : "fail", ""});
  r.spfResults.push_back(SpfResult{spfPass ? headerFrom : "bounce." + signer, "mfrom", spfPass ? "pass" : "softfail", ""});
  return r;
}

} // namespace

int main(int argc, char** argv)
{
  if (argc < 3) {
    std::fprintf(stderr, "usage: bench-alert-pass CATALOG_DIR STORE_DIR [N]\n");
    return 2;
  }
  const std::string catalogDir = argv[1];
  const std::string dir = argv[2];
  const long count = argc > 3 ? std::strtol(argv[3], nullptr, 10) : 10000;
  const bool fillOnly = argc > 4 && std::string(argv[4]) == "--fill-only";
  if (count < 100) {
    std::fprintf(stderr, "bench-alert-pass: N must be at least 100\n");
    return 2;
  }
  try {
    std::filesystem::remove_all(dir);
    std::filesystem::create_directories(dir);
    auto config = parseConfig("ServiceCatalog " + catalogDir + "\nDatabase " + dir + "\n", "bench.conf");
    Namer namer(loadCatalog(*config), config, Namer::Options{config->suspiciousMessages});
    const int64_t now = static_cast<int64_t>(time(nullptr));
    const auto today = static_cast<uint32_t>(now / s_day);
    Store::Options options;
    options.sync = false;
    options.mapSize = 256ULL << 20;
    Store store(dir, options);

    // Step 1: the reports.
    const long perDomain = count / 100;
    const char* reporters[] = {"google.com", "Yahoo", "Mail.Ru", "Outlook.com"};
    uint32_t fresh = 0xC6336400; // 198.51.100.0: spoofers and new servers from here on
    long stored = 0;
    for (int d = 0; d < 100 && stored < count; ++d) {
      const std::string domain = "domain" + std::to_string(d) + ".example";
      for (long day = 0; day < perDomain && stored < count; ++day) {
        const uint32_t when = today - static_cast<uint32_t>(perDomain / 4) + static_cast<uint32_t>(day / 4);
        ReportHeader header;
        header.metadata.orgName = reporters[day % 4];
        header.metadata.reportId = domain + "-" + std::to_string(day);
        header.metadata.email = "noreply@example.net";
        header.metadata.begin = int64_t{when} * s_day;
        header.metadata.end = header.metadata.begin + s_day - 1;
        header.policy.domain = domain;
        header.policy.p = "none";
        auto writer = store.beginReport(header);
        uint64_t messages = 0;
        auto add = [&](Record r) {
          messages += r.count;
          writer->addRecord(r);
        };
        const auto base = static_cast<uint32_t>(0x0A000000 + d * 256);
        add(record(v4(base + 1), 200, domain, domain, "s1", true, true));
        add(record(v4(base + 2), 150, domain, domain, "s1", true, true));
        add(record(v4(0x4A7D0000 + d), 300, domain, domain, "google", true, true));
        add(record(v4(0xA7590000 + d), 40, domain, "sendgrid.net", "s1", false, false));
        add(record(v4(0xD1550000 + d), 25, domain, domain, "s1", true, false));
        for (int s = 0; s < 7; ++s) {
          add(record(v4(fresh++), 3, domain, domain, "s1", false, false));
        }
        ReportSummary summary;
        summary.records = 12;
        summary.messages = messages;
        summary.source = "bench";
        writer->commit(summary);
        ++stored;
      }
    }

    if (fillOnly) {
      std::printf("reports=%ld\n", stored);
      return 0;
    }
    // Step 2: the first pass, timed.
    uint64_t alerts = 0;
    AlertPass pass(*config, namer);
    AlertPassOptions passOptions;
    passOptions.full = true;
    passOptions.maxReports = static_cast<size_t>(count);
    const auto started = std::chrono::steady_clock::now();
    const auto summary = pass.run(store, storedNetworkLookup(store), [&alerts](const Alert&) { return ++alerts, true; },
                                  passOptions, now);
    const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
    std::printf("reports=%llu seconds=%.3f domains=%llu alerts=%llu\n",
                static_cast<unsigned long long>(summary.reports), seconds, static_cast<unsigned long long>(summary.domains),
                static_cast<unsigned long long>(alerts));
  }
  catch (const std::exception& e) {
    std::fprintf(stderr, "bench-alert-pass: %s\n", e.what());
    return 1;
  }
  return 0;
}
