/*
 * csv.cc - RFC 4180 fields and rows (csv.hh).
 */
#include "collector/common/csv.hh"

namespace dmarcwatch::collector
{

std::string csvField(std::string_view text)
{
  std::string out;
  // A leading formula character: shown as text, not run (CSV injection).
  if (!text.empty() && (text[0] == '=' || text[0] == '+' || text[0] == '-' || text[0] == '@')) {
    out.push_back('\'');
  }
  out.append(text);
  if (out.find_first_of(",\"\r\n") == std::string::npos) {
    return out;
  }
  std::string quoted = "\"";
  for (const char c : out) {
    quoted.push_back(c);
    if (c == '"') {
      quoted.push_back('"');
    }
  }
  quoted.push_back('"');
  return quoted;
}

void CsvWriter::separate()
{
  if (d_rowStarted) {
    d_out.push_back(',');
  }
  d_rowStarted = true;
}

CsvWriter& CsvWriter::field(std::string_view text)
{
  separate();
  d_out += csvField(text);
  return *this;
}

CsvWriter& CsvWriter::field(uint64_t number)
{
  separate();
  d_out += std::to_string(number);
  return *this;
}

CsvWriter& CsvWriter::field(int64_t number)
{
  separate();
  d_out += std::to_string(number);
  return *this;
}

CsvWriter& CsvWriter::field(bool flag)
{
  separate();
  d_out += flag ? "true" : "false";
  return *this;
}

CsvWriter& CsvWriter::row(const std::vector<std::string_view>& fields)
{
  for (const auto& text : fields) {
    field(text);
  }
  return endRow();
}

CsvWriter& CsvWriter::endRow()
{
  d_out.push_back('\n');
  d_rowStarted = false;
  return *this;
}

} // namespace dmarcwatch::collector
