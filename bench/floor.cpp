// dmarcsift_floor: how fast a corpus can be read at all, as the floor that
// bench/run.sh compares `dmarcsift ingest` with. Mode `decompress` reads and
// inflates every file; mode `parse` also parses every document with pugixml
// and counts its <record> elements, storing nothing. It shares no code with
// dmarcsift on purpose: a floor built from our own code would move with it.
// It uses the same libraries the same way (libarchive's seekable zip reader
// over memory, pugixml in place with ingest's parse flags), so the gap to
// ingest is what ingest does beyond reading. For gzip it keeps zlib where
// ingest takes libdeflate for a plain one-member file: with libdeflate this
// floor came out slower (bench/README.md).
//   usage: dmarcsift_floor decompress|parse [--threads N] PATH...
// Prints one line: mode, threads, files, records, bytes in and out, seconds.
#include <archive.h>
#include <archive_entry.h>
#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include <pugixml.hpp>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <charconv>
#include <chrono>
#include <climits>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <memory>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

namespace {

// The flags of k_parse_flags in ingest/xml_report.cpp, copied rather than
// included so that the floor stays independent of the project's code.
// parse_doctype costs nothing on reports, which carry no DOCTYPE.
constexpr unsigned k_parse_flags = pugi::parse_escapes | pugi::parse_cdata | pugi::parse_eol |
                                   pugi::parse_doctype | pugi::parse_embed_pcdata;

enum class Mode { decompress, parse };

struct Totals {
  std::uint64_t files = 0;
  std::uint64_t documents = 0;
  std::uint64_t records = 0;
  std::uint64_t bytes_in = 0;
  std::uint64_t bytes_out = 0;
  std::uint64_t failures = 0;

  Totals& operator+=(const Totals& other) {
    files += other.files;
    documents += other.documents;
    records += other.records;
    bytes_in += other.bytes_in;
    bytes_out += other.bytes_out;
    failures += other.failures;
    return *this;
  }
};

bool starts_with(std::string_view bytes, std::string_view prefix) {
  return bytes.size() >= prefix.size() && bytes.compare(0, prefix.size(), prefix) == 0;
}

bool is_gzip(std::string_view bytes) { return starts_with(bytes, "\x1f\x8b"); }
bool is_zip(std::string_view bytes) { return starts_with(bytes, "PK\x03\x04"); }
// POSIX ustar magic at offset 257: tar.gz bundles of the "mixed" corpora.
bool is_tar(std::string_view bytes) {
  return bytes.size() > 262 && bytes.compare(257, 5, "ustar") == 0;
}

std::string_view local_name(const char* name) {
  std::string_view view(name);
  if (const auto colon = view.find(':'); colon != std::string_view::npos) view.remove_prefix(colon + 1);
  return view;
}

// A byte buffer that grows without zero-filling: std::string::resize writes
// every new byte before inflate overwrites it, a cost that a floor should
// not include (C++20 has no resize_and_overwrite).
class Buffer {
 public:
  char* data() { return m_data.get(); }
  std::size_t size() const { return m_size; }
  std::size_t capacity() const { return m_capacity; }
  std::string_view view() const { return {m_data.get(), m_size}; }
  void clear() { m_size = 0; }
  void set_size(std::size_t size) { m_size = size; }

  // Makes room for `capacity` bytes and keeps the first size() of them.
  void reserve(std::size_t capacity) {
    if (capacity <= m_capacity) return;
    auto bigger = std::make_unique_for_overwrite<char[]>(capacity);
    if (m_size != 0) std::memcpy(bigger.get(), m_data.get(), m_size);
    m_data = std::move(bigger);
    m_capacity = capacity;
  }

  void append(const char* bytes, std::size_t count) {
    if (count > m_capacity - m_size) reserve(std::max(m_capacity * 2, m_size + count));
    if (count != 0) std::memcpy(m_data.get() + m_size, bytes, count);
    m_size += count;
  }

  void assign(std::string_view bytes) {
    m_size = 0;
    append(bytes.data(), bytes.size());
  }

 private:
  std::unique_ptr<char[]> m_data;
  std::size_t m_size = 0;
  std::size_t m_capacity = 0;
};

bool read_file(const std::string& path, Buffer& bytes) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return false;
  struct stat info {};
  bytes.clear();
  // One byte more than the size, so that the read that sees the end of the
  // file does not need a larger buffer first.
  if (::fstat(fd, &info) == 0 && info.st_size > 0) bytes.reserve(static_cast<std::size_t>(info.st_size) + 1);
  for (;;) {
    if (bytes.size() == bytes.capacity()) bytes.reserve(std::max<std::size_t>(bytes.capacity() * 2, 1 << 16));
    const ssize_t got = ::read(fd, bytes.data() + bytes.size(), bytes.capacity() - bytes.size());
    if (got == 0) break;
    if (got < 0) {
      if (errno == EINTR) continue;
      ::close(fd);
      return false;
    }
    bytes.set_size(bytes.size() + static_cast<std::size_t>(got));
  }
  ::close(fd);
  return true;
}

