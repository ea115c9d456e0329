/*
 * usage.hh - the usage errors the commands share: each says what is wrong and
 * what is accepted, on stderr, and the command exits 2 (s_exitUsage).
 *
 *   dmarcwatch sources: unknown option '--bogus' (see dmarcwatch sources --help)
 *   dmarcwatch sources: --limit '0' is not a number from 1 to 1000000
 *   dmarcwatch sources: no reports stored for domain 'x.example' (known: a.example, b.example)
 *
 * Thread-safety: writes stderr.  Errors: none (the caller returns s_exitUsage).
 */
#pragma once

#include "collector/views/status-view.hh"

#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace dmarcwatch::cli
{

//! Exit status for usage errors (bad options, unknown command, unknown domain).
constexpr int s_exitUsage = 2;

//! The largest --limit or --top: more is a typo, not a wish.
constexpr size_t s_maxCount = 1000000;

//! \brief "dmarcwatch COMMAND: message (see dmarcwatch COMMAND --help)" on stderr. \return s_exitUsage
int usageError(std::string_view command, std::string_view message);

//! \brief usageError naming an option (or argument) the command does not take. \return s_exitUsage
int unknownOption(std::string_view command, std::string_view arg);

//! \brief The value of a count option (--limit, --top) in [1, s_maxCount], or nullopt after a usage error.
std::optional<size_t> countOrUsage(std::string_view command, std::string_view option, std::string_view value);

//! \brief The window of --since (statusWindow), or nullopt after a usage error listing the forms.
std::optional<collector::StatusWindow> windowOrUsage(const char* command, const std::string& since, int64_t now);

/*!
 * \brief Whether domain (any case) is one of known (Store::listDomains); if not, an error that
 * lists a few known domains.  An empty domain (every domain) is known.
 */
bool knownDomainOrUsage(std::string_view command, std::string_view domain, const std::vector<std::string>& known);

} // namespace dmarcwatch::cli
