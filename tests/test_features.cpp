// The feature pass: the vector kernels against the scalar reference (bit for bit), the reference
// against the former arithmetic (std::exp, one running sum, a logarithm per class: within a few
// units in the last place), thread-count independence, and the first non-finite logit named.
#include <Eigen/Core>
#include <catch2/catch.hpp>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <random>

#include "exitplan/runtime.hpp"
#include "profiles/dump.hpp"
#include "profiles/error.hpp"
#include "profiles/feature_cache.hpp"
#include "profiles/features.hpp"
#include "profiles/softmax_kernel.hpp"
#include "profiles/stats.hpp"
#include "test_util.hpp"

using namespace exitplan;
using exitplan::testing::TempDir;
using exitplan::testing::WriteNpyAs;

namespace {

// The arithmetic the project used before the vector pass, kept here as an independent check.
ExitSoftmax FormerSoftmax(std::vector<double> z, double inv_t) {
  const int c = static_cast<int>(z.size());
  int arg = 0;
  for (int q = 0; q < c; ++q) {
    z[q] *= inv_t;
    if (z[q] > z[arg]) arg = q;
  }
  const double zmax = z[arg];
  double s = 0.0, second = -INFINITY;
  for (int q = 0; q < c; ++q) {
    const double e = std::exp(z[q] - zmax);
    z[q] = e;
    s += e;
    if (q != arg && e > second) second = e;
  }
  const double log_s = std::log(s);
  double h = 0.0;
  for (int q = 0; q < c; ++q) {
    if (z[q] > 0.0) h -= z[q] / s * (std::log(z[q]) - log_s);
  }
  ExitSoftmax out;
  out.arg = arg;
  out.sum = s;
  out.max_prob = 1.0 / s;
  out.entropy = c > 1 ? 1.0 - h / std::log(static_cast<double>(c)) : 1.0;
  out.margin = c > 1 ? (1.0 - second) / s : 1.0;
  return out;
}

std::uint64_t Bits(double v) {
  std::uint64_t b;
  std::memcpy(&b, &v, sizeof b);
  return b;
}

// Logits of one row in the style `kind`: 0 narrow, 1 wide (underflowing exps), 2 many ties,
// 3 zeros of both signs and tiny values (ties at +0 / -0, d = 0 off the maximum's class),
// 4 narrow with the maximum in the last class (the vector kernels' tail).
std::vector<double> RandomRow(std::mt19937& rng, int c, int kind) {
  std::normal_distribution<double> g(0.0, kind == 1 ? 200.0 : 3.0);
  std::uniform_int_distribution<int> level(-2, 2);
  std::uniform_int_distribution<int> pick(0, 5);
  constexpr double kTiny[6] = {0.0, -0.0, 1e-300, -1e-300, 4.9e-324, -1e-30};
  std::vector<double> z(c);
  for (double& v : z) v = kind == 2 ? level(rng) : kind == 3 ? kTiny[pick(rng)] : g(rng);
  if (kind == 4) z[c - 1] = 20.0;
  return z;
}

// The row converted to element type `elem` (as stored) and back to double (what is computed on).
std::vector<unsigned char> Store(const std::vector<double>& z, softmax::Elem elem,
                                 std::vector<double>* exact) {
  std::vector<unsigned char> bytes;
  exact->clear();
  for (double v : z) {
    if (elem == softmax::Elem::kF16) {
      const Eigen::half h(static_cast<float>(v));
      const std::uint16_t b = Eigen::numext::bit_cast<std::uint16_t>(h);
      bytes.insert(bytes.end(), reinterpret_cast<const unsigned char*>(&b),
                   reinterpret_cast<const unsigned char*>(&b) + 2);
      exact->push_back(static_cast<double>(static_cast<float>(h)));
    } else if (elem == softmax::Elem::kF32) {
      const float f = static_cast<float>(v);
      bytes.insert(bytes.end(), reinterpret_cast<const unsigned char*>(&f),
                   reinterpret_cast<const unsigned char*>(&f) + 4);
      exact->push_back(f);
    } else {
      bytes.insert(bytes.end(), reinterpret_cast<const unsigned char*>(&v),
                   reinterpret_cast<const unsigned char*>(&v) + 8);
      exact->push_back(v);
    }
  }
  return bytes;
}

}  // namespace

