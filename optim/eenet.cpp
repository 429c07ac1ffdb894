#include "optim/eenet.hpp"

#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <limits>
#include <numeric>
#include <random>
#include <set>
#include <sstream>

#include "profiles/dump.hpp"
#include "profiles/error.hpp"
#include "profiles/io.hpp"
#include "profiles/npy.hpp"
#include "profiles/profile.hpp"
#include "profiles/sha256.hpp"

namespace fs = std::filesystem;

namespace exitplan {
namespace {

constexpr double kInf = std::numeric_limits<double>::infinity();

std::string Rule(const std::string& field, double value, const std::string& rule) {
  return field + " = " + FormatDouble(value) + ": " + rule + "\n";
}

// PyTorch's default Linear initialisation: U(-1/sqrt(fan_in), 1/sqrt(fan_in)) for weights and
// biases, drawn from one seeded engine in a fixed order.
Eigen::VectorXd InitialTheta(const EENetLayout& l, std::mt19937_64& rng) {
  Eigen::VectorXd theta(l.size);
  std::uniform_real_distribution<double> unit(-1.0, 1.0);
  for (int j = 0; j < l.k; ++j) {
    const int h = l.hidden[j], d = l.inputs[j];
    double* p = theta.data() + l.offset[j];
    const double a = 1.0 / std::sqrt(static_cast<double>(d));
    const double b = 1.0 / std::sqrt(static_cast<double>(h));
    for (int i = 0; i < h * d + h; ++i) p[i] = a * unit(rng);               // W_sh, b_sh
    for (int i = h * d + h; i < l.BlockSize(j); ++i) p[i] = b * unit(rng);  // heads
  }
  return theta;
}

// Algorithm 1 with the per-exit orders precomputed (they do not depend on p).
struct QuotaScanner {
  const ScoreMatrix& scores;
  std::vector<std::vector<int>> order;  // per exit, samples by descending score (ties: index)
  explicit QuotaScanner(const ScoreMatrix& s) : scores(s) {
    const int k = static_cast<int>(s.rows()), n = static_cast<int>(s.cols());
    order.resize(std::max(0, k - 1));
    for (int j = 0; j + 1 < k; ++j) {
      std::vector<int>& o = order[j];
      o.resize(n);
      std::iota(o.begin(), o.end(), 0);
      std::stable_sort(o.begin(), o.end(), [&](int a, int b) { return s(j, a) > s(j, b); });
    }
  }
  std::vector<double> Thresholds(const std::vector<double>& p) const {
    const int k = static_cast<int>(scores.rows()), n = static_cast<int>(scores.cols());
    std::vector<char> taken(n, 0);
    std::vector<double> t(std::max(0, k - 1), kInf);
    for (int j = 0; j + 1 < k; ++j) {
      const long quota = std::lround(n * p[j]);
      if (quota <= 0) continue;  // nobody exits here (the paper's t = 1e8)
      long count = 0;
      for (int i : order[j]) {
        if (taken[i]) continue;
        taken[i] = 1;
        t[j] = scores(j, i);
        if (++count == quota) break;
      }
    }
    return t;
  }
};

std::string YamlDouble(double v) {
  if (std::isnan(v)) return ".nan";
  if (std::isinf(v)) return v > 0 ? ".inf" : "-.inf";
  return FormatDouble(v);
}
std::string YamlList(const double* v, int n) {
  std::string s = "[";
  for (int i = 0; i < n; ++i) s += (i ? ", " : "") + YamlDouble(v[i]);
  return s + "]";
}
std::string YamlList(const std::vector<double>& v) {
  return YamlList(v.data(), static_cast<int>(v.size()));
}
std::string YamlQuote(const std::string& s) {
  std::string out = "\"";
  for (char ch : s) {
    if (ch == '"' || ch == '\\') out += '\\';
    if (ch == '\n') {
      out += "\\n";
      continue;
    }
    out += ch;
  }
  return out + "\"";
}

}  // namespace

std::string ToString(BudgetFit fit) {
  switch (fit) {
    case BudgetFit::kNone:
      return "none";
    case BudgetFit::kRepair:
      return "repair";
    case BudgetFit::kMatch:
      return "match";
    case BudgetFit::kBest:
      return "best";
  }
  return "?";
}

BudgetFit BudgetFitFromString(const std::string& text, const std::string& what) {
  if (text == "none") return BudgetFit::kNone;
  if (text == "repair") return BudgetFit::kRepair;
  if (text == "match") return BudgetFit::kMatch;
  if (text == "best") return BudgetFit::kBest;
  throw InputError(what, "unknown value '" + text + "' (expected none, repair, match or best)");
}

std::string EENetOptions::Validate() const {
  std::string e;
  if (!(hidden_ratio > 0) || !std::isfinite(hidden_ratio))
    e += Rule("hidden_ratio", hidden_ratio, "must be > 0");
  if (!(learning_rate > 0) || !std::isfinite(learning_rate))
    e += Rule("learning_rate", learning_rate, "must be > 0");
  if (!(alpha >= 0) || !std::isfinite(alpha)) e += Rule("alpha", alpha, "must be >= 0");
  if (!(beta >= 0) || !std::isfinite(beta)) e += Rule("beta", beta, "must be >= 0");
  if (!(weight_decay >= 0) || !std::isfinite(weight_decay))
    e += Rule("weight_decay", weight_decay, "must be >= 0");
  if (batch_size < 1) e += Rule("batch_size", batch_size, "must be >= 1");
  if (max_epochs < 1) e += Rule("max_epochs", max_epochs, "must be >= 1");
  if (patience < 1) e += Rule("patience", patience, "must be >= 1");
  if (!(holdout_fraction >= 0 && holdout_fraction <= 0.9))
    e += Rule("holdout_fraction", holdout_fraction, "must be in [0, 0.9]");
  if (!(adam_beta1 >= 0 && adam_beta1 < 1))
    e += Rule("adam_beta1", adam_beta1, "must be in [0, 1)");
  if (!(adam_beta2 >= 0 && adam_beta2 < 1))
    e += Rule("adam_beta2", adam_beta2, "must be in [0, 1)");
  if (!(adam_epsilon > 0)) e += Rule("adam_epsilon", adam_epsilon, "must be > 0");
  for (double t : temperatures) {
    if (!(t > 0) || !std::isfinite(t)) {
      e += Rule("temperatures", t, "every temperature must be finite and > 0");
      break;
    }
  }
  if (!e.empty()) e.pop_back();
  return e;
}

std::string EENetScorer::CheckSplit(const SplitData& split) const {
  if (!split.has_logits()) {
    return split.source +
           ": the EENet scorer needs per-exit logits, but this is a scores-mode dump";
  }
  if (split.k != k() || split.c != c()) {
    return split.source + ": the scorer was trained for K = " + std::to_string(k()) +
           " exits and C = " + std::to_string(c()) +
           " classes, but this dump has K = " + std::to_string(split.k) +
           ", C = " + std::to_string(split.c);
  }
  return "";
}

ScoreMatrix EENetScorer::Score(const SplitData& split, ScoreMatrix* r) const {
  if (const std::string err = CheckSplit(split); !err.empty()) throw InputError(err);
  const EENetInputs in = BuildEENetInputs(split, temperatures);
  ScoreMatrix q;
  EENetForward(layout, theta, in, &q, r);
  return q;
}

std::vector<double> QuotaThresholds(const ScoreMatrix& scores, const std::vector<double>& p) {
  return QuotaScanner(scores).Thresholds(p);
}

std::vector<double> TiltDistribution(const std::vector<double>& p, const std::vector<double>& cost,
                                     double lambda) {
  const double cmax = std::max(1e-300, *std::max_element(cost.begin(), cost.end()));
  std::vector<double> logw(p.size());
  double m = -kInf;
  for (std::size_t j = 0; j < p.size(); ++j) {
    logw[j] = p[j] > 0 ? std::log(p[j]) - lambda * cost[j] / cmax : -kInf;
    m = std::max(m, logw[j]);
  }
  std::vector<double> out(p.size(), 0.0);
  double s = 0.0;
  for (std::size_t j = 0; j < p.size(); ++j) s += (out[j] = std::exp(logw[j] - m));
  for (double& v : out) v /= s;
  return out;
}

double FitQuotasToBudget(const ScoreMatrix& scores, const CorrectMatrix& correct,
                         const std::vector<double>& stop_cost, double budget,
                         const std::vector<double>& p, BudgetFit mode, Policy* policy) {
  const int k = static_cast<int>(scores.rows());
  const QuotaScanner scanner(scores);
  policy->kept = AllExits(k);
  auto cost_at = [&](double lambda) {
    policy->thresholds = scanner.Thresholds(TiltDistribution(p, stop_cost, lambda));
    return Evaluate(scores, ScoreOrder::kDescending, correct, stop_cost, *policy).mean_cost;
  };
  const double slack = 1e-12 * std::max(1.0, std::abs(budget));
  auto within = [&](double c) { return c <= budget + slack; };
  constexpr double kRange = 60.0;  // exp(-60) ~ 1e-26: every exit's share at an extreme
  double lambda = 0.0;
  const double c0 = cost_at(0.0);
  if (mode == BudgetFit::kNone) return 0.0;
  if (within(c0)) {
    if (mode == BudgetFit::kRepair) return 0.0;
    // Largest cost within budget: move towards deeper exits (lambda < 0).
    double lo = -kRange, hi = 0.0;  // within(cost(hi)) holds
    if (within(cost_at(lo))) {
      lambda = lo;
    } else {
      for (int it = 0; it < 50; ++it) {
        const double mid = 0.5 * (lo + hi);
        (within(cost_at(mid)) ? hi : lo) = mid;
      }
      lambda = hi;
    }
  } else {
    double lo = 0.0, hi = kRange;  // cost(lo) over budget
    if (!within(cost_at(hi))) {
      lambda = hi;  // the cheapest the distribution can get; caller reports infeasibility
    } else {
      for (int it = 0; it < 50; ++it) {
        const double mid = 0.5 * (lo + hi);
        (within(cost_at(mid)) ? hi : lo) = mid;
      }
      lambda = hi;
    }
  }
  if (mode == BudgetFit::kBest) {
    // kMatch's lambda plus a grid dense near 0; keep the most accurate within budget.
    double best_acc = -1.0, best_cost = kInf, best_lambda = lambda;
    std::vector<double> grid = {lambda, 0.0};
    for (int i = -40; i <= 40; ++i) grid.push_back(kRange * std::pow(i / 40.0, 3));
    for (double l : grid) {
      policy->thresholds = scanner.Thresholds(TiltDistribution(p, stop_cost, l));
      const Evaluation ev = Evaluate(scores, ScoreOrder::kDescending, correct, stop_cost, *policy);
      if (!within(ev.mean_cost)) continue;
      if (ev.accuracy > best_acc || (ev.accuracy == best_acc && ev.mean_cost < best_cost)) {
        best_acc = ev.accuracy;
        best_cost = ev.mean_cost;
        best_lambda = l;
      }
    }
    lambda = best_lambda;
  }
  cost_at(lambda);  // leave the chosen thresholds in policy
  return lambda;
}

EENetSummary FitEENet(const SplitData& split, const CorrectMatrix& correct,
                      const std::vector<double>& stop_cost, double budget,
                      const EENetOptions& options, Progress* progress) {
  const auto start = std::chrono::steady_clock::now();
  if (const std::string err = options.Validate(); !err.empty())
    throw InputError("EENet options", err);
  if (!split.has_logits()) {
    throw InputError(split.source, "EENet needs per-exit logits, but this is a scores-mode dump");
  }
  const int k = split.k, n = split.n;
  if (correct.rows() != k || correct.cols() != n || static_cast<int>(stop_cost.size()) != k) {
    throw InputError("FitEENet", "correctness or stop costs do not match the split's K x N");
  }
  if (!(budget > 0) || !std::isfinite(budget)) {
    throw InputError("--budget", "must be finite and > 0, got " + FormatDouble(budget));
  }
  EENetSummary sum;
  if (budget < stop_cost[0]) {  // no policy can meet it: say so before any training
    sum.outcome = Outcome::kInfeasible;
    sum.message = "budget " + FormatDouble(budget) + " is below the cheapest exit's cost " +
                  FormatDouble(stop_cost[0]);
    sum.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    return sum;
  }
  const EENetInputs all = BuildEENetInputs(split, options.temperatures);
  const Eigen::MatrixXd r_all = EENetAssignmentTargets(correct);
  const EENetLayout layout = EENetLayout::Make(k, split.c, options.hidden_ratio);
  std::mt19937_64 rng(options.seed);
  Eigen::VectorXd theta = InitialTheta(layout, rng);

  // Hold out part of the fit split for early stopping.
  std::vector<int> perm(n);
  std::iota(perm.begin(), perm.end(), 0);
  std::shuffle(perm.begin(), perm.end(), rng);
  int n_hold = static_cast<int>(std::lround(options.holdout_fraction * n));
  if (n - n_hold < 1) n_hold = n - 1;
  std::vector<int> hold_idx(perm.begin(), perm.begin() + n_hold);
  std::vector<int> train_idx(perm.begin() + n_hold, perm.end());
  std::sort(hold_idx.begin(), hold_idx.end());
  std::sort(train_idx.begin(), train_idx.end());
  const bool use_hold = n_hold > 0;

  // Mini-batches and the held-out part are read in place from `all` (columns lists), with the
  // per-exit products in single precision (EENetPrecision).
  EENetLossWeights weights{options.alpha, options.beta, options.weight_decay};
  Eigen::VectorXd m = Eigen::VectorXd::Zero(layout.size), v = Eigen::VectorXd::Zero(layout.size);
  Eigen::VectorXd grad, best_theta = theta;
  double best = kInf;
  int wait = 0;
  long step = 0;
  const int nt = static_cast<int>(train_idx.size());
  std::vector<int> order(nt);
  std::iota(order.begin(), order.end(), 0);
  std::vector<int> batch;
  batch.reserve(std::min(nt, options.batch_size));
  const double b1 = options.adam_beta1, b2 = options.adam_beta2;
  bool stopped_early = false;
  ProgressPhase(progress, "training", "epochs", options.max_epochs, true);
  for (int epoch = 1; epoch <= options.max_epochs; ++epoch) {
    std::shuffle(order.begin(), order.end(), rng);
    double epoch_loss = 0.0;
    int batches = 0;
    for (int s = 0; s < nt; s += options.batch_size) {
      const int e = std::min(nt, s + options.batch_size);
      batch.clear();
      for (int i = s; i < e; ++i) batch.push_back(train_idx[order[i]]);
      const EENetLoss loss =
          EENetLossAndGradient(layout, theta, all, correct, r_all, stop_cost, budget, weights,
                               &grad, nullptr, EENetPrecision::kFloat, batch);
      epoch_loss += loss.total;
      ++batches;
      ++step;
      // Adam (Kingma & Ba 2015, Algorithm 1), bias-corrected.
      m = b1 * m + (1 - b1) * grad;
      v = b2 * v + (1 - b2) * grad.cwiseAbs2();
      const double c1 = 1 - std::pow(b1, static_cast<double>(step));
      const double c2 = 1 - std::pow(b2, static_cast<double>(step));
      theta.array() -= options.learning_rate * (m.array() / c1) /
                       ((v.array() / c2).sqrt() + options.adam_epsilon);
    }
    sum.train_loss.push_back(epoch_loss / std::max(1, batches));
    const double watch =
        use_hold ? EENetLossAndGradient(layout, theta, all, correct, r_all, stop_cost, budget,
                                        weights, nullptr, nullptr, EENetPrecision::kFloat, hold_idx)
                       .total
                 : sum.train_loss.back();
    sum.holdout_loss.push_back(watch);
    sum.epochs = epoch;
    if (progress) {
      char line[96];
      std::snprintf(line, sizeof line, use_hold ? "loss %.6g, held-out loss %.6g" : "loss %.6g",
                    sum.train_loss.back(), watch);
      progress->Advance(1, line);
    }
    ProgressRethrow(progress);
    if (!std::isfinite(watch)) break;
    if (watch < best) {
      best = watch;
      best_theta = theta;
      sum.best_epoch = epoch;
      wait = 0;
    } else if (++wait >= options.patience) {
      stopped_early = true;
      break;
    }
  }
  sum.best_holdout_loss = best;
  sum.scorer.layout = layout;
  sum.scorer.theta = best_theta;
  sum.scorer.temperatures =
      options.temperatures.empty() ? std::vector<double>(k, 1.0) : options.temperatures;

  // Algorithm 1 on the whole fit split with the best weights.
  ScoreMatrix q, r;
  EENetForward(layout, best_theta, all, &q, &r);
  sum.distribution.resize(k);
  sum.predicted_cost = 0.0;
  for (int j = 0; j < k; ++j) {
    sum.distribution[j] = r.row(j).mean();
    sum.predicted_cost += sum.distribution[j] * stop_cost[j];
  }
  if (!std::isfinite(best) || !best_theta.allFinite()) {
    sum.outcome = Outcome::kFailure;
    sum.message = "training diverged (non-finite loss); lower --learning-rate";
  } else {
    sum.tilt = FitQuotasToBudget(q, correct, stop_cost, budget, sum.distribution,
                                 options.budget_fit, &sum.policy);
    sum.quota_distribution = TiltDistribution(sum.distribution, stop_cost, sum.tilt);
    sum.fit = Evaluate(q, ScoreOrder::kDescending, correct, stop_cost, sum.policy);
    sum.outcome = stopped_early ? Outcome::kConverged : Outcome::kIterationLimit;
    sum.message = stopped_early ? "early stopping: no better held-out loss for " +
                                      std::to_string(options.patience) + " epochs"
                                : "reached max_epochs";
    if (sum.fit.mean_cost > budget * (1 + 1e-9)) {
      sum.message += "; Algorithm 1 quotas exceed the budget on the fit split";
    }
  }
  sum.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  return sum;
}

std::string EENetSummary::BriefReport() const {
  std::ostringstream o;
  o << "eenet: " << ToString(outcome) << ", fit acc " << FormatDouble(fit.accuracy) << " cost "
    << FormatDouble(fit.mean_cost) << ", " << epochs << " epochs (best " << best_epoch << "), "
    << FormatDouble(std::round(seconds * 1000) / 1000) << " s: " << message;
  return o.str();
}

std::string EENetSummary::FullReport() const {
  std::ostringstream o;
  o << BriefReport() << "\n";
  o << "  learned distribution p: " << JoinDoubles(distribution, " ") << "\n";
  o << "  predicted cost sum p_k c_k: " << FormatDouble(predicted_cost) << "\n";
  o << "  quota distribution (tilt " << FormatDouble(tilt)
    << "): " << JoinDoubles(quota_distribution, " ") << "\n";
  o << "  thresholds: " << JoinDoubles(policy.thresholds, " ") << "\n";
  o << "  fit exit fractions: " << JoinDoubles(fit.exit_fraction, " ") << "\n";
  o << "  best held-out loss: " << FormatDouble(best_holdout_loss) << "\n";
  return o.str();
}

namespace {

// The fields every scorer file version holds, as YAML (comment, schema and kind first).
std::string ScorerHeader(const ScorerFile& f, int version) {
  const EENetScorer& s = f.scorer;
  const EENetLayout& l = s.layout;
  std::ostringstream o;
  o << "# exitplan EENet exit utility scorer (Ilhan et al. 2023, eq. 8-10). Per exit k the inputs "
       "are\n"
       "# [p_1..p_C, max_prob, entropy, vote, q_1..q_{k-1}] with p = softmax(logits / T_k);\n"
       "# s = leaky_relu(w_shared x + b_shared), q = sigmoid(w_utility s + b_utility),\n"
       "# assignment logit = w_assign s + b_assign. w_shared is hidden x inputs.\n"
       "# Stop at the first exit whose q >= its threshold (Algorithm 2).\n";
  if (version >= 2) {
    o << "# The weights are in the .npz the weights field names (exit<k>_w_shared [hidden, "
         "inputs],\n"
         "# exit<k>_b_shared, exit<k>_w_utility, exit<k>_w_assign [hidden], exit<k>_b_utility,\n"
         "# exit<k>_b_assign [1]; float64), checked against its SHA-256.\n";
  }
  o << "schema_version: " << version << "\n";
  o << "kind: eenet-scorer\n";
  o << "k: " << l.k << "\n";
  o << "c: " << l.c << "\n";
  o << "feature_layout: [probabilities, max_prob, entropy, vote, earlier_scores]\n";
  o << "temperatures: " << YamlList(s.temperatures) << "\n";
  o << "kept_exits: [";
  for (std::size_t i = 0; i < f.policy.kept.size(); ++i)
    o << (i ? ", " : "") << f.policy.kept[i] + 1;
  o << "]\n";
  o << "threshold_method: " << f.threshold_method << "\n";
  o << "thresholds: " << YamlList(f.policy.thresholds) << "\n";
  o << "budget: " << YamlDouble(f.budget) << "\n";
  o << "unit: " << YamlQuote(f.unit) << "\n";
  o << "distribution: " << YamlList(f.distribution) << "\n";
  o << "fit_accuracy: " << YamlDouble(f.fit_accuracy) << "\n";
  o << "fit_cost: " << YamlDouble(f.fit_cost) << "\n";
  o << "exitplan_version: " << EXITPLAN_VERSION << "\n";
  o << "provenance: " << YamlQuote(f.provenance) << "\n";
  return o.str();
}

// Exit j's parameter block (layout offset order: W_sh column-major H x D, b_sh, w_g, b_g, w_h,
// b_h) as the .npz members of that exit.
std::vector<NpzMember> ExitMembers(const EENetScorer& s, int j) {
  const EENetLayout& l = s.layout;
  const int h = l.hidden[j], d = l.inputs[j];
  const double* p = s.theta.data() + l.offset[j];
  const std::string e = "exit" + std::to_string(j + 1) + "_";
  const auto uh = static_cast<std::size_t>(h), ud = static_cast<std::size_t>(d);
  std::vector<double> w(uh * ud);
  for (int r = 0; r < h; ++r) {
    for (int c = 0; c < d; ++c) w[static_cast<std::size_t>(r) * ud + c] = p[c * h + r];
  }
  return {{e + "w_shared", {uh, ud}, std::move(w)},
          {e + "b_shared", {uh}, std::vector<double>(p + h * d, p + h * d + h)},
          {e + "w_utility", {uh}, std::vector<double>(p + h * d + h, p + h * d + 2 * h)},
          {e + "b_utility", {1}, {p[h * d + 2 * h]}},
          {e + "w_assign", {uh}, std::vector<double>(p + h * d + 2 * h + 1, p + h * d + 3 * h + 1)},
          {e + "b_assign", {1}, {p[h * d + 3 * h + 1]}}};
}

}  // namespace

std::string ScorerWeightsPath(const std::string& path) {
  fs::path p(path);
  p.replace_extension(".npz");
  return p.string();
}

std::string ScorerToYamlV1(const ScorerFile& f) {
  const EENetScorer& s = f.scorer;
  const EENetLayout& l = s.layout;
  std::ostringstream o;
  o << ScorerHeader(f, 1);
  o << "exits:\n";
  for (int j = 0; j < l.k; ++j) {
    const int h = l.hidden[j], d = l.inputs[j];
    const double* p = s.theta.data() + l.offset[j];
    o << "  - exit: " << j + 1 << "\n";
    o << "    inputs: " << d << "\n";
    o << "    hidden: " << h << "\n";
    o << "    w_shared:\n";
    for (int r = 0; r < h; ++r) {
      std::vector<double> row(d);
      for (int c = 0; c < d; ++c) row[c] = p[c * h + r];
      o << "      - " << YamlList(row) << "\n";
    }
    o << "    b_shared: " << YamlList(p + h * d, h) << "\n";
    o << "    w_utility: " << YamlList(p + h * d + h, h) << "\n";
    o << "    b_utility: " << YamlDouble(p[h * d + 2 * h]) << "\n";
    o << "    w_assign: " << YamlList(p + h * d + 2 * h + 1, h) << "\n";
    o << "    b_assign: " << YamlDouble(p[h * d + 3 * h + 1]) << "\n";
  }
  return o.str();
}

void SaveScorer(const std::string& path, const ScorerFile& f) {
  const std::string npz_path = ScorerWeightsPath(path);
  if (npz_path == path) {
    throw InputError(path,
                     "give the scorer's YAML file (e.g. scorer.yaml): its weights are "
                     "written beside it as scorer.npz");
  }
  const EENetLayout& l = f.scorer.layout;
  std::vector<NpzMember> members;
  for (int j = 0; j < l.k; ++j) {
    for (NpzMember& m : ExitMembers(f.scorer, j)) members.push_back(std::move(m));
  }
  std::string npz = NpzBytes(members);
  std::ostringstream o;
  o << ScorerHeader(f, kScorerSchemaVersion);
  o << "hidden: [";
  for (int j = 0; j < l.k; ++j) o << (j ? ", " : "") << l.hidden[j];
  o << "]\n";
  o << "weights: {file: " << YamlQuote(fs::path(npz_path).filename().string())
    << ", sha256: " << Sha256Hex(npz) << "}\n";
  OutputSet both;  // the YAML and its weights, both or neither
  both.Add(npz_path, std::move(npz));
  both.Add(path, o.str());
  both.Commit();
}

ScorerFile LoadScorer(const std::string& path) {
  YAML::Node root;
  try {
    root = YAML::Load(ReadFile(path));
  } catch (const YAML::Exception& e) {
    throw InputError(path, std::string("not valid YAML: ") + e.what());
  }
  auto fail = [&](const std::string& msg) -> InputError { return InputError(path, msg); };
  if (!root.IsMap()) throw fail("expected a mapping (an exitplan scorer file)");
  auto get = [&](const YAML::Node& node, const std::string& key, const std::string& where) {
    const YAML::Node v = node[key];
    if (!v) throw fail("missing field '" + where + key + "'");
    return v;
  };
  try {
    const int version = get(root, "schema_version", "").as<int>();
    if (version != 1 && version != kScorerSchemaVersion) {
      throw fail("schema_version " + std::to_string(version) +
                 " is not supported (this exitplan "
                 "reads versions 1 and " +
                 std::to_string(kScorerSchemaVersion) + ")");
    }
    // Version 1 (earlier exitplan) holds the weights as YAML text under exits:, version 2 in the
    // .npz named under weights:. Both are read.
    std::set<std::string> known = {"schema_version",
                                   "kind",
                                   "k",
                                   "c",
                                   "feature_layout",
                                   "temperatures",
                                   "kept_exits",
                                   "threshold_method",
                                   "thresholds",
                                   "budget",
                                   "unit",
                                   "distribution",
                                   "fit_accuracy",
                                   "fit_cost",
                                   "exitplan_version",
                                   "provenance"};
    if (version == 1) {
      known.insert("exits");
    } else {
      known.insert({"hidden", "weights"});
    }
    for (const auto& kv : root) {
      const std::string key = kv.first.as<std::string>();
      if (!known.count(key)) throw fail("unknown key '" + key + "'");
    }
    if (get(root, "kind", "").as<std::string>() != "eenet-scorer") {
      throw fail("kind '" + root["kind"].as<std::string>() + "' is not eenet-scorer");
    }
    ScorerFile f;
    const int k = get(root, "k", "").as<int>();
    const int c = get(root, "c", "").as<int>();
    if (k < 1 || c < 1) throw fail("k and c must be >= 1");
    if (k > 4096 || c > (1 << 24)) throw fail("k or c is implausibly large");
    auto vec = [&](const YAML::Node& node, const std::string& name, int size) {
      if (!node.IsSequence() || static_cast<int>(node.size()) != size) {
        throw fail("field '" + name + "': expected " + std::to_string(size) + " values, found " +
                   (node.IsSequence() ? std::to_string(node.size()) : std::string("no list")));
      }
      std::vector<double> out(size);
      for (int i = 0; i < size; ++i) out[i] = node[i].as<double>();
      return out;
    };
    std::vector<int> hidden(k);
    YAML::Node exits;
    if (version == 1) {
      exits = get(root, "exits", "");
      if (!exits.IsSequence() || static_cast<int>(exits.size()) != k) {
        throw fail("field 'exits': expected " + std::to_string(k) + " entries (k), found " +
                   std::to_string(exits.size()));
      }
      for (int j = 0; j < k; ++j)
        hidden[j] = get(exits[j], "hidden", "exits[" + std::to_string(j) + "].").as<int>();
    } else {
      const YAML::Node hn = get(root, "hidden", "");
      if (!hn.IsSequence() || static_cast<int>(hn.size()) != k) {
        throw fail("field 'hidden': expected " + std::to_string(k) + " values (k)");
      }
      for (int j = 0; j < k; ++j) hidden[j] = hn[j].as<int>();
    }
    for (int h : hidden) {
      if (h < 1 || h > (1 << 20))
        throw fail("field 'hidden': every exit's hidden size must be in 1..1048576");
    }
    f.scorer.layout = EENetLayout::FromHidden(k, c, hidden);
    const EENetLayout& l = f.scorer.layout;
    f.scorer.theta.resize(l.size);
    if (version == 1) {
      for (int j = 0; j < k; ++j) {
        const std::string w = "exits[" + std::to_string(j) + "].";
        const YAML::Node e = exits[j];
        const int h = l.hidden[j], d = l.inputs[j];
        if (get(e, "inputs", w).as<int>() != d) {
          throw fail("field '" + w + "inputs': expected " + std::to_string(d) +
                     " (C + 3 + earlier exits)");
        }
        double* p = f.scorer.theta.data() + l.offset[j];
        const YAML::Node ws = get(e, "w_shared", w);
        if (!ws.IsSequence() || static_cast<int>(ws.size()) != h) {
          throw fail("field '" + w + "w_shared': expected " + std::to_string(h) + " rows");
        }
        for (int r = 0; r < h; ++r) {
          const std::vector<double> row = vec(ws[r], w + "w_shared[" + std::to_string(r) + "]", d);
          for (int cc = 0; cc < d; ++cc) p[cc * h + r] = row[cc];
        }
        const auto bs = vec(get(e, "b_shared", w), w + "b_shared", h);
        const auto wg = vec(get(e, "w_utility", w), w + "w_utility", h);
        const auto wh = vec(get(e, "w_assign", w), w + "w_assign", h);
        std::copy(bs.begin(), bs.end(), p + h * d);
        std::copy(wg.begin(), wg.end(), p + h * d + h);
        p[h * d + 2 * h] = get(e, "b_utility", w).as<double>();
        std::copy(wh.begin(), wh.end(), p + h * d + 2 * h + 1);
        p[h * d + 3 * h + 1] = get(e, "b_assign", w).as<double>();
      }
    } else {
      const YAML::Node wn = get(root, "weights", "");
      if (!wn.IsMap()) throw fail("field 'weights': expected {file: NAME.npz, sha256: HEX}");
      const std::string file = get(wn, "file", "weights.").as<std::string>();
      const std::string sha = get(wn, "sha256", "weights.").as<std::string>();
      if (file.empty() || file.find('/') != std::string::npos || file == "." || file == "..") {
        throw fail("field 'weights.file': '" + file +
                   "' must be a file name beside the scorer file");
      }
      const std::string npz_path = (fs::path(path).parent_path() / file).string();
      auto bytes = std::make_shared<const std::string>(ReadFile(npz_path));
      if (Sha256Hex(*bytes) != sha) {
        throw InputError(npz_path, "is not the weights " + path +
                                       " was written with (its SHA-256 "
                                       "differs from the one recorded there): re-run exitplan "
                                       "fit-scorer, or keep each scorer's .yaml and .npz together");
      }
      std::vector<NpzMember> want;
      for (int j = 0; j < k; ++j) {
        for (NpzMember& m : ExitMembers(f.scorer, j)) want.push_back(std::move(m));  // shapes only
      }
      // Back into the layout's order: the members of exit j, in ExitMembers' order.
      std::size_t next = 0;
      for (int j = 0; j < k; ++j) {
        const int h = l.hidden[j], d = l.inputs[j];
        double* p = f.scorer.theta.data() + l.offset[j];
        std::vector<std::vector<double>> v;
        for (int q = 0; q < 6; ++q, ++next) {
          const NpzMember& m = want[next];
          const NpyArray a = ParseNpzMember(bytes, bytes->data(), bytes->size(), npz_path, m.name);
          if (a.kind() != NpyKind::kFloat || a.shape() != m.shape) {
            std::string shape;
            for (std::size_t x : m.shape) shape += (shape.empty() ? "" : ", ") + std::to_string(x);
            throw InputError(npz_path, "member " + m.name + " is " + a.Describe() +
                                           ", expected float [" + shape + "] (k " +
                                           std::to_string(k) + ", c " + std::to_string(c) +
                                           ", hidden " + std::to_string(h) + " of " + path + ")");
          }
          std::vector<double> vals(a.size());
          a.CopyTo(0, a.size(), vals.data());
          v.push_back(std::move(vals));
        }
        for (int r = 0; r < h; ++r) {
          for (int cc = 0; cc < d; ++cc) p[cc * h + r] = v[0][static_cast<std::size_t>(r) * d + cc];
        }
        std::copy(v[1].begin(), v[1].end(), p + h * d);
        std::copy(v[2].begin(), v[2].end(), p + h * d + h);
        p[h * d + 2 * h] = v[3][0];
        std::copy(v[4].begin(), v[4].end(), p + h * d + 2 * h + 1);
        p[h * d + 3 * h + 1] = v[5][0];
      }
    }
    if (!f.scorer.theta.allFinite()) throw fail("non-finite weight");
    f.scorer.temperatures = vec(get(root, "temperatures", ""), "temperatures", k);
    for (double t : f.scorer.temperatures) {
      if (!(t > 0) || !std::isfinite(t))
        throw fail("field 'temperatures': every value must be finite and > 0");
    }
    f.policy.kept = AllExits(k);
    if (root["kept_exits"]) {
      f.policy.kept.clear();
      for (const auto& e : root["kept_exits"]) f.policy.kept.push_back(e.as<int>() - 1);
    }
    f.policy.thresholds =
        vec(get(root, "thresholds", ""), "thresholds", static_cast<int>(f.policy.kept.size()) - 1);
    if (const std::string err = CheckPolicy(f.policy, k); !err.empty())
      throw fail("field 'kept_exits'/'thresholds': " + err);
    if (root["threshold_method"]) f.threshold_method = root["threshold_method"].as<std::string>();
    if (root["budget"]) f.budget = root["budget"].as<double>();
    if (root["unit"]) f.unit = root["unit"].as<std::string>();
    if (root["distribution"]) f.distribution = vec(root["distribution"], "distribution", k);
    if (root["fit_accuracy"]) f.fit_accuracy = root["fit_accuracy"].as<double>();
    if (root["fit_cost"]) f.fit_cost = root["fit_cost"].as<double>();
    if (root["provenance"]) f.provenance = root["provenance"].as<std::string>();
    return f;
  } catch (const YAML::Exception& e) {
    throw InputError(path, std::string("bad value: ") + e.what());
  }
}

}  // namespace exitplan
