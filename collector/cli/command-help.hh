/*
 * command-help.hh - the usage of every `dmarcwatch` command, in one table:
 * `dmarcwatch COMMAND --help` (or -h) and `dmarcwatch help COMMAND` print it
 * before anything is opened, so help works without a store or a config file.
 *
 * Thread-safety: constant data.  Errors: an unknown topic is a usage error.
 */
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace dmarcwatch::cli
{

//! \brief args ask for help: one of them is -h or --help.
bool wantsHelp(const std::vector<std::string>& args);

/*!
 * \brief The help topic of a command line after the global options: the command, or
 * "db SUBCOMMAND" when words name a db subcommand ("db verify --json" -> "db verify").
 */
std::string helpTopic(const std::vector<std::string>& words);

//! \brief The usage text of a topic (a command, or "db verify"); nullopt for an unknown one.
std::optional<std::string_view> commandUsage(std::string_view topic);

/*!
 * \brief Print the usage of topic on stdout. \return 0; for an unknown topic 2, after an error
 * on stderr that points at `dmarcwatch --help`.
 */
int printCommandHelp(std::string_view topic);

} // namespace dmarcwatch::cli
