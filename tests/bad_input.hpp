// The bad-input harness: runs the real exitplan binary on a hostile input built in a fresh temp
// dir and checks the promise every refusal keeps: exit status 2, stderr exactly one line
// ("exitplan: error: ...") naming the file or option, no control bytes, no hang, and no file in the
// watched trees created, removed or changed (names, types, sizes, mtimes, content hashes and link
// targets are compared before and after).
//
//   TEST_CASE("bad input: npy: shape product wraps 64 bits", "[bad-input]") {
//     exitplan::testing::BadInputCase t;               // fresh temp dir, removed at the end
//     t.Write("d/val_logits.npy", bytes); ...
//     t.ExpectRefused({"inspect", "--dump", t / "d"}, "val_logits.npy", "overflow");
//   }
//
// Every hostile-input class is its own TEST_CASE tagged [bad-input], so
// `test_bad_input_read --list-tests "[bad-input]"` counts them.
#pragma once

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <chrono>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "test_util.hpp"

#ifndef EXITPLAN_BINARY
#error "EXITPLAN_BINARY (path of the exitplan executable) must be defined by tests/CMakeLists.txt"
#endif

namespace exitplan::testing {

// What the binary did.
struct RunResult {
  int status = -1;         // exit status, or -1 when killed by a signal
  int signal = 0;          // the signal that ended it, 0 when it exited
  bool timed_out = false;  // killed by the harness after the timeout
  std::string out, err;
};

// Runs the exitplan binary with `args` (argv[1..]) in working directory `cwd` (empty: unchanged),
// stdin from /dev/null, killing it after `timeout_seconds` (a hang is a defect, not a stuck test).
inline RunResult RunExitplan(const std::vector<std::string>& args, const std::string& cwd = "",
                             double timeout_seconds = 60.0) {
  RunResult r;
  int out_pipe[2], err_pipe[2];
  if (pipe(out_pipe) != 0 || pipe(err_pipe) != 0) throw std::runtime_error("pipe failed");
  const pid_t pid = fork();
  if (pid < 0) throw std::runtime_error("fork failed");
  if (pid == 0) {
    const int devnull = open("/dev/null", O_RDONLY);
    if (devnull >= 0) dup2(devnull, 0);
    dup2(out_pipe[1], 1);
    dup2(err_pipe[1], 2);
    close(out_pipe[0]);
    close(err_pipe[0]);
    close(out_pipe[1]);
    close(err_pipe[1]);
    if (!cwd.empty() && chdir(cwd.c_str()) != 0) _exit(126);
    std::vector<char*> argv;
    std::string bin = EXITPLAN_BINARY;
    argv.push_back(bin.data());
    std::vector<std::string> copy = args;
    for (std::string& a : copy) argv.push_back(a.data());
    argv.push_back(nullptr);
    execv(bin.c_str(), argv.data());
    _exit(127);
  }
  close(out_pipe[1]);
  close(err_pipe[1]);
  const auto deadline = std::chrono::steady_clock::now() +
                        std::chrono::milliseconds(static_cast<long>(timeout_seconds * 1000));
  pollfd fds[2] = {{out_pipe[0], POLLIN, 0}, {err_pipe[0], POLLIN, 0}};
  std::string* sinks[2] = {&r.out, &r.err};
  int open_fds = 2;
  while (open_fds > 0) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
                          deadline - std::chrono::steady_clock::now())
                          .count();
    if (left <= 0) {
      r.timed_out = true;
      kill(pid, SIGKILL);
      break;
    }
    const int n = poll(fds, 2, static_cast<int>(std::min<long long>(left, 1000)));
    if (n < 0 && errno != EINTR) break;
    for (int i = 0; i < 2; ++i) {
      if (fds[i].fd < 0 || (fds[i].revents & (POLLIN | POLLHUP | POLLERR)) == 0) continue;
      char buf[65536];
      const ssize_t got = read(fds[i].fd, buf, sizeof buf);
      if (got > 0) {
        if (sinks[i]->size() < (16u << 20)) sinks[i]->append(buf, static_cast<std::size_t>(got));
      } else if (got == 0 || errno != EINTR) {
        close(fds[i].fd);
        fds[i].fd = -1;
        --open_fds;
      }
    }
  }
  for (auto& f : fds) {
    if (f.fd >= 0) close(f.fd);
  }
  int wstatus = 0;
  while (waitpid(pid, &wstatus, 0) < 0 && errno == EINTR) {
  }
  if (WIFEXITED(wstatus)) r.status = WEXITSTATUS(wstatus);
  if (WIFSIGNALED(wstatus)) r.signal = WTERMSIG(wstatus);
  return r;
}

// One entry of a tree snapshot.
struct FileState {
  char type = '?';  // f regular, d directory, l symlink, p fifo, s socket, c/b devices
  std::uintmax_t size = 0;
  std::int64_t mtime_ns = 0;
  mode_t mode = 0;
  std::uint64_t hash = 0;  // FNV-1a of the content (regular files)
  std::string link;        // target (symlinks)
  bool operator==(const FileState&) const = default;
};
using Snapshot = std::map<std::string, FileState>;

