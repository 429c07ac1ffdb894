// Writing files so that nothing half-written is ever left behind, and
// SHA-256 of inputs for provenance.
//
// Every output of exitplan goes through this file. The rules:
// - A file is written to a temporary with a fresh unpredictable name beside its target, created
//   with O_CREAT|O_EXCL|O_NOFOLLOW (a link planted at any name is never written through), flushed
//   to disk (fsync), then renamed over the target, and the directory is flushed. Temporaries are
//   named ".exitplan-tmp.<up to 40 characters of the target>.<random>", so a target name of any
//   legal length (up to NAME_MAX) works.
// - A target that is a directory or a symbolic link (dangling or not) is refused: exitplan
//   replaces regular files only.
// - A set of outputs (OutputSet) lands all or none: every file is written in full to its
//   temporary first; only when all are on disk are they renamed into place. A failure before that
//   (bad target, disk full, I/O error) removes every temporary and changes nothing. A directory
//   added with ReplaceDirectory() is staged whole in a temporary directory beside it and swapped in
//   with one rename (renameat2 RENAME_EXCHANGE when it exists). A marker file (SetMarker) is
//   removed before the first rename and written by the last, so that whenever the marker exists
//   the whole set beside it is complete and from the same run.
// - Temporaries left by a killed run are removed by RemoveStaleTemporaries under an exclusive
//   DirectoryLock; a running exitplan holds a shared lock on its output directory, so a second
//   run sharing the directory never removes the temporaries of a live one.
#pragma once

#include <map>
#include <string>
#include <vector>

namespace exitplan {

// Writes `content` to a temporary file beside `path`, then renames it over `path` (rules above).
// Creates missing parent directories (removed again on failure). Throws InputError naming the path
// and the system's reason on failure.
void WriteFileAtomic(const std::string& path, const std::string& content);

// Creates `dir` and its missing parents; throws InputError naming `dir` and the reason (a file in
// the way, permission denied, read-only file system).
void CreateDirectories(const std::string& dir);

// A set of files written all or none (rules above).
class OutputSet {
 public:
  // Adds a file. Paths inside a ReplaceDirectory() directory are staged with it.
  void Add(const std::string& path, std::string content);
  // `dir` is replaced as a whole by the files added under it (old files not added again vanish).
  void ReplaceDirectory(const std::string& dir);
  // `path` (also Add()ed) is removed first and renamed into place last.
  void SetMarker(const std::string& path);
  // Writes everything; throws InputError (nothing changed) when any file cannot be written.
  // `before_rename`, when set, is called before each rename with the number of renames done
  // (tests use it to kill the process at every point of the publication).
  void Commit(void (*before_rename)(int done) = nullptr);
  bool empty() const { return files_.empty(); }

 private:
  std::map<std::string, std::string> files_;  // normalised path -> content
  std::vector<std::string> dirs_;             // normalised directories replaced whole
  std::string marker_;
};

// A flock(2) on a directory, released on destruction. Exclusive() tries to take it exclusively
// without waiting (true when no other holder); Shared() waits for a shared one.
class DirectoryLock {
 public:
  explicit DirectoryLock(const std::string& dir);  // throws InputError when dir cannot be opened
  ~DirectoryLock();
  DirectoryLock(const DirectoryLock&) = delete;
  DirectoryLock& operator=(const DirectoryLock&) = delete;
  bool TryExclusive();
  void Shared();

 private:
  int fd_ = -1;
};

// True for the names of exitplan's temporaries: ".exitplan-tmp.*", and "<name>.tmp.<digits>" of
// exitplan versions before this one.
bool IsTemporaryName(const std::string& name);
// Removes the temporaries (files and staged directories) directly inside `dir`; call with an
// exclusive DirectoryLock on `dir` (or on a directory above it) held. Returns how many.
int RemoveStaleTemporaries(const std::string& dir);

// Whole file as a string; throws InputError when it is missing (or a dangling link), a directory,
// not a regular file (a FIFO is never opened for blocking reads), or unreadable.
std::string ReadFile(const std::string& path);

// Lower-case hex SHA-256 of a byte string / a file's bytes (FIPS 180-4).
std::string Sha256Hex(const std::string& bytes);
std::string Sha256File(const std::string& path);

}  // namespace exitplan
