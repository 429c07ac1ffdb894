// Threshold solvers and the evaluator at language-model scale: scores-mode dumps with K = 24-32
// exits (one per layer) and millions of samples (tokens), generated in memory from a seed.
//
// The synthetic dump is realistic in the ways that matter to the solvers: every sample has a
// difficulty, each exit's accuracy and confidence improve with depth, correctness is correlated
// across exits but not monotone (a deeper exit can be wrong where an earlier one was right), the
// confidence is informative but noisy, and scores are float32 values (as dumps store them) with
// many distinct values. Costs are per layer ((k + 1) / K of the full model), budget 0.5.
//
// Per method and size it prints CPU and wall time, peak resident memory (each solve runs in a
// forked child, so the peak is that solve's alone; "above data" subtracts the dump's own pages,
// 9 bytes per sample-exit) and the exponent of CPU time in N between consecutive sizes. It also
// measures this machine's single-thread streaming-read bandwidth in the same run and prints the
// evaluator's throughput at DRAM scale as a ratio to it (at 9 bytes read per sample-exit).
//
// Usage: bench_scale_solvers [--full] [--verbose] [--exits 24,32] [--sizes 250000,1000000]
//                            [--methods exact,single,ippp,geometric] [--eval-samples N]
// --methods takes every threshold method and `tolerance`: the tolerance rule's thresholds of
// flop-score and the greedy placement rules (dse/flop_score.hpp, T = 0.05), every exit kept.
// Default: a small run for `make bench` (N = 62,500 and 250,000). --full: N = 250k, 1M and 4M,
// the sizes the targets are stated at (exact at K = 32, N = 4M: <= 60 s CPU, <= 2 GB peak,
// exponent in N <= 1.1; evaluator >= 50 % of bandwidth in the typical case). Not a timed test.
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <functional>
#include <map>
#include <string>
#include <vector>

#include "dse/flop_score.hpp"
#include "optim/solve.hpp"
#include "profiles/evaluator.hpp"
#include "profiles/types.hpp"

using namespace exitplan;

