/*
 * floor.cc - the benchmark floor: inflate + xmlTextReader scan, nothing else.
 *
 * Reads one file (or stdin), inflates it with zlib when it starts with the
 * gzip magic (several members allowed), and pulls it through libxml2's
 * xmlTextReader (xmlReaderForIO), visiting every node and touching its local
 * name and, for text, its value.  No parsing of the report, no store.  This
 * is the least work any streaming ingest must do, so `dmarcwatch ingest`
 * time is quoted as a ratio to it (issue 4: <= 1.5 x at 200,000 records).
 *
 * Reader flags match the collector's parser (collector/report-parser.cc):
 * XML_PARSE_NONET | NOCDATA | COMPACT | NOBLANKS, never NOENT/DTDLOAD/HUGE;
 * --plain uses XML_PARSE_NONET alone (every whitespace node is reported).
 *
 * Prints "nodes=N elements=E text_bytes=T in_bytes=I xml_bytes=X" to stdout.
 * Used by t/bench/run-bench.sh.  Single-threaded.  Exit 0 on a well-formed
 * document, 1 on a read, inflate or XML error, 2 on usage error.
 */
#include <fcntl.h>
#include <unistd.h>

#include <libxml/xmlreader.h>
#include <zlib.h>

#include <cerrno>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <string>
#include <string_view>
#include <vector>

namespace
{

/*
 * Input: a file descriptor, read in 256 KiB chunks, optionally inflated.
 * The gzip decision looks at the first two bytes only.
 */
class Input
{
public:
  explicit Input(int fd) :
    d_fd(fd), d_in(s_chunk) {}
  ~Input()
  {
    if (d_gzip) {
      inflateEnd(&d_zs);
    }
  }
  Input(const Input&) = delete;
  Input& operator=(const Input&) = delete;

  //! \brief Sniff the gzip magic. \return false on a read error
  bool start()
  {
    if (!refill()) {
      return false;
    }
    if (d_inLen >= 2 && d_in[0] == 0x1f && d_in[1] == 0x8b) {
      std::memset(&d_zs, 0, sizeof(d_zs));
      if (inflateInit2(&d_zs, 16 + MAX_WBITS) != Z_OK) {
        return false;
      }
      d_gzip = true;
      d_zs.next_in = d_in.data();
      d_zs.avail_in = static_cast<uInt>(d_inLen);
    }
    return true;
  }

  //! \brief libxml2 read callback body. \return bytes, 0 at end, -1 on error. Blocks on read(2).
  int read(char* out, int len)
  {
    if (!d_gzip) {
      // Step: plain XML - hand out what is buffered, then read on.
      if (d_inPos == d_inLen && !refill()) {
        return -1;
      }
      size_t n = std::min(static_cast<size_t>(len), d_inLen - d_inPos);
      std::memcpy(out, d_in.data() + d_inPos, n);
      d_inPos += n;
      d_xmlBytes += n;
      return static_cast<int>(n);
    }
    // Step: gzip - inflate into libxml2's buffer; restart on a following member.
    d_zs.next_out = reinterpret_cast<Bytef*>(out);
    d_zs.avail_out = static_cast<uInt>(len);
    while (d_zs.avail_out == static_cast<uInt>(len) && !d_done) {
      if (d_zs.avail_in == 0) {
        if (!refill()) {
          return -1;
        }
        if (d_inLen == 0) {
          if (!d_memberEnded) {
            d_error = "truncated gzip";
            return -1;
          }
          d_done = true;
          break;
        }
        d_zs.next_in = d_in.data();
        d_zs.avail_in = static_cast<uInt>(d_inLen);
      }
      if (d_memberEnded) {
        inflateReset(&d_zs);
        d_memberEnded = false;
      }
      int rc = inflate(&d_zs, Z_NO_FLUSH);
      if (rc == Z_STREAM_END) {
        d_memberEnded = true;
      }
      else if (rc != Z_OK && rc != Z_BUF_ERROR) {
        d_error = d_zs.msg != nullptr ? d_zs.msg : "inflate error";
        return -1;
      }
    }
    size_t n = static_cast<size_t>(len) - d_zs.avail_out;
    d_xmlBytes += n;
    return static_cast<int>(n);
  }

  [[nodiscard]] uint64_t inBytes() const { return d_inBytes; }
  [[nodiscard]] uint64_t xmlBytes() const { return d_xmlBytes; }
  [[nodiscard]] const std::string& error() const { return d_error; }

private:
  static constexpr size_t s_chunk = 256 * 1024;

