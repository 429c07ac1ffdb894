// Budgets that hold on unseen data: finite-sample, distribution-free guarantees for any threshold
// method (docs/guarantees.md has the statement and its derivation).
//
// With `level` = 1 - delta, the returned policy satisfies, with probability >= 1 - delta over the
// draw of the fit split and of the next M deployed samples (all i.i.d. from one distribution):
//   budget mode:         mean cost of the M deployed samples <= B;
//   accuracy-drop mode:  accuracy of the policy on the M samples >= accuracy of the final exit on
//                        the same M samples - eps.
// M = `horizon`; M = inf means the population mean (expected cost / expected accuracy gap).
//
// How: the fit split is split at random (seeded) into a search part and a calibration part. The
// method is solved on the search part at a fixed sequence of tightened targets (the "path",
// ordered from the safest candidate to the least safe, fixed before the calibration part is
// looked at). Fixed-sequence testing (Learn-then-Test, Angelopoulos et al. 2021) tests the
// candidates on the calibration part in path order and stops at the first that fails; the last
// that passed is returned. Budget mode with a finite horizon and `wsr` (the default): each
// candidate is tested with a betting capital whose bet is fixed from the search part, and one
// bound covers the calibration sample and the M deployed ones together (BetTest below), or (with
// `wsr`, not `wsr-unrounded`) each loss is rounded to 0 or 1 against fixed stratified midpoints
// and the count of ones is tested against a binomial bound on its law (ChooseRoundedTest); likewise
// accuracy-drop mode with `wsr` (any horizon), on the counts of drops and gains (DropTest).
// Otherwise the test is of "the candidate's mean loss exceeds m*", m* the largest population mean
// whose M-sample mean still exceeds the target with probability <= delta2 (Hoeffding 1963, the
// median bound and a Berry-Esseen form, FreshMeanTail, for M fresh draws), by a Waudby-Smith-Ramdas
// betting test or the Hoeffding-Bentkus p-value at level delta1, delta1 + delta2 = delta.
#pragma once

#include <cstdint>
#include <limits>
#include <string>
#include <vector>

#include "optim/problem.hpp"

