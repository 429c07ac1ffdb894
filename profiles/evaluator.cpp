#include "profiles/evaluator.hpp"

#include <immintrin.h>

#include <cassert>
#include <cmath>
#include <limits>

#include "profiles/dump.hpp"
#include "profiles/profile.hpp"

namespace exitplan {
namespace {

// The inner loop, specialised on the comparison so it compiles to a tight scan. The reference
// (and the path for machines without AVX2 and for more than 64 kept exits): stops at the first
// passing exit, one branch per exit.
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

// What both vector kernels set up per policy, for W exits per comparison: the thresholds and exit
// indices of the non-final kept exits padded to whole chunks (the padding lanes compare against a
// threshold nothing passes), each kept slot's exit, and per slot four interleaved copies of the
// counts of samples stopping there and of those right (merged into count/right by Merge).
struct CascadeLanes {
  alignas(64) double t[64];
  alignas(64) std::int64_t idx[64];
  std::uint8_t slot_exit[64];
  int m = 0, chunks = 0, full = 0, base = 0;
  std::uint64_t final_bit = 0;
  std::vector<std::int64_t> cnt = std::vector<std::int64_t>(4 * 64, 0);
  std::vector<std::int64_t> ok = std::vector<std::int64_t>(4 * 64, 0);

  CascadeLanes(const Policy& policy, bool descending, int w) {
    m = static_cast<int>(policy.kept.size());  // 2..64
    chunks = (m - 1 + w - 1) / w;
    full = (m - 1) / w;  // chunks with w real exits
    base = policy.kept[0];
    final_bit = std::uint64_t{1} << (m - 1);
    const double never = descending ? std::numeric_limits<double>::infinity()
                                    : -std::numeric_limits<double>::infinity();
    for (int q = 0; q < w * chunks; ++q) {
      t[q] = q < m - 1 ? policy.thresholds[q] : never;
      idx[q] = q < m - 1 ? policy.kept[q] : policy.kept[0];
    }
    for (int q = 0; q < m; ++q) slot_exit[q] = static_cast<std::uint8_t>(policy.kept[q]);
  }

