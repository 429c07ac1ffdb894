#include "optim/single.hpp"

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstring>
#include <limits>

#include "optim/internal/cascade.hpp"

namespace exitplan {
namespace {

// Order-preserving map of a double to an unsigned integer, larger = more confident under
// `descending` (-0.0 folded into +0.0, which compare equal).
inline std::uint64_t ConfKey(double v, bool descending) {
  v = (descending ? v : -v) + 0.0;
  std::uint64_t u;
  std::memcpy(&u, &v, sizeof u);
  return (u >> 63) ? ~u : (u | (std::uint64_t{1} << 63));
}

}  // namespace

// Mean cost is monotone in the shared threshold, and the answer is the shared threshold that
// stops the fewest values while meeting the budget. A sample stopped by the values with key >= T
// stops at its first kept exit whose score reaches T, so only the records of its running most
// confident score matter: record j (exit q_j, key k_j) moves the sample from the next record's
// exit (or the final exit) to q_j once T <= k_j. The threshold key is found by a radix selection
// on those events (six passes of 11, 11, 11, 11, 11 and 9 bits), each pass counting, per bucket
// of the next digit, how many samples each event moves to and from each exit, so the cost at
// every bucket boundary is the evaluator's own sum of counts times costs. No per-sample-exit
// storage: memory O(2048 K), time O(N K) per pass.
ThresholdSummary SolveSingle(const ThresholdProblem& p) {
  const auto t0 = std::chrono::steady_clock::now();
  ThresholdSummary s;
  s.method = "single";
  const int m = static_cast<int>(p.kept.size());
  const int n = p.n();
  const int k = p.k();
  s.policy.kept = p.kept;
  auto finish = [&] {
    s.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    return s;
  };
  if (m == 1 || n == 0) {
    s.policy.thresholds.assign(m - 1, 0.0);
    if (n > 0 && m > 1) s.policy.thresholds.assign(m - 1, (*p.scores)(p.kept[0], 0));
    s.fit = p.Evaluate(s.policy);
    s.outcome = Outcome::kConverged;
    s.message = "shared threshold " +
                FormatDouble(s.policy.thresholds.empty() ? 0.0 : s.policy.thresholds[0]);
    s.iterations = 1;
    return finish();
  }
  const bool desc = p.order == ScoreOrder::kDescending;
  const double* const scores = p.scores->data();
  const int* const kept = p.kept.data();
  // Mean cost of per-kept-exit counts, summed as the evaluator does (ascending exits).
  auto cost_of = [&](const std::vector<std::int64_t>& cnt) {
    double total = 0.0;
    for (int q = 0; q < m; ++q) total += static_cast<double>(cnt[q]) * p.stop_cost[kept[q]];
    return total / n;
  };
  // Calls f(key, to, from) for every record event of every sample.
  auto for_each_event = [&](auto&& f) {
    const double* col = scores;
    for (int i = 0; i < n; ++i, col += k) {
      std::uint64_t best = ConfKey(col[kept[0]], desc);
      int at = 0;
      for (int q = 1; q + 1 < m; ++q) {
        const std::uint64_t key = ConfKey(col[kept[q]], desc);
        if (key > best) {
          f(best, at, q);
          best = key;
          at = q;
        }
      }
      f(best, at, m - 1);
    }
  };
  // Counts with no early stop, and with every sample at its first kept exit.
  std::vector<std::int64_t> above(m, 0);
  above[m - 1] = n;
  std::vector<std::int64_t> all_first(m, 0);
  all_first[0] = n;
  int passes = 0;
  auto threshold_of_key = [&](std::uint64_t key) {
    // The first value in (exit, sample) order with this key (as a sort would keep it).
    for (int q = 0; q + 1 < m; ++q)
      for (int i = 0; i < n; ++i) {
        const double v = scores[static_cast<std::size_t>(i) * k + kept[q]];
        if (ConfKey(v, desc) == key) return v;
      }
    return 0.0;  // not reached: the key comes from the data
  };
  double t = 0.0;
  if (cost_of(above) <= p.budget) {
    // Nobody needs to stop early: the most confident value stops nobody.
    std::uint64_t top = 0;
    for (int q = 0; q + 1 < m; ++q)
      for (int i = 0; i < n; ++i)
        top = std::max(top, ConfKey(scores[static_cast<std::size_t>(i) * k + kept[q]], desc));
    t = internal::ThresholdNone(threshold_of_key(top), p.order);
    passes = 1;
  } else if (cost_of(all_first) > p.budget) {
    s.outcome = Outcome::kInfeasible;
    s.message = "even stopping every sample at the first kept exit exceeds the budget";
    s.iterations = 0;
    return finish();
  } else {
    // Largest key T with cost(stop every value with key >= T) <= budget.
    constexpr int kWidths[] = {11, 11, 11, 11, 11, 9};
    std::uint64_t prefix = 0;
    int bits = 0;
    std::vector<std::int64_t> hist, cum(m);
    for (int w : kWidths) {
      const int shift = 64 - bits - w;
      const std::size_t buckets = std::size_t{1} << w;
      hist.assign(buckets * m, 0);
      for_each_event([&](std::uint64_t key, int to, int from) {
        if (bits > 0 && (key >> (64 - bits)) != prefix) return;
        std::int64_t* h = &hist[((key >> shift) & (buckets - 1)) * m];
        ++h[to];
        --h[from];
      });
      ++passes;
      cum = above;
      std::size_t b = buckets;
      while (b > 0) {
        --b;
        for (int q = 0; q < m; ++q) cum[q] += hist[b * m + q];
        if (cost_of(cum) <= p.budget) break;
        for (int q = 0; q < m; ++q) above[q] = cum[q];  // events of buckets > the chosen one
      }
      prefix = prefix << w | b;
      bits += w;
    }
    const std::uint64_t tkey = prefix;
    if (desc) {
      t = threshold_of_key(tkey);  // stops exactly the values >= it
    } else {
      // Ascending stops when score < t: the next less confident value, if any.
      std::uint64_t next = 0;
      bool found = false;
      for (int q = 0; q + 1 < m; ++q)
        for (int i = 0; i < n; ++i) {
          const std::uint64_t key =
              ConfKey(scores[static_cast<std::size_t>(i) * k + kept[q]], desc);
          if (key < tkey && (!found || key > next)) {
            next = key;
            found = true;
          }
        }
      t = found ? threshold_of_key(next) : internal::ThresholdAll(threshold_of_key(tkey), p.order);
    }
    ++passes;
  }
  s.policy.thresholds.assign(m - 1, t);
  s.fit = p.Evaluate(s.policy);
  s.iterations = passes;
  s.outcome = Outcome::kConverged;
  s.message = "shared threshold " + FormatDouble(t);
  return finish();
}

}  // namespace exitplan
