// Tests of the EENet network (optim/eenet_model.hpp): layout sizes, inputs (eq. 5-7), targets
// (eq. 3-4), a hand-computed forward pass, and the hand-derived gradient against central
// differences.
#include <catch2/catch.hpp>
#include <cmath>
#include <random>

#include "optim/eenet_model.hpp"
#include "profiles/dump.hpp"
#include "test_util.hpp"

using namespace exitplan;
using exitplan::testing::Close;

namespace {

EENetInputs RandomInputs(int k, int c, int n, unsigned seed) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<double> u(0.0, 1.0);
  EENetInputs in;
  for (int j = 0; j < k; ++j) {
    Eigen::MatrixXd m(c + 3, n);
    for (int i = 0; i < n; ++i) {
      double s = 0;
      for (int q = 0; q < c; ++q) s += (m(q, i) = u(rng) + 0.01);
      for (int q = 0; q < c; ++q) m(q, i) /= s;
      m(c, i) = m.col(i).head(c).maxCoeff();
      m(c + 1, i) = u(rng);
      m(c + 2, i) = u(rng);
    }
    in.base.push_back(m.cast<float>());
  }
  return in;
}

// Random parameters in [-spread, spread], correctness with probability p_correct and the
// assignment targets, from one seed (parameters drawn first, then correctness exit by exit).
struct RandomTargets {
  Eigen::VectorXd theta;
  CorrectMatrix correct;
  Eigen::MatrixXd rt;
  RandomTargets(const EENetLayout& l, int k, int n, unsigned seed, double spread, double p_correct)
      : theta(l.size), correct(k, n) {
    std::mt19937 rng(seed);
    std::uniform_real_distribution<double> u(-spread, spread);
    std::bernoulli_distribution coin(p_correct);
    for (int i = 0; i < l.size; ++i) theta(i) = u(rng);
    for (int j = 0; j < k; ++j)
      for (int i = 0; i < n; ++i) correct(j, i) = coin(rng);
    rt = EENetAssignmentTargets(correct);
  }
};

}  // namespace

TEST_CASE("layout: D_k = C + k + 2 (1-based k) and hidden = round(ratio * D)", "[eenet]") {
  const EENetLayout l = EENetLayout::Make(3, 10, 0.5);
  REQUIRE(l.inputs == std::vector<int>{13, 14, 15});
  REQUIRE(l.hidden == std::vector<int>{7, 7, 8});  // lround(6.5) = 7, 7, lround(7.5) = 8
  REQUIRE(l.BlockSize(0) == 7 * 13 + 3 * 7 + 2);
  REQUIRE(l.offset[1] == l.BlockSize(0));
  REQUIRE(l.size == l.BlockSize(0) + l.BlockSize(1) + l.BlockSize(2));
}

TEST_CASE("targets q (eq. 3) and r (eq. 4)", "[eenet]") {
  CorrectMatrix c(3, 3);
  c << 1, 0, 0, 1, 0, 1, 0, 0, 1;
  const Eigen::MatrixXd r = EENetAssignmentTargets(c);
  REQUIRE(r(0, 0) == 0.5);
  REQUIRE(r(1, 0) == 0.5);
  REQUIRE(r(2, 0) == 0.0);
  for (int j = 0; j < 3; ++j) REQUIRE(Close(r(j, 1), 1.0 / 3));  // none right: 1/K
  REQUIRE(r(0, 2) == 0.0);
  REQUIRE(r(1, 2) == 0.5);
}

TEST_CASE("forward pass equals a hand computation on one exit", "[eenet]") {
  // K = 1, C = 1: inputs D = 4, one hidden unit.
  const EENetLayout l = EENetLayout::FromHidden(1, 1, {1});
  REQUIRE(l.size == 4 + 3 + 2);
  Eigen::VectorXd theta(l.size);
  // W_sh = [1, -2, 0.5, 1], b_sh = 0.1, w_g = 2, b_g = -1, w_h = 3, b_h = 0
  theta << 1, -2, 0.5, 1, 0.1, 2, -1, 3, 0;
  EENetInputs in;
  in.base.push_back(Eigen::MatrixXf(4, 2));
  in.base[0] << 1, 1, 1, 0, 1, 0, 1, 0;
  ScoreMatrix q, r;
  EENetForward(l, theta, in, &q, &r);
  // sample 0: z = 1 - 2 + 0.5 + 1 + 0.1 = 0.6 -> s = 0.6, u = 1.2 - 1 = 0.2
  REQUIRE(Close(q(0, 0), 1 / (1 + std::exp(-0.2))));
  // sample 1: z = 1 + 0.1 = 1.1, u = 2.2 - 1 = 1.2
  REQUIRE(Close(q(0, 1), 1 / (1 + std::exp(-1.2))));
  REQUIRE(r(0, 0) == 1.0);  // softmax over one exit
  // Negative pre-activation uses the leaky slope 0.01.
  theta(4) = -2.0;  // z = 0.6 - 2.1 = -1.5 for sample 0 -> s = -0.015, u = -0.03 - 1
  EENetForward(l, theta, in, &q, nullptr);
  REQUIRE(Close(q(0, 0), 1 / (1 + std::exp(1.03))));
}

