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
  if (max_candidates < 1 || max_candidates > 62) {
    s << "max_candidates = " << max_candidates << ": must be in 1..62\n";
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
  s << ", " << subsets << " subsets";
  if (pruned > 0) s << " scored (" << pruned << " ruled out by the bound)";
  s << ", " << seconds << " s";
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

// The best `cap` subsets seen, best first; a mask already held is not added twice.
struct Top {
  std::size_t cap = 1;
  std::vector<std::pair<double, SubsetMask>> items;  // best first
  bool full() const { return items.size() == cap; }
  void Add(double s, SubsetMask m) {
    if (full() && !Better(s, m, items.back().first, items.back().second)) return;
    if (std::any_of(items.begin(), items.end(), [&](const auto& e) { return e.second == m; })) {
      return;
    }
    auto it = std::find_if(items.begin(), items.end(),
                           [&](const auto& e) { return Better(s, m, e.first, e.second); });
    items.insert(it, {s, m});
    if (items.size() > cap) items.pop_back();
  }
};

// Per-task state of the search: its own best list (seeded with the incumbents), counts, buffers.
struct Work {
  Top top;
  std::uint64_t scored = 0, pruned = 0;
  std::vector<std::uint64_t> buf;  // [m][w]: the reach set after each included exit
  std::vector<std::int64_t> cnt;   // Bound's per-exit counts
};

// Depth-first search over include/exclude decisions, candidates in order, with branch and bound.
//
// The bound. At a node of the search the candidates 0..j-1 are decided, p of them included
// (so the next included exit sits at position p), the samples in R reach the next exit, and the
// included exits have scored `score`. Every subset below the node adds, for each candidate d >= j
// it includes, |H_d| gain_d - |M_d| loss_d, gain_d = C2_d - C1_d, loss_d = C1_d >= 0. Two facts:
//  (a) reach sets only shrink as exits are included: the samples reaching d are a subset of R;
//  (b) pass sets only shrink with the position: d sits at a position p_d >= p, its threshold has
//      the drop budget T / 2^(p_d + 1) <= T / 2^(p + 1), the tolerance rule admits a prefix of the
//      same confidence order for a smaller budget, so P(d, p_d) is a subset of P(d, p).
// A sample stops at the first included exit it passes, so it is a hit of at most one exit; the
// miss terms are <= 0. Hence the sum added below the node is at most
//   UB(j, p, R) = sum over samples i in R of max(0, max{ gain_d : d >= j, i in P(d, p) })
// (0 when i passes no such d), and a subtree with score + UB below the worst score of a full
// best list cannot place a subset in the final list, which only ever holds better ones. UB is
// computed exactly in integers per exit (each sample counted once, at the highest-gain exit that
// admits it) and compared with a margin of 1e-9 x N x the largest cost, far above the rounding of
// either sum, so pruning never removes a subset that the full enumeration would have listed.
struct Enumerator {
  int m = 0;                        // candidates
  int positions = 1;                // stored positions; later ones have the last one's thresholds
  std::size_t w = 0;                // words per bitset
  std::vector<std::uint64_t> pass;  // [j][positions][w]
  std::vector<double> gain, loss;   // per candidate: C2 - C1 and C1
  std::vector<int> by_gain;         // candidates with gain > 0, highest gain first
  bool prune = true;
  double margin = 0.0;
  const std::uint64_t* Pass(int j, int p) const {
    const int q = std::min(p, positions - 1);
    return pass.data() + (static_cast<std::size_t>(j) * positions + q) * w;
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

  // UB(j, p, R) above.
  double Bound(int j, int p, const std::uint64_t* reach, Work& wk) const {
    const std::uint64_t* sets[64];
    double g[64];
    int l = 0;
    for (const int d : by_gain) {
      if (d >= j) sets[l] = Pass(d, p), g[l++] = gain[d];
    }
    if (l == 0) return 0.0;
    wk.cnt.assign(l, 0);
    for (std::size_t q = 0; q < w; ++q) {
      std::uint64_t r = reach[q];
      for (int a = 0; a < l && r != 0; ++a) {
        const std::uint64_t x = r & sets[a][q];
        wk.cnt[a] += std::popcount(x);
        r &= ~x;
      }
    }
    double ub = 0.0;
    for (int a = 0; a < l; ++a) ub += static_cast<double>(wk.cnt[a]) * g[a];
    return ub;
  }

  // True (and counted) when the subtree below the node cannot enter the best list.
  bool Cut(int j, int p, const std::uint64_t* reach, double score, Work& wk) const {
    if (!prune || !wk.top.full() || m - j < 2) return false;
    if (score + Bound(j, p, reach, wk) >= wk.top.items.back().first - margin) return false;
    wk.pruned += std::uint64_t{1} << (m - j);
    return true;
  }

  void Rec(int j, int p, const std::uint64_t* reach, double score, SubsetMask mask,
           Work& wk) const {
    if (j == m) {
      wk.top.Add(score, mask);
      ++wk.scored;
      return;
    }
    if (Cut(j, p, reach, score, wk)) return;
    Rec(j + 1, p, reach, score, mask, wk);
    std::uint64_t* next = wk.buf.data() + static_cast<std::size_t>(j) * w;
    const double term = Step(j, p, reach, next);
    Rec(j + 1, p + 1, next, score + term, mask | (SubsetMask{1} << j), wk);
  }

  // Eq. 4 of one subset with the search's arithmetic (terms added in candidate order from 0), so
  // the value is bit-identical to the one the search reaches.
  double Score(SubsetMask mask, const std::vector<std::uint64_t>& all,
               std::vector<std::uint64_t>& reach, std::vector<std::uint64_t>& tmp) const {
    reach = all;
    double score = 0.0;
    int p = 0;
    for (int j = 0; j < m; ++j) {
      if (mask >> j & 1u) {
        const double term = Step(j, p, reach.data(), tmp.data());
        score = score + term;
        reach.swap(tmp);
        ++p;
      }
    }
    return score;
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

std::string FlopScoreLimitError(int candidates, const FlopScoreOptions& options) {
  if (candidates <= options.max_candidates) return "";
  return "the dump has " + std::to_string(candidates) +
         " candidate exits, more than the search limit " + std::to_string(options.max_candidates) +
         " (2^" + std::to_string(candidates) +
         " subsets): use --method greedy-th or greedy-efficiency" +
         (candidates <= 62 ? " (or raise --max-candidates, at most 62)" : "");
}

FlopScoreSummary FlopScore(const PlacementProblem& problem, const FlopScoreOptions& options) {
  if (const std::string err = options.Validate(); !err.empty()) throw InputError("flop-score", err);
  if (const std::string err = problem.Check(); !err.empty()) throw InputError("flop-score", err);
  if (const std::string err = CheckHeadCosts(*problem.profile, "flop-score"); !err.empty()) {
    throw InputError(err);
  }
  const int m = problem.candidates();
  if (const std::string err = FlopScoreLimitError(m, options); !err.empty()) {
    throw InputError("flop-score", err);
  }
  const auto t0 = std::chrono::steady_clock::now();
  const int n = problem.n();
  const auto table =
      ToleranceThresholdTable(*problem.scores, problem.ca(), problem.order, options.tolerance);
  Enumerator en;
  en.m = m;
  en.w = (static_cast<std::size_t>(n) + 63) / 64;
  en.prune = options.prune;
  // Positions p and p + 1 with the same threshold at every candidate have the same pass sets;
  // from the last position where some threshold still changes on, one stored set serves all.
  en.positions = 1;
  for (int p = 1; p < m; ++p) {
    for (int j = 0; j < m; ++j) {
      if (table[j][p] != table[j][p - 1]) en.positions = p + 1;
    }
  }
  en.pass.assign(static_cast<std::size_t>(m) * en.positions * en.w, 0);
  for (int j = 0; j < m; ++j) {
    for (int p = 0; p < en.positions; ++p) {
      std::uint64_t* bits =
          en.pass.data() + (static_cast<std::size_t>(j) * en.positions + p) * en.w;
      for (int i = 0; i < n; ++i) {
        if (Passes((*problem.scores)(j, i), table[j][p], problem.order)) {
          bits[i >> 6] |= std::uint64_t{1} << (i & 63);
        }
      }
    }
  }
  Costs(*problem.profile, en.loss, en.gain);  // loss = C1, gain = C2 for now
  double largest = 0.0;
  for (int j = 0; j < m; ++j) {
    largest = std::max({largest, std::abs(en.gain[j]), std::abs(en.loss[j])});
    en.gain[j] -= en.loss[j];
    if (en.gain[j] > 0.0) en.by_gain.push_back(j);
  }
  std::stable_sort(en.by_gain.begin(), en.by_gain.end(),
                   [&](int a, int b) { return en.gain[a] > en.gain[b]; });
  en.margin = 1e-9 * static_cast<double>(n) * std::max(largest, 1e-300);
  // The bound assumes C1 >= 0 (a miss never adds); a negative head cost turns pruning off.
  for (int j = 0; j < m; ++j) {
    if (!(en.loss[j] >= 0.0)) en.prune = false;
  }

  std::vector<std::uint64_t> all(en.w, ~std::uint64_t{0});
  if (n % 64 != 0 && en.w > 0) all.back() = (std::uint64_t{1} << (n % 64)) - 1;

  // Incumbents for the bound: a hill climb on eq. 4 from the empty set, flipping the one
  // candidate that raises the score most while one does; every subset it scores is a real one.
  Top seeds;
  seeds.cap = options.keep_top;
  if (en.prune) {
    std::vector<std::uint64_t> reach(en.w), tmp(en.w);
    SubsetMask cur = 0;
    double cur_score = en.Score(cur, all, reach, tmp);
    seeds.Add(cur_score, cur);
    for (int round = 0; round < 4 * m; ++round) {
      SubsetMask best = cur;
      double best_score = cur_score;
      for (int j = 0; j < m; ++j) {
        const SubsetMask t = cur ^ (SubsetMask{1} << j);
        const double v = en.Score(t, all, reach, tmp);
        seeds.Add(v, t);
        if (v > best_score) best = t, best_score = v;
      }
      if (best == cur) break;
      cur = best;
      cur_score = best_score;
    }
  }

  // Tasks: every include/exclude decision on the first d candidates. Each task searches with its
  // own best list started from the incumbents, so what it scores and prunes, and the answer, do
  // not depend on the thread count or the order the tasks run in.
  const int d = std::min(m, 10);
  const std::uint64_t tasks = std::uint64_t{1} << d;
  const int jobs = std::max(1, options.threads);
  const int threads = ParallelThreads(tasks, jobs);
  std::vector<Top> tops(threads);
  std::vector<std::uint64_t> scored(threads, 0), pruned(threads, 0);
  struct Scratch {  // per worker
    Work work;
    std::vector<std::uint64_t> reach, tmp;
  };
  std::vector<Scratch> scratch(threads);
  for (int id = 0; id < threads; ++id) {
    tops[id].cap = options.keep_top;
    scratch[id].work.buf.resize(static_cast<std::size_t>(std::max(m, 1)) * en.w);
    scratch[id].reach.resize(en.w);
    scratch[id].tmp.resize(en.w);
  }
  ProgressPhase(options.progress, "flop-score", "subsets", std::uint64_t{1} << m);
  ParallelFor(tasks, jobs, [&](std::size_t t, int id) {
    if (ProgressCancelled(options.progress)) return false;
    Scratch& sc = scratch[id];
    Work& wk = sc.work;
    wk.top = seeds;
    wk.scored = wk.pruned = 0;
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
    en.Rec(d, p, reach.data(), score, static_cast<SubsetMask>(t), wk);
    for (const auto& [s, mk] : wk.top.items) tops[id].Add(s, mk);
    scored[id] += wk.scored;
    pruned[id] += wk.pruned;
    ProgressAdvance(options.progress, std::uint64_t{1} << (m - d));  // the task's subsets
    return !ProgressCancelled(options.progress);  // false: stop handing out tasks
  });
  ProgressRethrow(options.progress);

  Top merged;
  merged.cap = options.keep_top;
  FlopScoreSummary s;
  for (int id = 0; id < threads; ++id) {
    for (const auto& [sc, mk] : tops[id].items) merged.Add(sc, mk);
    s.subsets += scored[id];
    s.pruned += pruned[id];
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
  s.message = "best of " + std::to_string(s.subsets + s.pruned) + " subsets by eq. 4";
  if (s.pruned > 0) {
    s.message += " (" + std::to_string(s.subsets) + " scored, " + std::to_string(s.pruned) +
                 " ruled out by the bound)";
  }
  s.message += ", tolerance " + FormatDouble(options.tolerance);
  s.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  return s;
}

}  // namespace exitplan
