// The deployment guarantee (optim/guarantee.hpp), the shift check (optim/shift.hpp), the
// feasibility step and tie handling that keep every method within budget on the fit split.
#include <catch2/catch.hpp>
#include <cmath>
#include <filesystem>
#include <functional>
#include <random>
#include <tuple>

#include "dse/config.hpp"
#include "dse/greedy.hpp"
#include "dse/place_run.hpp"
#include "dse/report.hpp"
#include "dse/sweep.hpp"
#include "dse/threshold_rows.hpp"
#include "exitplan/runtime.hpp"
#include "optim/geometric.hpp"
#include "optim/guarantee.hpp"
#include "optim/shift.hpp"
#include "optim/solve.hpp"
#include "profiles/dump.hpp"
#include "profiles/error.hpp"
#include "profiles/io.hpp"
#include "profiles/profile.hpp"
#include "test_util.hpp"

using namespace exitplan;

namespace {

// A synthetic 3-exit problem: descending scores in [0, 1]; the deeper exit is more often right, a
// confident sample more often right. `harder` shifts every score down (less confident: costlier).
struct Synthetic {
  ScoreMatrix s;
  CorrectMatrix c;
  ThresholdProblem p;
  Synthetic(int n, unsigned seed, double harder = 0.0) : s(3, n), c(3, n) {
    std::mt19937_64 rng(seed);
    std::uniform_real_distribution<double> u(0.0, 1.0);
    for (int i = 0; i < n; ++i) {
      const double difficulty = u(rng);
      for (int e = 0; e < 3; ++e) {
        const double conf =
            std::clamp(1.0 - difficulty + 0.15 * e + 0.2 * (u(rng) - 0.5) - harder, 0.0, 1.0);
        s(e, i) = conf;
        c(e, i) = u(rng) < 0.35 + 0.6 * conf;
      }
    }
    p.scores = &s;
    p.correct = &c;
    p.order = ScoreOrder::kDescending;
    p.kept = {0, 1, 2};
    p.stop_cost = {1.0, 2.0, 4.0};
  }
};

// Columns [from, from + n) of a synthetic pool as their own problem.
// 0, ..., n - 1 in the order of a shuffle by std::mt19937_64 seeded `seed` (a random re-split).
std::vector<int> Shuffled(int n, std::uint64_t seed) {
  std::vector<int> perm(n);
  for (int i = 0; i < n; ++i) perm[i] = i;
  std::mt19937_64 rng(seed);
  std::shuffle(perm.begin(), perm.end(), rng);
  return perm;
}

struct Slice {
  ScoreMatrix s;
  CorrectMatrix c;
  ThresholdProblem p;
  Slice(const Synthetic& pool, const std::vector<int>& idx) : s(3, idx.size()), c(3, idx.size()) {
    for (std::size_t j = 0; j < idx.size(); ++j) {
      s.col(j) = pool.s.col(idx[j]);
      c.col(j) = pool.c.col(idx[j]);
    }
    p = pool.p;
    p.scores = &s;
    p.correct = &c;
  }
};

}  // namespace

TEST_CASE("bounds: Hoeffding, binomial and Bentkus against hand-computed values") {
  // KL(0.3 || 0.5) = 0.3 ln 0.6 + 0.7 ln 1.4 = 0.0822828758
  CHECK(BernoulliKl(0.3, 0.5) == Approx(0.0822828785).epsilon(1e-9));
  CHECK(HoeffdingPValue(0.3, 100, 0.5) == Approx(std::exp(-8.22828785)).epsilon(1e-8));
  CHECK(HoeffdingPValue(0.3, 100, 0.5) <= std::exp(-2.0 * 100 * 0.04));  // the quadratic form
  CHECK(HoeffdingPValue(0.6, 100, 0.5) == 1.0);
  CHECK(BinomialCdf(3, 10, 0.5) == Approx(176.0 / 1024.0).epsilon(1e-12));
  CHECK(BinomialCdf(0, 20, 0.1) == Approx(std::pow(0.9, 20)).epsilon(1e-12));
  CHECK(BinomialCdf(9, 10, 0.5) == Approx(1023.0 / 1024.0).epsilon(1e-12));
  // P(Bin(10000, 1/2) <= 5000) = 1/2 + pmf(5000)/2, pmf(5000) = 0.00797871...
  CHECK(BinomialCdf(5000, 10000, 0.5) == Approx(0.5 + 0.5 * 0.0079786461).epsilon(1e-7));
  CHECK(BentkusPValue(0.3, 10, 0.5) == Approx(std::exp(1.0) * 176.0 / 1024.0).epsilon(1e-12));
  CHECK(HoeffdingBentkusPValue(0.3, 10, 0.5, true) == Approx(176.0 / 1024.0).epsilon(1e-12));
  // The median bound: 2 P(Bin(10, 0.5) <= 3) = 2 176 / 1024; Hoeffding's exp(-10 KL(0.3 || 0.5))
  // = 0.439 is larger.
  CHECK(MedianPValue(0.3, 10, 0.5) == Approx(2.0 * 176.0 / 1024.0).epsilon(1e-12));
  CHECK(HoeffdingMedianPValue(0.3, 10, 0.5) == Approx(2.0 * 176.0 / 1024.0).epsilon(1e-12));
  CHECK(MedianPValue(0.3, 10, 0.05) == 1.0);  // capped
  // Fresh-sample tail: min(exp(-M KL(b || m)), 2 P(Bin(M, m) >= floor(M b))); with scipy,
  // 2 binom.sf(399, 1000, 0.3) = 2.2082596e-11 (e in place of 2: 3.0013e-11).
  // (1 minus a CDF near 1: 1e-16 absolute, so 1e-4 relative here.)
  CHECK(FreshMeanTail(0.3, 0.4, 1000) == Approx(2.2082596381e-11).epsilon(1e-4));
  CHECK(FreshMeanTail(0.4, 0.4, 1000) == 1.0);
  CHECK(FreshMeanTail(0.3, 1.0, 1000) == 0.0);
  // Fresh-sample cap: infinite horizon gives b back; a finite one sits where the tail is delta2.
  CHECK(FreshMeanCap(0.4, std::numeric_limits<double>::infinity(), 0.025) == 0.4);
  const double cap = FreshMeanCap(0.4, 1000, 0.025);
  CHECK(cap < 0.4);
  CHECK(FreshMeanTail(cap, 0.4, 1000) <= 0.025);
  CHECK(FreshMeanTail(cap + 1e-4, 0.4, 1000) > 0.025);
  // scipy (brentq on the same tail): m = 0.3652040191 (0.3634475 with e in place of 2).
  CHECK(cap == Approx(0.3652040191).epsilon(1e-8));
  // Hoeffding's quadratic form alone would need b - m = sqrt(ln(40) / 2000) = 0.0429; the KL and
  // median forms give a narrower gap, but of the same order.
  CHECK(0.4 - cap < 0.0430);
  CHECK(0.4 - cap > 0.025);
}

namespace {

// The exact law of a sum of independent Bernoulli(p_i) (Poisson-binomial), by convolution.
std::vector<double> PoissonBinomialPmf(const std::vector<double>& p) {
  std::vector<double> pmf{1.0};
  for (double q : p) {
    std::vector<double> next(pmf.size() + 1, 0.0);
    for (std::size_t k = 0; k < pmf.size(); ++k) {
      next[k] += pmf[k] * (1.0 - q);
      next[k + 1] += pmf[k] * q;
    }
    pmf = std::move(next);
  }
  return pmf;
}

// P(Bin(n, p) >= k) and P(Bin(n, p) <= k), from BinomialCdf.
double BinomAtLeast(std::int64_t k, std::int64_t n, double p) {
  return 1.0 - BinomialCdf(k - 1, n, p);
}

}  // namespace

TEST_CASE("the median bound: a Poisson-binomial's median is within 1 of its mean (brute force)") {
  // Jogdeo & Samuels (1968): a sum S of independent Bernoullis with mean mu has
  // P(S >= floor(mu)) >= 1/2 and P(S <= ceil(mu)) >= 1/2 (with an integer mean, mu is a median).
  // 4,000 random Poisson-binomials with n <= 30 under several laws of the p_i, some with an
  // integer mean, some with p_i near or at 0 and 1.
  std::mt19937_64 rng(1968);
  std::uniform_real_distribution<double> u01(0.0, 1.0);
  std::uniform_int_distribution<int> size(1, 30);
  double worst = 1.0, worst_ceil = 1.0;
  int integer_means = 0;
  for (int c = 0; c < 4000; ++c) {
    const int n = size(rng), law = c % 5;
    std::vector<double> p(n);
    for (double& q : p) {
      const double u = u01(rng);
      q = law == 0   ? u
          : law == 1 ? u * u * u        // near 0
          : law == 2 ? 1.0 - u * u * u  // near 1
          : law == 3 ? (u < 0.3   ? 0.0
                        : u < 0.6 ? 1.0
                                  : u01(rng))  // at 0 and 1
                     : (u < 0.5 ? 1e-4 * u01(rng) : 1.0 - 1e-4 * u01(rng));
    }
    double mu = 0.0;
    for (double q : p) mu += q;
    // Every other case: move the last p so that the mean is an integer (when that stays in [0, 1]).
    bool integer = false;
    long target = 0;
    if (c % 2 == 1) {
      target = std::lround(mu);
      const double last = p.back() + static_cast<double>(target) - mu;
      if (last >= 0.0 && last <= 1.0) {
        p.back() = last;
        mu = static_cast<double>(target);
        integer = true;
        ++integer_means;
      }
    }
    const std::vector<double> pmf = PoissonBinomialPmf(p);
    // floor and ceil of mu, exact for the integer means (mu is then the target itself).
    const long lo = integer ? target : static_cast<long>(std::floor(mu));
    const long hi = integer ? target : static_cast<long>(std::ceil(mu));
    double at_least = 0.0, at_most = 0.0;
    for (long k = 0; k <= n; ++k) {
      if (k >= lo) at_least += pmf[k];
      if (k <= hi) at_most += pmf[k];
    }
    INFO("case " << c << ": n " << n << ", law " << law << ", mean " << mu);
    CHECK(at_least >= 0.5 - 1e-12);
    CHECK(at_most >= 0.5 - 1e-12);
    worst = std::min({worst, at_least, at_most});
    // The floor is needed: P(S >= ceil(mu)) falls below 1/2 (one Bernoulli(0.3): 0.3).
    if (!integer) {
      double at_least_ceil = 0.0;
      for (long k = hi; k <= n; ++k) at_least_ceil += pmf[k];
      worst_ceil = std::min(worst_ceil, at_least_ceil);
    }
  }
  INFO("smallest P(S >= floor(mu)) or P(S <= ceil(mu)): " << worst);
  CHECK(integer_means > 1000);
  CHECK(worst < 0.6);  // near its floor of 1/2: a bound of 0.6 would fail
  CHECK(worst_ceil < 0.1);
}

TEST_CASE("the median bound: exact tails of 3- and 4-point laws against 2 P(Bin) (convolution)") {
  // For M i.i.d. losses of a law on [0, 1] with mean t: P(S >= s) <= 2 P(Bin(M, t) >= floor(s))
  // and P(S <= a) <= 2 P(Bin(M, t) <= ceil(a)) at every s, a. S's exact law by enumerating the
  // counts of each support point (multinomial); both sides change only at S's atoms (the right
  // sides are monotone), so the atoms are the points to check. Also FreshMeanTail and
  // HoeffdingMedianPValue themselves at the atoms. With constant 1 in place of 2 the bound fails
  // for some law (the largest ratio is above 1), so a wrong constant would be caught.
  std::mt19937_64 rng(2004);
  std::uniform_real_distribution<double> u01(0.0, 1.0);
  double worst_ratio = 0.0;
  int cases = 0;
  for (int c = 0; c < 120; ++c) {
    const int k = 3 + c % 2;
    const int m = std::vector<int>{5, 8, 13, 20, 29, 40}[(c / 2) % 6];
    std::vector<double> v(k), w(k);
    double wsum = 0.0;
    for (int i = 0; i < k; ++i) {
      const double r = u01(rng);
      v[i] = c % 3 == 0 && i < 2 ? static_cast<double>(i) : r;  // some laws use 0 and 1
      w[i] = 0.05 + u01(rng);
      wsum += w[i];
    }
    double t = 0.0;
    for (int i = 0; i < k; ++i) {
      w[i] /= wsum;
      t += w[i] * v[i];
    }
    // Enumerate the counts (c_1, ..., c_k) summing to m.
    std::vector<std::pair<double, double>> atoms;  // (sum, probability)
    std::vector<int> cnt(k, 0);
    std::function<void(int, int)> rec = [&](int i, int left) {
      if (i == k - 1) {
        cnt[i] = left;
        double lp = std::lgamma(m + 1.0), s = 0.0;
        for (int j = 0; j < k; ++j) {
          lp += -std::lgamma(cnt[j] + 1.0) + cnt[j] * std::log(w[j]);
          s += cnt[j] * v[j];
        }
        atoms.push_back({s, std::exp(lp)});
        return;
      }
      for (int a = 0; a <= left; ++a) {
        cnt[i] = a;
        rec(i + 1, left - a);
      }
    };
    rec(0, m);
    std::sort(atoms.begin(), atoms.end());
    double total = 0.0;
    for (const auto& a : atoms) total += a.second;
    REQUIRE(total == Approx(1.0).epsilon(1e-9));
    // Tails at each atom (atoms within 1e-12 of each other are one point).
    std::vector<double> upper(atoms.size()), lower(atoms.size());
    double acc = 0.0;
    for (std::size_t i = 0; i < atoms.size(); ++i) lower[i] = (acc += atoms[i].second);
    acc = 0.0;
    for (std::size_t i = atoms.size(); i-- > 0;) upper[i] = (acc += atoms[i].second);
    for (std::size_t i = 0; i < atoms.size(); ++i) {
      const double s = atoms[i].first;
      std::size_t lo = i, hi = i;  // ties
      while (lo > 0 && atoms[lo - 1].first > s - 1e-12) --lo;
      while (hi + 1 < atoms.size() && atoms[hi + 1].first < s + 1e-12) ++hi;
      const double p_up = upper[lo], p_low = lower[hi];
      const auto fl = static_cast<std::int64_t>(std::floor(s + 1e-12));
      const auto ce = static_cast<std::int64_t>(std::ceil(s - 1e-12));
      const double bin_up = BinomAtLeast(fl, m, t), bin_low = BinomialCdf(ce, m, t);
      INFO("law " << c << " (" << k << " points, M " << m << ", mean " << t << "), s " << s);
      CHECK(p_up <= 2.0 * bin_up + 1e-12);
      CHECK(p_low <= 2.0 * bin_low + 1e-12);
      if (bin_up > 1e-9) worst_ratio = std::max(worst_ratio, p_up / bin_up);
      if (bin_low > 1e-9) worst_ratio = std::max(worst_ratio, p_low / bin_low);
      // The library's tails: P(mean > b) <= FreshMeanTail(t, b, M) at b just below an atom's
      // mean (the event includes the atom), and P(mean <= tau) <= HoeffdingMedianPValue.
      const double b = s / m - 1e-9;
      if (b > t && b < 1.0) CHECK(p_up <= FreshMeanTail(t, b, m) + 1e-12);
      if (s / m < t) CHECK(p_low <= HoeffdingMedianPValue(s / m, m, t) + 1e-12);
      ++cases;
    }
  }
  INFO("largest P(S tail) / P(Bin tail): " << worst_ratio << " over " << cases << " atoms");
  CHECK(worst_ratio <= 2.0 + 1e-9);
  CHECK(worst_ratio > 1.2);  // constant 1 fails
}