  bool refill()
  {
    ssize_t n;
    do {
      n = ::read(d_fd, d_in.data(), d_in.size());
    } while (n < 0 && errno == EINTR);
    if (n < 0) {
      d_error = std::string("read: ") + std::strerror(errno);
      return false;
    }
    d_inLen = static_cast<size_t>(n);
    d_inPos = 0;
    d_inBytes += d_inLen;
    return true;
  }

  int d_fd;
  std::vector<uint8_t> d_in;
  size_t d_inLen = 0;
  size_t d_inPos = 0;
  bool d_gzip = false;
  bool d_memberEnded = false;
  bool d_done = false;
  z_stream d_zs{};
  uint64_t d_inBytes = 0;
  uint64_t d_xmlBytes = 0;
  std::string d_error;
};

extern "C" int readCallback(void* context, char* buffer, int len)
{
  return static_cast<Input*>(context)->read(buffer, len);
}

extern "C" int closeCallback(void* /* context */)
{
  return 0;
}

} // namespace

int main(int argc, char** argv)
{
  // Step: arguments.
  bool plain = false;
  const char* path = nullptr;
  for (int i = 1; i < argc; ++i) {
    std::string_view arg = argv[i];
    if (arg == "--plain") {
      plain = true;
    }
    else if (arg == "--help") {
      std::puts("usage: floor [--plain] FILE|-\nInflate (if gzip) and scan FILE with xmlTextReader; print node counts.");
      return 0;
    }
    else if (arg == "--version") {
      std::puts("floor (dmarcwatch bench)");
      return 0;
    }
    else if (path == nullptr) {
      path = argv[i];
    }
    else {
      std::fputs("usage: floor [--plain] FILE|-\n", stderr);
      return 2;
    }
  }
  if (path == nullptr) {
    std::fputs("usage: floor [--plain] FILE|-\n", stderr);
    return 2;
  }
  int fd = std::string_view(path) == "-" ? 0 : open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    std::fprintf(stderr, "floor: %s: %s\n", path, std::strerror(errno));
    return 1;
  }

  // Step: the scan.  Every node: its local name; text: its value.
  Input input(fd);
  if (!input.start()) {
    std::fprintf(stderr, "floor: %s: %s\n", path, input.error().c_str());
    return 1;
  }
  int flags = plain ? XML_PARSE_NONET : (XML_PARSE_NONET | XML_PARSE_NOCDATA | XML_PARSE_COMPACT | XML_PARSE_NOBLANKS);
  xmlTextReaderPtr reader = xmlReaderForIO(readCallback, closeCallback, &input, nullptr, nullptr, flags);
  if (reader == nullptr) {
    std::fprintf(stderr, "floor: %s: cannot create reader\n", path);
    return 1;
  }
  uint64_t nodes = 0;
  uint64_t elements = 0;
  uint64_t textBytes = 0;
  uint64_t touch = 0;
  int rc;
  while ((rc = xmlTextReaderRead(reader)) == 1) {
    ++nodes;
    const xmlChar* name = xmlTextReaderConstLocalName(reader);
    touch += name != nullptr ? name[0] : 0;
    int type = xmlTextReaderNodeType(reader);
    if (type == XML_READER_TYPE_ELEMENT) {
      ++elements;
    }
    else if (type == XML_READER_TYPE_TEXT) {
      const xmlChar* value = xmlTextReaderConstValue(reader);
      if (value != nullptr) {
        textBytes += std::strlen(reinterpret_cast<const char*>(value));
      }
    }
  }
  xmlFreeTextReader(reader);
  if (fd != 0) {
    close(fd);
  }
  if (rc != 0 || !input.error().empty()) {
    std::fprintf(stderr, "floor: %s: %s\n", path, input.error().empty() ? "XML error" : input.error().c_str());
    return 1;
  }
  std::printf("nodes=%llu elements=%llu text_bytes=%llu in_bytes=%llu xml_bytes=%llu touch=%llu\n",
              static_cast<unsigned long long>(nodes), static_cast<unsigned long long>(elements),
              static_cast<unsigned long long>(textBytes), static_cast<unsigned long long>(input.inBytes()),
              static_cast<unsigned long long>(input.xmlBytes()), static_cast<unsigned long long>(touch % 1000));
  return 0;
}