// Each worker owns one of these and reuses its buffers from file to file:
// a floor should not pay for allocations that a careful reader avoids.
class Worker {
 public:
  explicit Worker(Mode mode) : m_mode(mode) {}

  void process_file(const std::string& path) {
    ++m_totals.files;
    if (!read_file(path, m_file)) {
      fail(path, "cannot read");
      return;
    }
    m_totals.bytes_in += m_file.size();
    process_bytes(m_file.view(), path);
  }

  const Totals& totals() const { return m_totals; }

 private:
  void process_bytes(std::string_view bytes, const std::string& path) {
    if (is_gzip(bytes)) {
      if (!gunzip(bytes, m_inflated)) {
        fail(path, "corrupt gzip");
        return;
      }
      // The members of a tar bundle are read into their own buffer, so the
      // inflated tar must stay alive while they are parsed.
      if (is_tar(m_inflated.view())) {
        std::swap(m_inflated, m_tar);
        read_archive(m_tar.view(), path);
        return;
      }
      consume_document(m_inflated, path);
    } else if (is_zip(bytes) || is_tar(bytes)) {
      read_archive(bytes, path);
    } else {
      // Plain XML is parsed in place too, so it is copied once, as a reader
      // that must keep the original bytes would.
      m_inflated.assign(bytes);
      consume_document(m_inflated, path);
    }
  }

  // Inflates every concatenated gzip member into `out`, pre-sized from the
  // ISIZE trailer as a careful reader would. ISIZE is trusted only up to 64
  // times the input, as in ingest: the last bytes of a truncated file are
  // deflate data, and could ask for gigabytes.
  static bool gunzip(std::string_view bytes, Buffer& out) {
    constexpr std::size_t k_trusted_ratio = 64;
    constexpr std::size_t k_min_capacity = 64 * 1024;
    z_stream stream{};
    if (inflateInit2(&stream, 16 + MAX_WBITS) != Z_OK) return false;
    std::size_t declared = bytes.size() * 4;
    if (bytes.size() >= 18) {
      const auto* tail = reinterpret_cast<const unsigned char*>(bytes.data() + bytes.size() - 4);
      declared = static_cast<std::size_t>(tail[0]) | static_cast<std::size_t>(tail[1]) << 8 |
                 static_cast<std::size_t>(tail[2]) << 16 | static_cast<std::size_t>(tail[3]) << 24;
    }
    out.clear();
    out.reserve(std::max<std::size_t>(std::min(declared, bytes.size() * k_trusted_ratio + k_min_capacity), 1));
    std::size_t consumed = 0;
    bool ok = true;
    for (;;) {
      if (out.size() == out.capacity()) out.reserve(out.capacity() * 2);
      stream.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(bytes.data() + consumed));
      stream.avail_in = static_cast<uInt>(std::min<std::size_t>(bytes.size() - consumed, UINT_MAX));
      stream.next_out = reinterpret_cast<Bytef*>(out.data() + out.size());
      stream.avail_out = static_cast<uInt>(std::min<std::size_t>(out.capacity() - out.size(), UINT_MAX));
      const uInt in_before = stream.avail_in;
      const uInt out_before = stream.avail_out;
      const int rc = inflate(&stream, Z_NO_FLUSH);
      consumed += in_before - stream.avail_in;
      out.set_size(out.size() + (out_before - stream.avail_out));
      if (rc == Z_STREAM_END) {
        if (is_gzip(bytes.substr(consumed))) {
          inflateReset(&stream);
          continue;
        }
        break;
      }
      if (rc == Z_OK || (rc == Z_BUF_ERROR && stream.avail_out == 0)) continue;
      ok = false;
      break;
    }
    inflateEnd(&stream);
    return ok;
  }

  void read_archive(std::string_view bytes, const std::string& path) {
    struct FreeReader {
      void operator()(archive* a) const noexcept { archive_read_free(a); }
    };
    const std::unique_ptr<archive, FreeReader> reader(archive_read_new());
    archive* a = reader.get();
    archive_read_support_format_zip(a);
    archive_read_support_format_tar(a);
    if (archive_read_open_memory(a, bytes.data(), bytes.size()) != ARCHIVE_OK) {
      fail(path, "cannot open archive");
      return;
    }
    archive_entry* entry = nullptr;
    for (;;) {
      const int rc = archive_read_next_header(a, &entry);
      if (rc == ARCHIVE_EOF) break;
      if (rc != ARCHIVE_OK && rc != ARCHIVE_WARN) {
        fail(path, "corrupt archive");
        return;
      }
      if (archive_entry_filetype(entry) != AE_IFREG && archive_entry_filetype(entry) != 0) continue;
      m_member.clear();
      if (archive_entry_size_is_set(entry) != 0 && archive_entry_size(entry) > 0) {
        m_member.reserve(static_cast<std::size_t>(archive_entry_size(entry)));
      }
      bool ok = true;
      for (;;) {
        const void* block = nullptr;
        std::size_t size = 0;
        la_int64_t offset = 0;
        const int data_rc = archive_read_data_block(a, &block, &size, &offset);
        if (data_rc == ARCHIVE_EOF) break;
        if (data_rc != ARCHIVE_OK) {
          ok = false;
          break;
        }
        m_member.append(static_cast<const char*>(block), size);
      }
      if (!ok) {
        fail(path, "corrupt archive member");
        continue;
      }
      consume_document(m_member, path);
    }
  }

  void consume_document(Buffer& text, const std::string& path) {
    ++m_totals.documents;
    m_totals.bytes_out += text.size();
    if (m_mode == Mode::decompress) return;
    pugi::xml_document document;
    const pugi::xml_parse_result parsed =
        document.load_buffer_inplace(text.data(), text.size(), k_parse_flags, pugi::encoding_utf8);
    if (!parsed) {
      fail(path, parsed.description());
      return;
    }
    for (pugi::xml_node child = document.document_element().first_child(); child;
         child = child.next_sibling()) {
      if (child.type() == pugi::node_element && local_name(child.name()) == "record") ++m_totals.records;
    }
  }

  void fail(const std::string& path, const char* why) {
    ++m_totals.failures;
    // Generated corpora with --bad hold a few broken files on purpose; more
    // than a handful of messages would only hide the figures.
    if (m_totals.failures <= 5) std::fprintf(stderr, "dmarcsift_floor: %s: %s\n", path.c_str(), why);
  }

  Mode m_mode;
  Totals m_totals;
  Buffer m_file;
  Buffer m_inflated;
  Buffer m_tar;  // an inflated tar bundle while its members are parsed
  Buffer m_member;
};

