/*
 * terminal.cc - terminal width and colour (terminal.hh).
 */
#include "collector/cli/terminal.hh"

#include <charconv>
#include <cstdlib>
#include <sys/ioctl.h>
#include <unistd.h>

namespace dmarcwatch::cli
{

namespace
{

//! The widths COLUMNS may set: narrower makes no table, wider is a typo.
constexpr size_t s_minColumns = 20;
constexpr size_t s_maxColumns = 1000;
constexpr size_t s_defaultColumns = 80;

} // namespace

size_t terminalColumns()
{
  // The user's word first (also how tests and scripts pin it).
  if (const char* columns = std::getenv("COLUMNS"); columns != nullptr) {
    const std::string_view text(columns);
    size_t value = 0;
    const auto res = std::from_chars(text.data(), text.data() + text.size(), value);
    if (res.ec == std::errc() && res.ptr == text.data() + text.size() && value >= s_minColumns &&
        value <= s_maxColumns) {
      return value;
    }
  }
  winsize size{};
  if (isatty(STDOUT_FILENO) == 1 && ioctl(STDOUT_FILENO, TIOCGWINSZ, &size) == 0 && size.ws_col >= s_minColumns) {
    return size.ws_col;
  }
  return s_defaultColumns;
}

bool colourWanted()
{
  // https://no-color.org: present and not empty turns colour off.
  const char* noColour = std::getenv("NO_COLOR");
  const char* term = std::getenv("TERM");
  return isatty(STDOUT_FILENO) == 1 && (noColour == nullptr || *noColour == '\0') && term != nullptr &&
         *term != '\0' && std::string_view(term) != "dumb";
}

std::string coloured(std::string_view text, Colour colour, bool on)
{
  const char* start = nullptr;
  switch (colour) {
  case Colour::Red:
    start = "\033[31m";
    break;
  case Colour::Yellow:
    start = "\033[33m";
    break;
  case Colour::Green:
    start = "\033[32m";
    break;
  case Colour::Bold:
    start = "\033[1m";
    break;
  case Colour::Dim:
    start = "\033[2m";
    break;
  case Colour::None:
    break;
  }
  if (!on || start == nullptr) {
    return std::string(text);
  }
  return start + std::string(text) + "\033[0m";
}

} // namespace dmarcwatch::cli
