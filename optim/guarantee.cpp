#include "optim/guarantee.hpp"

#include <algorithm>
#include <cmath>
#include <map>
#include <random>
#include <sstream>
#include <stdexcept>

#include "optim/solve.hpp"
#include "profiles/error.hpp"

namespace exitplan {
namespace {

std::string Num(double v) { return FormatDouble(v); }

// The median bound's constant (docs/guarantees.md, step 3): for a sum S of independent losses in
// [0, 1] with mean mu, P(S >= s) <= 2 P(Bin >= floor(s)) and P(S <= a) <= 2 P(Bin <= ceil(a)),
// Bin the binomial of the same size and mean; Bentkus (2004) has e in its place.
constexpr double kMedianFactor = 2.0;

// The Berry-Esseen bound for i.i.d. summands in Shevtsova's form ("On the absolute constants in
// the Berry-Esseen type inequalities for identically distributed summands", 2011):
// sup_x |P(standardised sum <= x) - Phi(x)| <= A (beta3 + B) / sqrt(M), beta3 = E|x - t|^3 / sd^3
// (>= 1, so this implies her 0.4748 beta3 / sqrt(M)). kSigmaCells: the cells of the sd over
// which BerryEsseenFreshTail takes its supremum.
constexpr double kBerryEsseenA = 0.33554, kBerryEsseenB = 0.415;
constexpr int kSigmaCells = 256;

// Bisection for the boundary of a monotone predicate on [lo, hi]: returns the largest x with
// pred(x) true (pred true at lo, false at hi assumed), to `tol`.
template <typename Pred>
double LargestTrue(double lo, double hi, Pred pred, double tol = 1e-10) {
  for (int it = 0; it < 200 && hi - lo > tol; ++it) {
    const double mid = 0.5 * (lo + hi);
    if (pred(mid))
      lo = mid;
    else
      hi = mid;
  }
  return lo;
}

// Bennett (1962) tail of the mean of M independent draws with variance <= v and upper deviation
// <= c: P(mean_M - mu >= h) <= exp(-(M v / c^2) phi(c h / v)), phi(u) = (1 + u) log(1 + u) - u.
double BennettTail(double h, double v, double c, double horizon) {
  if (h <= 0.0) return 1.0;
  if (!std::isfinite(horizon)) return 0.0;
  if (v <= 0.0) return 0.0;
  const double u = c * h / v;
  return std::exp(-(horizon * v / (c * c)) * ((1.0 + u) * std::log1p(u) - u));
}

// Deviation h with BennettTail(h) = delta2.
double BennettWidth(double v, double c, double horizon, double delta2) {
  if (!std::isfinite(horizon) || v <= 0.0) return 0.0;
  double hi = 1.0;
  while (BennettTail(hi, v, c, horizon) > delta2) hi *= 2.0;
  // BennettTail decreases in h: the smallest h with tail <= delta2.
  return hi - LargestTrue(0.0, hi,
                          [&](double g) { return BennettTail(hi - g, v, c, horizon) <= delta2; });
}

// A seeded permutation of 0..n-1 (Fisher-Yates with our own unbiased draw, so the split is the
// same with every standard library).
std::vector<int> Permutation(int n, unsigned seed) {
  std::mt19937_64 rng(0x5DEECE66DULL ^ (static_cast<std::uint64_t>(seed) * 0x9E3779B97F4A7C15ULL));
  std::vector<int> p(n);
  for (int i = 0; i < n; ++i) p[i] = i;
  for (int i = n - 1; i > 0; --i) {
    const std::uint64_t range = static_cast<std::uint64_t>(i) + 1;
    const std::uint64_t limit = ~0ULL - (~0ULL % range);
    std::uint64_t r;
    do r = rng();
    while (r >= limit);
    std::swap(p[i], p[static_cast<int>(r % range)]);
  }
  return p;
}

struct SubProblem {
  ScoreMatrix scores;
  CorrectMatrix correct;
  ThresholdProblem problem;
};

void MakeSub(const ThresholdProblem& p, const std::vector<int>& idx, SubProblem* out) {
  out->scores.resize(p.k(), static_cast<Eigen::Index>(idx.size()));
  out->correct.resize(p.k(), static_cast<Eigen::Index>(idx.size()));
  for (std::size_t j = 0; j < idx.size(); ++j) {
    out->scores.col(static_cast<Eigen::Index>(j)) = p.scores->col(idx[j]);
    out->correct.col(static_cast<Eigen::Index>(j)) = p.correct->col(idx[j]);
  }
  out->problem = p;
  out->problem.scores = &out->scores;
  out->problem.correct = &out->correct;
}

double Mean(const std::vector<double>& x) {
  double s = 0.0;
  for (double v : x) s += v;
  return x.empty() ? 0.0 : s / static_cast<double>(x.size());
}

// The per-sample cost losses x = (cost - cmin) / span, clamped to [0, 1] (0 when span is 0).
std::vector<double> NormCost(const std::vector<double>& c, double cmin, double span) {
  std::vector<double> x(c.size());
  for (std::size_t i = 0; i < c.size(); ++i) {
    x[i] = span > 0.0 ? std::clamp((c[i] - cmin) / span, 0.0, 1.0) : 0.0;
  }
  return x;
}

// The sample variance of x about mu (its mean): the sum of squares over max(1, size - 1).
double SampleVariance(const std::vector<double>& x, double mu) {
  double s = 0.0;
  for (double u : x) s += (u - mu) * (u - mu);
  return s / static_cast<double>(std::max<std::size_t>(1, x.size() - 1));
}

}  // namespace

std::string ToString(GuaranteeBound bound) {
  switch (bound) {
    case GuaranteeBound::kWsr:
      return "wsr";
    case GuaranteeBound::kWsrUnrounded:
      return "wsr-unrounded";
    case GuaranteeBound::kHoeffdingBentkus:
      break;
  }
  return "hoeffding-bentkus";
}

GuaranteeBound GuaranteeBoundFromString(const std::string& text, const std::string& what) {
  if (text == "wsr") return GuaranteeBound::kWsr;
  if (text == "wsr-unrounded") return GuaranteeBound::kWsrUnrounded;
  if (text == "hoeffding-bentkus") return GuaranteeBound::kHoeffdingBentkus;
  if (text == "wsr-deterministic") {  // the spelling of earlier versions
    throw InputError(what,
                     "'wsr-deterministic' is now 'wsr-unrounded' (every test is "
                     "deterministic; it leaves out the stratified-binomial test)");
  }
  throw InputError(
      what, "unknown bound '" + text + "' (expected wsr, wsr-unrounded or hoeffding-bentkus)");
}

bool IsWsr(GuaranteeBound bound) {
  return bound == GuaranteeBound::kWsr || bound == GuaranteeBound::kWsrUnrounded;
}

std::string GuaranteeOptions::Validate() const {
  std::string out;
  if (!(level == 0.0 || (level > 0.0 && level < 1.0))) {
    out += "guarantee = " + Num(level) +
           ": must be a probability 1 - delta in (0, 1), or 0 for none\n";
  }
  if (!(horizon >= 1.0)) {
    out += "horizon = " + Num(horizon) + ": must be a number of samples >= 1, or inf\n";
  }
  if (!std::isnan(search_fraction) && !(search_fraction > 0.0 && search_fraction < 1.0)) {
    out += "guarantee search_fraction = " + Num(search_fraction) + ": must be in (0, 1)\n";
  }
  return out;
}

double GuaranteeOptions::SearchFraction(Method method, bool accuracy_drop) const {
  if (!std::isnan(search_fraction)) return search_fraction;
  if (NestedPath(method, accuracy_drop)) return kPilotFraction;
  return method == Method::kExact && !accuracy_drop ? kSearchFractionExact : kSearchFraction;
}

double GuaranteeOptions::PlacementSearchFraction(Method method, bool accuracy_drop) const {
  if (!std::isnan(search_fraction)) return search_fraction;
  return method == Method::kExact && !accuracy_drop ? kSearchFractionExact : kSearchFraction;
}

bool GuaranteeOptions::NestedPath(Method method, bool accuracy_drop) const {
  return method == Method::kSingle && !accuracy_drop &&
         ((std::isfinite(horizon) && IsWsr(bound)) || bound == GuaranteeBound::kHoeffdingBentkus);
}

// ---- Bounds ----

double BernoulliKl(double a, double b) {
  auto term = [](double p, double q) {
    if (p <= 0.0) return 0.0;
    if (q <= 0.0) return std::numeric_limits<double>::infinity();
    return p * std::log(p / q);
  };
  return term(a, b) + term(1.0 - a, 1.0 - b);
}

double BinomialCdf(std::int64_t k, std::int64_t n, double p) {
  if (k < 0) return 0.0;
  if (k >= n) return 1.0;
  if (p <= 0.0) return 1.0;
  if (p >= 1.0) return 0.0;
  const double lp = std::log(p), lq = std::log1p(-p);
  const double lgn = std::lgamma(static_cast<double>(n) + 1.0);
  auto pmf = [&](std::int64_t i) {
    return std::exp(lgn - std::lgamma(static_cast<double>(i) + 1.0) -
                    std::lgamma(static_cast<double>(n - i) + 1.0) + static_cast<double>(i) * lp +
                    static_cast<double>(n - i) * lq);
  };
  // Sum the tail that lies away from the mode, from its end nearest the mode outward (terms
  // decrease geometrically there; each term from the previous one by the pmf's ratio); the other
  // tail is 1 minus it.
  const double mode = static_cast<double>(n) * p;
  const double odds = std::exp(lp - lq);  // p / q
  const double nd = static_cast<double>(n);
  double sum = 0.0;
  if (static_cast<double>(k) < mode) {
    double t = pmf(k);
    for (std::int64_t i = k; i >= 0; --i) {
      sum += t;
      if (t < 1e-300 || t < 1e-17 * sum) break;
      // pmf(i - 1) = pmf(i) * i / (n - i + 1) / odds
      t *= static_cast<double>(i) / ((nd - static_cast<double>(i) + 1.0) * odds);
    }
    return std::clamp(sum, 0.0, 1.0);
  }
  double t = pmf(k + 1);
  for (std::int64_t i = k + 1; i <= n; ++i) {
    sum += t;
    if (t < 1e-300 || t < 1e-17 * sum) break;
    // pmf(i + 1) = pmf(i) * (n - i) / (i + 1) * odds
    t *= (nd - static_cast<double>(i)) / (static_cast<double>(i) + 1.0) * odds;
  }
  return std::clamp(1.0 - sum, 0.0, 1.0);
}

double HoeffdingPValue(double mean, std::int64_t n, double m) {
  if (mean >= m) return 1.0;
  return std::min(1.0, std::exp(-static_cast<double>(n) * BernoulliKl(std::max(0.0, mean), m)));
}

namespace {

// factor P(Bin(n, m) <= ceil(n mean)), at most 1: Bentkus' lower tail (factor e) and the median
// bound's (factor 2).
double ScaledBinomialLowerTail(double factor, double mean, std::int64_t n, double m) {
  const auto k = static_cast<std::int64_t>(std::ceil(static_cast<double>(n) * mean - 1e-9));
  return std::min(1.0, factor * BinomialCdf(k, n, m));
}

}  // namespace

double BentkusPValue(double mean, std::int64_t n, double m) {
  return ScaledBinomialLowerTail(std::exp(1.0), mean, n, m);
}

double MedianPValue(double mean, std::int64_t n, double m) {
  return ScaledBinomialLowerTail(kMedianFactor, mean, n, m);
}

double HoeffdingMedianPValue(double mean, std::int64_t n, double m) {
  return std::min(HoeffdingPValue(mean, n, m), MedianPValue(mean, n, m));
}

double HoeffdingBentkusPValue(double mean, std::int64_t n, double m, bool binary) {
  if (binary) {
    const auto k = static_cast<std::int64_t>(std::llround(static_cast<double>(n) * mean));
    return BinomialCdf(k, n, m);
  }
  return std::min(HoeffdingPValue(mean, n, m), BentkusPValue(mean, n, m));
}

bool WsrRejects(const std::vector<double>& x, double m, double delta) {
  const double n = static_cast<double>(x.size());
  const double log_target = std::log(1.0 / delta);
  double sum = 0.0, sum_sq = 0.0, log_k = 0.0;
  double sigma2 = 0.25;  // sigma2_{i-1}: the prior value before any sample
  for (std::size_t i = 0; i < x.size(); ++i) {
    const double nu = std::min(1.0, std::sqrt(2.0 * log_target / (n * sigma2)));
    const double f = 1.0 - nu * (x[i] - m);
    if (f <= 0.0) return false;  // only when x = 1 and nu = 1, m = 0: capital lost
    log_k += std::log(f);
    if (log_k >= log_target) return true;
    // Running estimates of RCPS (Bates et al. 2021): mu_t = (sum + 1/2) / (t + 1), sigma2_t =
    // (sum (x - mu)^2 + 1/4) / (t + 1).
    sum += x[i];
    const double t = static_cast<double>(i + 1);
    const double mu = (sum + 0.5) / (t + 1.0);
    sum_sq += (x[i] - mu) * (x[i] - mu);
    sigma2 = (sum_sq + 0.25) / (t + 1.0);
  }
  return false;
}

double WsrUpperBound(const std::vector<double>& x, double delta) {
  if (!WsrRejects(x, 1.0 - 1e-12, delta)) return 1.0;
  // Rejection of H0: mean >= m is monotone in m up to the bets' dependence on m (none here).
  return 1.0 - LargestTrue(
                   0.0, 1.0, [&](double u) { return WsrRejects(x, 1.0 - u, delta); }, 1e-9);
}

double HoeffdingBentkusUpperBound(const std::vector<double>& x, double delta, bool binary) {
  const double mean = Mean(x);
  const auto n = static_cast<std::int64_t>(x.size());
  if (!(HoeffdingBentkusPValue(mean, n, 1.0 - 1e-12, binary) <= delta)) return 1.0;
  return 1.0 -
         LargestTrue(
             0.0, 1.0,
             [&](double u) { return HoeffdingBentkusPValue(mean, n, 1.0 - u, binary) <= delta; },
             1e-9);
}

MeanInterval ClopperPearson(std::int64_t k, std::int64_t n, double level) {
  MeanInterval out;
  if (n <= 0) return out;
  const double a = 0.5 * (1.0 - level);
  // P(Bin(n, p) >= k) rises in p and P(Bin(n, p) <= k) falls: the end points solve each = a.
  if (k > 0)
    out.lo = LargestTrue(
        0.0, 1.0, [&](double p) { return 1.0 - BinomialCdf(k - 1, n, p) < a; }, 1e-12);
  if (k < n)
    out.hi = LargestTrue(
        0.0, 1.0, [&](double p) { return BinomialCdf(k, n, p) > a; }, 1e-12);
  return out;
}

double CoupledBinomialPValue(double mean, std::int64_t n, double m) {
  mean = std::clamp(mean, 0.0, 1.0);
  if (n <= 0 || mean >= m) return 1.0;
  double best = HoeffdingPValue(mean, n, m);
  const auto k0 = static_cast<std::int64_t>(std::ceil(static_cast<double>(n) * mean - 1e-9));
  for (std::int64_t k = std::max<std::int64_t>(k0, 0); k < n; ++k) {
    const double num = BinomialCdf(k, n, m);
    // num rises with k and the denominator is at most 1: no larger k can do better.
    if (num >= best) break;
    best = std::min(best, num / BinomialCdf(k, n, mean));
  }
  return std::min(1.0, best);
}

MeanInterval BoundedMeanInterval(const std::vector<double>& x, double level) {
  MeanInterval out;
  const auto n = static_cast<std::int64_t>(x.size());
  if (n == 0) return out;
  const double a = 0.5 * (1.0 - level);
  double sum = 0.0;
  for (double v : x) sum += std::clamp(v, 0.0, 1.0);
  const double mean = std::clamp(sum / static_cast<double>(n), 0.0, 1.0);
  // The p-value falls in m: the interval's upper end is the largest m it does not reject; the
  // lower end is 1 minus the upper end for 1 - x.
  auto upper = [&](double mu) {
    if (mu >= 1.0) return 1.0;
    return LargestTrue(
        mu, 1.0, [&](double m) { return CoupledBinomialPValue(mu, n, m) > a; }, 1e-12);
  };
  out.hi = upper(mean);
  out.lo = 1.0 - upper(1.0 - mean);
  return out;
}

double BerryEsseenFreshTail(double m, double b, double horizon, double var_cap) {
  if (b >= 1.0) return 0.0;
  if (m >= b) return 1.0;
  if (!std::isfinite(horizon)) return 0.0;
  // The largest sd any law on [0, 1] with a mean t <= m can have (the running maximum makes the
  // bound rise in m), and the cap's.
  const double mm = std::clamp(m, 0.0, 0.5);
  double s_max = std::sqrt(mm * (1.0 - mm));
  if (!std::isnan(var_cap)) s_max = std::min(s_max, std::sqrt(std::max(0.0, var_cap)));
  if (!(s_max > 0.0)) return 0.0;  // a point mass at m < b never exceeds b
  const double rt = std::sqrt(horizon), d = b - m;
  const double step = 0.5 / kSigmaCells;
  double best = 0.0;
  // Cells [lo, hi] of the sd sigma, fixed on (0, 1/2] (the last one cut at s_max), from the top:
  // on a cell the Gaussian tail is at most its value at hi, the Berry-Esseen term at most its
  // value at lo, Bennett's tail at most its value at hi (it rises in the variance), so once
  // Bennett's tail at a cell's top is below the best cell so far, no lower cell can beat it.
  for (int i = static_cast<int>(std::ceil(s_max / step)) - 1; i >= 0; --i) {
    const double lo = step * i, hi = std::min(step * (i + 1), s_max);
    const double bennett = BennettTail(d, hi * hi, 1.0, horizon);
    if (bennett <= best) break;
    double cell = bennett;
    if (lo > 0.0) {
      // A law on [0, 1] with sd >= lo has its mean t in [tau, 1 - tau], tau(1 - tau) = lo^2, so
      // |x - t| <= 1 - tau and E|x - t|^3 <= sigma^2 (1 - tau): beta3 <= (1 - tau) / lo.
      const double tau = 0.5 * (1.0 - std::sqrt(std::max(0.0, 1.0 - 4.0 * lo * lo)));
      const double beta3 = (1.0 - tau) / lo;
      const double gauss = 0.5 * std::erfc(rt * d / (hi * std::sqrt(2.0)));
      cell = std::min(cell, gauss + kBerryEsseenA * (beta3 + kBerryEsseenB) / rt);
    }
    best = std::max(best, cell);
  }
  return std::min(1.0, best);
}

double FreshMeanTail(double m, double b, double horizon, double var_cap) {
  if (b >= 1.0) return 0.0;
  if (m >= b) return 1.0;
  if (!std::isfinite(horizon)) return 0.0;
  const double hoeffding = std::exp(-horizon * BernoulliKl(b, m));
  // The median bound (docs/guarantees.md, step 3): P(S >= s) <= 2 P(Bin(M, m) >= floor(s)) for
  // a sum S of M independent losses in [0, 1] with mean m (Bentkus' constant e replaced by 2).
  const auto mm = static_cast<std::int64_t>(std::llround(horizon));
  const auto s = static_cast<std::int64_t>(std::floor(static_cast<double>(mm) * b + 1e-9));
  const double median = kMedianFactor * (1.0 - BinomialCdf(s - 1, mm, m));
  const double q = std::min({1.0, hoeffding, median});
  // The Berry-Esseen form helps only where its additive term is below q.
  if (kBerryEsseenA * (1.0 + kBerryEsseenB) / std::sqrt(horizon) >= q) return q;
  return std::min(q, BerryEsseenFreshTail(m, b, horizon, var_cap));
}

double FreshMeanCap(double b, double horizon, double delta2) {
  if (!std::isfinite(horizon)) return b;
  if (b <= 0.0) return 0.0;
  if (FreshMeanTail(0.0, b, horizon) > delta2) return 0.0;
  return LargestTrue(0.0, b, [&](double m) { return FreshMeanTail(m, b, horizon) <= delta2; });
}

double VarianceTail(std::int64_t n, double v, double g) {
  if (!(g > 0.0)) return 1.0;
  const double nd = static_cast<double>(n);
  if (n < 1 || g > nd) return 0.0;  // every y_i <= 1
  if (!(v > 0.0)) return 0.0;       // y_i = 0 almost surely
  // T = K (1 + v) - n v with K ~ Bin(n, p), p = v / (1 + v). In units u = t - g (shifted so that
  // the sums below stay small): for h in [u_(m-1), u_m) the terms with u_k > h are k >= m, and
  // E (T - h)_+^2 = B2 - 2 h B1 + h^2 B0 over them; (B2 - 2 h B1 + h^2 B0) / h^2 (h < 0 here) is
  // smallest at h = B2 / B1 within the interval, else at one of its ends.
  const double p = v / (1.0 + v), step = 1.0 + v;
  const double mean_k = nd * p, sd_k = std::sqrt(nd * p * (1.0 - p));
  const auto k_top = static_cast<std::int64_t>(std::min(nd, std::ceil(mean_k + 30.0 * sd_k + 5.0)));
  // Below g - 12 sd of T (plus one step) the ratio only grows toward 1: stop there.
  const double u_stop = -(12.0 * step * sd_k + step + 1.0);
  const double lp = std::log(p), lq = std::log1p(-p);
  const double lgn = std::lgamma(nd + 1.0);
  double pmf = std::exp(lgn - std::lgamma(static_cast<double>(k_top) + 1.0) -
                        std::lgamma(nd - static_cast<double>(k_top) + 1.0) +
                        static_cast<double>(k_top) * lp + (nd - static_cast<double>(k_top)) * lq);
  const double odds = p / (1.0 - p);
  auto u_of = [&](std::int64_t k) { return static_cast<double>(k) * step - nd * v - g; };
  double b0 = 0.0, b1 = 0.0, b2 = 0.0, best = 1.0;
  auto ratio = [&](double h) { return (b2 - 2.0 * h * b1 + h * h * b0) / (h * h); };
  for (std::int64_t k = k_top; k >= 0; --k) {
    const double u = u_of(k);
    b0 += pmf;
    b1 += pmf * u;
    b2 += pmf * u * u;
    // h in [u_(k-1), min(u_k, 0)): the terms k' >= k are those above h.
    const double lo = k > 0 ? u_of(k - 1) : -std::numeric_limits<double>::infinity();
    const double hi = std::min(u, 0.0);
    if (lo < hi) {
      const double hh = std::isfinite(lo) ? lo : hi - 1.0;
      best = std::min(best, ratio(hh));
      if (hi < 0.0) best = std::min(best, ratio(hi));
      if (b1 < 0.0) {
        const double h = b2 / b1;  // < 0
        if (h > lo && h < hi) best = std::min(best, ratio(h));
      }
    }
    if (lo < u_stop) break;
    // pmf(k - 1) = pmf(k) k / ((n - k + 1) odds)
    pmf *= static_cast<double>(k) / ((nd - static_cast<double>(k) + 1.0) * odds);
  }
  return std::clamp(best, 0.0, 1.0);
}

double BetPassBound(const BetTest& test, double mu) {
  if (test.rounded) return StratifiedPassBound(test.k, test.n, mu);
  if (!std::isnan(test.tau)) {
    if (!(mu > test.tau)) return 1.0;
    const double hb = std::min(1.0, HoeffdingMedianPValue(test.tau, test.n, mu));
    if (std::isnan(test.fresh_var)) return hb;
    // With the cap V (a candidate whose variance is <= V): a pass needs the sum of mu - x_i
    // (each <= 1, mean 0, variance <= V) to reach n (mu - tau).
    return std::min(
        hb, VarianceTail(test.n, test.fresh_var, static_cast<double>(test.n) * (mu - test.tau)));
  }
  if (!(mu >= test.theta)) return 1.0;  // below theta the capital may grow: no bound
  if (test.ell == std::numeric_limits<double>::infinity()) return 0.0;
  const double log_bound =
      -test.ell + static_cast<double>(test.n) * std::log1p(-test.nu * (mu - test.theta));
  return std::min(1.0, std::exp(log_bound));
}

bool BetTestPasses(const BetTest& test, const std::vector<double>& x) {
  if (test.rounded) return RoundedTestPasses(test, x);
  if (!std::isnan(test.tau)) return !x.empty() && Mean(x) <= test.tau;
  if (std::isinf(test.ell)) return test.ell < 0.0;
  double log_k = 0.0;
  for (double v : x) log_k += std::log1p(-test.nu * (v - test.theta));
  return log_k >= test.ell;
}

double BetFreshTail(const BetTest& test, double t, double b, double horizon) {
  const double q = FreshMeanTail(t, b, horizon, test.fresh_var);
  if (std::isnan(test.fresh_var) || !std::isfinite(horizon)) return q;
  const double v = std::max(test.fresh_var, 1e-12);
  // A fresh mean above b: the sum of x_i - t (each <= 1, mean 0, variance <= V) above M (b - t).
  return std::min({q, BennettTail(b - t, v, 1.0, horizon),
                   VarianceTail(std::llround(horizon), v, horizon * (b - t))});
}

bool VarianceCapPasses(const BetTest& test, const std::vector<double>& x, double centre) {
  if (std::isnan(test.fresh_var)) return true;
  if (!(test.var_nu > 0.0) || !(test.var_delta > 0.0)) return false;
  double log_k = 0.0;
  for (double v : x)
    log_k += std::log1p(-test.var_nu * ((v - centre) * (v - centre) - test.fresh_var));
  return log_k >= std::log(1.0 / test.var_delta);
}

namespace {

// Q(t_k) on the grid t_k = theta + (b - theta) k / grid, k = 0..grid.
std::vector<double> FreshTailGrid(const BetTest& test, double b, double horizon, int grid) {
  std::vector<double> q(grid + 1);
  for (int k = 0; k <= grid; ++k) {
    q[k] =
        k == grid ? 1.0 : BetFreshTail(test, test.theta + (b - test.theta) * k / grid, b, horizon);
  }
  return q;
}

double BetTestBoundOnGrid(const BetTest& test, double b, const std::vector<double>& q) {
  const int grid = static_cast<int>(q.size()) - 1;
  double total = q[0];
  for (int k = 1; k <= grid; ++k) {
    const double t = test.theta + (b - test.theta) * (k - 1) / grid;
    total += BetPassBound(test, t) * (q[k] - q[k - 1]);
  }
  return total;
}

}  // namespace

double BetTestBound(const BetTest& test, double b, double horizon, int grid) {
  if (b >= 1.0) return 0.0;  // no mean of losses in [0, 1] exceeds 1
  return BetTestBoundOnGrid(test, b, FreshTailGrid(test, b, horizon, grid));
}

namespace {

// What ChooseBetTest and ChooseMeanTest share: a test of n samples with the variance cap's share
// of delta_all set aside (none without a cap).
BetTest MeanTestBase(int n, double fresh_var, double var_delta) {
  BetTest t;
  t.n = n;
  t.fresh_var = fresh_var;
  t.var_delta = std::isnan(fresh_var) ? 0.0 : var_delta;
  return t;
}

// Sets t.theta, the largest reference point whose fresh-sample tail is <= delta / 100; false
// (t unchanged) when the inputs admit no test or even theta = 0 misses it.
bool SetTheta(BetTest& t, double b, double horizon, double delta) {
  if (!(b > 0.0) || t.n < 1 || !std::isfinite(horizon) || !(delta > 0.0)) return false;
  const double q_target = 0.01 * delta;
  if (BetFreshTail(t, 0.0, b, horizon) > q_target) return false;
  t.theta =
      LargestTrue(0.0, b, [&](double x) { return BetFreshTail(t, x, b, horizon) <= q_target; });
  return true;
}

}  // namespace

BetTest ChooseBetTest(double b, double horizon, int n, double variance, double delta_all,
                      double fresh_var, double var_delta) {
  BetTest best = MeanTestBase(n, fresh_var, var_delta);
  const double delta = delta_all - best.var_delta;  // what the mean test may spend
  if (b >= 1.0) {  // no mean of losses in [0, 1] exceeds 1: every candidate passes
    best.ell = -std::numeric_limits<double>::infinity();
    best.predicted_gap = 0.0;
    return best;
  }
  if (!SetTheta(best, b, horizon, delta)) return best;
  const int grid = 512;
  const std::vector<double> q = FreshTailGrid(best, b, horizon, grid);
  const double nd = static_cast<double>(n);
  const double var = std::max(variance, 1e-6);
  const double room = delta - q[0];
  // The bet a Gaussian approximation calls optimal, then a grid around it.
  const double nu0 =
      std::sqrt(2.0 * std::log(1.0 / delta) /
                (nd * (nd * (std::isnan(fresh_var) ? b * (1.0 - b) : fresh_var) / horizon + var)));
  const double nu_max = 0.999 / (1.0 - best.theta);
  double best_pred = -std::numeric_limits<double>::infinity();
  for (int u = -24; u <= 24; ++u) {
    BetTest t = best;
    t.nu = std::min(nu_max, nu0 * std::exp2(u / 8.0));
    // Without the min(1, .) in BetPassBound the bound is e^-ell S: ell = log(S / room); when that
    // is negative the min binds, and ell is found by bisection (the bound falls as ell grows).
    t.ell = 0.0;
    const double s = BetTestBoundOnGrid(t, b, q) - q[0];
    if (!(s > 0.0)) continue;
    t.ell = std::log(s / room);
    if (t.ell < 0.0) {
      const double hi = t.ell;
      t.ell = hi - LargestTrue(0.0, 60.0, [&](double g) {
                BetTest c = t;
                c.ell = hi - g;
                return BetTestBoundOnGrid(c, b, q) <= delta;
              });
    }
    // Guard against rounding: the bound itself, as the tests and the argument use it.
    for (int i = 0; i < 60 && BetTestBoundOnGrid(t, b, q) > delta; ++i)
      t.ell += std::ldexp(1e-9, i);
    // Predicted passing mean: n E log(1 - nu (x - theta)) ~ n (nu d - nu^2 (var + d^2) / 2) = ell
    // with d = theta - mean.
    const double disc = 1.0 - 2.0 * (t.ell / nd + 0.5 * t.nu * t.nu * var);
    if (disc < 0.0) continue;
    const double pred = best.theta - (1.0 - std::sqrt(disc)) / t.nu;
    if (pred > best_pred) {
      best_pred = pred;
      best.nu = t.nu;
      best.ell = t.ell;
    }
    if (t.nu >= nu_max) break;
  }
  if (std::isfinite(best_pred))
    best.predicted_gap = b - best_pred;
  else
    best.ell = std::numeric_limits<double>::infinity();
  return best;
}

BetTest ChooseMeanTest(double b, double horizon, int n, double delta_all, double fresh_var,
                       double var_delta) {
  BetTest best = MeanTestBase(n, fresh_var, var_delta);
  const double delta = delta_all - best.var_delta;
  best.tau = -std::numeric_limits<double>::infinity();
  if (b >= 1.0) {
    best.tau = 1.0;
    best.predicted_gap = 0.0;
    return best;
  }
  if (!SetTheta(best, b, horizon, delta)) return best;
  const std::vector<double> q = FreshTailGrid(best, b, horizon, 512);
  // The bound rises with tau: the largest tau in [0, theta] that meets delta.
  auto ok = [&](double tau) {
    BetTest t = best;
    t.tau = tau;
    return BetTestBoundOnGrid(t, b, q) <= delta;
  };
  if (!ok(0.0)) return best;
  best.tau = LargestTrue(0.0, b, ok, 1e-12);
  best.predicted_gap = b - best.tau;
  return best;
}

BetTest ChooseRoundedTest(double b, double horizon, int n, double variance, double delta) {
  BetTest best = MeanTestBase(n, std::numeric_limits<double>::quiet_NaN(), 0.0);
  best.rounded = true;
  best.k = -1;
  if (b >= 1.0) {  // no mean of losses in [0, 1] exceeds 1: every candidate passes
    best.k = n;
    best.predicted_gap = 0.0;
    return best;
  }
  if (!SetTheta(best, b, horizon, delta)) return best;
  const std::vector<double> q = FreshTailGrid(best, b, horizon, 512);
  // The bound rises with k (BinomialCdf does): the largest k in [0, n] that meets delta.
  auto ok = [&](std::int64_t k) {
    BetTest t = best;
    t.k = k;
    return BetTestBoundOnGrid(t, b, q) <= delta;
  };
  if (!ok(0)) return best;
  std::int64_t lo = 0, hi = static_cast<std::int64_t>(std::ceil(b * n)) + 1;  // ok(lo), !ok(hi)
  if (hi > n) hi = n + 1;
  while (hi - lo > 1) {
    const std::int64_t mid = lo + (hi - lo) / 2;
    if (mid <= n && ok(mid))
      lo = mid;
    else
      hi = mid;
  }
  best.k = lo;
  const double m = static_cast<double>(lo) / n;
  const double extra = std::max(0.0, m * (1.0 - m) - std::max(0.0, variance));
  best.predicted_gap = b - m + kRoundingNoisePenalty * std::sqrt(extra / n);
  return best;
}

double StratifiedPassBound(std::int64_t k, std::int64_t n, double mu) {
  if (k < 0) return 0.0;
  if (k >= n) return 1.0;
  const double nd = static_cast<double>(n);
  // The count's mean m = sum_j S(u_j) >= n mu - 1/2 (docs/guarantees.md, step 3), less a slack for
  // the midpoints as doubles (each off by at most 2^-53, which moves the bound by <= n^2 2^-53).
  const double slack = 1e-9 + nd * nd * 0x1.0p-52;
  const double m_low = nd * mu - 0.5 - slack;
  // Hoeffding (1956, Theorem 4): P(K <= k) <= P(Bin(n, m / n) <= k) when k <= m - 1, and the
  // binomial tail falls in its p, so p = m_low / n may stand for m / n.
  if (!(static_cast<double>(k) <= m_low - 1.0)) return 1.0;
  return BinomialCdf(k, n, std::clamp(m_low / nd, 0.0, 1.0));
}

double StratifiedPoint(std::int64_t j, std::int64_t n) {
  return (static_cast<double>(j) - 0.5) / static_cast<double>(n);
}

std::int64_t RoundedCount(const std::vector<double>& x) {
  const auto n = static_cast<std::int64_t>(x.size());
  std::int64_t k = 0;
  for (std::int64_t j = 1; j <= n; ++j) k += StratifiedPoint(j, n) < x[j - 1];
  return k;
}

bool RoundedTestPasses(const BetTest& test, const std::vector<double>& x) {
  return !x.empty() && RoundedCount(x) <= test.k;
}

std::string TestName(const BetTest& test) {
  if (test.rounded) return "stratified-binomial";
  const std::string cap = std::isnan(test.fresh_var) ? "" : "capped ";
  return cap + (std::isnan(test.tau) ? "fixed-bet" : "mean-threshold");
}

// ---- One bound on the next M samples' mean drop (accuracy-drop mode) ----

namespace {

// log C(n, k) + k log p + (n - k) log(1 - p), for 0 <= k <= n and 0 < p < 1.
double LogBinomialPmf(std::int64_t k, std::int64_t n, double p) {
  const double nd = static_cast<double>(n), kd = static_cast<double>(k);
  return std::lgamma(nd + 1.0) - std::lgamma(kd + 1.0) - std::lgamma(nd - kd + 1.0) +
         kd * std::log(p) + (nd - kd) * std::log1p(-p);
}

// P(Bin(n, p) >= k), summed from the tail away from the mode (as BinomialCdf), 0 < p < 1.
double BinomialUpperTail(std::int64_t k, std::int64_t n, double p) {
  if (k <= 0) return 1.0;
  if (k > n) return 0.0;
  if (static_cast<double>(k) < static_cast<double>(n) * p) return 1.0 - BinomialCdf(k - 1, n, p);
  const double odds = p / (1.0 - p), nd = static_cast<double>(n);
  double t = std::exp(LogBinomialPmf(k, n, p)), sum = 0.0;
  for (std::int64_t i = k; i <= n; ++i) {
    sum += t;
    if (t < 1e-300 || t < 1e-17 * sum) break;
    t *= (nd - static_cast<double>(i)) / (static_cast<double>(i) + 1.0) * odds;
  }
  return std::min(1.0, sum);
}

}  // namespace

double TrinomialDifferenceTail(std::int64_t m, double p_plus, double p_minus, std::int64_t s) {
  const double pp = p_plus, pm = p_minus, q = pp + pm;
  if (!(pp > 0.0) || !(pm >= 0.0) || !(q < 1.0) || s < 1 || m < 1)
    return std::numeric_limits<double>::quiet_NaN();
  if (s > m) return 0.0;
  if (pm == 0.0) return BinomialUpperTail(s, m, pp);  // S = N+ ~ Bin(M, p+)
  // D = N+ + N- ~ Bin(M, q); given D = d, N+ ~ Bin(d, pi): S = 2 N+ - d >= s iff
  // N+ >= k_d = ceil((s + d) / 2), which needs d >= s.
  const double md = static_cast<double>(m), pi = pp / q;
  // The range of d: outside it each binomial tail of D is below 1e-18 (Chernoff), counted as 1.
  constexpr double kOut = 1e-18;
  const double log_out = std::log(kOut);
  auto outside = [&](double d) { return -md * BernoulliKl(d / md, q) <= log_out; };
  const double mu = md * q, sd = std::sqrt(md * q * (1.0 - q));
  double c = 6.0;
  while (c < 1e4 && mu + c * sd < md && !outside(mu + c * sd)) c += 1.0;
  const auto dhi = std::min(m, static_cast<std::int64_t>(std::ceil(mu + c * sd)));
  c = 6.0;
  while (c < 1e4 && mu - c * sd > 0.0 && !outside(mu - c * sd)) c += 1.0;
  const auto dlo = std::max<std::int64_t>(0, static_cast<std::int64_t>(std::floor(mu - c * sd)));
  const std::int64_t d0 = std::max(dlo, s);
  const double tail = (dlo > 0 ? kOut : 0.0) + (dhi < m ? kOut : 0.0);
  if (d0 > dhi) return tail;
  // Along d: T_d = P(Bin(d, pi) >= k_d) by T_{d+1}(k) = T_d(k) + pi pmf_d(k - 1) and
  // T_d(k + 1) = T_d(k) - pmf_d(k), the pmfs by their exact ratios.
  std::int64_t k = (s + d0 + 1) / 2;
  const double lpd = LogBinomialPmf(d0, m, q), lk1 = LogBinomialPmf(k - 1, d0, pi),
               lk = LogBinomialPmf(k, d0, pi);
  if (std::min({lpd, lk1, lk}) < -650.0) return std::numeric_limits<double>::quiet_NaN();
  double pd = std::exp(lpd), a = std::exp(lk1), b = std::exp(lk);  // P(D=d), pmf_d(k-1), pmf_d(k)
  double t = BinomialUpperTail(k, d0, pi), tmax = t;
  const double odds_d = q / (1.0 - q), odds = pi / (1.0 - pi);
  double sum = 0.0;
  for (std::int64_t d = d0;; ++d) {
    sum += pd * t;
    if (d == dhi) break;
    const double dd = static_cast<double>(d), kd = static_cast<double>(k);
    t += pi * a;  // T_{d+1}(k)
    a *= (dd + 1.0) * (1.0 - pi) / (dd + 2.0 - kd);
    b *= (dd + 1.0) * (1.0 - pi) / (dd + 1.0 - kd);
    if ((s + d + 2) / 2 > k) {  // k_{d+1} = k + 1
      t -= b;
      a = b;
      b *= (dd + 1.0 - kd) / (kd + 1.0) * odds;
      ++k;
    }
    t = std::clamp(t, 0.0, 1.0);
    tmax = std::max(tmax, t);
    pd *= (md - dd) / (dd + 1.0) * odds_d;
  }
  // Rounding: each step's error is within a few ulps of the largest T carried.
  const double steps = static_cast<double>(dhi - d0 + 1);
  return std::min(1.0, sum * (1.0 + 1e-12) + tail + 4e-16 * steps * tmax);
}

double DropChernoffTail(double p_plus, double p_minus, double eps, double horizon) {
  const double pp = std::max(0.0, p_plus), pm = std::max(0.0, p_minus);
  if (!std::isfinite(horizon)) return pp - pm > eps ? 1.0 : 0.0;
  const double p0 = 1.0 - pp - pm;
  if (p0 < -1e-12) return 1.0;  // not a distribution: no bound
  const auto mm = std::llround(horizon);
  const double md = static_cast<double>(mm);
  // The deployed count difference S = N+ - N- is an integer: mean drop > eps needs S >= s.
  const double s = std::ceil(md * eps - 1e-9);
  if (s > md) return 0.0;
  const double e = s / md;
  if (pp - pm >= e) return 1.0;
  if (pp <= 0.0) return s > 0.0 ? 0.0 : 1.0;
  if (e >= 1.0) return std::exp(md * std::log(pp));  // every sample must have l = 1
  // P(S >= s) <= E z^S / z^s = (p0 + p+ z + p- / z)^M z^-s for every z > 1; the minimiser solves
  // p+ (1 - e) z^2 - e p0 z - p- (1 + e) = 0.
  const double q0 = std::max(0.0, p0);
  const double z = (e * q0 + std::sqrt(e * e * q0 * q0 + 4.0 * pp * (1.0 - e) * pm * (1.0 + e))) /
                   (2.0 * pp * (1.0 - e));
  if (!(z > 1.0)) return 1.0;
  const double log_q = md * (std::log(q0 + pp * z + pm / z) - e * std::log(z));
  return std::min(1.0, std::exp(log_q));
}

double DropFreshTail(double p_plus, double p_minus, double eps, double horizon) {
  const double chernoff = DropChernoffTail(p_plus, p_minus, eps, horizon);
  if (!std::isfinite(horizon) || chernoff <= 0.0 || chernoff >= 1.0) return chernoff;
  const auto mm = std::llround(horizon);
  const auto s = static_cast<std::int64_t>(std::ceil(static_cast<double>(mm) * eps - 1e-9));
  const double exact = TrinomialDifferenceTail(mm, p_plus, p_minus, s);
  return std::isnan(exact) ? chernoff : std::min(chernoff, exact);
}

double DropPassBound(const DropTest& test, double p_plus, double p_minus) {
  if (test.ell == std::numeric_limits<double>::infinity()) return 0.0;
  if (test.ell == -std::numeric_limits<double>::infinity()) return 1.0;
  const double g = 1.0 + p_plus * std::expm1(test.log_plus) + p_minus * std::expm1(test.log_minus);
  if (!(g > 0.0)) return 0.0;
  return std::min(1.0, std::exp(-test.ell + static_cast<double>(test.n) * std::log(g)));
}

bool DropTestPasses(const DropTest& test, int n_plus, int n_minus) {
  if (std::isinf(test.ell)) return test.ell < 0.0;
  return static_cast<double>(n_plus) * test.log_plus +
             static_cast<double>(n_minus) * test.log_minus >=
         test.ell;
}

namespace {

// The cells of the (p+, p-) triangle for DropTestBound: the product of one axis with itself
// (DropAxis). Per cell [a0, a1] x [b0, b1] (meeting the triangle): qbar, an upper bound of
// DropFreshTail on the cell (it rises in p+ and falls in p-: its value at (min(a1, 1 - b0), b0)),
// and the corners at which the linear g of DropPassBound is largest. Cells are sorted by qbar,
// largest first; cells with qbar below kDropTailFloor are left out and kDropTailFloor added to
// the bound instead (on levels w below it the sup is at most 1).
constexpr double kDropTailFloor = 1e-15;
// Cells whose Chernoff tail is below this keep it instead of the exact tail: the bound stays valid
// and grows by at most 1e-9, and most cells of the grid need no exact tail.
constexpr double kDropExactFrom = 1e-9;

struct DropGrid {
  std::vector<double> qbar, a0, b0, b1;
};

// Axis points 0 = x_0 < x_1 < ... = 1, spaced by the standard deviation of a mean drop whose
// disagreement rate is about x, over `resolution`: x_{i+1} - x_i = sqrt(max(x_i, floor) var) /
// resolution, var = 1/n + 1/M. A cell's side is then a fixed share of the noise of the policies
// it stands for, at every disagreement rate (a cell's bound takes the worst of its corners, so a
// side of many standard deviations makes a cell look both over eps and passing).
std::vector<double> DropAxis(double var, double floor, double resolution) {
  std::vector<double> pts{0.0};
  const double min_step = 1e-7;
  while (pts.back() < 1.0) {
    const double x = pts.back();
    const double h = std::sqrt(std::max(x, floor) * var) / resolution;
    pts.push_back(std::min(1.0, x + std::max(min_step, h)));
  }
  return pts;
}

DropGrid MakeDropGrid(double eps, double horizon, const std::vector<double>& pts) {
  struct Cell {
    double q, a0, b0, b1;
  };
  std::vector<Cell> cells;
  const std::size_t m = pts.size() - 1;
  // Row by row (p- = pts[j]), the cells i = 0 .. last with pts[i] + pts[j] <= 1 (last only falls
  // as the rows go up).
  std::size_t last = m - 1;
  for (std::size_t j = 0; j < m; ++j) {
    const double y = pts[j];
    while (last > 0 && pts[last] + y > 1.0) --last;
    auto corner = [&](std::size_t i) { return std::min(pts[i + 1], 1.0 - y); };
    // The first cell the Chernoff bound does not put below the floor, by bisection: the tail
    // rises in p+, so every cell before it has a tail below the floor too (its corner is below
    // the corner at which the bound read < floor).
    std::size_t first = 0;
    if (DropChernoffTail(corner(0), y, eps, horizon) < kDropTailFloor) {
      std::size_t lo = 0, hi = last + 1;  // bound < floor at lo; hi: past the end or >= floor
      while (hi - lo > 1) {
        const std::size_t mid = lo + (hi - lo) / 2;
        (DropChernoffTail(corner(mid), y, eps, horizon) < kDropTailFloor ? lo : hi) = mid;
      }
      first = hi;
    }
    for (std::size_t i = first; i <= last; ++i) {
      const double x = corner(i);
      // The Chernoff bound first: a cell it puts below the floor needs no exact tail, and one it
      // puts below kDropExactFrom keeps it (any upper bound of the tail is a valid qbar; the
      // staircase changes only on levels w < kDropExactFrom, so the bound by at most that).
      const double chernoff = DropChernoffTail(x, y, eps, horizon);
      if (chernoff < kDropTailFloor) continue;
      if (chernoff >= 1.0) {
        // qbar = 1 on the rest of the row (the tail rises in p+). The staircase needs only the
        // largest g among these cells, and g is linear in p+ at a fixed p-: the row's two
        // extreme cells give it, so the cells between them are left out (most of the grid).
        cells.push_back({1.0, pts[i], y, pts[j + 1]});
        if (last > i) cells.push_back({1.0, pts[last], y, pts[j + 1]});
        break;
      }
      const double q = chernoff < kDropExactFrom ? chernoff : DropFreshTail(x, y, eps, horizon);
      if (q >= kDropTailFloor) cells.push_back({q, pts[i], y, pts[j + 1]});
    }
  }
  std::sort(cells.begin(), cells.end(), [](const Cell& x, const Cell& y) { return x.q > y.q; });
  DropGrid g;
  for (const Cell& c : cells) {
    g.qbar.push_back(c.q);
    g.a0.push_back(c.a0);
    g.b0.push_back(c.b0);
    g.b1.push_back(c.b1);
  }
  return g;
}

// The axis of ChooseDropTest for n calibration samples, horizon M and disagreement rate q: the
// resolution 8 (cells of 1/8 standard deviation), lowered where that would exceed kDropAxisPoints
// points (the axis has about 2 resolution / sqrt(var) of them).
constexpr double kDropAxisPoints = 2000.0;
std::vector<double> ChooseDropAxis(double horizon, int n, double q, double resolution) {
  const double var = 1.0 / static_cast<double>(n) + (std::isfinite(horizon) ? 1.0 / horizon : 0.0);
  const double r = std::min(resolution, kDropAxisPoints * std::sqrt(var) / 2.0);
  return DropAxis(var, q / 2.0, r);
}

// The staircase of a test on the grid: levels w in [q_{k+1}, q_k) have sup g <= G_k (the running
// maximum of the cells' largest g), so the bound is sum_k (q_k - q_{k+1}) min(1, e^-ell G_k^n).
// Returned as (weight, n log G) steps, merged where G does not change.
std::vector<std::pair<double, double>> DropSteps(const DropTest& t, const DropGrid& grid) {
  std::vector<std::pair<double, double>> steps;
  const double up = std::expm1(t.log_plus), um = std::expm1(t.log_minus);
  const bool minus_hi = um > 0.0;  // g rises in p- when f- > 1
  double gmax = -1.0;
  const std::size_t c = grid.qbar.size();
  for (std::size_t k = 0; k < c; ++k) {
    const double g = 1.0 + grid.a0[k] * up + (minus_hi ? grid.b1[k] : grid.b0[k]) * um;
    if (g > gmax || steps.empty()) {
      gmax = std::max(g, gmax);
      steps.push_back({0.0, static_cast<double>(t.n) * std::log(std::max(gmax, 1e-300))});
    }
    steps.back().first += grid.qbar[k] - (k + 1 < c ? grid.qbar[k + 1] : 0.0);
  }
  return steps;
}

double DropStepsBound(const std::vector<std::pair<double, double>>& steps, double ell) {
  double total = kDropTailFloor;
  for (const auto& [w, lg] : steps) total += w * std::min(1.0, std::exp(lg - ell));
  return total;
}

// The smallest ell with DropStepsBound <= delta (+inf when none).
double DropEll(const std::vector<std::pair<double, double>>& steps, double delta) {
  if (DropStepsBound(steps, -std::numeric_limits<double>::infinity()) <= delta)
    return -std::numeric_limits<double>::infinity();
  double lo = std::numeric_limits<double>::infinity(), hi = -lo;
  for (const auto& st : steps) {
    lo = std::min(lo, st.second);
    hi = std::max(hi, st.second);
  }
  lo -= 1.0;
  hi += 60.0;
  if (DropStepsBound(steps, hi) > delta) return std::numeric_limits<double>::infinity();
  for (int it = 0; it < 200 && hi - lo > 1e-10 * std::max(1.0, std::fabs(hi)); ++it) {
    const double mid = 0.5 * (lo + hi);
    if (DropStepsBound(steps, mid) <= delta)
      hi = mid;
    else
      lo = mid;
  }
  return hi;
}

}  // namespace

double DropTestBound(const DropTest& test, double eps, double horizon, double disagreement,
                     double resolution) {
  if (test.ell == std::numeric_limits<double>::infinity()) return 0.0;
  const double q = std::clamp(disagreement, 1.0 / std::max(1, test.n), 1.0);
  const DropGrid grid = MakeDropGrid(eps, horizon, ChooseDropAxis(horizon, test.n, q, resolution));
  return DropStepsBound(DropSteps(test, grid), test.ell);
}

DropTest ChooseDropTest(double eps, double horizon, int n, double disagreement, double delta) {
  DropTest best;
  best.n = n;
  if (n < 1) return best;
  const double nd = static_cast<double>(n);
  const double q = std::clamp(disagreement, 1.0 / nd, 1.0);
  const double inv_m = std::isfinite(horizon) ? 1.0 / horizon : 0.0;
  const DropGrid grid = MakeDropGrid(eps, horizon, ChooseDropAxis(horizon, n, q, 8.0));
  // The bet f(l) = exp(-lambda l - kappa |l|): lambda tilts against drops, kappa against
  // disagreements (kappa = lambda^2 / 2 makes E f(l) ~ 1 - lambda mu, whatever the variance).
  // lambda0 is what a Gaussian picture of the calibration and fresh noise calls optimal.
  const double lambda0 = std::sqrt(2.0 * std::log(1.0 / delta) / (nd * q * (nd * inv_m + 1.0)));
  double best_pred = -std::numeric_limits<double>::infinity();
  int best_i = 0;
  auto consider = [&](int i, double c) {
    const double lambda = lambda0 * std::exp2(i / 4.0);
    const double kappa = c * lambda * lambda / 2.0;
    if (!(lambda + kappa > 0.0)) return;
    DropTest t = best;
    t.log_plus = -lambda - kappa;
    t.log_minus = lambda - kappa;
    const auto steps = DropSteps(t, grid);
    t.ell = DropEll(steps, delta);
    if (!std::isfinite(t.ell)) return;
    // Guard against rounding: the bound itself, as the tests and the argument use it.
    for (int k = 0; k < 60 && DropStepsBound(steps, t.ell) > delta; ++k)
      t.ell += std::ldexp(1e-9, k);
    // Predicted passing mean drop at disagreement q: n (p+ log f+ + p- log f-) = ell with
    // p+- = (q +- mu) / 2, i.e. mu = -(ell / n + q kappa) / lambda.
    const double pred = -(t.ell / nd + q * kappa) / lambda;
    if (pred > best_pred) {
      best_pred = pred;
      best_i = i;
      best.log_plus = t.log_plus;
      best.log_minus = t.log_minus;
      best.ell = t.ell;
    }
  };
  // lambda on a coarse grid (factors of 2), then its quarter-octave neighbours of the best.
  const double cs[] = {-1.0, -0.5, 0.0, 0.5, 1.0, 1.5, 2.0, 3.0, 5.0};
  for (int i = -16; i <= 16; i += 4) {
    for (double c : cs) consider(i, c);
  }
  const int centre = best_i;
  for (int i : {centre - 2, centre - 1, centre + 1, centre + 2}) {
    for (double c : cs) consider(i, c);
  }
  if (std::isfinite(best_pred))
    best.predicted_gap = eps - best_pred;
  else
    best.ell = std::numeric_limits<double>::infinity();
  return best;
}

void PerSample(const ThresholdProblem& p, const Policy& policy, std::vector<double>* cost,
               std::vector<std::uint8_t>* correct) {
  const std::vector<int> exits = ExitOfSamples(*p.scores, p.order, policy);
  cost->resize(exits.size());
  correct->resize(exits.size());
  for (std::size_t i = 0; i < exits.size(); ++i) {
    (*cost)[i] = p.stop_cost[exits[i]];
    (*correct)[i] = (*p.correct)(exits[i], static_cast<Eigen::Index>(i));
  }
}

std::vector<int> GuaranteeSearchPart(int n, unsigned seed, double search_fraction) {
  const int ns = std::clamp(static_cast<int>(std::lround(search_fraction * n)), 1, n - 1);
  std::vector<int> perm = Permutation(n, seed * 2654435761u + 0x4755u);
  std::vector<int> search(perm.begin(), perm.begin() + ns);
  std::sort(search.begin(), search.end());
  return search;
}

std::vector<int> GuaranteeCalibrationPart(int n, unsigned seed, double search_fraction) {
  const int ns = std::clamp(static_cast<int>(std::lround(search_fraction * n)), 1, n - 1);
  const std::vector<int> perm = Permutation(n, seed * 2654435761u + 0x4755u);
  return std::vector<int>(perm.begin() + ns, perm.end());
}

namespace {

// The smallest b >= m with FreshMeanTail(m, b, M) <= delta2: an upper (1 - delta2) quantile of the
// mean of M fresh draws whose population mean is <= m.
double FreshMeanQuantile(double m, double horizon, double delta2) {
  if (!std::isfinite(horizon)) return m;
  if (FreshMeanTail(m, 1.0 - 1e-12, horizon) > delta2) return 1.0;
  return 1.0 - LargestTrue(0.0, 1.0 - m,
                           [&](double u) { return FreshMeanTail(m, 1.0 - u, horizon) <= delta2; });
}

double UpperBound(const std::vector<double>& x, double delta, GuaranteeBound bound) {
  return IsWsr(bound) ? WsrUpperBound(x, delta) : HoeffdingBentkusUpperBound(x, delta);
}

bool MeanTestRejects(const std::vector<double>& x, double m, double delta, GuaranteeBound bound) {
  if (IsWsr(bound)) return WsrRejects(x, m, delta);
  return HoeffdingBentkusPValue(Mean(x), static_cast<std::int64_t>(x.size()), m) <= delta;
}

// Accuracy-drop mode: tightening multipliers of the estimated width along the path, safest first,
// the target last (each candidate tested is one solve).
const double kPath[] = {2.0, 1.5, 1.25, 1.0, 0.875, 0.75, 0.625, 0.5, 0.375, 0.25, 0.125, 0.0};

// Budget mode: the path starts kPathStart noise sd below the predicted boundary and steps by
// kPathStep sd up to B (the boundary fell within 1.5 sd of its prediction on S-ResNet-18). Chosen
// with bench/bench_resplit on S-ResNet-18 (6 re-splits, budgets 40-90%): `single`'s candidates are
// nested and cheap, and a step of 0.25 sd cut its price from +0.110 to +0.102 pp against 0.5 sd;
// `exact`'s are not nested and each costs a full solve, and 0.5 sd paid the same as 0.25 sd
// (+0.123 / +0.122 pp) with half the solves.
constexpr double kPathStart = 4.0, kPathStep = 0.25, kPathStepExact = 0.5;
// The nested path (`single`): pilot budgets within kNestedWindow noise sd of the predicted
// boundary, in steps of 1 / kNestedSteps sd (each candidate is one cheap solve on the pilot part;
// the bisection tests about log2 of their number).
constexpr double kNestedWindow = 4.0, kNestedSteps = 32.0;
// Budget mode, one bound: the share of delta spent on the variance test.
constexpr double kVarDeltaShare = 0.05;

// `exact` in budget mode with the automatic search fraction (docs/guarantees.md, step 1): it
// searches on kSearchFractionExact of the fit split, on kSearchFractionExactSmall when the budget
// binds so hard that the larger calibration part is predicted to gain more accuracy than
// kSmallSearchGain, or on kSearchFractionExactLarge when the budget binds so little that the
// smaller calibration part's wider gap is predicted to cost at most kLargeSearchLoss. The choice
// is made on the choice part alone: the first kSearchFractionExactSmall n samples of the seeded
// permutation, which every search part the rule can return contains. There exact is solved at B and
// at B minus the test's predicted gap with each calibration part; the accuracy between B and the
// default part's tightened budget, scaled by how much of the gap the small part saves, is the small
// part's predicted gain, and the accuracy between B and the large part's tightened budget the large
// part's predicted loss (at most kLargeSearchLoss: the budget does not bind on the choice part even
// at that wider gap). Given the choice part the choice is fixed, and the calibration part of every
// choice is disjoint from it and from the search part chosen, so the path and the test stay fixed
// before the calibration part is seen. Fit splits with fewer than kMinSmallSearch samples in the
// choice part keep kSearchFractionExact (measured on data/example, 5,000 fit samples: a search part
// of 2,500 instead of 4,000 samples cost 0.12 pp by itself, and 4,500 instead of 4,000 paid 0.02 pp
// more at 60-90 %, where its budget does not bind; 8 re-splits).
double ExactBudgetSearchFraction(const ThresholdProblem& problem, const SolverOptions& inner,
                                 const GuaranteeOptions& g, unsigned seed, int* iterations) {
  const int n = problem.n();
  auto part_n = [&](double f) {
    return std::clamp(static_cast<int>(std::lround(f * n)), 1, n - 1);
  };
  const int ns_small = static_cast<int>(std::lround(kSearchFractionExactSmall * n));
  const int ns_big = part_n(kSearchFractionExact), ns_large = part_n(kSearchFractionExactLarge);
  if (ns_small < kMinSmallSearch || ns_small >= ns_big) return kSearchFractionExact;
  const bool large_ok = ns_large > ns_big;
  const double cmin = problem.MinCost(), span = problem.MaxCost() - cmin;
  if (!(span > 0.0)) return kSearchFractionExact;
  const double b = (problem.budget - cmin) / span;
  if (!(b > 0.0 && b < 1.0)) return kSearchFractionExact;
  SubProblem sp;
  MakeSub(problem, GuaranteeSearchPart(n, seed, kSearchFractionExactSmall), &sp);
  sp.problem.budget = problem.budget;
  const ThresholdSummary at_b = Solve(Method::kExact, sp.problem, inner);
  *iterations += at_b.iterations;
  if (!at_b.ok()) return kSearchFractionExact;
  std::vector<double> costs;
  std::vector<std::uint8_t> corr;
  PerSample(sp.problem, at_b.policy, &costs, &corr);
  const std::vector<double> x = NormCost(costs, cmin, span);
  const double var = SampleVariance(x, Mean(x));
  // The predicted gap of the variance-free tests at nc calibration samples (the one bound), or
  // the two-part scheme's width.
  const double delta = 1.0 - g.level;
  const bool finite = std::isfinite(g.horizon);
  auto gap = [&](int nc) {
    if (finite && IsWsr(g.bound)) {
      double w = std::numeric_limits<double>::infinity();
      for (double c : {ChooseMeanTest(b, g.horizon, nc, delta).predicted_gap,
                       ChooseBetTest(b, g.horizon, nc, var, delta).predicted_gap,
                       g.bound == GuaranteeBound::kWsr
                           ? ChooseRoundedTest(b, g.horizon, nc, var, delta).predicted_gap
                           : std::numeric_limits<double>::infinity()}) {
        if (std::isfinite(c)) w = std::min(w, c);
      }
      return w;
    }
    const double d1 = finite ? 0.5 * delta : delta, d2 = finite ? 0.5 * delta : 0.0;
    const double l1 = std::log(1.0 / d1);
    return (b - FreshMeanCap(b, g.horizon, d2)) + std::sqrt(2.0 * var * l1 / nc) + l1 / nc;
  };
  // exact on the choice part at the tightened budget b - w (nullopt-like: ok() false).
  auto solve_at = [&](double w) {
    sp.problem.budget = std::max(cmin, cmin + span * (b - w));
    const ThresholdSummary s = Solve(Method::kExact, sp.problem, inner);
    *iterations += s.iterations;
    return s;
  };
  const double w_big = gap(n - ns_big);
  if (!(std::isfinite(w_big) && w_big > 0.0)) return kSearchFractionExact;
  const ThresholdSummary at_t = solve_at(w_big);
  if (!at_t.ok()) return kSearchFractionExact;
  const double w_small = gap(n - ns_small);
  if (std::isfinite(w_small) &&
      (at_b.fit.accuracy - at_t.fit.accuracy) * std::max(0.0, 1.0 - w_small / w_big) >
          kSmallSearchGain)
    return kSearchFractionExactSmall;
  if (large_ok) {
    const double w_large = gap(n - ns_large);
    if (!std::isfinite(w_large)) return kSearchFractionExact;
    const ThresholdSummary at_l = solve_at(std::max(w_large, w_big));
    if (at_l.ok() && at_b.fit.accuracy - at_l.fit.accuracy <= kLargeSearchLoss)
      return kSearchFractionExactLarge;
  }
  return kSearchFractionExact;
}

}  // namespace

ThresholdSummary SolveWithGuarantee(Method method, const ThresholdProblem& problem,
                                    const SolverOptions& options) {
  const GuaranteeOptions& g = options.guarantee;
  const double delta = 1.0 - g.level;
  const bool finite = std::isfinite(g.horizon);
  const double d1 = finite ? 0.5 * delta : delta, d2 = finite ? 0.5 * delta : 0.0;
  const bool acc_mode = !std::isnan(options.accuracy_drop);
  SolverOptions inner = options;
  inner.guarantee.level = 0.0;
  inner.exact_warm = nullptr;

  ThresholdSummary out;
  out.method = ToString(method);
  out.policy.kept = problem.kept;
  const int n = problem.n();
  if (n < 2) {
    out.outcome = Outcome::kInfeasible;
    out.message = "guarantee: needs at least 2 fit samples (a search and a calibration part)";
    return out;
  }
  // The search part in the fit split's order; the calibration part in the permutation's order
  // (the order WSR's bets see them in).
  int choice_iterations = 0;
  const double fraction =
      (!acc_mode && method == Method::kExact && std::isnan(g.search_fraction))
          ? ExactBudgetSearchFraction(problem, inner, g, options.seed, &choice_iterations)
          : g.SearchFraction(method, acc_mode);
  const std::vector<int> search = GuaranteeSearchPart(n, options.seed, fraction);
  const int ns = static_cast<int>(search.size());
  const std::vector<int> cal = GuaranteeCalibrationPart(n, options.seed, fraction);
  SubProblem sp, cp;
  MakeSub(problem, search, &sp);
  MakeSub(problem, cal, &cp);
  const int nc = n - ns;

  GuaranteeReport rep;
  rep.level = g.level;
  rep.horizon = g.horizon;
  rep.bound = ToString(g.bound);
  rep.search_n = ns;
  rep.calibration_n = nc;

  const double cmin = problem.MinCost(), cmax = problem.MaxCost();
  const double span = cmax - cmin;
  auto norm_cost = [&](const std::vector<double>& c) { return NormCost(c, cmin, span); };
  const Eigen::Index last = problem.kept.back();

  ThresholdSummary best;
  double best_fit_target = std::numeric_limits<double>::quiet_NaN();
  std::vector<double> costs;
  std::vector<std::uint8_t> corr;
  int total_iterations = choice_iterations;
  std::ostringstream why;  // why the sequence stopped

  if (!acc_mode) {
    const double b = span > 0.0 ? (problem.budget - cmin) / span : 1.0;
    const double mstar = FreshMeanCap(b, g.horizon, d2);
    // Pilot on the search part at B: its per-sample cost spread sets the scale of the path.
    sp.problem.budget = problem.budget;
    ThresholdSummary pilot = Solve(method, sp.problem, inner);
    total_iterations += pilot.iterations;
    // The search part's variance of x under a policy, the sd of (x - mean)^2, and the squared
    // deviations (x - mean)^2 themselves.
    auto spread = [&](const Policy& pol, double* v, double* v_sd, std::vector<double>* y) {
      PerSample(sp.problem, pol, &costs, &corr);
      const std::vector<double> x = norm_cost(costs);
      const double mu = Mean(x);
      double s2 = 0.0;
      *v = SampleVariance(x, mu);
      y->resize(x.size());
      for (std::size_t i = 0; i < x.size(); ++i) (*y)[i] = (x[i] - mu) * (x[i] - mu);
      for (double u : *y) s2 += (u - *v) * (u - *v);
      *v_sd = std::sqrt(s2 / std::max<std::size_t>(1, x.size() - 1));
    };
    double var = 0.25, var_sd = 0.25;  // the variance of x, and the sd of (x - mean)^2
    std::vector<double> y_pilot, y_first;
    if (pilot.ok()) spread(pilot.policy, &var, &var_sd, &y_pilot);
    // The test: one bound on the mean of the next M samples (finite M, wsr), else a bound on the
    // population mean at delta1 against the fresh-sample cap m* at delta2. `width` is the gap
    // below b at which a candidate is predicted to just pass.
    const bool one_bound = finite && IsWsr(g.bound);
    BetTest bet;
    // The variance cap V, fixed from the search part: its estimate v of Var x, raised by 3 sd of
    // that estimate, by the room the variance test needs to pass on n calibration losses with
    // its bet, and by the centre's own error (a candidate's centre is its search-part mean).
    const double dv = kVarDeltaShare * delta, lv = std::log(1.0 / dv);
    // The variance test's bet on V, and the guard on the capped tests: on each search-part
    // sample y of squared deviations given (those of the policies the path starts from), the
    // test's log-capital over nc draws, its mean less 2 sd, must reach log(1 / dv); otherwise a
    // few far samples are predicted to fail it, and the capped tests are not used.
    auto make_bet = [&](double v, double v_sd,
                        std::initializer_list<const std::vector<double>*> ys) {
      const double sy = std::max(v_sd, 1e-9);
      const double room = std::sqrt(2.0 * lv / nc) * sy;
      const double cap = std::min(
          1.0, v + 3.0 * sy / std::sqrt(ns) + 2.0 * sy / std::sqrt(nc) + 1.5 * room + 4.0 * v / ns);
      const double var_nu =
          std::min(std::sqrt(2.0 * lv / (nc * sy * sy)), 0.999 / (1.0 - cap + 1e-12));
      bool capped_ok = true;
      for (const std::vector<double>* y : ys) {
        if (y == nullptr || y->size() < 2) continue;
        std::vector<double> lk(y->size());
        for (std::size_t i = 0; i < y->size(); ++i) lk[i] = std::log1p(-var_nu * ((*y)[i] - cap));
        const double m = Mean(lk), sdl = std::sqrt(SampleVariance(lk, m));
        if (nc * m - 2.0 * std::sqrt(static_cast<double>(nc)) * sdl < lv) capped_ok = false;
      }
      // Four tests of the losses and (with `wsr`, not `wsr-unrounded`) the stratified-binomial
      // one of the losses rounded against fixed midpoints, all fixed from the search part and
      // tuned on its variance v; the one with the smallest predicted gap is used (the earlier on
      // a tie: the variance-free tests of the losses first, they need no variance test and no
      // rounding).
      const BetTest tests[5] = {
          ChooseMeanTest(b, g.horizon, nc, delta), ChooseBetTest(b, g.horizon, nc, v, delta),
          capped_ok ? ChooseMeanTest(b, g.horizon, nc, delta, cap, dv) : BetTest(),
          capped_ok ? ChooseBetTest(b, g.horizon, nc, v, delta, cap, dv) : BetTest(),
          g.bound == GuaranteeBound::kWsr ? ChooseRoundedTest(b, g.horizon, nc, v, delta)
                                          : BetTest()};
      int pick = -1;
      for (int i = 0; i < 5; ++i) {
        if (!std::isfinite(tests[i].predicted_gap)) continue;
        if (pick < 0 || tests[i].predicted_gap < tests[pick].predicted_gap) pick = i;
      }
      bet = tests[pick < 0 ? 1 : pick];
      bet.var_nu = var_nu;
    };
    double width = 0.0;
    auto set_width = [&] {
      if (one_bound) {
        width = std::isfinite(bet.predicted_gap) ? bet.predicted_gap : b;
      } else {
        const double l1 = std::log(1.0 / d1);
        width = (b - mstar) + std::sqrt(2.0 * var * l1 / nc) + l1 / nc;
      }
    };
    if (one_bound) make_bet(var, var_sd, {&y_pilot});
    set_width();
    // With the one bound, once the path's first candidate is known: the tests tuned on, and V
    // from, the larger of its variance and the pilot's (the variance changes along the path; a
    // candidate above V fails its variance test and ends the sequence), the guard on both.
    auto refit_cap = [&](const Policy& first) {
      if (!one_bound) return;
      double v0 = 0.0, v0_sd = 0.0;
      spread(first, &v0, &v0_sd, &y_first);
      make_bet(std::max(v0, var), std::max(v0_sd, var_sd), {&y_pilot, &y_first});
    };
    // A candidate passes the mean test and, with the one bound, the variance test against its
    // search-part mean.
    auto passes = [&](const Policy& pol) {
      if (!one_bound) {
        PerSample(cp.problem, pol, &costs, &corr);
        return MeanTestRejects(norm_cost(costs), mstar, d1, g.bound);
      }
      if (bet.rounded) {  // no variance test: the search-part centre is not needed
        PerSample(cp.problem, pol, &costs, &corr);
        return RoundedTestPasses(bet, norm_cost(costs));
      }
      PerSample(sp.problem, pol, &costs, &corr);
      const double centre = Mean(norm_cost(costs));
      PerSample(cp.problem, pol, &costs, &corr);
      const std::vector<double> x = norm_cost(costs);
      return BetTestPasses(bet, x) && VarianceCapPasses(bet, x, centre);
    };
    double sd = std::sqrt(var * (1.0 / ns + 1.0 / nc));
    if (g.NestedPath(method, false)) {
      // Fine path (`single`): the shared thresholds the method returns on the pilot (search)
      // part at a fine grid of budgets, kNestedWindow noise sd either side of the predicted
      // boundary b - width, in increasing cost order (each candidate stops strictly fewer
      // scores than the one before), tested in that order as every path is.
      std::vector<ThresholdSummary> cands;
      const bool desc = problem.order == ScoreOrder::kDescending;
      const double h = std::max(sd / kNestedSteps, 1e-7);
      const double lo = b - width - kNestedWindow * sd, hi = b - width + kNestedWindow * sd;
      for (int k = 0;; ++k) {
        const double t = std::min(1.0, lo + k * h);
        if (t > hi + 0.5 * h) break;
        const double raw = std::max(cmin, cmin + span * t);
        sp.problem.budget = raw;
        ThresholdSummary cand = Solve(method, sp.problem, inner);
        total_iterations += cand.iterations;
        if (cand.ok() && !cand.policy.thresholds.empty()) {
          // Keep a candidate only when it stops strictly fewer scores than the previous one.
          const double key = desc ? cand.policy.thresholds[0] : -cand.policy.thresholds[0];
          const double prev = cands.empty() ? -std::numeric_limits<double>::infinity()
                                            : (desc ? cands.back().policy.thresholds[0]
                                                    : -cands.back().policy.thresholds[0]);
          if (key > prev) {
            cands.push_back(std::move(cand));
            cands.back().fit_budget = raw;
          }
        } else if (cand.ok() && cands.empty()) {
          cands.push_back(std::move(cand));  // only the final exit kept: one candidate
          cands.back().fit_budget = raw;
        }
        if (t >= 1.0) break;
      }
      rep.path_length = static_cast<int>(cands.size());
      if (cands.empty()) why << "no candidate on the path has a solution";
      if (!cands.empty()) refit_cap(cands.front().policy);
      for (const ThresholdSummary& cand : cands) {
        if (!passes(cand.policy)) {
          why << "the candidate at search budget " << Num(cand.fit_budget) << " was not certified";
          break;
        }
        best = cand;
        best_fit_target = cand.fit_budget;
        ++rep.certified;
      }
    } else {
      // The path: from kPathStart noise sd below the predicted boundary b - width up to b itself,
      // in steps of kPathStep sd, where the noise sd is that of a candidate's calibration mean
      // around its search-part mean.
      auto make_path = [&] {
        std::vector<double> p;
        const double step = method == Method::kExact ? kPathStepExact : kPathStep;
        const double start = b - width - kPathStart * sd, h = std::max(step * sd, 1e-6);
        for (int k = 0;; ++k) {
          const double t = std::min(b, start + k * h);
          const double raw = std::max(cmin, cmin + span * t);
          if (p.empty() || raw > p.back()) p.push_back(raw);
          if (t >= b) break;
        }
        return p;
      };
      std::vector<double> path = make_path();
      // The path's scale (its width and noise sd) from the larger of the pilot's variance and
      // that of the path's first candidate (one solve on the search part; the variance along
      // the path can be several times the pilot's), re-solved at most twice more: all from the
      // search part, so the path is still fixed before the calibration part is seen.
      ThresholdSummary first;
      double first_budget = std::numeric_limits<double>::quiet_NaN();
      for (int it = 0; it < 3; ++it) {
        sp.problem.budget = path.front();
        first = Solve(method, sp.problem, inner);
        total_iterations += first.iterations;
        first_budget = path.front();
        if (!first.ok()) break;
        double v0 = 0.0, v0_sd = 0.0;
        spread(first.policy, &v0, &v0_sd, &y_first);
        if (!(v0 > var)) break;
        var = v0;
        var_sd = std::max(var_sd, v0_sd);
        if (one_bound) make_bet(var, var_sd, {&y_pilot, &y_first});
        set_width();
        sd = std::sqrt(var * (1.0 / ns + 1.0 / nc));
        path = make_path();
      }
      rep.path_length = static_cast<int>(path.size());
      // `exact` starts each candidate from the last certified one (feasible at a smaller budget),
      // so its search-part accuracy never falls along the path.
      const bool warm = method == Method::kExact;
      for (double raw : path) {
        sp.problem.budget = raw;
        SolverOptions o = inner;
        if (warm && rep.certified > 0 && best.policy.thresholds.size() + 1 == problem.kept.size()) {
          o.exact_starts.push_back(best.policy.thresholds);
        }
        const bool reuse_first = raw == first_budget && rep.certified == 0;
        ThresholdSummary cand = reuse_first ? first
                                : (raw == problem.budget && pilot.ok() && !warm)
                                    ? pilot
                                    : Solve(method, sp.problem, o);
        if (!reuse_first) total_iterations += cand.iterations;
        if (!cand.ok()) {
          why << "the candidate at search budget " << Num(raw) << " has no solution ("
              << ToString(cand.outcome) << ")";
          break;
        }
        if (raw == path.front()) refit_cap(cand.policy);
        if (!passes(cand.policy)) {
          why << "the candidate at search budget " << Num(raw) << " was not certified";
          break;
        }
        best = cand;
        best_fit_target = raw;
        ++rep.certified;
      }
    }
    if (one_bound) rep.test = TestName(bet);
    rep.cost_bound = problem.budget;
    if (rep.certified > 0) {
      // Accuracy lower bound, Bonferroni over the path, then the fresh-sample quantile.
      PerSample(cp.problem, best.policy, &costs, &corr);
      std::vector<double> err(corr.size());
      for (std::size_t i = 0; i < corr.size(); ++i) err[i] = corr[i] ? 0.0 : 1.0;
      const double pop = HoeffdingBentkusUpperBound(err, d1 / rep.path_length, true);
      rep.accuracy_bound = 1.0 - FreshMeanQuantile(pop, g.horizon, d2);
    }
  } else {
    const double eps = options.accuracy_drop;
    // Per-sample drop l = correct(final) - correct(policy) in {-1, 0, 1}; x = (l + 1) / 2 in [0,
    // 1]; d = |l| (the policy and the final exit differ in correctness).
    auto losses = [&](const ThresholdProblem& p, const Policy& pol, std::vector<double>* x,
                      double* dis) {
      PerSample(p, pol, &costs, &corr);
      x->resize(corr.size());
      double d = 0.0;
      for (std::size_t i = 0; i < corr.size(); ++i) {
        const double l = static_cast<double>((*p.correct)(last, static_cast<Eigen::Index>(i))) -
                         static_cast<double>(corr[i]);
        (*x)[i] = 0.5 * (l + 1.0);
        d += std::fabs(l);
      }
      *dis = d;
    };
    // q*: a cap on the disagreement rate fixed from the search part only.
    // (An upper estimate of the search part's rate, widened by the calibration part's noise, so
    // that the binomial test on the calibration part passes with high probability; a search rate
    // of 0 still gets room for a few disagreements.)
    auto qcap = [&](double q_search) {
      const double hi = q_search + 3.0 * std::sqrt((q_search + 1.0 / ns) / ns) + 3.0 / ns;
      return std::min(1.0, hi + 3.0 * std::sqrt(hi / nc) + 3.0 / nc);
    };
    // Counts of l = 1 and l = -1 of a policy on a problem's samples.
    auto counts = [&](const ThresholdProblem& p, const Policy& pol, int* n_plus, int* n_minus) {
      PerSample(p, pol, &costs, &corr);
      *n_plus = 0;
      *n_minus = 0;
      for (std::size_t i = 0; i < corr.size(); ++i) {
        const bool fin = (*p.correct)(last, static_cast<Eigen::Index>(i)) != 0;
        *n_plus += fin && !corr[i];
        *n_minus += !fin && corr[i];
      }
    };
    // With the one bound the candidates are the method's solves at budgets on the search part
    // (for `exact` each a full solve), memoised and shared by the pilot, the path's start and the
    // path.
    const bool budget_path = IsWsr(g.bound);
    std::map<double, ThresholdSummary> memo;
    // `exact` starts each solve from the answers at the neighbouring budgets solved so far, all
    // on the search part (ExactWarmStore), so every candidate is still a function of it alone.
    ExactWarmStore warm(sp.problem);
    double search_full_acc = 0.0;
    for (int i = 0; i < ns; ++i) search_full_acc += sp.correct(last, i);
    search_full_acc /= ns;
    auto at = [&](double b) -> const ThresholdSummary& {
      if (auto it = memo.find(b); it != memo.end()) return it->second;
      ThresholdProblem p = sp.problem;
      p.budget = b;
      SolverOptions o = inner;
      o.accuracy_drop = std::numeric_limits<double>::quiet_NaN();
      if (method == Method::kExact) o.exact_warm = &warm;
      ThresholdSummary s = Solve(method, p, o);
      total_iterations += s.iterations;
      return memo.emplace(b, std::move(s)).first->second;
    };
    auto meets = [&](const ThresholdSummary& s, double e) {
      return s.ok() && s.fit.accuracy >= search_full_acc - e - 1e-12;
    };
    // The smallest budget found whose solution meets drop e on the search part (bisection to
    // 1e-3 of the cost span, bracketed by the solves already made); NaN when even the full cost
    // does not.
    // For `exact` the search starts at `single`'s cheapest answer meeting drop e on the search
    // part and steps down from there (ExactBracketGuess).
    auto cheapest = [&](double e) {
      double g = std::numeric_limits<double>::quiet_NaN();
      if (method == Method::kExact) {
        SolverOptions go = inner;
        go.accuracy_drop = e;
        g = ExactBracketGuess(sp.problem, go);
      }
      const bool guessed = g > cmin && g < cmax && meets(at(g), e);
      if (!guessed) {
        if (!meets(at(cmax), e)) return std::numeric_limits<double>::quiet_NaN();
        if (meets(at(cmin), e)) return cmin;
      }
      double lo = cmin, hi = cmax;
      for (const auto& [b, s] : memo) {
        if (meets(s, e)) hi = std::min(hi, b);
      }
      bool lo_known = false;
      for (const auto& [b, s] : memo) {
        if (b < hi && !meets(s, e)) {
          lo = std::max(lo, b);
          lo_known = true;
        }
      }
      // With no failing budget below hi yet, step down from hi (doubling the step) to one.
      for (double step = kWarmSpan * span; guessed && !lo_known && hi - lo > kWarmSpan * span;
           step *= 2.0) {
        const double b = hi - step;
        if (b <= cmin) {
          if (meets(at(cmin), e)) return cmin;
          break;
        }
        if (!meets(at(b), e)) {
          lo = b;
          break;
        }
        hi = b;
      }
      while (hi - lo > 1e-3 * span) {
        const double mid = 0.5 * (lo + hi);
        if (meets(at(mid), e))
          hi = mid;
        else
          lo = mid;
      }
      return hi;
    };
    ThresholdSummary pilot;
    double pilot_budget = std::numeric_limits<double>::quiet_NaN();
    if (budget_path) {
      pilot_budget = cheapest(eps);
      if (!std::isnan(pilot_budget)) pilot = at(pilot_budget);
    } else {
      pilot = Solve(method, sp.problem, inner);
      total_iterations += pilot.iterations;
    }
    if (IsWsr(g.bound)) {
      // One bound on the mean drop of the next M samples (DropTest): the bet is fixed from the
      // pilot's disagreement rate on the search part.
      double q_search = 2.0 * eps + 1.0 / ns;
      if (pilot.ok()) {
        int np = 0, nm = 0;
        counts(sp.problem, pilot.policy, &np, &nm);
        q_search = static_cast<double>(np + nm) / ns;
      }
      const DropTest test = ChooseDropTest(eps, g.horizon, nc, q_search, delta);
      const double width = std::isfinite(test.predicted_gap) ? test.predicted_gap : eps;
      // The path: from kPathStart noise sd below the predicted boundary eps - width up to eps,
      // in steps of kPathStep sd (kPathStepExact for exact), where the noise sd is that of a
      // candidate's calibration mean drop around its search-part mean (variance <= its
      // disagreement rate).
      // For `exact`, the same span of drops mapped to budgets: from the cheapest budget meeting
      // the path's first drop on the search part down to the pilot's, in equal steps, one exact
      // solve each (in path order: costliest, i.e. most accurate, first).
      std::vector<double> path;
      const double q = std::max(q_search, 1.0 / ns);
      const double sd = std::sqrt(q * (1.0 / ns + 1.0 / nc));
      const double step = method == Method::kExact ? kPathStepExact : kPathStep;
      const double start = eps - width - kPathStart * sd, h = std::max(step * sd, 1e-6);
      for (int k = 0;; ++k) {
        const double e = std::max(0.0, std::min(eps, start + k * h));
        if (path.empty() || e > path.back()) path.push_back(e);
        if (e >= eps) break;
      }
      if (budget_path && !std::isnan(pilot_budget)) {
        // Each path drop e >= 0 is mapped to a budget by interpolating, linearly in the drop,
        // between the two solves already made that bracket it (the search-part drop of the
        // memoised solves, made monotone in the budget); drops below 0 (a path start below 0:
        // the search-part drop underestimates the calibration drop, most for exact) extend the
        // span linearly beyond the budget meeting drop 0, up to the full cost.
        const double b_zero = cheapest(0.0);
        std::vector<std::pair<double, double>> curve;  // (budget, drop), drop falling
        for (const auto& [b, sm] : memo) {
          if (!sm.ok()) continue;
          const double d = search_full_acc - sm.fit.accuracy;
          while (!curve.empty() && curve.back().second <= d) curve.pop_back();
          curve.push_back({b, d});
        }
        auto budget_of = [&](double e) {
          if (e < 0.0) {
            if (std::isnan(b_zero) || !(eps > 0.0)) return cmax;
            return std::min(cmax, b_zero + (b_zero - pilot_budget) * -e / eps);
          }
          for (std::size_t i = 0; i < curve.size(); ++i) {
            if (curve[i].second > e) continue;
            if (i == 0) return curve[0].first;
            const auto [b1, d1] = curve[i - 1];
            const auto [b2, d2] = curve[i];
            return b2 + (b1 - b2) * (d2 - e) / (d2 - d1);
          }
          return cmax;
        };
        const int steps = std::max(1, static_cast<int>(std::ceil((eps - start) / h - 1e-9)));
        std::vector<double> budgets;
        for (int k = 0; k <= steps; ++k) {
          const double b =
              k == steps ? pilot_budget : std::max(pilot_budget, budget_of(start + k * h));
          if (budgets.empty() || b < budgets.back()) budgets.push_back(b);
        }
        path = budgets;
      } else if (budget_path) {
        path.clear();  // no solution meets the drop on the search part: nothing to certify
        why << "no solution meets the drop on the search part";
      }
      rep.path_length = static_cast<int>(path.size());
      const char* what = budget_path ? "search budget " : "search drop ";
      for (double e : path) {
        inner.accuracy_drop = e;
        ThresholdSummary cand = budget_path                ? at(e)
                                : (e == eps && pilot.ok()) ? pilot
                                                           : Solve(method, sp.problem, inner);
        if (!budget_path) total_iterations += cand.iterations;
        if (!cand.ok()) {
          why << "the candidate at " << what << Num(e) << " has no solution ("
              << ToString(cand.outcome) << ")";
          break;
        }
        int np = 0, nm = 0;
        counts(cp.problem, cand.policy, &np, &nm);
        if (!DropTestPasses(test, np, nm)) {
          why << "the candidate at " << what << Num(e) << " was not certified";
          break;
        }
        best = cand;
        best_fit_target = e;
        ++rep.certified;
      }
    } else {
      double width = eps;
      const double l1 = std::log(1.0 / d1);
      if (pilot.ok()) {
        std::vector<double> x;
        double dis = 0.0;
        losses(sp.problem, pilot.policy, &x, &dis);
        const double qs = dis / ns, qc = qcap(qs);
        width = BennettWidth(qc, 1.0 + qc, g.horizon, d2) + std::sqrt(2.0 * qc * l1 / nc) + l1 / nc;
      }
      std::vector<double> path;
      for (double mult : kPath) {
        const double e = std::max(0.0, eps - mult * width);
        if (path.empty() || e > path.back()) path.push_back(e);
      }
      rep.path_length = static_cast<int>(path.size());
      for (double e : path) {
        inner.accuracy_drop = e;
        ThresholdSummary cand = (e == eps && pilot.ok()) ? pilot : Solve(method, sp.problem, inner);
        total_iterations += cand.iterations;
        if (!cand.ok()) {
          why << "the candidate at search drop " << Num(e) << " has no solution ("
              << ToString(cand.outcome) << ")";
          break;
        }
        std::vector<double> xs, xc;
        double ds = 0.0, dc = 0.0;
        losses(sp.problem, cand.policy, &xs, &ds);
        const double qc = qcap(ds / ns);
        const double mstar = eps - BennettWidth(qc, 1.0 + qc, g.horizon, d2);
        losses(cp.problem, cand.policy, &xc, &dc);
        const bool mean_ok = mstar > -1.0 && MeanTestRejects(xc, 0.5 * (mstar + 1.0), d1, g.bound);
        const bool var_ok =
            HoeffdingBentkusPValue(dc / nc, nc, qc, /*binary=*/true) <= d1 || qc >= 1.0;
        if (!(mean_ok && var_ok)) {
          why << "the candidate at search drop " << Num(e) << " was not certified"
              << (mean_ok ? " (disagreement rate above its cap)" : "");
          break;
        }
        best = cand;
        best_fit_target = e;
        ++rep.certified;
      }
    }
    rep.drop_bound = eps;
    if (rep.certified > 0) {
      PerSample(cp.problem, best.policy, &costs, &corr);
      const double pop = UpperBound(norm_cost(costs), d1 / rep.path_length, g.bound);
      rep.cost_bound = cmin + span * FreshMeanQuantile(pop, g.horizon, d2);
      // The same absolute accuracy lower bound as in budget mode.
      std::vector<double> err(corr.size());
      for (std::size_t i = 0; i < corr.size(); ++i) err[i] = corr[i] ? 0.0 : 1.0;
      const double pop_err = HoeffdingBentkusUpperBound(err, d1 / rep.path_length, true);
      rep.accuracy_bound = 1.0 - FreshMeanQuantile(pop_err, g.horizon, d2);
    }
  }

  std::ostringstream m;
  m << "guarantee " << Num(g.level) << " (" << rep.bound << ", horizon "
    << (finite ? Num(g.horizon) : std::string("inf")) << "): searched on " << ns
    << " fit samples, calibrated on " << nc
    << (rep.test.empty() ? std::string() : " with the " + rep.test + " test") << "; "
    << rep.certified << " of " << rep.path_length << " path candidates certified";
  if (rep.certified < rep.path_length && !why.str().empty()) m << " (" << why.str() << ")";
  if (rep.certified == 0) {
    out.outcome = Outcome::kInfeasible;
    out.message = m.str() + ": no policy certified at this level";
    out.guarantee = rep;
    out.iterations = total_iterations;
    return out;
  }
  best.fit = problem.Evaluate(best.policy);  // the exact evaluator on the whole fit split
  best.fit_budget = acc_mode ? std::numeric_limits<double>::quiet_NaN() : best_fit_target;
  best.message = m.str() + "; " + best.message;
  best.guarantee = rep;
  best.iterations = total_iterations;
  return best;
}

}  // namespace exitplan
