#include "optim/exact.hpp"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <sstream>
#include <type_traits>

#include "optim/geometric.hpp"
#include "optim/ippp.hpp"
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

class ExactSolverBase {
 public:
  virtual ~ExactSolverBase() = default;
  virtual void Reset(const ThresholdProblem& p) = 0;
  virtual void Release() = 0;
  virtual int m() const = 0;
  virtual std::vector<int> CutsOf(const std::vector<double>& t) const = 0;
  virtual std::vector<double> ThresholdsOf(const std::vector<int>& cut) const = 0;
  virtual void Assign(const std::vector<int>& cut) = 0;
  virtual Value Current() const = 0;
  virtual int Ascend(double lambda, int max_sweeps) = 0;
  virtual const std::vector<int>& cut() const = 0;
};

// Per sample: the pass bits (bit q set when the sample passes kept exit q's threshold; the final
// exit always passes) and the correctness bits, in W 64-bit words each (W = 1 up to 64 kept exits,
// 2 up to 128). A sample stops at its lowest pass bit.
//
// The hot loop (Update) reads, for every sample in exit q's order, only a 16-bit summary of the
// sample's state: its stop exit f and the next passing exit after f, each with its correctness
// bit. It is kept up to date for the few samples whose pass bits change, so an update reads 4
// bytes of order and gathers 2 bytes per sample: 2 N bytes of summaries stay in cache where the
// full state would not (at N = 4M, 8 MB instead of 32-64 MB).
template <int W>
class ExactSolver final : public ExactSolverBase {
 public:
  // Set up for a problem. The storage is kept between problems (SolveExact keeps one solver per
  // thread): on the shared VM, first-touch page faults of fresh buffers cost as much as sorting.
  void Reset(const ThresholdProblem& p) override {
    p_ = &p;
    n_ = p.n();
    m_ = static_cast<int>(p.kept.size());
    ord_.resize(m_ - 1);
    for (int q = 0; q + 1 < m_; ++q) internal::ConfidenceOrderPacked(p, p.kept[q], ord_[q]);
    st_.assign(static_cast<std::size_t>(n_) * 2 * W, 0);
    for (int i = 0; i < n_; ++i) {
      const std::uint8_t* c = &(*p.correct)(0, i);
      for (int q = 0; q < m_; ++q)
        if (c[p.kept[q]] != 0) st_[static_cast<std::size_t>(i) * 2 * W + W + q / 64] |= Bit(q);
    }
    cost_.resize(m_);
    for (int q = 0; q < m_; ++q) cost_[q] = p.stop_cost[p.kept[q]];
    cut_.clear();
  }

  // Frees the storage (large problems: do not hold gigabytes between solves).
  void Release() override {
    std::vector<std::vector<std::uint32_t>>().swap(ord_);
    std::vector<std::uint64_t>().swap(st_);
    std::vector<std::uint16_t>().swap(sum_);
    std::vector<std::uint64_t>().swap(reach_);
  }

  int m() const override { return m_; }

  // One pass over the samples (their exits are contiguous in the score matrix).
  std::vector<int> CutsOf(const std::vector<double>& t) const override {
    std::vector<int> cut(m_ - 1, 0);
    const int k = p_->k();
    const double* s = p_->scores->data();
    const int* kept = p_->kept.data();
    for (int i = 0; i < n_; ++i, s += k)
      for (int q = 0; q + 1 < m_; ++q) cut[q] += Passes(s[kept[q]], t[q], p_->order);
    return cut;
  }

  double ScoreAt(int q, int j) const { return (*p_->scores)(p_->kept[q], Sample(q, j)); }

