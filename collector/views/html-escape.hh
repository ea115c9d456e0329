/*
 * html-escape.hh - the one way text from the store gets into the HTML report
 * (html-report.cc) and its SVG charts (svg-chart.cc).
 *
 * Threat: every name in a report (reporter org, domains, selectors, PTR names,
 * AS organisations) is chosen by whoever sent the report or owns the address; a
 * name like "<script>" or one of megabytes must neither run nor swamp the page.
 * What remains: the text is shown as sent (shortened), so it may still mislead
 * a reader in words; it cannot change the page.
 *
 * Thread-safety: pure functions.  Errors: none (bad_alloc).
 */
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

namespace dmarcwatch::collector
{

//! Characters kept of a name unless the caller says otherwise.
constexpr size_t s_htmlNameChars = 100;

/*!
 * \brief Append text to out as HTML and XML character data or a quoted attribute value:
 * & < > " ' as references; bytes that are not valid UTF-8 and control characters (XML 1.0
 * forbids them) as U+FFFD; at most maxChars characters, a longer text cut and ended with "…".
 */
void appendEscaped(std::string& out, std::string_view text, size_t maxChars = s_htmlNameChars);

//! \brief appendEscaped into a new string.
std::string escapeHtml(std::string_view text, size_t maxChars = s_htmlNameChars);

} // namespace dmarcwatch::collector
