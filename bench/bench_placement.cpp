// Placement benchmarks. Prints timings measured in one run; not a timed test.
//  1. flop-score over 2^20 subsets of a synthetic 21-exit dump with 10k samples (target <= 30 s on
//     2 cores), every subset scored on 2 and 1 threads, and with the branch and bound.
//  2. exhaustive on ../shared/data/fmnist-resnet8 (2^8 subsets x 50 budgets, 10k samples, FLOPs
//     profile; target <= 5 s on 2 cores) with a chosen solver (default exact), on 1 and 2 threads,
//     with and without pruning/reuse.
//  3. LLM-like scores dumps (one exit per layer: K - 1 = 32 and 48 candidates, N = 10k tokens,
//     confidence and correctness improving with depth, heads ~0.4 of a layer like an unembedding
//     head): flop-score with its branch and bound (and, at 20 candidates, against scoring every
//     subset), greedy-th, greedy-efficiency, greedy-forward / greedy-backward at 50% of the full
//     cost with the chosen solver, and exhaustive's refusal.
// Usage: bench_placement [solver] [fmnist-resnet8 dir]    (all three)
//        bench_placement --scale [solver]                 (3 only)
#include <sys/resource.h>

#include <chrono>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <random>
#include <string>
#include <thread>

#include "dse/exhaustive.hpp"
#include "dse/flop_score.hpp"
#include "dse/greedy.hpp"
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
  for (int threads : {2, 1, 0}) {  // 0: branch and bound on 2 threads
    FlopScoreOptions o;
    o.threads = threads == 0 ? 2 : threads;
    o.prune = threads == 0;
    const double t0 = Now();
    const FlopScoreSummary s = FlopScore(p, o);
    const double t = Now() - t0;
    if (threads == 2) t2 = t;
    const std::string ratio = std::to_string(threads == 1 ? t / t2 : t2 / t).substr(0, 5);
    std::printf(
        "flop-score: K = %d (2^%d subsets), N = %d, %d thread(s), %s: %.3f s (target <= 30 s)%s; "
        "%llu subsets scored; best %s, score %.6g\n",
        k, k - 1, n, o.threads, o.prune ? "branch and bound" : "every subset scored", t,
        threads == 1   ? (", " + ratio + "x the 2-thread time").c_str()
        : threads == 0 ? (", " + ratio + "x faster than scoring every subset").c_str()
                       : "",
        static_cast<unsigned long long>(s.subsets), KeptText(s.best.kept).c_str(), s.best.score);
    std::fflush(stdout);
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

// An LLM-like scores dump: k exits (one per layer), n tokens. Each token has a difficulty h; its
// confidence at depth x = (e + 1) / k rises with x - h (plus per-layer noise), and it is correct
// with probability near its confidence; the final exit is right on ~70% of tokens.
struct LlmDump {
  ScoreMatrix scores;
  CorrectMatrix correct;
  CostProfile prof;
  PlacementProblem problem() const {
    PlacementProblem p;
    p.scores = &scores;
    p.correct = &correct;
    p.ca_correct = &correct;  // scores mode: CA against labels
    p.profile = &prof;
    return p;
  }
};

// A hard case for the bound: no depth structure (each exit's confidence independent of the
// others', about as informative at every depth) and heads 1/20 of a layer, so many exits are
// worth keeping and many subsets score close to the best.
LlmDump MakeFlatDump(int k, int n, unsigned seed) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<double> u(0.0, 1.0);
  LlmDump d;
  d.scores.resize(k, n);
  d.correct.resize(k, n);
  for (int i = 0; i < n; ++i) {
    for (int e = 0; e < k; ++e) {
      const double conf = u(rng);
      d.scores(e, i) = std::round(conf * 4096.0) / 4096.0;
      d.correct(e, i) = u(rng) < 0.3 + 0.7 * conf ? 1 : 0;
    }
  }
  double b = 0.0;
  for (int e = 0; e < k; ++e) {
    b += 1.0;
    d.prof.backbone.push_back(b);
    d.prof.head.push_back(0.05);
    d.prof.names.push_back("L" + std::to_string(e + 1));
  }
  d.prof.unit = "flops";
  return d;
}

LlmDump MakeLlmDump(int k, int n, unsigned seed) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<double> u(0.0, 1.0);
  std::normal_distribution<double> noise(0.0, 0.6);
  LlmDump d;
  d.scores.resize(k, n);
  d.correct.resize(k, n);
  for (int i = 0; i < n; ++i) {
    const double h = u(rng) * 1.3 - 0.1;
    for (int e = 0; e < k; ++e) {
      const double x = (e + 1.0) / k;
      const double z = 6.0 * (x - h) + noise(rng);
      const double conf = 1.0 / (1.0 + std::exp(-z));
      d.scores(e, i) = std::round(conf * 4096.0) / 4096.0;  // 12-bit scores, as stored dumps have
      d.correct(e, i) = u(rng) < 0.05 + 0.9 * conf ? 1 : 0;
    }
  }
  d.prof.unit = "flops";
  d.prof.target = "llm";
  d.prof.source = "synthetic";
  double b = 0.0;
  for (int e = 0; e < k; ++e) {
    b += 1.0;
    d.prof.backbone.push_back(b);
    d.prof.head.push_back(0.4 + 0.02 * u(rng));
    d.prof.names.push_back("L" + std::to_string(e + 1));
  }
  return d;
}

