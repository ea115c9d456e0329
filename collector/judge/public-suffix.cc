/*
 * public-suffix.cc - the PSL algorithm over hash sets (see public-suffix.hh).
 */
#include "config.h"

#include "collector/judge/public-suffix.hh"

#include "collector/common/text.hh"

#include <algorithm>
#include <fstream>
#include <sstream>
#include <stdexcept>

namespace dmarcwatch::collector
{

std::string_view trimDomain(std::string_view domain)
{
  domain = trimAscii(domain);
  if (!domain.empty() && domain.back() == '.') {
    domain.remove_suffix(1);
  }
  return domain;
}

std::string normalizeDomain(std::string_view domain)
{
  return lowerAscii(trimDomain(domain));
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
  // The suffixes of domain from the longest (the whole name) to the shortest (the last label):
  // starts[i] is where the i-th label begins (domain is well formed: no empty label, at most
  // c_maxNameLength bytes, so at most 127 labels).
  constexpr size_t c_maxLabels = 128;
  size_t starts[c_maxLabels];
  size_t n = 0;
  for (size_t pos = 0; n < c_maxLabels;) {
    starts[n++] = pos;
    const size_t dot = domain.find('.', pos);
    if (dot == std::string_view::npos) {
      break;
    }
    pos = dot + 1;
  }
  // Step: an exception prevails over every other rule; its suffix is the rule minus its first label.
  for (size_t i = 0; i < n; ++i) {
    if (d_exceptions.contains(domain.substr(starts[i]))) {
      return n - i - 1;
    }
  }
  // Step: otherwise the matching rule with the most labels (the first found from the left).
  for (size_t i = 0; i < n; ++i) {
    if (d_rules.contains(domain.substr(starts[i])) || (i + 1 < n && d_wildcards.contains(domain.substr(starts[i + 1])))) {
      return n - i;
    }
  }
  // Step: no rule matches: the implicit "*" rule, the last label.
  return 1;
}

namespace
{

//! The longest DNS name in text form (RFC 1035: 255 octets on the wire), so at most 127 labels.
constexpr size_t c_maxNameLength = 253;

//! Whether a normalised name is well formed for the list: not empty, no empty label, not too long.
bool wellFormed(std::string_view name)
{
  return !name.empty() && name.size() <= c_maxNameLength && name.front() != '.' && name.back() != '.' &&
         name.find("..") == std::string_view::npos;
}

//! The offset of the label that starts the last `labels` labels of name (labels >= 1, <= its labels).
size_t lastLabelsStart(std::string_view name, size_t labels)
{
  size_t pos = name.size();
  for (size_t i = 0; i < labels; ++i) {
    const size_t dot = pos == 0 ? std::string_view::npos : name.rfind('.', pos - 1);
    if (dot == std::string_view::npos) {
      return 0;
    }
    pos = dot;
  }
  return pos + 1;
}

size_t labelCount(std::string_view name)
{
  return static_cast<size_t>(std::count(name.begin(), name.end(), '.')) + 1;
}

} // namespace

std::string PublicSuffixList::publicSuffix(std::string_view domain) const
{
  const std::string name = normalizeDomain(domain);
  if (!wellFormed(name)) {
    return {};
  }
  const size_t labels = std::min(suffixLabels(name), labelCount(name));
  return labels == 0 ? std::string() : name.substr(lastLabelsStart(name, labels));
}

std::string PublicSuffixList::organizationalDomain(std::string_view domain) const
{
  return std::string(organizationalDomainOfNormalized(normalizeDomain(domain)));
}

std::string_view PublicSuffixList::organizationalDomainOfNormalized(std::string_view name) const
{
  if (!wellFormed(name)) {
    return name;
  }
  const size_t labels = suffixLabels(name);
  if (labels >= labelCount(name)) {
    return name;
  }
  return name.substr(lastLabelsStart(name, labels + 1));
}

} // namespace dmarcwatch::collector
