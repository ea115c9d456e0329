/*
 * generate-report.cc - synthetic DMARC aggregate reports for the benchmark.
 *
 * Writes one RFC 7489 (appendix C) aggregate report with N records, plain or
 * gzip, to stdout or a file; or, with --batch-dir, a whole directory of small
 * reports (one per domain and day) to fill a store for `status` timing.
 * Output is a pure function of the options: the random generator is a fixed
 * algorithm (splitmix64), never std::random distributions, whose results
 * differ between standard libraries.  The same seed gives the same bytes on
 * every machine, so cached inputs stay valid and gzip and plain runs carry
 * the same records.
 *
 * Records look like what Google, Microsoft or Yahoo send: IPv4 and IPv6
 * sources (mostly distinct, some drawn from well-known sender ranges), counts
 * 1..200, aligned and unaligned DKIM, forwarded mail failing SPF, spoofing
 * failing both, 1-3 DKIM results and 1-2 SPF results per record.
 *
 * Expected totals (records, sum of counts) go to stderr as
 * "records=N messages=M reports=K", and as JSON to --totals FILE, so the
 * bench can check what `dmarcwatch ingest --json` reports.
 *
 * Used by: t/bench/run-bench.sh, t/bench/bench-postfix.sh, t/bench/bench-peers.sh.
 * Single-threaded.  Errors (bad option, I/O) print a message and exit 1;
 * usage errors exit 2.
 */
#include <arpa/inet.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include <cerrno>
#include <charconv>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <stdexcept>
#include <string>
#include <string_view>
#include <system_error>

namespace
{

//! splitmix64: tiny, fast, and the same everywhere.
class Random
{
public:
  explicit Random(uint64_t seed) :
    d_state(seed) {}
  uint64_t next()
  {
    uint64_t z = (d_state += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
  }
  //! Uniform in [0, n) (multiply-shift; bias is irrelevant here).
  uint32_t below(uint32_t n) { return static_cast<uint32_t>(((next() >> 32) * n) >> 32); }
  //! True with probability percent/100.
  bool chance(uint32_t percent) { return below(100) < percent; }

private:
  uint64_t d_state;
};

/*
 * Output: plain stdio or gzip, behind one buffered append interface.  The
 * buffer is flushed at 1 MiB so memory stays flat for any record count.
 */
class Output
{
public:
  Output(const std::string& path, bool gzip, int level) :
    d_path(path.empty() ? "(stdout)" : path)
  {
    // Step: open the sink.  gzdopen on stdout keeps "-" working in pipes.
    d_buffer.reserve(s_flushAt + 8192);
    if (gzip) {
      d_gz = path.empty() ? gzdopen(dup(fileno(stdout)), "wb") : gzopen(path.c_str(), "wb");
      if (d_gz == nullptr) {
        throw std::system_error(errno, std::generic_category(), "open " + d_path);
      }
      gzbuffer(d_gz, 1 << 20);
      gzsetparams(d_gz, level, Z_DEFAULT_STRATEGY);
    }
    else {
      d_file = path.empty() ? stdout : std::fopen(path.c_str(), "wb");
      if (d_file == nullptr) {
        throw std::system_error(errno, std::generic_category(), "open " + d_path);
      }
    }
  }
  ~Output()
  {
    if (d_gz != nullptr) {
      gzclose(d_gz);
    }
    if (d_file != nullptr && d_file != stdout) {
      std::fclose(d_file);
    }
  }
  Output(const Output&) = delete;
  Output& operator=(const Output&) = delete;