void BenchLlmScale(const std::string& solver_name) {
  const int n = 10000;
  const Method method = MethodFromString(solver_name);
  const ThresholdSolverFn solver = SolverFor(method);
  {
    // At 20 candidates the full enumeration is still cheap: the bound against it, one run.
    const LlmDump d = MakeLlmDump(21, n, 21);
    const PlacementProblem p = d.problem();
    FlopScoreOptions o;
    o.prune = false;
    const double t0 = Now();
    const FlopScoreSummary full = FlopScore(p, o);
    const double tf = Now() - t0;
    o.prune = true;
    const double t1 = Now();
    const FlopScoreSummary bb = FlopScore(p, o);
    const double tb = Now() - t1;
    std::printf(
        "flop-score, LLM-like scores dump, 20 candidates, N = %d, 2 threads: every subset %.3f s, "
        "branch and bound %.3f s (%.1fx faster; %llu of %llu subsets scored); same best %s, "
        "score bit-identical: %s\n",
        n, tf, tb, tf / tb, static_cast<unsigned long long>(bb.subsets),
        static_cast<unsigned long long>(bb.subsets + bb.pruned), KeptText(bb.best.kept).c_str(),
        bb.best.mask == full.best.mask && bb.best.score == full.best.score ? "yes" : "NO");
    std::fflush(stdout);
  }
  for (const int cands : {16, 20, 24, 28, 32}) {
    const LlmDump d = MakeFlatDump(cands + 1, n, static_cast<unsigned>(cands));
    FlopScoreOptions o;
    o.max_candidates = 62;
    const double t0 = Now(), c0 = Cpu();
    const FlopScoreSummary s = FlopScore(d.problem(), o);
    const double t = Now() - t0;
    std::printf(
        "flop-score, hard case (no depth structure, cheap heads), %d candidates, N = %d: %.3f s "
        "wall, %.3f s CPU; %llu subsets scored (%.2g of 2^%d); best %s\n",
        cands, n, t, Cpu() - c0, static_cast<unsigned long long>(s.subsets),
        static_cast<double>(s.subsets) / static_cast<double>(s.subsets + s.pruned), cands,
        KeptText(s.best.kept).c_str());
    std::fflush(stdout);
    if (t > 60) break;
  }
  for (const int cands : {32, 48}) {
    const LlmDump d = MakeLlmDump(cands + 1, n, static_cast<unsigned>(cands));
    const PlacementProblem p = d.problem();
    {
      FlopScoreOptions o;
      o.max_candidates = 62;
      const double t0 = Now(), c0 = Cpu();
      const FlopScoreSummary s = FlopScore(p, o);
      std::printf(
          "flop-score, %d candidates, N = %d, 2 threads: %.3f s wall, %.3f s CPU; %llu subsets "
          "scored, the other 2^%d - %llu ruled out by the bound; best %s, score %.6g\n",
          cands, n, Now() - t0, Cpu() - c0, static_cast<unsigned long long>(s.subsets), cands,
          static_cast<unsigned long long>(s.subsets), KeptText(s.best.kept).c_str(), s.best.score);
      std::fflush(stdout);
    }
    for (const GreedyRule rule : {GreedyRule::kTh, GreedyRule::kEfficiency}) {
      GreedyOptions o;
      o.rule = rule;
      const double t0 = Now();
      const GreedySummary s = Greedy(p, o);
      std::printf("%s, %d candidates: %.4f s; kept %s\n", ToString(rule).c_str(), cands, Now() - t0,
                  KeptText(s.kept).c_str());
    }
    for (const GreedyRule rule : {GreedyRule::kForward, GreedyRule::kBackward}) {
      GreedyOptions o;
      o.rule = rule;
      o.budget = 0.5 * d.prof.FullCost();
      const double t0 = Now(), c0 = Cpu();
      const GreedySummary s = Greedy(p, o, solver);
      std::printf("%s (%s), %d candidates, budget 50%%: %.3f s wall, %.3f s CPU, %d solves; %s\n",
                  ToString(rule).c_str(), solver_name.c_str(), cands, Now() - t0, Cpu() - c0,
                  s.solves, s.BriefReport().c_str());
      std::fflush(stdout);
    }
    try {
      ExhaustiveOptions o;
      o.budgets = {0.5 * d.prof.FullCost()};
      Exhaustive(p, o, solver);
      std::printf("exhaustive, %d candidates: ran (unexpected)\n", cands);
    } catch (const InputError& e) {
      std::printf("exhaustive, %d candidates: refused before any work: %s\n", cands, e.what());
    }
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
  const bool scale_only = argc > 1 && std::string(argv[1]) == "--scale";
  if (scale_only) ++argv, --argc;
  const std::string solver = argc > 1 ? argv[1] : "exact";
  const std::string dir = argc > 2 ? argv[2] : "/work/shared/data/fmnist-resnet8";
  try {
    if (!scale_only) {
      BenchFlopScore();
      std::fflush(stdout);
      BenchExhaustive(solver, dir);
      std::fflush(stdout);
    }
    BenchLlmScale(solver);
  } catch (const InputError& e) {
    std::fprintf(stderr, "bench_placement: %s\n", e.what());
    return 2;
  }
  return 0;
}
