/*
 * usage.cc - usage errors (usage.hh).
 */
#include "collector/cli/usage.hh"

#include "collector/common/log.hh"
#include "collector/common/text.hh"

#include <algorithm>
#include <charconv>
#include <iostream>

namespace dmarcwatch::cli
{

namespace
{

//! How many known domains an unknown-domain error lists before "and N more".
constexpr size_t s_domainsShown = 5;

} // namespace

int usageError(std::string_view command, std::string_view message)
{
  std::cerr << "dmarcwatch " << command << ": " << message << " (see dmarcwatch " << command << " --help)\n";
  return s_exitUsage;
}

int unknownOption(std::string_view command, std::string_view arg)
{
  // The argument is the user's, but may be pasted from a report: no control bytes on the terminal.
  const std::string shown = collector::printable(arg, 100);
  return usageError(command, (arg.starts_with("-") ? "unknown option '" : "unexpected argument '") + shown +
                               (arg.starts_with("-") ? "' (or its value is missing)" : "'"));
}

std::optional<size_t> countOrUsage(std::string_view command, std::string_view option, std::string_view value)
{
  size_t count = 0;
  const auto res = std::from_chars(value.data(), value.data() + value.size(), count);
  if (res.ec != std::errc() || res.ptr != value.data() + value.size() || count == 0 || count > s_maxCount) {
    usageError(command, std::string(option) + " '" + collector::printable(value, 100) +
                          "' is not a number from 1 to " + std::to_string(s_maxCount));
    return std::nullopt;
  }
  return count;
}

std::optional<collector::StatusWindow> windowOrUsage(const char* command, const std::string& since, int64_t now)
{
  auto window = collector::statusWindow(since, now);
  if (!window) {
    usageError(command, "--since '" + collector::printable(since, 100) +
                          "' is not Nd (the N days ending today: 7d, 30d), YYYY-MM-DD (up to today) or all");
  }
  return window;
}

bool knownDomainOrUsage(std::string_view command, std::string_view domain, const std::vector<std::string>& known)
{
  const std::string wanted = collector::lowerAscii(domain);
  if (domain.empty() || std::find(known.begin(), known.end(), wanted) != known.end()) {
    return true;
  }
  std::string list;
  for (size_t i = 0; i < known.size() && i < s_domainsShown; ++i) {
    list += (i == 0 ? "" : ", ") + collector::printable(known[i], 100);
  }
  if (known.size() > s_domainsShown) {
    list += " and " + std::to_string(known.size() - s_domainsShown) + " more";
  }
  std::cerr << "dmarcwatch " << command << ": no reports stored for domain '" << collector::printable(domain, 100)
            << "' (" << (known.empty() ? std::string("the store holds no reports yet") : "known: " + list) << ")\n";
  return false;
}

} // namespace dmarcwatch::cli