TEST_CASE("softmax: the polynomial exp is within 2 ulp of std::exp on [-708, 0]") {
  std::mt19937 rng(1);
  std::uniform_real_distribution<double> u(-708.0, 0.0);
  int worst = 0;
  for (int t = 0; t < 200000; ++t) {
    const double d = t < 100000 ? u(rng) : -t * 1e-5;  // and densely near 0
    const double a = softmax::ExpNonPositive(d), b = std::exp(d);
    const int ulps = static_cast<int>(std::llabs(static_cast<long long>(Bits(a) - Bits(b))));
    worst = std::max(worst, ulps);
  }
  CHECK(worst <= 2);
  CHECK(softmax::ExpNonPositive(0.0) == 1.0);
  CHECK(softmax::ExpNonPositive(-708.5) == 0.0);
  CHECK(softmax::ExpNonPositive(-INFINITY) == 0.0);
  CHECK(softmax::ExpNonPositive(-708.0) > 0.0);
}

TEST_CASE("softmax: this CPU's kernel reproduces the reference bit for bit, every element type") {
  INFO("kernel " << softmax::KernelName());
  std::mt19937 rng(7);
  long rows = 0;
  for (softmax::Elem elem : {softmax::Elem::kF16, softmax::Elem::kF32, softmax::Elem::kF64}) {
    const softmax::RowKernel fast = softmax::PickRowKernel(elem);
    const softmax::RowKernel portable = softmax::PortableRowKernel(elem);
    // On an AVX-512 CPU the AVX2 kernel is checked too (fast is then the AVX-512 one).
    const softmax::RowKernel avx2 = softmax::Avx2RowKernelIfUsable(elem);
    for (int c : {1, 2, 3, 4, 5, 7, 8, 9, 10, 15, 16, 17, 31, 32, 33, 64, 65, 100, 1000, 1001}) {
      for (double inv_t : {1.0, 0.5, 1.0 / 1.7, 3.3, -0.7}) {
        for (int kind = 0; kind < 5; ++kind) {
          for (int rep = 0; rep < 6; ++rep) {
            std::vector<double> exact;
            const auto bytes = Store(RandomRow(rng, c, kind), elem, &exact);
            std::vector<double> y1(softmax::PaddedClasses(c)), y2(y1.size());
            std::vector<double> e1(c), e2(c);
            ExitSoftmax a, b;
            const double log_c = std::log(static_cast<double>(c));
            REQUIRE(fast(bytes.data(), c, inv_t, log_c, y1.data(), e1.data(), &a));
            REQUIRE(portable(bytes.data(), c, inv_t, log_c, y2.data(), e2.data(), &b));
            INFO("c " << c << " inv_t " << inv_t << " kind " << kind);
            REQUIRE(a.arg == b.arg);
            REQUIRE(Bits(a.sum) == Bits(b.sum));
            REQUIRE(Bits(a.max_prob) == Bits(b.max_prob));
            REQUIRE(Bits(a.entropy) == Bits(b.entropy));
            REQUIRE(Bits(a.margin) == Bits(b.margin));
            for (int q = 0; q < c; ++q) REQUIRE(Bits(e1[q]) == Bits(e2[q]));
            if (avx2) {
              ExitSoftmax v;
              REQUIRE(avx2(bytes.data(), c, inv_t, log_c, y1.data(), e1.data(), &v));
              REQUIRE(v.arg == b.arg);
              REQUIRE(Bits(v.sum) == Bits(b.sum));
              REQUIRE(Bits(v.entropy) == Bits(b.entropy));
              REQUIRE(Bits(v.margin) == Bits(b.margin));
              for (int q = 0; q < c; ++q) REQUIRE(Bits(e1[q]) == Bits(e2[q]));
            }
            // The deployment runtime's copy of the arithmetic agrees too.
            std::vector<double> scaled(c);
            for (int q = 0; q < c; ++q) scaled[q] = exact[q] * inv_t;
            const auto r = runtime::detail::SoftmaxOfScaled(scaled.data(), c);
            REQUIRE(r.arg == b.arg);
            REQUIRE(Bits(r.max_prob) == Bits(b.max_prob));
            REQUIRE(Bits(r.entropy) == Bits(b.entropy));
            REQUIRE(Bits(r.margin) == Bits(b.margin));
            // And the former arithmetic, within a few units in the last place.
            const ExitSoftmax old = FormerSoftmax(exact, inv_t);
            REQUIRE(old.arg == b.arg);
            CHECK(b.max_prob == Approx(old.max_prob).epsilon(1e-14));
            CHECK(b.margin == Approx(old.margin).epsilon(1e-14).margin(1e-15));
            CHECK(b.entropy == Approx(old.entropy).epsilon(1e-13).margin(1e-13));
            ++rows;
          }
        }
      }
    }
  }
  CHECK(rows == 3L * 20 * 5 * 5 * 6);
}