  void put(std::string_view text)
  {
    d_buffer.append(text);
    if (d_buffer.size() >= s_flushAt) {
      flush();
    }
  }
  void putNumber(uint64_t value)
  {
    char digits[24];
    auto res = std::to_chars(digits, digits + sizeof(digits), value);
    d_buffer.append(digits, res.ptr);
  }
  //! \brief Write out what is buffered, and close the sink. \throw std::runtime_error on I/O failure
  void finish()
  {
    flush();
    if (d_gz != nullptr) {
      int rc = gzclose(d_gz);
      d_gz = nullptr;
      if (rc != Z_OK) {
        throw std::runtime_error("gzclose " + d_path + " failed");
      }
    }
    if (d_file != nullptr) {
      bool bad = std::fflush(d_file) != 0 || std::ferror(d_file) != 0;
      if (d_file != stdout) {
        bad = std::fclose(d_file) != 0 || bad;
      }
      d_file = nullptr;
      if (bad) {
        throw std::system_error(errno, std::generic_category(), "write " + d_path);
      }
    }
  }

private:
  static constexpr size_t s_flushAt = 1 << 20;

  void flush()
  {
    if (d_buffer.empty()) {
      return;
    }
    if (d_gz != nullptr) {
      if (gzwrite(d_gz, d_buffer.data(), static_cast<unsigned>(d_buffer.size())) != static_cast<int>(d_buffer.size())) {
        throw std::runtime_error("gzwrite " + d_path + " failed");
      }
    }
    else if (std::fwrite(d_buffer.data(), 1, d_buffer.size(), d_file) != d_buffer.size()) {
      throw std::system_error(errno, std::generic_category(), "write " + d_path);
    }
    d_buffer.clear();
  }

