/*
 * test-util.hh - helpers shared by the unit tests: a temporary directory
 * fixture and reading files from t/data (SRCDIR is set by make check).
 */
#pragma once

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <string>

namespace dmarcwatch::test
{

//! Directory of the source tree (make check sets SRCDIR; running by hand from the top works too).
inline std::filesystem::path srcDir()
{
  const char* dir = std::getenv("SRCDIR");
  return dir != nullptr ? std::filesystem::path(dir) : std::filesystem::current_path();
}

inline std::filesystem::path dataPath(const std::string& name)
{
  return srcDir() / "t" / "data" / name;
}

inline std::string readFile(const std::filesystem::path& path)
{
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    throw std::runtime_error("cannot open " + path.string());
  }
  std::ostringstream out;
  out << in.rdbuf();
  return out.str();
}

inline std::string readData(const std::string& name) { return readFile(dataPath(name)); }

//! A fresh temporary directory, removed with everything in it at scope exit.
class TempDir
{
public:
  TempDir()
  {
    std::string pattern = (std::filesystem::temp_directory_path() / "dmarcwatch-test.XXXXXX").string();
    if (mkdtemp(pattern.data()) == nullptr) {
      throw std::runtime_error("mkdtemp failed");
    }
    d_path = pattern;
  }
  ~TempDir()
  {
    std::error_code ec;
    std::filesystem::remove_all(d_path, ec);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  [[nodiscard]] const std::filesystem::path& path() const { return d_path; }

private:
  std::filesystem::path d_path;
};

} // namespace dmarcwatch::test
