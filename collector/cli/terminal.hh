/*
 * terminal.hh - what the terminal on stdout allows: its width and colour.
 *
 * Tables fit terminalColumns(); colour is used only when colourWanted() (a
 * terminal that asks for it), never in pipes, files, JSON or CSV.
 * Thread-safety: reads the environment and stdout only.  Errors: none.
 */
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

namespace dmarcwatch::cli
{

/*!
 * \brief The width tables fit: COLUMNS when it is a number in [20, 1000], else the width of
 * the terminal on stdout (TIOCGWINSZ), else 80.
 */
size_t terminalColumns();

//! \brief Colour on stdout: it is a terminal, NO_COLOR is unset or empty, TERM is set and not "dumb".
bool colourWanted();

//! The few colours the tables use.
enum class Colour
{
  None,
  Red,
  Yellow,
  Green,
  Bold,
  Dim,
};

//! \brief text in colour (ANSI SGR) when on and colour is not None; else text unchanged.
std::string coloured(std::string_view text, Colour colour, bool on);

} // namespace dmarcwatch::cli