  std::string d_path;
  std::string d_buffer;
  gzFile d_gz = nullptr;
  FILE* d_file = nullptr;
};

//! A well-known sending service: address ranges and the DKIM/SPF domains it signs with.
struct Service
{
  uint32_t v4Prefix;    //!< network, host order
  uint32_t v4Bits;      //!< prefix length
  uint16_t v6Prefix[3]; //!< a /48
  const char* dkimDomain; //!< nullptr: signs with the customer's domain
  const char* selector;
  const char* spfDomain;  //!< nullptr: the customer's bounce domain
};

// Ranges the real services announce (approximately); the collector's catalog
// may or may not recognise them, which is fine for timing.
const Service s_services[] = {
  {0xd1558000, 17, {0x2a00, 0x1450, 0x4864}, nullptr, "google", nullptr},              // Google Workspace
  {0x286b0000, 16, {0x2a01, 0x0111, 0xf400}, nullptr, "selector1", nullptr},           // Microsoft 365
  {0x36f00000, 18, {0x2a01, 0x0111, 0xf403}, "amazonses.com", "ug7nbtf4gccmlpwj322ax3p6ow6yfsug", "amazonses.com"},
  {0xa7590000, 17, {0x2a01, 0x0111, 0xf404}, "sendgrid.net", "smtpapi", "sendgrid.net"},
  {0xc6028000, 18, {0x2a01, 0x0111, 0xf405}, "mcsv.net", "k1", "mcsv.net"},
  {0x0d6f0000, 16, {0x2a01, 0x0111, 0xf406}, "salesforce.com", "sf1", "salesforce.com"},
};
constexpr uint32_t s_serviceCount = sizeof(s_services) / sizeof(s_services[0]);

const char* const s_forwarders[] = {"lists.example.org", "forward.example.net", "alumni.example.edu"};
const char* const s_spoofers[] = {"mail.ru", "example-bulk.biz", "promo-mailer.top", "localhost.localdomain"};

struct Options
{
  uint64_t records = 2000;
  uint64_t seed = 1;
  std::string domain = "example.com";
  std::string org = "google.com";
  std::string reportId;
  uint64_t begin = 1704067200; // 2024-01-01T00:00:00Z
  bool gzip = false;
  int level = Z_DEFAULT_COMPRESSION;
  std::string out;
  std::string totals;
  // batch mode
  std::string batchDir;
  uint32_t domains = 100;
  uint32_t days = 365;
};

struct Totals
{
  uint64_t reports = 0;
  uint64_t records = 0;
  uint64_t messages = 0;
};

//! Append a source address: 40 % from a service range, the rest random; 30 % IPv6.
void putSourceIp(Output& out, Random& rng, const Service* service)
{
  char text[INET6_ADDRSTRLEN];
  bool v6 = rng.chance(30);
  if (!v6) {
    uint32_t addr;
    if (service != nullptr) {
      uint32_t host = static_cast<uint32_t>(rng.next()) & ((1U << (32 - service->v4Bits)) - 1);
      addr = service->v4Prefix | host;
    }
    else {
      // Public-looking: first octet 1..223, not 10/127.
      do {
        addr = static_cast<uint32_t>(rng.next());
      } while ((addr >> 24) == 0 || (addr >> 24) >= 224 || (addr >> 24) == 10 || (addr >> 24) == 127);
    }
    uint32_t net = htonl(addr);
    inet_ntop(AF_INET, &net, text, sizeof(text));
  }
  else {
    uint8_t bytes[16];
    uint64_t hi = rng.next();
    uint64_t lo = rng.next();
    if (service != nullptr) {
      // A /48 of the service, mostly-zero interface id like real MTAs use.
      hi = (uint64_t{service->v6Prefix[0]} << 48) | (uint64_t{service->v6Prefix[1]} << 32) | (uint64_t{service->v6Prefix[2]} << 16) | (hi & 0xffff);
      lo &= 0xfff;
    }
    else {
      hi = (hi & 0x0fffffffffffffffULL) | 0x2000000000000000ULL; // 2000::/3
    }
    for (int i = 0; i < 8; ++i) {
      bytes[i] = static_cast<uint8_t>(hi >> (56 - 8 * i));
      bytes[8 + i] = static_cast<uint8_t>(lo >> (56 - 8 * i));
    }
    inet_ntop(AF_INET6, bytes, text, sizeof(text));
  }
  out.put(text);
}

void putDkim(Output& out, std::string_view domain, std::string_view selector, std::string_view result)
{
  out.put("      <dkim>\n        <domain>");
  out.put(domain);
  out.put("</domain>\n        <selector>");
  out.put(selector);
  out.put("</selector>\n        <result>");
  out.put(result);
  out.put("</result>\n      </dkim>\n");
}

void putSpf(Output& out, std::string_view domain, std::string_view scope, std::string_view result)
{
  out.put("      <spf>\n        <domain>");
  out.put(domain);
  out.put("</domain>\n        <scope>");
  out.put(scope);
  out.put("</scope>\n        <result>");
  out.put(result);
  out.put("</result>\n      </spf>\n");
}

/*!
 * \brief Append one <record>. \return its count.
 *
 * Four kinds of sender: the domain's own aligned mail, a third-party service
 * (aligned or not), forwarded mail (DKIM survives, SPF breaks) and spoofing.
 */
uint64_t putRecord(Output& out, Random& rng, const std::string& domain, const std::string& bounce)
{
  // Step: pick the sender kind and derive every result from it.
  uint32_t kind = rng.below(100);
  const Service* service = nullptr;
  if (kind < 65 && rng.chance(60)) {
    service = &s_services[rng.below(s_serviceCount)];
  }
  uint64_t count = 1 + rng.below(200);

  std::string_view policyDkim;
  std::string_view policySpf;
  std::string_view disposition = "none";
  std::string_view reason;
  if (kind < 45) { // own or service mail, aligned
    policyDkim = rng.chance(95) ? "pass" : "fail";
    policySpf = rng.chance(90) ? "pass" : "fail";
  }
  else if (kind < 65) { // third party, DKIM with its own domain
    policyDkim = rng.chance(30) ? "pass" : "fail";
    policySpf = "fail";
  }
  else if (kind < 80) { // forwarded
    policyDkim = rng.chance(85) ? "pass" : "fail";
    policySpf = "fail";
    if (rng.chance(40)) {
      reason = rng.chance(50) ? "forwarded" : "mailing_list";
    }
  }
  else { // spoofing
    policyDkim = "fail";
    policySpf = "fail";
    uint32_t d = rng.below(10);
    disposition = d < 5 ? "none" : (d < 8 ? "quarantine" : "reject");
    if (disposition == "none" && rng.chance(30)) {
      reason = rng.chance(50) ? "sampled_out" : "local_policy";
    }
  }

  // Step: the row.
  out.put("  <record>\n    <row>\n      <source_ip>");
  putSourceIp(out, rng, service);
  out.put("</source_ip>\n      <count>");
  out.putNumber(count);
  out.put("</count>\n      <policy_evaluated>\n        <disposition>");
  out.put(disposition);
  out.put("</disposition>\n        <dkim>");
  out.put(policyDkim);
  out.put("</dkim>\n        <spf>");
  out.put(policySpf);
  out.put("</spf>\n");
  if (!reason.empty()) {
    out.put("        <reason>\n          <type>");
    out.put(reason);
    out.put("</type>\n        </reason>\n");
  }
  out.put("      </policy_evaluated>\n    </row>\n    <identifiers>\n      <header_from>");
  out.put(domain);
  out.put("</header_from>\n    </identifiers>\n    <auth_results>\n");

  // Step: 1-3 DKIM results, 1-2 SPF results, consistent with the row.
  uint32_t dkims = 1 + (rng.chance(35) ? 1 + (rng.chance(30) ? 1 : 0) : 0);
  for (uint32_t i = 0; i < dkims; ++i) {
    bool first = i == 0;
    if (kind < 45) {
      if (first || service == nullptr || service->dkimDomain == nullptr) {
        putDkim(out, domain, service != nullptr ? service->selector : "s2024", first ? policyDkim : std::string_view("pass"));
      }
      else {
        putDkim(out, service->dkimDomain, service->selector, "pass"); // the service's own second signature
      }
    }
    else if (kind < 65) {
      const char* d = (service != nullptr && service->dkimDomain != nullptr) ? service->dkimDomain : "esp.example.net";
      if (first && policyDkim == "pass") {
        putDkim(out, domain, "esp1", "pass");
      }
      else {
        putDkim(out, d, service != nullptr ? service->selector : "esp", "pass");
      }
    }
    else if (kind < 80) {
      if (first) {
        putDkim(out, domain, "s2024", policyDkim);
      }
      else {
        putDkim(out, s_forwarders[rng.below(3)], "arc", "pass");
      }
    }
    else {
      putDkim(out, first ? std::string_view(domain) : std::string_view(s_spoofers[rng.below(4)]), "default",
              rng.chance(60) ? "fail" : (rng.chance(50) ? "none" : "permerror"));
    }
  }
  uint32_t spfs = rng.chance(40) ? 2 : 1;
  for (uint32_t i = 0; i < spfs; ++i) {
    if (i == 1) {
      putSpf(out, "mx.example.org", "helo", rng.chance(80) ? "pass" : "none");
    }
    else if (kind < 45) {
      putSpf(out, bounce, "mfrom", policySpf == "pass" ? "pass" : "softfail");
    }
    else if (kind < 65) {
      putSpf(out, (service != nullptr && service->spfDomain != nullptr) ? service->spfDomain : "bounces.esp.example.net", "mfrom", "pass");
    }
    else if (kind < 80) {
      putSpf(out, domain, "mfrom", rng.chance(50) ? "fail" : "softfail");
    }
    else {
      putSpf(out, s_spoofers[rng.below(4)], "mfrom", rng.chance(50) ? "fail" : "neutral");
    }
  }
  out.put("    </auth_results>\n  </record>\n");
  return count;
}

//! \brief One whole report. \throw std::runtime_error on I/O failure
void writeReport(Output& out, Random& rng, const Options& opt, const std::string& domain, const std::string& reportId,
                 uint64_t begin, uint64_t records, Totals& totals)
{
  // Step: metadata and published policy, Google-style layout.
  out.put("<?xml version=\"1.0\" encoding=\"UTF-8\" ?>\n<feedback>\n  <version>1.0</version>\n  <report_metadata>\n    <org_name>");
  out.put(opt.org);
  out.put("</org_name>\n    <email>noreply-dmarc-support@");
  out.put(opt.org);
  out.put("</email>\n    <extra_contact_info>https://");
  out.put(opt.org);
  out.put("/dmarc</extra_contact_info>\n    <report_id>");
  out.put(reportId);
  out.put("</report_id>\n    <date_range>\n      <begin>");
  out.putNumber(begin);
  out.put("</begin>\n      <end>");
  out.putNumber(begin + 86399);
  out.put("</end>\n    </date_range>\n  </report_metadata>\n  <policy_published>\n    <domain>");
  out.put(domain);
  out.put("</domain>\n    <adkim>r</adkim>\n    <aspf>r</aspf>\n    <p>quarantine</p>\n    <sp>quarantine</sp>\n"
          "    <pct>100</pct>\n    <fo>1</fo>\n  </policy_published>\n");

  // Step: the records.
  std::string bounce = "bounce." + domain;
  for (uint64_t i = 0; i < records; ++i) {
    totals.messages += putRecord(out, rng, domain, bounce);
  }
  out.put("</feedback>\n");
  totals.records += records;
  totals.reports += 1;
}

void usage(FILE* to)
{
  std::fputs("usage: generate-report [--records N] [--seed S] [--domain D] [--org O] [--report-id R]\n"
             "                       [--begin EPOCH] [--gzip|-z] [--level 1-9] [--out FILE] [--totals FILE]\n"
             "       generate-report --batch-dir DIR [--domains N] [--days N] [--records N] [--seed S]\n"
             "                       [--org O] [--begin EPOCH] [--gzip] [--totals FILE]\n"
             "Writes a synthetic DMARC aggregate report (RFC 7489) with N records to FILE or stdout;\n"
             "prints 'records=N messages=M reports=K' to stderr (and JSON to --totals FILE).\n"
             "Batch mode writes one report of about N records (N/2..3N/2) per domain dNNN.example.net\n"
             "and day into DIR, named DDD-dNNN.xml[.gz].\n",
             to);
}

uint64_t parseNumber(const char* option, const char* text)
{
  uint64_t value = 0;
  const char* end = text + std::strlen(text);
  auto res = std::from_chars(text, end, value);
  if (res.ec != std::errc() || res.ptr != end) {
    std::fprintf(stderr, "generate-report: %s wants a number, got '%s'\n", option, text);
    std::exit(2);
  }
  return value;
}

Options parseOptions(int argc, char** argv)
{
  Options opt;
  for (int i = 1; i < argc; ++i) {
    std::string_view arg = argv[i];
    auto value = [&]() -> const char* {
      if (i + 1 >= argc) {
        std::fprintf(stderr, "generate-report: %s needs a value\n", argv[i]);
        std::exit(2);
      }
      return argv[++i];
    };
    if (arg == "--records" || arg == "-n") {
      opt.records = parseNumber(argv[i], value());
    }
    else if (arg == "--seed" || arg == "-s") {
      opt.seed = parseNumber(argv[i], value());
    }
    else if (arg == "--domain") {
      opt.domain = value();
    }
    else if (arg == "--org") {
      opt.org = value();
    }
    else if (arg == "--report-id") {
      opt.reportId = value();
    }
    else if (arg == "--begin") {
      opt.begin = parseNumber(argv[i], value());
    }
    else if (arg == "--gzip" || arg == "-z") {
      opt.gzip = true;
    }
    else if (arg == "--level") {
      opt.level = static_cast<int>(parseNumber(argv[i], value()));
    }
    else if (arg == "--out" || arg == "-o") {
      opt.out = value();
      if (opt.out == "-") {
        opt.out.clear();
      }
    }
    else if (arg == "--totals") {
      opt.totals = value();
    }
    else if (arg == "--batch-dir") {
      opt.batchDir = value();
    }
    else if (arg == "--domains") {
      opt.domains = static_cast<uint32_t>(parseNumber(argv[i], value()));
    }
    else if (arg == "--days") {
      opt.days = static_cast<uint32_t>(parseNumber(argv[i], value()));
    }
    else if (arg == "--help" || arg == "-h") {
      usage(stdout);
      std::exit(0);
    }
    else if (arg == "--version") {
      std::puts("generate-report (dmarcwatch bench)");
      std::exit(0);
    }
    else {
      std::fprintf(stderr, "generate-report: unknown option '%s'\n", argv[i]);
      usage(stderr);
      std::exit(2);
    }
  }
  if (opt.level < Z_DEFAULT_COMPRESSION || opt.level > 9) {
    std::fprintf(stderr, "generate-report: --level must be 1..9\n");
    std::exit(2);
  }
  if (opt.reportId.empty()) {
    opt.reportId = "bench-" + std::to_string(opt.seed) + "-" + std::to_string(opt.records);
  }
  return opt;
}

//! Batch mode: DAYS x DOMAINS small reports, each its own file.
void writeBatch(const Options& opt, Totals& totals)
{
  if (mkdir(opt.batchDir.c_str(), 0755) != 0 && errno != EEXIST) {
    throw std::system_error(errno, std::generic_category(), "mkdir " + opt.batchDir);
  }
  uint64_t low = opt.records / 2;
  uint64_t span = opt.records + 1; // low .. low+records  = N/2 .. 3N/2
  for (uint32_t day = 0; day < opt.days; ++day) {
    for (uint32_t d = 0; d < opt.domains; ++d) {
      // Step: one generator per report, so any report can be rebuilt alone.
      Random rng(opt.seed * 1000003ULL + uint64_t{day} * 4099ULL + d);
      char name[64];
      std::snprintf(name, sizeof(name), "d%03u.example.net", d);
      std::string domain = name;
      std::snprintf(name, sizeof(name), "%03u-d%03u.xml%s", day, d, opt.gzip ? ".gz" : "");
      std::string reportId = std::to_string(opt.seed) + "." + std::to_string(day) + "." + std::to_string(d);
      Output out(opt.batchDir + "/" + name, opt.gzip, opt.level);
      uint64_t records = low + rng.below(static_cast<uint32_t>(span));
      writeReport(out, rng, opt, domain, reportId, opt.begin + uint64_t{day} * 86400, records, totals);
      out.finish();
    }
  }
}

} // namespace

int main(int argc, char** argv)
{
  Options opt = parseOptions(argc, argv);
  Totals totals;
  try {
    if (!opt.batchDir.empty()) {
      writeBatch(opt, totals);
    }
    else {
      Random rng(opt.seed);
      Output out(opt.out, opt.gzip, opt.level);
      writeReport(out, rng, opt, opt.domain, opt.reportId, opt.begin, opt.records, totals);
      out.finish();
    }
  }
  catch (const std::exception& e) {
    std::fprintf(stderr, "generate-report: %s\n", e.what());
    return 1;
  }

  // Step: the expected totals, for the bench to compare with ingest --json.
  std::fprintf(stderr, "records=%llu messages=%llu reports=%llu\n", static_cast<unsigned long long>(totals.records),
               static_cast<unsigned long long>(totals.messages), static_cast<unsigned long long>(totals.reports));
  if (!opt.totals.empty()) {
    FILE* f = std::fopen(opt.totals.c_str(), "w");
    if (f == nullptr) {
      std::fprintf(stderr, "generate-report: %s: %s\n", opt.totals.c_str(), std::strerror(errno));
      return 1;
    }
    std::fprintf(f, "{\"reports\":%llu,\"records\":%llu,\"messages\":%llu}\n", static_cast<unsigned long long>(totals.reports),
                 static_cast<unsigned long long>(totals.records), static_cast<unsigned long long>(totals.messages));
    if (std::fclose(f) != 0) {
      std::fprintf(stderr, "generate-report: %s: %s\n", opt.totals.c_str(), std::strerror(errno));
      return 1;
    }
  }
  return 0;
}