// Content hash; files over 64 MB (the sparse "huge dump" inputs) hash their first and last 4 MB.
inline std::uint64_t HashFile(const std::string& path, std::uintmax_t size) {
  std::uint64_t h = 1469598103934665603ull;
  const int fd = open(path.c_str(), O_RDONLY | O_NONBLOCK | O_NOFOLLOW);
  if (fd < 0) return 0;
  const auto hash_range = [&](off_t from, std::uintmax_t length) {
    char buf[65536];
    while (length > 0) {
      const ssize_t got = pread(fd, buf, std::min<std::uintmax_t>(sizeof buf, length), from);
      if (got <= 0) break;
      for (ssize_t i = 0; i < got; ++i) {
        h ^= static_cast<unsigned char>(buf[i]);
        h *= 1099511628211ull;
      }
      from += got;
      length -= static_cast<std::uintmax_t>(got);
    }
  };
  constexpr std::uintmax_t kPart = 4u << 20;
  if (size <= 16 * kPart) {
    hash_range(0, size);
  } else {
    hash_range(0, kPart);
    hash_range(static_cast<off_t>(size - kPart), kPart);
  }
  close(fd);
  return h;
}

inline FileState StateOf(const std::string& path) {
  FileState s;
  struct stat st {};
  if (lstat(path.c_str(), &st) != 0) {
    s.type = '-';  // absent
    return s;
  }
  s.mode = st.st_mode & 07777;
  s.mtime_ns = static_cast<std::int64_t>(st.st_mtim.tv_sec) * 1000000000 + st.st_mtim.tv_nsec;
  if (S_ISREG(st.st_mode)) {
    s.type = 'f';
    s.size = static_cast<std::uintmax_t>(st.st_size);
    s.hash = HashFile(path, s.size);
  } else if (S_ISDIR(st.st_mode)) {
    s.type = 'd';
    s.mtime_ns = 0;  // a directory's mtime moves when entries come and go: compared via entries
  } else if (S_ISLNK(st.st_mode)) {
    s.type = 'l';
    char buf[4096];
    const ssize_t n = readlink(path.c_str(), buf, sizeof buf);
    if (n > 0) s.link.assign(buf, static_cast<std::size_t>(n));
  } else if (S_ISFIFO(st.st_mode)) {
    s.type = 'p';
  } else if (S_ISSOCK(st.st_mode)) {
    s.type = 's';
  } else {
    s.type = S_ISCHR(st.st_mode) ? 'c' : 'b';
  }
  return s;
}

// Every entry under each root (symlinks not followed), plus each root itself; a root that does
// not exist is recorded as absent, so its creation shows up as a change.
inline Snapshot TakeSnapshot(const std::vector<std::string>& roots) {
  Snapshot snap;
  for (const std::string& root : roots) {
    snap[root] = StateOf(root);
    if (snap[root].type != 'd') continue;
    std::error_code ec;
    for (auto it = std::filesystem::recursive_directory_iterator(
             root, std::filesystem::directory_options::skip_permission_denied, ec);
         !ec && it != std::filesystem::recursive_directory_iterator(); it.increment(ec)) {
      snap[it->path().string()] = StateOf(it->path().string());
    }
  }
  return snap;
}

// "created a", "removed b", "changed c (size 3 -> 7)", one per line; empty when equal.
inline std::string DiffSnapshots(const Snapshot& before, const Snapshot& after) {
  std::ostringstream out;
  for (const auto& [path, s] : after) {
    auto it = before.find(path);
    if (it == before.end() || (it->second.type == '-' && s.type != '-')) {
      out << "created " << path << " (type " << s.type << ")\n";
    } else if (!(it->second == s)) {
      const FileState& b = it->second;
      if (s.type == '-') {
        out << "removed " << path << "\n";
        continue;
      }
      out << "changed " << path << ":";
      if (b.type != s.type) out << " type " << b.type << " -> " << s.type;
      if (b.size != s.size) out << " size " << b.size << " -> " << s.size;
      if (b.mtime_ns != s.mtime_ns) out << " mtime";
      if (b.hash != s.hash) out << " content";
      if (b.mode != s.mode) out << " mode";
      if (b.link != s.link) out << " link " << b.link << " -> " << s.link;
      out << "\n";
    }
  }
  for (const auto& [path, s] : before) {
    if (!after.count(path) && s.type != '-') out << "removed " << path << "\n";
  }
  return out.str();
}

