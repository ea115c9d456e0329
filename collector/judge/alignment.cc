/*
 * alignment.cc - see alignment.hh.
 */
#include "config.h"

#include "collector/judge/alignment.hh"

#include "collector/common/text.hh"

#include <algorithm>
#include <string>

namespace dmarcwatch::collector
{

AlignmentMode alignmentMode(std::string_view published)
{
  return equalsIgnoreCaseAscii(trimAscii(published), "s") ? AlignmentMode::Strict : AlignmentMode::Relaxed;
}

bool aligned(std::string_view authDomain, std::string_view headerFrom, AlignmentMode mode,
             const PublicSuffixList& psl)
{
  const std::string_view auth = trimDomain(authDomain);
  const std::string_view from = trimDomain(headerFrom);
  if (auth.empty() || from.empty()) {
    return false;
  }
  // Step: equal names align in both modes: the common case needs no copy and no list look-up.
  if (equalsIgnoreCaseAscii(auth, from)) {
    return true;
  }
  if (mode == AlignmentMode::Strict) {
    return false;
  }
  // Step: lower-case only a name that needs it (most are lower case already).
  std::string authLower;
  std::string fromLower;
  const auto lowered = [](std::string_view name, std::string& copy) {
    if (std::none_of(name.begin(), name.end(), [](char c) { return c >= 'A' && c <= 'Z'; })) {
      return name;
    }
    copy = lowerAscii(name);
    return std::string_view(copy);
  };
  return psl.organizationalDomainOfNormalized(lowered(auth, authLower)) ==
         psl.organizationalDomainOfNormalized(lowered(from, fromLower));
}

} // namespace dmarcwatch::collector
