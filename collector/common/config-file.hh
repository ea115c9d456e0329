/*
 * config-file.hh - read a small file of ours or the admin's (a catalog) whole,
 * with the checks every such loader needs: no symlink as the last component,
 * a regular file, a size cap.
 *
 * Users: the service catalog (sources/catalog.cc), the reporter catalog
 * (auth/reporter-catalog.cc).  Thread-safety: no shared state.
 * Errors: ConfigError "PATH: why" (the file is read at start or reload).
 */
#pragma once

#include <cstdint>
#include <string>

namespace dmarcwatch::collector
{

/*!
 * \brief The whole text of a regular file of at most maxBytes (O_NOFOLLOW, fstat).
 * Blocks on file I/O.
 * \throw ConfigError "PATH: cannot open: ...", "PATH: not a regular file", "PATH: larger than N bytes"
 */
std::string readConfigFile(const std::string& path, uint64_t maxBytes);

} // namespace dmarcwatch::collector