TEST_CASE("the Berry-Esseen fresh tail: exact tails of near-two-point laws at M = 1,000-4,000") {
  // Laws on the lattice {0, 1/L, ..., 1} with most of their mass at 0 and 1 (the shape of the
  // image models' stop costs), where the Berry-Esseen form is the smallest of FreshMeanTail's
  // three; the exact law of the sum by M convolutions. P(mean > b) at b just below each atom must
  // be <= FreshMeanTail(t, b, M), and with the variance cap at the law's variance too. The
  // Gaussian term alone (no additive Berry-Esseen term) would not do: some exact tail exceeds it.
  struct Law {
    int lattice, m;
    std::vector<double> w;  // w[j]: P(x = j / lattice)
  };
  const std::vector<Law> laws = {
      {1, 2000, {0.7, 0.3}},  // Bernoulli: the binomial itself
      {1, 4000, {0.5, 0.5}},
      {2, 2000, {0.62, 0.05, 0.33}},  // a little mass in the middle
      {2, 3000, {0.45, 0.1, 0.45}},
      {4, 1000, {0.6, 0.02, 0.03, 0.02, 0.33}},
      {4, 2000, {0.75, 0.05, 0.0, 0.0, 0.2}},
  };
  int active = 0, checked = 0;
  double worst_over_gauss = 0.0;
  for (const auto& law : laws) {
    const int top = law.lattice * law.m;
    std::vector<double> pmf(top + 1, 0.0), next(top + 1);
    pmf[0] = 1.0;
    double t = 0.0, second = 0.0;
    for (std::size_t j = 0; j < law.w.size(); ++j) {
      const double x = static_cast<double>(j) / law.lattice;
      t += law.w[j] * x;
      second += law.w[j] * x * x;
    }
    const double var = second - t * t;
    for (int step = 0; step < law.m; ++step) {
      std::fill(next.begin(), next.end(), 0.0);
      const int reach = step * law.lattice;
      for (int s = 0; s <= reach; ++s) {
        if (pmf[s] == 0.0) continue;
        for (std::size_t j = 0; j < law.w.size(); ++j) next[s + j] += pmf[s] * law.w[j];
      }
      pmf.swap(next);
    }
    std::vector<double> upper(top + 2, 0.0);  // upper[s] = P(S >= s / lattice)
    for (int s = top; s >= 0; --s) upper[s] = upper[s + 1] + pmf[s];
    const double md = static_cast<double>(law.m);
    for (int s = 0; s <= top; ++s) {
      const double b =
          static_cast<double>(s) / (law.lattice * md) - 1e-9;  // the event includes S = s
      if (!(b > t) || b >= 1.0 || upper[s] < 1e-7) continue;
      INFO("lattice " << law.lattice << ", M " << law.m << ", mean " << t << ", b " << b);
      const double q = FreshMeanTail(t, b, md);
      CHECK(upper[s] <= q + 1e-12);
      CHECK(upper[s] <= FreshMeanTail(t, b, md, var * (1.0 + 1e-9)) + 1e-12);
      const auto floor_s = static_cast<std::int64_t>(std::floor(md * b + 1e-9));
      if (BerryEsseenFreshTail(t, b, md, std::numeric_limits<double>::quiet_NaN()) <
          2.0 * BinomAtLeast(floor_s, law.m, t))
        ++active;
      const double gauss = 0.5 * std::erfc(std::sqrt(md) * (b - t) / std::sqrt(2.0 * var));
      worst_over_gauss = std::max(worst_over_gauss, upper[s] - gauss);
      ++checked;
    }
  }
  INFO(active << " of " << checked << " atoms with the Berry-Esseen form below the median bound");
  CHECK(active > checked / 4);
  CHECK(worst_over_gauss > 1e-3);  // the lattice: the Gaussian term alone fails
  // Hand values: at M = 10,000, b = 0.35 and m = b - 1.96 sd the median bound reads 2 x 0.025;
  // the Berry-Esseen form (the top sd cell, beta3 <= (1 - tau) / sigma) reads about 0.030.
  const double b = 0.35, sd = std::sqrt(b * (1.0 - b) / 10000.0);
  CHECK(FreshMeanTail(b - 1.96 * sd, b, 10000.0) == Approx(0.0304).margin(0.0005));
  CHECK(FreshMeanTail(b - 1.96 * sd, b, 10000.0) < 0.035);
  // Far in the tail the additive term is too large: the median bound stays.
  CHECK(FreshMeanTail(b - 3.5 * sd, b, 10000.0) ==
        Approx(2.0 * BinomAtLeast(3500, 10000, b - 3.5 * sd)).epsilon(1e-6));
}

TEST_CASE("WSR and Hoeffding-Bentkus upper bounds cover the mean at their level (simulation)") {
  std::mt19937_64 rng(20240611);
  std::uniform_real_distribution<double> u(0.0, 1.0);
  const double delta = 0.1, mean = 0.3;
  const int trials = 1000, n = 200;
  int miss_wsr = 0, miss_hb = 0;
  double width_wsr = 0.0;
  for (int t = 0; t < trials; ++t) {
    std::vector<double> x(n);
    // A three-point loss with mean 0.3: 0 w.p. 0.6, 0.5 w.p. 0.2, 1 w.p. 0.2.
    for (double& v : x) {
      const double r = u(rng);
      v = r < 0.6 ? 0.0 : r < 0.8 ? 0.5 : 1.0;
    }
    const double w = WsrUpperBound(x, delta), h = HoeffdingBentkusUpperBound(x, delta);
    miss_wsr += w < mean;
    miss_hb += h < mean;
    width_wsr += w - mean;
  }
  // Nominal miss rate <= 10%: allow 3 binomial standard deviations (sd 0.95%).
  CHECK(miss_wsr <= 0.1 * trials + 3 * std::sqrt(0.09 * trials));
  CHECK(miss_hb <= 0.1 * trials + 3 * std::sqrt(0.09 * trials));
  // And not vacuous: the mean excess is about 1.3 sd / sqrt(n) ~ 0.036, far below 0.15.
  CHECK(width_wsr / trials < 0.15);
  CHECK(width_wsr / trials > 0.0);
}

TEST_CASE("the fixed-bet test and its one bound on the next M samples: hand-computed values") {
  BetTest t;
  t.theta = 0.2;
  t.nu = 0.5;
  t.ell = 1.0;
  t.n = 10;
  // min(1, e^-ell (1 - nu (mu - theta))^n) = e^-1 0.9^10
  CHECK(BetPassBound(t, 0.4) == Approx(0.3486784401 * 0.36787944117).epsilon(1e-9));
  CHECK(BetPassBound(t, 0.1) == 1.0);  // below theta: no bound
  t.ell = -1.0;
  CHECK(BetPassBound(t, 0.2) == 1.0);  // e^1 capped at 1
  // Capital of {0, 1} at theta 0.5 with bet 1: (1 + 0.5)(1 - 0.5) = 0.75.
  BetTest c;
  c.theta = 0.5;
  c.nu = 1.0;
  c.n = 2;
  c.ell = std::log(0.75) - 1e-12;
  CHECK(BetTestPasses(c, {0.0, 1.0}));
  c.ell = std::log(0.75) + 1e-9;
  CHECK_FALSE(BetTestPasses(c, {0.0, 1.0}));
  // A vanishing bet: the bound is constant e^-ell above theta, so the sum telescopes to
  // Q(theta) + e^-ell (1 - Q(theta)).
  BetTest z;
  z.theta = 0.3;
  z.nu = 1e-12;
  z.ell = std::log(10.0);
  z.n = 100;
  const double q = FreshMeanTail(0.3, 0.4, 1000);
  CHECK(q > 0.0);
  CHECK(q < 1e-6);
  CHECK(BetTestBound(z, 0.4, 1000) == Approx(q + 0.1 * (1.0 - q)).epsilon(1e-9));
  // The upper sum on 512 steps lies above the integral (a 20000-step sum) and close to it.
  const BetTest ch = ChooseBetTest(0.4, 1000, 500, 0.2, 0.05);
  REQUIRE(std::isfinite(ch.ell));
  const double coarse = BetTestBound(ch, 0.4, 1000), fine = BetTestBound(ch, 0.4, 1000, 20000);
  CHECK(coarse >= fine);
  CHECK(coarse <= 1.05 * fine);
  CHECK(coarse <= 0.05);
  CHECK(coarse > 0.045);  // ell is the smallest that reaches delta, not a wasteful one
  CHECK(ch.theta < 0.4);
  CHECK(FreshMeanTail(ch.theta, 0.4, 1000) == Approx(0.05 * 0.01).epsilon(1e-6));
  CHECK(ch.nu > 0.0);
  CHECK(ch.nu < 1.0 / (1.0 - ch.theta));
  // The one bound needs a smaller gap than the two-part scheme at delta/2 each would (its
  // Gaussian picture: z sqrt(s2/n + s2_M/M) instead of z (s/sqrt(n) + s_M/sqrt(M))).
  const double two_part = (0.4 - FreshMeanCap(0.4, 1000, 0.025)) +
                          std::sqrt(2.0 * 0.2 * std::log(40.0) / 500) + std::log(40.0) / 500;
  CHECK(ch.predicted_gap < two_part);
  CHECK(ch.predicted_gap > 0.5 * two_part);
  // A budget at the cheapest exit leaves nothing to certify: no test.
  CHECK(std::isinf(ChooseBetTest(0.0, 50, 500, 0.01, 0.05).ell));
  CHECK_FALSE(BetTestPasses(ChooseBetTest(0.0, 50, 500, 0.01, 0.05), {0.0, 0.0}));
}

TEST_CASE("the variance-aware Bentkus-type tail: hand values, Cantelli, brute force, simulation") {
  // n = 1, v = 0.25, g = 0.5: T in {-0.25 (p 0.8), 1 (p 0.2)}; at h = -0.5,
  // E (T - h)_+^2 = 0.8 0.0625 + 0.2 2.25 = 0.5 and (g - h)^2 = 1: 0.5, Cantelli's
  // v / (v + g^2) = 0.25 / 0.5, which the two-point law {-0.5, 0.5} attains (so no bound on one
  // variable can be smaller).
  CHECK(VarianceTail(1, 0.25, 0.5) == Approx(0.5).epsilon(1e-12));
  for (double g : {0.2, 0.6, 0.9}) CHECK(VarianceTail(1, 0.1, g) == Approx(0.1 / (0.1 + g * g)));
  // Brute force (the infimum over 20,001 values of h of the exact binomial expectation).
  CHECK(VarianceTail(10, 0.1, 2.0) == Approx(0.1400839622).epsilon(1e-8));
  CHECK(VarianceTail(100, 0.05, 5.0) == Approx(0.0713970442).epsilon(1e-7));
  CHECK(VarianceTail(9000, 0.07, 60.0) == Approx(0.0303960206).epsilon(1e-7));
  // Ends, and monotone in g.
  CHECK(VarianceTail(10, 0.1, 0.0) == 1.0);
  CHECK(VarianceTail(10, 0.1, 10.5) == 0.0);
  double prev = 1.0;
  for (double g = 0.5; g < 30.0; g += 0.5) {
    const double q = VarianceTail(200, 0.05, g);
    CHECK(q <= prev);
    prev = q;
  }
  // A valid bound: the empirical tail of sums of three-point variables (values -0.5, 0, 1 around
  // mean 0, variance 0.15) never exceeds it beyond Monte Carlo noise, at several g; and it is
  // far below the variance-free bound for such a small variance.
  std::mt19937_64 rng(5);
  std::uniform_real_distribution<double> u01(0.0, 1.0);
  // P(1) = 0.1, P(-0.5) = 0.2, P(0) = 0.7: mean 0.1 - 0.1 = 0, variance 0.1 + 0.05 = 0.15.
  const int n = 50, trials = 200000;
  std::vector<int> hits(4, 0);
  const double gs[4] = {3.0, 5.0, 7.0, 9.0};
  for (int t = 0; t < trials; ++t) {
    double s = 0.0;
    for (int i = 0; i < n; ++i) {
      const double u = u01(rng);
      s += u < 0.1 ? 1.0 : (u < 0.3 ? -0.5 : 0.0);
    }
    for (int k = 0; k < 4; ++k) hits[k] += s >= gs[k];
  }
  for (int k = 0; k < 4; ++k) {
    const double p = static_cast<double>(hits[k]) / trials, bound = VarianceTail(n, 0.15, gs[k]);
    INFO("g " << gs[k] << ": empirical " << p << ", bound " << bound);
    CHECK(p <= bound + 4.0 * std::sqrt(bound / trials));
    CHECK(bound < 5.0 * p + 1e-3);  // and not vacuous (a few times the true tail)
  }
  // A bound that ignored the variance's own cap (v = 0.05 for variance 0.15) would fail here.
  CHECK(static_cast<double>(hits[1]) / trials > 2.0 * VarianceTail(n, 0.05, gs[1]));
}