TEST_CASE("softmax: a non-finite logit makes every kernel refuse the row") {
  for (softmax::Elem elem : {softmax::Elem::kF16, softmax::Elem::kF32, softmax::Elem::kF64}) {
    for (int c : {3, 8, 13}) {
      for (int at = 0; at < c; at += 2) {
        for (double bad : {NAN, INFINITY, -INFINITY}) {
          std::vector<double> z(c, 0.5), exact;
          z[at] = bad;
          const auto bytes = Store(z, elem, &exact);
          std::vector<double> y(softmax::PaddedClasses(c));
          ExitSoftmax out;
          CHECK_FALSE(
              softmax::PickRowKernel(elem)(bytes.data(), c, 1.0, 1.0, y.data(), nullptr, &out));
          CHECK_FALSE(
              softmax::PortableRowKernel(elem)(bytes.data(), c, 1.0, 1.0, y.data(), nullptr, &out));
        }
      }
    }
  }
}

TEST_CASE("features: one thread and many give identical features; float16 matches float32") {
  TempDir dir;
  // N x K x C = 2400 x 4 x 1000 = 9.6 M logits: enough work for the pass to use threads.
  const int n = 2400, k = 4, c = 1000;
  std::mt19937 rng(3);
  std::normal_distribution<double> g(0.0, 1.0);
  std::vector<double> logits(static_cast<std::size_t>(n) * k * c), labels(n);
  for (int i = 0; i < n; ++i) {
    labels[i] = i % c;
    for (int j = 0; j < k; ++j) {
      for (int q = 0; q < c; ++q) {
        // Halves represent these exactly: float16 and float32 dumps hold the same numbers.
        const double v = std::round(g(rng) * (1 + j) * 64) / 64 + (q == i % c ? 2.0 * j : 0.0);
        logits[(static_cast<std::size_t>(i) * k + j) * c + q] = v;
      }
    }
  }
  WriteNpyAs(dir / "val_logits.npy", "<f4", {std::size_t(n), std::size_t(k), std::size_t(c)},
             logits);
  WriteNpyAs(dir / "val_labels.npy", "<i8", {std::size_t(n)}, labels);
  TempDir half;
  WriteNpyAs(half / "val_logits.npy", "<f2", {std::size_t(n), std::size_t(k), std::size_t(c)},
             logits);
  WriteNpyAs(half / "val_labels.npy", "<i8", {std::size_t(n)}, labels);
  setenv("EXITPLAN_THREADS", "1", 1);
  const Dump one = LoadDump(dir.path());
  setenv("EXITPLAN_THREADS", "3", 1);
  const Dump many = LoadDump(dir.path());
  const Dump h = LoadDump(half.path());
  unsetenv("EXITPLAN_THREADS");
  for (Measure m : {Measure::kMaxProb, Measure::kEntropy, Measure::kMargin, Measure::kPatience,
                    Measure::kVote}) {
    INFO(ToString(m));
    CHECK(one.fit.Scores(m) == many.fit.Scores(m));
    CHECK(one.fit.Scores(m) == h.fit.Scores(m));
  }
  CHECK(one.fit.predicted == many.fit.predicted);
  CHECK(one.fit.correct == many.fit.correct);
  CHECK(one.fit.agrees_final == h.fit.agrees_final);
  // Each value against the former arithmetic, row by row.
  std::vector<double> z(c);
  for (int i = 0; i < n; i += 97) {
    for (int j = 0; j < k; ++j) {
      one.fit.Logits(i, j, z.data());
      const ExitSoftmax old = FormerSoftmax(z, 1.0);
      CHECK(one.fit.predicted(j, i) == old.arg);
      CHECK(one.fit.Scores(Measure::kMaxProb)(j, i) == Approx(old.max_prob).epsilon(1e-14));
      CHECK(one.fit.Scores(Measure::kEntropy)(j, i) == Approx(old.entropy).margin(1e-13));
    }
  }
  // Deeper exits are more confident and more often right (the label's logit grows with depth).
  CHECK(one.fit.correct.row(k - 1).cast<int>().sum() > one.fit.correct.row(0).cast<int>().sum());
}

