#include "optim/exact.hpp"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <sstream>
#include <type_traits>

#include "optim/geometric.hpp"
#include "optim/internal/cascade.hpp"
#include "optim/single.hpp"

namespace exitplan {
namespace {

// A state's rank in the constrained problem: feasible beats infeasible; among feasible, more
// correct then cheaper; among infeasible, cheaper.
struct Value {
  bool feasible = false;
  std::int64_t correct = 0;
  double cost = 0.0;  // mean cost, computed exactly as the evaluator does
  bool Better(const Value& o) const {
    if (feasible != o.feasible) return feasible;
    if (feasible && correct != o.correct) return correct > o.correct;
    return cost < o.cost;
  }
};

// The per-sample state word: bit q of the low half is set when the sample passes kept exit q's
// threshold (the final exit always passes), bit q of the high half when it is correct at exit q.
// A sample stops at the lowest set pass bit. Word = uint32_t for up to 16 kept exits (the
// smaller the word, the more of the randomly read state stays in cache), uint64_t for up to 32,
// unsigned __int128 for up to 64.
template <class Word>
struct Bits {
  static constexpr int kHalf = static_cast<int>(sizeof(Word) * 4);
  using Half = std::conditional_t<kHalf == 16, std::uint16_t,
                                  std::conditional_t<kHalf == 32, std::uint32_t, std::uint64_t>>;
  static Half Pass(Word w) { return static_cast<Half>(w); }
  static Half Corr(Word w) { return static_cast<Half>(w >> kHalf); }
  static int Lowest(Half h) {  // h != 0
    if constexpr (kHalf <= 32) return __builtin_ctz(h);
    else return __builtin_ctzll(h);
  }
};

class ExactSolverBase {
 public:
  virtual ~ExactSolverBase() = default;
  virtual void Reset(const ThresholdProblem& p) = 0;
  virtual int m() const = 0;
  virtual std::vector<int> CutsOf(const std::vector<double>& t) const = 0;
  virtual std::vector<double> ThresholdsOf(const std::vector<int>& cut) const = 0;
  virtual void Assign(const std::vector<int>& cut) = 0;
  virtual Value Current() const = 0;
  virtual int Ascend(double lambda, int max_sweeps) = 0;
  virtual const std::vector<int>& cut() const = 0;
};

template <class Word>
class ExactSolver final : public ExactSolverBase {
  using B = Bits<Word>;
  using Half = typename B::Half;

 public:
  // Set up for a problem. The storage is kept between problems (SolveExact keeps one solver per
  // thread): on the shared VM, first-touch page faults of fresh buffers cost as much as sorting.
  void Reset(const ThresholdProblem& p) override {
    p_ = &p;
    n_ = p.n();
    m_ = static_cast<int>(p.kept.size());
    vals_.resize(m_ - 1);
    ordb_.resize(m_ - 1);
    for (int q = 0; q + 1 < m_; ++q) {
      internal::ConfidenceOrder(p, p.kept[q], order_);
      vals_[q].resize(n_);
      for (int j = 0; j < n_; ++j) vals_[q][j] = (*p.scores)(p.kept[q], order_[j]);
      ordb_[q].resize(n_);
      for (int j = n_ - 1, after = n_; j >= 0; --j) {
        if (j + 1 < n_ && vals_[q][j + 1] != vals_[q][j]) after = j + 1;
        ordb_[q][j] = static_cast<std::uint64_t>(order_[j]) | static_cast<std::uint64_t>(after) << 32;
      }
    }
    corr_bits_.resize(n_);
    for (int i = 0; i < n_; ++i) {
      Word c = 0;
      for (int q = 0; q < m_; ++q)
        if ((*p.correct)(p.kept[q], i) != 0) c |= Word{1} << (B::kHalf + q);
      corr_bits_[i] = c;
    }
    cost_.resize(m_);
    for (int q = 0; q < m_; ++q) cost_[q] = p.stop_cost[p.kept[q]];
    cut_.clear();
    st_.clear();
  }

  int m() const override { return m_; }

  std::vector<int> CutsOf(const std::vector<double>& t) const override {
    std::vector<int> cut(m_ - 1);
    for (int q = 0; q + 1 < m_; ++q) {
      int c = 0;
      for (int i = 0; i < n_; ++i) c += Passes((*p_->scores)(p_->kept[q], i), t[q], p_->order);
      cut[q] = c;
    }
    return cut;
  }

  std::vector<double> ThresholdsOf(const std::vector<int>& cut) const override {
    std::vector<double> t(m_ - 1);
    for (int q = 0; q + 1 < m_; ++q) {
      const std::vector<double>& v = vals_[q];
      if (cut[q] <= 0) t[q] = internal::ThresholdNone(v.front(), p_->order);
      else if (cut[q] >= n_) t[q] = internal::ThresholdAll(v.back(), p_->order);
      else t[q] = internal::ThresholdBetween(v[cut[q] - 1], v[cut[q]], p_->order);
    }
    return t;
  }

