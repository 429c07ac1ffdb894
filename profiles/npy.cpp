#include "profiles/npy.hpp"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zip.h>
#include <zlib.h>

#include <Eigen/Core>
#include <algorithm>
#include <bit>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <limits>
#include <memory>
#include <stdexcept>
#include <string_view>

#include "profiles/error.hpp"
#include "profiles/memory.hpp"

namespace exitplan {
namespace {

constexpr bool kHostLittle = std::endian::native == std::endian::little;

// A read-only private mapping of a whole file, unmapped when the last NpyArray using it goes.
struct Mapping {
  void* base = nullptr;
  std::size_t length = 0;
  ~Mapping() {
    if (base != nullptr && base != MAP_FAILED) munmap(base, length);
  }
};

// Untrusted text for a message: at most `max` bytes, cut with "..." (the catch site escapes
// control bytes).
std::string Excerpt(std::string_view s, std::size_t max = 48) {
  if (s.size() <= max) return std::string(s);
  return std::string(s.substr(0, max)) + "... (" + std::to_string(s.size()) + " bytes)";
}

const char* FileTypeName(mode_t mode) {
  if (S_ISDIR(mode)) return "a directory";
  if (S_ISFIFO(mode)) return "a FIFO";
  if (S_ISSOCK(mode)) return "a socket";
  if (S_ISCHR(mode)) return "a character device";
  if (S_ISBLK(mode)) return "a block device";
  return "not a regular file";
}

// Maps a whole regular file. Opens with O_NONBLOCK so a FIFO or device never blocks, and refuses
// anything but a regular file before reading a byte; a dangling symbolic link says so.
std::shared_ptr<Mapping> MapFile(const std::string& path, const std::string& expected) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_NONBLOCK | O_CLOEXEC | O_NOCTTY);
  if (fd < 0) {
    const int open_errno = errno;
    struct stat lst {};
    if (open_errno == ENOENT && ::lstat(path.c_str(), &lst) == 0 && S_ISLNK(lst.st_mode)) {
      char target[4096];
      const ssize_t n = ::readlink(path.c_str(), target, sizeof target);
      throw InputError(path, "dangling symbolic link (its target '" +
                                 Excerpt(std::string_view(target, n > 0 ? n : 0), 200) +
                                 "' does not exist)");
    }
    throw InputError(path, std::string("cannot open: ") + std::strerror(open_errno));
  }
  struct stat st {};
  if (::fstat(fd, &st) != 0) {
    const int e = errno;
    ::close(fd);
    throw InputError(path, std::string("cannot stat: ") + std::strerror(e));
  }
  if (!S_ISREG(st.st_mode)) {
    ::close(fd);
    throw InputError(path,
                     std::string("is ") + FileTypeName(st.st_mode) + ", expected " + expected);
  }
  auto mapping = std::make_shared<Mapping>();
  mapping->length = static_cast<std::size_t>(st.st_size);
  if (mapping->length == 0) {
    ::close(fd);
    throw InputError(path, "empty file (expected " + expected + ")");
  }
  mapping->base = ::mmap(nullptr, mapping->length, PROT_READ, MAP_PRIVATE, fd, 0);
  const int map_errno = errno;
  ::close(fd);
  if (mapping->base == MAP_FAILED) {
    throw InputError(path, std::string("cannot memory-map: ") + std::strerror(map_errno));
  }
  return mapping;
}

// ---- .npy header ------------------------------------------------------------------------------

struct NpyHeader {
  std::string descr;
  bool fortran = false;
  std::vector<std::size_t> shape;
  std::size_t data_offset = 0;  // prefix + header length
  NpyKind kind = NpyKind::kFloat;
  std::size_t item_size = 0;
  bool swap = false;
  std::size_t size = 0;        // elements
  std::size_t data_bytes = 0;  // size * item_size
};

// The header dict np.save writes, e.g. {'descr': '<f4', 'fortran_order': False, 'shape': (3, 4), }
// A Python literal; parsed by hand (no packaged library reads Python literals, and std::regex
// recurses per character, overflowing the stack on long but legal headers). One pass, no
// recursion, every number range-checked.
class HeaderParser {
 public:
  HeaderParser(std::string_view text, const std::string& source) : s_(text), source_(source) {}

  void Parse(NpyHeader& h) {
    SkipSpace();
    if (Peek() != '{') Fail("expected '{'");
    ++pos_;
    bool has_descr = false, has_fortran = false, has_shape = false;
    SkipSpace();
    while (Peek() != '}') {
      const std::size_t key_pos = pos_;
      const std::string key = String("a key");
      SkipSpace();
      if (Peek() != ':') Fail("expected ':' after key '" + Excerpt(key) + "'");
      ++pos_;
      SkipSpace();
      bool* seen = nullptr;
      if (key == "descr") {
        seen = &has_descr;
        if (Peek() == '[' || Peek() == '(' || Peek() == '{') {
          throw InputError(source_,
                           "structured arrays are not supported (expected a plain numeric "
                           "dtype such as '<f4')");
        }
        h.descr = String("the descr string");
      } else if (key == "fortran_order") {
        seen = &has_fortran;
        const std::string_view word = Identifier();
        if (word == "True")
          h.fortran = true;
        else if (word == "False")
          h.fortran = false;
        else
          Fail("fortran_order must be True or False, found '" + Excerpt(word) + "'");
      } else if (key == "shape") {
        seen = &has_shape;
        Shape(h.shape);
      } else {
        pos_ = key_pos;
        Fail("unknown key '" + Excerpt(key) + "' (expected descr, fortran_order and shape)");
      }
      if (*seen) Fail("key '" + key + "' appears twice");
      *seen = true;
      SkipSpace();
      if (Peek() == ',') {
        ++pos_;
        SkipSpace();
      } else if (Peek() != '}') {
        Fail("expected ',' or '}'");
      }
    }
    ++pos_;
    SkipSpace();
    if (pos_ != s_.size()) Fail("unexpected text after the closing '}'");
    if (!has_descr) Fail("no 'descr' field");
    if (!has_fortran) Fail("no 'fortran_order' field");
    if (!has_shape) Fail("no 'shape' field");
  }