TEST_CASE("the mean-threshold test, the variance cap and Bennett's tail: hand-computed values") {
  // Mean-threshold form: pass when the calibration mean is <= tau; above tau the pass bound is the
  // Hoeffding-Bentkus p-value of the mean tau against mu.
  BetTest m;
  m.tau = 0.25;
  m.n = 100;
  CHECK(BetTestPasses(m, {0.0, 0.5}));         // mean 0.25
  CHECK_FALSE(BetTestPasses(m, {0.0, 0.52}));  // mean 0.26
  CHECK(BetPassBound(m, 0.2) == 1.0);
  // Hoeffding exp(-100 KL(0.25 || 0.4)) = exp(-100 (0.25 ln(0.625) + 0.75 ln(1.25))) = 0.006835;
  // the median bound 2 P(Bin(100, 0.4) <= 25) = 2 0.0011890006 (scipy) is smaller (Bentkus' e
  // in place of 2: 0.003232).
  const double kl = 0.25 * std::log(0.25 / 0.4) + 0.75 * std::log(0.75 / 0.6);
  CHECK(BetPassBound(m, 0.4) <= std::exp(-100.0 * kl) * (1 + 1e-12));
  CHECK(BetPassBound(m, 0.4) == Approx(0.0023780012312).epsilon(1e-9));
  CHECK(BetPassBound(m, 0.4) == Approx(HoeffdingMedianPValue(0.25, 100, 0.4)).epsilon(1e-12));
  CHECK(BetPassBound(m, 0.4) < BetPassBound(m, 0.3));  // falls in mu
  // With a variance cap the pass bound may also use VarianceTail(n, V, n (mu - tau)).
  BetTest mcap = m;
  mcap.fresh_var = 0.01;
  CHECK(BetPassBound(mcap, 0.3) ==
        Approx(std::min(BetPassBound(m, 0.3), VarianceTail(100, 0.01, 100 * 0.05))).epsilon(1e-12));
  CHECK(BetPassBound(mcap, 0.3) < 0.5 * BetPassBound(m, 0.3));  // a small variance helps
  CHECK(BetPassBound(mcap, 0.2) == 1.0);
  // Bennett's tail with variance cap V = 0.1, h = 0.05, M = 1000, c = 1:
  // exp(-(M V) phi(h / V)), phi(0.5) = 1.5 ln 1.5 - 0.5 = 0.1081977..
  BetTest v;
  v.fresh_var = 0.1;
  const double bennett = std::exp(-100.0 * (1.5 * std::log(1.5) - 0.5));
  CHECK(bennett == Approx(2.0e-5).epsilon(0.02));
  // With the cap, Q is the smallest of the variance-free tail, Bennett's and the variance-aware
  // Bentkus-type tail VarianceTail(M, V, M (b - t)) (here the last: 4.6e-6 < 2.0e-5).
  CHECK(BetFreshTail(v, 0.35, 0.4, 1000) ==
        Approx(std::min({bennett, FreshMeanTail(0.35, 0.4, 1000), VarianceTail(1000, 0.1, 50.0)}))
            .epsilon(1e-12));
  CHECK(VarianceTail(1000, 0.1, 50.0) < bennett);
  CHECK(BetFreshTail(v, 0.35, 0.4, 1000) < FreshMeanTail(0.35, 0.4, 1000));  // the cap helps
  BetTest none;
  CHECK(BetFreshTail(none, 0.35, 0.4, 1000) == FreshMeanTail(0.35, 0.4, 1000));
  // The variance test: y = (x - c)^2 = 0.25 for x in {0, 1} around c = 0.5; with V = 0.2 and
  // bet 2 each factor is 1 - 2 (0.25 - 0.2) = 0.9 (a falling capital: fails); losses at the centre
  // give factors 1 + 2 0.2 = 1.4, and 1.4^9 = 20.66 >= 1 / 0.05 = 20 passes, 1.4^8 = 14.76 not.
  BetTest c;
  c.fresh_var = 0.2;
  c.var_nu = 2.0;
  c.var_delta = 0.05;
  CHECK_FALSE(VarianceCapPasses(c, {0.0, 1.0, 0.0, 1.0}, 0.5));
  CHECK(VarianceCapPasses(c, std::vector<double>(9, 0.5), 0.5));
  CHECK_FALSE(VarianceCapPasses(c, std::vector<double>(8, 0.5), 0.5));
  CHECK(VarianceCapPasses(none, {0.0, 1.0}, 0.5));  // no cap, no test
  // The chosen tests meet delta, with the variance test's share on top.
  const BetTest mt = ChooseMeanTest(0.4, 1000, 500, 0.05);
  REQUIRE(std::isfinite(mt.tau));
  CHECK(BetTestBound(mt, 0.4, 1000) <= 0.05);
  CHECK(BetTestBound(mt, 0.4, 1000) > 0.04);
  CHECK(mt.predicted_gap == Approx(0.4 - mt.tau));
  const BetTest mc = ChooseMeanTest(0.4, 1000, 500, 0.05, 0.05, 0.005);
  CHECK(BetTestBound(mc, 0.4, 1000) + mc.var_delta <= 0.05);
  CHECK(mc.predicted_gap < mt.predicted_gap);  // a small variance cap narrows the gap
  const BetTest bc = ChooseBetTest(0.4, 1000, 500, 0.04, 0.05, 0.05, 0.005);
  REQUIRE(std::isfinite(bc.ell));
  CHECK(BetTestBound(bc, 0.4, 1000) + bc.var_delta <= 0.05);
  CHECK(bc.predicted_gap < ChooseBetTest(0.4, 1000, 500, 0.04, 0.05).predicted_gap);
  // Bernoulli-like losses (variance near b (1 - b)): the mean-threshold test needs the smaller gap.
  CHECK(mt.predicted_gap < ChooseBetTest(0.4, 1000, 500, 0.24, 0.05).predicted_gap);
}

TEST_CASE(
    "the mean-threshold and variance-capped tests along a path: violation rate at most delta") {
  // As the simulation below: 40 candidates with means rising through b, each tested on the
  // calibration part in path order; the last that passed is compared with b on M fresh samples.
  // Losses lo + (hi - lo) 1{u < p}: narrow two-point losses (variance 0.04 at b) where the
  // variance cap helps, and Bernoulli losses (variance 0.21) tested against a cap that is far too
  // small: there the variance test must refuse, or the capped tail would under-state the risk.
  const double delta = 0.1, b = 0.3, dv = 0.01;
  const int n = 1600, trials = 1500, path = 40;
  struct Case {
    double lo, hi, cap;
    int kind;  // 0 mean-threshold, 1 mean-threshold with cap, 2 bet with cap
    int horizon;
  };
  // The wrong cap with a short horizon (100): there the fresh-sample noise dominates, and
  // ignoring it shows.
  for (const Case& k : {Case{0.0, 1.0, 0.0, 0, 400}, Case{0.1, 0.6, 0.0, 0, 400},
                        Case{0.1, 0.6, 0.05, 1, 400}, Case{0.1, 0.6, 0.05, 2, 400},
                        Case{0.0, 1.0, 0.0002, 1, 100}, Case{0.0, 1.0, 0.0002, 2, 100},
                        // A long horizon (4000 against n = 1600): the calibration noise dominates,
                        // and the capped pass bound (VarianceTail on the calibration side) counts:
                        // a right cap (0.07 >= every candidate's variance, at most 0.0625) and a
                        // wrong one that the variance test must refuse.
                        Case{0.1, 0.6, 0.07, 1, 4000}, Case{0.0, 1.0, 0.002, 1, 4000}}) {
    const int horizon = k.horizon;
    INFO("losses in {" << k.lo << ", " << k.hi << "}, cap " << k.cap << ", kind " << k.kind);
    auto loss = [&](double u, double mean) {
      return u < (mean - k.lo) / (k.hi - k.lo) ? k.hi : k.lo;
    };
    const double var = (b - k.lo) * (k.hi - b);
    const BetTest t = k.kind == 0   ? ChooseMeanTest(b, horizon, n, delta)
                      : k.kind == 1 ? ChooseMeanTest(b, horizon, n, delta, k.cap, dv)
                                    : ChooseBetTest(b, horizon, n, var, delta, k.cap, dv);
    BetTest tv = t;
    if (k.kind > 0) tv.var_nu = std::sqrt(2.0 * std::log(1.0 / dv) / (n * 0.002));
    CHECK(BetTestBound(t, b, horizon) + t.var_delta <= delta);
    std::mt19937_64 rng(7);
    std::uniform_real_distribution<double> u01(0.0, 1.0);
    int viol = 0, returned = 0, unguarded_viol = 0;
    std::vector<double> cal(n), fresh(horizon), x(n);
    for (int trial = 0; trial < trials; ++trial) {
      for (double& v : cal) v = u01(rng);
      for (double& v : fresh) v = u01(rng);
      auto mean_of = [&](int j) { return b - 0.1 + 0.004 * j; };
      auto fresh_over = [&](int j) {
        double s = 0.0;
        for (double v : fresh) s += loss(v, mean_of(j));
        return s / horizon > b;
      };
      int last = -1, unguarded = -1;
      for (int j = 0; j < path; ++j) {
        for (int i = 0; i < n; ++i) x[i] = loss(cal[i], mean_of(j));
        const bool mean_ok = BetTestPasses(t, x);
        // The centre: the candidate's mean (a search part would estimate it).
        const bool var_ok = VarianceCapPasses(tv, x, mean_of(j));
        if (mean_ok && var_ok && last == j - 1) last = j;
        if (mean_ok && unguarded == j - 1) unguarded = j;
        if (last < j && unguarded < j) break;
      }
      if (last >= 0) {
        ++returned;
        viol += fresh_over(last);
      }
      if (unguarded >= 0) unguarded_viol += fresh_over(unguarded);
    }
    INFO("violations " << viol << " of " << trials << " (returned " << returned
                       << "), without the variance test " << unguarded_viol);
    CHECK(viol <= delta * trials + 3 * std::sqrt(delta * (1 - delta) * trials));
    if (k.cap == 0.0 || k.hi - k.lo < 1.0) {
      CHECK(returned > trials / 2);  // not vacuous
    } else {
      // The cap is wrong (0.0002 against 0.21): the variance test refuses, and without it the
      // capped tail lets through candidates that violate far more often than delta.
      CHECK(returned < trials / 20);
      CHECK(unguarded_viol > delta * trials + 3 * std::sqrt(delta * (1 - delta) * trials));
    }
  }
}