  // Mean cost of exit-slot counts, summed in the evaluator's order (ascending exits).
  double MeanCost(const std::vector<std::int64_t>& cnt) const {
    double total = 0.0;
    for (int q = 0; q < m_; ++q) total += static_cast<double>(cnt[q]) * cost_[q];
    return total / n_;
  }

  void Assign(const std::vector<int>& cut) override {
    cut_ = cut;
    const Word fin = Word{1} << (m_ - 1);
    st_.resize(n_);
    for (int i = 0; i < n_; ++i) st_[i] = corr_bits_[i] | fin;
    for (int q = 0; q + 1 < m_; ++q)
      for (int j = 0; j < cut_[q]; ++j) st_[Sample(q, j)] |= Word{1} << q;
    cnt_.assign(m_, 0);
    correct_ = 0;
    for (int i = 0; i < n_; ++i) {
      const int e = B::Lowest(B::Pass(st_[i]));
      ++cnt_[e];
      correct_ += (B::Corr(st_[i]) >> e) & 1;
    }
  }

  Value Current() const override {
    Value v;
    v.correct = correct_;
    v.cost = MeanCost(cnt_);
    v.feasible = v.cost <= p_->budget;
    return v;
  }

  // One exact coordinate update of exit q. lambda >= 0: maximise correct - lambda * N * mean
  // cost; lambda < 0: the constrained rule of Value::Better. Returns true when the cut changed.
  // Two passes: a branch-free one over q's order that packs the samples reaching q (whether a
  // sample reaches q is unpredictable, so a branch on it stalls), then the scan of the prefixes
  // over those samples only. Cost O(N) + O(reaching) + O(|change|) for the state.
  bool Update(int q, double lambda) {
    const Half before = static_cast<Half>((Half{1} << q) - 1);            // exits before q
    const Half after = static_cast<Half>(~((Half{1} << q) | before));     // after q (final too)
    // 1. The samples reaching q in q's order, each as (cut after its run of equal scores << 8 |
    //    correct(q) - correct(down) + 1 << 6 | down).
    reach_.resize(n_);
    std::uint64_t* out = reach_.data();
    {
      const std::uint64_t* const ob = ordb_[q].data();
      for (int j = 0; j < n_; ++j) {
        const std::uint64_t o = ob[j];
        const Word w = st_[static_cast<std::uint32_t>(o)];
        const Half pass = B::Pass(w), c = B::Corr(w);
        const int d = B::Lowest(static_cast<Half>(pass & after));
        const std::uint64_t dc = ((c >> q) & 1) + 1 - ((c >> d) & 1);
        *out = (o >> 32) << 8 | dc << 6 | static_cast<std::uint64_t>(d);
        out += !(pass & before);
      }
    }
    const std::uint64_t* const rs = reach_.data();
    const std::size_t nr = static_cast<std::size_t>(out - rs);
    // 2. Counts and correct with nobody stopping at q: the current state minus the reaching
    //    samples in q's prefix (they stop at q now), which go to their next passing exit.
    std::vector<std::int64_t>& cnt = cnt_tmp_;
    cnt = cnt_;
    std::int64_t correct = correct_;
    for (std::size_t k = 0; k < nr && static_cast<int>(rs[k] >> 8) <= cut_[q]; ++k) {
      --cnt[q];
      ++cnt[rs[k] & 63];
      correct -= static_cast<std::int64_t>((rs[k] >> 6) & 3) - 1;
    }
    auto score = [&](std::int64_t c, const std::vector<std::int64_t>& k, Value* out) {
      out->correct = c;
      out->cost = MeanCost(k);
      out->feasible = out->cost <= p_->budget;
    };
    auto better = [&](const Value& a, const Value& b) {
      if (lambda >= 0) {
        const double sa = a.correct - lambda * n_ * a.cost, sb = b.correct - lambda * n_ * b.cost;
        if (sa != sb) return sa > sb;
        return a.cost < b.cost;
      }
      return a.Better(b);
    };
    Value best, cur;
    const Value at_current = Current();
    score(correct, cnt, &best);
    std::vector<std::int64_t>& best_cnt = cnt_best_;
    best_cnt = cnt;
    std::int64_t best_correct = correct;
    int best_cut = 0;
    // The running total cost screens candidates cheaply; the exact evaluator-order mean is computed
    // only for candidates that may beat the best so far.
    double total = 0.0;
    for (int e = 0; e < m_; ++e) total += static_cast<double>(cnt[e]) * cost_[e];
    const double slack = 1e-9 * (std::fabs(total) + 1.0);
    const double budget_total = p_->budget * n_;
    // Screening bounds of the best so far, recomputed only when it changes.
    double lambda_bound = 0.0;
    auto rebound = [&] {
      if (lambda >= 0) {
        const double sb = best.correct - lambda * n_ * best.cost;
        lambda_bound = sb - lambda * slack - 1e-9;
      }
    };
    rebound();
    double best_total = total;  // the running total at the best so far
    const double cq = cost_[q];
    std::int64_t cnt_q = cnt[q];  // in a register during the scan; cnt[q] is set before scoring
    // 3. The prefixes: a cut can only fall at the end of a run of equal scores, and only a cut
    //    after a reaching sample gives a new state (a cut with no reaching sample since the
    //    previous one repeats that state, which was either screened out or scored already).
    for (std::size_t k = 0; k < nr; ++k) {
      const std::uint64_t r = rs[k];
      const int d = static_cast<int>(r & 63);
      --cnt[d];
      ++cnt_q;
      total += cq - cost_[d];
      correct += static_cast<std::int64_t>((r >> 6) & 3) - 1;
      const std::uint64_t run = r >> 8;
      if (k + 1 < nr && (rs[k + 1] >> 8) == run) continue;
      bool candidate;
      if (lambda >= 0) {
        candidate = correct - lambda * total >= lambda_bound;
      } else if (total <= budget_total + slack) {
        // An equally accurate state must be cheaper to win; the running totals of two states
        // are within 2 slack of their exact (evaluator-order) costs' order.
        candidate = !best.feasible || correct > best.correct ||
                    (correct == best.correct && total < best_total + 2 * slack);
      } else {
        candidate = !best.feasible && total <= best.cost * n_ + slack;
      }
      if (!candidate) continue;
      cnt[q] = cnt_q;
      score(correct, cnt, &cur);
      if (better(cur, best)) {
        best = cur;
        best_cut = static_cast<int>(run);
        best_cnt = cnt;
        best_correct = correct;
        best_total = total;
        rebound();
      }
    }
    if (best_cut == cut_[q] || !better(best, at_current)) return false;
    // Only the samples between the old and the new cut change their pass bit at q.
    const Word bit = Word{1} << q;
    if (best_cut > cut_[q]) {
      for (int j = cut_[q]; j < best_cut; ++j) st_[Sample(q, j)] |= bit;
    } else {
      for (int j = best_cut; j < cut_[q]; ++j) st_[Sample(q, j)] &= ~bit;
    }
    cut_[q] = best_cut;
    cnt_ = best_cnt;
    correct_ = best_correct;
    return true;
  }