 private:
  [[noreturn]] void Fail(const std::string& what) const {
    throw InputError(source_, "not a valid .npy header: " + what + " (at header byte " +
                                  std::to_string(pos_) + ")");
  }
  char Peek() const { return pos_ < s_.size() ? s_[pos_] : '\0'; }
  void SkipSpace() {
    while (pos_ < s_.size() &&
           (s_[pos_] == ' ' || s_[pos_] == '\t' || s_[pos_] == '\n' || s_[pos_] == '\r')) {
      ++pos_;
    }
  }
  std::string String(const char* what) {
    const char quote = Peek();
    if (quote != '\'' && quote != '"') Fail(std::string("expected ") + what + " in quotes");
    const std::size_t start = ++pos_;
    while (pos_ < s_.size() && s_[pos_] != quote) {
      if (s_[pos_] == '\\') Fail("escapes in strings are not supported");
      ++pos_;
    }
    if (pos_ >= s_.size()) Fail("unterminated string");
    return std::string(s_.substr(start, pos_++ - start));
  }
  std::string_view Identifier() {
    const std::size_t start = pos_;
    while (pos_ < s_.size() && std::isalpha(static_cast<unsigned char>(s_[pos_]))) ++pos_;
    if (pos_ == start) Fail("expected True or False");
    return s_.substr(start, pos_ - start);
  }
  void Shape(std::vector<std::size_t>& shape) {
    if (Peek() != '(') Fail("shape must be a tuple such as (3, 4)");
    ++pos_;
    SkipSpace();
    while (Peek() != ')') {
      if (Peek() == '-') Fail("negative dimension in shape");
      const std::size_t start = pos_;
      std::uint64_t value = 0;
      bool overflow = false;
      while (pos_ < s_.size() && s_[pos_] >= '0' && s_[pos_] <= '9') {
        const unsigned digit = static_cast<unsigned>(s_[pos_] - '0');
        if (value > (std::numeric_limits<std::uint64_t>::max() - digit) / 10) overflow = true;
        value = value * 10 + digit;
        ++pos_;
      }
      if (pos_ == start) Fail("expected a dimension (a non-negative integer) in shape");
      if (overflow) {
        pos_ = start;
        Fail("dimension " + Excerpt(s_.substr(start, pos_ - start)) + " is beyond 2^64");
      }
      if (Peek() == 'L') ++pos_;  // Python 2 long suffix
      shape.push_back(static_cast<std::size_t>(value));
      SkipSpace();
      if (Peek() == ',') {
        ++pos_;
        SkipSpace();
      } else if (Peek() != ')') {
        Fail("expected ',' or ')' in shape");
      }
    }
    ++pos_;
  }

  std::string_view s_;
  const std::string& source_;
  std::size_t pos_ = 0;
};

// "(2, 3, 4)" or, for long shapes, the first 6 dimensions and the count.
std::string ShapeText(const std::vector<std::size_t>& shape) {
  std::string out = "(";
  for (std::size_t i = 0; i < shape.size() && i < 6; ++i) {
    out += (i ? ", " : "") + std::to_string(shape[i]);
  }
  if (shape.size() > 6) out += ", ... (" + std::to_string(shape.size()) + " dimensions)";
  return out + ")";
}

