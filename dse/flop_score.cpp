#include "dse/flop_score.hpp"

#include <algorithm>
#include <bit>
#include <chrono>
#include <cmath>
#include <limits>
#include <numeric>
#include <sstream>

#include "profiles/error.hpp"
#include "profiles/parallel.hpp"

namespace exitplan {

std::string FlopScoreOptions::Validate() const {
  std::ostringstream s;
  if (!(tolerance > 0.0 && tolerance < 1.0)) {
    s << "tolerance = " << tolerance << ": must be in (0, 1) (a fraction of accuracy)\n";
  }
  if (max_candidates < 1 || max_candidates > 40) {
    s << "max_candidates = " << max_candidates << ": must be in 1..40\n";
  }
  if (threads < 1) s << "threads = " << threads << ": must be >= 1\n";
  if (keep_top < 1) s << "keep_top = " << keep_top << ": must be >= 1\n";
  std::string out = s.str();
  if (!out.empty()) out.pop_back();
  return out;
}

std::string FlopScoreSummary::BriefReport() const {
  std::ostringstream s;
  s << "flop-score: " << ToString(outcome);
  if (ok()) {
    s << ", kept exits " << KeptText(best.kept) << ", score " << best.score << ", fit accuracy "
      << fit.accuracy << ", fit cost " << fit.mean_cost;
  }
  s << ", " << subsets << " subsets, " << seconds << " s";
  if (!message.empty()) s << " (" << message << ")";
  return s.str();
}

namespace {

// ToleranceThreshold for several drop budgets from one sort of the exit's scores: the walk over
// equal-score groups admits them while the running wrong count (an exact integer) stays within
// the budget, i.e. up to the last group whose prefix count does, found by binary search.
std::vector<double> ToleranceThresholds(const double* scores, const std::uint8_t* correct, int n,
                                        int stride, ScoreOrder order,
                                        const std::vector<double>& allowed_wrong) {
  const bool desc = order == ScoreOrder::kDescending;
  const double inf = std::numeric_limits<double>::infinity();
  if (n == 0) return std::vector<double>(allowed_wrong.size(), desc ? inf : -inf);
  std::vector<int> idx(n);
  std::iota(idx.begin(), idx.end(), 0);
  // Most confident first.
  std::sort(idx.begin(), idx.end(), [&](int a, int b) {
    const double sa = scores[static_cast<std::size_t>(a) * stride];
    const double sb = scores[static_cast<std::size_t>(b) * stride];
    return desc ? sa > sb : sa < sb;
  });
  auto at = [&](int q) { return scores[static_cast<std::size_t>(idx[q]) * stride]; };
  // Group g covers idx[ends[g-1], ends[g]); prefix[g] = wrong samples in groups 0..g.
  std::vector<int> ends;
  std::vector<double> prefix;
  double wrong = 0.0;
  for (int i = 0; i < n;) {
    const double v = at(i);
    int j = i;
    while (j < n && at(j) == v) {
      wrong += correct[static_cast<std::size_t>(idx[j]) * stride] ? 0.0 : 1.0;
      ++j;
    }
    ends.push_back(j);
    prefix.push_back(wrong);
    i = j;
  }
  std::vector<double> out;
  for (const double allowed : allowed_wrong) {
    const double slack = 1e-9 * std::max(1.0, std::abs(allowed));
    // The first group whose prefix exceeds the budget is not admitted, nor any after it.
    const std::size_t g = static_cast<std::size_t>(
        std::upper_bound(prefix.begin(), prefix.end(), allowed + slack) - prefix.begin());
    const int admitted_end = g == 0 ? 0 : ends[g - 1];  // samples idx[0..admitted_end) pass
    if (desc) {
      // score >= t passes.
      out.push_back(admitted_end == 0 ? std::nextafter(at(0), inf) : at(admitted_end - 1));
    } else if (admitted_end == 0) {  // score < t passes.
      out.push_back(at(0));
    } else {
      out.push_back(admitted_end == n ? std::nextafter(at(n - 1), inf) : at(admitted_end));
    }
  }
  return out;
}

}  // namespace

double ToleranceThreshold(const double* scores, const std::uint8_t* correct, int n, int stride,
                          ScoreOrder order, double allowed_wrong) {
  return ToleranceThresholds(scores, correct, n, stride, order, {allowed_wrong})[0];
}

std::vector<std::vector<double>> ToleranceThresholdTable(const ScoreMatrix& scores,
                                                         const CorrectMatrix& ca, ScoreOrder order,
                                                         double tolerance) {
  const int k = static_cast<int>(scores.rows());
  const int n = static_cast<int>(scores.cols());
  std::vector<double> allowed;
  for (int p = 0; p < k - 1; ++p)
    allowed.push_back(n * tolerance / std::ldexp(1.0, p + 1));  // N x T / 2^n
  std::vector<std::vector<double>> table(std::max(0, k - 1));
  // One sort per exit for all its positions.
  for (int j = 0; j < k - 1; ++j)
    table[j] = ToleranceThresholds(scores.data() + j, ca.data() + j, n, k, order, allowed);
  return table;
}

namespace {

// C1 (head) and C2 (rest of the backbone, final classifier included) per candidate, the
// unsupervised early-exit paper (2023).
void Costs(const CostProfile& profile, std::vector<double>& c1, std::vector<double>& c2) {
  const int k = profile.k();
  const double end = profile.backbone[k - 1] + profile.head[k - 1];
  c1.assign(k - 1, 0.0);
  c2.assign(k - 1, 0.0);
  for (int j = 0; j < k - 1; ++j) {
    c1[j] = profile.head[j];
    c2[j] = end - profile.backbone[j];
  }
}

// Order of preference: higher score, then smaller mask.
bool Better(double sa, SubsetMask ma, double sb, SubsetMask mb) {
  return sa > sb || (sa == sb && ma < mb);
}

struct Top {
  std::size_t cap = 1;
  std::vector<std::pair<double, SubsetMask>> items;  // best first
  void Add(double s, SubsetMask m) {
    if (items.size() == cap && !Better(s, m, items.back().first, items.back().second)) return;
    auto it = std::find_if(items.begin(), items.end(),
                           [&](const auto& e) { return Better(s, m, e.first, e.second); });
    items.insert(it, {s, m});
    if (items.size() > cap) items.pop_back();
  }
};

struct Enumerator {
  int m = 0;                        // candidates
  std::size_t w = 0;                // words per bitset
  std::vector<std::uint64_t> pass;  // [j][p][w]
  std::vector<double> gain, loss;   // per candidate: C2 - C1 and C1
  const std::uint64_t* Pass(int j, int p) const {
    return pass.data() + (static_cast<std::size_t>(j) * m + p) * w;
  }