  // Cyclic coordinate ascent over the exits, at most max_sweeps sweeps. An update is idempotent
  // (with the others fixed it keeps the first best cut), so once the cycle comes back to the
  // last exit that changed, every further update would be a no-op: stopping there gives the
  // same state as finishing the sweep and running a confirming one, with fewer updates.
  int Ascend(double lambda, int max_sweeps) override {
    const int k = m_ - 1;
    if (k <= 0) return 1;
    const long limit = static_cast<long>(max_sweeps) * k;
    int last = -1, since = 0;
    long u = 0;
    for (; u < limit; ++u) {
      const int q = static_cast<int>(u % k);
      if (q == last || since == k) break;
      if (Update(q, lambda)) {
        last = q;
        since = 0;
      } else {
        ++since;
      }
    }
    return static_cast<int>((u + k - 1) / k);
  }

  const std::vector<int>& cut() const override { return cut_; }

 private:
  const ThresholdProblem* p_ = nullptr;
  int n_ = 0, m_ = 0;
  // Per non-final kept exit, the samples most confident first, each packed with the cut that
  // follows its run of equal scores (cuts fall only there): sample | cut << 32.
  std::vector<std::vector<std::uint64_t>> ordb_;
  std::vector<std::vector<double>> vals_;  // their scores in that order
  std::vector<int> order_;                 // Reset's scratch
  int Sample(int q, int j) const { return static_cast<std::uint32_t>(ordb_[q][j]); }
  std::vector<std::uint64_t> reach_;               // Update's packed reaching samples
  std::vector<Word> corr_bits_;          // per sample: correctness bits (high half)
  std::vector<Word> st_;                 // per sample: state word (pass bits | correctness bits)
  std::vector<double> cost_;
  std::vector<int> cut_;
  std::vector<std::int64_t> cnt_, cnt_tmp_, cnt_best_;  // samples stopping at each kept exit
  std::int64_t correct_ = 0;
};

// One solver per thread and word size, reused across problems.
ExactSolverBase& SolverFor(int kept) {
  thread_local ExactSolver<std::uint32_t> narrow;
  thread_local ExactSolver<std::uint64_t> medium;
  thread_local ExactSolver<unsigned __int128> wide;
  if (kept <= 16) return narrow;
  if (kept <= 32) return medium;
  return wide;
}

}  // namespace

std::string ExactOptions::Validate() const {
  std::string out;
  if (lambda_iters < 0) out += "exact.lambda_iters = " + std::to_string(lambda_iters) + ": must be >= 0\n";
  if (max_sweeps < 1) out += "exact.max_sweeps = " + std::to_string(max_sweeps) + ": must be >= 1\n";
  return out;
}

ThresholdSummary SolveExact(const ThresholdProblem& p, const ExactOptions& o,
                            const std::vector<std::vector<double>>& starts) {
  const auto t0 = std::chrono::steady_clock::now();
  ThresholdSummary s;
  s.method = "exact";
  s.policy.kept = p.kept;
  if (p.kept.size() > 64) {
    s.outcome = Outcome::kFailure;
    s.message = "exact supports at most 64 kept exits, got " + std::to_string(p.kept.size());
    return s;
  }
  ExactSolverBase& solver = SolverFor(static_cast<int>(p.kept.size()));
  solver.Reset(p);
  const int m = solver.m();
  std::vector<std::vector<int>> cut_starts;
  int sweeps = 0;
  // Lagrangian starts: bisection on lambda; the cheapest-lambda feasible point and the most
  // expensive infeasible one both go on to the constrained polish.
  if (o.lambda_iters > 0) {
    double lo = 0.0, hi = 0.0;
    double min_gap = std::numeric_limits<double>::infinity();
    for (int q = 0; q + 1 < m; ++q) {
      const double g = p.stop_cost[p.kept[q + 1]] - p.stop_cost[p.kept[q]];
      if (g > 0) min_gap = std::min(min_gap, g);
    }
    hi = std::isfinite(min_gap) ? 2.0 / min_gap : 1.0;
    solver.Assign(std::vector<int>(m - 1, 0));
    sweeps += solver.Ascend(0.0, o.max_sweeps);
    if (solver.Current().feasible) {
      cut_starts.push_back(solver.cut());
    } else {
      std::vector<int> feasible_cut, infeasible_cut = solver.cut();
      // Bisection on log(lambda) over [1e-8 hi, hi]: the useful multipliers span decades.
      lo = std::log(hi * 1e-8);
      hi = std::log(hi);
      for (int it = 0; it < o.lambda_iters; ++it) {
        const double mid = 0.5 * (lo + hi);
        const double lam = std::exp(mid);
        sweeps += solver.Ascend(lam, o.max_sweeps);
        if (solver.Current().feasible) {
          hi = mid;
          feasible_cut = solver.cut();
        } else {
          lo = mid;
          infeasible_cut = solver.cut();
        }
      }
      if (!feasible_cut.empty()) cut_starts.push_back(feasible_cut);
      cut_starts.push_back(infeasible_cut);
    }
  }
  if (o.start_heuristics) {
    for (auto* f : {&SolveGeometric, &SolveGeometricQuantile}) {
      ThresholdSummary h = f(p, GeometricOptions{});
      if (h.ok()) cut_starts.push_back(solver.CutsOf(h.policy.thresholds));
    }
    ThresholdSummary h = SolveSingle(p);
    if (h.ok()) cut_starts.push_back(solver.CutsOf(h.policy.thresholds));
  }
  for (const auto& t : starts) {
    if (static_cast<int>(t.size()) == m - 1) cut_starts.push_back(solver.CutsOf(t));
  }
  if (cut_starts.empty()) cut_starts.push_back(std::vector<int>(m - 1, 0));
  Value best;
  std::vector<int> best_cut;
  // A start equal to an earlier start or to an earlier polished state ends where that one did
  // (the ascent is deterministic and stops at once on a converged state): skip it.
  std::vector<std::vector<int>> seen;
  for (const auto& c : cut_starts) {
    if (std::find(seen.begin(), seen.end(), c) != seen.end()) continue;
    seen.push_back(c);
    solver.Assign(c);
    sweeps += solver.Ascend(-1.0, o.max_sweeps);
    seen.push_back(solver.cut());
    const Value v = solver.Current();
    if (best_cut.empty() || v.Better(best)) {
      best = v;
      best_cut = solver.cut();
    }
  }
  s.policy.thresholds = solver.ThresholdsOf(best_cut);
  s.fit = p.Evaluate(s.policy);
  s.iterations = sweeps;
  if (!(s.fit.mean_cost <= p.budget)) {
    s.outcome = Outcome::kInfeasible;
    s.message = "no start could be repaired to meet the budget";
  } else {
    s.outcome = Outcome::kConverged;
    std::ostringstream msg;
    msg << cut_starts.size() << " starts, " << sweeps << " coordinate sweeps";
    s.message = msg.str();
  }
  s.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  return s;
}

}  // namespace exitplan