// Reads the prefix and header of .npy bytes (`length` of them available). Needs the whole
// header, not the data; every size is checked, including the data size against 64 bits.
NpyHeader ParseHeader(const char* bytes, std::size_t length, const std::string& source) {
  static const char kMagic[] = "\x93NUMPY";
  if (length < 8 || std::memcmp(bytes, kMagic, 6) != 0) {
    throw InputError(source, "not a .npy file (no \\x93NUMPY magic; write it with np.save)");
  }
  const int major = static_cast<unsigned char>(bytes[6]);
  std::size_t header_len = 0, prefix = 0;
  if (major == 1) {
    prefix = 10;
  } else if (major == 2 || major == 3) {
    prefix = 12;
  } else {
    throw InputError(source, "unsupported .npy format version " + std::to_string(major) +
                                 " (expected 1, 2 or 3)");
  }
  if (length < prefix) throw InputError(source, "truncated .npy header");
  for (std::size_t i = 8; i < prefix; ++i) {
    header_len |= static_cast<std::size_t>(static_cast<unsigned char>(bytes[i])) << (8 * (i - 8));
  }
  if (header_len > length - prefix) {
    throw InputError(source, "truncated .npy header (it declares " + std::to_string(header_len) +
                                 " bytes, the file has " + std::to_string(length - prefix) + ")");
  }
  NpyHeader h;
  h.data_offset = prefix + header_len;
  HeaderParser(std::string_view(bytes + prefix, header_len), source).Parse(h);

  const std::string& descr = h.descr;
  const auto unsupported = [&]() {
    return InputError(source, "unsupported dtype '" + Excerpt(descr) +
                                  "' (expected float16/32/64, integers of 1-8 bytes or bool)");
  };
  if (descr.size() < 3 || descr.size() > 22) throw unsupported();
  const char order = descr[0];
  const char code = descr[1];
  std::uint64_t item = 0;
  for (std::size_t i = 2; i < descr.size(); ++i) {
    if (descr[i] < '0' || descr[i] > '9') throw unsupported();
    const unsigned digit = static_cast<unsigned>(descr[i] - '0');
    if (item > (std::numeric_limits<std::uint64_t>::max() - digit) / 10) {
      throw InputError(source,
                       "unsupported dtype '" + Excerpt(descr) + "' (its item size is beyond 2^64)");
    }
    item = item * 10 + digit;
  }
  h.item_size = static_cast<std::size_t>(item);
  switch (code) {
    case 'f':
      h.kind = NpyKind::kFloat;
      break;
    case 'i':
      h.kind = NpyKind::kSigned;
      break;
    case 'u':
      h.kind = NpyKind::kUnsigned;
      break;
    case 'b':
      h.kind = NpyKind::kBool;
      break;
    default:
      throw unsupported();
  }
  const std::size_t s = h.item_size;
  const bool ok_size = (h.kind == NpyKind::kFloat && (s == 2 || s == 4 || s == 8)) ||
                       ((h.kind == NpyKind::kSigned || h.kind == NpyKind::kUnsigned) &&
                        (s == 1 || s == 2 || s == 4 || s == 8)) ||
                       (h.kind == NpyKind::kBool && s == 1);
  if (!ok_size) throw unsupported();
  bool little = kHostLittle;
  if (order == '<')
    little = true;
  else if (order == '>')
    little = false;
  else if (order != '|' && order != '=') {
    throw InputError(source, "unsupported byte order in dtype '" + Excerpt(descr) + "'");
  }
  h.swap = (s > 1) && (little != kHostLittle);

  std::size_t size = 1;
  for (std::size_t d : h.shape) {
    if (__builtin_mul_overflow(size, d, &size)) {
      throw InputError(source, "shape " + ShapeText(h.shape) +
                                   " holds more than 2^64 elements (the product of its dimensions "
                                   "overflows)");
    }
  }
  h.size = size;
  if (__builtin_mul_overflow(size, h.item_size, &h.data_bytes)) {
    throw InputError(source, std::to_string(size) + " elements of " + std::to_string(h.item_size) +
                                 " bytes need more than 2^64 bytes");
  }
  return h;
}

template <typename T>
T ReadScalar(const unsigned char* p, bool swap) {
  unsigned char tmp[sizeof(T)];
  std::memcpy(tmp, p, sizeof(T));
  if (swap) std::reverse(tmp, tmp + sizeof(T));
  T value;
  std::memcpy(&value, tmp, sizeof(T));
  return value;
}

std::string KindName(NpyKind kind, std::size_t item) {
  switch (kind) {
    case NpyKind::kFloat:
      return "float" + std::to_string(8 * item);
    case NpyKind::kSigned:
      return "int" + std::to_string(8 * item);
    case NpyKind::kUnsigned:
      return "uint" + std::to_string(8 * item);
    case NpyKind::kBool:
      return "bool";
  }
  return "?";
}

// ---- .npz: the ZIP container ------------------------------------------------------------------
//
// Read by hand from the ZIP structures (PKWARE APPNOTE 6.3: end of central directory record,
// ZIP64 end record and locator, central and local file headers): libzip does not tell where a
// stored member's bytes lie in the archive, which mapping it in place needs, and it reads every
// member through its own buffers. Inflating and CRC-32 are zlib's.

std::uint16_t U16(const unsigned char* p) { return static_cast<std::uint16_t>(p[0] | (p[1] << 8)); }
std::uint32_t U32(const unsigned char* p) {
  return static_cast<std::uint32_t>(p[0]) | (static_cast<std::uint32_t>(p[1]) << 8) |
         (static_cast<std::uint32_t>(p[2]) << 16) | (static_cast<std::uint32_t>(p[3]) << 24);
}
std::uint64_t U64(const unsigned char* p) {
  return static_cast<std::uint64_t>(U32(p)) | (static_cast<std::uint64_t>(U32(p + 4)) << 32);
}

struct ZipMember {
  std::string name;
  std::uint16_t flags = 0, method = 0;
  std::uint32_t crc = 0;
  std::uint64_t compressed = 0, uncompressed = 0, local_offset = 0;
};

struct ZipDirectory {
  std::vector<ZipMember> members;
  std::uint64_t cd_offset = 0;  // member data must lie before it
};

