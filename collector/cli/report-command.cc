/*
 * report-command.cc - `dmarcwatch report --html FILE [DOMAIN...] [--since ...]`:
 * the domains' views (views/domain-view.hh) as one self-contained HTML page
 * (views/html-report.hh), written to FILE atomically or to stdout ("-").
 *
 * Exit: 0 written; 1 the store failed or FILE could not be written (the message
 * names the path; a half-written page is never left at FILE); 2 usage (no FILE,
 * a bad --since, a domain with no reports stored).
 */
#include "config.h"

#include "collector/cli/cli-commands.hh"

#include "collector/common/log.hh"
#include "collector/common/text.hh"
#include "collector/intake/byte-source.hh"
#include "collector/judge/public-suffix.hh"
#include "collector/views/domain-view.hh"
#include "collector/views/html-report.hh"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <iostream>
#include <set>
#include <thread>

namespace dmarcwatch::cli
{
using namespace collector;

namespace
{

//! The default window of the report: a month, as status shows.
constexpr const char* s_defaultSince = "30d";

//! Removes the temporary file unless the rename made it the page.
class TempFile
{
public:
  explicit TempFile(std::string path) :
    d_path(std::move(path)) {}
  ~TempFile()
  {
    if (!d_path.empty()) {
      ::unlink(d_path.c_str());
    }
  }
  TempFile(const TempFile&) = delete;
  TempFile& operator=(const TempFile&) = delete;
  void keep() { d_path.clear(); }

private:
  std::string d_path;
};

/*!
 * \brief Write text to path as a whole or not at all: a temporary file beside it (so the
 * rename stays on one file system), synced, with the mode a shell redirection would give
 * (0666 less the umask), renamed over path.  \return "" on success, else why (errno text).
 */
std::string writeAtomically(const std::string& path, const std::string& text)
{
  std::string temp = path + ".XXXXXX";
  FileDescriptor fd(::mkostemp(temp.data(), O_CLOEXEC));
  if (!fd.valid()) {
    return std::strerror(errno);
  }
  TempFile guard(temp);
  for (size_t done = 0; done < text.size();) {
    const ssize_t n = ::write(fd.get(), text.data() + done, text.size() - done);
    if (n < 0 && errno == EINTR) {
      continue;
    }
    if (n <= 0) {
      return std::strerror(n < 0 ? errno : EIO);
    }
    done += static_cast<size_t>(n);
  }
  const mode_t mask = ::umask(0);
  ::umask(mask);
  if (::fchmod(fd.get(), 0666 & ~mask) != 0 || ::fsync(fd.get()) != 0 || ::close(fd.release()) != 0 ||
      ::rename(temp.c_str(), path.c_str()) != 0) {
    return std::strerror(errno);
  }
  guard.keep();
  return "";
}

} // namespace

int runReport(const Config& config, const std::vector<std::string>& args)
{
  // Step: the arguments.  Only HTML so far; --html names where it goes.
  std::string file;
  std::string since = s_defaultSince;
  std::vector<std::string> domains;
  for (size_t i = 0; i < args.size(); ++i) {
    const auto& arg = args[i];
    if (arg == "--html" && i + 1 < args.size()) {
      file = args[++i];
    }
    else if (arg == "--since" && i + 1 < args.size()) {
      since = args[++i];
    }
    else if (!arg.starts_with("-")) {
      domains.push_back(lowerAscii(arg));
    }
    else {
      std::cerr << "dmarcwatch report: unexpected or incomplete argument '" << arg << "'\n";
      return s_exitUsage;
    }
  }
  if (file.empty()) {
    std::cerr << "dmarcwatch report: --html FILE is missing (- writes to stdout)\n";
    return s_exitUsage;
  }
  const int64_t now = statusNow();
  const auto window = windowOrUsage("report", since, now);
  const auto namer = window ? namerOrUsage(config, "report") : nullptr;
  if (!namer) {
    return s_exitUsage;
  }
  const PublicSuffixList* psl = nullptr;
  try {
    psl = &PublicSuffixList::system();
  }
  catch (const std::exception& e) {
    std::cerr << "dmarcwatch report: " << e.what() << "\n";
    return s_exitUsage;
  }

  // Step: every domain asked for must have reports (a typo is a usage error, not an empty page).
  Store store(config.database, storeOptions(config, true));
  {
    const auto stored = StatusView(store).domains();
    for (const auto& domain : domains) {
      if (!std::binary_search(stored.begin(), stored.end(), domain)) {
        std::cerr << "dmarcwatch report: no reports stored for '" << printable(domain, 100) << "'\n";
        return s_exitUsage;
      }
    }
  }

  // Step: the views, one domain's detail each (AuthCounts, reporters, per-service trends).
  DomainViewOptions options;
  options.fromDay = window->fromDay;
  options.toDay = window->toDay;
  options.detail = true;
  options.serviceTrends = true;
  options.threads = std::max(1U, std::thread::hardware_concurrency());
  options.readiness = readinessSettings(config);
  const auto lookup = storedNetworkLookup(store);
  std::vector<DomainView> views;
  if (domains.empty()) {
    views = buildDomainViews(store, *namer, *psl, lookup, options);
  }
  std::set<std::string> seen;
  for (const auto& domain : domains) {
    if (seen.insert(domain).second) {
      options.domain = domain;
      for (auto& view : buildDomainViews(store, *namer, *psl, lookup, options)) {
        views.push_back(std::move(view));
      }
    }
  }
  // --since all shows the days the data covers, not 1970 to the end of time.
  if (window->all) {
    for (auto& view : views) {
      auto& status = view.status;
      status.fromDay = status.dataDays ? status.dataDays->first : utcDay(now);
      status.toDay = status.dataDays ? status.dataDays->second : utcDay(now);
    }
  }

  // Step: the page, then the file.
  HtmlReportOptions page;
  page.generatedAt = now;
  page.fromDay = window->fromDay;
  page.toDay = window->toDay;
  page.allDays = window->all;
  page.generator = "dmarcwatch " PACKAGE_VERSION;
  const std::string html = renderHtmlReport(views, page);
  if (file == "-") {
    std::cout << html << std::flush;
    if (!std::cout) {
      std::cerr << "dmarcwatch report: cannot write the page to stdout\n";
      return 1;
    }
    return 0;
  }
  if (const std::string why = writeAtomically(file, html); !why.empty()) {
    std::cerr << "dmarcwatch report: cannot write " << file << ": " << why << "\n";
    return 1;
  }
  return 0;
}

} // namespace dmarcwatch::cli
