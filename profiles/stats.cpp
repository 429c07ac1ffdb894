#include "profiles/stats.hpp"

#if defined(__x86_64__)
#include <immintrin.h>
#endif

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <memory>
#include <numeric>

#include "profiles/features.hpp"
#include "profiles/parallel.hpp"

namespace exitplan {

double Quantile(std::vector<double> values, double q) {
  return Quantiles(std::move(values), {q})[0];
}

namespace {

// Order-preserving map of a double to an unsigned integer; every NaN (either sign) maps above
// +inf, so NaN counts as greater than every number.
inline std::uint64_t Key(double v) {
  if (v != v) return ~std::uint64_t{0};
  std::uint64_t b;
  std::memcpy(&b, &v, sizeof b);
  return (b >> 63) ? ~b : b | (std::uint64_t{1} << 63);
}

// The values of the given ranks (0-based, ascending order of the values) by one histogram pass
// over the top 16 bits of Key and one pass collecting the few buckets holding those ranks, each
// then selected with nth_element: about two streaming passes however many ranks.
std::vector<double> ValuesAtRanks(const std::vector<double>& v,
                                  const std::vector<std::size_t>& ranks) {
  constexpr int kShift = 48;
  std::vector<std::uint32_t> hist(std::size_t{1} << 16, 0);
  for (double x : v) ++hist[Key(x) >> kShift];
  // Bucket of each rank and the rank inside it.
  std::vector<std::size_t> bucket(ranks.size()), inside(ranks.size());
  for (std::size_t r = 0; r < ranks.size(); ++r) {
    std::size_t below = 0, bkt = 0;
    while (below + hist[bkt] <= ranks[r]) below += hist[bkt++];
    bucket[r] = bkt;
    inside[r] = ranks[r] - below;
  }
  std::vector<std::size_t> wanted(bucket);
  std::sort(wanted.begin(), wanted.end());
  wanted.erase(std::unique(wanted.begin(), wanted.end()), wanted.end());
  std::vector<std::vector<double>> members(wanted.size());
  std::vector<int> slot(hist.size(), -1);
  for (std::size_t w = 0; w < wanted.size(); ++w) {
    slot[wanted[w]] = static_cast<int>(w);
    members[w].reserve(hist[wanted[w]]);
  }
  for (double x : v) {
    const int s = slot[Key(x) >> kShift];
    if (s >= 0) members[static_cast<std::size_t>(s)].push_back(x);
  }
  std::vector<double> out(ranks.size());
  for (std::size_t r = 0; r < ranks.size(); ++r) {
    std::vector<double>& m = members[static_cast<std::size_t>(slot[bucket[r]])];
    const auto at = m.begin() + static_cast<std::ptrdiff_t>(inside[r]);
    std::nth_element(m.begin(), at, m.end());
    out[r] = *at;
  }
  return out;
}

// Quantiles of a large row (n >= 4096) by the radix selection above: reads `values` only.
std::vector<double> LargeRowQuantiles(const std::vector<double>& values,
                                      const std::vector<double>& qs) {
  std::vector<double> out(qs.size(), std::nan(""));
  const std::size_t n = values.size();
  {
    // Large rows: the two ranks around each position, found by a radix histogram.
    std::vector<std::size_t> ranks;
    for (double q : qs) {
      const auto lo =
          std::min(static_cast<std::size_t>(std::floor(q * static_cast<double>(n - 1))), n - 1);
      ranks.push_back(lo);
      ranks.push_back(std::min(lo + 1, n - 1));
    }
    const std::vector<double> at = ValuesAtRanks(values, ranks);
    for (std::size_t t = 0; t < qs.size(); ++t) {
      const double pos = qs[t] * static_cast<double>(n - 1);
      const double lo = at[2 * t], hi = at[2 * t + 1];
      out[t] = lo + (pos - static_cast<double>(ranks[2 * t])) * (hi - lo);
    }
    return out;
  }
}

}  // namespace

std::vector<double> Quantiles(std::vector<double> values, const std::vector<double>& qs) {
  std::vector<double> out(qs.size(), std::nan(""));
  const std::size_t n = values.size();
  if (n == 0) return out;
  if (n >= 4096) return LargeRowQuantiles(values, qs);
  // NaN counts as greater than every number: the NaNs are moved to the end, and a quantile whose
  // rank falls among them is NaN.
  const std::size_t valid = static_cast<std::size_t>(
      std::partition(values.begin(), values.end(), [](double x) { return x == x; }) -
      values.begin());
  const auto end = values.begin() + static_cast<std::ptrdiff_t>(valid);
  std::vector<std::size_t> order(qs.size());
  std::iota(order.begin(), order.end(), 0);
  std::sort(order.begin(), order.end(),
            [&](std::size_t a, std::size_t b) { return qs[a] < qs[b]; });
  // Ascending q: everything left of an earlier selected position is <= it, so each selection
  // runs on the part right of the previous one.
  std::size_t start = 0;
  for (std::size_t o : order) {
    const double pos = qs[o] * static_cast<double>(n - 1);
    const auto lo = std::min(static_cast<std::size_t>(std::floor(pos)), n - 1);
    if (lo >= valid) continue;  // NaN
    const auto at = values.begin() + static_cast<std::ptrdiff_t>(lo);
    std::nth_element(values.begin() + static_cast<std::ptrdiff_t>(start), at, end);
    const double v_lo = *at;
    const double v_hi =
        lo + 1 >= n ? v_lo : (lo + 1 < valid ? *std::min_element(at + 1, end) : std::nan(""));
    out[o] = v_lo + (pos - static_cast<double>(lo)) * (v_hi - v_lo);
    start = lo;
  }
  return out;
}

namespace {

// Rows copied out of the column-major matrix, then selected one by one: for short rows.
std::vector<std::vector<double>> RowQuantilesByCopy(const ScoreMatrix& m,
                                                    const std::vector<double>& qs) {
  const std::size_t k = static_cast<std::size_t>(m.rows()), n = static_cast<std::size_t>(m.cols());
  std::vector<std::vector<double>> out(k);
  // Rows in groups of 4: one pass over the column-major matrix copies 4 rows (reading each column's
  // 4 adjacent values), instead of one pass per row; the groups run in parallel.
  constexpr std::size_t kGroup = 4;
  const std::size_t groups = (k + kGroup - 1) / kGroup;
  const int threads = static_cast<int>(
      std::max<std::size_t>(1, std::min<std::size_t>({static_cast<std::size_t>(FeatureThreads()),
                                                      groups, (k * n * 4) >> 22})));
  // One buffer of kGroup rows per worker, reused for each of its groups (a fresh 4 x N buffer per
  // group would be mapped and zeroed by the kernel every time).
  std::vector<std::vector<std::vector<double>>> buffers(static_cast<std::size_t>(threads));
  ParallelFor(groups, threads, [&](std::size_t g, int worker) {
    std::vector<std::vector<double>>& rows = buffers[static_cast<std::size_t>(worker)];
    if (rows.empty()) rows.assign(kGroup, std::vector<double>(n));
    const std::size_t first = g * kGroup, count = std::min(kGroup, k - first);
    const double* data = m.data();
    for (std::size_t i = 0; i < n; ++i) {
      const double* col = data + i * k + first;
      for (std::size_t r = 0; r < count; ++r) rows[r][i] = col[r];
    }
    // Each row selected where it is (Quantiles would copy it once more).
    for (std::size_t r = 0; r < count; ++r) {
      out[first + r] = n >= 4096 ? LargeRowQuantiles(rows[r], qs) : Quantiles(rows[r], qs);
    }
  });
  return out;
}

// --- Long rows: every row's quantiles in one pass over the matrix, with pivots from a sample.
//
// For each q, a sample of the row gives two values a <= b that very probably enclose the values at
// q's two ranks. One pass over the whole matrix (in its column-major order, every row at once,
// SIMD) counts per row and bracket the values < a, <= a, < b and <= b, and logs the few values
// strictly between a and b; a rank's value is then a, b, or found by nth_element among the
// logged ones. The counts make the answer exact whatever the sample: when a rank is not enclosed
// (or the log overflows its room), that row is redone by the per-row selection. A NaN is never <
// or <= anything, so the counts and logged values are those of the numbers only, and ranks past
// them fall back too (where NaN counts as greater than every number).

// Rows at least this long take the sampled pass.
constexpr std::size_t kSampledMinN = std::size_t{1} << 15;

// Lanes of one vector step: 8 doubles (one AVX-512 register, two AVX2 or four SSE2 ones).
using V8d = double __attribute__((vector_size(64)));
using V8l = std::int64_t __attribute__((vector_size(64)));

struct BracketPass {
  const double* data = nullptr;   // the K x N matrix, flat (column-major)
  std::size_t k = 0, period = 0;  // period = lcm(K, 8): the flat positions' pattern of rows
  int brackets = 0;
  std::vector<double> lo, hi;        // [bracket][period]: a and b of the row at each position
  std::vector<std::size_t> log_cap;  // [bracket]: most values one worker logs
};

// One worker's counts ([bracket][4][period]: < a, <= a, < b, <= b) and, per bracket, the values
// strictly inside it with their period positions, in pass order (room for log_cap, allocated
// but not touched: only the pages written are ever mapped).
struct BracketWorker {
  std::vector<std::int64_t> counts;
  std::vector<std::unique_ptr<double[]>> value;
  std::vector<std::unique_ptr<std::int64_t[]>> where;
  std::vector<std::size_t> size;
  std::vector<std::uint8_t> overflow;
};

// Per instruction set: the set lanes of a comparison mask (true = -1) as bits, and appending the
// lanes of `bits` of value and position to two arrays.
struct MaskBase {
  static unsigned Bits(const V8l& m) {
    unsigned bits = 0;
    for (int x = 0; x < 8; ++x) bits |= static_cast<unsigned>(m[x] != 0) << x;
    return bits;
  }
  static void Append(unsigned bits, const V8d& v, const V8l& pos, double* v_out,
                     std::int64_t* pos_out) {
    for (; bits != 0; bits &= bits - 1) {
      const int x = __builtin_ctz(bits);
      *v_out++ = v[x];
      *pos_out++ = pos[x];
    }
  }
};
#if defined(__x86_64__)
struct MaskAvx2 : MaskBase {
  __attribute__((target("avx2"))) static unsigned Bits(const V8l& m) {
    __m256d lo, hi;
    std::memcpy(&lo, &m, sizeof lo);
    std::memcpy(&hi, reinterpret_cast<const char*>(&m) + sizeof lo, sizeof hi);
    return static_cast<unsigned>(_mm256_movemask_pd(lo) | (_mm256_movemask_pd(hi) << 4));
  }
};
struct MaskAvx512 {
  __attribute__((target("avx512f"))) static unsigned Bits(const V8l& m) {
    __m512i v;
    std::memcpy(&v, &m, sizeof v);
    return _mm512_test_epi64_mask(v, v);
  }
  __attribute__((target("avx512f"))) static void Append(unsigned bits, const V8d& v, const V8l& pos,
                                                        double* v_out, std::int64_t* pos_out) {
    __m512d vv;
    __m512i pp;
    std::memcpy(&vv, &v, sizeof vv);
    std::memcpy(&pp, &pos, sizeof pp);
    _mm512_mask_compressstoreu_pd(v_out, static_cast<__mmask8>(bits), vv);
    _mm512_mask_compressstoreu_epi64(pos_out, static_cast<__mmask8>(bits), pp);
  }
};
#endif

// Brackets [t0, t0 + NB) over the flat positions [begin, end) of the matrix (whole periods from
// a multiple of the period), each group of 8 lanes down the columns with its counts in
// registers.
template <int NB, class Mask>
__attribute__((always_inline)) inline void CountBrackets(const BracketPass& p, BracketWorker& w,
                                                         int t0, std::size_t begin,
                                                         std::size_t end) {
  const std::size_t period = p.period;
  const std::size_t periods = (end - begin) / period;
  for (std::size_t g = 0; g < period; g += 8) {
    V8d a[NB], b[NB];
    V8l lt_a[NB], le_a[NB], lt_b[NB], le_b[NB];
    const V8l pos = {0, 1, 2, 3, 4, 5, 6, 7};
#pragma GCC unroll 4
    for (int t = 0; t < NB; ++t) {
      const std::size_t at = static_cast<std::size_t>(t0 + t) * period + g;
      std::memcpy(&a[t], p.lo.data() + at, sizeof a[t]);
      std::memcpy(&b[t], p.hi.data() + at, sizeof b[t]);
      lt_a[t] = le_a[t] = lt_b[t] = le_b[t] = V8l{};
    }
    const double* v = p.data + begin + g;
    for (std::size_t c = 0; c < periods; ++c, v += period) {
      if (g == 0) {
        // The same columns of the next step, for the first group: the hardware prefetcher does
        // not follow a short strided walk.
        for (std::size_t l = 0; l < period; l += 8) __builtin_prefetch(v + (end - begin) + l);
      }
      V8d val;
      std::memcpy(&val, v, sizeof val);
#pragma GCC unroll 4
      for (int t = 0; t < NB; ++t) {
        const V8l below_a = val <= a[t], below_b = val < b[t];
        lt_a[t] -= val < a[t];  // a true comparison is -1
        le_a[t] -= below_a;
        lt_b[t] -= below_b;
        le_b[t] -= val <= b[t];
        const unsigned bits = Mask::Bits(~below_a & below_b);
        if (bits != 0) {
          const std::size_t tt = static_cast<std::size_t>(t0 + t);
          std::size_t& size = w.size[tt];
          if (size + 8 <= p.log_cap[tt]) {
            Mask::Append(bits, val, pos + static_cast<std::int64_t>(g), w.value[tt].get() + size,
                         w.where[tt].get() + size);
            size += static_cast<std::size_t>(__builtin_popcount(bits));
          } else {
            w.overflow[tt] = 1;
          }
        }
      }
    }
    for (int t = 0; t < NB; ++t) {
      std::int64_t* c = w.counts.data() + 4 * static_cast<std::size_t>(t0 + t) * period + g;
      for (int x = 0; x < 8; ++x) {
        c[x] += lt_a[t][x];
        c[period + x] += le_a[t][x];
        c[2 * period + x] += lt_b[t][x];
        c[3 * period + x] += le_b[t][x];
      }
    }
  }
}

template <class Mask>
__attribute__((always_inline)) inline void CountBody(const BracketPass& p, BracketWorker& w,
                                                     std::size_t begin, std::size_t end) {
  const std::size_t period = p.period;
  const std::size_t full = begin + (end - begin) / period * period;
  // 32 columns at a time: every group of lanes finds them in the cache.
  const std::size_t step = 32 * period;
  for (std::size_t from = begin; from < full; from += step) {
    const std::size_t to = std::min(full, from + step);
    for (int t0 = 0; t0 < p.brackets; t0 += 3) {  // three brackets at a time (registers)
      const int nb = std::min(3, p.brackets - t0);
      if (nb == 3) CountBrackets<3, Mask>(p, w, t0, from, to);
      if (nb == 2) CountBrackets<2, Mask>(p, w, t0, from, to);
      if (nb == 1) CountBrackets<1, Mask>(p, w, t0, from, to);
    }
  }
  for (std::size_t e = full; e < end; ++e) {  // the last positions, fewer than a period
    const double v = p.data[e];
    const std::size_t x = e % period;
    for (int t = 0; t < p.brackets; ++t) {
      const std::size_t tt = static_cast<std::size_t>(t);
      const double a = p.lo[tt * period + x], b = p.hi[tt * period + x];
      std::int64_t* c = w.counts.data() + 4 * tt * period + x;
      c[0] += v < a;
      c[period] += v <= a;
      c[2 * period] += v < b;
      c[3 * period] += v <= b;
      if (v > a && v < b) {
        if (w.size[tt] < p.log_cap[tt]) {
          w.value[tt][w.size[tt]] = v;
          w.where[tt][w.size[tt]++] = static_cast<std::int64_t>(x);
        } else {
          w.overflow[tt] = 1;
        }
      }
    }
  }
}

#if defined(__x86_64__)
__attribute__((target("avx512f"))) void CountAvx512(const BracketPass& p, BracketWorker& w,
                                                    std::size_t begin, std::size_t end) {
  CountBody<MaskAvx512>(p, w, begin, end);
}
__attribute__((target("avx2"))) void CountAvx2(const BracketPass& p, BracketWorker& w,
                                               std::size_t begin, std::size_t end) {
  CountBody<MaskAvx2>(p, w, begin, end);
}
#endif
void CountBase(const BracketPass& p, BracketWorker& w, std::size_t begin, std::size_t end) {
  CountBody<MaskBase>(p, w, begin, end);
}
using CountFn = void (*)(const BracketPass&, BracketWorker&, std::size_t, std::size_t);
CountFn PickCount() {
#if defined(__x86_64__)
  if (__builtin_cpu_supports("avx512f")) return &CountAvx512;
  if (__builtin_cpu_supports("avx2")) return &CountAvx2;
#endif
  return &CountBase;
}

std::uint64_t SplitMix(std::uint64_t& s) {
  std::uint64_t z = (s += 0x9e3779b97f4a7c15ull);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  return z ^ (z >> 31);
}

std::vector<std::vector<double>> SampledRowQuantiles(const ScoreMatrix& m,
                                                     const std::vector<double>& qs) {
  const std::size_t k = static_cast<std::size_t>(m.rows()), n = static_cast<std::size_t>(m.cols());
  const double* data = m.data();
  const int threads = FeatureThreads();
  // The two ranks around each q; one bracket per q.
  const std::size_t nq = qs.size();
  std::vector<std::size_t> rank_lo(nq), rank_hi(nq);
  for (std::size_t t = 0; t < nq; ++t) {
    rank_lo[t] =
        std::min(static_cast<std::size_t>(std::floor(qs[t] * static_cast<double>(n - 1))), n - 1);
    rank_hi[t] = std::min(rank_lo[t] + 1, n - 1);
  }
  // A stratified sample of the columns (one at a random place in each of s equal parts), the
  // same in every run.
  const std::size_t s = std::min<std::size_t>(std::size_t{1} << 16, n / 8);
  std::vector<double> sample(k * s);
  std::uint64_t seed = 0x5eed;
  for (std::size_t i = 0; i < s; ++i) {
    const std::size_t first = i * n / s, last = (i + 1) * n / s;
    const double* col = data + (first + SplitMix(seed) % (last - first)) * k;
    for (std::size_t j = 0; j < k; ++j) sample[j * s + i] = col[j];
  }
  // Sample positions of a and b: 4 standard deviations of the sample rank either side (a
  // position outside the sample means -inf or +inf). A rank not enclosed costs one row's
  // per-row selection.
  std::vector<std::ptrdiff_t> at_a(nq), at_b(nq);
  const auto ss = static_cast<std::ptrdiff_t>(s);
  const double scale = static_cast<double>(s - 1) / static_cast<double>(n - 1);
  for (std::size_t t = 0; t < nq; ++t) {
    const double f = static_cast<double>(rank_lo[t]) / static_cast<double>(n - 1);
    const auto delta = static_cast<std::ptrdiff_t>(
                           std::ceil(4.0 * std::sqrt(static_cast<double>(s) * f * (1.0 - f)))) +
                       8;
    at_a[t] =
        static_cast<std::ptrdiff_t>(std::floor(static_cast<double>(rank_lo[t]) * scale)) - delta;
    at_b[t] =
        static_cast<std::ptrdiff_t>(std::ceil(static_cast<double>(rank_hi[t]) * scale)) + delta;
  }
  std::vector<std::ptrdiff_t> wanted;
  for (std::size_t t = 0; t < nq; ++t) {
    for (std::ptrdiff_t a : {at_a[t], at_b[t]}) {
      if (a >= 0 && a < ss) wanted.push_back(a);
    }
  }
  std::sort(wanted.begin(), wanted.end());
  wanted.erase(std::unique(wanted.begin(), wanted.end()), wanted.end());
  std::vector<double> piv_a(nq * k), piv_b(nq * k);  // [bracket][row]
  std::vector<std::uint8_t> redo(k, 0);              // rows left to the per-row selection
  const double inf = std::numeric_limits<double>::infinity();
  ParallelFor(k, threads, [&](std::size_t j) {
    double* v = sample.data() + j * s;
    if (std::any_of(v, v + s, [](double x) { return x != x; })) {
      redo[j] = 1;  // nth_element needs numbers
      return;
    }
    std::size_t start = 0;
    for (std::ptrdiff_t a : wanted) {
      std::nth_element(v + start, v + a, v + s);
      start = static_cast<std::size_t>(a) + 1;  // v[a] stays where it is
    }
    for (std::size_t t = 0; t < nq; ++t) {
      piv_a[t * k + j] = at_a[t] < 0 ? -inf : v[at_a[t]];
      piv_b[t * k + j] = at_b[t] >= ss ? inf : v[at_b[t]];
    }
  });
  sample = {};

  BracketPass pass;
  pass.data = data;
  pass.k = k;
  pass.period = std::lcm(k, std::size_t{8});
  pass.brackets = static_cast<int>(nq);
  const std::size_t period = pass.period;
  pass.lo.resize(nq * period);
  pass.hi.resize(nq * period);
  for (std::size_t t = 0; t < nq; ++t) {
    for (std::size_t x = 0; x < period; ++x) {
      // A row left to the per-row selection: NaN pivots, which count and log nothing.
      const std::size_t j = x % k;
      pass.lo[t * period + x] = redo[j] ? std::nan("") : piv_a[t * k + j];
      pass.hi[t * period + x] = redo[j] ? std::nan("") : piv_b[t * k + j];
    }
  }
  // Room for 3x the expected logged values per worker (one worker may see nearly everything on
  // a shared machine).
  pass.log_cap.resize(nq);
  for (std::size_t t = 0; t < nq; ++t) {
    const double share =
        static_cast<double>(std::min(at_b[t], ss) - std::max<std::ptrdiff_t>(at_a[t], -1)) /
        static_cast<double>(s);
    pass.log_cap[t] =
        static_cast<std::size_t>(3.0 * share * static_cast<double>(n) * static_cast<double>(k)) +
        4096;
  }

  // The pass: chunks of about 2^18 values (whole periods), taken by the workers in turn.
  const std::size_t total = n * k;
  const std::size_t chunk = std::max<std::size_t>(1, (std::size_t{1} << 18) / period) * period;
  const std::size_t chunks = (total + chunk - 1) / chunk;
  const int jobs = static_cast<int>(std::min<std::size_t>(static_cast<std::size_t>(threads),
                                                          std::max<std::size_t>(1, total >> 22)));
  std::vector<BracketWorker> state(static_cast<std::size_t>(ParallelThreads(chunks, jobs)));
  for (BracketWorker& w : state) {
    w.counts.assign(4 * nq * period, 0);
    for (std::size_t t = 0; t < nq; ++t) {
      w.value.push_back(std::make_unique_for_overwrite<double[]>(pass.log_cap[t]));
      w.where.push_back(std::make_unique_for_overwrite<std::int64_t[]>(pass.log_cap[t]));
    }
    w.size.assign(nq, 0);
    w.overflow.assign(nq, 0);
  }
  static const CountFn count = PickCount();
  ParallelFor(chunks, jobs, [&](std::size_t c, int worker) {
    count(pass, state[static_cast<std::size_t>(worker)], c * chunk,
          std::min(total, (c + 1) * chunk));
  });

  // Each bracket's logged values grouped by row: kept[t][first[t][j] .. first[t][j + 1]).
  std::vector<std::uint32_t> row_of(period);  // a logged period position's row (no division)
  for (std::size_t x = 0; x < period; ++x) row_of[x] = static_cast<std::uint32_t>(x % k);
  std::vector<std::vector<double>> kept(nq);
  std::vector<std::vector<std::size_t>> first(nq, std::vector<std::size_t>(k + 1, 0));
  std::vector<std::uint8_t> overflow(nq, 0);
  ParallelFor(nq, threads, [&](std::size_t t) {
    std::vector<std::size_t>& f = first[t];
    for (const BracketWorker& w : state) {
      overflow[t] |= w.overflow[t];
      const std::int64_t* where = w.where[t].get();
      for (std::size_t i = 0; i < w.size[t]; ++i) ++f[row_of[where[i]] + 1];
    }
    for (std::size_t j = 0; j < k; ++j) f[j + 1] += f[j];
    kept[t].resize(f[k]);
    std::vector<std::size_t> next(f.begin(), f.end() - 1);
    for (const BracketWorker& w : state) {
      const std::int64_t* where = w.where[t].get();
      const double* value = w.value[t].get();
      for (std::size_t i = 0; i < w.size[t]; ++i) kept[t][next[row_of[where[i]]]++] = value[i];
    }
  });
  for (BracketWorker& w : state) w.value.clear(), w.where.clear();

  // Each row's values at its ranks from the counts and its logged values.
  std::vector<std::vector<double>> out(k, std::vector<double>(nq, std::nan("")));
  ParallelFor(k, threads, [&](std::size_t j) {
    if (redo[j]) return;
    for (std::size_t t = 0; t < nq; ++t) {
      std::int64_t c[4] = {0, 0, 0, 0};
      for (const BracketWorker& w : state) {
        for (int q = 0; q < 4; ++q) {
          for (std::size_t x = j; x < period; x += k) c[q] += w.counts[(4 * t + q) * period + x];
        }
      }
      const auto lt_a = static_cast<std::size_t>(c[0]), le_a = static_cast<std::size_t>(c[1]),
                 lt_b = static_cast<std::size_t>(c[2]), le_b = static_cast<std::size_t>(c[3]);
      const auto first_kept = kept[t].begin() + static_cast<std::ptrdiff_t>(first[t][j]);
      const auto last_kept = kept[t].begin() + static_cast<std::ptrdiff_t>(first[t][j + 1]);
      // a == b logs nothing (then lt_b = lt_a <= le_a).
      const std::size_t inside = lt_b > le_a ? lt_b - le_a : 0;
      if (overflow[t] || static_cast<std::size_t>(last_kept - first_kept) != inside ||
          rank_lo[t] < lt_a || rank_hi[t] >= le_b) {
        redo[j] = 1;
        return;
      }
      auto value = [&](std::size_t r) {
        if (r < le_a) return piv_a[t * k + j];
        if (r >= lt_b) return piv_b[t * k + j];
        const auto at = first_kept + static_cast<std::ptrdiff_t>(r - le_a);
        std::nth_element(first_kept, at, last_kept);
        return *at;
      };
      const double v_lo = value(rank_lo[t]);
      const double v_hi = rank_hi[t] == rank_lo[t] ? v_lo : value(rank_hi[t]);
      const double pos = qs[t] * static_cast<double>(n - 1);
      out[j][t] = v_lo + (pos - static_cast<double>(rank_lo[t])) * (v_hi - v_lo);
    }
  });
  for (std::size_t j = 0; j < k; ++j) {
    if (!redo[j]) continue;
    std::vector<double> row(n);
    for (std::size_t i = 0; i < n; ++i) row[i] = data[i * k + j];
    out[j] = Quantiles(std::move(row), qs);
  }
  return out;
}

}  // namespace

std::vector<std::vector<double>> RowQuantiles(const ScoreMatrix& m, const std::vector<double>& qs) {
  const bool qs_ok =
      !qs.empty() && std::all_of(qs.begin(), qs.end(), [](double q) { return q >= 0 && q <= 1; });
  if (static_cast<std::size_t>(m.cols()) >= kSampledMinN && m.rows() > 0 && qs_ok) {
    return SampledRowQuantiles(m, qs);
  }
  return RowQuantilesByCopy(m, qs);
}

double ExpectedCalibrationError(const ScoreMatrix& confidence, const CorrectMatrix& correct,
                                int exit, int bins) {
  const int n = static_cast<int>(confidence.cols());
  std::vector<double> conf_sum(bins, 0.0), right(bins, 0.0), count(bins, 0.0);
  for (int i = 0; i < n; ++i) {
    const double c = confidence(exit, i);
    int b = static_cast<int>(std::ceil(c * bins)) - 1;  // bins (lo, hi], as Guo et al.
    b = std::clamp(b, 0, bins - 1);
    conf_sum[b] += c;
    right[b] += correct(exit, i);
    count[b] += 1.0;
  }
  double ece = 0.0;
  for (int b = 0; b < bins; ++b) {
    if (count[b] > 0) ece += std::abs(right[b] - conf_sum[b]) / n;
  }
  return ece;
}

}  // namespace exitplan