TEST_CASE("the one bound along a fixed-sequence path: violation rate at most delta (simulation)") {
  // A path of 40 nested candidates, as a single threshold gives: candidate j's loss on a sample
  // with uniform u is lo + (hi - lo) 1{u < p_j}, means rising through b; the calibration part
  // decides the last candidate passing in path order, and its mean over M fresh samples is
  // compared with b. Bernoulli losses (lo 0, hi 1) have the largest variance a mean can have; the
  // narrower two-point losses let the bet use a smaller variance.
  const double delta = 0.1, b = 0.3;
  // A calibration part four times the horizon: the fresh-sample noise matters most.
  const int n = 1600, horizon = 400, trials = 2000, path = 40;
  for (const auto& [lo, hi] : {std::pair<double, double>{0.0, 1.0}, {0.1, 0.6}}) {
    INFO("losses in {" << lo << ", " << hi << "}");
    auto loss = [&](double u, double mean) {
      return u < (mean - lo) / (hi - lo) ? hi : lo;  // mean lo + (hi - lo) p
    };
    const double var = b < hi ? (b - lo) * (hi - b) : 0.0;
    const BetTest t = ChooseBetTest(b, horizon, n, var, delta);
    REQUIRE(std::isfinite(t.ell));
    CHECK(BetTestBound(t, b, horizon) <= delta);
    std::mt19937_64 rng(99);
    std::uniform_real_distribution<double> u01(0.0, 1.0);
    int viol = 0, naive_viol = 0, returned = 0;
    std::vector<double> cal(n), fresh(horizon), x(n);
    for (int trial = 0; trial < trials; ++trial) {
      for (double& v : cal) v = u01(rng);
      for (double& v : fresh) v = u01(rng);
      // Means from b - 0.1 to b + 0.056 in steps of 0.004.
      auto mean_of = [&](int j) { return b - 0.1 + 0.004 * j; };
      auto fresh_over = [&](int j) {
        double s = 0.0;
        for (double v : fresh) s += loss(v, mean_of(j));
        return s / horizon > b;
      };
      int last = -1, naive_last = -1;
      for (int j = 0; j < path; ++j) {
        for (int i = 0; i < n; ++i) x[i] = loss(cal[i], mean_of(j));
        const bool pass = BetTestPasses(t, x);
        // The naive test: the population mean alone at level delta (no fresh-sample term).
        const bool naive = WsrRejects(x, b, delta);
        if (pass && last == j - 1) last = j;
        if (naive && naive_last == j - 1) naive_last = j;
        if (last < j && naive_last < j) break;
      }
      if (last >= 0) {
        ++returned;
        viol += fresh_over(last);
      }
      if (naive_last >= 0) naive_viol += fresh_over(naive_last);
    }
    INFO("violations " << viol << " of " << trials << " (returned " << returned << "), naive "
                       << naive_viol);
    CHECK(returned > trials / 2);  // the test is not vacuous
    // At most delta, allowing 3 binomial sd (sd of 200 = 13.4).
    CHECK(viol <= delta * trials + 3 * std::sqrt(delta * (1 - delta) * trials));
    // The simulation can tell: ignoring the fresh samples violates far more often than delta.
    CHECK(naive_viol > 1.5 * delta * trials);
  }
}

TEST_CASE(
    "Hoeffding (1956, Theorem 4): Poisson-binomial tails below mean - 1 within the binomial's") {
  // For independent Bernoulli(p_i), i = 1..n, with sum m = n p: P(K <= c) <= P(Bin(n, p) <= c)
  // for every integer 0 <= c <= m - 1. Exact pmfs by convolution on 4,000 random p vectors
  // (uniform; with p_i at 0 and 1; U-shaped; integer means), every such c.
  std::mt19937_64 rng(1956);
  std::uniform_real_distribution<double> u01(0.0, 1.0);
  int checked = 0, integer_mean = 0;
  double worst = -1.0, beyond = 0.0;
  for (int trial = 0; trial < 4000; ++trial) {
    const int n = 1 + static_cast<int>(rng() % 40);
    std::vector<double> p(n);
    for (double& v : p) v = u01(rng);
    if (trial % 4 == 1) {
      for (double& v : p) {
        const double r = u01(rng);
        if (r < 0.15) v = 0.0;
        if (r > 0.85) v = 1.0;
      }
    } else if (trial % 4 == 2) {
      for (double& v : p) {
        const double w = std::pow(u01(rng), 3.0);
        v = u01(rng) < 0.5 ? w : 1.0 - w;
      }
    } else if (trial % 4 == 3) {  // pairs v, 1 - v (and a last 1): an integer mean
      for (int i = 0; i + 1 < n; i += 2) p[i + 1] = 1.0 - p[i];
      if (n % 2) p[n - 1] = 1.0;
    }
    const std::vector<double> pmf = PoissonBinomialPmf(p);
    double m = 0.0;
    for (double v : p) m += v;
    integer_mean += trial % 4 == 3 && m >= 1.0;
    double cdf = 0.0;
    for (int c = 0; c <= n; ++c) {
      cdf += pmf[c];
      const double bin = BinomialCdf(c, n, std::clamp(m / n, 0.0, 1.0));
      if (c <= m - 1.0 + 1e-9) {
        ++checked;
        worst = std::max(worst, cdf - bin);
      } else if (c < m) {
        beyond = std::max(beyond, cdf - bin);
      }
    }
  }
  INFO("checked " << checked << ", largest excess " << worst << ", beyond the condition "
                  << beyond);
  CHECK(checked > 30000);
  CHECK(integer_mean > 900);
  CHECK(worst <= 1e-10);
  // The condition is needed: between m - 1 and m the binomial tail can be the smaller.
  CHECK(beyond > 0.1);
}

TEST_CASE("stratified midpoints: the count's mean sum_j S(u_j) is within 1/2 of n mu (exact S)") {
  // Discrete laws on [0, 1] (1-6 points, some at 0, 1, the cells' ends and the midpoints
  // themselves), S(u) = P(x > u) exactly; m = sum_j S((j - 1/2) / n).
  std::mt19937_64 rng(21);
  std::uniform_real_distribution<double> u01(0.0, 1.0);
  const int sizes[] = {1, 2, 3, 4, 7, 10, 31, 100, 500};
  double low = -1.0, high = -1.0, low_vs_s0 = -1.0;
  for (int trial = 0; trial < 3000; ++trial) {
    const int n = sizes[trial % 9];
    const int points = 1 + static_cast<int>(rng() % 6);
    std::vector<double> v(points), w(points);
    double wsum = 0.0;
    for (int i = 0; i < points; ++i) {
      const double r = u01(rng);
      const double j = static_cast<double>(rng() % (n + 1));
      v[i] = r < 0.1    ? 0.0
             : r < 0.2  ? 1.0
             : r < 0.35 ? j / n
             : r < 0.5  ? std::max(0.0, (j - 0.5) / n)
                        : u01(rng);
      w[i] = u01(rng) + 1e-3;
      wsum += w[i];
    }
    double mu = 0.0;
    for (int i = 0; i < points; ++i) mu += (w[i] /= wsum) * v[i];
    auto S = [&](double u) {
      double s = 0.0;
      for (int i = 0; i < points; ++i) s += v[i] > u ? w[i] : 0.0;
      return s;
    };
    double m = 0.0;
    for (int j = 1; j <= n; ++j) m += S(StratifiedPoint(j, n));
    low = std::max(low, n * mu - m);
    high = std::max(high, m - n * mu);
    low_vs_s0 = std::max(low_vs_s0, n * mu - m - 0.5 * S(0.0));
  }
  INFO("largest n mu - m " << low << ", m - n mu " << high);
  CHECK(low <= 0.5 + 1e-9);
  CHECK(high <= 0.5 + 1e-9);
  CHECK(low_vs_s0 <= 1e-9);  // n mu - m <= (S(0) - S(1)) / 2, S(1) = 0
  CHECK(low > 0.49);         // x = a midpoint surely reaches it (S(u_j) counts x > u_j)
  // A sure loss just below the first midpoint: every indicator is 0 and n mu - m -> 1/2.
  for (int n : {1, 10, 1000}) {
    const double x0 = 0.5 / n - 1e-9;
    CHECK(RoundedCount(std::vector<double>(n, x0)) == 0);
    CHECK(n * x0 > 0.4999);
    CHECK(RoundedCount(std::vector<double>(n, 1.0 - 0.5 / n + 1e-9)) == n);
  }
  CHECK(StratifiedPoint(1, 4) == 0.125);
  CHECK(StratifiedPoint(4, 4) == 0.875);
  CHECK(RoundedCount({0.0, 0.5, 0.5, 1.0}) == 2);  // u = 1/8, 3/8, 5/8, 7/8
}

TEST_CASE("the stratified-binomial test: exact pass probability at its midpoints, bound, its k") {
  // A 3-point law of losses: 0 w.p. 0.5, 0.4 w.p. 0.3, 1 w.p. 0.2 (mean 0.32, variance 0.1896).
  // At u_j = (j - 1/2) / n the indicators 1{u_j < x_j} are Bernoulli(S(u_j)), S = 0.5 below 0.4
  // and 0.2 above: the count's exact law by convolution.
  const int n = 200;
  const double mu = 0.32;
  auto S = [](double u) { return u < 0.4 ? 0.5 : u < 1.0 ? 0.2 : 0.0; };
  std::vector<double> p(n);
  double m = 0.0, var = 0.0;
  for (int j = 1; j <= n; ++j) {
    p[j - 1] = S(StratifiedPoint(j, n));
    m += p[j - 1];
    var += p[j - 1] * (1.0 - p[j - 1]);
  }
  CHECK(m == Approx(64.0));  // 80 midpoints below 0.4
  // The count is less noisy than the randomised binomial's, noisier than the losses' sum.
  CHECK(var == Approx(39.2));
  CHECK(var < n * mu * (1.0 - mu));
  CHECK(var > n * 0.1896);
  const std::vector<double> pmf = PoissonBinomialPmf(p);
  std::vector<double> cdf(n + 1);
  for (int k = 0; k <= n; ++k) cdf[k] = pmf[k] + (k ? cdf[k - 1] : 0.0);
  for (int k = 0; k <= n; ++k) {
    INFO("k " << k);
    CHECK(cdf[k] <= StratifiedPassBound(k, n, mu) + 1e-12);
  }
  // k = 62 <= n mu - 3/2 = 62.5: the binomial bound at mu - 1/(2n); k = 63 violates the condition
  // and is refused (bound 1), although its binomial tail would be below the true pass rate's.
  CHECK(StratifiedPassBound(62, n, mu) == Approx(BinomialCdf(62, n, mu - 0.5 / n)).epsilon(1e-6));
  CHECK(StratifiedPassBound(62, n, mu) < 0.5);
  CHECK(StratifiedPassBound(63, n, mu) == 1.0);
  CHECK(StratifiedPassBound(-1, n, mu) == 0.0);
  CHECK(StratifiedPassBound(n, n, mu) == 1.0);
  CHECK(cdf[62] > 0.3);
  CHECK(cdf[62] < StratifiedPassBound(62, n, mu));
  // The same by simulation of the losses (RoundedCount at the midpoints): within 4 sd of the
  // exact pass rate, and a k one off is told apart (one pmf term, about 0.06).
  std::mt19937_64 rng(2024);
  std::uniform_real_distribution<double> u01(0.0, 1.0);
  const int draws = 40000;
  std::vector<double> x(n);
  int pass = 0;
  BetTest t;
  t.rounded = true;
  t.n = n;
  t.k = 62;
  for (int d = 0; d < draws; ++d) {
    for (double& v : x) {
      const double r = u01(rng);
      v = r < 0.5 ? 0.0 : r < 0.8 ? 0.4 : 1.0;
    }
    pass += RoundedTestPasses(t, x);
    CHECK(BetTestPasses(t, x) == (RoundedCount(x) <= 62));
  }
  const double rate = static_cast<double>(pass) / draws;
  auto within = [&](double q) {
    return std::fabs(rate - q) <= 4.0 * std::sqrt(q * (1 - q) / draws);
  };
  INFO("pass rate " << rate << ", exact " << cdf[62]);
  CHECK(within(cdf[62]));
  CHECK_FALSE(within(cdf[61]));
  CHECK_FALSE(within(cdf[63]));
  CHECK(rate <= StratifiedPassBound(62, n, mu));
  CHECK(BetPassBound(t, mu) == StratifiedPassBound(62, n, mu));

  // The chosen k: the largest with the one bound <= delta (k + 1 misses it), better than the
  // mean-threshold test's tau.
  for (const auto& [b, nc, horizon] :
       {std::tuple<double, int, double>{0.3, 2000, 10000}, {0.3, 9000, 10000}, {0.6, 500, 1000}}) {
    INFO("b " << b << ", n " << nc << ", M " << horizon);
    const BetTest r = ChooseRoundedTest(b, horizon, nc, b * (1.0 - b), 0.05);
    REQUIRE(r.rounded);
    REQUIRE(r.k >= 0);
    CHECK(BetTestBound(r, b, horizon) <= 0.05);
    BetTest r1 = r;
    r1.k = r.k + 1;
    CHECK(BetTestBound(r1, b, horizon) > 0.05);
    const BetTest mt = ChooseMeanTest(b, horizon, nc, 0.05);
    CHECK(static_cast<double>(r.k) / nc > mt.tau);
    // Bernoulli-like losses (variance b (1 - b)): the count is the losses' sum, the test wins.
    CHECK(r.predicted_gap < mt.predicted_gap);
    const double m0 = static_cast<double>(r.k) / nc;
    CHECK(r.predicted_gap ==
          Approx(b - m0 +
                 kRoundingNoisePenalty *
                     std::sqrt(std::max(0.0, m0 * (1.0 - m0) - b * (1.0 - b)) / nc)));
    // Losses of a tenth of that variance: the capped tests have the smaller gap.
    const double v = 0.1 * b * (1.0 - b);
    const BetTest rv = ChooseRoundedTest(b, horizon, nc, v, 0.05);
    CHECK(rv.k == r.k);
    CHECK(rv.predicted_gap > ChooseMeanTest(b, horizon, nc, 0.05, 1.2 * v, 0.0025).predicted_gap);
  }
  // In the lead's model (b = 0.3, n = 2000, M = 10000, delta = 0.05): the gap of the stratified
  // test against the mean threshold's (about 0.8 of it).
  const double g_r = ChooseRoundedTest(0.3, 10000, 2000, 0.21, 0.05).predicted_gap;
  const double g_m = ChooseMeanTest(0.3, 10000, 2000, 0.05).predicted_gap;
  INFO("stratified gap " << g_r << ", mean threshold " << g_m);
  CHECK(g_r < 0.9 * g_m);
  // b >= 1: every candidate passes; b too small for M: never.
  CHECK(ChooseRoundedTest(1.0, 100, 50, 0.1, 0.05).k == 50);
  CHECK(ChooseRoundedTest(1e-4, 100, 50, 0.0, 0.05).k == -1);
}

