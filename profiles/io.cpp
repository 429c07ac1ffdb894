#include "profiles/io.hpp"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <set>
#include <sstream>

#include "profiles/error.hpp"

namespace exitplan {
namespace fs = std::filesystem;

namespace {

constexpr const char* kTempPrefix = ".exitplan-tmp.";

std::string Reason(int err) { return std::strerror(err); }

[[noreturn]] void Fail(const std::string& path, const std::string& what, int err) {
  throw InputError(path, what + ": " + Reason(err));
}

std::string ParentOf(const std::string& path) {
  const fs::path p(path);
  return p.has_parent_path() ? p.parent_path().string() : std::string(".");
}
std::string BaseOf(const std::string& path) { return fs::path(path).filename().string(); }

// 12 random characters for a temporary's name (getrandom; the names need not be secret, only
// unpredictable enough that a planted file is met by O_EXCL rather than by a retry loop).
std::string RandomSuffix() {
  static const char kAlphabet[] = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
  unsigned char bytes[12];
  std::size_t got = 0;
  while (got < sizeof bytes) {
    const ssize_t n = ::getrandom(bytes + got, sizeof bytes - got, 0);
    if (n < 0) {
      if (errno == EINTR) continue;
      // No entropy source: fall back on time and address bits (O_EXCL still protects).
      const auto seed = static_cast<std::uint64_t>(::time(nullptr)) ^
                        reinterpret_cast<std::uintptr_t>(&got) ^
                        static_cast<std::uint64_t>(::getpid());
      for (std::size_t i = got; i < sizeof bytes; ++i)
        bytes[i] = static_cast<unsigned char>(seed >> (i % 8 * 8));
      break;
    }
    got += static_cast<std::size_t>(n);
  }
  std::string s;
  for (unsigned char b : bytes) s += kAlphabet[b % (sizeof kAlphabet - 1)];
  return s;
}

// ".exitplan-tmp.<first 40 bytes of base>.<12 random>": at most 14 + 40 + 13 = 67 bytes, far
// below NAME_MAX whatever the target's length.
std::string TempName(const std::string& base) {
  std::string stem = base.substr(0, 40);
  for (char& ch : stem) {
    if (ch == '/') ch = '_';
  }
  return std::string(kTempPrefix) + stem + "." + RandomSuffix();
}

// Refuses a target that is not a regular file or absent.
void CheckFileTarget(const std::string& path) {
  struct stat st;
  if (::lstat(path.c_str(), &st) != 0) {
    if (errno == ENOENT) return;
    if (errno == ENOTDIR) throw InputError(path, "cannot write: a parent is not a directory");
    Fail(path, "cannot write", errno);
  }
  if (S_ISDIR(st.st_mode)) {
    throw InputError(path, "is a directory (expected the name of a file to write)");
  }
  if (S_ISLNK(st.st_mode)) {
    struct stat to;
    const bool dangling = ::stat(path.c_str(), &to) != 0;
    throw InputError(path, std::string("is a ") + (dangling ? "dangling " : "") +
                               "symbolic link: exitplan neither writes through nor replaces links "
                               "(remove it or choose another name)");
  }
  if (!S_ISREG(st.st_mode)) {
    throw InputError(path, "is not a regular file (a device, FIFO or socket): not replaced");
  }
}

// Creates the missing directories of `dir`, recording each one created (outermost first).
void MakeDirs(const std::string& dir, const std::string& for_path,
              std::vector<std::string>& created) {
  std::vector<fs::path> missing;
  fs::path p = fs::path(dir);
  for (;;) {
    struct stat st;
    if (::stat(p.c_str(), &st) == 0) {
      if (!S_ISDIR(st.st_mode)) {
        throw InputError(for_path, "cannot write: '" + p.string() + "' is not a directory");
      }
      break;
    }
    // ENOTDIR: a component above is a file; the walk up finds and names it.
    if (errno != ENOENT && errno != ENOTDIR) {
      Fail(for_path, "cannot write (directory " + p.string() + ")", errno);
    }
    missing.push_back(p);
    if (!p.has_parent_path() || p.parent_path() == p) break;
    p = p.parent_path();
  }
  for (auto it = missing.rbegin(); it != missing.rend(); ++it) {
    if (::mkdir(it->c_str(), 0777) != 0 && errno != EEXIST) {
      Fail(for_path, "cannot create directory " + it->string(), errno);
    }
    created.push_back(it->string());
  }
}

// Writes all of `content` into a new file `path` (O_EXCL|O_NOFOLLOW) and flushes it to disk.
// Returns 0 or the errno of the failure (the file may then exist, half-written).
int WriteNewFile(const std::string& path, const std::string& content, bool& created) {
  created = false;
  const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0666);
  if (fd < 0) return errno;
  created = true;
  std::size_t off = 0;
  int err = 0;
  while (off < content.size()) {
    const ssize_t n = ::write(fd, content.data() + off, content.size() - off);
    if (n < 0) {
      if (errno == EINTR) continue;
      err = errno;
      break;
    }
    off += static_cast<std::size_t>(n);
  }
  if (!err && ::fsync(fd) != 0) err = errno;
  if (::close(fd) != 0 && !err && errno != EINTR) err = errno;
  return err;
}

// A new temporary file beside `target` holding `content`; its path, or throws (nothing left).
std::string WriteTemporary(const std::string& target, const std::string& content) {
  const std::string dir = ParentOf(target), base = BaseOf(target);
  for (int attempt = 0; attempt < 100; ++attempt) {
    const std::string tmp = (fs::path(dir) / TempName(base)).string();
    bool created = false;
    const int err = WriteNewFile(tmp, content, created);
    if (!err) return tmp;
    if (created) ::unlink(tmp.c_str());
    if (err == EEXIST) continue;  // a name taken (or planted): draw another
    Fail(target, "cannot write", err);
  }
  throw InputError(target, "cannot write: no free temporary name after 100 attempts");
}

void SyncDir(const std::string& dir) {
  const int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return;
  ::fsync(fd);  // best effort: some file systems refuse fsync on directories
  ::close(fd);
}

void RemoveQuietly(const std::string& path) {
  std::error_code ec;
  fs::remove_all(path, ec);
}

bool Under(const std::string& path, const std::string& dir) {
  return path.size() > dir.size() && path.compare(0, dir.size(), dir) == 0 &&
         path[dir.size()] == '/';
}

std::string Normal(const std::string& path) {
  std::string s = fs::path(path).lexically_normal().string();
  while (s.size() > 1 && s.back() == '/') s.pop_back();
  return s;
}

}  // namespace