ZipDirectory ReadZipDirectory(const unsigned char* z, std::size_t n, const std::string& path) {
  const auto fail = [&](const std::string& what) {
    return InputError(path, "not a valid .npz (zip) archive: " + what);
  };
  if (n < 22) throw fail("too short for a zip archive");
  // The end record: the last signature whose comment ends exactly at the end of the file.
  std::size_t eocd = std::string::npos, trailing = 0;
  const std::size_t lowest = n - 22 > 65535 ? n - 22 - 65535 : 0;
  for (std::size_t pos = n - 22 + 1; pos-- > lowest;) {
    if (U32(z + pos) != 0x06054b50) continue;
    const std::size_t end = pos + 22 + U16(z + pos + 20);
    if (end == n) {
      eocd = pos;
      break;
    }
    if (end < n && trailing == 0) trailing = n - end;
  }
  if (eocd == std::string::npos) {
    if (trailing > 0) {
      throw InputError(path, std::to_string(trailing) +
                                 " bytes of trailing data after the end of the zip archive");
    }
    throw InputError(path, "not a .npz file (no zip end record; write it with np.savez)");
  }
  const unsigned char* e = z + eocd;
  if (U16(e + 4) != 0 || U16(e + 6) != 0) {
    if (U16(e + 4) != 0xFFFF) throw fail("multi-disk archives are not supported");
  }
  std::uint64_t entries = U16(e + 10), cd_size = U32(e + 12), cd_offset = U32(e + 16);
  std::uint64_t cd_end_limit = eocd;
  if (entries == 0xFFFF || cd_size == 0xFFFFFFFF || cd_offset == 0xFFFFFFFF) {
    if (eocd < 20 || U32(z + eocd - 20) != 0x07064b50) throw fail("missing ZIP64 end locator");
    const std::uint64_t rec = U64(z + eocd - 20 + 8);
    if (rec > eocd - 20 || eocd - 20 - rec < 56 || U32(z + rec) != 0x06064b50) {
      throw fail("bad ZIP64 end record");
    }
    if (U32(z + rec + 16) != 0 || U32(z + rec + 20) != 0) {
      throw fail("multi-disk archives are not supported");
    }
    entries = U64(z + rec + 32);
    cd_size = U64(z + rec + 40);
    cd_offset = U64(z + rec + 48);
    cd_end_limit = rec;
  }
  if (cd_offset > cd_end_limit || cd_size > cd_end_limit - cd_offset) {
    throw fail("the central directory lies outside the file");
  }
  if (entries > cd_size / 46) throw fail("the central directory is too short for its entries");
  ZipDirectory dir;
  dir.cd_offset = cd_offset;
  std::uint64_t p = cd_offset;
  const std::uint64_t cd_end = cd_offset + cd_size;
  for (std::uint64_t i = 0; i < entries; ++i) {
    if (cd_end - p < 46 || U32(z + p) != 0x02014b50) throw fail("corrupt central directory");
    const unsigned char* c = z + p;
    ZipMember m;
    m.flags = U16(c + 8);
    m.method = U16(c + 10);
    m.crc = U32(c + 16);
    m.compressed = U32(c + 20);
    m.uncompressed = U32(c + 24);
    const std::uint64_t name_len = U16(c + 28), extra_len = U16(c + 30), comment_len = U16(c + 32);
    m.local_offset = U32(c + 42);
    if (cd_end - p - 46 < name_len + extra_len + comment_len)
      throw fail("corrupt central directory");
    m.name.assign(reinterpret_cast<const char*>(c + 46), name_len);
    // ZIP64 extra field: 64-bit values for the fields that hold 0xFFFFFFFF, in this order.
    const unsigned char* x = c + 46 + name_len;
    const unsigned char* x_end = x + extra_len;
    while (x_end - x >= 4) {
      const std::uint16_t id = U16(x), size = U16(x + 2);
      if (x_end - x - 4 < size) throw fail("corrupt extra field in the central directory");
      if (id == 0x0001) {
        const unsigned char* f = x + 4;
        const unsigned char* f_end = f + size;
        for (std::uint64_t* field : {&m.uncompressed, &m.compressed, &m.local_offset}) {
          if (*field != 0xFFFFFFFF) continue;
          if (f_end - f < 8) throw fail("corrupt ZIP64 extra field");
          *field = U64(f);
          f += 8;
        }
      }
      x += 4 + size;
    }
    dir.members.push_back(std::move(m));
    p += 46 + name_len + extra_len + comment_len;
  }
  return dir;
}

// The byte offset where a member's data starts, checked to lie inside the archive before its
// central directory.
std::uint64_t MemberData(const unsigned char* z, std::size_t n, const ZipDirectory& dir,
                         const ZipMember& m, const std::string& where) {
  const std::uint64_t lo = m.local_offset;
  if (lo > dir.cd_offset || dir.cd_offset - lo < 30 || U32(z + lo) != 0x04034b50) {
    throw InputError(where, "corrupt zip archive: no local header where the directory points");
  }
  const std::uint64_t name_len = U16(z + lo + 26), extra_len = U16(z + lo + 28);
  const std::uint64_t start = lo + 30 + name_len + extra_len;
  if (start > dir.cd_offset || dir.cd_offset - start < m.compressed) {
    throw InputError(where,
                     "corrupt zip archive: the member's data runs past the end of the "
                     "archive's payload");
  }
  if (name_len != m.name.size() || std::memcmp(z + lo + 30, m.name.data(), name_len) != 0) {
    throw InputError(where, "corrupt zip archive: local and central names differ");
  }
  (void)n;
  return start;
}