TEST_CASE("features: the first non-finite logit in sample order is named, whatever the threads") {
  TempDir dir;
  const int n = 1200, k = 4, c = 1000;
  std::vector<double> logits(static_cast<std::size_t>(n) * k * c, 0.25), labels(n, 0.0);
  logits[(static_cast<std::size_t>(1100) * k + 1) * c + 5] = NAN;
  logits[(static_cast<std::size_t>(700) * k + 2) * c + 999] = INFINITY;
  logits[(static_cast<std::size_t>(700) * k + 3) * c + 1] = NAN;
  WriteNpyAs(dir / "val_logits.npy", "<f4", {std::size_t(n), std::size_t(k), std::size_t(c)},
             logits);
  WriteNpyAs(dir / "val_labels.npy", "<i8", {std::size_t(n)}, labels);
  for (const char* threads : {"1", "2", "7"}) {
    setenv("EXITPLAN_THREADS", threads, 1);
    CHECK_THROWS_WITH(
        LoadDump(dir.path()),
        Catch::Contains("val_logits.npy") &&
            Catch::Contains("non-finite logit (inf) at sample 700, exit 3, class 999"));
  }
  unsetenv("EXITPLAN_THREADS");
}

TEST_CASE(
    "feature cache: a second load reads the entry; a corrupt or stale entry is never trusted") {
  TempDir dir, cache;
  testing::WriteRandomLogitsDump(dir.path(), "val", 300, 3, 20, 11);
  DumpOptions opt;
  opt.cache_dir = cache.path();
  opt.cache_min_bytes = 0;
  const Dump first = LoadDump(dir.path(), opt);
  CHECK_FALSE(first.fit.features_from_cache);
  const Dump second = LoadDump(dir.path(), opt);
  CHECK(second.fit.features_from_cache);
  for (Measure m : {Measure::kMaxProb, Measure::kEntropy, Measure::kMargin, Measure::kPatience,
                    Measure::kVote}) {
    CHECK(second.fit.Scores(m) == first.fit.Scores(m));
  }
  CHECK(second.fit.predicted == first.fit.predicted);
  CHECK(second.fit.correct == first.fit.correct);
  CHECK(second.fit.agrees_final == first.fit.agrees_final);
  // Other temperatures: another entry, features as computed directly.
  Dump t = LoadDump(dir.path(), opt);
  t.fit.ComputeFeatures({1.5, 1.0, 0.5});
  CHECK_FALSE(t.fit.features_from_cache);
  Dump direct = LoadDump(dir.path());
  direct.fit.ComputeFeatures({1.5, 1.0, 0.5});
  CHECK(t.fit.Scores(Measure::kEntropy) == direct.fit.Scores(Measure::kEntropy));
  t.fit.ComputeFeatures({1.5, 1.0, 0.5});
  CHECK(t.fit.features_from_cache);
  // Flip one byte in every entry: each is ignored, recomputed and rewritten.
  int entries = 0;
  for (const auto& f : std::filesystem::directory_iterator(cache / "features")) {
    std::fstream io(f.path(), std::ios::in | std::ios::out | std::ios::binary);
    io.seekp(200);
    io.put('\x7f');
    ++entries;
  }
  CHECK(entries == 2);
  const Dump corrupt = LoadDump(dir.path(), opt);
  CHECK_FALSE(corrupt.fit.features_from_cache);
  CHECK(corrupt.fit.Scores(Measure::kMaxProb) == first.fit.Scores(Measure::kMaxProb));
  CHECK(LoadDump(dir.path(), opt).fit.features_from_cache);
  // A truncated entry likewise.
  for (const auto& f : std::filesystem::directory_iterator(cache / "features")) {
    std::filesystem::resize_file(f.path(), 100);
  }
  CHECK_FALSE(LoadDump(dir.path(), opt).fit.features_from_cache);
  // New labels (same size): the content hash changes, so does the key.
  std::vector<double> labels(300, 1.0);
  WriteNpyAs(dir / "val_labels.npy", "<i8", {300}, labels);
  const Dump relabelled = LoadDump(dir.path(), opt);
  CHECK_FALSE(relabelled.fit.features_from_cache);
  for (int i = 0; i < 300; ++i) {
    CHECK(relabelled.fit.correct(0, i) == (relabelled.fit.predicted(0, i) == 1));
  }
  // Files below the size threshold are not cached at all.
  DumpOptions big = opt;
  big.cache_min_bytes = std::size_t{1} << 30;
  TempDir other;
  testing::WriteRandomLogitsDump(other.path(), "val", 50, 3, 20, 12);
  CHECK_FALSE(LoadDump(other.path(), big).fit.features_from_cache);
  CHECK_FALSE(LoadDump(other.path(), big).fit.features_from_cache);
}