TEST_CASE("inputs from logits: probabilities, max prob (eq. 5), entropy (eq. 6), vote (eq. 7)",
          "[eenet]") {
  exitplan::testing::TempDir dir;
  // N = 1, K = 2, C = 2: exit 1 logits (0, log 3) -> p = (0.25, 0.75); exit 2 (1, 0).
  exitplan::testing::WriteNpyAs(dir / "val_logits.npy", "<f8", {1, 2, 2},
                                {0.0, std::log(3.0), 1.0, 0.0});
  exitplan::testing::WriteNpyAs(dir / "val_labels.npy", "<i8", {1}, {1});
  const Dump dump = LoadDump(dir.path());
  const EENetInputs in = BuildEENetInputs(dump.fit, {});
  REQUIRE(Close(in.base[0](0, 0), 0.25));
  REQUIRE(Close(in.base[0](1, 0), 0.75));
  REQUIRE(Close(in.base[0](2, 0), 0.75));
  const double h = -(0.25 * std::log(0.25) + 0.75 * std::log(0.75));
  REQUIRE(Close(in.base[0](3, 0), 1 - h / std::log(2.0), 1e-7));  // stored as float
  REQUIRE(in.base[0](4, 0) == 1.0);
  REQUIRE(in.base[1](4, 0) == 0.5);  // exits disagree: max votes 1 of 2
  // Temperature 2 on exit 1: p = softmax(0, log 3 / 2) = (1/(1+sqrt 3), sqrt 3/(1+sqrt 3)).
  const EENetInputs t = BuildEENetInputs(dump.fit, {2.0, 1.0});
  REQUIRE(Close(t.base[0](1, 0), std::sqrt(3.0) / (1 + std::sqrt(3.0)), 1e-7));
  REQUIRE_THROWS_WITH(BuildEENetInputs(dump.fit, {1.0}), Catch::Contains("expected 2 values"));
}

TEST_CASE("hand-derived gradient equals central differences", "[eenet][gradient]") {
  const int k = 4, c = 5, n = 37;
  const EENetLayout l = EENetLayout::Make(k, c, 0.5);
  const EENetInputs in = RandomInputs(k, c, n, 3);
  const RandomTargets r(l, k, n, 11, 0.8, 0.6);
  const Eigen::VectorXd& theta = r.theta;
  const CorrectMatrix& correct = r.correct;
  const Eigen::MatrixXd& rt = r.rt;
  const std::vector<double> cost = {1.0, 2.0, 3.5, 5.0};
  for (double budget : {2.0, 4.5}) {  // both signs of the budget gap
    EENetLossWeights w;
    w.alpha = 0.7;
    w.beta = 0.3;
    w.weight_decay = 0.02;
    ScoreMatrix r;
    EENetForward(l, theta, in, nullptr, &r);
    const Eigen::MatrixXd surv = EENetSurvival(r);  // eq. 13 weights held constant
    Eigen::VectorXd grad;
    const EENetLoss loss =
        EENetLossAndGradient(l, theta, in, correct, rt, cost, budget, w, &grad, &surv);
    REQUIRE(std::isfinite(loss.total));
    REQUIRE(loss.budget > 0);
    REQUIRE(Close(loss.total, loss.g + w.alpha * loss.budget + w.beta * loss.ce + loss.l2));
    double worst = 0.0;
    for (int i = 0; i < l.size; ++i) {
      const double hstep = 1e-6;
      Eigen::VectorXd tp = theta, tm = theta;
      tp(i) += hstep;
      tm(i) -= hstep;
      const double fp =
          EENetLossAndGradient(l, tp, in, correct, rt, cost, budget, w, nullptr, &surv).total;
      const double fm =
          EENetLossAndGradient(l, tm, in, correct, rt, cost, budget, w, nullptr, &surv).total;
      const double fd = (fp - fm) / (2 * hstep);
      const double err = std::abs(fd - grad(i)) / std::max(1e-4, std::abs(fd) + std::abs(grad(i)));
      worst = std::max(worst, err);
      INFO("parameter " << i << " fd " << fd << " analytic " << grad(i));
      REQUIRE(Close(fd, grad(i), 1e-5, 1e-8));
    }
    INFO("worst relative error " << worst);
    REQUIRE(worst < 1e-5);
  }
}

