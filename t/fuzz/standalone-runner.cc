/*
 * standalone-runner.cc - replays fuzz inputs without libFuzzer.
 *
 * Linked with one fuzz target (fuzz-<target>.cc) into a plain program, so
 * that `make check` builds with any compiler and feeds the seed corpus and
 * every reproducer found so far to LLVMFuzzerTestOneInput.  Model:
 * pdns:pdns/standalone_fuzz_target_runner.cc.
 *
 * Usage: fuzz-<target> PATH...  Each PATH is a file or a directory (walked
 * recursively, in sorted order, hidden files skipped).  The exit status is 0
 * when every input ran; a crashing input aborts the program (which is the
 * point: t/fuzz/replay.sh runs one input per process to count them).
 * Exit 2 on usage or I/O errors.
 *
 * Thread-safety: single-threaded program.
 */
#include "config.h"

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <system_error>
#include <vector>

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size);
// Optional in a target, as with libFuzzer.
extern "C" __attribute__((weak)) int LLVMFuzzerInitialize(int* argc, char*** argv);

namespace
{

namespace fs = std::filesystem;

//! \brief The regular files under path (itself when it is one), sorted. \throw fs::filesystem_error
std::vector<fs::path> inputsUnder(const fs::path& path)
{
  std::vector<fs::path> files;
  if (!fs::is_directory(path)) {
    files.push_back(path);
    return files;
  }
  for (const auto& entry : fs::recursive_directory_iterator(path)) {
    const std::string name = entry.path().filename().string();
    if (entry.is_regular_file() && !name.empty() && name[0] != '.') {
      files.push_back(entry.path());
    }
  }
  std::sort(files.begin(), files.end());
  return files;
}

//! \brief Read a whole file. \return false (and says why on stderr) when it cannot be read.
bool readFile(const fs::path& path, std::vector<uint8_t>& out)
{
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    std::fprintf(stderr, "%s: cannot open\n", path.c_str());
    return false;
  }
  out.assign(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
  if (in.bad()) {
    std::fprintf(stderr, "%s: read error\n", path.c_str());
    return false;
  }
  return true;
}

} // namespace

int main(int argc, char** argv)
{
  if (argc < 2) {
    std::fprintf(stderr, "usage: %s FILE-OR-DIRECTORY...\n", argc > 0 ? argv[0] : "fuzz-runner");
    return 2;
  }
  if (LLVMFuzzerInitialize != nullptr) {
    LLVMFuzzerInitialize(&argc, &argv);
  }

  // Step: gather every input first, so a bad path is reported before any run.
  std::vector<fs::path> inputs;
  for (int i = 1; i < argc; ++i) {
    try {
      const auto found = inputsUnder(argv[i]);
      inputs.insert(inputs.end(), found.begin(), found.end());
    }
    catch (const fs::filesystem_error& e) {
      std::fprintf(stderr, "%s\n", e.what());
      return 2;
    }
  }

  // Step: run each one; a crash ends the program with the offending name printed last.
  std::vector<uint8_t> buffer;
  for (const auto& input : inputs) {
    if (!readFile(input, buffer)) {
      return 2;
    }
    std::fprintf(stderr, "running %s (%zu bytes)\n", input.c_str(), buffer.size());
    // A copy of exactly the input's size, so ASan sees reads past the end (as under libFuzzer).
    std::vector<uint8_t> exact(buffer);
    LLVMFuzzerTestOneInput(exact.data(), exact.size());
  }
  std::fprintf(stderr, "%zu inputs ran\n", inputs.size());
  return 0;
}