TEST_CASE("feature cache: default folder from EXITPLAN_CACHE_DIR, XDG_CACHE_HOME, HOME") {
  setenv("EXITPLAN_CACHE_DIR", "/x/y", 1);
  CHECK(DefaultFeatureCacheDir() == "/x/y");
  setenv("EXITPLAN_CACHE_DIR", "", 1);
  CHECK(DefaultFeatureCacheDir().empty());
  unsetenv("EXITPLAN_CACHE_DIR");
  const char* home = std::getenv("HOME");
  const std::string saved_home = home ? home : "";
  setenv("XDG_CACHE_HOME", "/c", 1);
  CHECK(DefaultFeatureCacheDir() == "/c/exitplan");
  unsetenv("XDG_CACHE_HOME");
  setenv("HOME", "/h", 1);
  CHECK(DefaultFeatureCacheDir() == "/h/.cache/exitplan");
  if (home) setenv("HOME", saved_home.c_str(), 1);
}

TEST_CASE("quantiles by selection equal numpy's linear interpolation on the sorted values") {
  std::mt19937 rng(9);
  std::uniform_int_distribution<int> level(0, 6);
  for (int n : {1, 2, 3, 10, 101, 1000, 4096, 5000, 70001}) {
    for (int rep = 0; rep < 5; ++rep) {
      std::vector<double> v(n);
      for (double& x : v) x = rep % 2 ? level(rng) / 6.0 : std::ldexp(rng(), -32);  // ties / not
      if (rep == 4) {
        for (double& x : v) x = std::ldexp(static_cast<double>(rng()), -20) - 2048.0;  // signs
      }
      std::vector<double> sorted = v;
      std::sort(sorted.begin(), sorted.end());
      const std::vector<double> qs = {0.9, 0.1, 0.5, 0.0, 1.0, 0.37};
      const std::vector<double> got = Quantiles(v, qs);
      for (std::size_t t = 0; t < qs.size(); ++t) {
        const double pos = qs[t] * (n - 1);
        const std::size_t lo = static_cast<std::size_t>(std::floor(pos));
        const std::size_t hi = std::min<std::size_t>(lo + 1, n - 1);
        const double want = sorted[lo] + (pos - lo) * (sorted[hi] - sorted[lo]);
        CHECK(got[t] == want);
        CHECK(Quantile(v, qs[t]) == want);
      }
    }
  }
  CHECK(std::isnan(Quantile({}, 0.5)));
  ScoreMatrix m(3, 5);
  m << 1, 2, 3, 4, 5, 5, 4, 3, 2, 1, 0, 0, 0, 0, 1;
  const auto rows = RowQuantiles(m, {0.5, 0.25, 1.0});
  CHECK(rows[0] == std::vector<double>{3, 2, 5});
  CHECK(rows[1] == std::vector<double>{3, 2, 5});
  CHECK(rows[2] == std::vector<double>{0, 0, 1});
  // Rows long enough for the radix selection, several at once (each worker's buffer reused).
  const int k = 9, n = 6000;
  ScoreMatrix big(k, n);
  for (int j = 0; j < k; ++j) {
    for (int i = 0; i < n; ++i) {
      big(j, i) = j % 3 == 0 ? level(rng) / 6.0 : std::ldexp(rng(), -32) * (j + 1) - j;
    }
  }
  const std::vector<double> qs = {0.1, 0.5, 0.9};
  const auto got = RowQuantiles(big, qs);
  REQUIRE(got.size() == static_cast<std::size_t>(k));
  for (int j = 0; j < k; ++j) {
    std::vector<double> sorted(big.row(j).begin(), big.row(j).end());
    std::sort(sorted.begin(), sorted.end());
    for (std::size_t t = 0; t < qs.size(); ++t) {
      const double pos = qs[t] * (n - 1);
      const std::size_t lo = static_cast<std::size_t>(std::floor(pos));
      const double want = sorted[lo] + (pos - lo) * (sorted[lo + 1] - sorted[lo]);
      CHECK(got[j][t] == want);
    }
  }
}