void WriteFileAtomic(const std::string& path, const std::string& content, bool sync_directory) {
  OutputSet set;
  set.Add(path, content);
  set.Commit(nullptr, sync_directory);
}

void SyncDirectory(const std::string& dir) { SyncDir(dir); }

void CreateDirectories(const std::string& dir) {
  std::vector<std::string> created;
  MakeDirs(dir, dir, created);
}

void OutputSet::Add(const std::string& path, std::string content) {
  files_[Normal(path)] = std::move(content);
}

void OutputSet::ReplaceDirectory(const std::string& dir) { dirs_.push_back(Normal(dir)); }

void OutputSet::SetMarker(const std::string& path) { marker_ = Normal(path); }

void OutputSet::Commit(void (*before_rename)(int done), bool sync_directories) {
  // What goes where: top-level files (renamed one by one) and staged directories.
  std::vector<std::string> top;
  std::map<std::string, std::vector<std::string>> inside;  // dir -> files under it
  for (const auto& entry : files_) {
    const std::string& path = entry.first;  // (clang 14 cannot capture structured bindings)
    auto d = std::find_if(dirs_.begin(), dirs_.end(),
                          [&](const std::string& dir) { return Under(path, dir); });
    if (d == dirs_.end()) {
      top.push_back(path);
    } else {
      inside[*d].push_back(path);
    }
  }
  if (!marker_.empty() && !files_.count(marker_)) {
    throw InputError(marker_, "internal: the marker of an output set must be one of its files");
  }
  // 1. Every target is checked before anything is written.
  for (const std::string& p : top) CheckFileTarget(p);
  for (const std::string& d : dirs_) {
    struct stat st;
    if (::lstat(d.c_str(), &st) == 0 && !S_ISDIR(st.st_mode)) {
      throw InputError(d, S_ISLNK(st.st_mode)
                              ? "is a symbolic link: exitplan replaces real directories only"
                              : "exists and is not a directory");
    }
  }
  // 2. Everything is written to temporaries; any failure removes them all.
  std::vector<std::string> created_dirs;
  std::vector<std::pair<std::string, std::string>> staged;  // temporary -> target
  std::set<std::string> parents;
  try {
    for (const std::string& p : top) {
      MakeDirs(ParentOf(p), p, created_dirs);
      parents.insert(ParentOf(p));
    }
    for (const std::string& d : dirs_) {
      MakeDirs(ParentOf(d), d, created_dirs);
      parents.insert(ParentOf(d));
    }
    for (const std::string& d : dirs_) {
      struct stat st;
      if (inside[d].empty() && ::lstat(d.c_str(), &st) != 0) {
        staged.push_back({"", d});  // nothing to put there and nothing there: not created
        continue;
      }
      std::string tmp;
      for (int attempt = 0;; ++attempt) {
        tmp = (fs::path(ParentOf(d)) / TempName(BaseOf(d))).string();
        if (::mkdir(tmp.c_str(), 0777) == 0) break;
        if (errno != EEXIST || attempt == 100)
          Fail(d, "cannot create a temporary directory", errno);
      }
      staged.push_back({tmp, d});
      std::set<std::string> subdirs;
      for (const std::string& f : inside[d]) {
        const std::string rel = f.substr(d.size() + 1);
        const fs::path to = fs::path(tmp) / rel;
        for (fs::path sub = to.parent_path(); sub != fs::path(tmp); sub = sub.parent_path()) {
          subdirs.insert(sub.string());
        }
      }
      for (const std::string& sub : subdirs) {  // sorted: parents before children
        if (::mkdir(sub.c_str(), 0777) != 0 && errno != EEXIST) {
          Fail(d + sub.substr(tmp.size()), "cannot create directory", errno);
        }
      }
      for (const std::string& f : inside[d]) {
        bool created = false;
        const int err = WriteNewFile(tmp + f.substr(d.size()), files_.at(f), created);
        if (err) Fail(f, "cannot write", err);
      }
      for (const std::string& sub : subdirs) SyncDir(sub);
      SyncDir(tmp);
    }
    for (const std::string& p : top) {
      if (p == marker_) continue;
      staged.push_back({WriteTemporary(p, files_.at(p)), p});
    }
    if (!marker_.empty()) staged.push_back({WriteTemporary(marker_, files_.at(marker_)), marker_});
  } catch (...) {
    for (const auto& s : staged) {
      if (!s.first.empty()) RemoveQuietly(s.first);
    }
    for (auto it = created_dirs.rbegin(); it != created_dirs.rend(); ++it) ::rmdir(it->c_str());
    throw;
  }
  // 3. Publication: renames only (no space needed). The marker goes first and comes back last.
  int done = 0;
  auto publish_failed = [&](std::size_t from, const std::string& target, int err) {
    for (std::size_t i = from; i < staged.size(); ++i) {
      if (!staged[i].first.empty()) RemoveQuietly(staged[i].first);
    }
    Fail(target, "cannot write (rename)", err);
  };
  if (!marker_.empty()) {
    if (::unlink(marker_.c_str()) != 0 && errno != ENOENT) publish_failed(0, marker_, errno);
    SyncDir(ParentOf(marker_));
  }
  for (std::size_t i = 0; i < staged.size(); ++i) {
    const auto& [tmp, target] = staged[i];
    if (tmp.empty()) continue;
    if (before_rename) before_rename(done);
    const bool is_dir = i < dirs_.size();
    if (is_dir) {
      struct stat st;
      if (::lstat(target.c_str(), &st) == 0) {
        // Swap the new directory in with one rename; the old one is left at the temporary's name.
        if (::renameat2(AT_FDCWD, tmp.c_str(), AT_FDCWD, target.c_str(), RENAME_EXCHANGE) != 0) {
          if (errno != EINVAL && errno != ENOSYS) publish_failed(i, target, errno);
          // No RENAME_EXCHANGE here: move the old one aside, then the new one in.
          const std::string old = (fs::path(ParentOf(target)) / TempName(BaseOf(target))).string();
          if (::rename(target.c_str(), old.c_str()) != 0) publish_failed(i, target, errno);
          if (::rename(tmp.c_str(), target.c_str()) != 0) publish_failed(i, target, errno);
          RemoveQuietly(old);
        } else {
          RemoveQuietly(tmp);  // now the old directory
        }
        ++done;
        continue;
      }
    }
    if (::rename(tmp.c_str(), target.c_str()) != 0) publish_failed(i, target, errno);
    ++done;
  }
  if (sync_directories) {
    for (const std::string& p : parents) SyncDir(p);
  }
}

