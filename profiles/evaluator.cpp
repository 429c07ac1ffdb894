#include "profiles/evaluator.hpp"

#include <cassert>
#include <cmath>
#include <limits>

#include "profiles/dump.hpp"
#include "profiles/profile.hpp"

namespace exitplan {
namespace {

// The inner loop, specialised on the comparison so it compiles to a tight scan.
template <bool kDescending>
void Cascade(const ScoreMatrix& scores, const CorrectMatrix& correct, const Policy& policy,
             std::vector<std::int64_t>& count, std::vector<std::int64_t>& right) {
  const int m = static_cast<int>(policy.kept.size());
  const int k = static_cast<int>(scores.rows());
  const int n = static_cast<int>(scores.cols());
  const int* kept = policy.kept.data();
  const double* t = policy.thresholds.data();
  const double* s = scores.data();
  const std::uint8_t* c = correct.data();
  for (int i = 0; i < n; ++i, s += k, c += k) {
    int stop = m - 1;
    for (int q = 0; q < m - 1; ++q) {
      const double v = s[kept[q]];
      if (kDescending ? v >= t[q] : v < t[q]) {
        stop = q;
        break;
      }
    }
    const int e = kept[stop];
    ++count[e];
    right[e] += c[e];
  }
}

}  // namespace

std::string CheckPolicy(const Policy& policy, int k) {
  if (policy.kept.empty()) return "no kept exits";
  for (std::size_t q = 0; q < policy.kept.size(); ++q) {
    const int e = policy.kept[q];
    if (e < 0 || e >= k) {
      return "kept exit " + std::to_string(e + 1) + " is out of range 1.." + std::to_string(k);
    }
    if (q > 0 && e <= policy.kept[q - 1]) return "kept exits must be ascending and distinct";
  }
  if (policy.kept.back() != k - 1) return "the final exit " + std::to_string(k) + " must be kept";
  if (policy.thresholds.size() != policy.kept.size() - 1) {
    return "expected " + std::to_string(policy.kept.size() - 1) +
           " thresholds (one per kept exit before the final), got " +
           std::to_string(policy.thresholds.size());
  }
  for (double t : policy.thresholds) {
    if (std::isnan(t)) return "a threshold is NaN";
  }
  return "";
}

Evaluation Evaluate(const ScoreMatrix& scores, ScoreOrder order, const CorrectMatrix& correct,
                    const std::vector<double>& stop_cost, const Policy& policy) {
  assert(CheckPolicy(policy, static_cast<int>(scores.rows())).empty());
  const int k = static_cast<int>(scores.rows());
  const int n = static_cast<int>(scores.cols());
  std::vector<std::int64_t> count(k, 0), right(k, 0);
  if (order == ScoreOrder::kDescending) {
    Cascade<true>(scores, correct, policy, count, right);
  } else {
    Cascade<false>(scores, correct, policy, count, right);
  }
  Evaluation ev;
  ev.n = n;
  ev.exit_count = count;
  ev.exit_fraction.assign(k, 0.0);
  ev.exit_accuracy.assign(k, std::numeric_limits<double>::quiet_NaN());
  std::int64_t total_right = 0;
  double total_cost = 0.0;
  for (int e = 0; e < k; ++e) {
    total_right += right[e];
    total_cost += static_cast<double>(count[e]) * stop_cost[e];
    if (n > 0) ev.exit_fraction[e] = static_cast<double>(count[e]) / n;
    if (count[e] > 0) ev.exit_accuracy[e] = static_cast<double>(right[e]) / count[e];
  }
  if (n > 0) {
    ev.accuracy = static_cast<double>(total_right) / n;
    ev.mean_cost = total_cost / n;
  }
  return ev;
}

std::vector<int> ExitOfSamples(const ScoreMatrix& scores, ScoreOrder order, const Policy& policy) {
  const int n = static_cast<int>(scores.cols());
  const int m = static_cast<int>(policy.kept.size());
  std::vector<int> out(n);
  for (int i = 0; i < n; ++i) {
    int stop = m - 1;
    for (int q = 0; q < m - 1; ++q) {
      if (Passes(scores(policy.kept[q], i), policy.thresholds[q], order)) {
        stop = q;
        break;
      }
    }
    out[i] = policy.kept[stop];
  }
  return out;
}

Evaluation EvaluateSplit(const SplitData& split, Measure measure, Target target,
                         const CostProfile& profile, const Policy& policy) {
  return Evaluate(split.Scores(measure), split.Order(measure), split.Correct(target),
                  profile.StopCosts(policy.kept), policy);
}

}  // namespace exitplan
