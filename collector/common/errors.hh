/*
 * errors.hh - the one exception hierarchy of dmarcwatch.
 *
 * Exceptions are for a broken environment or a broken input that stops the
 * current unit of work (one configuration file, one store operation, one
 * report).  Expected outcomes (a duplicate report, a missing key) are values.
 * Every class derives from std::runtime_error; catch by const reference.
 *
 * Thread-safety: plain value types.
 */
#pragma once

#include <cstdint>
#include <stdexcept>
#include <string>

namespace dmarcwatch::collector
{

//! A configuration file or command line that cannot be used; what() reads "path:line: message".
class ConfigError : public std::runtime_error
{
public:
  ConfigError(const std::string& file, unsigned line, const std::string& message) :
    std::runtime_error(file.empty() ? message : file + ":" + std::to_string(line) + ": " + message),
    d_file(file), d_line(line)
  {
  }
  explicit ConfigError(const std::string& message) :
    std::runtime_error(message), d_line(0)
  {
  }
  [[nodiscard]] const std::string& file() const { return d_file; }
  [[nodiscard]] unsigned line() const { return d_line; }

private:
  std::string d_file;
  unsigned d_line;
};

//! An LMDB (or file system) failure other than "not found": the store cannot be used right now.
class StoreError : public std::runtime_error
{
public:
  StoreError(const std::string& operation, int rc, const std::string& detail);
  [[nodiscard]] int rc() const { return d_rc; }
  //! True for conditions a later retry may cure (map full, readers full, lock busy, disk full).
  [[nodiscard]] bool transient() const;

private:
  int d_rc;
};

//! Input that is not a usable report (or a cap was hit). what() is fit for a log line and a mail header.
class ParseError : public std::runtime_error
{
public:
  explicit ParseError(const std::string& message) :
    std::runtime_error(message)
  {
  }
};

//! A configured cap on untrusted input was reached (size, ratio, depth, count).
class LimitError : public ParseError
{
public:
  explicit LimitError(const std::string& message) :
    ParseError(message)
  {
  }
};

} // namespace dmarcwatch::collector