namespace {

// splitmix64: a small, fast, seeded generator (the figures must not depend on the library's).
struct Rng {
  std::uint64_t s;
  std::uint64_t Next() {
    std::uint64_t z = (s += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
  }
  double Uniform() { return (Next() >> 11) * 0x1.0p-53; }
  double Normal() {  // Box-Muller, one value per call
    const double u = Uniform() + 0x1.0p-54, v = Uniform();
    return std::sqrt(-2.0 * std::log(u)) * std::cos(6.283185307179586 * v);
  }
};

struct Data {
  int k = 0, n = 0;
  ScoreMatrix scores;
  CorrectMatrix correct;
  std::vector<double> cost;
};

Data Generate(int k, int n, std::uint64_t seed) {
  Data d;
  d.k = k;
  d.n = n;
  d.scores.resize(k, n);
  d.correct.resize(k, n);
  d.cost.resize(k);
  for (int e = 0; e < k; ++e) d.cost[e] = static_cast<double>(e + 1) / k;
  Rng rng{seed * 0x2545F4914F6CDD1Dull + static_cast<std::uint64_t>(k) * 1000003u + n};
  for (int i = 0; i < n; ++i) {
    const double difficulty = 1.3 * rng.Normal();
    const double luck = rng.Uniform();  // shared across exits: correctness is correlated
    double drift = 0.0;                 // a slowly varying per-sample deviation across layers
    for (int e = 0; e < k; ++e) {
      const double depth = static_cast<double>(e) / (k - 1);
      drift = 0.8 * drift + 0.45 * rng.Normal();
      const double skill = -1.2 + 4.0 * depth - difficulty + drift;  // logit of P(correct)
      const double p = 1.0 / (1.0 + std::exp(-skill));
      d.correct(e, i) = (p > luck) ? 1 : 0;
      const double conf = 1.0 / (1.0 + std::exp(-(1.1 * skill + 0.9 * rng.Normal() + 0.8)));
      d.scores(e, i) = static_cast<double>(static_cast<float>(conf));
    }
  }
  return d;
}

ThresholdProblem MakeProblem(const Data& d, double budget) {
  ThresholdProblem p;
  p.scores = &d.scores;
  p.correct = &d.correct;
  p.order = ScoreOrder::kDescending;
  for (int e = 0; e < d.k; ++e) p.kept.push_back(e);
  p.stop_cost = d.cost;
  p.budget = budget;
  return p;
}

double CpuSeconds() {
  rusage u{};
  getrusage(RUSAGE_SELF, &u);
  return u.ru_utime.tv_sec + u.ru_stime.tv_sec + 1e-6 * (u.ru_utime.tv_usec + u.ru_stime.tv_usec);
}

// kB from /proc/self/status ("VmRSS" or "VmHWM").
long StatusKb(const char* field) {
  std::ifstream in("/proc/self/status");
  std::string line;
  const std::size_t len = std::strlen(field);
  while (std::getline(in, line)) {
    if (line.compare(0, len, field) == 0 && line.size() > len && line[len] == ':')
      return std::atol(line.c_str() + len + 1);
  }
  return -1;
}

void ResetPeak() {
  std::ofstream out("/proc/self/clear_refs");
  out << "5";
}

struct Run {
  double cpu = 0, wall = 0, peak_gb = 0, above_gb = 0, acc = 0, cost = 0;
  int ok = 0;
  char message[120] = {};  // the solver's message (starts, sweeps)
};

// Runs one solve in a forked child and returns its measurements.
Run MeasureSolve(const std::function<ThresholdSummary()>& solve) {
  int fd[2];
  if (pipe(fd) != 0) std::abort();
  const pid_t pid = fork();
  if (pid == 0) {
    close(fd[0]);
    ResetPeak();
    const long base_kb = StatusKb("VmRSS");
    const double c0 = CpuSeconds();
    const auto w0 = std::chrono::steady_clock::now();
    const ThresholdSummary s = solve();
    Run r;
    r.wall = std::chrono::duration<double>(std::chrono::steady_clock::now() - w0).count();
    r.cpu = CpuSeconds() - c0;
    const long peak_kb = StatusKb("VmHWM");
    r.peak_gb = peak_kb / 1048576.0;
    r.above_gb = (peak_kb - base_kb) / 1048576.0;
    r.ok = s.ok();
    std::snprintf(r.message, sizeof r.message, "%s", s.message.c_str());
    r.acc = s.fit.accuracy;
    r.cost = s.fit.mean_cost;
    if (write(fd[1], &r, sizeof r) != static_cast<ssize_t>(sizeof r)) _exit(1);
    _exit(0);
  }
  close(fd[1]);
  Run r;
  const bool got = read(fd[0], &r, sizeof r) == static_cast<ssize_t>(sizeof r);
  close(fd[0]);
  int status = 0;
  waitpid(pid, &status, 0);
  if (!got) r.ok = -1;
  return r;
}

// Single-thread streaming read of a buffer far larger than the caches: best of 3, bytes/s.
double StreamBandwidth(std::size_t bytes) {
  std::vector<std::uint64_t> buf(bytes / 8);
  for (std::size_t i = 0; i < buf.size(); ++i) buf[i] = i;
  double best = 0;
  volatile std::uint64_t sink = 0;
  for (int rep = 0; rep < 3; ++rep) {
    const auto t0 = std::chrono::steady_clock::now();
    std::uint64_t a0 = 0, a1 = 0, a2 = 0, a3 = 0;
    for (std::size_t i = 0; i + 4 <= buf.size(); i += 4) {
      a0 += buf[i];
      a1 += buf[i + 1];
      a2 += buf[i + 2];
      a3 += buf[i + 3];
    }
    const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    sink = sink + a0 + a1 + a2 + a3;
    best = std::max(best, static_cast<double>(bytes) / s);
  }
  return best;
}

std::vector<int> ParseInts(const char* text) {
  std::vector<int> out;
  for (const std::string& s : [&] {
         std::vector<std::string> parts;
         std::string cur;
         for (const char* c = text; *c; ++c) {
           if (*c == ',') {
             parts.push_back(cur);
             cur.clear();
           } else {
             cur += *c;
           }
         }
         parts.push_back(cur);
         return parts;
       }()) {
    out.push_back(std::atoi(s.c_str()));
  }
  return out;
}

}  // namespace

int main(int argc, char** argv) {
  std::vector<int> exits = {24, 32};
  std::vector<int> sizes = {62500, 250000};
  std::vector<Method> methods = {Method::kExact, Method::kSingle, Method::kIppp,
                                 Method::kGeometric};
  int eval_n = 4000000;
  bool verbose = false;
  bool tolerance_rule = false;
  for (int a = 1; a < argc; ++a) {
    const std::string arg = argv[a];
    if (arg == "--verbose") {
      verbose = true;
    } else if (arg == "--full") {
      sizes = {250000, 1000000, 4000000};
    } else if (arg == "--exits" && a + 1 < argc) {
      exits = ParseInts(argv[++a]);
    } else if (arg == "--sizes" && a + 1 < argc) {
      sizes = ParseInts(argv[++a]);
    } else if (arg == "--eval-samples" && a + 1 < argc) {
      eval_n = std::atoi(argv[++a]);
    } else if (arg == "--methods" && a + 1 < argc) {
      methods.clear();
      std::string cur;
      for (const char* c = argv[++a];; ++c) {
        if (*c == ',' || *c == 0) {
          if (cur == "tolerance") {
            tolerance_rule = true;
          } else {
            methods.push_back(MethodFromString(cur, "--methods"));
          }
          cur.clear();
          if (*c == 0) break;
        } else {
          cur += *c;
        }
      }
    } else {
      std::fprintf(stderr,
                   "usage: bench_scale_solvers [--full] [--verbose] [--exits 24,32] [--sizes N,N] "
                   "[--methods exact,single,...] [--eval-samples N]\n");
      return 2;
    }
  }
  const double budget = 0.5;
  std::printf(
      "bench_scale_solvers: synthetic scores dumps, descending confidence, cost (k+1)/K, "
      "budget %.2f; one solve per method in a forked child\n",
      budget);
  // 1. Solvers.
  std::printf("%-10s %3s %9s %9s %9s %8s %10s %8s %9s %9s\n", "method", "K", "N", "cpu_s", "wall_s",
              "peak_GB", "above_GB", "B/se", "fit_acc", "fit_cost");
  std::map<std::pair<int, int>, std::vector<std::pair<int, double>>> cpu_by;  // (method, K)
  for (int k : exits) {
    for (int n : sizes) {
      const Data d = Generate(k, n, 7);
      const ThresholdProblem p = MakeProblem(d, budget);
      std::vector<std::pair<std::string, std::function<ThresholdSummary()>>> runs;
      for (Method method : methods) {
        runs.push_back(
            {ToString(method), [&p, method] { return Solve(method, p, SolverOptions{}); }});
      }
      if (tolerance_rule) {
        runs.push_back({"tolerance", [&p] {
                          const auto table =
                              ToleranceThresholdTable(*p.scores, *p.correct, p.order, 0.05);
                          ThresholdSummary s;
                          s.policy.kept = p.kept;
                          for (std::size_t j = 0; j + 1 < p.kept.size(); ++j)
                            s.policy.thresholds.push_back(table[j][j]);
                          s.fit = p.Evaluate(s.policy);
                          s.outcome = Outcome::kConverged;
                          s.message = "tolerance rule, T = 0.05, every exit kept";
                          return s;
                        }});
      }
      for (std::size_t ri = 0; ri < runs.size(); ++ri) {
        const Run r = MeasureSolve(runs[ri].second);
        const int method = ri < methods.size() ? static_cast<int>(methods[ri]) : -1;
        const double se = static_cast<double>(n) * k;
        std::printf("%-10s %3d %9d %9.2f %9.2f %8.3f %10.3f %8.1f %9.5f %9.5f%s\n",
                    runs[ri].first.c_str(), k, n, r.cpu, r.wall, r.peak_gb, r.above_gb,
                    r.peak_gb * 1073741824.0 / se, r.acc, r.cost,
                    r.ok == 1   ? ""
                    : r.ok == 0 ? "  (no solution)"
                                : "  (child failed)");
        if (verbose) std::printf("           %s\n", r.message);
        std::fflush(stdout);
        cpu_by[{method, k}].push_back({n, r.cpu});
      }
    }
  }
  if (sizes.size() > 1) {
    std::printf("exponent of CPU time in N (log(t2/t1) / log(N2/N1)):\n");
    for (const auto& [key, runs] : cpu_by) {
      std::printf("  %-10s K=%-3d",
                  key.first < 0 ? "tolerance" : ToString(static_cast<Method>(key.first)).c_str(),
                  key.second);
      for (std::size_t i = 1; i < runs.size(); ++i) {
        const double e = std::log(runs[i].second / runs[i - 1].second) /
                         std::log(static_cast<double>(runs[i].first) / runs[i - 1].first);
        std::printf("  %d->%d: %.2f", runs[i - 1].first, runs[i].first, e);
      }
      std::printf("\n");
    }
  }
  // 2. Evaluator at DRAM scale against this machine's streaming-read bandwidth.
  if (eval_n > 0) {
    const int k = 32;
    const double bw = StreamBandwidth(std::size_t{1} << 30);
    const Data d = Generate(k, eval_n, 11);
    const ThresholdProblem p = MakeProblem(d, budget);
    const ThresholdSummary typ = Solve(Method::kGeometric, p, SolverOptions{});
    Policy worst = typ.policy;
    for (double& t : worst.thresholds) t = 2.0;  // nobody stops early
    const double limit = bw / 9.0;               // sample-exits/s if only bandwidth mattered
    std::printf(
        "evaluator: K=%d N=%d (%.2f GB of scores and correctness), one thread; streaming "
        "read %.2f GB/s = %.0f M sample-exits/s at 9 B each\n",
        k, eval_n, 9.0 * k * eval_n / 1e9, bw / 1e9, limit / 1e6);
    for (const auto& [name, pol] : {std::pair{"typical (geometric thresholds)", typ.policy},
                                    std::pair{"worst case (no early stop)", worst}}) {
      double best = 1e300, sink = 0;
      for (int rep = 0; rep < 5; ++rep) {
        const auto t0 = std::chrono::steady_clock::now();
        sink += Evaluate(d.scores, p.order, d.correct, d.cost, pol).accuracy;
        best = std::min(
            best, std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
      }
      const double rate = static_cast<double>(k) * eval_n / best;
      std::printf(
          "  %-32s %8.1f ms  %7.0f M sample-exits/s  %.2fx the bandwidth limit (target >= 0.5)"
          "  [acc %.5f]\n",
          name, best * 1e3, rate / 1e6, rate / limit, sink / 5);
    }
  }
  return 0;
}
