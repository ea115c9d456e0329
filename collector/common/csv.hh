/*
 * csv.hh - the CSV writer of the CLI's --csv output (sources, services, status).
 *
 * RFC 4180 with LF line ends (what spreadsheets and Python's csv module read
 * alike; RFC 4180 says CRLF, and every reader we know takes either).  A field
 * is quoted when it holds a comma, a double quote, CR or LF; quotes inside are
 * doubled.  A text field starting with = + - or @ gets a leading single quote:
 * report data is attacker-chosen and a spreadsheet would run it as a formula
 * (CSV injection); the quote shows it as text.  Numbers are written as they are.
 *
 * Thread-safety: one writer per thread.  Errors: none.
 */
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace dmarcwatch::collector
{

//! \brief text as one CSV field: defused when it could be a formula, quoted when needed.
std::string csvField(std::string_view text);

class CsvWriter
{
public:
  //! \brief A text field (csvField).
  CsvWriter& field(std::string_view text);
  CsvWriter& field(const char* text) { return field(std::string_view(text)); }
  //! \brief A number, never quoted nor defused (a negative number stays a number).
  CsvWriter& field(uint64_t number);
  CsvWriter& field(int64_t number);
  CsvWriter& field(int number) { return field(static_cast<int64_t>(number)); }
  CsvWriter& field(unsigned number) { return field(static_cast<uint64_t>(number)); }
  //! \brief "true" or "false".
  CsvWriter& field(bool flag);
  //! \brief The header row or any row of text fields.
  CsvWriter& row(const std::vector<std::string_view>& fields);
  //! \brief End the current row with LF.
  CsvWriter& endRow();

  [[nodiscard]] const std::string& str() const { return d_out; }

private:
  void separate();

  std::string d_out;
  bool d_rowStarted = false;
};

} // namespace dmarcwatch::collector
