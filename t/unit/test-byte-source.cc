/*
 * test-byte-source.cc - MemorySource, FileSource, PeekSource and readAll.
 */
#define BOOST_TEST_DYN_LINK
#define BOOST_TEST_NO_MAIN
#include <boost/test/unit_test.hpp>

#include "collector/intake/byte-source.hh"
#include "collector/common/errors.hh"
#include "t/unit/test-util.hh"

#include <fstream>
#include <sys/stat.h>
#include <system_error>

using namespace dmarcwatch::collector;

namespace
{

//! Hands out at most one byte per read, to exercise callers' loops.
class TrickleSource : public ByteSource
{
public:
  explicit TrickleSource(std::string data) :
    d_data(std::move(data)) {}
  size_t read(std::span<uint8_t> out) override
  {
    if (out.empty() || d_pos == d_data.size()) {
      return 0;
    }
    out[0] = static_cast<uint8_t>(d_data[d_pos++]);
    return 1;
  }
  [[nodiscard]] uint64_t consumed() const override { return d_pos; }

private:
  std::string d_data;
  size_t d_pos = 0;
};

std::string asString(std::span<const uint8_t> bytes)
{
  return {reinterpret_cast<const char*>(bytes.data()), bytes.size()};
}

} // namespace

BOOST_AUTO_TEST_SUITE(test_byte_source)

BOOST_AUTO_TEST_CASE(memory_source_reads_in_chunks)
{
  MemorySource source(std::string_view("hello world"));
  std::array<uint8_t, 4> buffer{};
  std::string got;
  while (const size_t n = source.read(buffer)) {
    got.append(reinterpret_cast<const char*>(buffer.data()), n);
  }
  BOOST_CHECK_EQUAL(got, "hello world");
  BOOST_CHECK_EQUAL(source.consumed(), 11U);
  BOOST_CHECK_EQUAL(source.read(buffer), 0U);
}

BOOST_AUTO_TEST_CASE(memory_source_empty)
{
  MemorySource source(std::string_view(""));
  std::array<uint8_t, 4> buffer{};
  BOOST_CHECK_EQUAL(source.read(buffer), 0U);
}

BOOST_AUTO_TEST_CASE(file_source_reads_whole_file)
{
  dmarcwatch::test::TempDir dir;
  const auto path = dir.path() / "data.bin";
  std::string want(200000, 'x');
  for (size_t i = 0; i < want.size(); ++i) {
    want[i] = static_cast<char>(i * 7);
  }
  std::ofstream(path, std::ios::binary) << want;
  FileSource source(openForReading(path.string()));
  const std::string got = readAll(source, want.size(), "file");
  BOOST_CHECK(got == want);
  BOOST_CHECK_EQUAL(source.consumed(), want.size());
}

BOOST_AUTO_TEST_CASE(open_missing_file_throws)
{
  dmarcwatch::test::TempDir dir;
  BOOST_CHECK_THROW(openForReading((dir.path() / "absent").string()), std::system_error);
  // Not a regular file: refused at once (a FIFO would block until a writer came).
  BOOST_CHECK_THROW(openForReading(dir.path().string()), std::runtime_error);
  const auto fifo = dir.path() / "fifo";
  BOOST_REQUIRE_EQUAL(::mkfifo(fifo.c_str(), 0600), 0);
  try {
    openForReading(fifo.string());
    BOOST_ERROR("a FIFO was opened");
  }
  catch (const std::runtime_error& e) {
    BOOST_CHECK_MESSAGE(std::string(e.what()).find("is a FIFO, not a regular file: refused") != std::string::npos,
                        e.what());
  }
}

BOOST_AUTO_TEST_CASE(file_descriptor_moves)
{
  dmarcwatch::test::TempDir dir;
  const auto path = dir.path() / "f";
  std::ofstream(path) << "x";
  FileDescriptor a = openForReading(path.string());
  const int fd = a.get();
  FileDescriptor b(std::move(a));
  BOOST_CHECK(!a.valid()); // NOLINT(bugprone-use-after-move): the moved-from state is the point
  BOOST_CHECK_EQUAL(b.get(), fd);
  FileDescriptor c;
  c = std::move(b);
  BOOST_CHECK_EQUAL(c.get(), fd);
}

BOOST_AUTO_TEST_CASE(peek_does_not_consume)
{
  TrickleSource inner("abcdefgh");
  PeekSource peek(inner);
  BOOST_CHECK_EQUAL(asString(peek.peek(3)), "abc");
  BOOST_CHECK_EQUAL(asString(peek.peek(5)), "abcde");
  BOOST_CHECK_EQUAL(peek.consumed(), 0U);
  std::array<uint8_t, 2> two{};
  BOOST_CHECK_EQUAL(peek.read(two), 2U);
  BOOST_CHECK_EQUAL(asString(two), "ab");
  // Peeking after a partial read sees the unread bytes.
  BOOST_CHECK_EQUAL(asString(peek.peek(4)), "cdef");
  BOOST_CHECK_EQUAL(readAll(peek, 100, "rest"), "cdefgh");
  BOOST_CHECK_EQUAL(peek.consumed(), 8U);
}

BOOST_AUTO_TEST_CASE(peek_past_end_returns_fewer)
{
  MemorySource inner(std::string_view("xy"));
  PeekSource peek(inner);
  BOOST_CHECK_EQUAL(asString(peek.peek(10)), "xy");
  BOOST_CHECK_EQUAL(readAll(peek, 10, "all"), "xy");
  BOOST_CHECK_EQUAL(peek.peek(4).size(), 0U);
}

BOOST_AUTO_TEST_CASE(read_all_limit)
{
  MemorySource exact(std::string_view("12345"));
  BOOST_CHECK_EQUAL(readAll(exact, 5, "x"), "12345");
  MemorySource over(std::string_view("123456"));
  try {
    readAll(over, 5, "test input");
    BOOST_FAIL("no LimitError");
  }
  catch (const LimitError& e) {
    const std::string got = e.what();
    BOOST_CHECK_MESSAGE(got.find("test input") != std::string::npos, "got: " << got);
  }
}

BOOST_AUTO_TEST_SUITE_END()
