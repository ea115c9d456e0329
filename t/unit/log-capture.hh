/*
 * log-capture.hh - unit-test helper: the log lines written while a
 * LogCapture lives (collector::setLogCapture), and a count of the lines
 * holding given texts.
 */
#pragma once

#include "collector/common/log.hh"

#include <initializer_list>
#include <string>
#include <string_view>
#include <vector>

namespace dmarcwatch::test
{

class LogCapture
{
public:
  LogCapture() { collector::setLogCapture(&d_lines); }
  ~LogCapture() { collector::setLogCapture(nullptr); }
  LogCapture(const LogCapture&) = delete;
  LogCapture& operator=(const LogCapture&) = delete;
  //! Lines containing every needle.
  [[nodiscard]] size_t count(std::initializer_list<std::string_view> needles) const
  {
    size_t n = 0;
    for (const auto& line : d_lines) {
      bool all = true;
      for (auto needle : needles) {
        all = all && line.find(needle) != std::string::npos;
      }
      n += all ? 1 : 0;
    }
    return n;
  }

private:
  std::vector<std::string> d_lines;
};

} // namespace dmarcwatch::test
