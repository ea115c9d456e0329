/*
 * bench-naming.cc - naming N sources offline (issue 11: 1,000,000 in under 2 s).
 *
 *   bench-naming CATALOG_DIR [N]
 *
 * Loads the shipped catalog, makes 10,000 distinct sources whose evidence is
 * drawn from it the way reports and the daemon's enrichment show it (a passing
 * DKIM d= of a service, the customer's own d= with a service's selector, a
 * passing bounce domain, a confirmed PTR, an AS, an SPF include, own domain
 * only, nothing passing), then names N sources cycling over them and prints
 * "named=N seconds=S per_second=R named_share=P classes=..." on stdout.
 * Single-threaded: the figure is one core's.  Exit 0, or 2 on usage error.
 */
#include "collector/common/config.hh"
#include "collector/sources/catalog.hh"
#include "collector/sources/naming.hh"

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <string>
#include <vector>

using namespace dmarcwatch::collector;

namespace
{

struct Sample
{
  std::optional<IpAddress> ip;
  ReportSignals report;
  NetworkSignals network;
};

//! Sources drawn from the catalog's own rules: what naming has to recognise.
std::vector<Sample> samples(const Catalog& catalog, size_t count)
{
  std::vector<const CatalogRule*> dkim;
  std::vector<const CatalogRule*> spf;
  std::vector<const CatalogRule*> ptr;
  std::vector<const CatalogRule*> asn;
  std::vector<const CatalogRule*> selectors;
  for (const auto& svc : catalog.services()) {
    for (const auto& rule : svc.rules) {
      switch (rule.kind) {
      case RuleKind::Dkim:
        dkim.push_back(&rule);
        break;
      case RuleKind::SpfDomain:
        spf.push_back(&rule);
        break;
      case RuleKind::Ptr:
        ptr.push_back(&rule);
        break;
      case RuleKind::Asn:
        asn.push_back(&rule);
        break;
      case RuleKind::DkimSelector:
        selectors.push_back(&rule);
        break;
      default:
        break;
      }
    }
  }
  std::vector<Sample> out(count);
  for (size_t i = 0; i < count; ++i) {
    auto& s = out[i];
    s.ip = IpAddress::parse("198.51." + std::to_string(i / 256 % 256) + "." + std::to_string(i % 256));
    const uint64_t messages = 1 + i % 500;
    s.report.messages = messages;
    const bool pass = i % 3 != 0;
    (pass ? s.report.dmarcPass : s.report.dmarcFail) = messages;
    const std::string customer = "customer" + std::to_string(i % 997) + ".example";
    switch (i % 8) {
    case 0:
      s.report.dkim.push_back({"mail." + dkim[i % dkim.size()]->value, "s" + std::to_string(i % 7), true});
      s.report.spf.push_back({"bounce." + spf[i % spf.size()]->value, true});
      break;
    case 1:
      s.report.dkim.push_back({customer, selectors[i % selectors.size()]->value, true, true});
      s.report.spf.push_back({customer, pass, true});
      break;
    case 2:
      s.report.spf.push_back({spf[i % spf.size()]->value, true});
      break;
    case 3:
      s.network.ptr = PtrState::Confirmed;
      s.network.ptrName = "o" + std::to_string(i) + "." + ptr[i % ptr.size()]->value;
      s.network.asn = asn[i % asn.size()]->asn;
      break;
    case 4:
      s.report.dkim.push_back({customer, "mail", true, true});
      s.report.spf.push_back({customer, true, true});
      break;
    case 5:
      s.report.dkim.push_back({"spoof" + std::to_string(i) + ".example", "x", false});
      s.report.spf.push_back({customer, false, true});
      break;
    case 6:
      s.network.ptr = PtrState::Unconfirmed;
      s.network.ptrName = "fake." + ptr[i % ptr.size()]->value;
      s.report.overrides = OverrideForwarded;
      break;
    default:
      s.network.asn = asn[i % asn.size()]->asn;
      s.network.spfInclude = "_spf." + customer;
      break;
    }
  }
  return out;
}

} // namespace

int main(int argc, char** argv)
{
  if (argc < 2 || argc > 3) {
    std::fprintf(stderr, "usage: bench-naming CATALOG_DIR [N]\n");
    return 2;
  }
  const size_t total = argc == 3 ? std::strtoull(argv[2], nullptr, 10) : 1000000;
  auto config = std::make_shared<Config>();
  config->serviceCatalog = argv[1];
  auto catalog = loadCatalog(*config);
  Namer namer(catalog, config, Namer::Options{});
  const auto sources = samples(*catalog, 10000);

  std::map<SourceClass, uint64_t> classes;
  uint64_t named = 0;
  const auto start = std::chrono::steady_clock::now();
  for (size_t i = 0; i < total; ++i) {
    const auto& s = sources[i % sources.size()];
    const SourceName name = namer.name("example.com", s.ip, s.report, s.network);
    named += name.service != nullptr ? 1 : 0;
    ++classes[name.cls];
  }
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  std::printf("named=%zu seconds=%.3f per_second=%.0f named_share=%.3f classes=", total, seconds,
              static_cast<double>(total) / seconds, static_cast<double>(named) / static_cast<double>(total));
  for (const auto& [cls, count] : classes) {
    std::printf("%s:%llu,", std::string(sourceClassName(cls)).c_str(), static_cast<unsigned long long>(count));
  }
  std::printf("\n");
  return 0;
}
