/*
 * table-format.cc - column helpers (table-format.hh).
 */
#include "collector/cli/table-format.hh"

#include "collector/common/log.hh"

namespace dmarcwatch::cli
{

double percent(uint64_t part, uint64_t whole)
{
  return whole == 0 ? 0.0 : 100.0 * static_cast<double>(part) / static_cast<double>(whole);
}

std::string padRight(std::string text, size_t width)
{
  if (text.size() < width) {
    text.append(width - text.size(), ' ');
  }
  return text;
}

std::string padLeft(const std::string& text, size_t width)
{
  return text.size() < width ? std::string(width - text.size(), ' ') + text : text;
}

std::string shortenName(std::string_view text, size_t width)
{
  std::string shown = collector::printable(text, text.size() + 1);
  if (shown.size() <= width || width < 8) {
    return shown;
  }
  const size_t room = width - 3; // for "..."
  size_t cut = room;
  for (size_t i = room; i > room / 2; --i) {
    const char c = shown[i];
    if (c == ' ' || c == '/' || c == '.' || c == '-') {
      cut = i;
      break;
    }
  }
  // Trim the separators a cut at a boundary leaves ("Google Workspace /" -> "Google Workspace").
  while (cut > 0 && (shown[cut - 1] == ' ' || shown[cut - 1] == '/')) {
    --cut;
  }
  return shown.substr(0, cut) + "...";
}

} // namespace dmarcwatch::cli