// Checks the one-line rule on a stderr text; returns "" or what is wrong.
inline std::string OneLineProblem(const std::string& err) {
  if (err.empty()) return "stderr is empty";
  if (err.back() != '\n') return "stderr does not end with a newline";
  const std::string body = err.substr(0, err.size() - 1);
  if (body.find('\n') != std::string::npos) return "stderr has more than one line";
  for (unsigned char ch : body) {
    if (ch < 0x20 || ch == 0x7f) return "stderr holds a control byte";
  }
  if (body.rfind("exitplan: error: ", 0) != 0)
    return "stderr does not start with 'exitplan: error: '";
  if (body.find("internal error") != std::string::npos) return "stderr reports an internal error";
  return "";
}

// A hostile-input case: a fresh temp dir whose whole tree is watched, plus any extra paths.
class BadInputCase {
 public:
  BadInputCase() = default;
  const std::string& path() const { return dir_.path(); }
  std::string operator/(const std::string& name) const { return dir_ / name; }

  // Writes `bytes` at `relative` (creating parent directories); returns the full path.
  std::string Write(const std::string& relative, const std::string& bytes) const {
    const std::string p = dir_ / relative;
    std::filesystem::create_directories(std::filesystem::path(p).parent_path());
    std::ofstream f(p, std::ios::binary | std::ios::trunc);
    f.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
    if (!f) throw std::runtime_error("cannot write test input " + p);
    return p;
  }
  std::string Mkdir(const std::string& relative) const {
    const std::string p = dir_ / relative;
    std::filesystem::create_directories(p);
    return p;
  }
  // Copies a file or a directory tree of the project (e.g. "data/example") to `relative`.
  std::string CopyProject(const std::string& project_relative, const std::string& relative) const {
    const std::string p = dir_ / relative;
    std::filesystem::create_directories(std::filesystem::path(p).parent_path());
    std::filesystem::copy(ProjectPath(project_relative), p,
                          std::filesystem::copy_options::recursive);
    return p;
  }
  // Also watch a path outside the temp dir (it must not change or appear either).
  void Watch(const std::string& path) { extra_.push_back(path); }

  // Runs exitplan and requires a refusal: exit 2, one line naming `names` (a file or option;
  // substring) and, when given, saying `says` (substring), nothing created or changed in the
  // watched trees, within `timeout_seconds`. Returns the stderr line.
  std::string ExpectRefused(const std::vector<std::string>& args, const std::string& names,
                            const std::string& says = "", double timeout_seconds = 60.0) const {
    std::vector<std::string> roots = extra_;
    roots.push_back(dir_.path());
    const Snapshot before = TakeSnapshot(roots);
    const RunResult r = RunExitplan(args, dir_.path(), timeout_seconds);
    const Snapshot after = TakeSnapshot(roots);
    std::string cmd = "exitplan";
    for (const auto& a : args) cmd += " " + a;
    INFO("command: " << cmd);
    INFO("stdout: " << r.out.substr(0, 2000));
    INFO("stderr: " << r.err.substr(0, 2000));
    REQUIRE_FALSE(r.timed_out);
    REQUIRE(r.signal == 0);
    CHECK(r.status == 2);
    const std::string problem = OneLineProblem(r.err);
    CHECK(problem == "");
    CHECK(r.err.find(names) != std::string::npos);
    if (!says.empty()) CHECK(r.err.find(says) != std::string::npos);
    CHECK(DiffSnapshots(before, after) == "");
    return r.err;
  }

  // Runs exitplan and requires success (exit 0) within the timeout; returns the result.
  RunResult ExpectSuccess(const std::vector<std::string>& args,
                          double timeout_seconds = 120.0) const {
    const RunResult r = RunExitplan(args, dir_.path(), timeout_seconds);
    std::string cmd = "exitplan";
    for (const auto& a : args) cmd += " " + a;
    INFO("command: " << cmd);
    INFO("stderr: " << r.err.substr(0, 2000));
    REQUIRE_FALSE(r.timed_out);
    REQUIRE(r.status == 0);
    return r;
  }

 private:
  TempDir dir_;
  std::vector<std::string> extra_;
};

// float32 little-endian bytes of `values`.
inline std::string F32Bytes(const std::vector<float>& values) {
  return std::string(reinterpret_cast<const char*>(values.data()), values.size() * sizeof(float));
}
inline std::string I64Bytes(const std::vector<std::int64_t>& values) {
  return std::string(reinterpret_cast<const char*>(values.data()),
                     values.size() * sizeof(std::int64_t));
}

// A small valid logits dump in `dir`: val and test splits, N=40, K=3, C=4.
inline void WriteSmallDump(const std::string& dir) {
  std::filesystem::create_directories(dir);
  WriteRandomLogitsDump(dir, "val", 40, 3, 4, 7);
  WriteRandomLogitsDump(dir, "test", 40, 3, 4, 8);
}
// A valid 3-exit profile text.
inline std::string SmallProfile() {
  return "unit: ms\ntarget: cpu\nexits:\n  - {name: e1, backbone: 1.0, head: 0.1}\n"
         "  - {name: e2, backbone: 2.0, head: 0.1}\n  - {name: e3, backbone: 3.0, head: 0.1}\n";
}

}  // namespace exitplan::testing