// Lists regular files under `path` in name order, as ingest does.
void collect(const std::string& path, std::vector<std::string>& files) {
  struct stat info {};
  if (::stat(path.c_str(), &info) != 0) {
    std::fprintf(stderr, "dmarcsift_floor: %s: %s\n", path.c_str(), std::strerror(errno));
    return;
  }
  if (!S_ISDIR(info.st_mode)) {
    files.push_back(path);
    return;
  }
  struct CloseDir {
    void operator()(DIR* dir) const noexcept { ::closedir(dir); }
  };
  const std::unique_ptr<DIR, CloseDir> dir(::opendir(path.c_str()));
  if (!dir) return;
  std::vector<std::string> names;
  while (const dirent* entry = ::readdir(dir.get())) {
    const std::string_view name = entry->d_name;
    if (name != "." && name != "..") names.emplace_back(name);
  }
  std::sort(names.begin(), names.end());
  const std::string prefix = path.back() == '/' ? path : path + '/';
  for (const std::string& name : names) collect(prefix + name, files);
}

int usage() {
  std::fprintf(stderr, "usage: dmarcsift_floor decompress|parse [--threads N] PATH...\n");
  return 2;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 3) return usage();
  const std::string_view mode_name = argv[1];
  Mode mode{};
  if (mode_name == "decompress") {
    mode = Mode::decompress;
  } else if (mode_name == "parse") {
    mode = Mode::parse;
  } else {
    return usage();
  }
  // Two workers by default: `dmarcsift ingest` runs one per core, and the
  // benchmark machine has two.
  unsigned threads = 2;
  std::vector<std::string> paths;
  for (int i = 2; i < argc; ++i) {
    const std::string_view arg = argv[i];
    if (arg == "--threads" && i + 1 < argc) {
      const std::string_view value = argv[++i];
      const auto [end, ec] = std::from_chars(value.data(), value.data() + value.size(), threads);
      if (ec != std::errc{} || end != value.data() + value.size() || threads == 0) return usage();
    } else {
      paths.emplace_back(arg);
    }
  }
  if (paths.empty()) return usage();

  const auto started = std::chrono::steady_clock::now();
  std::vector<std::string> files;
  for (const std::string& path : paths) collect(path, files);

  // Files are handed out one at a time through an atomic counter: no lock,
  // no hand-over between threads, so the floor has no scheduling cost that
  // ingest's chunked queue could be blamed for.
  std::atomic<std::size_t> next{0};
  std::vector<Worker> workers;
  workers.reserve(threads);
  for (unsigned i = 0; i < threads; ++i) workers.emplace_back(mode);
  {
    std::vector<std::jthread> pool;
    pool.reserve(threads);
    for (Worker& worker : workers) {
      pool.emplace_back([&files, &next, &worker] {
        for (std::size_t i = next.fetch_add(1); i < files.size(); i = next.fetch_add(1)) {
          worker.process_file(files[i]);
        }
      });
    }
  }
  Totals totals;
  for (const Worker& worker : workers) totals += worker.totals();
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();

  std::printf("mode %s threads %u files %llu documents %llu records %llu bytes_in %llu bytes_out %llu "
              "failures %llu seconds %.4f\n",
              std::string(mode_name).c_str(), threads, static_cast<unsigned long long>(totals.files),
              static_cast<unsigned long long>(totals.documents),
              static_cast<unsigned long long>(totals.records),
              static_cast<unsigned long long>(totals.bytes_in),
              static_cast<unsigned long long>(totals.bytes_out),
              static_cast<unsigned long long>(totals.failures), seconds);
  return 0;
}
