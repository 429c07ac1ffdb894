// Reading NumPy .npy and .npz files, as users write them from PyTorch with np.save / np.savez.
//
// .npy files are memory-mapped: a 1 GB dump is not copied, and elements are converted to double
// on access. Supported: format versions 1.0, 2.0 and 3.0; dtypes float16/32/64, signed and unsigned
// integers of 1-8 bytes and bool; little- and big-endian; C and Fortran order. .npz archives are
// memory-mapped too: stored members are used in place, deflated ones are inflated (zlib) straight
// into one buffer of the size their .npy header needs, checked before inflating. CRC-32s are
// checked; shapes and sizes that overflow 64 bits, truncated or trailing data, non-regular files
// (FIFOs, devices: never opened blocking) and dangling links are refused with InputError.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace exitplan {

enum class NpyKind { kFloat, kSigned, kUnsigned, kBool };

class NpyArray {
 public:
  NpyArray() = default;

  const std::vector<std::size_t>& shape() const { return shape_; }
  std::size_t ndim() const { return shape_.size(); }
  std::size_t size() const { return size_; }
  NpyKind kind() const { return kind_; }
  std::size_t item_size() const { return item_size_; }
  bool fortran_order() const { return fortran_; }
  const std::string& descr() const { return descr_; }    // e.g. "<f4"
  const std::string& source() const { return source_; }  // file name, for messages
  bool is_float() const { return kind_ == NpyKind::kFloat; }
  // The stored bytes (storage order) and whether elements are in the host's byte order: for
  // vectorised readers (profiles/features.cpp) of C-order native arrays.
  const unsigned char* raw_data() const { return data_; }
  bool native_byte_order() const { return !swap_; }
  // The elements in storage order, and what keeps them alive (the mapping, a buffer, or a
  // caller's array).
  const void* data() const { return data_; }
  const std::shared_ptr<const void>& owner() const { return owner_; }

  // A view of `shape` elements held by `owner` at `data` (e.g. a NumPy array handed over from
  // Python): nothing is copied. `descr` is the NumPy type string ("<f4"); C order unless
  // `fortran_order`. Throws InputError naming `source` for a dtype ReadNpy would refuse.
  static NpyArray View(std::shared_ptr<const void> owner, const void* data,
                       const std::string& descr, std::vector<std::size_t> shape, bool fortran_order,
                       const std::string& source);

  // Element at C-order (row-major) linear index i, converted to double. Handles Fortran order and
  // byte order.
  double At(std::size_t i) const;
  // Copies `count` consecutive C-order elements starting at `first` into out, as double.
  // Fast for C-order native-endian data.
  void CopyTo(std::size_t first, std::size_t count, double* out) const;
  // "float32 [10000, 9, 10]"
  std::string Describe() const;

 private:
  friend NpyArray ParseNpy(std::shared_ptr<const void> owner, const char* bytes, std::size_t length,
                           const std::string& source);
  // Sets kind, item size and byte order from a NumPy type string such as "<f4".
  void SetDtype(const std::string& descr);
  double Load(std::size_t storage_index) const;
  std::size_t StorageIndex(std::size_t c_index) const;

  std::shared_ptr<const void> owner_;  // keeps the mapping or buffer alive
  const unsigned char* data_ = nullptr;
  std::vector<std::size_t> shape_;
  std::size_t size_ = 0;
  NpyKind kind_ = NpyKind::kFloat;
  std::size_t item_size_ = 0;
  bool swap_ = false;
  bool fortran_ = false;
  std::string descr_;
  std::string source_;
};

// Memory-maps and parses a .npy file. Throws InputError naming the file on any problem (missing,
// not .npy, truncated, unsupported dtype, pickled objects).
NpyArray ReadNpy(const std::string& path);

// Reads member `name` (without or with ".npy") of an .npz archive. Throws InputError.
NpyArray ReadNpzMember(const std::string& path, const std::string& name);

// Parses .npy bytes held by `owner` (exposed for tests and .npz members).
NpyArray ParseNpy(std::shared_ptr<const void> owner, const char* bytes, std::size_t length,
                  const std::string& source);

// Reads member `name` of .npz bytes held by `owner` (exposed for tests and fuzzing); `source`
// names the archive in messages.
NpyArray ParseNpzMember(std::shared_ptr<const void> owner, const char* bytes, std::size_t length,
                        const std::string& source, const std::string& name);

// Writes a C-order little-endian float64 / int64 array as .npy (used by tests and reports).
void WriteNpy(const std::string& path, const std::vector<std::size_t>& shape,
              const std::vector<double>& values);

// The bytes WriteNpy writes: a C-order little-endian float64 .npy.
std::string NpyBytes(const std::vector<std::size_t>& shape, const std::vector<double>& values);

// One member of an .npz built by NpzBytes: a C-order float64 array named `name` (".npy" added).
struct NpzMember {
  std::string name;
  std::vector<std::size_t> shape;
  std::vector<double> values;
};
// An .npz archive as np.savez writes it (stored members, in order), built in memory with libzip,
// to be written with the safe writer (profiles/io.hpp). The same members give the same bytes
// (fixed member times). Throws std::runtime_error when libzip fails.
std::string NpzBytes(const std::vector<NpzMember>& members);

}  // namespace exitplan
