/*
 * public-suffix.cc - the PSL algorithm over hash sets (see public-suffix.hh).
 */
#include "config.h"

#include "collector/judge/public-suffix.hh"

#include "collector/common/text.hh"

#include <fstream>
#include <sstream>
#include <stdexcept>
#include <vector>

namespace dmarcwatch::collector
{
namespace
{

//! Offsets where each label of domain starts ("a.b.c": 0, 2, 4); empty when a label is empty.
std::vector<size_t> labelStarts(std::string_view domain)
{
  std::vector<size_t> starts;
  size_t begin = 0;
  while (true) {
    const size_t dot = domain.find('.', begin);
    const size_t end = dot == std::string_view::npos ? domain.size() : dot;
    if (end == begin) {
      return {};
    }
    starts.push_back(begin);
    if (dot == std::string_view::npos) {
      return starts;
    }
    begin = dot + 1;
  }
}

} // namespace

std::string normalizeDomain(std::string_view domain)
{
  domain = trimAscii(domain);
  if (!domain.empty() && domain.back() == '.') {
    domain.remove_suffix(1);
  }
  return lowerAscii(domain);
}

PublicSuffixList PublicSuffixList::fromText(std::string_view text)
{
  PublicSuffixList list;
  // Step: one rule per line: its first word; comments and blank lines skipped.
  size_t pos = 0;
  while (pos < text.size()) {
    size_t eol = text.find('\n', pos);
    if (eol == std::string_view::npos) {
      eol = text.size();
    }
    std::string_view line = trimAscii(text.substr(pos, eol - pos));
    pos = eol + 1;
    if (line.empty() || line.starts_with("//")) {
      continue;
    }
    size_t end = 0;
    while (end < line.size() && !isSpaceAscii(line[end])) {
      ++end;
    }
    std::string rule = normalizeDomain(line.substr(0, end));
    if (rule.starts_with('!')) {
      list.d_exceptions.insert(rule.substr(1));
    }
    else if (rule.starts_with("*.")) {
      list.d_wildcards.insert(rule.substr(2));
    }
    else if (!rule.empty()) {
      list.d_rules.insert(std::move(rule));
    }
  }
  return list;
}

PublicSuffixList PublicSuffixList::load(const std::string& path)
{
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    throw std::runtime_error("public suffix list: cannot read " + path + " (package publicsuffix)");
  }
  std::ostringstream text;
  text << in.rdbuf();
  PublicSuffixList list = fromText(text.str());
  if (list.size() == 0) {
    throw std::runtime_error("public suffix list: no rule in " + path);
  }
  return list;
}

const PublicSuffixList& PublicSuffixList::system()
{
  // A throwing initialiser leaves the static uninitialised: the next call tries again.
  static const PublicSuffixList s_list = load(s_systemPath);
  return s_list;
}

size_t PublicSuffixList::suffixLabels(std::string_view domain) const
{
  const std::vector<size_t> starts = labelStarts(domain);
  const size_t n = starts.size();
  // Step: an exception prevails over every other rule; its suffix is the rule minus its first label.
  std::string key;
  for (size_t i = 0; i < n; ++i) {
    key.assign(domain.substr(starts[i]));
    if (d_exceptions.contains(key)) {
      return n - i - 1;
    }
  }
  // Step: otherwise the matching rule with the most labels (the first found from the left).
  for (size_t i = 0; i < n; ++i) {
    key.assign(domain.substr(starts[i]));
    if (d_rules.contains(key)) {
      return n - i;
    }
    if (i + 1 < n && d_wildcards.contains(std::string(domain.substr(starts[i + 1])))) {
      return n - i;
    }
  }
  // Step: no rule matches: the implicit "*" rule, the last label.
  return 1;
}

std::string PublicSuffixList::publicSuffix(std::string_view domain) const
{
  const std::string name = normalizeDomain(domain);
  const std::vector<size_t> starts = labelStarts(name);
  if (starts.empty()) {
    return {};
  }
  const size_t labels = std::min(suffixLabels(name), starts.size());
  return labels == 0 ? std::string() : name.substr(starts[starts.size() - labels]);
}

std::string PublicSuffixList::organizationalDomain(std::string_view domain) const
{
  const std::string name = normalizeDomain(domain);
  const std::vector<size_t> starts = labelStarts(name);
  if (starts.empty()) {
    return name;
  }
  const size_t labels = suffixLabels(name);
  if (labels >= starts.size()) {
    return name;
  }
  return name.substr(starts[starts.size() - labels - 1]);
}

} // namespace dmarcwatch::collector
