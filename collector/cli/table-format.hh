/*
 * table-format.hh - the columns of the human tables `dmarcwatch` prints.
 *
 * Names are shortened readably for a column (at a word boundary, with "..."),
 * never in JSON.  A Table fits its columns to the terminal's width
 * (terminal.hh): the flexible ones (names, free text) shrink, the rightmost first.
 * Thread-safety: pure functions; a Table per thread.  Errors: none.
 */
#pragma once

#include "collector/cli/terminal.hh"

#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

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

enum class Align
{
  Left,
  Right,
};

//! One column of a table.
struct ColumnSpec
{
  std::string header;
  size_t minWidth = 0;       //!< a flexible column shrinks to this, no further
  size_t preferredWidth = 0; //!< a flexible column grows to this, no further (0: no limit)
  bool flexible = false;     //!< shrinks, its cells shortened (shortenName), when a row does not fit
  Align align = Align::Left;
};

/*!
 * \brief The widths of columns whose widest cells (header included) are natural, so that a row
 * (indent, the columns, gap spaces between them) fits total: a flexible column starts at its
 * natural width capped at preferredWidth and, while the row is too wide, the flexible columns
 * shrink down to minWidth, the rightmost first (put free text right, the names that identify a
 * row left).  Other columns keep their natural width, so the row is wider than total when even
 * the minimums do not fit.
 */
std::vector<size_t> fitColumns(const std::vector<ColumnSpec>& columns, const std::vector<size_t>& natural,
                               size_t total, size_t indent, size_t gap);

//! One cell: its text (made printable) and the colour it gets on a terminal.
struct Cell
{
  Cell(std::string shown, Colour in = Colour::None) : text(std::move(shown)), colour(in) {} // NOLINT: implicit
  Cell(const char* shown, Colour in = Colour::None) : text(shown), colour(in) {}            // NOLINT: implicit
  std::string text;
  Colour colour = Colour::None;
};

/*!
 * A table fitted to a width: a bold header line, then the rows, each line indented, columns
 * two spaces apart, the last left-aligned column not padded (no trailing blanks).
 */
class Table
{
public:
  explicit Table(std::vector<ColumnSpec> columns);
  //! \brief Add a row; missing cells are empty, extra cells ignored.
  void addRow(std::vector<Cell> cells);
  //! \brief The lines, fitted to width (fitColumns); colour: ANSI colours (colourWanted()).
  [[nodiscard]] std::string render(size_t width, bool colour, size_t indent = 0) const;

private:
  std::vector<ColumnSpec> d_columns;
  std::vector<std::vector<Cell>> d_rows;
};

/*!
 * \brief text (made printable) in lines of at most width characters, broken at spaces (a word
 * longer than width is cut); at least one line.
 */
std::vector<std::string> wrapText(std::string_view text, size_t width);

} // namespace dmarcwatch::cli