  void Merge(const Policy& policy, std::vector<std::int64_t>& count,
             std::vector<std::int64_t>& right) const {
    for (int q = 0; q < m; ++q) {
      for (int l = 0; l < 4; ++l) {
        count[policy.kept[q]] += cnt[l * 64 + q];
        right[policy.kept[q]] += ok[l * 64 + q];
      }
    }
  }
};

// Branch-free: whether a sample passes an exit is unpredictable, so the branchy loop above stalls
// on mispredictions (it ran at ~23 % of the memory bandwidth at DRAM scale). Here every kept
// non-final exit is compared, 4 at a time, into one mask; the stop is its lowest set bit (the
// final exit's bit is always set). Scores of consecutive kept exits are loaded directly, others
// gathered; the lanes past the last exit compare against a threshold nothing passes. Four count
// arrays, used in turn, break the store-to-load chain when successive samples stop at the same
// exit. Same results as Cascade (the comparisons are the same IEEE ones, NaN never passes).
template <bool kDescending, bool kContiguous>
__attribute__((target("avx2"))) void CascadeAvx2(const ScoreMatrix& scores,
                                                 const CorrectMatrix& correct, const Policy& policy,
                                                 std::vector<std::int64_t>& count,
                                                 std::vector<std::int64_t>& right) {
  CascadeLanes L(policy, kDescending, 4);
  const int k = static_cast<int>(scores.rows());
  const int n = static_cast<int>(scores.cols());
  const int chunks = L.chunks, full = L.full, base = L.base;
  const double* t = L.t;
  const std::int64_t* idx = L.idx;
  alignas(32) std::int64_t tail_mask[4];
  for (int l = 0; l < 4; ++l) tail_mask[l] = 4 * full + l < L.m - 1 ? -1 : 0;
  const __m256i tail = _mm256_load_si256(reinterpret_cast<const __m256i*>(tail_mask));
  const double* s = scores.data();
  const std::uint8_t* c = correct.data();
  for (int i = 0; i < n; ++i, s += k, c += k) {
    std::uint64_t mask = L.final_bit;
    for (int ch = 0; ch < chunks; ++ch) {
      __m256d v;
      if constexpr (kContiguous) {
        v = ch < full ? _mm256_loadu_pd(s + base + 4 * ch)
                      : _mm256_maskload_pd(s + base + 4 * ch, tail);
      } else {
        v = _mm256_i64gather_pd(
            s, _mm256_load_si256(reinterpret_cast<const __m256i*>(idx + 4 * ch)), 8);
      }
      const __m256d th = _mm256_load_pd(t + 4 * ch);
      const __m256d pass =
          kDescending ? _mm256_cmp_pd(v, th, _CMP_GE_OQ) : _mm256_cmp_pd(v, th, _CMP_LT_OQ);
      mask |= static_cast<std::uint64_t>(_mm256_movemask_pd(pass)) << (4 * ch);
    }
    const int stop = __builtin_ctzll(mask);
    const int lane = (i & 3) * 64 + stop;
    ++L.cnt[lane];
    L.ok[lane] += c[L.slot_exit[stop]];
  }
  L.Merge(policy, count, right);
}

// The same on AVX-512: 8 exits per comparison straight into a mask register, so at K = 32 a
// sample takes 4 comparisons instead of 8 comparisons and 8 mask extractions.
template <bool kDescending, bool kContiguous>
__attribute__((target("avx512f"))) void CascadeAvx512(const ScoreMatrix& scores,
                                                      const CorrectMatrix& correct,
                                                      const Policy& policy,
                                                      std::vector<std::int64_t>& count,
                                                      std::vector<std::int64_t>& right) {
  CascadeLanes L(policy, kDescending, 8);
  const int k = static_cast<int>(scores.rows());
  const int n = static_cast<int>(scores.cols());
  const int chunks = L.chunks, full = L.full, base = L.base;
  const double* t = L.t;
  const std::int64_t* idx = L.idx;
  const __mmask8 tail = static_cast<__mmask8>((1u << ((L.m - 1) - 8 * full)) - 1);
  const double* s = scores.data();
  const std::uint8_t* c = correct.data();
  for (int i = 0; i < n; ++i, s += k, c += k) {
    std::uint64_t mask = L.final_bit;
    for (int ch = 0; ch < chunks; ++ch) {
      __m512d v;
      if constexpr (kContiguous) {
        v = ch < full ? _mm512_loadu_pd(s + base + 8 * ch)
                      : _mm512_maskz_loadu_pd(tail, s + base + 8 * ch);
      } else {
        v = _mm512_i64gather_pd(_mm512_load_si512(idx + 8 * ch), s, 8);
      }
      const __m512d th = _mm512_load_pd(t + 8 * ch);
      const __mmask8 pass = kDescending ? _mm512_cmp_pd_mask(v, th, _CMP_GE_OQ)
                                        : _mm512_cmp_pd_mask(v, th, _CMP_LT_OQ);
      mask |= static_cast<std::uint64_t>(pass) << (8 * ch);
    }
    const int stop = __builtin_ctzll(mask);
    const int lane = (i & 3) * 64 + stop;
    ++L.cnt[lane];
    L.ok[lane] += c[L.slot_exit[stop]];
  }
  L.Merge(policy, count, right);
}

template <bool kDescending>
void Dispatch(const ScoreMatrix& scores, const CorrectMatrix& correct, const Policy& policy,
              std::vector<std::int64_t>& count, std::vector<std::int64_t>& right,
              CascadeKernel kernel) {
  const int m = static_cast<int>(policy.kept.size());
  static const bool avx2 = __builtin_cpu_supports("avx2");
  static const bool avx512 = __builtin_cpu_supports("avx512f");
  if (kernel == CascadeKernel::kAuto) {
    kernel = avx512 ? CascadeKernel::kAvx512 : avx2 ? CascadeKernel::kAvx2 : CascadeKernel::kScalar;
  }
  if ((kernel == CascadeKernel::kAvx512 && !avx512) || (kernel == CascadeKernel::kAvx2 && !avx2)) {
    kernel = CascadeKernel::kScalar;
  }
  if (kernel == CascadeKernel::kScalar || m < 2 || m > 64) {
    return Cascade<kDescending>(scores, correct, policy, count, right);
  }
  bool contiguous = true;
  for (int q = 1; q + 1 < m; ++q) contiguous &= policy.kept[q] == policy.kept[0] + q;
  const int k = static_cast<int>(scores.rows());
  if (!contiguous && k <= 64) {
    // Every exit as a slot, the dropped ones with a NaN threshold (no comparison with NaN passes):
    // contiguous loads of the sample's K scores instead of gathers (a gather costs more than the
    // whole row on CPUs with the gather data sampling mitigation). The same stops.
    Policy all;
    all.kept.resize(k);
    all.thresholds.assign(k - 1, std::numeric_limits<double>::quiet_NaN());
    for (int e = 0; e < k; ++e) all.kept[e] = e;
    for (int q = 0; q + 1 < m; ++q) all.thresholds[policy.kept[q]] = policy.thresholds[q];
    return Dispatch<kDescending>(scores, correct, all, count, right, kernel);
  }
  if (kernel == CascadeKernel::kAvx512) {
    if (contiguous) return CascadeAvx512<kDescending, true>(scores, correct, policy, count, right);
    return CascadeAvx512<kDescending, false>(scores, correct, policy, count, right);
  }
  if (contiguous) return CascadeAvx2<kDescending, true>(scores, correct, policy, count, right);
  CascadeAvx2<kDescending, false>(scores, correct, policy, count, right);
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
  return EvaluateWith(CascadeKernel::kAuto, scores, order, correct, stop_cost, policy);
}

Evaluation EvaluateWith(CascadeKernel kernel, const ScoreMatrix& scores, ScoreOrder order,
                        const CorrectMatrix& correct, const std::vector<double>& stop_cost,
                        const Policy& policy) {
  assert(CheckPolicy(policy, static_cast<int>(scores.rows())).empty());
  const int k = static_cast<int>(scores.rows());
  const int n = static_cast<int>(scores.cols());
  std::vector<std::int64_t> count(k, 0), right(k, 0);
  if (order == ScoreOrder::kDescending) {
    Dispatch<true>(scores, correct, policy, count, right, kernel);
  } else {
    Dispatch<false>(scores, correct, policy, count, right, kernel);
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