TEST_CASE("the stratified-binomial test: nested paths monotone, the same for every seed") {
  // A nested path (every sample's loss rises along it, as `single`'s thresholds give): at the
  // fixed midpoints the count rises too, so the passed candidates are a prefix.
  std::mt19937_64 rng(5);
  std::uniform_real_distribution<double> u01(0.0, 1.0);
  const int n = 3000;
  std::vector<double> base(n);
  for (double& v : base) v = u01(rng);
  BetTest t;
  t.rounded = true;
  t.n = n;
  t.k = 1300;
  std::int64_t prev = -1;
  bool failed = false;
  int switches = 0;
  for (int j = 0; j <= 60; ++j) {
    std::vector<double> x(n);
    for (int i = 0; i < n; ++i) x[i] = std::min(1.0, base[i] * (0.5 + 0.02 * j));
    const std::int64_t k = RoundedCount(x);
    CHECK(k >= prev);
    prev = k;
    const bool pass = RoundedTestPasses(t, x);
    if (failed) CHECK_FALSE(pass);
    switches += !pass && !failed;
    failed = failed || !pass;
  }
  CHECK(switches == 1);  // the path crosses k once: not vacuous

  // SolveWithGuarantee: the same seed gives the same answer; the report names the test and the
  // bound is the option's value; with wsr-unrounded the stratified test is never used.
  const Synthetic pool(6000, 7);
  ThresholdProblem p = pool.p;
  p.budget = 2.4;
  SolverOptions o;
  o.seed = 9;
  o.guarantee.level = 0.95;
  o.guarantee.horizon = 3000;
  for (Method m : {Method::kSingle, Method::kExact}) {
    INFO(ToString(m));
    const ThresholdSummary a = Solve(m, p, o), b = Solve(m, p, o);
    REQUIRE(a.ok());
    CHECK(a.policy.thresholds == b.policy.thresholds);
    CHECK(a.message == b.message);
    CHECK(!a.guarantee.test.empty());
    CHECK(a.message.find("with the " + a.guarantee.test + " test") != std::string::npos);
    CHECK(a.guarantee.bound == "wsr");
    SolverOptions od = o;
    od.guarantee.bound = GuaranteeBound::kWsrUnrounded;
    const ThresholdSummary d = Solve(m, p, od);
    REQUIRE(d.ok());
    CHECK(d.guarantee.bound == "wsr-unrounded");
    CHECK(d.guarantee.test != "stratified-binomial");
  }
  CHECK(GuaranteeBoundFromString("wsr-unrounded") == GuaranteeBound::kWsrUnrounded);
  CHECK(ToString(GuaranteeBound::kWsrUnrounded) == "wsr-unrounded");
  CHECK_THROWS_WITH(GuaranteeBoundFromString("wsr-deterministic"),
                    Catch::Contains("now 'wsr-unrounded'"));
  CHECK_THROWS_AS(GuaranteeBoundFromString("wsr-randomised"), InputError);

  // Two seeds, one split: the fit split P under seed 9 and its rearrangement P2 under seed 10
  // that puts the same samples in seed 10's search part (in the same order) and calibration part
  // (in the same order). Only the seed differs, so the certification is the same: nothing but
  // the split depends on it (the former randomised test drew its rounding from the seed).
  const double fraction = o.guarantee.SearchFraction(Method::kSingle, false);
  const int total = pool.s.cols();
  const std::vector<int> s9 = GuaranteeSearchPart(total, 9, fraction),
                         c9 = GuaranteeCalibrationPart(total, 9, fraction),
                         s10 = GuaranteeSearchPart(total, 10, fraction),
                         c10 = GuaranteeCalibrationPart(total, 10, fraction);
  REQUIRE(s9.size() == s10.size());
  REQUIRE(c9.size() == c10.size());
  REQUIRE(s9.size() + c9.size() == static_cast<std::size_t>(total));
  CHECK(s9 != s10);
  std::vector<int> from(total);  // P2's sample i is P's sample from[i]
  for (std::size_t i = 0; i < s9.size(); ++i) from[s10[i]] = s9[i];
  for (std::size_t i = 0; i < c9.size(); ++i) from[c10[i]] = c9[i];
  const Slice p2(pool, from);
  ThresholdProblem q = p2.p;
  q.budget = p.budget;
  SolverOptions o10 = o;
  o10.seed = 10;
  const ThresholdSummary a = Solve(Method::kSingle, p, o), b = Solve(Method::kSingle, q, o10);
  REQUIRE(a.ok());
  REQUIRE(b.ok());
  CHECK(a.guarantee.test == "stratified-binomial");
  CHECK(a.policy.thresholds == b.policy.thresholds);
  CHECK(a.guarantee.certified == b.guarantee.certified);
  CHECK(a.guarantee.path_length == b.guarantee.path_length);
  CHECK(a.guarantee.test == b.guarantee.test);
  CHECK(a.guarantee.accuracy_bound == b.guarantee.accuracy_bound);
  // Under seed 10 the original P is another split: another path and certification.
  const ThresholdSummary c = Solve(Method::kSingle, p, o10);
  REQUIRE(c.ok());
  CHECK((c.guarantee.certified != a.guarantee.certified ||
         c.policy.thresholds != a.policy.thresholds));
}

TEST_CASE("the stratified-binomial test along a fixed-sequence path: violations at most delta") {
  // As the simulations above: 40 candidates with means rising through b, the last passing in
  // path order compared with b on M fresh samples; the midpoints fixed, the data fresh per trial.
  // Two-point losses {0.1, 0.6} (variance 0.04 at b), Bernoulli losses and uniform ones on
  // [0, 2 mean] (where the stratified count is the least noisy against the binomial).
  const double delta = 0.1, b = 0.3;
  const int n = 1600, horizon = 400, trials = 2000, path = 40;
  for (int law = 0; law < 3; ++law) {
    const double lo = law == 1 ? 0.1 : 0.0, hi = law == 1 ? 0.6 : 1.0;
    INFO("law " << law);
    auto loss = [&](double u, double mean) {
      if (law == 2) return 2.0 * mean * u;
      return u < (mean - lo) / (hi - lo) ? hi : lo;
    };
    const double var_b = law == 2 ? (2 * b) * (2 * b) / 12.0 : (b - lo) * (hi - b);
    const BetTest t = ChooseRoundedTest(b, horizon, n, var_b, delta);
    REQUIRE(t.k >= 0);
    CHECK(BetTestBound(t, b, horizon) <= delta);
    std::mt19937_64 rng(31);
    std::uniform_real_distribution<double> u01(0.0, 1.0);
    int viol = 0, returned = 0;
    std::vector<double> cal(n), fresh(horizon), x(n);
    double returned_mean = 0.0;
    for (int trial = 0; trial < trials; ++trial) {
      for (double& v : cal) v = u01(rng);
      for (double& v : fresh) v = u01(rng);
      auto mean_of = [&](int j) { return b - 0.1 + 0.004 * j; };
      int last = -1;
      for (int j = 0; j < path; ++j) {
        for (int i = 0; i < n; ++i) x[i] = loss(cal[i], mean_of(j));
        if (!RoundedTestPasses(t, x)) break;
        last = j;
      }
      if (last < 0) continue;
      ++returned;
      returned_mean += mean_of(last);
      double s = 0.0;
      for (double v : fresh) s += loss(v, mean_of(last));
      viol += s / horizon > b;
    }
    INFO("violations " << viol << " of " << trials << " (returned " << returned << ", mean "
                       << returned_mean / std::max(1, returned) << ")");
    CHECK(returned > trials / 2);
    CHECK(viol <= delta * trials + 3 * std::sqrt(delta * (1 - delta) * trials));
  }
}

TEST_CASE("accuracy-drop one bound: hand-computed tail, pass bound and capital") {
  // No l = -1: N+ ~ Bin(10, 0.1), and the Chernoff bound is exp(-M KL(0.2 || 0.1)) at s = 2;
  // the tail itself is P(Bin(10, 0.1) >= 2) = 1 - 0.9^10 - 10 0.1 0.9^9.
  CHECK(DropChernoffTail(0.1, 0.0, 0.2, 10) == Approx(std::exp(-10 * BernoulliKl(0.2, 0.1))));
  CHECK(DropChernoffTail(0.1, 0.0, 0.2, 10) == Approx(0.6414461).epsilon(1e-6));
  CHECK(DropFreshTail(0.1, 0.0, 0.2, 10) ==
        Approx(1 - std::pow(0.9, 10) - std::pow(0.9, 9)).epsilon(1e-10));
  CHECK(DropFreshTail(0.3, 0.1, 0.2, 10) == 1.0);   // the mean drop is already at eps
  CHECK(DropFreshTail(0.0, 0.2, 0.01, 10) == 0.0);  // no sample can drop
  CHECK(DropFreshTail(0.05, 0.0, 0.04, std::numeric_limits<double>::infinity()) == 1.0);
  CHECK(DropFreshTail(0.05, 0.02, 0.04, std::numeric_limits<double>::infinity()) == 0.0);
  // Against the exact tail of N+ - N- (brute force over the trinomial), M = 30.
  for (const auto& [pp, pm] :
       {std::pair<double, double>{0.05, 0.02}, {0.1, 0.1}, {0.02, 0.0}, {0.3, 0.25}}) {
    for (double eps : {0.0, 0.1, 0.2}) {
      const int m = 30;
      double exact = 0.0;
      for (int a = 0; a <= m; ++a) {
        for (int b = 0; a + b <= m; ++b) {
          if (a - b < std::ceil(m * eps - 1e-9)) continue;
          const double lc = std::lgamma(m + 1.0) - std::lgamma(a + 1.0) - std::lgamma(b + 1.0) -
                            std::lgamma(m - a - b + 1.0);
          exact += std::exp(lc + a * std::log(pp) + (b > 0 ? b * std::log(pm) : 0.0) +
                            (m - a - b) * std::log1p(-pp - pm));
        }
      }
      INFO("p+ " << pp << " p- " << pm << " eps " << eps);
      CHECK(DropChernoffTail(pp, pm, eps, m) >= exact - 1e-12);
      CHECK(DropFreshTail(pp, pm, eps, m) >= exact - 1e-12);
      CHECK(DropFreshTail(pp, pm, eps, m) <= 1.0);
      if (eps > 0) CHECK(DropFreshTail(pp, pm, eps, m) == Approx(exact).epsilon(1e-9));
    }
  }
  DropTest t;
  t.log_plus = std::log(0.5);
  t.log_minus = std::log(2.0);
  t.ell = 1.0;
  t.n = 10;
  // g = 1 + 0.2 (0.5 - 1) + 0.1 (2 - 1) = 1: the bound is e^-ell.
  CHECK(DropPassBound(t, 0.2, 0.1) == Approx(std::exp(-1.0)));
  CHECK(DropPassBound(t, 0.4, 0.0) == Approx(std::pow(0.8, 10) * std::exp(-1.0)));
  t.ell = -1.0;
  CHECK(DropPassBound(t, 0.2, 0.1) == 1.0);  // capped
  // Capital of N+ = 2, N- = 1: 0.5^2 * 2 = 0.5.
  t.ell = std::log(0.5) - 1e-12;
  CHECK(DropTestPasses(t, 2, 1));
  t.ell = std::log(0.5) + 1e-9;
  CHECK_FALSE(DropTestPasses(t, 2, 1));
  // The chosen test reaches delta with no waste, on a coarse and on a finer grid, and needs a
  // smaller gap than a Bennett term for the fresh samples plus a WSR-type term for the
  // calibration part at delta / 2 each (the scheme it replaces) would.
  const double q = 0.02, eps = 0.01;
  const int n = 2500, m = 5000;
  const DropTest c = ChooseDropTest(eps, m, n, q, 0.05);
  REQUIRE(std::isfinite(c.ell));
  CHECK(c.log_plus < 0.0);
  const double coarse = DropTestBound(c, eps, m, q);
  CHECK(coarse <= 0.05);
  CHECK(coarse > 0.045);
  // Cells four times finer on each side (the bound from above gets tighter, never looser).
  const double fine = DropTestBound(c, eps, m, q, 32.0);
  CHECK(fine <= coarse);
  CHECK(fine > 0.03);
  const double l1 = std::log(40.0), qc = 1.0 + q;
  double h = 1e-4;  // Bennett: exp(-(M q / c^2) phi(c h / q)) = 0.025
  while (std::exp(-(m * q / (qc * qc)) * ((1 + qc * h / q) * std::log1p(qc * h / q) - qc * h / q)) >
         0.025)
    h += 1e-5;
  const double two_part = h + std::sqrt(2.0 * q * l1 / n) + l1 / n;
  INFO("one bound gap " << c.predicted_gap << ", two-part " << two_part);
  CHECK(c.predicted_gap < two_part);
  CHECK(c.predicted_gap > 0.0);
}