std::uint32_t Crc32(const unsigned char* p, std::size_t n) {
  return static_cast<std::uint32_t>(crc32_z(crc32_z(0L, Z_NULL, 0), p, n));
}

// Inflates a raw deflate stream of exactly `compressed` bytes into exactly `out_size` bytes.
// The .npy header is inflated first and checked against out_size before the rest is allocated.
std::shared_ptr<char[]> InflateMember(const unsigned char* in, std::uint64_t compressed,
                                      std::uint64_t out_size, const std::string& where,
                                      const std::string& zip_path) {
  z_stream zs{};
  if (inflateInit2(&zs, -MAX_WBITS) != Z_OK) throw InputError(where, "cannot start inflating");
  struct End {
    z_stream* z;
    ~End() { inflateEnd(z); }
  } end{&zs};
  zs.next_in = const_cast<unsigned char*>(in);
  std::uint64_t in_left = compressed;
  const auto feed = [&]() {
    if (zs.avail_in == 0 && in_left > 0) {
      const std::uint64_t chunk = std::min<std::uint64_t>(in_left, 1u << 30);
      zs.avail_in = static_cast<uInt>(chunk);
      in_left -= chunk;
    }
  };
  // Inflates into [out, out + want); returns the bytes produced and whether the stream ended.
  const auto inflate_into = [&](unsigned char* out, std::uint64_t want, bool& ended) {
    std::uint64_t got = 0;
    ended = false;
    while (got < want) {
      feed();
      const std::uint64_t chunk = std::min<std::uint64_t>(want - got, 1u << 30);
      zs.next_out = out + got;
      zs.avail_out = static_cast<uInt>(chunk);
      const int rc = inflate(&zs, Z_NO_FLUSH);
      got += chunk - zs.avail_out;
      if (rc == Z_STREAM_END) {
        ended = true;
        break;
      }
      if (rc == Z_BUF_ERROR && zs.avail_in == 0 && in_left == 0) break;  // input exhausted
      if (rc != Z_OK && rc != Z_BUF_ERROR) {
        throw InputError(where, std::string("corrupt deflate data: ") +
                                    (zs.msg != nullptr ? zs.msg : "inflate failed"));
      }
    }
    return got;
  };
  const auto short_error = [&](std::uint64_t total) {
    return InputError(where, "inflates to only " + std::to_string(total) +
                                 " bytes; its zip directory entry declares " +
                                 std::to_string(out_size));
  };
  // 1. The .npy prefix and header.
  std::string head(static_cast<std::size_t>(std::min<std::uint64_t>(out_size, 12)), '\0');
  bool ended = false;
  std::uint64_t got =
      inflate_into(reinterpret_cast<unsigned char*>(head.data()), head.size(), ended);
  if (got < head.size()) throw short_error(got);
  std::uint64_t header_end = 0;
  {
    // The prefix alone: magic, version and the header length.
    if (head.size() < 10 || std::memcmp(head.data(), "\x93NUMPY", 6) != 0) {
      throw InputError(where, "not a .npy file (no \\x93NUMPY magic; write it with np.save)");
    }
    const int major = static_cast<unsigned char>(head[6]);
    const std::size_t prefix = major == 1 ? 10 : 12;
    if ((major < 1 || major > 3) || head.size() < prefix) {
      ParseHeader(head.data(), head.size(), where);  // throws the precise message
      throw InputError(where, "truncated .npy header");
    }
    std::uint64_t header_len = 0;
    for (std::size_t i = 8; i < prefix; ++i) {
      header_len |= static_cast<std::uint64_t>(static_cast<unsigned char>(head[i]))
                    << (8 * (i - 8));
    }
    header_end = prefix + header_len;
  }
  if (header_end > out_size) {
    throw InputError(where, "truncated .npy header (it declares " + std::to_string(header_end) +
                                " bytes, the member has " + std::to_string(out_size) + ")");
  }
  // The first bytes may already reach past a short header (a 10-byte prefix, empty header).
  const std::size_t have = head.size();
  if (header_end > have) {
    head.resize(static_cast<std::size_t>(header_end));
    got = inflate_into(reinterpret_cast<unsigned char*>(head.data()) + have, header_end - have,
                       ended);
    if (got < header_end - have) throw short_error(have + got);
  }
  const NpyHeader h = ParseHeader(head.data(), head.size(), where);
  const std::uint64_t expected = static_cast<std::uint64_t>(h.data_offset) + h.data_bytes;
  if (expected != out_size) {
    throw InputError(where, "its zip directory entry declares " + std::to_string(out_size) +
                                " bytes, but its .npy header (" + ShapeText(h.shape) + " of '" +
                                Excerpt(h.descr) + "') needs " + std::to_string(expected));
  }
  // 2. The data, inflated in place into the final buffer, never past the declared size.
  CheckMemory(zip_path, out_size, "inflating member '" + where.substr(zip_path.size() + 1) + "'");
  std::shared_ptr<char[]> buffer(new char[static_cast<std::size_t>(out_size)]);
  std::memcpy(buffer.get(), head.data(), head.size());
  unsigned char* out = reinterpret_cast<unsigned char*>(buffer.get());
  const std::uint64_t done = head.size();  // <= out_size: both header_end and 12 are
  got = ended ? 0 : inflate_into(out + done, out_size - done, ended);
  if (done + got < out_size) throw short_error(done + got);
  if (!ended) {
    unsigned char extra = 0;
    if (inflate_into(&extra, 1, ended) > 0) {
      throw InputError(where, "inflates to more than the " + std::to_string(out_size) +
                                  " bytes its zip directory entry declares");
    }
    if (!ended) throw InputError(where, "corrupt deflate data: the stream does not end");
  }
  if (zs.avail_in != 0 || in_left != 0) {
    throw InputError(where, std::to_string(zs.avail_in + in_left) +
                                " bytes of trailing data after the member's deflate stream");
  }
  return buffer;
}

}  // namespace