DirectoryLock::DirectoryLock(const std::string& dir) {
  fd_ = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd_ < 0) Fail(dir, "cannot open directory", errno);
}

DirectoryLock::~DirectoryLock() {
  if (fd_ >= 0) ::close(fd_);  // releases the lock
}

bool DirectoryLock::TryExclusive() {
  while (::flock(fd_, LOCK_EX | LOCK_NB) != 0) {
    if (errno != EINTR) return false;
  }
  return true;
}

void DirectoryLock::Shared() {
  while (::flock(fd_, LOCK_SH) != 0) {
    if (errno != EINTR) return;  // no locking on this file system: proceed unlocked
  }
}

bool IsTemporaryName(const std::string& name) {
  if (name.rfind(kTempPrefix, 0) == 0) return true;
  const auto at = name.rfind(".tmp.");
  if (at == std::string::npos || at + 5 == name.size()) return false;
  return name.find_first_not_of("0123456789", at + 5) == std::string::npos;
}

int RemoveStaleTemporaries(const std::string& dir) {
  int removed = 0;
  std::error_code ec;
  for (const auto& e : fs::directory_iterator(dir, ec)) {
    if (!IsTemporaryName(e.path().filename().string())) continue;
    std::error_code rm;
    fs::remove_all(e.path(), rm);  // a link is removed itself, never followed
    if (!rm) ++removed;
  }
  return removed;
}