TEST_CASE("accuracy-drop test bound: the pruned grid gives the full grid's staircase") {
  // DropTestBound prunes its grid (Chernoff below the floor by bisection along each row, one cell
  // at each end of a row's run of tail 1, the Chernoff bound kept below 1e-9). Here the staircase
  // is rebuilt on every cell of the same axis with the exact deployed tail everywhere: the two
  // agree to within the 1e-9 the pruning may add, and the pruned one is never below.
  const double q = 0.02, eps = 0.01, m = 5000.0;
  const int n = 2500;
  const DropTest t = ChooseDropTest(eps, m, n, q, 0.05);
  REQUIRE(std::isfinite(t.ell));
  const double var = 1.0 / n + 1.0 / m, res = std::min(8.0, 2000.0 * std::sqrt(var) / 2.0);
  std::vector<double> pts{0.0};
  while (pts.back() < 1.0) {
    const double x = pts.back();
    pts.push_back(std::min(1.0, x + std::max(1e-7, std::sqrt(std::max(x, q / 2.0) * var) / res)));
  }
  auto full_bound = [&](const DropTest& d) {
    struct Cell {
      double q, g;
    };
    std::vector<Cell> cells;
    const double up = std::expm1(d.log_plus), um = std::expm1(d.log_minus);
    for (std::size_t i = 0; i + 1 < pts.size(); ++i)
      for (std::size_t j = 0; j + 1 < pts.size() && pts[i] + pts[j] <= 1.0; ++j) {
        const double qq = DropFreshTail(std::min(pts[i + 1], 1.0 - pts[j]), pts[j], eps, m);
        const double g = 1.0 + pts[i] * up + (um > 0 ? pts[j + 1] : pts[j]) * um;
        if (qq >= 1e-15) cells.push_back({qq, g});
      }
    std::sort(cells.begin(), cells.end(), [](const Cell& a, const Cell& b) { return a.q > b.q; });
    double total = 1e-15, gmax = -1.0;
    for (std::size_t k = 0; k < cells.size(); ++k) {
      gmax = std::max(gmax, cells[k].g);
      const double w = cells[k].q - (k + 1 < cells.size() ? cells[k + 1].q : 0.0);
      total += w * std::min(1.0, std::exp(n * std::log(gmax) - d.ell));
    }
    return total;
  };
  const double full = full_bound(t), pruned = DropTestBound(t, eps, m, q);
  INFO("chosen test: pruned " << pruned << ", full " << full);
  CHECK(pruned >= full - 1e-12);
  CHECK(pruned <= full + 1e-9);
  CHECK(full > 0.045);
  // A bet that rises in p+ and falls in p- (not one ChooseDropTest picks): the largest g of a row
  // is at its far end, which the pruned grid keeps.
  DropTest odd = t;
  odd.log_plus = 0.002;
  odd.log_minus = -0.002;
  odd.ell = 6.0;
  const double full_odd = full_bound(odd), pruned_odd = DropTestBound(odd, eps, m, q);
  INFO("rising bet: pruned " << pruned_odd << ", full " << full_odd);
  CHECK(pruned_odd >= full_odd - 1e-12);
  CHECK(pruned_odd <= full_odd + 1e-9);
  CHECK(full_odd > 0.01);
  CHECK(full_odd < 0.99);
}

TEST_CASE("accuracy-drop deployed tail: the exact trinomial tail against brute force") {
  // P(N+ - N- >= s) by brute force over the trinomial, against the conditioned sum, at M = 400
  // and 1,500, from the bulk to tails of 1e-30; and the Chernoff bound it replaces stays above.
  auto brute = [](int m, double pp, double pm, int s) {
    double e = 0.0;
    for (int a = 0; a <= m; ++a) {
      for (int b = 0; a + b <= m; ++b) {
        if (a - b < s) continue;
        const double lc = std::lgamma(m + 1.0) - std::lgamma(a + 1.0) - std::lgamma(b + 1.0) -
                          std::lgamma(m - a - b + 1.0);
        e +=
            std::exp(lc + a * std::log(pp) + b * std::log(pm) + (m - a - b) * std::log1p(-pp - pm));
      }
    }
    return e;
  };
  int compared = 0;
  for (const int m : {400, 1500}) {
    for (const auto& [pp, pm] : {std::pair<double, double>{0.05, 0.02},
                                 {0.1, 0.1},
                                 {0.3, 0.25},
                                 {0.012, 0.008},
                                 {0.001, 0.03},
                                 {0.6, 0.39}}) {
      for (const int s : {1, 5, 20, 60}) {
        const double want = brute(m, pp, pm, s);
        const double got = TrinomialDifferenceTail(m, pp, pm, s);
        INFO("M " << m << " p+ " << pp << " p- " << pm << " s " << s << ": " << want);
        if (std::isnan(got)) continue;  // underflow: the caller keeps the Chernoff bound
        CHECK(got >= want);
        // Within the rounding slack the value adds (a few ulps of the largest conditional tail
        // per step of the sum) and the two 1e-18 ends of its range.
        CHECK(got <= want * (1 + 1e-9) + 1e-13);
        CHECK(DropChernoffTail(pp, pm, static_cast<double>(s) / m, m) >= want * (1 - 1e-12));
        ++compared;
      }
    }
  }
  CHECK(compared >= 44);
  // The exact tail where the bound is used: a few times below Chernoff's at tails of 0.2-0.01.
  const double chernoff = DropChernoffTail(0.03, 0.02, 0.02, 5000);
  const double exact = DropFreshTail(0.03, 0.02, 0.02, 5000);
  INFO("Chernoff " << chernoff << ", exact " << exact);
  CHECK(exact < chernoff / 3);
  CHECK(exact > 0.0);
  // Monotone in each coordinate (DropTestBound's cells rely on it).
  CHECK(DropFreshTail(0.031, 0.02, 0.02, 5000) > exact);
  CHECK(DropFreshTail(0.03, 0.021, 0.02, 5000) < exact);
}

TEST_CASE("accuracy-drop one bound along a fixed-sequence path: violations at most delta") {
  // A path of 40 nested candidates, as a single threshold gives: on a sample with uniform u,
  // candidate j drops (l = 1) when u < p+_j and gains (l = -1) when u > 1 - p-, with the mean drop
  // p+_j - p- rising through eps. The calibration part decides the last candidate passing in path
  // order; its mean drop over M fresh samples is compared with eps.
  const double delta = 0.1, eps = 0.02;
  const int n = 1600, trials = 2000, path = 40;
  for (const double horizon : {400.0, std::numeric_limits<double>::infinity()}) {
    for (const double pm : {0.0, 0.03}) {
      INFO("horizon " << horizon << ", p- " << pm);
      auto p_plus = [&](int j) { return pm + eps - 0.05 + 0.0018 * j; };
      const DropTest t = ChooseDropTest(eps, horizon, n, 2 * pm + eps, delta);
      REQUIRE(std::isfinite(t.ell));
      std::mt19937_64 rng(17);
      std::uniform_real_distribution<double> u01(0.0, 1.0);
      const int m = std::isfinite(horizon) ? static_cast<int>(horizon) : 0;
      std::vector<double> cal(n), fresh(m);
      int viol = 0, naive_viol = 0, returned = 0;
      auto count_below = [](const std::vector<double>& v, double x) {
        return static_cast<int>(std::lower_bound(v.begin(), v.end(), x) - v.begin());
      };
      auto over = [&](int j) {
        if (!std::isfinite(horizon)) return p_plus(j) - pm > eps;
        const int s = count_below(fresh, p_plus(j)) - (m - count_below(fresh, 1.0 - pm));
        return static_cast<double>(s) / m > eps;
      };
      for (int trial = 0; trial < trials; ++trial) {
        for (double& v : cal) v = u01(rng);
        for (double& v : fresh) v = u01(rng);
        std::sort(cal.begin(), cal.end());
        std::sort(fresh.begin(), fresh.end());
        const int nm = n - count_below(cal, 1.0 - pm);
        int last = -1, naive_last = -1;
        for (int j = 0; j < path; ++j) {
          const int np = count_below(cal, p_plus(j));
          if (DropTestPasses(t, np, nm) && last == j - 1) last = j;
          // The naive test: the calibration mean drop 1.28 sd below eps (a one-sided normal test
          // of the population mean at delta, no fresh-sample term).
          const double mean = static_cast<double>(np - nm) / n;
          const double var = static_cast<double>(np + nm) / n - mean * mean;
          if (mean <= eps - 1.2816 * std::sqrt(var / n) && naive_last == j - 1) naive_last = j;
          if (last < j && naive_last < j) break;
        }
        if (last >= 0) {
          ++returned;
          viol += over(last);
        }
        if (naive_last >= 0) naive_viol += over(naive_last);
      }
      INFO("violations " << viol << " of " << trials << " (returned " << returned << "), naive "
                         << naive_viol);
      CHECK(returned > trials / 2);  // the test is not vacuous
      CHECK(viol <= delta * trials + 3 * std::sqrt(delta * (1 - delta) * trials));
      if (std::isfinite(horizon)) CHECK(naive_viol > 1.5 * delta * trials);
    }
  }
}

TEST_CASE("guarantee: re-split violation rate at most delta, the path certified, figures carried") {
  const Synthetic pool(6000, 7);
  int viol = 0, cells = 0, solved = 0;
  double last_fit_budget = 0.0;
  for (unsigned r = 0; r < 30; ++r) {
    const std::vector<int> perm = Shuffled(6000, r + 100);
    const Slice fit(pool, std::vector<int>(perm.begin(), perm.begin() + 3000));
    const Slice eval(pool, std::vector<int>(perm.begin() + 3000, perm.end()));
    for (double b : {1.8, 2.4, 3.0}) {
      ThresholdProblem p = fit.p;
      p.budget = b;
      SolverOptions o;
      o.seed = r;
      o.guarantee.level = 0.9;
      o.guarantee.horizon = 3000;
      const ThresholdSummary s = Solve(Method::kSingle, p, o);
      ++cells;
      if (!s.ok()) continue;
      ++solved;
      CHECK(s.guarantee.level == 0.9);
      CHECK(s.guarantee.certified >= 1);
      // `single`: a pilot of 10 % fixes the test and the fine path, the other 90 % calibrate.
      CHECK(s.guarantee.search_n == 300);
      CHECK(s.guarantee.calibration_n == 2700);
      CHECK(s.guarantee.cost_bound == b);
      // Fitted on the pilot part at a budget near B (the fine path reaches a few noise sd of the
      // pilot above the predicted boundary, so it may lie above B).
      CHECK(s.fit_budget < 1.2 * b);
      CHECK(s.guarantee.accuracy_bound < s.fit.accuracy);
      last_fit_budget = s.fit_budget;
      viol += eval.p.Evaluate(s.policy).mean_cost > b;
    }
  }
  INFO("violations " << viol << " of " << cells << ", solved " << solved);
  CHECK(solved == cells);
  CHECK(last_fit_budget > 2.7);  // not absurdly conservative at B = 3
  // Nominal <= 10% of cells; the bounds are conservative, so far fewer is expected. 90 cells.
  CHECK(viol <= 9);
}

TEST_CASE("exact's automatic search fraction in budget mode: chosen on the small search part") {
  // 10,000 fit samples: the small search part (0.6) has 6,000 >= kMinSmallSearch samples.
  const Synthetic pool(10000, 11);
  SolverOptions o;
  o.seed = 3;
  o.guarantee.level = 0.95;
  o.guarantee.horizon = 10000;
  auto search_n = [&](const ThresholdProblem& fit, double budget, const SolverOptions& opt) {
    ThresholdProblem p = fit;
    p.budget = budget;
    const ThresholdSummary s = Solve(Method::kExact, p, opt);
    // An uncertified cell reports its split too (outcome infeasible).
    CHECK(s.guarantee.search_n + s.guarantee.calibration_n == fit.n());
    return s.guarantee.search_n;
  };
  // Where the budget binds hard (accuracy rises steeply with the budget) the larger calibration
  // part pays; near the full cost the budget does not bind even at the large search part's
  // wider gap, and the large search part (0.9) is taken.
  CHECK(search_n(pool.p, 1.6, o) == 6000);
  CHECK(search_n(pool.p, 3.9, o) == 9000);
  // An explicit fraction is used as given.
  SolverOptions fixed = o;
  fixed.guarantee.search_fraction = 0.8;
  CHECK(search_n(pool.p, 1.6, fixed) == 8000);
  // Fewer than kMinSmallSearch samples in the small part: 0.8 at every budget.
  std::vector<int> first(8000);
  for (int i = 0; i < 8000; ++i) first[i] = i;
  const Slice small(pool, first);
  CHECK(search_n(small.p, 1.6, o) == 6400);
  CHECK(search_n(small.p, 3.9, o) == 6400);
  // The choice depends on the small search part only: the other 4,000 samples replaced by
  // samples of another pool, the same choice at every budget (it may differ across budgets).
  const Synthetic other(10000, 12, 0.3);
  const std::vector<int> part = GuaranteeSearchPart(10000, o.seed, kSearchFractionExactSmall);
  Synthetic mixed(10000, 13);
  std::vector<char> in_part(10000, 0);
  for (int i : part) in_part[i] = 1;
  for (int i = 0; i < 10000; ++i) {
    mixed.s.col(i) = in_part[i] ? pool.s.col(i) : other.s.col(i);
    mixed.c.col(i) = in_part[i] ? pool.c.col(i) : other.c.col(i);
  }
  for (double b : {1.4, 1.6, 2.0, 2.5, 3.0, 3.9}) {
    INFO("budget " << b);
    const int a = search_n(pool.p, b, o), m = search_n(mixed.p, b, o);
    CHECK((a == 6000 || a == 8000 || a == 9000));
    CHECK(a == m);
  }
}