NpyArray ParseNpy(std::shared_ptr<const void> owner, const char* bytes, std::size_t length,
                  const std::string& source) {
  const NpyHeader h = ParseHeader(bytes, length, source);
  NpyArray a;
  a.source_ = source;
  a.owner_ = std::move(owner);
  a.descr_ = h.descr;
  a.kind_ = h.kind;
  a.item_size_ = h.item_size;
  a.swap_ = h.swap;
  a.fortran_ = h.fortran;
  a.shape_ = h.shape;
  a.size_ = h.size;
  const std::size_t have = length - h.data_offset;
  if (have < h.data_bytes) {
    throw InputError(source, "truncated: " + a.Describe() + " needs " +
                                 std::to_string(h.data_bytes) + " bytes of data, the file has " +
                                 std::to_string(have));
  }
  if (have > h.data_bytes) {
    throw InputError(source, std::to_string(have - h.data_bytes) +
                                 " bytes of trailing data after the array (" + a.Describe() +
                                 " needs " + std::to_string(h.data_bytes) + ")");
  }
  a.data_ = reinterpret_cast<const unsigned char*>(bytes + h.data_offset);
  return a;
}

void NpyArray::SetDtype(const std::string& descr) {
  descr_ = descr;
  if (descr.size() < 3) throw InputError(source_, "unsupported dtype '" + descr + "'");
  const char order = descr[0];
  const char code = descr[1];
  const std::string size_text = descr.substr(2);
  if (size_text.find_first_not_of("0123456789") != std::string::npos) {
    throw InputError(source_, "unsupported dtype '" + descr + "'");
  }
  item_size_ = std::stoul(size_text);
  switch (code) {
    case 'f':
      kind_ = NpyKind::kFloat;
      break;
    case 'i':
      kind_ = NpyKind::kSigned;
      break;
    case 'u':
      kind_ = NpyKind::kUnsigned;
      break;
    case 'b':
      kind_ = NpyKind::kBool;
      break;
    default:
      throw InputError(
          source_, "unsupported dtype '" + descr + "' (expected float16/32/64, integers or bool)");
  }
  const std::size_t s = item_size_;
  const bool ok_size = (kind_ == NpyKind::kFloat && (s == 2 || s == 4 || s == 8)) ||
                       ((kind_ == NpyKind::kSigned || kind_ == NpyKind::kUnsigned) &&
                        (s == 1 || s == 2 || s == 4 || s == 8)) ||
                       (kind_ == NpyKind::kBool && s == 1);
  if (!ok_size) {
    throw InputError(
        source_, "unsupported dtype '" + descr + "' (expected float16/32/64, integers or bool)");
  }
  bool little = kHostLittle;
  if (order == '<')
    little = true;
  else if (order == '>')
    little = false;
  else if (order != '|' && order != '=') {
    throw InputError(source_, "unsupported byte order in dtype '" + descr + "'");
  }
  swap_ = (s > 1) && (little != kHostLittle);
}

NpyArray NpyArray::View(std::shared_ptr<const void> owner, const void* data,
                        const std::string& descr, std::vector<std::size_t> shape,
                        bool fortran_order, const std::string& source) {
  NpyArray a;
  a.source_ = source;
  a.owner_ = std::move(owner);
  a.SetDtype(descr);
  a.fortran_ = fortran_order;
  a.shape_ = std::move(shape);
  a.size_ = 1;
  for (std::size_t d : a.shape_) a.size_ *= d;
  a.data_ = static_cast<const unsigned char*>(data);
  return a;
}

std::string NpyArray::Describe() const {
  std::string out = KindName(kind_, item_size_) + " [";
  for (std::size_t i = 0; i < shape_.size() && i < 6; ++i) {
    out += (i ? ", " : "") + std::to_string(shape_[i]);
  }
  if (shape_.size() > 6) out += ", ... (" + std::to_string(shape_.size()) + " dimensions)";
  return out + "]";
}

