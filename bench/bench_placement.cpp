// Placement benchmarks. Prints timings measured in one run; not a timed test.
//  1. flop-score over 2^20 subsets of a synthetic 21-exit dump with 10k samples (target <= 30 s on
//     2 cores), on 1 and 2 threads.
//  2. exhaustive on ../shared/data/fmnist-resnet8 (2^8 subsets x 50 budgets, 10k samples, FLOPs
//     profile; target <= 5 s on 2 cores) with a chosen solver (default exact), on 1 and 2 threads,
//     with and without pruning/reuse.
// Usage: bench_placement [solver] [fmnist-resnet8 dir]
#include <sys/resource.h>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <random>
#include <string>
#include <thread>

#include "dse/exhaustive.hpp"
#include "dse/flop_score.hpp"
#include "profiles/dump.hpp"
#include "profiles/error.hpp"
#include "profiles/profile.hpp"

using namespace exitplan;

namespace {

// CPU seconds of this process (all threads): on a shared machine the wall time also counts other
// processes' load.
double Cpu() {
  rusage u{};
  getrusage(RUSAGE_SELF, &u);
  return u.ru_utime.tv_sec + 1e-6 * u.ru_utime.tv_usec + u.ru_stime.tv_sec +
         1e-6 * u.ru_stime.tv_usec;
}

double Now() {
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

void BenchFlopScore() {
  const int k = 21, n = 10000;
  std::mt19937 rng(7);
  std::uniform_real_distribution<double> u(0.0, 1.0);
  ScoreMatrix scores(k, n);
  CorrectMatrix correct(k, n), agree(k, n);
  for (int i = 0; i < n; ++i) {
    const double easy = u(rng);
    for (int e = 0; e < k; ++e) {
      const double v = std::min(1.0, 0.25 * u(rng) + 0.75 * easy * (0.5 + 0.5 * e / (k - 1.0)));
      scores(e, i) = v;
      correct(e, i) = u(rng) < 0.2 + 0.75 * v;
      agree(e, i) = e == k - 1 || u(rng) < 0.3 + 0.7 * v;
    }
  }
  CostProfile prof;
  prof.unit = "flops";
  double b = 0;
  for (int e = 0; e < k; ++e) {
    b += 1.0 + u(rng);
    prof.backbone.push_back(b);
    prof.head.push_back(0.02 + 0.05 * u(rng));
    prof.names.push_back("e" + std::to_string(e + 1));
  }
  PlacementProblem p;
  p.scores = &scores;
  p.correct = &correct;
  p.ca_correct = &agree;
  p.profile = &prof;
  double t2 = 0;
  for (int threads : {2, 1}) {
    FlopScoreOptions o;
    o.threads = threads;
    const double t0 = Now();
    const FlopScoreSummary s = FlopScore(p, o);
    const double t = Now() - t0;
    if (threads == 2) t2 = t;
    std::printf(
        "flop-score: K = %d (2^%d = %llu subsets), N = %d, %d thread(s): %.3f s "
        "(target <= 30 s)%s; best %s, score %.6g\n",
        k, k - 1, static_cast<unsigned long long>(s.subsets), n, threads, t,
        threads == 1 ? (" = " + std::to_string(t / t2).substr(0, 4) + "x the 2-thread time").c_str()
                     : "",
        KeptText(s.best.kept).c_str(), s.best.score);
  }
}

void BenchExhaustive(const std::string& solver_name, const std::string& dir) {
  if (!std::filesystem::exists(dir + "/val_logits.npy")) {
    std::printf("exhaustive: skipped (%s not found)\n", dir.c_str());
    return;
  }
  const Dump dump = LoadDump(dir);
  const CostProfile prof = LoadProfile(dir + "/profile-flops.yaml");
  PlacementProblem p;
  p.scores = &dump.fit.Scores(Measure::kMaxProb);
  p.correct = &dump.fit.Correct(Target::kLabels);
  p.profile = &prof;
  const Method method = MethodFromString(solver_name);
  // One solve of the full set at half the full cost, to see the solver's own speed.
  {
    const double t0 = Now();
    const ThresholdSummary s = Solve(method, p.Thresholds(AllExits(dump.k), 0.5 * prof.FullCost()));
    std::printf("one %s solve (all 9 exits, budget 0.5 x full, N = %d): %.4f s, %s\n",
                solver_name.c_str(), p.n(), Now() - t0, s.BriefReport().c_str());
    if (const WarmSolverFn warm = WarmSolverFor(method); warm && s.ok()) {
      const double t1 = Now();
      const ThresholdSummary w =
          warm(p.Thresholds(AllExits(dump.k), 0.49 * prof.FullCost()), s.policy.thresholds);
      const double tw = Now() - t1;
      const ThresholdSummary c =
          Solve(method, p.Thresholds(AllExits(dump.k), 0.49 * prof.FullCost()));
      std::printf("  warm-started at 0.49 x full: %.4f s, accuracy %.4f (cold: %.4f)\n", tw,
                  w.fit.accuracy, c.fit.accuracy);
    }
  }
  std::fflush(stdout);
  double cheapest = prof.FullCost();
  for (int j = 0; j < dump.k; ++j) cheapest = std::min(cheapest, prof.backbone[j] + prof.head[j]);
  ExhaustiveOptions o;
  for (int i = 0; i < 50; ++i) {
    o.budgets.push_back(cheapest + (prof.FullCost() - cheapest) * i / 49.0);
  }
  const ThresholdSolverFn solver = SolverFor(method);
  const WarmSolverFn warm = WarmSolverFor(method);
  struct Config {
    int threads;
    bool prune, reuse;
  };
  double base = 0;
  for (const Config c : {Config{2, true, true}, Config{1, true, true}, Config{2, false, false}}) {
    o.threads = c.threads;
    o.prune = c.prune;
    o.reuse = c.reuse;
    o.exact_path = method == Method::kExact;
    const double t0 = Now(), c0 = Cpu();
    const ExhaustiveSummary s = Exhaustive(p, o, solver, warm);
    const double t = Now() - t0, cpu = Cpu() - c0;
    if (base == 0) base = t;
    std::printf(
        "exhaustive (%s%s, 2^%d subsets x %zu budgets, N = %d), %d thread(s), prune %s, "
        "reuse %s: %.3f s wall, %.3f s CPU (%.2fx the first; target <= 5 s on 2 "
        "threads)\n  %s\n",
        solver_name.c_str(), o.exact_path ? " fast path" : "", dump.k - 1, o.budgets.size(), p.n(),
        c.threads, c.prune ? "on" : "off", c.reuse ? "on" : "off", t, cpu, t / base,
        s.BriefReport().c_str());
    std::fflush(stdout);
  }
}

}  // namespace

int main(int argc, char** argv) {
  {
    double load[3] = {0, 0, 0};
    if (FILE* f = std::fopen("/proc/loadavg", "r")) {
      if (std::fscanf(f, "%lf %lf %lf", &load[0], &load[1], &load[2]) != 3) load[0] = -1;
      std::fclose(f);
    }
    std::printf("machine: %u hardware threads, load average %.2f (1 min)\n",
                std::thread::hardware_concurrency(), load[0]);
  }
  const std::string solver = argc > 1 ? argv[1] : "exact";
  const std::string dir = argc > 2 ? argv[2] : "/work/shared/data/fmnist-resnet8";
  try {
    BenchFlopScore();
    std::fflush(stdout);
    BenchExhaustive(solver, dir);
  } catch (const InputError& e) {
    std::fprintf(stderr, "bench_placement: %s\n", e.what());
    return 2;
  }
  return 0;
}
