// Loading dumps at scale: the feature pass over an ImageNet-scale logits split (N x 5 x 1000,
// float32 and float16) and an LLM-scale scores dump (K = 32 exits x N tokens), against this
// machine's single-thread streaming-read bandwidth measured in the same run (a sequential read of
// the mapped float32 dump, warm in the page cache). Each load runs in a forked child so its time,
// CPU time and peak RSS (the mapped file pages count) are its own. Also: the former per-row
// arithmetic on a subset (std::exp and std::log per class, one thread), the feature cache (first
// load: hash + pass
// + write; second: read), SHA-256 of the dump, and inspect's quantiles against loading.
// Targets: a 1 GB float32 split >= 3 GB/s on 2 cores (>= 10x the former pass); float16 no slower
// per sample than float32.
//
// The dumps are synthetic but shaped like real ones (seeded): each sample has a difficulty; the
// label's logit margin grows with depth and shrinks with difficulty, so confidence and accuracy
// improve exit by exit. They are written under --dir (default /tmp) and deleted afterwards.
//
//   bench_scale_load             small: N = 5,000 logits (100 MB), scores K = 32 x N = 400,000
//   bench_scale_load --full      N = 50,000 (1 GB float32 split), scores K = 32 x N = 4,000,000
//   options: --n N  --scores-n N  --reps R  --dir DIR
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <Eigen/Core>
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <functional>
#include <string>
#include <thread>
#include <vector>

#include "profiles/dump.hpp"
#include "profiles/feature_cache.hpp"
#include "profiles/features.hpp"
#include "profiles/npy.hpp"
#include "profiles/sha256.hpp"
#include "profiles/softmax_kernel.hpp"
#include "profiles/stats.hpp"

using namespace exitplan;
namespace fs = std::filesystem;

