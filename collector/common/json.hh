/*
 * json.hh - a small streaming JSON writer for the CLI's --json output.
 *
 * Strings are escaped per RFC 8259; bytes that are not valid UTF-8 become
 * U+FFFD so the output always parses.  Commas are placed by the writer.
 *
 * Thread-safety: one writer per thread.
 */
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace dmarcwatch::collector
{

class JsonWriter
{
public:
  JsonWriter& beginObject();
  JsonWriter& endObject();
  JsonWriter& beginArray();
  JsonWriter& endArray();
  //! Object key; the next value call supplies its value.
  JsonWriter& key(std::string_view name);
  JsonWriter& value(std::string_view text);
  JsonWriter& value(const char* text) { return value(std::string_view(text)); }
  JsonWriter& value(uint64_t number);
  JsonWriter& value(int64_t number);
  JsonWriter& value(int number) { return value(static_cast<int64_t>(number)); }
  JsonWriter& value(unsigned number) { return value(static_cast<uint64_t>(number)); }
  JsonWriter& value(double number);
  JsonWriter& value(bool flag);
  JsonWriter& null();
  JsonWriter& stringArray(const std::vector<std::string>& items);

  [[nodiscard]] const std::string& str() const { return d_out; }

private:
  void separator();
  std::string d_out;
  std::vector<bool> d_first; //!< per open container: no element written yet
  bool d_afterKey = false;
};

//! \brief Escape text as a JSON string literal, quotes included.
std::string jsonQuote(std::string_view text);

} // namespace dmarcwatch::collector
