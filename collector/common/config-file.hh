/*
 * config-file.hh - read a small file of ours or the admin's (a catalog) whole,
 * with the checks every such loader needs: no symlink as the last component,
 * a regular file, a size cap.
 *
 * forEachStatement splits such a file into its statements: one a line,
 * blank lines and `#` comment lines skipped.
 *
 * Users: the service catalog (sources/catalog.cc), the reporter catalog
 * (auth/reporter-catalog.cc).  Thread-safety: no shared state.
 * Errors: ConfigError "PATH: why" (the file is read at start or reload).
 */
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <string>
#include <string_view>

namespace dmarcwatch::collector
{

/*!
 * \brief The whole text of a regular file of at most maxBytes (O_NOFOLLOW, fstat).
 * Blocks on file I/O.
 * \throw ConfigError "PATH: cannot open: ...", "PATH: not a regular file", "PATH: larger than N bytes"
 */
std::string readConfigFile(const std::string& path, uint64_t maxBytes);

/*!
 * \brief Call statement(line, number) for each line of text that is not blank or a comment (first
 * non-blank character '#'), trimmed; number counts from 1.  Pure but for statement.
 * \throw ConfigError "FILE:LINE: line longer than N bytes", "FILE:LINE: control character in line";
 * whatever statement throws
 */
void forEachStatement(std::string_view text, const std::string& file, size_t maxLineBytes,
                      const std::function<void(std::string_view line, unsigned number)>& statement);

} // namespace dmarcwatch::collector