  // Applies exit j at position p to `reach`, writing the new reach set, returning the eq. 4 term.
  double Step(int j, int p, const std::uint64_t* reach, std::uint64_t* next) const {
    const std::uint64_t* ps = Pass(j, p);
    std::int64_t hits = 0, misses = 0;
    for (std::size_t q = 0; q < w; ++q) {
      const std::uint64_t r = reach[q];
      const std::uint64_t h = r & ps[q];
      const std::uint64_t rest = r & ~ps[q];
      next[q] = rest;
      hits += std::popcount(h);
      misses += std::popcount(rest);
    }
    return static_cast<double>(hits) * gain[j] - static_cast<double>(misses) * loss[j];
  }

  void Rec(int j, int p, const std::uint64_t* reach, double score, SubsetMask mask,
           std::vector<std::uint64_t>& buf, Top& top, std::uint64_t& count) const {
    if (j == m) {
      top.Add(score, mask);
      ++count;
      return;
    }
    Rec(j + 1, p, reach, score, mask, buf, top, count);
    std::uint64_t* next = buf.data() + static_cast<std::size_t>(j) * w;
    const double term = Step(j, p, reach, next);
    Rec(j + 1, p + 1, next, score + term, mask | (SubsetMask{1} << j), buf, top, count);
  }
};

}  // namespace

SubsetScore ScoreSubset(const PlacementProblem& problem,
                        const std::vector<std::vector<double>>& table, SubsetMask mask) {
  const int k = problem.k();
  const int n = problem.n();
  std::vector<double> c1, c2;
  Costs(*problem.profile, c1, c2);
  SubsetScore out;
  out.mask = mask;
  out.kept = KeptFromMask(mask, k);
  const int q = static_cast<int>(out.kept.size()) - 1;
  out.hits.assign(q, 0);
  out.misses.assign(q, 0);
  for (int p = 0; p < q; ++p) out.thresholds.push_back(table[out.kept[p]][p]);
  for (int i = 0; i < n; ++i) {
    for (int p = 0; p < q; ++p) {
      if (Passes((*problem.scores)(out.kept[p], i), out.thresholds[p], problem.order)) {
        ++out.hits[p];
        break;
      }
      ++out.misses[p];
    }
  }
  double score = 0.0;
  for (int p = 0; p < q; ++p) {
    const int j = out.kept[p];
    score = score + (static_cast<double>(out.hits[p]) * (c2[j] - c1[j]) -
                     static_cast<double>(out.misses[p]) * c1[j]);
  }
  out.score = score;
  return out;
}

FlopScoreSummary FlopScore(const PlacementProblem& problem, const FlopScoreOptions& options) {
  if (const std::string err = options.Validate(); !err.empty()) throw InputError("flop-score", err);
  if (const std::string err = problem.Check(); !err.empty()) throw InputError("flop-score", err);
  if (const std::string err = CheckHeadCosts(*problem.profile, "flop-score"); !err.empty()) {
    throw InputError(err);
  }
  const int m = problem.candidates();
  if (m > options.max_candidates) {
    throw InputError("flop-score", "the dump has " + std::to_string(m) +
                                       " candidate exits, more than the enumeration limit " +
                                       std::to_string(options.max_candidates) + " (2^" +
                                       std::to_string(m) +
                                       " subsets): use --method greedy-th or greedy-efficiency "
                                       "(or raise --max-candidates)");
  }
  const auto t0 = std::chrono::steady_clock::now();
  const int n = problem.n();
  const auto table =
      ToleranceThresholdTable(*problem.scores, problem.ca(), problem.order, options.tolerance);
  Enumerator en;
  en.m = m;
  en.w = (static_cast<std::size_t>(n) + 63) / 64;
  en.pass.assign(static_cast<std::size_t>(m) * m * en.w, 0);
  for (int j = 0; j < m; ++j) {
    for (int p = 0; p < m; ++p) {
      std::uint64_t* bits = en.pass.data() + (static_cast<std::size_t>(j) * m + p) * en.w;
      for (int i = 0; i < n; ++i) {
        if (Passes((*problem.scores)(j, i), table[j][p], problem.order)) {
          bits[i >> 6] |= std::uint64_t{1} << (i & 63);
        }
      }
    }
  }
  Costs(*problem.profile, en.loss, en.gain);  // loss = C1, gain = C2 for now
  for (int j = 0; j < m; ++j) en.gain[j] -= en.loss[j];

  std::vector<std::uint64_t> all(en.w, ~std::uint64_t{0});
  if (n % 64 != 0 && en.w > 0) all.back() = (std::uint64_t{1} << (n % 64)) - 1;

  // Tasks: every include/exclude decision on the first d candidates.
  const int d = std::min(m, 10);
  const std::uint64_t tasks = std::uint64_t{1} << d;
  const int jobs = std::max(1, options.threads);
  const int threads = ParallelThreads(tasks, jobs);
  std::vector<Top> tops(threads);
  std::vector<std::uint64_t> counts(threads, 0);
  struct Scratch {  // per worker
    std::vector<std::uint64_t> buf, reach, tmp;
  };
  std::vector<Scratch> scratch(threads);
  for (int id = 0; id < threads; ++id) {
    tops[id].cap = options.keep_top;
    scratch[id].buf.resize(static_cast<std::size_t>(std::max(m, 1)) * en.w);
    scratch[id].reach.resize(en.w);
    scratch[id].tmp.resize(en.w);
  }
  ProgressPhase(options.progress, "flop-score", "subsets", std::uint64_t{1} << m);
  ParallelFor(tasks, jobs, [&](std::size_t t, int id) {
    if (ProgressCancelled(options.progress)) return false;
    Top& top = tops[id];
    Scratch& sc = scratch[id];
    std::vector<std::uint64_t>& reach = sc.reach;
    std::vector<std::uint64_t>& tmp = sc.tmp;
    reach = all;
    double score = 0.0;
    int p = 0;
    for (int j = 0; j < d; ++j) {
      if (t >> j & 1u) {
        const double term = en.Step(j, p, reach.data(), tmp.data());
        score = score + term;
        reach.swap(tmp);
        ++p;
      }
    }
    en.Rec(d, p, reach.data(), score, static_cast<SubsetMask>(t), sc.buf, top, counts[id]);
    ProgressAdvance(options.progress, std::uint64_t{1} << (m - d));  // the task's subsets
    return !ProgressCancelled(options.progress);  // false: stop handing out tasks
  });
  ProgressRethrow(options.progress);

  Top merged;
  merged.cap = options.keep_top;
  FlopScoreSummary s;
  for (int id = 0; id < threads; ++id) {
    for (const auto& [sc, mk] : tops[id].items) merged.Add(sc, mk);
    s.subsets += counts[id];
  }
  for (const auto& [sc, mk] : merged.items) {
    SubsetScore ss = ScoreSubset(problem, table, mk);
    ss.score = sc;  // identical arithmetic; keep the enumerated value
    s.top.push_back(std::move(ss));
  }
  s.best = s.top.front();
  s.policy.kept = s.best.kept;
  s.policy.thresholds = s.best.thresholds;
  s.fit = problem.EvaluateFit(s.policy);
  s.eval = problem.EvaluateEval(s.policy);
  s.outcome = Outcome::kOptimal;
  s.message = "best of " + std::to_string(s.subsets) + " subsets by eq. 4, tolerance " +
              FormatDouble(options.tolerance);
  s.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  return s;
}

}  // namespace exitplan