TEST_CASE("gradient reaches earlier exits through the earlier scores b_k", "[eenet][gradient]") {
  // With L_g only on the last exit (others always right, weight flows) the first exit's weights
  // still get gradient through b: check the exit-1 block is not all zero when exit 1 has no own
  // loss.
  const int k = 2, c = 2, n = 5;
  const EENetLayout l = EENetLayout::Make(k, c, 1.0);
  const EENetInputs in = RandomInputs(k, c, n, 5);
  Eigen::VectorXd theta = Eigen::VectorXd::Constant(l.size, 0.3);
  CorrectMatrix correct(k, n);
  correct.setZero();
  const Eigen::MatrixXd rt = EENetAssignmentTargets(correct);
  EENetLossWeights w;
  w.alpha = 0;
  w.beta = 0;
  w.weight_decay = 0;
  Eigen::MatrixXd surv = Eigen::MatrixXd::Ones(k, n);
  surv.row(0).setZero();  // exit 1 has no weight in L_g
  Eigen::VectorXd grad;
  EENetLossAndGradient(l, theta, in, correct, rt, {1.0, 2.0}, 1.5, w, &grad, &surv);
  REQUIRE(grad.segment(l.offset[0], l.BlockSize(0)).cwiseAbs().maxCoeff() > 1e-6);
}

TEST_CASE("forward pass in chunks equals the whole-batch pass", "[eenet]") {
  const EENetLayout l = EENetLayout::Make(3, 4, 1.0);
  const EENetInputs in = RandomInputs(3, 4, 9000, 8);  // > one 4096-sample chunk
  Eigen::VectorXd theta(l.size);
  std::mt19937 rng(1);
  std::uniform_real_distribution<double> u(-1, 1);
  for (int i = 0; i < l.size; ++i) theta(i) = u(rng);
  ScoreMatrix q, r;
  EENetForward(l, theta, in, &q, &r);
  REQUIRE(q.cols() == 9000);
  // Sample 8000 alone gives the same scores as inside its chunk.
  const EENetInputs one = in.Gather({8000});
  ScoreMatrix q1, r1;
  EENetForward(l, theta, one, &q1, &r1);
  for (int j = 0; j < 3; ++j) {
    REQUIRE(Close(q1(j, 0), q(j, 8000), 1e-14, 1e-15));
    REQUIRE(Close(r1(j, 0), r(j, 8000), 1e-14, 1e-15));
  }
}

TEST_CASE("single-precision training loss and gradient agree with double; columns select samples",
          "[eenet][gradient]") {
  const int k = 3, c = 20, n = 300;
  const EENetLayout l = EENetLayout::Make(k, c, 2.0);
  const EENetInputs in = RandomInputs(k, c, n, 13);
  const RandomTargets r(l, k, n, 17, 0.5, 0.5);
  const Eigen::VectorXd& theta = r.theta;
  const CorrectMatrix& correct = r.correct;
  const Eigen::MatrixXd& rt = r.rt;
  const std::vector<double> cost = {1.0, 2.0, 3.0};
  EENetLossWeights w;
  w.alpha = 0.5;
  w.beta = 0.2;
  // A mini-batch as a columns list (unsorted, like a shuffled batch) equals the gathered copy.
  std::vector<int> cols;
  for (int i = n - 1; i >= 0; i -= 3) cols.push_back(i);
  const EENetInputs gathered = in.Gather(cols);
  const CorrectMatrix gc = correct(Eigen::all, cols);
  const Eigen::MatrixXd grt = rt(Eigen::all, cols);
  Eigen::VectorXd gd, gf, gg;
  const EENetLoss ld = EENetLossAndGradient(l, theta, in, correct, rt, cost, 1.7, w, &gd, nullptr,
                                            EENetPrecision::kDouble, cols);
  const EENetLoss lg = EENetLossAndGradient(l, theta, gathered, gc, grt, cost, 1.7, w, &gg);
  REQUIRE(ld.total == lg.total);
  REQUIRE(gd == gg);
  const EENetLoss lf = EENetLossAndGradient(l, theta, in, correct, rt, cost, 1.7, w, &gf, nullptr,
                                            EENetPrecision::kFloat, cols);
  // float32 products: relative differences ~1e-6, far below the gradient itself.
  REQUIRE(Close(lf.total, ld.total, 1e-5));
  REQUIRE(Close(lf.g, ld.g, 1e-5));
  REQUIRE(Close(lf.ce, ld.ce, 1e-5));
  REQUIRE((gf - gd).norm() <= 1e-5 * gd.norm());
  REQUIRE((gf - gd).cwiseAbs().maxCoeff() <= 1e-5 * gd.cwiseAbs().maxCoeff());
  // ... yet not identical: the float path really runs in float.
  REQUIRE(gf != gd);
}
