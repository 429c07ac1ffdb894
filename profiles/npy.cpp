#include "profiles/npy.hpp"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zip.h>

#include <Eigen/Core>
#include <bit>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <regex>
#include <sstream>

#include "profiles/error.hpp"

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

std::string Trim(const std::string& s) {
  auto b = s.find_first_not_of(" \t\n");
  auto e = s.find_last_not_of(" \t\n");
  return b == std::string::npos ? std::string() : s.substr(b, e - b + 1);
}

// Value of 'key' in the header dict, as the raw text after the colon.
std::string HeaderValue(const std::string& header, const std::string& key,
                        const std::string& source) {
  std::regex re("['\"]" + key + "['\"]\\s*:\\s*(\\([^)]*\\)|'[^']*'|\"[^\"]*\"|[A-Za-z]+)");
  std::smatch m;
  if (!std::regex_search(header, m, re)) {
    throw InputError(source, "not a valid .npy header: no '" + key + "' field");
  }
  return m[1].str();
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
    case NpyKind::kFloat: return "float" + std::to_string(8 * item);
    case NpyKind::kSigned: return "int" + std::to_string(8 * item);
    case NpyKind::kUnsigned: return "uint" + std::to_string(8 * item);
    case NpyKind::kBool: return "bool";
  }
  return "?";
}

}  // namespace

NpyArray ParseNpy(std::shared_ptr<const void> owner, const char* bytes, std::size_t length,
                  const std::string& source) {
  static const char kMagic[] = "\x93NUMPY";
  if (length < 10 || std::memcmp(bytes, kMagic, 6) != 0) {
    throw InputError(source, "not a .npy file (no \\x93NUMPY magic; write it with np.save)");
  }
  const int major = static_cast<unsigned char>(bytes[6]);
  std::size_t header_len = 0, prefix = 0;
  if (major == 1) {
    header_len = static_cast<unsigned char>(bytes[8]) |
                 (static_cast<std::size_t>(static_cast<unsigned char>(bytes[9])) << 8);
    prefix = 10;
  } else if (major == 2 || major == 3) {
    if (length < 12) throw InputError(source, "truncated .npy header");
    header_len = 0;
    for (int i = 0; i < 4; ++i) {
      header_len |= static_cast<std::size_t>(static_cast<unsigned char>(bytes[8 + i])) << (8 * i);
    }
    prefix = 12;
  } else {
    throw InputError(source, "unsupported .npy format version " + std::to_string(major) +
                                 " (expected 1, 2 or 3)");
  }
  if (prefix + header_len > length) throw InputError(source, "truncated .npy header");
  const std::string header(bytes + prefix, header_len);

  NpyArray a;
  a.source_ = source;
  a.owner_ = std::move(owner);

  std::string descr = HeaderValue(header, "descr", source);
  if (descr.size() < 2 || (descr.front() != '\'' && descr.front() != '"')) {
    throw InputError(source, "unsupported dtype " + descr +
                                 " (structured arrays are not supported; expected a plain numeric "
                                 "dtype)");
  }
  a.SetDtype(descr.substr(1, descr.size() - 2));

  const std::string fortran = HeaderValue(header, "fortran_order", source);
  if (fortran == "True") a.fortran_ = true;
  else if (fortran == "False") a.fortran_ = false;
  else throw InputError(source, "not a valid .npy header: fortran_order = " + fortran);

  std::string shape = HeaderValue(header, "shape", source);
  if (shape.size() < 2 || shape.front() != '(') {
    throw InputError(source, "not a valid .npy header: shape = " + shape);
  }
  shape = shape.substr(1, shape.size() - 2);
  std::stringstream ss(shape);
  std::string item;
  a.size_ = 1;
  while (std::getline(ss, item, ',')) {
    item = Trim(item);
    if (item.empty()) continue;
    if (item.back() == 'L') item.pop_back();
    if (item.find_first_not_of("0123456789") != std::string::npos) {
      throw InputError(source, "not a valid .npy header: shape (" + shape + ")");
    }
    a.shape_.push_back(std::stoul(item));
    a.size_ *= a.shape_.back();
  }
  const std::size_t data_offset = prefix + header_len;
  const std::size_t need = a.size_ * a.item_size_;
  if (length - data_offset < need) {
    throw InputError(source, "truncated: " + a.Describe() + " needs " + std::to_string(need) +
                                 " bytes of data, the file has " +
                                 std::to_string(length - data_offset));
  }
  a.data_ = reinterpret_cast<const unsigned char*>(bytes + data_offset);
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
    case 'f': kind_ = NpyKind::kFloat; break;
    case 'i': kind_ = NpyKind::kSigned; break;
    case 'u': kind_ = NpyKind::kUnsigned; break;
    case 'b': kind_ = NpyKind::kBool; break;
    default:
      throw InputError(source_, "unsupported dtype '" + descr +
                                   "' (expected float16/32/64, integers or bool)");
  }
  const std::size_t s = item_size_;
  const bool ok_size = (kind_ == NpyKind::kFloat && (s == 2 || s == 4 || s == 8)) ||
                       ((kind_ == NpyKind::kSigned || kind_ == NpyKind::kUnsigned) &&
                        (s == 1 || s == 2 || s == 4 || s == 8)) ||
                       (kind_ == NpyKind::kBool && s == 1);
  if (!ok_size) {
    throw InputError(source_, "unsupported dtype '" + descr +
                                 "' (expected float16/32/64, integers or bool)");
  }
  bool little = kHostLittle;
  if (order == '<') little = true;
  else if (order == '>') little = false;
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
  for (std::size_t i = 0; i < shape_.size(); ++i) {
    out += (i ? ", " : "") + std::to_string(shape_[i]);
  }
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
        case 1: return ReadScalar<std::int8_t>(p, false);
        case 2: return ReadScalar<std::int16_t>(p, swap_);
        case 4: return ReadScalar<std::int32_t>(p, swap_);
        default: return static_cast<double>(ReadScalar<std::int64_t>(p, swap_));
      }
    case NpyKind::kUnsigned:
      switch (item_size_) {
        case 1: return ReadScalar<std::uint8_t>(p, false);
        case 2: return ReadScalar<std::uint16_t>(p, swap_);
        case 4: return ReadScalar<std::uint32_t>(p, swap_);
        default: return static_cast<double>(ReadScalar<std::uint64_t>(p, swap_));
      }
    case NpyKind::kBool: return *p != 0 ? 1.0 : 0.0;
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
  const int fd = ::open(path.c_str(), O_RDONLY);
  if (fd < 0) {
    throw InputError(path, std::string("cannot open: ") + std::strerror(errno));
  }
  struct stat st {};
  if (::fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
    ::close(fd);
    throw InputError(path, "not a regular file");
  }
  auto mapping = std::make_shared<Mapping>();
  mapping->length = static_cast<std::size_t>(st.st_size);
  if (mapping->length == 0) {
    ::close(fd);
    throw InputError(path, "empty file (expected a .npy array)");
  }
  mapping->base = ::mmap(nullptr, mapping->length, PROT_READ, MAP_PRIVATE, fd, 0);
  ::close(fd);
  if (mapping->base == MAP_FAILED) {
    throw InputError(path, std::string("cannot memory-map: ") + std::strerror(errno));
  }
  const char* bytes = static_cast<const char*>(mapping->base);
  const std::size_t length = mapping->length;
  return ParseNpy(std::move(mapping), bytes, length, path);
}

