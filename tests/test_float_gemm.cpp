// Tests of the single-precision products of EENet training (optim/internal/float_gemm.hpp): every
// transposition, strided operands (blocks of larger matrices), against a double reference; the
// run-time-picked kernel against the portable one.
#include <Eigen/Core>
#include <catch2/catch.hpp>
#include <cstring>
#include <random>

#include "optim/internal/float_gemm.hpp"

using exitplan::internal::FloatGemm;
using exitplan::internal::FloatGemmKernel;
using exitplan::internal::FloatGemmPortable;

TEST_CASE("float products equal a double reference for every transposition", "[gemm]") {
  std::mt19937 rng(3);
  std::uniform_real_distribution<float> u(-1.0f, 1.0f);
  const int m = 37, n = 53, k = 29;
  // Operands stored inside larger matrices (leading dimension > rows), offset by one row.
  Eigen::MatrixXf big_a(70, 70), big_b(70, 70);
  for (int i = 0; i < big_a.size(); ++i) big_a.data()[i] = u(rng);
  for (int i = 0; i < big_b.size(); ++i) big_b.data()[i] = u(rng);
  for (const bool ta : {false, true}) {
    for (const bool tb : {false, true}) {
      const Eigen::MatrixXf a = big_a.block(1, 0, ta ? k : m, ta ? m : k);
      const Eigen::MatrixXf b = big_b.block(1, 0, tb ? n : k, tb ? k : n);
      const Eigen::MatrixXd ad = a.cast<double>(), bd = b.cast<double>();
      const Eigen::MatrixXd ref =
          (ta ? Eigen::MatrixXd(ad.transpose()) : ad) * (tb ? Eigen::MatrixXd(bd.transpose()) : bd);
      Eigen::MatrixXf c = Eigen::MatrixXf::Constant(m + 2, n, 99.0f);  // ldc = m + 2
      FloatGemm(ta, tb, m, n, k, big_a.data() + 1, 70, big_b.data() + 1, 70, c.data(), m + 2);
      Eigen::MatrixXf p(m, n);
      FloatGemmPortable(ta, tb, m, n, k, big_a.data() + 1, 70, big_b.data() + 1, 70, p.data(), m);
      INFO("kernel " << FloatGemmKernel() << ", trans_a " << ta << ", trans_b " << tb);
      REQUIRE((c.topRows(m).cast<double>() - ref).cwiseAbs().maxCoeff() < 1e-5);
      REQUIRE((p.cast<double>() - ref).cwiseAbs().maxCoeff() < 1e-5);
      REQUIRE((c.bottomRows(2).array() == 99.0f).all());  // rows past m untouched
    }
  }
  REQUIRE((std::strcmp(FloatGemmKernel(), "avx2+fma") == 0 ||
           std::strcmp(FloatGemmKernel(), "portable") == 0));
}