  std::vector<double> ThresholdsOf(const std::vector<int>& cut) const override {
    std::vector<double> t(m_ - 1);
    for (int q = 0; q + 1 < m_; ++q) {
      if (cut[q] <= 0) t[q] = internal::ThresholdNone(ScoreAt(q, 0), p_->order);
      else if (cut[q] >= n_) t[q] = internal::ThresholdAll(ScoreAt(q, n_ - 1), p_->order);
      else t[q] = internal::ThresholdBetween(ScoreAt(q, cut[q] - 1), ScoreAt(q, cut[q]), p_->order);
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
    for (int i = 0; i < n_; ++i) {
      std::uint64_t* w = &st_[static_cast<std::size_t>(i) * 2 * W];
      for (int k = 0; k < W; ++k) w[k] = 0;
      w[(m_ - 1) / 64] = Bit(m_ - 1);
    }
    for (int q = 0; q + 1 < m_; ++q) {
      const std::uint32_t* o = ord_[q].data();
      const std::uint64_t bit = Bit(q);
      for (int j = 0; j < cut_[q]; ++j) st_[static_cast<std::size_t>(o[j] & kSampleMask) * 2 * W + q / 64] |= bit;
    }
    sum_.resize(n_);
    cnt_.assign(m_, 0);
    correct_ = 0;
    for (int i = 0; i < n_; ++i) {
      const std::uint16_t v = Summary(i);
      sum_[i] = v;
      ++cnt_[v & 127];
      correct_ += (v >> 7) & 1;
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
    // 1. The samples reaching q in q's order, each as (cut after its run of equal scores << 16 |
    //    correct(q) - correct(down) + 1 << 8 | down), where down is the exit the sample stops at
    //    when it does not stop at q. Walked backwards, so the run's end is known; written from
    //    the end of the buffer.
    reach_.resize(static_cast<std::size_t>(n_) + 1);
    std::uint64_t* const end = reach_.data() + n_ + 1;
    std::uint64_t* out = end;
    {
      const std::uint32_t* const ob = ord_[q].data();
      const std::uint16_t* const sm = sum_.data();
      const std::uint32_t uq = static_cast<std::uint32_t>(q);
      std::uint64_t after = static_cast<std::uint64_t>(n_);
      for (int j = n_ - 1; j >= 0; --j) {
        // The summaries are read in q's order, i.e. at random: fetch them ahead.
        if (j >= 64) __builtin_prefetch(sm + (ob[j - 64] & kSampleMask));
        const std::uint32_t o = ob[j];
        after = (o >> 31) ? static_cast<std::uint64_t>(j + 1) : after;
        const std::uint32_t v = sm[o & kSampleMask];
        const std::uint32_t f = v & 127;
        const std::uint32_t dn = f == uq ? v >> 8 : v;  // the next passing exit and its correctness
        const std::uint64_t dc = ((o >> 30) & 1) + 1 - ((dn >> 7) & 1);
        out[-1] = after << 16 | dc << 8 | (dn & 127);
        out -= f >= uq;
      }
    }
    const std::uint64_t* const rs = out;
    const std::size_t nr = static_cast<std::size_t>(end - out);
    // 2. Counts and correct with nobody stopping at q: the current state minus the reaching
    //    samples in q's prefix (they stop at q now), which go to their next passing exit.
    std::vector<std::int64_t>& cnt = cnt_tmp_;
    cnt = cnt_;
    std::int64_t correct = correct_;
    for (std::size_t k = 0; k < nr && static_cast<int>(rs[k] >> 16) <= cut_[q]; ++k) {
      --cnt[q];
      ++cnt[rs[k] & 255];
      correct -= static_cast<std::int64_t>((rs[k] >> 8) & 3) - 1;
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
      const int d = static_cast<int>(r & 255);
      --cnt[d];
      ++cnt_q;
      total += cq - cost_[d];
      correct += static_cast<std::int64_t>((r >> 8) & 3) - 1;
      const std::uint64_t run = r >> 16;
      if (k + 1 < nr && (rs[k + 1] >> 16) == run) continue;
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
    const std::uint64_t bit = Bit(q);
    const std::uint32_t* const o = ord_[q].data();
    if (best_cut > cut_[q]) {
      for (int j = cut_[q]; j < best_cut; ++j) {
        const std::uint32_t i = o[j] & kSampleMask;
        st_[static_cast<std::size_t>(i) * 2 * W + q / 64] |= bit;
        sum_[i] = Summary(i);
      }
    } else {
      for (int j = best_cut; j < cut_[q]; ++j) {
        const std::uint32_t i = o[j] & kSampleMask;
        st_[static_cast<std::size_t>(i) * 2 * W + q / 64] &= ~bit;
        sum_[i] = Summary(i);
      }
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
  static constexpr std::uint32_t kSampleMask = (std::uint32_t{1} << 30) - 1;
  static std::uint64_t Bit(int q) { return std::uint64_t{1} << (q % 64); }
  // Lowest set bit at or above `from` of sample i's pass words (one exists: the final exit).
  int NextPass(std::size_t i, int from) const {
    const std::uint64_t* w = &st_[i * 2 * W];
    int word = from / 64;
    std::uint64_t bits = w[word] & (~std::uint64_t{0} << (from % 64));
    while (bits == 0) bits = w[++word];
    return word * 64 + __builtin_ctzll(bits);
  }
  bool CorrectAt(std::size_t i, int q) const {
    return (st_[i * 2 * W + W + q / 64] >> (q % 64)) & 1;
  }
  // Sample i's summary: stop exit f | correct(f) << 7 | next passing exit after f << 8 |
  // its correctness << 15 (the next exit is the final one's slot when f is the final exit).
  std::uint16_t Summary(std::uint32_t i) const {
    const int f = NextPass(i, 0);
    const int g = f + 1 < m_ ? NextPass(i, f + 1) : f;
    return static_cast<std::uint16_t>(f | CorrectAt(i, f) << 7 | g << 8 | CorrectAt(i, g) << 15);
  }
  int Sample(int q, int j) const { return static_cast<int>(ord_[q][j] & kSampleMask); }

  const ThresholdProblem* p_ = nullptr;
  int n_ = 0, m_ = 0;
  // Per non-final kept exit, the samples most confident first, packed (ConfidenceOrderPacked).
  std::vector<std::vector<std::uint32_t>> ord_;
  std::vector<std::uint64_t> reach_;  // Update's packed reaching samples
  // Per sample: W words of pass bits, then W words of correctness bits (one cache line).
  std::vector<std::uint64_t> st_;
  std::vector<std::uint16_t> sum_;    // per sample: Summary()
  std::vector<double> cost_;
  std::vector<int> cut_;
  std::vector<std::int64_t> cnt_, cnt_tmp_, cnt_best_;  // samples stopping at each kept exit
  std::int64_t correct_ = 0;
};

// One solver per thread and word count, reused across problems.
ExactSolverBase& SolverFor(int kept) {
  thread_local ExactSolver<1> narrow;
  thread_local ExactSolver<2> wide;
  if (kept <= 64) return narrow;
  return wide;
}

}  // namespace

std::string ExactOptions::Validate() const {
  std::string out;
  if (lambda_iters < 0) out += "exact.lambda_iters = " + std::to_string(lambda_iters) + ": must be >= 0\n";
  if (max_sweeps < 1) out += "exact.max_sweeps = " + std::to_string(max_sweeps) + ": must be >= 1\n";
  return out;
}

ThresholdSummary SolveIpppStart(const ThresholdProblem& p, const IpppOptions& options, double lo,
                                double hi) {
  const int n = p.n();
  if (n <= kIpppStartSamples) return SolveIppp(p, options, lo, hi);
  // Evenly strided samples i_j = floor(j n / S): iPPP's 1000 gradients over all N samples would
  // cost more than the whole ascent, and its answer is only a starting point.
  const int k = p.k();
  ScoreMatrix scores(k, kIpppStartSamples);
  CorrectMatrix correct(k, kIpppStartSamples);
  for (int j = 0; j < kIpppStartSamples; ++j) {
    const Eigen::Index i = static_cast<Eigen::Index>(static_cast<std::int64_t>(j) * n / kIpppStartSamples);
    scores.col(j) = p.scores->col(i);
    correct.col(j) = p.correct->col(i);
  }
  ThresholdProblem sub = p;
  sub.scores = &scores;
  sub.correct = &correct;
  return SolveIppp(sub, options, lo, hi);
}

std::string ExactLimitProblem(const ThresholdProblem& p) {
  if (p.kept.size() > static_cast<std::size_t>(kExactMaxKept)) {
    return "exact supports at most " + std::to_string(kExactMaxKept) + " kept exits, got " +
           std::to_string(p.kept.size());
  }
  if (p.n() >= (1 << 30)) {
    return "exact supports at most 2^30 - 1 fit samples, got " + std::to_string(p.n());
  }
  return "";
}

ThresholdSummary SolveExact(const ThresholdProblem& p, const ExactOptions& o,
                            const std::vector<std::vector<double>>& starts) {
  const auto t0 = std::chrono::steady_clock::now();
  ThresholdSummary s;
  s.method = "exact";
  s.policy.kept = p.kept;
  if (const std::string err = ExactLimitProblem(p); !err.empty()) {
    s.outcome = Outcome::kFailure;
    s.message = err;
    return s;
  }
  // The heuristic starts run before the solver's storage is built, so their scratch and the
  // solver's do not add up; their answers become cuts below, in the same order as before.
  std::vector<std::vector<double>> heuristic;
  if (o.start_heuristics) {
    for (auto* f : {&SolveGeometric, &SolveGeometricQuantile}) {
      ThresholdSummary h = f(p, GeometricOptions{});
      if (h.ok()) heuristic.push_back(h.policy.thresholds);
    }
    ThresholdSummary h = SolveSingle(p);
    if (h.ok()) heuristic.push_back(h.policy.thresholds);
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
  for (const auto& t : heuristic) cut_starts.push_back(solver.CutsOf(t));
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
  // Above 16M sample-exits, give the memory back rather than hold it for the next solve.
  if (static_cast<std::int64_t>(p.n()) * m > (std::int64_t{1} << 24)) solver.Release();
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