namespace {

double Now() {
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

struct Rng {  // splitmix64
  std::uint64_t s;
  std::uint64_t Next() {
    std::uint64_t z = (s += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
  }
  double Uniform() { return (Next() >> 11) * 0x1.0p-53; }
  double Normal() {  // sum of 4 16-bit uniforms of one draw, unit variance: cheap, smooth enough
    const std::uint64_t r = Next();
    const double sum =
        static_cast<double>((r & 0xffff) + ((r >> 16) & 0xffff) + ((r >> 32) & 0xffff) + (r >> 48));
    return (sum * (1.0 / 65536.0) - 2.0) * 1.7320508075688772;
  }
};

void WriteHeader(std::FILE* f, const std::string& descr, const std::vector<std::size_t>& shape) {
  std::string h = "{'descr': '" + descr + "', 'fortran_order': False, 'shape': (";
  for (std::size_t d : shape) h += std::to_string(d) + ", ";
  h += "), }";
  while ((10 + h.size() + 1) % 64 != 0) h += ' ';
  h += '\n';
  const std::uint16_t len = static_cast<std::uint16_t>(h.size());
  std::fwrite("\x93NUMPY\x01\x00", 1, 8, f);
  std::fwrite(&len, 2, 1, f);
  std::fwrite(h.data(), 1, h.size(), f);
}

// val_logits.npy [n, k, c] (float32 or float16) + val_labels.npy.
void WriteLogitsDump(const std::string& dir, int n, int k, int c, bool half, std::uint64_t seed) {
  fs::create_directories(dir);
  Rng rng{seed};
  std::FILE* f = std::fopen((dir + "/val_logits.npy").c_str(), "wb");
  std::FILE* l = std::fopen((dir + "/val_labels.npy").c_str(), "wb");
  WriteHeader(f, half ? "<f2" : "<f4", {std::size_t(n), std::size_t(k), std::size_t(c)});
  WriteHeader(l, "<i8", {std::size_t(n)});
  std::vector<float> row(c);
  std::vector<std::uint16_t> hrow(c);
  for (int i = 0; i < n; ++i) {
    const std::int64_t label = static_cast<std::int64_t>(rng.Next() % c);
    std::fwrite(&label, 8, 1, l);
    const double difficulty = rng.Uniform();
    const std::int64_t decoy = static_cast<std::int64_t>(rng.Next() % c);
    for (int j = 0; j < k; ++j) {
      const double depth = (j + 1.0) / k;
      for (int q = 0; q < c; ++q) row[q] = static_cast<float>(2.0 * rng.Normal());
      row[label] += static_cast<float>(12.0 * depth * (1.2 - difficulty) + rng.Normal());
      row[decoy] += static_cast<float>(6.0 * difficulty);
      if (half) {
        for (int q = 0; q < c; ++q) {
          hrow[q] = Eigen::numext::bit_cast<std::uint16_t>(Eigen::half(row[q]));
        }
        std::fwrite(hrow.data(), 2, c, f);
      } else {
        std::fwrite(row.data(), 4, c, f);
      }
    }
  }
  std::fclose(f);
  std::fclose(l);
}

// val_confidence.npy [k, n] float32 + val_correct.npy [k, n] bool.
void WriteScoresDump(const std::string& dir, int n, int k, std::uint64_t seed) {
  fs::create_directories(dir);
  Rng rng{seed};
  std::vector<float> difficulty(n);
  for (float& d : difficulty) d = static_cast<float>(rng.Uniform());
  std::FILE* f = std::fopen((dir + "/val_confidence.npy").c_str(), "wb");
  std::FILE* g = std::fopen((dir + "/val_correct.npy").c_str(), "wb");
  WriteHeader(f, "<f4", {std::size_t(k), std::size_t(n)});
  WriteHeader(g, "|b1", {std::size_t(k), std::size_t(n)});
  std::vector<float> conf(n);
  std::vector<std::uint8_t> right(n);
  for (int j = 0; j < k; ++j) {
    const double depth = (j + 1.0) / k;
    for (int i = 0; i < n; ++i) {
      const double p = 1.0 / (1.0 + std::exp(-(6.0 * depth - 4.0 * difficulty[i] + 0.5)));
      right[i] = rng.Uniform() < p;
      conf[i] = static_cast<float>(std::clamp(p + 0.15 * rng.Normal(), 0.0, 1.0));
    }
    std::fwrite(conf.data(), 4, n, f);
    std::fwrite(right.data(), 1, n, g);
  }
  std::fclose(f);
  std::fclose(g);
}

double ThreadCpu() {
  struct timespec t {};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t);
  return t.tv_sec + t.tv_nsec * 1e-9;
}

struct Bandwidth {
  double wall = 0, cpu = 0;  // bytes per second of wall time / of CPU time
};

// Single-thread sequential read of a mapped file (warm): bytes per second, best of 3.
Bandwidth StreamRead(const std::string& path) {
  const std::size_t bytes = fs::file_size(path);
  std::FILE* f = std::fopen(path.c_str(), "rb");
  void* p = mmap(nullptr, bytes, PROT_READ, MAP_PRIVATE, fileno(f), 0);
  std::fclose(f);
  const auto* w = static_cast<const std::uint64_t*>(p);
  const std::size_t words = bytes / 8;
  Bandwidth best;
  volatile std::uint64_t sink = 0;
  for (int rep = 0; rep < 4; ++rep) {
    const double t0 = Now(), c0 = ThreadCpu();
    std::uint64_t a[8] = {};
    for (std::size_t i = 0; i + 8 <= words; i += 8) {
      for (int u = 0; u < 8; ++u) a[u] += w[i + u];
    }
    const double t = Now() - t0, c = ThreadCpu() - c0;
    for (std::uint64_t v : a) sink = sink + v;
    if (rep > 0) {  // rep 0 warms up
      best.wall = std::max(best.wall, static_cast<double>(bytes) / t);
      best.cpu = std::max(best.cpu, static_cast<double>(bytes) / c);
    }
  }
  munmap(p, bytes);
  return best;
}

struct Run {
  double wall = 0, cpu = 0, rss_mb = 0;
  double sys = 0;  // the kernel's part of cpu (median)
};

// Runs f in a forked child `reps` times (one child each); medians of wall and CPU, peak RSS max.
Run InChild(const std::function<void()>& f, int reps) {
  std::vector<double> walls, cpus, syss;
  double rss = 0;
  for (int r = 0; r < reps; ++r) {
    int fd[2];
    if (pipe(fd) != 0) std::abort();
    const pid_t pid = fork();
    if (pid == 0) {
      close(fd[0]);
      const double t0 = Now();
      f();
      const double t = Now() - t0;
      if (write(fd[1], &t, sizeof t) != sizeof t) _exit(3);
      _exit(0);
    }
    close(fd[1]);
    double t = NAN;
    if (read(fd[0], &t, sizeof t) != sizeof t) t = NAN;
    close(fd[0]);
    int status = 0;
    struct rusage ru {};
    wait4(pid, &status, 0, &ru);
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
      std::fprintf(stderr, "bench_scale_load: a measured child failed\n");
      std::exit(1);
    }
    walls.push_back(t);
    cpus.push_back(ru.ru_utime.tv_sec + ru.ru_utime.tv_usec * 1e-6 + ru.ru_stime.tv_sec +
                   ru.ru_stime.tv_usec * 1e-6);
    syss.push_back(ru.ru_stime.tv_sec + ru.ru_stime.tv_usec * 1e-6);
    rss = std::max(rss, ru.ru_maxrss / 1024.0);
  }
  std::sort(walls.begin(), walls.end());
  std::sort(cpus.begin(), cpus.end());
  std::sort(syss.begin(), syss.end());
  return {walls[walls.size() / 2], cpus[cpus.size() / 2], rss, syss[syss.size() / 2]};
}

// Wall: GB/s and the ratio to the one-thread streaming read; CPU: bytes per CPU-second (all
// threads) and its ratio to the streaming read's bytes per CPU-second. On a loaded machine the
// CPU figures are the steadier ones.
void Print(const char* what, double bytes, const Run& r, const Bandwidth& limit) {
  const double gbs = bytes / r.wall, cps = bytes / r.cpu;
  std::printf("  %-42s %7.3f s %6.2f GB/s %5.2fx | cpu %7.3f s %6.2f GB/s %5.2fx | RSS %5.0f MB\n",
              what, r.wall, gbs / 1e9, gbs / limit.wall, r.cpu, cps / 1e9, cps / limit.cpu,
              r.rss_mb);
}

// The former feature arithmetic (std::exp, one running sum, std::log per class), one thread, on
// the first `n` samples: what loading cost before the fused pass.
void FormerPass(const SplitData& s, int n) {
  std::vector<double> z(s.c);
  double sink = 0;
  for (int i = 0; i < n; ++i) {
    for (int j = 0; j < s.k; ++j) {
      s.Logits(i, j, z.data());
      int arg = 0;
      for (int q = 0; q < s.c; ++q) {
        if (!std::isfinite(z[q])) std::abort();
        if (z[q] > z[arg]) arg = q;
      }
      double sum = 0, second = -INFINITY;
      for (int q = 0; q < s.c; ++q) {
        z[q] = std::exp(z[q] - z[arg]);
        sum += z[q];
        if (q != arg && z[q] > second) second = z[q];
      }
      const double ls = std::log(sum);
      double h = 0;
      for (int q = 0; q < s.c; ++q) {
        if (z[q] > 0) h -= z[q] / sum * (std::log(z[q]) - ls);
      }
      sink += 1 / sum + h + second + arg;
    }
  }
  if (sink == 42) std::puts("");
}

}  // namespace

