/*
 * alignment.hh - DMARC identifier alignment (RFC 7489 section 3.1): does an
 * authenticated domain (DKIM d=, SPF MAIL FROM domain) align with the
 * RFC5322.From domain under the published adkim/aspf mode?
 *
 * Users: verdict.cc; later the sources classifier.
 * Thread-safety: pure functions over an immutable PublicSuffixList.
 * Errors: none (an empty domain never aligns).
 */
#pragma once

#include "collector/judge/public-suffix.hh"

#include <string_view>

namespace dmarcwatch::collector
{

enum class AlignmentMode
{
  Relaxed, //!< same organizational domain (the default)
  Strict,  //!< the same domain, case-insensitively
};

//! \brief The mode of a published adkim/aspf word: "s" is strict, anything else relaxed (the default).
AlignmentMode alignmentMode(std::string_view published);

/*!
 * \brief Whether authDomain aligns with headerFrom.  Both are normalised (lower case, no
 * trailing dot); equal domains align in either mode without consulting the list.
 * Pure: does not block.
 */
bool aligned(std::string_view authDomain, std::string_view headerFrom, AlignmentMode mode,
             const PublicSuffixList& psl);

} // namespace dmarcwatch::collector
