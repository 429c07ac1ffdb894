#include "optim/eenet_compare.hpp"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <map>
#include <sstream>

#include "optim/solve.hpp"
#include "profiles/dump.hpp"
#include "profiles/error.hpp"
#include "profiles/profile.hpp"

namespace exitplan {
namespace {

double Seconds(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

double ExpectedCost(const std::vector<double>& p, const std::vector<double>& c) {
  double s = 0.0;
  for (std::size_t j = 0; j < p.size(); ++j) s += p[j] * c[j];
  return s;
}

}  // namespace

bool ComparisonRow::within_budget() const {
  return available && fit.n > 0 && fit.mean_cost <= budget * (1 + 1e-9);
}

std::vector<double> GeometricDistribution(const std::vector<double>& c, double budget) {
  const int k = static_cast<int>(c.size());
  auto dist = [&](double log_q) {
    std::vector<double> p(k);
    // p_k = q^k / sum q^j, computed from the largest exponent to avoid overflow.
    const double top = log_q >= 0 ? log_q * k : log_q * 1;
    double s = 0.0;
    for (int j = 0; j < k; ++j) s += (p[j] = std::exp(log_q * (j + 1) - top));
    for (double& v : p) v /= s;
    return p;
  };
  double lo = -60.0, hi = 60.0;  // cost increases with q
  if (ExpectedCost(dist(lo), c) >= budget) return dist(lo);
  if (ExpectedCost(dist(hi), c) <= budget) return dist(hi);
  for (int it = 0; it < 200; ++it) {
    const double mid = 0.5 * (lo + hi);
    (ExpectedCost(dist(mid), c) <= budget ? lo : hi) = mid;
  }
  return dist(lo);
}

std::vector<ComparisonRow> CompareExitPolicies(const Dump& dump, const CostProfile& profile,
                                               const ComparisonOptions& options,
                                               void (*progress)(const ComparisonRow&)) {
  const SplitData& fit = dump.fit;
  const SplitData* eval = dump.eval ? &*dump.eval : nullptr;
  const std::vector<int> all = AllExits(dump.k);
  const std::vector<double> cost = profile.StopCosts(all);
  const CorrectMatrix& fit_correct = fit.Correct(Target::kLabels);
  std::vector<ComparisonRow> rows;
  for (double frac : options.budget_fractions) {
    const double budget = frac * profile.FullCost();
    std::vector<ComparisonRow> here;
    auto add = [&](ComparisonRow row, const ScoreMatrix* eval_scores) {
      row.budget = budget;
      row.budget_fraction = frac;
      if (row.available) {
        if (eval && eval_scores) {
          row.eval = Evaluate(*eval_scores, ScoreOrder::kDescending, eval->Correct(Target::kLabels),
                              cost, row.policy);
        }
      }
      if (progress) progress(row);
      here.push_back(row);
    };
    const std::vector<double> geo = GeometricDistribution(cost, budget);
    // Baselines of Ilhan et al. 2023: a measure + geometric quotas (Algorithm 1's cascade with
    // geometric p).
    const std::pair<const char*, Measure> baselines[] = {{"msdnet", Measure::kMaxProb},
                                                         {"branchynet", Measure::kEntropy},
                                                         {"pabee", Measure::kVote}};
    for (const auto& [name, measure] : baselines) {
      const auto t0 = std::chrono::steady_clock::now();
      ComparisonRow row;
      row.method = name;
      row.detail = ToString(measure) + " + geometric";
      row.available = true;
      // The vote (eq. 7) takes few values (exit 1's is always 1), so quotas would cut through
      // ties; the published code breaks them with 1e-6 random noise, we break them with max prob
      // (deterministic; the smallest gap between vote values, 1/K, is far above 1e-3).
      const ScoreMatrix fit_scores =
          measure == Measure::kVote
              ? ScoreMatrix(fit.Scores(measure) + 1e-3 * fit.Scores(Measure::kMaxProb))
              : fit.Scores(measure);
      ScoreMatrix eval_scores;
      if (eval) {
        eval_scores =
            measure == Measure::kVote
                ? ScoreMatrix(eval->Scores(measure) + 1e-3 * eval->Scores(Measure::kMaxProb))
                : eval->Scores(measure);
      }
      // Quota rounding can overshoot the budget by a sample or two: repair as for EENet.
      FitQuotasToBudget(fit_scores, fit_correct, cost, budget, geo, BudgetFit::kRepair,
                        &row.policy);
      row.fit = Evaluate(fit_scores, ScoreOrder::kDescending, fit_correct, cost, row.policy);
      row.seconds = Seconds(t0);
      add(row, eval ? &eval_scores : nullptr);
    }
    // EENet.
    const auto t0 = std::chrono::steady_clock::now();
    const EENetSummary s = FitEENet(fit, fit_correct, cost, budget, options.eenet);
    const double train_seconds = Seconds(t0);
    const ScoreMatrix fit_q = s.scorer.Score(fit);
    ScoreMatrix eval_q;
    if (eval) eval_q = s.scorer.Score(*eval);
    {
      ComparisonRow row;
      row.method = "eenet";
      row.detail = "scorer + learned distribution (Algorithm 1, budget-fit " +
                   ToString(options.eenet.budget_fit) + ")";
      row.available = s.ok();
      row.message = s.BriefReport();
      row.policy = s.policy;
      row.fit = s.fit;
      row.seconds = train_seconds;
      add(row, eval ? &eval_q : nullptr);
    }
    {
      ComparisonRow row;
      row.method = "eenet-no-scorer";
      row.detail = "max_prob + learned distribution";
      row.available = s.ok();
      const ScoreMatrix& mp = fit.Scores(Measure::kMaxProb);
      FitQuotasToBudget(mp, fit_correct, cost, budget, s.distribution, options.eenet.budget_fit,
                        &row.policy);
      row.fit = Evaluate(mp, ScoreOrder::kDescending, fit_correct, cost, row.policy);
      add(row, eval ? &eval->Scores(Measure::kMaxProb) : nullptr);
    }
    {
      ComparisonRow row;
      row.method = "eenet-no-distribution";
      row.detail = "scorer + geometric";
      row.available = s.ok();
      FitQuotasToBudget(fit_q, fit_correct, cost, budget, geo, BudgetFit::kRepair, &row.policy);
      row.fit = Evaluate(fit_q, ScoreOrder::kDescending, fit_correct, cost, row.policy);
      add(row, eval ? &eval_q : nullptr);
    }
    // optim/ solvers on max prob and on the learned scores.
    for (const std::string& solver : options.solvers) {
      const Method method = MethodFromString(solver, "solvers");
      const std::pair<std::string, const ScoreMatrix*> inputs[] = {
          {"max_prob", &fit.Scores(Measure::kMaxProb)}, {"eenet", &fit_q}};
      for (const auto& [what, scores] : inputs) {
        const auto t1 = std::chrono::steady_clock::now();
        ThresholdProblem problem;
        problem.scores = scores;
        problem.correct = &fit_correct;
        problem.kept = all;
        problem.stop_cost = cost;
        problem.budget = budget;
        const ThresholdSummary ts = Solve(method, problem);
        ComparisonRow row;
        row.method = solver + (what == "eenet" ? "-on-eenet" : "");
        row.detail = what + " + " + solver;
        row.available = ts.ok();
        row.message = ts.BriefReport();
        row.policy = ts.policy;
        if (row.available) row.fit = problem.Evaluate(ts.policy);
        row.seconds = Seconds(t1);
        const ScoreMatrix* ev = nullptr;
        if (eval) ev = what == "eenet" ? &eval_q : &eval->Scores(Measure::kMaxProb);
        add(row, ev);
      }
    }
    // best: highest fit accuracy within budget (ties: lower fit cost, then listing order).
    const ComparisonRow* best = nullptr;
    for (const ComparisonRow& r : here) {
      if (!r.within_budget()) continue;
      if (!best || r.fit.accuracy > best->fit.accuracy ||
          (r.fit.accuracy == best->fit.accuracy && r.fit.mean_cost < best->fit.mean_cost)) {
        best = &r;
      }
    }
    ComparisonRow b;
    if (best) {
      b = *best;
      b.detail = "best on fit: " + best->method;
    } else {
      b.available = false;
      b.message = "no method within budget";
    }
    b.method = "best";
    here.push_back(b);
    if (progress) progress(b);
    rows.insert(rows.end(), here.begin(), here.end());
  }
  return rows;
}

std::string ComparisonMarkdown(const std::vector<ComparisonRow>& rows, const std::string& unit) {
  std::vector<std::string> methods;
  std::vector<double> budgets;
  std::map<std::pair<double, std::string>, const ComparisonRow*> cell;
  for (const ComparisonRow& r : rows) {
    if (std::find(methods.begin(), methods.end(), r.method) == methods.end())
      methods.push_back(r.method);
    if (std::find(budgets.begin(), budgets.end(), r.budget) == budgets.end())
      budgets.push_back(r.budget);
    cell[{r.budget, r.method}] = &r;
  }
  std::ostringstream o;
  o << "| budget (" << unit << ") | frac |";
  for (const std::string& m : methods) o << " " << m << " |";
  o << "\n|---|---|";
  for (std::size_t i = 0; i < methods.size(); ++i) o << "---|";
  o << "\n";
  char buf[64];
  for (double b : budgets) {
    const ComparisonRow* any = cell.begin()->second;
    for (const auto& [key, r] : cell)
      if (key.first == b) {
        any = r;
        break;
      }
    std::snprintf(buf, sizeof buf, "| %.4g | %.2f |", b, any->budget_fraction);
    o << buf;
    for (const std::string& m : methods) {
      auto it = cell.find({b, m});
      if (it == cell.end() || !it->second->available) {
        o << " n/a |";
        continue;
      }
      const ComparisonRow& r = *it->second;
      if (r.eval.n > 0) {
        std::snprintf(buf, sizeof buf, " %.4f", r.eval.accuracy);
      } else {
        std::snprintf(buf, sizeof buf, " %.4f (fit)", r.fit.accuracy);
      }
      o << buf;
      if (!r.within_budget()) {
        std::snprintf(buf, sizeof buf, " [over: %.4g]", r.fit.mean_cost);
        o << buf;
      }
      if (m == "best") o << " (" << r.detail.substr(std::string("best on fit: ").size()) << ")";
      o << " |";
    }
    o << "\n";
  }
  return o.str();
}

}  // namespace exitplan
