/*
 * alignment.cc - see alignment.hh.
 */
#include "config.h"

#include "collector/judge/alignment.hh"

#include "collector/common/text.hh"

namespace dmarcwatch::collector
{

AlignmentMode alignmentMode(std::string_view published)
{
  return equalsIgnoreCaseAscii(trimAscii(published), "s") ? AlignmentMode::Strict : AlignmentMode::Relaxed;
}

bool aligned(std::string_view authDomain, std::string_view headerFrom, AlignmentMode mode,
             const PublicSuffixList& psl)
{
  const std::string auth = normalizeDomain(authDomain);
  const std::string from = normalizeDomain(headerFrom);
  if (auth.empty() || from.empty()) {
    return false;
  }
  // Step: equal names align in both modes: the common case needs no list look-up.
  if (auth == from) {
    return true;
  }
  if (mode == AlignmentMode::Strict) {
    return false;
  }
  return psl.organizationalDomain(auth) == psl.organizationalDomain(from);
}

} // namespace dmarcwatch::collector
