/*
 * reporter-catalog.cc - parse and index the reporter catalog (reporter-catalog.hh).
 */
#include "collector/auth/reporter-catalog.hh"

#include "collector/common/config-file.hh"
#include "collector/common/errors.hh"
#include "collector/common/text.hh"

#include <algorithm>
#include <optional>

namespace dmarcwatch::collector
{

namespace
{

constexpr size_t s_maxName = 100;

//! A lower-case domain without one trailing dot.
std::string domainKey(std::string_view text)
{
  std::string key = lowerAscii(trimAscii(text));
  if (!key.empty() && key.back() == '.') {
    key.pop_back();
  }
  return key;
}

//! A reporter id: 1-63 of [a-z0-9-], not starting with '-'.
bool isReporterId(std::string_view id)
{
  if (id.empty() || id.size() > 63 || id.front() == '-') {
    return false;
  }
  return std::all_of(id.begin(), id.end(),
                     [](char c) { return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-'; });
}

class Parser
{
public:
  Parser(const std::string& file, const ReporterCatalogLimits& limits, std::vector<Reporter>& out) :
    d_file(file), d_limits(limits), d_out(out)
  {
  }

  void parse(std::string_view text)
  {
    // Step: one statement per line; a stanza runs from `reporter` to the next one.
    forEachStatement(text, d_file, d_limits.maxLineBytes, [this](std::string_view line, unsigned number) {
      d_line = number;
      statement(line);
    });
    finish();
  }

private:
  [[noreturn]] void fail(const std::string& message) const { throw ConfigError(d_file, d_line, message); }

  void statement(std::string_view line)
  {
    auto key = lowerAscii(nextWord(line));
    if (key == "reporter") {
      finish();
      auto id = nextWord(line);
      if (!isReporterId(id) || !line.empty()) {
        fail("reporter needs one id of lower-case letters, digits and '-' (at most 63)");
      }
      if (d_out.size() >= d_limits.maxReporters) {
        fail("more than " + std::to_string(d_limits.maxReporters) + " reporters");
      }
      d_current.emplace();
      d_current->id = std::string(id);
      d_current->file = d_file;
      d_current->line = d_line;
      d_lines = 0;
      return;
    }
    if (!d_current) {
      fail("'" + key + "' before the first 'reporter' line");
    }
    if (++d_lines > d_limits.maxLinesPerReporter) {
      fail("more than " + std::to_string(d_limits.maxLinesPerReporter) + " lines for one reporter");
    }
    Reporter& reporter = *d_current;
    if (key == "name") {
      if (line.empty() || line.size() > s_maxName) {
        fail("name needs text of 1 to " + std::to_string(s_maxName) + " characters");
      }
      add(reporter.names, reporterNameKey(line), key);
      return;
    }
    std::vector<std::string>* list = nullptr;
    if (key == "email-domain") {
      list = &reporter.emailDomains;
    }
    else if (key == "mail-domain") {
      list = &reporter.mailDomains;
    }
    else {
      fail("unknown key '" + key + "' (reporter, name, email-domain, mail-domain)");
    }
    auto value = domainKey(nextWord(line));
    if (!line.empty()) {
      fail("one domain after " + key);
    }
    if (!isDomainName(value)) {
      fail("bad domain name '" + value + "' for " + key);
    }
    add(*list, std::move(value), key);
  }

  void add(std::vector<std::string>& list, std::string value, const std::string& key)
  {
    if (std::find(list.begin(), list.end(), value) != list.end()) {
      fail(key + " '" + value + "' given twice for reporter '" + d_current->id + "'");
    }
    list.push_back(std::move(value));
  }

  void finish()
  {
    if (!d_current) {
      return;
    }
    const Reporter& reporter = *d_current;
    if (reporter.mailDomains.empty() || (reporter.names.empty() && reporter.emailDomains.empty())) {
      throw ConfigError(d_file, reporter.line,
                        "reporter '" + reporter.id + "' needs a mail-domain and a name or an email-domain");
    }
    d_out.push_back(std::move(*d_current));
    d_current.reset();
  }

  const std::string& d_file;
  const ReporterCatalogLimits& d_limits;
  std::vector<Reporter>& d_out;
  std::optional<Reporter> d_current;
  size_t d_lines = 0;
  unsigned d_line = 0; //!< of the statement being read
};

} // namespace

std::string reporterNameKey(std::string_view name)
{
  std::string key;
  bool space = false;
  for (char c : trimAscii(name)) {
    if (isSpaceAscii(c)) {
      space = true;
      continue;
    }
    if (space) {
      key += ' ';
      space = false;
    }
    key += lowerAscii(c);
  }
  return key;
}

ReporterCatalog ReporterCatalog::fromText(std::string_view text, const std::string& file, ReporterCatalogLimits limits)
{
  ReporterCatalog catalog;
  Parser parser(file, limits, catalog.d_reporters);
  parser.parse(text);

  // Step: index names and email domains; each belongs to one reporter, or a report's
  // org_name would name two of them.  Mail domains may be shared (one operator, two brands).
  const auto& reporters = catalog.d_reporters;
  for (size_t i = 0; i < reporters.size(); ++i) {
    const auto& reporter = reporters[i];
    auto claim = [&](std::unordered_map<std::string, size_t>& index, const std::string& value, const char* key) {
      auto [it, fresh] = index.emplace(value, i);
      if (!fresh) {
        const auto& first = reporters[it->second];
        throw ConfigError(reporter.file, reporter.line,
                          std::string(key) + " '" + value + "' of reporter '" + reporter.id + "' is also reporter '" +
                            first.id + "''s (" + first.file + ":" + std::to_string(first.line) + ")");
      }
    };
    for (const auto& name : reporter.names) {
      claim(catalog.d_byName, name, "name");
    }
    for (const auto& domain : reporter.emailDomains) {
      claim(catalog.d_byEmailDomain, domain, "email-domain");
    }
  }
  return catalog;
}

ReporterCatalog ReporterCatalog::load(const std::string& path, ReporterCatalogLimits limits)
{
  if (path == "none") {
    return {};
  }
  return fromText(readConfigFile(path, limits.maxFileBytes), path, limits);
}

const Reporter* ReporterCatalog::byName(std::string_view orgName) const
{
  if (orgName.size() > 4 * s_maxName) {
    return nullptr; // longer than any name the catalog can hold, even with white space collapsed
  }
  auto it = d_byName.find(reporterNameKey(orgName));
  return it == d_byName.end() ? nullptr : &d_reporters[it->second];
}

const Reporter* ReporterCatalog::byEmailDomain(std::string_view domain) const
{
  // Step: the domain, then each parent in turn; the longest listed suffix wins.
  const std::string key = domainKey(domain);
  if (key.empty() || key.size() > 253) {
    return nullptr;
  }
  std::string_view rest(key);
  while (true) {
    if (auto it = d_byEmailDomain.find(std::string(rest)); it != d_byEmailDomain.end()) {
      return &d_reporters[it->second];
    }
    auto dot = rest.find('.');
    if (dot == std::string_view::npos) {
      return nullptr;
    }
    rest.remove_prefix(dot + 1);
  }
}

std::vector<std::string> ReporterCatalog::mailDomainsFor(std::string_view orgName, std::string_view email) const
{
  std::vector<std::string> out;
  for (const Reporter* reporter : {byName(orgName), byEmailDomain(emailDomain(email))}) {
    if (reporter == nullptr) {
      continue;
    }
    for (const auto& domain : reporter->mailDomains) {
      if (std::find(out.begin(), out.end(), domain) == out.end()) {
        out.push_back(domain);
      }
    }
  }
  return out;
}

} // namespace dmarcwatch::collector