std::size_t NpyArray::StorageIndex(std::size_t c_index) const {
  if (!fortran_ || shape_.size() < 2) return c_index;
  // Decompose the C-order index (last axis fastest), recompose with the first axis fastest.
  std::size_t f_index = 0, stride = 1;
  std::size_t rest = c_index;
  std::vector<std::size_t> idx(shape_.size());
  for (std::size_t d = shape_.size(); d-- > 0;) {
    idx[d] = rest % shape_[d];
    rest /= shape_[d];
  }
  for (std::size_t d = 0; d < shape_.size(); ++d) {
    f_index += idx[d] * stride;
    stride *= shape_[d];
  }
  return f_index;
}
double NpyArray::Load(std::size_t j) const {
  const unsigned char* p = data_ + j * item_size_;
  switch (kind_) {
    case NpyKind::kFloat:
      if (item_size_ == 4) return ReadScalar<float>(p, swap_);
      if (item_size_ == 8) return ReadScalar<double>(p, swap_);
      return static_cast<double>(
          Eigen::numext::bit_cast<Eigen::half>(ReadScalar<std::uint16_t>(p, swap_)));
    case NpyKind::kSigned:
      switch (item_size_) {
        case 1:
          return ReadScalar<std::int8_t>(p, false);
        case 2:
          return ReadScalar<std::int16_t>(p, swap_);
        case 4:
          return ReadScalar<std::int32_t>(p, swap_);
        default:
          return static_cast<double>(ReadScalar<std::int64_t>(p, swap_));
      }
    case NpyKind::kUnsigned:
      switch (item_size_) {
        case 1:
          return ReadScalar<std::uint8_t>(p, false);
        case 2:
          return ReadScalar<std::uint16_t>(p, swap_);
        case 4:
          return ReadScalar<std::uint32_t>(p, swap_);
        default:
          return static_cast<double>(ReadScalar<std::uint64_t>(p, swap_));
      }
    case NpyKind::kBool:
      return *p != 0 ? 1.0 : 0.0;
  }
  return 0.0;
}

double NpyArray::At(std::size_t i) const { return Load(StorageIndex(i)); }

void NpyArray::CopyTo(std::size_t first, std::size_t count, double* out) const {
  if (!fortran_ && !swap_ && kind_ == NpyKind::kFloat) {
    if (item_size_ == 4) {
      const unsigned char* p = data_ + first * 4;
      for (std::size_t i = 0; i < count; ++i) {
        float f;
        std::memcpy(&f, p + 4 * i, 4);
        out[i] = f;
      }
      return;
    }
    if (item_size_ == 8) {
      std::memcpy(out, data_ + first * 8, count * 8);
      return;
    }
  }
  for (std::size_t i = 0; i < count; ++i) out[i] = At(first + i);
}

NpyArray ReadNpy(const std::string& path) {
  std::shared_ptr<Mapping> mapping = MapFile(path, "a .npy array");
  const char* bytes = static_cast<const char*>(mapping->base);
  const std::size_t length = mapping->length;
  return ParseNpy(std::move(mapping), bytes, length, path);
}

NpyArray ParseNpzMember(std::shared_ptr<const void> owner, const char* bytes, std::size_t length,
                        const std::string& source, const std::string& name) {
  const std::string member = name.ends_with(".npy") ? name : name + ".npy";
  const auto* z = reinterpret_cast<const unsigned char*>(bytes);
  const ZipDirectory dir = ReadZipDirectory(z, length, source);
  const ZipMember* m = nullptr;
  for (const ZipMember& candidate : dir.members) {
    if (candidate.name != member) continue;
    if (m != nullptr) throw InputError(source, "holds member '" + Excerpt(member) + "' twice");
    m = &candidate;
  }
  if (m == nullptr) {
    // Name what is there, and the fix when the arrays were saved positionally (arr_0, arr_1).
    std::string names;
    for (std::size_t i = 0; i < dir.members.size() && i < 20; ++i) {
      std::string e = dir.members[i].name;
      if (e.ends_with(".npy")) e.resize(e.size() - 4);
      names += (names.empty() ? "" : ", ") + Excerpt(e);
    }
    std::string msg =
        "the .npz has no array '" + Excerpt(member.substr(0, member.size() - 4)) + "'";
    if (!names.empty()) msg += " (it holds: " + names + ")";
    if (names.find("arr_0") != std::string::npos) {
      msg +=
          "; the arrays were saved positionally: save them by name, e.g. "
          "np.savez(path, logits=logits, labels=labels)";
    }
    throw InputError(source, msg);
  }
  const std::string where = source + ":" + member;
  if (m->flags & 0x1) throw InputError(where, "encrypted zip members are not supported");
  const std::uint64_t start = MemberData(z, length, dir, *m, where);
  if (m->method == 0) {
    // Stored: the member's bytes are used in place, inside the caller's mapping.
    if (m->compressed != m->uncompressed) {
      throw InputError(where, "corrupt zip archive: a stored member's sizes differ (" +
                                  std::to_string(m->compressed) + " and " +
                                  std::to_string(m->uncompressed) + ")");
    }
    if (Crc32(z + start, static_cast<std::size_t>(m->compressed)) != m->crc) {
      throw InputError(where, "CRC-32 mismatch: the member's data is corrupt");
    }
    return ParseNpy(std::move(owner), bytes + start, static_cast<std::size_t>(m->compressed),
                    where);
  }
  if (m->method != 8) {
    throw InputError(where, "zip compression method " + std::to_string(m->method) +
                                " is not supported (expected stored or deflate, as np.savez and "
                                "np.savez_compressed write)");
  }
  // Deflate produces at most about 1032 bytes per input byte: a directory claiming more is corrupt
  // or a bomb, refused before anything is allocated.
  if (m->uncompressed / 1032 > m->compressed + 64) {
    throw InputError(where, "its zip directory entry claims " + std::to_string(m->uncompressed) +
                                " bytes from " + std::to_string(m->compressed) +
                                " compressed bytes, more than deflate can produce");
  }
  std::shared_ptr<char[]> buffer =
      InflateMember(z + start, m->compressed, m->uncompressed, where, source);
  const auto* out = reinterpret_cast<const unsigned char*>(buffer.get());
  if (Crc32(out, static_cast<std::size_t>(m->uncompressed)) != m->crc) {
    throw InputError(where, "CRC-32 mismatch: the member's data is corrupt");
  }
  const char* data = buffer.get();
  return ParseNpy(std::shared_ptr<const void>(buffer, data), data,
                  static_cast<std::size_t>(m->uncompressed), where);
}

