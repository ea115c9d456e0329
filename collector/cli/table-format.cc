/*
 * table-format.cc - column helpers (table-format.hh).
 */
#include "collector/cli/table-format.hh"

#include "collector/common/log.hh"

#include <algorithm>

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

namespace
{

//! Space between two columns.
constexpr size_t s_columnGap = 2;
//! Cells are never longer than this, whatever the width.
constexpr size_t s_maxCell = 1000;

//! text in at most width characters: shortened at a word, or cut when width is too small for that.
std::string fitCell(std::string_view text, size_t width)
{
  std::string shown = shortenName(text, width);
  if (shown.size() > width) {
    shown.resize(width);
  }
  return shown;
}

} // namespace

std::vector<size_t> fitColumns(const std::vector<ColumnSpec>& columns, const std::vector<size_t>& natural,
                               size_t total, size_t indent, size_t gap)
{
  std::vector<size_t> widths(columns.size());
  size_t row = indent + (columns.empty() ? 0 : gap * (columns.size() - 1));
  for (size_t i = 0; i < columns.size(); ++i) {
    const auto& column = columns[i];
    widths[i] = i < natural.size() ? natural[i] : column.header.size();
    if (column.flexible && column.preferredWidth != 0) {
      widths[i] = std::min(widths[i], std::max(column.preferredWidth, column.minWidth));
    }
    row += widths[i];
  }
  // The rightmost flexible column gives way first: tables put the free text (why, evidence)
  // right and the names that identify a row (source, service) left.
  for (size_t i = columns.size(); i-- > 0 && row > total;) {
    if (columns[i].flexible && widths[i] > columns[i].minWidth) {
      const size_t give = std::min(widths[i] - columns[i].minWidth, row - total);
      widths[i] -= give;
      row -= give;
    }
  }
  return widths;
}

Table::Table(std::vector<ColumnSpec> columns) : d_columns(std::move(columns)) {}

void Table::addRow(std::vector<Cell> cells)
{
  cells.resize(d_columns.size(), Cell(""));
  for (auto& cell : cells) {
    cell.text = collector::printable(cell.text, s_maxCell);
  }
  d_rows.push_back(std::move(cells));
}

std::string Table::render(size_t width, bool colour, size_t indent) const
{
  std::vector<size_t> natural(d_columns.size());
  for (size_t i = 0; i < d_columns.size(); ++i) {
    natural[i] = d_columns[i].header.size();
    for (const auto& row : d_rows) {
      natural[i] = std::max(natural[i], row[i].text.size());
    }
  }
  const auto widths = fitColumns(d_columns, natural, width, indent, s_columnGap);

  // Padding is counted on the text, before the colour codes are added.
  auto line = [&](const std::vector<Cell>& cells, bool header) {
    std::string out(indent, ' ');
    for (size_t i = 0; i < d_columns.size(); ++i) {
      const auto& column = d_columns[i];
      const std::string text = column.flexible ? fitCell(cells[i].text, widths[i]) : cells[i].text;
      const bool last = i + 1 == d_columns.size();
      const std::string padded = column.align == Align::Right ? padLeft(text, widths[i])
                                 : last                       ? text
                                                              : padRight(text, widths[i]);
      out += coloured(padded, header ? Colour::Bold : cells[i].colour, colour);
      if (!last) {
        out.append(s_columnGap, ' ');
      }
    }
    // A last cell left empty leaves blanks behind it.
    out.erase(out.find_last_not_of(' ') + 1);
    return out + "\n";
  };
  std::vector<Cell> headers;
  for (const auto& column : d_columns) {
    headers.emplace_back(column.header);
  }
  std::string out = line(headers, true);
  for (const auto& row : d_rows) {
    out += line(row, false);
  }
  return out;
}

std::vector<std::string> wrapText(std::string_view text, size_t width)
{
  const std::string shown = collector::printable(text, s_maxCell);
  width = std::max<size_t>(width, 1);
  std::vector<std::string> lines;
  std::string current;
  size_t pos = 0;
  while (pos < shown.size()) {
    const size_t end = std::min(shown.find(' ', pos), shown.size());
    std::string word = shown.substr(pos, end - pos);
    pos = end + 1;
    // A word wider than a line is cut into line-long pieces.
    while (word.size() > width) {
      if (!current.empty()) {
        lines.push_back(std::move(current));
        current.clear();
      }
      lines.push_back(word.substr(0, width));
      word.erase(0, width);
    }
    if (!current.empty() && current.size() + 1 + word.size() > width) {
      lines.push_back(std::move(current));
      current.clear();
    }
    current += (current.empty() ? "" : " ") + word;
  }
  if (!current.empty() || lines.empty()) {
    lines.push_back(std::move(current));
  }
  return lines;
}

} // namespace dmarcwatch::cli