namespace exitplan {

enum class Method;
struct SolverOptions;

// The p-value / confidence bound used on the calibration part.
enum class GuaranteeBound {
  kWsr,               // Waudby-Smith & Ramdas (JRSS-B 2023) betting test, variance-adaptive
  kHoeffdingBentkus,  // min of the Hoeffding (1963) and Bentkus (2004) p-values (Bates et al. 2021)
  // As kWsr without the stratified-binomial test among budget mode's tests (ChooseRoundedTest):
  // the four tests of the losses as they are, unrounded.
  kWsrUnrounded,
};
// True for kWsr and kWsrUnrounded (the one-bound tests; they differ only in whether budget mode
// with a finite horizon may choose the stratified-binomial test).
bool IsWsr(GuaranteeBound bound);
std::string ToString(GuaranteeBound bound);
GuaranteeBound GuaranteeBoundFromString(const std::string& text,
                                        const std::string& what = "--guarantee-bound");

// The default search fractions (measured with bench/bench_resplit on data/example, budgets
// 40-90%). `exact` fits K-1 thresholds and exploits its data most: its price is mostly the part
// of the fit split its search does not see (+0.15 pp at 0.5, of which +0.12 pp is the smaller
// search part alone; +0.08 pp at 0.7; +0.06 pp at 0.8), so it searches on 0.8. The other methods
// fit one or two numbers and lose little to a smaller search part, while a smaller calibration
// part widens every test: they keep 0.5, as does accuracy-drop mode (it tests a mean and a
// disagreement rate on the calibration part).
inline constexpr double kSearchFractionExact = 0.8;
inline constexpr double kSearchFraction = 0.5;
// `exact` in budget mode, automatic fraction (SolveWithGuarantee decides on the first
// kSearchFractionExactSmall of the fit split alone, a part every search part it can return
// contains, and keeps kSearchFractionExact when that part has fewer than kMinSmallSearch samples;
// docs/guarantees.md, step 1): the smaller search part it switches to where the budget binds hard,
// the least number of samples that part must have, and the predicted accuracy gain (a fraction,
// 0.0003 = 0.03 pp) the switch must promise; the larger search part it switches to where the
// budget does not bind, and the most accuracy (0.00005 = 0.005 pp) the choice part may lose
// from B down to the budget tightened by the larger part's wider gap. Measured with
// bench/bench_resplit (budgets 40-90 %, fixed fractions on the same re-splits, S-ResNet-18 40 and
// MSDNet 14): at 40-50 % 0.6 paid 0.04 pp less than 0.7 and 0.06-0.08 pp less than 0.8 on MSDNet
// (S-ResNet-18: no consistent direction between 0.6 and 0.7); at 80-90 %, where the budget does not
// bind and only the search part's size counts, 0.9 paid 0.007-0.010 pp less than 0.8 on both, while
// at 70 % on MSDNet, where it binds a little, 0.018 pp more (hence the small allowance). The rule
// moved the price averaged over 40-90 % from +0.105 to +0.102 pp (S-ResNet-18) and from +0.090 to
// +0.087 pp (MSDNet).
inline constexpr double kSearchFractionExactSmall = 0.6;
inline constexpr int kMinSmallSearch = 5000;
inline constexpr double kSmallSearchGain = 0.0003;
inline constexpr double kSearchFractionExactLarge = 0.9;
inline constexpr double kLargeSearchLoss = 0.00005;
// `single` in budget mode (finite horizon with `wsr`, or `hoeffding-bentkus`): one shared
// threshold has nothing to fit but its level, so it needs no search part of its own: a pilot part
// fixes the test and a fine path of thresholds, the rest of the fit split calibrates
// (docs/guarantees.md, derivation step 2).
inline constexpr double kPilotFraction = 0.1;

struct GuaranteeOptions {
  double level = 0.0;                                        // 1 - delta in (0, 1); 0 = off
  double horizon = std::numeric_limits<double>::infinity();  // M >= 1, or inf (population mean)
  // Share of the fit split the method searches on, in (0, 1); NaN = auto: kSearchFractionExact
  // for `exact` in budget mode (SolveWithGuarantee may choose kSearchFractionExactSmall or
  // kSearchFractionExactLarge there; SearchFraction() returns kSearchFractionExact),
  // kPilotFraction for `single` on the fine path (NestedPath()), else kSearchFraction.
  double search_fraction = std::numeric_limits<double>::quiet_NaN();
  GuaranteeBound bound = GuaranteeBound::kWsr;
  std::string Validate() const;
  double SearchFraction(Method method, bool accuracy_drop) const;
  // The share a placement search (dse/place_run.hpp) searches on with `method` as its threshold
  // solver: as SearchFraction, but never the small pilot of the fine path (the kept set is
  // chosen on this part, and a pilot of 10 % would choose it from too few samples).
  double PlacementSearchFraction(Method method, bool accuracy_drop) const;
  // True when the budget-mode guarantee of `method` runs on the fine path from a pilot part:
  // `single`, with a finite horizon and `wsr` (the one bound) or with `hoeffding-bentkus`.
  bool NestedPath(Method method, bool accuracy_drop) const;
  bool on() const { return level > 0.0; }
};

// ---- Bounds on means of [0, 1]-valued losses (exposed for tests) ----

// KL divergence of Bernoulli(a) from Bernoulli(b), natural log; +inf when b is 0 or 1 and a != b.
double BernoulliKl(double a, double b);
// P(Binomial(n, p) <= k), computed in log space (no listed library has the binomial tail; Eigen
// does not). k < 0 gives 0, k >= n gives 1.
double BinomialCdf(std::int64_t k, std::int64_t n, double p);
// Hoeffding (1963, Theorem 1) p-value of H0: mean >= m given the sample mean `mean` of n losses in
// [0, 1]: exp(-n KL(mean || m)) when mean < m, else 1.
double HoeffdingPValue(double mean, std::int64_t n, double m);
// Bentkus (2004) p-value of H0: mean >= m: e * P(Bin(n, m) <= ceil(n mean)).
double BentkusPValue(double mean, std::int64_t n, double m);
// min of the two (Bates, Angelopoulos, Lei, Malik, Jordan, JACM 2021, "RCPS"); the exact
// binomial p-value P(Bin(n, m) <= n mean) when the losses are binary.
double HoeffdingBentkusPValue(double mean, std::int64_t n, double m, bool binary = false);
// The median bound's p-value of H0: mean >= m: min(1, 2 P(Bin(n, m) <= ceil(n mean))). For n
// independent losses in [0, 1] with mean m, P(sum <= a) <= 2 P(Bin(n, m) <= ceil(a)): with
// B_i ~ Bernoulli(x_i) given the losses (a proof device), the sum of the B_i is Bin(n, m) and,
// given the x_i, it is at most ceil(sum x_i) with probability >= 1/2 (a Poisson-binomial's median
// is within 1 of its mean: Jogdeo & Samuels, Ann. Math. Statist. 1968); docs/guarantees.md, step
// 3. Bentkus' bound above has e in place of 2.
double MedianPValue(double mean, std::int64_t n, double m);
// min(HoeffdingPValue, MedianPValue): the mean-threshold test's pass bound (BetPassBound).
double HoeffdingMedianPValue(double mean, std::int64_t n, double m);
// Waudby-Smith-Ramdas betting test of H0: mean >= m for x_1..x_n in [0, 1] taken in the given
// order: capital K_t = prod_{i<=t} (1 - nu_i (x_i - m)), nu_i = min(1, sqrt(2 log(1/delta) /
// (n sigma2_{i-1}))) with the running variance estimate of RCPS / RC-EENN; rejects (returns true)
// when max_t K_t >= 1/delta (Ville's inequality).
bool WsrRejects(const std::vector<double>& x, double m, double delta);
// Upper confidence bounds at level 1 - delta for the mean of x in [0, 1] (the smallest m not
// rejected), by bisection to 1e-9.
double WsrUpperBound(const std::vector<double>& x, double delta);
double HoeffdingBentkusUpperBound(const std::vector<double>& x, double delta, bool binary = false);

// ---- Two-sided intervals for a mean of i.i.d. [0, 1] variables (bench/bench_resplit) ----

struct MeanInterval {
  double lo = 0.0, hi = 1.0;
};
// Clopper & Pearson (Biometrika 1934) interval for the success probability of n independent
// Bernoulli trials with k successes, two-sided at `level` ((1 - level) / 2 on each side): the
// exact binomial interval, by bisection on BinomialCdf to 1e-12. lo = 0 for k = 0, hi = 1 for
// k = n; n = 0 gives [0, 1].
MeanInterval ClopperPearson(std::int64_t k, std::int64_t n, double level = 0.95);
// P-value of H0: E x >= m for the mean `mean` of n i.i.d. variables x_i in [0, 1], valid for any
// law on [0, 1]: the smaller of HoeffdingPValue and the coupled binomial bound
//   min over integers k >= ceil(n mean) of P(Bin(n, m) <= k) / P(Bin(n, mean) <= k).
// Why the second holds, for S = sum x_i and any integer k >= a: draw B_i ~ Bernoulli(x_i)
// independently given the x (a proof device); the B_i are i.i.d. Bernoulli(m), so their sum is
// Bin(n, m). Given x with S <= a, their sum is a Poisson-binomial with mean S <= k, which is <= k
// with probability >= P(Bin(n, S / n) <= k) >= P(Bin(n, a / n) <= k) (Hoeffding, Ann. Math.
// Statist. 1956, Theorem 4; the binomial cdf falls in p). So P(Bin(n, m) <= k) >= P(S <= a)
// P(Bin(n, a / n) <= k). The bound is nondecreasing in `mean` and falls in m, so it is a valid
// p-value and its confidence set is an interval. At mean 0 (k = 0) it is (1 - m)^n, the exact
// binomial p-value; otherwise its factor over P(Bin(n, m) <= ceil(n mean)) is at most 2 (the
// median bound, MedianPValue) and nearer 1 for small n mean. Bentkus' e is not needed.
double CoupledBinomialPValue(double mean, std::int64_t n, double m);
// Two-sided interval at `level` for the mean of i.i.d. x_i in [0, 1] (any law): the m that
// CoupledBinomialPValue does not reject at (1 - level) / 2, for the x and (lower end) for the
// 1 - x, by bisection to 1e-12. When every x_i is 0 or 1 it contains ClopperPearson on the count
// of ones and equals it where the count is 0 or n (at the end next to it; the other end is wider
// than Clopper-Pearson's by at most the factor 2 above on the tail). Empty x gives [0, 1].
MeanInterval BoundedMeanInterval(const std::vector<double>& x, double level = 0.95);
// Tail of the mean of M fresh i.i.d. draws in [0, 1] with population mean m (and variance <=
// var_cap when given): P(mean_M > b) <= min(exp(-M KL(b || m)), 2 P(Bin(M, m) >= floor(M b)),
// BerryEsseenFreshTail(m, b, M, var_cap)) (0 when b >= 1; the second is the median bound, the
// upper-tail mirror of MedianPValue). Nondecreasing in m.
double FreshMeanTail(double m, double b, double horizon,
                     double var_cap = std::numeric_limits<double>::quiet_NaN());
// The Berry-Esseen form of the same tail: the supremum over the sd sigma of the law (at most
// sqrt(min(m, 1/2) (1 - min(m, 1/2))), and sqrt(var_cap) when given) of
// min(Phi-bar(sqrt(M) (b - m) / sigma) + 0.33554 (beta3 + 0.415) / sqrt(M), Bennett's tail at
// variance sigma^2), with beta3 <= (1 - tau) / sigma, tau (1 - tau) = sigma^2 (Shevtsova 2011's
// bound for i.i.d. summands), taken over cells of sigma so that it bounds every law; nondecreasing
// in m. Where the law is near two-point it replaces the median bound's factor 2 by an additive
// 0.0065 at M = 10,000 (b around 0.3).
double BerryEsseenFreshTail(double m, double b, double horizon, double var_cap);
// The largest m in [0, b] with FreshMeanTail(m, b, M) <= delta2 (b itself when M is inf).
double FreshMeanCap(double b, double horizon, double delta2);
// A variance-aware tail of the Bentkus type: for a sum S of n independent y_i <= 1 with
// E y_i = 0 and E y_i^2 <= v (a loss in [0, 1] minus its mean, or its mean minus the loss, with
// variance <= v), P(S >= g) <= inf_{h < g} E (T - h)_+^2 / (g - h)^2, T the sum of n i.i.d.
// two-point variables in {-v, 1} with P(1) = v / (1 + v) (mean 0, variance v). Why it holds
// (docs/guarantees.md, step 3): E (y - h)_+^2 <= E (eps - h)_+^2 for every h, by a quadratic
// majorant of (y - h)_+^2 on y <= 1 touching it at -v and 1, and the same for the sums by
// conditioning on all but one term. Nonincreasing in g; 1 for g <= 0, 0 for g > n.
// (No listed library has this bound; computed exactly from T's binomial law.)
double VarianceTail(std::int64_t n, double v, double g);

// ---- One bound on the mean of the next M samples (budget mode, finite horizon, `wsr`) ----
//
// The betting test with a bet fixed before the calibration part is seen: a candidate passes when
// its capital sum_i log(1 - nu (x_i - theta)) over its n calibration losses x_i in [0, 1] reaches
// ell. For a candidate whose population mean is mu >= theta, Markov's inequality on the capital
// gives P(pass) <= BetPassBound(mu) = min(1, e^-ell (1 - nu (mu - theta))^n), falling in mu. With
// Q(t) = FreshMeanTail(t, b, M) (rising in t), fixed-sequence testing along a path of such tests
// returns a candidate whose next M samples have mean cost > b with probability at most
//   Q(theta) + integral_theta^b BetPassBound(t) dQ(t)
// (docs/guarantees.md has the argument), one bound for both the calibration sample and the M
// fresh ones; BetTestBound computes an upper Riemann-Stieltjes sum of it.
struct BetTest {
  double theta = 0.0;                                    // the capital's reference point in [0, b]
  double nu = 0.0;                                       // the bet, in (0, 1 / (1 - theta))
  double ell = std::numeric_limits<double>::infinity();  // log capital needed; inf: never passes
  int n = 0;                                             // calibration losses
  // A cap V on the candidate's population variance, certified by a second test on the
  // calibration part at level var_delta (VarianceCapPasses); NaN = no cap. With a cap, Q(t) is
  // the smaller of the variance-free tail and Bennett's (JASA 1962) tail of the mean of M draws
  // with variance <= V and x - mu <= 1, and BetTestBound + var_delta bounds the violation.
  double fresh_var = std::numeric_limits<double>::quiet_NaN();
  double var_delta = 0.0;
  double var_nu = 0.0;  // the variance test's bet, in (0, 1 / (1 - V)), fixed before calibration
  // The stratified-binomial form (ChooseRoundedTest): a candidate passes when
  // K = #{j : u_j < x_j} <= k for its calibration losses x_1..x_n in the calibration part's order
  // and the fixed midpoints u_j = (j - 1/2) / n (RoundedCount; nothing random). Given the search
  // part the indicators are independent Bernoulli(S(u_j)), S(u) = P(x > u), with
  // sum_j S(u_j) >= n mu - 1/2, so by Hoeffding (1956, Theorem 4) P(pass) <=
  // BinomialCdf(k, n, mu - 1/(2n)) whenever k <= n mu - 3/2 (BetPassBound); k < 0: never passes.
  // No variance cap (fresh_var NaN).
  bool rounded = false;
  std::int64_t k = -1;
  // The mean-threshold form (ChooseMeanTest): a candidate passes when the mean of its n
  // calibration losses is <= tau (NaN: the betting form above). Its pass probability at
  // population mean mu > tau is at most the Hoeffding-median bound
  // HoeffdingMedianPValue(tau, n, mu), and with a cap V (fresh_var) at most
  // VarianceTail(n, V, n (mu - tau)) for a candidate whose variance is <= V; both fall in mu
  // (BetPassBound takes the smaller).
  double tau = std::numeric_limits<double>::quiet_NaN();
  // b minus the calibration mean at which a candidate with the search part's variance is
  // predicted to just pass (scale of the path; not part of the guarantee).
  double predicted_gap = std::numeric_limits<double>::quiet_NaN();
};
double BetPassBound(const BetTest& test, double mu);
bool BetTestPasses(const BetTest& test, const std::vector<double>& x);
// Q(theta) + sum_k BetPassBound(t_{k-1}) (Q(t_k) - Q(t_{k-1})) over `grid` equal steps t_k of
// [theta, b]: an upper bound on the integral above (BetPassBound falls, Q rises).
double BetTestBound(const BetTest& test, double b, double horizon, int grid = 512);
// Q(t) of the test: FreshMeanTail(t, b, M), or with test.fresh_var = V finite the minimum of it,
// Bennett's tail exp(-(M V) phi((b - t) / V)), phi(u) = (1 + u) log(1 + u) - u, and
// VarianceTail(M, V, M (b - t)) (each nondecreasing in t).
double BetFreshTail(const BetTest& test, double t, double b, double horizon);
// The variance test of a candidate: with y_i = (x_i - c)^2 for its calibration losses x and a
// centre c fixed before the calibration part (the candidate's search-part mean), it passes when
// the capital prod_i (1 - var_nu (y_i - V)) reaches 1 / var_delta. Under H0: E y >= V the capital
// has expectation <= 1 (Markov: P(pass) <= var_delta), and E y >= Var x, so a pass certifies
// Var x <= V at that level.
bool VarianceCapPasses(const BetTest& test, const std::vector<double>& x, double centre);
// The test for n calibration losses whose variance is about `variance` (from the search part) at
// target b, horizon M and level delta: theta where Q(theta) = delta / 100, the bet maximising the
// predicted passing mean, and the smallest ell with BetTestBound <= delta. ell = inf when no test
// reaches delta (b too close to 0 for M).
// With fresh_var = V finite, Q includes Bennett's tail with V and ell is chosen so that
// BetTestBound <= delta - var_delta (var_delta in [0, delta)).
BetTest ChooseBetTest(double b, double horizon, int n, double variance, double delta,
                      double fresh_var = std::numeric_limits<double>::quiet_NaN(),
                      double var_delta = 0.0);

// The stratified-binomial test at target b, horizon M and level delta: theta where Q(theta) =
// delta / 100 (Q the variance-free FreshMeanTail) and the largest integer k with
// BetTestBound <= delta (k = -1: never passes). Its predicted gap is b - k / n plus
// kRoundingNoisePenalty times the sd of the noise the rounding may add to the calibration mean at
// a candidate with the search part's variance `variance` (at most sqrt((m (1 - m) - variance) /
// n), m = k / n: the count's variance per sample is E|x - x'| / 2 over two independent losses,
// between Var x and m (1 - m)). Measured with bench/bench_resplit (budgets 40-90 %, 14
// re-splits) on the former randomised form, whose noise was that upper end: charging half that sd
// made `exact` choose the capped tests at 40-60 % on S-ResNet-18 and MSDNet, and paid 0.006 and
// 0.009 pp more (averaged over the budgets) than charging none, `single` 0.001-0.003 pp more: the
// rounding's noise is shared along a path (the same midpoints) and moves the returned candidate
// little, so the five tests are compared at their 50 % pass points alone (the penalty 0); where
// the losses vary much less than m (1 - m) the capped tests still have the smaller gap.
inline constexpr double kRoundingNoisePenalty = 0.0;
BetTest ChooseRoundedTest(double b, double horizon, int n, double variance, double delta);
// The stratified-binomial test's pass bound at population mean mu (BetPassBound's rounded form):
// BinomialCdf(k, n, max(0, mu - 1/(2n))) when k <= n mu - 3/2, else 1 (0 for k < 0). Why it holds
// (docs/guarantees.md, step 3): with the midpoints, the count's mean is >= n mu - 1/2, and a
// Poisson-binomial count with mean n p is at most c with probability <= P(Bin(n, p) <= c) for
// every integer c <= n p - 1 (Hoeffding, Ann. Math. Statist. 1956, Theorem 4).
double StratifiedPassBound(std::int64_t k, std::int64_t n, double mu);
// The fixed midpoints u_j = (j - 1/2) / n, j = 1..n (one per calibration position).
double StratifiedPoint(std::int64_t j, std::int64_t n);
// K = #{j : u_j < x_j}, u_j = StratifiedPoint(j, x.size()).
std::int64_t RoundedCount(const std::vector<double>& x);
// The rounded form's decision: RoundedCount(x) <= test.k.
bool RoundedTestPasses(const BetTest& test, const std::vector<double>& x);
// The name of a budget-mode test as reports print it: "mean-threshold", "fixed-bet",
// "capped mean-threshold", "capped fixed-bet" (with a variance cap) or "stratified-binomial".
std::string TestName(const BetTest& test);

// The mean-threshold test at target b, horizon M and level delta: theta where Q(theta) =
// delta / 100 and the largest tau with BetTestBound <= delta (tau = -inf: never passes).
// With fresh_var = V finite, as ChooseBetTest: Q includes Bennett's tail and the bound is held to
// delta - var_delta.
BetTest ChooseMeanTest(double b, double horizon, int n, double delta,
                       double fresh_var = std::numeric_limits<double>::quiet_NaN(),
                       double var_delta = 0.0);

// ---- One bound on the mean drop of the next M samples (accuracy-drop mode, `wsr`) ----
//
// The per-sample drop l = correct(final exit) - correct(policy) takes the values -1, 0, 1; its
// distribution is fixed by p+ = P(l = 1) and p- = P(l = -1) (its variance is at most the
// disagreement rate p+ + p-). A candidate is tested on its counts N+, N- of l = 1 and l = -1 among
// n calibration samples: it passes when N+ log f+ + N- log f- >= ell (the log capital of the bet
// f(1) = f+, f(0) = 1, f(-1) = f-, fixed before the calibration part is seen). Markov's
// inequality on the capital bounds P(pass) by DropPassBound(p) = min(1, e^-ell g(p)^n),
// g(p) = 1 + p+ (f+ - 1) + p- (f- - 1); DropFreshTail(p) (the exact trinomial tail) bounds the
// probability that the mean drop of M fresh samples exceeds eps. Fixed-sequence testing along a
// path of such tests returns a candidate whose next M samples drop by more than eps with
// probability at most
//   integral_0^1 sup { DropPassBound(p) : DropFreshTail(p) > w } dw,
// which DropTestBound bounds from above on a grid of cells in the (p+, p-) triangle
// (docs/guarantees.md has the argument).
struct DropTest {
  double log_plus = 0.0;                                 // log f+ < 0
  double log_minus = 0.0;                                // log f-
  double ell = std::numeric_limits<double>::infinity();  // log capital needed; inf: never passes
  int n = 0;                                             // calibration samples
  // eps minus the calibration mean drop at which a candidate with the search part's disagreement
  // rate is predicted to just pass (scale of the path; not part of the guarantee).
  double predicted_gap = std::numeric_limits<double>::quiet_NaN();
};
// Chernoff bound inf_{z > 1} (p0 + p+ z + p- / z)^M z^(-s) on P(N+ - N- >= s) for M fresh samples,
// s = ceil(M eps) (the smallest count difference with mean drop >= eps); horizon inf: 1 when
// p+ - p- > eps, else 0.
double DropChernoffTail(double p_plus, double p_minus, double eps, double horizon);
// P(N+ - N- >= s) for (N+, N-, N0) ~ Multinomial(m; p+, p-, 1 - p+ - p-), computed exactly (to
// rounding, which the value covers) by conditioning on N+ + N-; NaN where it does not apply
// (p+ not positive, p- negative, p+ + p- >= 1, s < 1) or would underflow.
double TrinomialDifferenceTail(std::int64_t m, double p_plus, double p_minus, std::int64_t s);
// The deployed tail of the test: P(N+ - N- >= ceil(M eps)) for M fresh samples, the exact tail
// where TrinomialDifferenceTail applies, else (and above it) the Chernoff bound; horizon inf as
// DropChernoffTail. It rises in p+ and falls in p- (a sample moved from l = 0 to l = 1 can only
// raise N+ - N-), as DropTestBound's cells need.
double DropFreshTail(double p_plus, double p_minus, double eps, double horizon);
double DropPassBound(const DropTest& test, double p_plus, double p_minus);
bool DropTestPasses(const DropTest& test, int n_plus, int n_minus);
// The bound above for a test, on the cells ChooseDropTest uses for a disagreement rate q (side
// sqrt(max(x, q / 2) (1/n + 1/M)) / resolution at rate x; resolution 8, or lower where the axis
// would exceed 2,000 points), or finer with a larger resolution. The grid is pruned (cells the
// Chernoff bound puts below 1e-15 or below 1e-9, runs of tail 1): the value is within 1e-9 above
// the sum over every cell with the exact tail.
double DropTestBound(const DropTest& test, double eps, double horizon, double disagreement,
                     double resolution = 8.0);
// The test for n calibration samples whose disagreement rate is about `disagreement` (from the
// search part) at drop eps, horizon M and level delta: the bet f(l) = exp(-lambda l - kappa |l|)
// maximising the predicted passing mean, and the smallest ell with DropTestBound <= delta.
DropTest ChooseDropTest(double eps, double horizon, int n, double disagreement, double delta);

// ---- The guarantee driver ----

// Per-sample costs and correctness of a policy on a problem's samples.
void PerSample(const ThresholdProblem& problem, const Policy& policy, std::vector<double>* cost,
               std::vector<std::uint8_t>* correct);

// The seeded search / calibration split of a fit split of n >= 2 samples that SolveWithGuarantee
// uses: the search part's sample indices, ascending (the other samples calibrate). Placement
// searches with the guarantee search on exactly these samples (dse/place_run.hpp).
std::vector<int> GuaranteeSearchPart(int n, unsigned seed, double search_fraction);
// The other samples, in the order the calibration tests see them (the rest of the same seeded
// permutation; the stratified-binomial test gives its j-th sample the j-th midpoint).
std::vector<int> GuaranteeCalibrationPart(int n, unsigned seed, double search_fraction);

// Solve() with options.guarantee on (Solve() calls this). `solve` is Solve without the guarantee.
ThresholdSummary SolveWithGuarantee(Method method, const ThresholdProblem& problem,
                                    const SolverOptions& options);

}  // namespace exitplan