namespace {

// Opens a regular file for reading, or throws naming what it is instead. O_NONBLOCK: opening a
// FIFO must not wait for a writer; fstat then refuses it.
int OpenRegular(const std::string& path) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_NONBLOCK | O_CLOEXEC);
  if (fd < 0) {
    const int err = errno;
    struct stat st;
    if (err == ENOENT && ::lstat(path.c_str(), &st) == 0 && S_ISLNK(st.st_mode)) {
      throw InputError(path, "cannot open for reading: a dangling symbolic link");
    }
    Fail(path, "cannot open for reading", err);
  }
  struct stat st;
  if (::fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
    const bool dir = S_ISDIR(st.st_mode);
    ::close(fd);
    throw InputError(path, dir ? "is a directory (expected a file)"
                               : "is not a regular file (a FIFO, device or socket)");
  }
  return fd;
}

// Calls `sink(data, n)` for each chunk of the file.
template <typename Sink>
void ReadChunks(const std::string& path, Sink sink) {
  const int fd = OpenRegular(path);
  char buf[1 << 16];
  for (;;) {
    const ssize_t n = ::read(fd, buf, sizeof buf);
    if (n < 0) {
      if (errno == EINTR || errno == EAGAIN) continue;
      const int err = errno;
      ::close(fd);
      Fail(path, "cannot read", err);
    }
    if (n == 0) break;
    sink(buf, static_cast<std::size_t>(n));
  }
  ::close(fd);
}

}  // namespace

std::string ReadFile(const std::string& path) {
  std::string out;
  ReadChunks(path, [&](const char* data, std::size_t n) { out.append(data, n); });
  return out;
}

// Sha256Hex and Sha256File: profiles/sha256.cpp (OpenSSL).

}  // namespace exitplan