NpyArray ReadNpzMember(const std::string& path, const std::string& name) {
  std::shared_ptr<Mapping> mapping = MapFile(path, "a .npz archive");
  const char* bytes = static_cast<const char*>(mapping->base);
  const std::size_t length = mapping->length;
  return ParseNpzMember(std::move(mapping), bytes, length, path, name);
}

std::string NpyBytes(const std::vector<std::size_t>& shape, const std::vector<double>& values) {
  std::string header = "{'descr': '<f8', 'fortran_order': False, 'shape': (";
  for (std::size_t d : shape) header += std::to_string(d) + ", ";
  header += "), }";
  while ((10 + header.size() + 1) % 64 != 0) header += ' ';
  header += '\n';
  std::string out("\x93NUMPY\x01\x00", 8);
  const std::uint16_t len = static_cast<std::uint16_t>(header.size());
  out += static_cast<char>(len & 0xff);
  out += static_cast<char>(len >> 8);
  out += header;
  out.append(reinterpret_cast<const char*>(values.data()), values.size() * sizeof(double));
  return out;
}

void WriteNpy(const std::string& path, const std::vector<std::size_t>& shape,
              const std::vector<double>& values) {
  const std::string bytes = NpyBytes(shape, values);
  std::ofstream out(path, std::ios::binary);
  out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  if (!out) throw InputError(path, "cannot write");
}

std::string NpzBytes(const std::vector<NpzMember>& members) {
  auto fail = [](const std::string& what, zip_error_t* e) {
    const std::string msg = std::string("npz: ") + what + ": " + zip_error_strerror(e);
    zip_error_fini(e);
    return std::runtime_error(msg);
  };
  zip_error_t error;
  zip_error_init(&error);
  zip_source_t* buffer = zip_source_buffer_create(nullptr, 0, 0, &error);
  if (!buffer) throw fail("cannot create a buffer", &error);
  zip_source_keep(buffer);  // kept after zip_close, to read the archive back
  std::unique_ptr<zip_source_t, void (*)(zip_source_t*)> keep(buffer, zip_source_free);
  zip_t* za = zip_open_from_source(buffer, ZIP_TRUNCATE, &error);
  if (!za) throw fail("cannot open the archive", &error);
  std::vector<std::string> bytes;  // alive until zip_close
  bytes.reserve(members.size());
  for (const NpzMember& m : members) {
    bytes.push_back(NpyBytes(m.shape, m.values));
    zip_source_t* s = zip_source_buffer(za, bytes.back().data(), bytes.back().size(), 0);
    const zip_int64_t index =
        s ? zip_file_add(za, (m.name + ".npy").c_str(), s, ZIP_FL_ENC_UTF_8) : -1;
    if (index < 0) {
      if (s) zip_source_free(s);
      zip_error_t* e = zip_get_error(za);
      const std::string msg =
          std::string("npz: cannot add ") + m.name + ": " + zip_error_strerror(e);
      zip_discard(za);
      throw std::runtime_error(msg);
    }
    // Stored (the reader uses stored members in place) and dated 1980-01-01 00:00, so the same
    // members always give the same bytes.
    if (zip_set_file_compression(za, static_cast<zip_uint64_t>(index), ZIP_CM_STORE, 0) != 0 ||
        zip_file_set_dostime(za, static_cast<zip_uint64_t>(index), 0, (0 << 9) | (1 << 5) | 1, 0) !=
            0) {
      const std::string msg = std::string("npz: ") + zip_error_strerror(zip_get_error(za));
      zip_discard(za);
      throw std::runtime_error(msg);
    }
  }
  if (zip_close(za) != 0) {
    const std::string msg =
        std::string("npz: cannot write the archive: ") + zip_error_strerror(zip_get_error(za));
    zip_discard(za);
    throw std::runtime_error(msg);
  }
  std::string out;
  if (zip_source_open(buffer) != 0) throw std::runtime_error("npz: cannot read the archive back");
  char chunk[1 << 16];
  for (;;) {
    const zip_int64_t n = zip_source_read(buffer, chunk, sizeof chunk);
    if (n < 0) {
      zip_source_close(buffer);
      throw std::runtime_error("npz: cannot read the archive back");
    }
    if (n == 0) break;
    out.append(chunk, static_cast<std::size_t>(n));
  }
  zip_source_close(buffer);
  return out;
}

}  // namespace exitplan