NpyArray ReadNpzMember(const std::string& path, const std::string& name) {
  const std::string member = name.ends_with(".npy") ? name : name + ".npy";
  int err = 0;
  zip_t* zip = zip_open(path.c_str(), ZIP_RDONLY, &err);
  if (zip == nullptr) {
    zip_error_t ze;
    zip_error_init_with_code(&ze, err);
    std::string msg = zip_error_strerror(&ze);
    zip_error_fini(&ze);
    throw InputError(path, "cannot read as .npz: " + msg);
  }
  struct Closer {
    zip_t* z;
    ~Closer() { zip_discard(z); }
  } closer{zip};
  zip_stat_t st;
  zip_stat_init(&st);
  if (zip_stat(zip, member.c_str(), 0, &st) != 0) {
    // Name what is there, and the fix when the arrays were saved positionally (arr_0, arr_1).
    std::string names;
    const zip_int64_t count = zip_get_num_entries(zip, 0);
    for (zip_int64_t i = 0; i < count && i < 20; ++i) {
      const char* n = zip_get_name(zip, static_cast<zip_uint64_t>(i), 0);
      if (n == nullptr) continue;
      std::string e = n;
      if (e.ends_with(".npy")) e.resize(e.size() - 4);
      names += (names.empty() ? "" : ", ") + e;
    }
    std::string msg = "the .npz has no array '" + member.substr(0, member.size() - 4) + "'";
    if (!names.empty()) msg += " (it holds: " + names + ")";
    if (names.find("arr_0") != std::string::npos) {
      msg += "; the arrays were saved positionally: save them by name, e.g. "
             "np.savez(path, logits=logits, labels=labels)";
    }
    throw InputError(path, msg);
  }
  auto buffer = std::make_shared<std::vector<char>>(st.size);
  zip_file_t* f = zip_fopen(zip, member.c_str(), 0);
  if (f == nullptr) throw InputError(path, "cannot open member '" + member + "'");
  const zip_int64_t got = zip_fread(f, buffer->data(), st.size);
  zip_fclose(f);
  if (got < 0 || static_cast<zip_uint64_t>(got) != st.size) {
    throw InputError(path, "member '" + member + "' is truncated or corrupt");
  }
  const char* bytes = buffer->data();
  const std::size_t length = buffer->size();
  return ParseNpy(std::move(buffer), bytes, length, path + ":" + member);
}

void WriteNpy(const std::string& path, const std::vector<std::size_t>& shape,
              const std::vector<double>& values) {
  std::string header = "{'descr': '<f8', 'fortran_order': False, 'shape': (";
  for (std::size_t d : shape) header += std::to_string(d) + ", ";
  header += "), }";
  while ((10 + header.size() + 1) % 64 != 0) header += ' ';
  header += '\n';
  std::ofstream out(path, std::ios::binary);
  out.write("\x93NUMPY\x01\x00", 8);
  const std::uint16_t len = static_cast<std::uint16_t>(header.size());
  out.put(static_cast<char>(len & 0xff));
  out.put(static_cast<char>(len >> 8));
  out.write(header.data(), static_cast<std::streamsize>(header.size()));
  out.write(reinterpret_cast<const char*>(values.data()),
            static_cast<std::streamsize>(values.size() * sizeof(double)));
  if (!out) throw InputError(path, "cannot write");
}

}  // namespace exitplan