int main(int argc, char** argv) {
  int n = 5000, scores_n = 400000, reps = 3;
  const int k = 5, c = 1000, scores_k = 32;
  std::string base = "/tmp";
  for (int a = 1; a < argc; ++a) {
    const std::string arg = argv[a];
    auto value = [&]() -> std::string {
      if (a + 1 >= argc) {
        std::fprintf(stderr, "bench_scale_load: %s needs a value\n", arg.c_str());
        std::exit(2);
      }
      return argv[++a];
    };
    if (arg == "--full") {
      n = 50000;
      scores_n = 4000000;
    } else if (arg == "--n") {
      n = std::atoi(value().c_str());
    } else if (arg == "--scores-n") {
      scores_n = std::atoi(value().c_str());
    } else if (arg == "--reps") {
      reps = std::max(1, std::atoi(value().c_str()));
    } else if (arg == "--dir") {
      base = value();
    } else {
      std::fprintf(stderr, "bench_scale_load: unknown option %s (see the file's header)\n",
                   arg.c_str());
      return 2;
    }
  }
  const std::string root = base + "/exitplan_bench_scale_load." + std::to_string(getpid());
  struct Cleanup {
    std::string dir;
    ~Cleanup() {
      std::error_code ec;
      fs::remove_all(dir, ec);
    }
  } cleanup{root};
  const std::string f32 = root + "/f32", f16 = root + "/f16", sc = root + "/scores",
                    cache = root + "/cache";
  std::printf(
      "bench_scale_load: logits N=%d K=%d C=%d, scores K=%d N=%d; kernel %s, %d threads, "
      "median of %d runs (each in a child process)\n",
      n, k, c, scores_k, scores_n, softmax::KernelName(), FeatureThreads(), reps);
  double t0 = Now();
  WriteLogitsDump(f32, n, k, c, false, 1);
  WriteLogitsDump(f16, n, k, c, true, 1);
  WriteScoresDump(sc, scores_n, scores_k, 2);
  std::printf("  (dumps written in %.1f s)\n", Now() - t0);
  const double f32_bytes = static_cast<double>(fs::file_size(f32 + "/val_logits.npy"));
  const double f16_bytes = static_cast<double>(fs::file_size(f16 + "/val_logits.npy"));
  const double sc_bytes = static_cast<double>(fs::file_size(sc + "/val_confidence.npy") +
                                              fs::file_size(sc + "/val_correct.npy"));
  const Bandwidth limit = StreamRead(f32 + "/val_logits.npy");
  std::printf(
      "  streaming read, one thread, mapped file: %.2f GB/s wall, %.2f GB/s per CPU-second "
      "(the limits the ratios below refer to)\n",
      limit.wall / 1e9, limit.cpu / 1e9);
  std::printf("  %-42s %7s %6s %6s | %11s %6s %6s | %s\n", "", "wall", "", "ratio", "cpu (all)", "",
              "ratio", "peak");

  setenv("EXITPLAN_CACHE_DIR", "", 1);
  DumpOptions plain;
  const Run r32 = InChild([&] { LoadDump(f32, plain); }, reps);
  Print("logits float32, features (no cache)", f32_bytes, r32, limit);
  const Run r16 = InChild([&] { LoadDump(f16, plain); }, reps);
  Print("logits float16, features (no cache)", f16_bytes, r16, limit);
  setenv("EXITPLAN_THREADS", "1", 1);
  const Run r1 = InChild([&] { LoadDump(f32, plain); }, reps);
  unsetenv("EXITPLAN_THREADS");
  Print("logits float32, one thread", f32_bytes, r1, limit);
  const int sub = std::min(n, 2000);
  const Dump probe = LoadDump(f32, plain);
  const Run rf = InChild([&] { FormerPass(probe.fit, sub); }, 1);
  const Run former{rf.wall * n / sub, rf.cpu * n / sub, rf.rss_mb};
  Print("former arithmetic, one thread (scaled)", f32_bytes, former, limit);
  std::printf(
      "  float32 pass: %.1fx the former arithmetic (wall), %.1fx (CPU); float16 per sample: "
      "%.2fx the float32 time (wall), %.2fx (CPU) (<= 1 is the target)\n",
      former.wall / r32.wall, former.cpu / r32.cpu, r16.wall / r32.wall, r16.cpu / r32.cpu);

  // The feature cache: hash + pass + write, then a read. The content hash is only remembered for
  // files unchanged for 2 s, so wait until the dump is that old.
  std::this_thread::sleep_for(std::chrono::milliseconds(2100));
  DumpOptions cached = plain;
  cached.cache_dir = cache;
  const Run cfirst = InChild([&] { LoadDump(f32, cached); }, 1);
  Print("cache: first load (hash + pass + write)", f32_bytes, cfirst, limit);
  const Run chit = InChild(
      [&] {
        if (!LoadDump(f32, cached).fit.features_from_cache) std::abort();
      },
      reps);
  Print("cache: next loads (entry read)", f32_bytes, chit, limit);
  fs::remove_all(cache + "/digests");
  const Run crehash = InChild([&] { LoadDump(f32, cached); }, 1);
  Print("cache: entry read after re-hashing the files", f32_bytes, crehash, limit);
  const Run sha = InChild([&] { Sha256File(f32 + "/val_logits.npy"); }, reps);
  Print("SHA-256 of the float32 logits (OpenSSL)", f32_bytes, sha, limit);

  const Run rs = InChild([&] { LoadDump(sc, plain); }, reps);
  Print("scores K x N, load", sc_bytes, rs, limit);
  std::printf(
      "  %-42s %7.3f s in the kernel (mostly zeroing the fresh pages of the %.0f MB matrices), "
      "%.3f s in exitplan\n",
      "scores: of the load's CPU time", rs.sys,
      static_cast<double>(scores_k) * scores_n * (sizeof(double) + 1) / 1e6, rs.cpu - rs.sys);
  const Dump scores = LoadDump(sc, plain);
  const Run rq = InChild(
      [&] {
        RowQuantiles(scores.fit.Scores(Measure::kConfidence), {0.1, 0.5, 0.9});
      },
      reps);
  std::printf(
      "  %-42s %7.3f s (%.2fx the load) | cpu %7.3f s (%.2fx the load; <= 1 is the "
      "target)\n",
      "scores: inspect's quantiles q10/q50/q90", rq.wall, rq.wall / rs.wall, rq.cpu,
      rq.cpu / rs.cpu);
  const int threads = std::min(FeatureThreads(), 2);
  std::printf(
      "  target float32 split >= 3 GB/s on 2 cores: %.2f GB/s wall; %.2f GB/s from the CPU "
      "time on %d core(s) (%s)\n",
      f32_bytes / r32.wall / 1e9, f32_bytes / r32.cpu * threads / 1e9, threads,
      f32_bytes / r32.cpu * threads >= 3e9 ? "met" : "NOT met");
  return 0;
}