TEST_CASE("guarantee in accuracy-drop mode bounds the drop on fresh samples") {
  const Synthetic pool(8000, 11);
  int viol = 0, cells = 0;
  for (unsigned r = 0; r < 10; ++r) {
    const std::vector<int> perm = Shuffled(8000, r + 300);
    const Slice fit(pool, std::vector<int>(perm.begin(), perm.begin() + 4000));
    const Slice eval(pool, std::vector<int>(perm.begin() + 4000, perm.end()));
    ThresholdProblem p = fit.p;
    p.budget = 4.0;
    SolverOptions o;
    o.seed = r;
    o.accuracy_drop = 0.03;
    o.guarantee.level = 0.9;
    o.guarantee.horizon = 4000;
    const ThresholdSummary s = Solve(Method::kSingle, p, o);
    ++cells;
    REQUIRE(s.ok());
    CHECK(s.guarantee.drop_bound == 0.03);
    CHECK(s.guarantee.cost_bound >= s.fit.mean_cost * 0.9);
    double final_acc = 0.0;
    for (int i = 0; i < 4000; ++i) final_acc += eval.c(2, i);
    final_acc /= 4000;
    viol += eval.p.Evaluate(s.policy).accuracy < final_acc - 0.03;
    CHECK(s.fit.mean_cost < 4.0);  // it did stop some samples early
  }
  CHECK(viol <= 1);
}

TEST_CASE(
    "guarantee options are validated, and a budget margin and a guarantee exclude each other") {
  SolverOptions o;
  o.guarantee.level = 1.0;
  CHECK_THAT(o.Validate(), Catch::Contains("guarantee = 1: must be a probability"));
  o.guarantee.level = 0.95;
  o.guarantee.horizon = 0.0;
  CHECK_THAT(o.Validate(), Catch::Contains("horizon = 0"));
  o.guarantee.horizon = 100;
  o.budget_margin = 0.9;
  CHECK_THAT(o.Validate(), Catch::Contains("give one of them"));
  CHECK_THROWS_WITH(GuaranteeBoundFromString("chernoff"),
                    Catch::Contains("unknown bound 'chernoff'"));
}

TEST_CASE("geometric never exceeds the budget on the fit split, even with a large tie") {
  // Ascending scores (stop when score < t) with 526 of 1000 samples tied at exit 1.
  const int n = 1000;
  ScoreMatrix s(3, n);
  CorrectMatrix c(3, n);
  std::mt19937 rng(5);
  std::uniform_real_distribution<double> u(0.0, 1.0);
  for (int i = 0; i < n; ++i) {
    s(0, i) = i < 526 ? 0.25 : u(rng);
    s(1, i) = std::round(u(rng) * 20) / 20;
    s(2, i) = u(rng);
    for (int e = 0; e < 3; ++e) c(e, i) = u(rng) < 0.6 + 0.1 * e;
  }
  ThresholdProblem p;
  p.scores = &s;
  p.correct = &c;
  p.order = ScoreOrder::kAscending;
  p.kept = {0, 1, 2};
  p.stop_cost = {1.0, 2.0, 3.0};
  int over = 0;
  for (int b = 0; b <= 100; ++b) {
    p.budget = 1.0 + 2.0 * b / 100.0;
    const ThresholdSummary g = SolveGeometric(p, {});
    over += g.fit.mean_cost > p.budget * (1 + 1e-12);
  }
  CHECK(over == 0);
}

TEST_CASE("every method within budget on data/example, exact the most accurate and monotone") {
  const std::string dir = testing::ProjectPath("data/example");
  const Dump dump = LoadDump(dir);
  const CostProfile prof = LoadProfile(dir + "/profile-flops.yaml");
  ThresholdProblem p = ThresholdProblem::From(dump.fit, Measure::kMaxProb, Target::kLabels, prof,
                                              AllExits(dump.k), 0.0);
  std::vector<double> budgets;
  for (int i = 0; i < 8; ++i) budgets.push_back((0.3 + 0.08 * i) * prof.FullCost());
  const SolverOptions o;
  const auto exact = SolveBudgets(Method::kExact, p, budgets, o);
  double prev = 0.0;
  for (std::size_t i = 0; i < budgets.size(); ++i) {
    REQUIRE(exact[i].ok());
    CHECK(exact[i].fit.mean_cost <= budgets[i]);
    CHECK(exact[i].fit.accuracy >= prev);
    prev = exact[i].fit.accuracy;
  }
  for (Method m : {Method::kGeometric, Method::kGeometricQuantile, Method::kSingle, Method::kIppp,
                   Method::kIpppNlopt}) {
    const auto r = SolveBudgets(m, p, budgets, o);
    for (std::size_t i = 0; i < budgets.size(); ++i) {
      INFO(ToString(m) << " at " << budgets[i] << ": " << r[i].message);
      // Within budget (the feasibility step) or labelled over_budget; never silently over.
      if (r[i].ok()) {
        CHECK(r[i].fit.mean_cost <= budgets[i] * (1 + 1e-12));
        CHECK(exact[i].fit.accuracy >= r[i].fit.accuracy);
      } else {
        CHECK(r[i].outcome == Outcome::kOverBudget);
      }
      if (m == Method::kIppp) CHECK(r[i].ok());  // its defaults meet the budget here
    }
  }
  // The paper's settings keep iPPP's raw answers, over budget at most of these budgets.
  SolverOptions paper;
  ApplyPaperIpppSettings(&paper);
  int raw_over = 0;
  for (double b : budgets) {
    p.budget = b;
    raw_over += Solve(Method::kIppp, p, paper).fit.mean_cost > b;
  }
  CHECK(raw_over >= 4);
}

// ---- the guarantee in reports, configs and placement searches ------------------------------

namespace {

// thresholds on data/example at 50% of the full cost, with or without the guarantee.
ThresholdRowsResult ExampleRows(double level, bool accuracy_drop = false) {
  static const Dump dump = LoadDump(testing::ProjectPath("data/example"));
  static const CostProfile prof =
      LoadProfile(testing::ProjectPath("data/example/profile-flops.yaml"));
  ThresholdRowsRequest q;
  q.method = Method::kSingle;
  q.kept = AllExits(dump.k);
  q.budgets = {accuracy_drop ? prof.FullCost() : 0.5 * prof.FullCost()};
  q.accuracy_target = accuracy_drop;
  q.model = "example";
  SolverOptions o;
  o.guarantee.level = level;
  if (accuracy_drop) o.accuracy_drop = 0.02;
  DefaultHorizon(dump, false, o);
  return ThresholdRows(dump, prof, q, o);
}

}  // namespace

TEST_CASE("guarantee and shift columns: filled, written, read back; old CSVs still read") {
  const ThresholdRowsResult with = ExampleRows(0.95);
  REQUIRE(with.rows.size() == 1);
  const ResultRow& r = with.rows[0];
  REQUIRE(r.has_solution());
  CHECK(r.guarantee.level == 0.95);
  CHECK(r.guarantee.bound == "wsr");
  CHECK(r.guarantee.horizon == 5000);  // the eval split's size
  CHECK(r.guarantee.cost_bound == r.budget);
  CHECK(r.guarantee.accuracy_bound > 0.5);
  CHECK(r.guarantee.accuracy_bound < r.eval_acc);
  CHECK(std::isnan(r.guarantee.drop_bound));
  CHECK(r.shift_p > 0.05);  // data/example's splits are exchangeable: not fired here
  CHECK_FALSE(r.shift_fired);

  const std::string csv = ResultsToCsv(with.rows);
  CHECK(csv.find(",guarantee,guarantee_bound,horizon,cost_bound,accuracy_bound,drop_bound,"
                 "shift_p,shift_fired\n") != std::string::npos);
  const std::vector<ResultRow> back = ResultsFromCsv(csv, "mem.csv");
  REQUIRE(back.size() == 1);
  CHECK(back[0].guarantee.level == 0.95);
  CHECK(back[0].guarantee.bound == "wsr");
  CHECK(back[0].guarantee.horizon == 5000);
  CHECK(back[0].guarantee.cost_bound == r.guarantee.cost_bound);
  CHECK(back[0].guarantee.accuracy_bound == r.guarantee.accuracy_bound);
  CHECK(std::isnan(back[0].guarantee.drop_bound));
  CHECK(back[0].shift_p == r.shift_p);
  CHECK_FALSE(back[0].shift_fired);

  // Without the guarantee: the columns are empty, and read back as none.
  const ThresholdRowsResult plain = ExampleRows(0.0);
  const std::string plain_csv = ResultsToCsv(plain.rows);
  const std::vector<ResultRow> pb = ResultsFromCsv(plain_csv, "mem.csv");
  CHECK_FALSE(pb[0].guarantee.on());
  CHECK(pb[0].shift_p == plain.rows[0].shift_p);

  // A CSV written before these columns existed (up to `message`) reads with none of them.
  const std::string old_csv =
      "model,target,unit,method,measure,kept_exits,budget,thresholds,fit_acc,fit_cost,eval_acc,"
      "eval_cost,exit_fractions,pareto,seconds,outcome,message\n"
      "m,t,ms,single,max_prob,1;2,2,0.5,0.9,1.5,0.89,1.6,0.5;0.5,true,0.01,optimal,ok\n";
  const std::vector<ResultRow> old_rows = ResultsFromCsv(old_csv, "old.csv");
  REQUIRE(old_rows.size() == 1);
  CHECK_FALSE(old_rows[0].guarantee.on());
  CHECK(std::isnan(old_rows[0].shift_p));

  // Accuracy-drop mode: the drop bound, a cost bound above the fit cost, an accuracy bound.
  const ThresholdRowsResult drop = ExampleRows(0.95, true);
  const ResultRow& d = drop.rows[0];
  REQUIRE(d.has_solution());
  CHECK(d.guarantee.drop_bound == 0.02);
  CHECK(d.guarantee.cost_bound > d.fit_cost);
  CHECK(d.guarantee.accuracy_bound < d.fit_acc);
  const ResultRow db = ResultsFromCsv(ResultsToCsv(drop.rows), "mem.csv")[0];
  CHECK(db.guarantee.drop_bound == 0.02);
  CHECK(db.guarantee.cost_bound == d.guarantee.cost_bound);
}

TEST_CASE("guarantee columns: bad values are refused naming the column") {
  const std::string head =
      "model,target,unit,method,measure,kept_exits,budget,thresholds,fit_acc,fit_cost,eval_acc,"
      "eval_cost,exit_fractions,pareto,seconds,outcome,message,guarantee,guarantee_bound,horizon,"
      "cost_bound,accuracy_bound,drop_bound,shift_p,shift_fired\n"
      "m,t,ms,single,max_prob,1;2,2,0.5,0.9,1.5,0.89,1.6,0.5;0.5,true,0.01,optimal,ok,";
  auto refused = [&](const std::string& tail, const std::string& what) {
    INFO(tail);
    try {
      ResultsFromCsv(head + tail + "\n", "r.csv");
      FAIL("accepted");
    } catch (const InputError& e) {
      CHECK_THAT(e.what(), Catch::Contains(what));
    }
  };
  CHECK_NOTHROW(ResultsFromCsv(head + "0.95,wsr,inf,2,0.8,,0.3,false\n", "r.csv"));
  // This version's labels, and those earlier versions wrote, are read back as written.
  for (const std::string b :
       {"wsr-unrounded", "hoeffding-bentkus", "wsr-deterministic", "wsr-randomised"}) {
    const auto rows = ResultsFromCsv(head + "0.95," + b + ",inf,2,0.8,,0.3,false\n", "r.csv");
    REQUIRE(rows.size() == 1);
    CHECK(rows[0].guarantee.bound == b);
  }
  refused("0.95,stratified-binomial,100,2,0.8,,0.3,false", "column guarantee_bound");
  refused("1,wsr,100,2,0.8,,0.3,false", "column guarantee");
  refused("0.95,chernoff,100,2,0.8,,0.3,false", "column guarantee_bound");
  refused("0.95,wsr,0.5,2,0.8,,0.3,false", "column horizon");
  refused("0.95,wsr,100,2,1.5,,0.3,false", "column accuracy_bound");
  refused(",,,2,,,0.3,false", "given without a guarantee level");
  refused("0.95,wsr,100,2,0.8,,0.3,", "column shift_fired");
  refused("0.95,wsr,100,2,0.8,,,true", "given without a shift_p");
}

TEST_CASE(
    "configs carry the guarantee and the shift check; the runtime reads them, and old configs") {
  const ThresholdRowsResult with = ExampleRows(0.95);
  ConfigContext ctx;
  const DeployConfig c = ConfigFromRow(with.rows[0], ctx);
  const std::string yaml = ConfigToYaml(c), json = ConfigToJson(c);
  CHECK(yaml.find("guarantee:\n  level: 0.95\n  delta: 0.05") != std::string::npos);
  CHECK(yaml.find("  bound: \"wsr\"\n  horizon: 5000\n  cost_bound: " +
                  FormatDouble(with.rows[0].budget)) != std::string::npos);
  CHECK(yaml.find("  drop_bound: .nan") != std::string::npos);
  CHECK(yaml.find("shift_check: {p_value: " + FormatDouble(with.rows[0].shift_p) +
                  ", fired: false}") != std::string::npos);
  const runtime::Config rc = runtime::ParseConfig(json, "c.json");
  CHECK(rc.guarantee_level == 0.95);
  CHECK(rc.guarantee_bound == "wsr");
  CHECK(rc.horizon == 5000);
  CHECK(rc.cost_bound == with.rows[0].guarantee.cost_bound);
  CHECK(rc.accuracy_bound == with.rows[0].guarantee.accuracy_bound);
  CHECK(std::isnan(rc.drop_bound));
  CHECK(rc.shift_p == with.rows[0].shift_p);
  CHECK_FALSE(rc.shift_fired);

  // Without a guarantee: null in both, level 0 in the runtime.
  const DeployConfig plain = ConfigFromRow(ExampleRows(0.0).rows[0], ctx);
  CHECK(ConfigToYaml(plain).find("guarantee: null\n") != std::string::npos);
  const std::string pj = ConfigToJson(plain);
  CHECK(pj.find("\"guarantee\": null") != std::string::npos);
  CHECK(runtime::ParseConfig(pj, "p.json").guarantee_level == 0.0);

  // A config written before these fields existed (no guarantee, no shift_check) still reads.
  std::string old = pj;
  old.erase(old.find(",\n  \"guarantee\": null"), std::string(",\n  \"guarantee\": null").size());
  const auto sc = old.find(",\n  \"shift_check\"");
  old.erase(sc, old.find(",\n  \"provenance\"") - sc);
  REQUIRE(old.find("guarantee") == std::string::npos);
  REQUIRE(old.find("shift_check") == std::string::npos);
  const runtime::Config oc = runtime::ParseConfig(old, "old.json");
  CHECK(oc.guarantee_level == 0.0);
  CHECK(std::isnan(oc.shift_p));
  CHECK(oc.exits.size() == plain.exits.size());
  // A guarantee level outside (0, 1) is refused.
  std::string bad = json;
  bad.replace(bad.find("\"level\": 0.95"), std::string("\"level\": 0.95").size(), "\"level\": 2");
  CHECK_THROWS_WITH(runtime::ParseConfig(bad, "bad.json"),
                    Catch::Contains("bad.json: guarantee: level must be in (0, 1)"));
}

