/*
 * table-format.hh - the columns of the human tables `dmarcwatch` prints.
 *
 * Names are shortened readably for a column (at a word boundary, with "..."),
 * never in JSON.  Thread-safety: pure functions.  Errors: none.
 */
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace dmarcwatch::cli
{

//! \brief part of whole in percent; 0 when whole is 0.
double percent(uint64_t part, uint64_t whole);
//! \brief text padded with spaces to width on the right (longer text unchanged).
std::string padRight(std::string text, size_t width);
//! \brief text padded with spaces to width on the left (longer text unchanged).
std::string padLeft(const std::string& text, size_t width);
/*!
 * \brief text (made printable) in at most width characters: whole when it fits, else cut at
 * the last space, '/', '.' or '-' that keeps at least half of it, then "..." ("Google
 * Workspace / Gmail" in 20: "Google Workspace..."); a single long word is cut and marked.
 */
std::string shortenName(std::string_view text, size_t width);

} // namespace dmarcwatch::cli