TEST_CASE("place --guarantee: the kept set chosen on the search part, its thresholds certified") {
  const Dump dump = LoadDump(testing::ProjectPath("data/example"));
  const CostProfile prof = LoadProfile(testing::ProjectPath("data/example/profile-flops.yaml"));
  PlacementProblem pp;
  pp.scores = &dump.fit.Scores(Measure::kMaxProb);
  pp.correct = &dump.fit.Correct(Target::kLabels);
  pp.order = ScoreOrder::kDescending;
  pp.profile = &prof;
  pp.eval_scores = &dump.eval->Scores(Measure::kMaxProb);
  pp.eval_correct = &dump.eval->Correct(Target::kLabels);
  PlaceRunOptions o;
  o.methods = {PlacementMethod::kGreedyBackward};
  o.model = "example";
  o.measure = "max_prob";
  o.solver = Method::kSingle;
  o.budgets = {0.45 * prof.FullCost(), 0.7 * prof.FullCost()};
  o.threads = 1;
  o.solver_options.guarantee.level = 0.9;
  o.solver_options.guarantee.horizon = 5000;
  const PlaceRunResult res = RunPlace(pp, o);
  REQUIRE(res.rows.size() == 2);

  // The same search run by hand on the search part, then the guaranteed solve of its kept set.
  SearchPartProblem sp;
  MakeSearchPart(pp, o.solver, o.solver_options, &sp);
  CHECK(sp.problem.n() == 2500);
  for (std::size_t i = 0; i < 2; ++i) {
    const ResultRow& r = res.rows[i];
    INFO(r.message);
    GreedyOptions g;
    g.rule = GreedyRule::kBackward;
    g.budget = o.budgets[i];
    SolverOptions plain = o.solver_options;
    plain.guarantee.level = 0.0;
    const GreedySummary s = Greedy(sp.problem, g, SolverFor(Method::kSingle, plain));
    REQUIRE(s.ok());
    CHECK(r.kept_exits == s.policy.kept);
    // Certified as CertifyRow does: on the placement's search part (0.5 with `single`, not the
    // 0.1 pilot its thresholds alone would use).
    SolverOptions cert = o.solver_options;
    cert.guarantee.search_fraction = 0.5;
    const ThresholdSummary c =
        Solve(Method::kSingle, pp.Thresholds(s.policy.kept, o.budgets[i]), cert);
    REQUIRE(c.ok());
    CHECK(r.thresholds == c.policy.thresholds);
    CHECK(r.fit_acc == c.fit.accuracy);  // on the whole fit split
    CHECK(r.guarantee.level == 0.9);
    CHECK(r.guarantee.cost_bound == c.guarantee.cost_bound);
    CHECK(r.fit_cost <= o.budgets[i]);
    CHECK_THAT(r.message, Catch::StartsWith("kept set ") &&
                              Catch::Contains("chosen on the search "
                                              "part (2500 of 5000 fit samples); guarantee 0.9"));
    CHECK(r.shift_p >= 0.0);
    CHECK(r.shift_p <= 1.0);
  }
  CHECK_THAT(res.text, Catch::Contains("certified rows (--guarantee 0.9"));
  o.all_rows = true;
  o.methods = {PlacementMethod::kExhaustive};
  CHECK_THROWS_WITH(RunPlace(pp, o), Catch::Contains("--all-rows"));
}

TEST_CASE("the shift check fires on MSDNet's given split (Tan et al., AAAI 2021 data)") {
  const std::string dir = testing::SharedData("aaai21/msdnet");
  if (dir.empty()) return;
  DumpOptions dopt;
  dopt.score_order = ScoreOrder::kAscending;
  const Dump dump = LoadDump(dir, dopt);
  const CostProfile prof = LoadProfile(dir + "/profile.yaml");
  ThresholdRowsRequest q;
  q.method = Method::kSingle;
  q.measure = Measure::kConfidence;
  q.kept = AllExits(dump.k);
  q.budgets = {0.5 * prof.FullCost()};
  q.model = "msdnet";
  SolverOptions o;
  o.guarantee.level = 0.95;
  DefaultHorizon(dump, false, o);
  const ThresholdRowsResult res = ThresholdRows(dump, prof, q, o);
  REQUIRE(res.rows.size() == 1);
  const ResultRow& r = res.rows[0];
  REQUIRE(r.has_solution());
  CHECK(r.shift_fired);
  CHECK(r.shift_p < 1e-20);
  CHECK(r.eval_cost > r.guarantee.cost_bound);  // the guarantee's assumption fails: exceeded
  REQUIRE_FALSE(res.notes.empty());
  CHECK_THAT(res.notes[0], Catch::StartsWith("warning: the eval split does not look exchangeable"));
  CHECK(ResultsFromCsv(ResultsToCsv(res.rows), "m.csv")[0].shift_fired);
}

TEST_CASE(
    "sweep options guarantee: rows and configs carry it, for threshold and placement methods") {
  testing::TempDir tmp;
  const std::string ex = testing::ProjectPath("data/example");
  const std::string yaml = "output: " + tmp.path() +
                           "/out\n"
                           "configs: true\n"
                           "models:\n"
                           "  - name: fm\n"
                           "    dump: " +
                           ex +
                           "\n"
                           "    profile: " +
                           ex +
                           "/profile-flops.yaml\n"
                           "methods:\n"
                           "  - method: single\n"
                           "    options: {guarantee: 0.95}\n"
                           "  - method: greedy-backward\n"
                           "    options: {solver: single, guarantee: 0.9, horizon: inf}\n"
                           "budgets: [60%]\n";
  const SweepSpec spec = ParseSweepSpec(yaml, "g.yaml", tmp.path());
  SweepOptions so;
  so.jobs = 1;
  const SweepSummary sum = RunSweep(spec, so);
  REQUIRE(sum.complete);
  CHECK(sum.cells_failed == 0);
  std::string csv_path;
  for (const std::string& f : sum.reports) {
    if (f.size() > 4 && f.substr(f.size() - 4) == ".csv") csv_path = f;
  }
  REQUIRE_FALSE(csv_path.empty());
  const std::vector<ResultRow> rows = ResultsFromCsv(ReadFile(csv_path), csv_path);
  REQUIRE(rows.size() == 2);
  for (const ResultRow& r : rows) {
    INFO(r.method << ": " << r.message);
    REQUIRE(r.has_solution());
    CHECK(r.guarantee.on());
    CHECK(r.guarantee.cost_bound == r.budget);
    CHECK(r.fit_cost <= r.budget);
    CHECK(r.shift_p >= 0.0);
    if (r.method == "single") {
      CHECK(r.guarantee.level == 0.95);
      CHECK(r.guarantee.horizon == 5000);  // the eval split's size
    } else {
      CHECK(r.guarantee.level == 0.9);
      CHECK(std::isinf(r.guarantee.horizon));
      CHECK_THAT(r.message,
                 Catch::Contains("chosen on the search part (2500 of 5000 fit samples)"));
    }
  }
  // Every front row's config names its guarantee.
  int configs = 0;
  for (const auto& e : std::filesystem::recursive_directory_iterator(tmp.path() + "/out/configs")) {
    const std::string f = e.path().string();
    if (f.size() > 5 && f.substr(f.size() - 5) == ".json") {
      const runtime::Config c = runtime::LoadConfig(f);
      CHECK(c.guarantee_level >= 0.9);
      CHECK(c.cost_bound > 0);
      ++configs;
    }
  }
  CHECK(configs >= 1);
}

TEST_CASE("exact's warm starts: a solve between two kept answers reuses their iPPP starts") {
  const Synthetic pool(3000, 41);
  ThresholdProblem p = pool.p;
  const double lo = p.MinCost(), span = p.MaxCost() - lo;
  const double b1 = lo + 0.40 * span, b3 = lo + 0.44 * span, b2 = lo + 0.42 * span;
  ExactWarmStore store(p);
  SolverOptions o;
  o.exact_warm = &store;
  auto at = [&](double b, const SolverOptions& opt) {
    ThresholdProblem q = p;
    q.budget = b;
    return Solve(Method::kExact, q, opt);
  };
  const ThresholdSummary s1 = at(b1, o), s3 = at(b3, o);
  REQUIRE(s1.ok());
  REQUIRE(s3.ok());
  CHECK(store.answers.size() == 2);
  CHECK(store.method_starts.size() == 2);  // both solved their iPPP starts
  const ThresholdSummary s2 = at(b2, o);
  REQUIRE(s2.ok());
  CHECK(store.answers.size() == 3);
  CHECK(store.method_starts.count(b2) == 0);  // reused, not solved again
  CHECK(s2.fit.mean_cost <= b2);
  CHECK(s2.fit.accuracy >= s1.fit.accuracy);  // s1 is feasible at b2 and one of its starts
  SolverOptions cold;
  const ThresholdSummary c2 = at(b2, cold);
  CHECK(s2.fit.accuracy >= c2.fit.accuracy);  // on this case: the same or better than cold
  // A store for another problem is ignored.
  const Synthetic other(500, 42);
  ThresholdProblem q = other.p;
  q.budget = b2;
  const ThresholdSummary s4 = Solve(Method::kExact, q, o);
  CHECK(s4.ok());
  CHECK(store.answers.size() == 3);
}

TEST_CASE("exact in accuracy-drop mode: warm-started search as cheap as a cold bisection") {
  const Synthetic pool(3000, 43);
  ThresholdProblem p = pool.p;
  p.budget = p.MaxCost();
  double full = 0.0;
  for (int i = 0; i < 3000; ++i) full += pool.c(2, i);
  full /= 3000;
  for (double drop : {0.01, 0.02, 0.04}) {
    SolverOptions o;
    o.accuracy_drop = drop;
    const ThresholdSummary s = Solve(Method::kExact, p, o);
    REQUIRE(s.ok());
    CHECK(s.fit.accuracy >= full - drop - 1e-12);
    // The former search: a bisection on [first exit's cost, full cost] to 1e-4 of the span with
    // cold solves (no warm starts), the cheapest qualifying answer seen.
    double lo = p.MinCost(), hi = p.MaxCost(), best = hi;
    while (hi - lo > 1e-4 * (p.MaxCost() - p.MinCost())) {
      ThresholdProblem q = p;
      q.budget = 0.5 * (lo + hi);
      const ThresholdSummary c = Solve(Method::kExact, q, SolverOptions{});
      if (c.ok() && c.fit.accuracy >= full - drop - 1e-12) {
        best = std::min(best, c.fit.mean_cost);
        hi = q.budget;
      } else {
        lo = q.budget;
      }
    }
    INFO("drop " << drop << ": warm " << s.fit.mean_cost << ", cold " << best);
    CHECK(s.fit.mean_cost <= best * (1.0 + 1e-9));
  }
}

TEST_CASE("exact with the guarantee in accuracy-drop mode: certified, deterministic, holds") {
  const Synthetic pool(6000, 47);
  int viol = 0, certified = 0;
  for (unsigned r = 0; r < 4; ++r) {
    const std::vector<int> perm = Shuffled(6000, r + 500);
    const Slice fit(pool, std::vector<int>(perm.begin(), perm.begin() + 3000));
    const Slice eval(pool, std::vector<int>(perm.begin() + 3000, perm.end()));
    ThresholdProblem p = fit.p;
    p.budget = p.MaxCost();
    SolverOptions o;
    o.seed = r;
    o.accuracy_drop = 0.04;
    o.guarantee.level = 0.9;
    o.guarantee.horizon = 3000;
    const ThresholdSummary s = Solve(Method::kExact, p, o);
    const ThresholdSummary again = Solve(Method::kExact, p, o);
    CHECK(again.policy.thresholds == s.policy.thresholds);
    if (!s.ok()) continue;
    ++certified;
    CHECK(s.guarantee.certified >= 1);
    double final_acc = 0.0;
    for (int i = 0; i < 3000; ++i) final_acc += eval.c(2, i);
    final_acc /= 3000;
    viol += eval.p.Evaluate(s.policy).accuracy < final_acc - 0.04;
  }
  CHECK(certified >= 3);
  CHECK(viol == 0);
}
