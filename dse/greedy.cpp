#include "dse/greedy.hpp"

#include <chrono>
#include <cmath>
#include <limits>
#include <sstream>

#include "dse/flop_score.hpp"
#include "profiles/error.hpp"

namespace exitplan {

std::string ToString(GreedyRule rule) {
  switch (rule) {
    case GreedyRule::kEfficiency:
      return "greedy-efficiency";
    case GreedyRule::kTh:
      return "greedy-th";
    case GreedyRule::kForward:
      return "greedy-forward";
    case GreedyRule::kBackward:
      return "greedy-backward";
  }
  return "?";
}

std::string GreedyOptions::Validate() const {
  std::ostringstream s;
  const bool scan = rule == GreedyRule::kEfficiency || rule == GreedyRule::kTh;
  if (scan && !(tolerance > 0.0 && tolerance < 1.0)) {
    s << "tolerance = " << tolerance << ": must be in (0, 1) (a fraction of accuracy)\n";
  }
  if (rule == GreedyRule::kTh && !(th >= 0.0 && th <= 1.0)) {
    s << "th = " << th << ": must be in [0, 1]\n";
  }
  if (!scan && !(std::isfinite(budget) && budget > 0.0)) {
    s << "budget = " << budget << ": must be finite and > 0 for " << ToString(rule) << "\n";
  }
  std::string out = s.str();
  if (!out.empty()) out.pop_back();
  return out;
}

std::string GreedySummary::BriefReport() const {
  std::ostringstream s;
  s << ToString(rule) << ": " << ToString(outcome);
  if (ok()) {
    s << ", kept exits " << KeptText(kept) << ", fit accuracy " << fit.accuracy << ", fit cost "
      << fit.mean_cost;
  }
  if (solves > 0) s << ", " << solves << " threshold solves";
  s << ", " << seconds << " s";
  if (!message.empty()) s << " (" << message << ")";
  return s.str();
}

bool EfficiencyCondition(double gamma_i, double gamma_next, double i_reach, double i_next,
                         double* lhs, double* rhs) {
  const double l = (gamma_next - gamma_i) * (i_reach - i_next);
  const double r = gamma_i * i_next;
  if (lhs) *lhs = l;
  if (rhs) *rhs = r;
  return l > r;
}

bool ThCondition(double th, double cm, double gamma_f_next, double gamma_c, double gamma_f,
                 double* lhs) {
  const double l = (th - cm) * gamma_f_next - (1.0 - cm) * gamma_c - (1.0 - th) * gamma_f;
  if (lhs) *lhs = l;
  return l >= 0.0;
}

namespace {

GreedySummary Scan(const PlacementProblem& problem, const GreedyOptions& options) {
  const CostProfile& prof = *problem.profile;
  const int k = problem.k();
  const int n = problem.n();
  const auto table =
      ToleranceThresholdTable(*problem.scores, problem.ca(), problem.order, options.tolerance);
  GreedySummary s;
  s.rule = options.rule;
  std::vector<char> alive(n, 1);
  double heads = 0.0;  // heads of the exits kept so far
  std::vector<int> kept;
  for (int j = 0; j < k - 1; ++j) {
    const int p = static_cast<int>(kept.size());
    const double t = table[j][p];
    std::int64_t reach = 0, cont = 0;
    for (int i = 0; i < n; ++i) {
      if (!alive[i]) continue;
      ++reach;
      if (!Passes((*problem.scores)(j, i), t, problem.order)) ++cont;
    }
    GreedyStep st;
    st.exit = j;
    st.i_reach = n > 0 ? static_cast<double>(reach) / n : 0.0;
    st.i_next = n > 0 ? static_cast<double>(cont) / n : 0.0;
    if (options.rule == GreedyRule::kEfficiency) {
      const double gamma_i = prof.backbone[j] + heads + prof.head[j];
      const double gamma_next = prof.backbone[j + 1] + heads + prof.head[j] + prof.head[j + 1];
      st.kept = EfficiencyCondition(gamma_i, gamma_next, st.i_reach, st.i_next, &st.lhs, &st.rhs);
    } else {
      const double cm = reach > 0 ? static_cast<double>(cont) / reach : 1.0;
      const double gf = prof.backbone[j] - (j > 0 ? prof.backbone[j - 1] : 0.0);
      const double gf_next = prof.backbone[j + 1] - prof.backbone[j];
      st.kept = ThCondition(options.th, cm, gf_next, prof.head[j], gf, &st.lhs);
      st.rhs = 0.0;
    }
    if (st.kept) {
      kept.push_back(j);
      heads += prof.head[j];
      for (int i = 0; i < n; ++i) {
        if (alive[i] && Passes((*problem.scores)(j, i), t, problem.order)) alive[i] = 0;
      }
    }
    s.steps.push_back(st);
  }
  kept.push_back(k - 1);
  s.kept = kept;
  s.policy.kept = kept;
  for (std::size_t p = 0; p + 1 < kept.size(); ++p)
    s.policy.thresholds.push_back(table[kept[p]][p]);
  s.fit = problem.EvaluateFit(s.policy);
  s.eval = problem.EvaluateEval(s.policy);
  s.outcome = Outcome::kConverged;
  s.message = "thresholds by tolerance " + FormatDouble(options.tolerance) +
              (options.rule == GreedyRule::kTh ? ", TH " + FormatDouble(options.th) : "");
  return s;
}

struct Trial {
  std::vector<int> kept;
  ThresholdSummary sum;
  double acc() const {
    return sum.ok() ? sum.fit.accuracy : -std::numeric_limits<double>::infinity();
  }
  double cost() const {
    return sum.ok() ? sum.fit.mean_cost : std::numeric_limits<double>::infinity();
  }
};

// a better than b: higher accuracy, then lower cost, then `a_exit` shallower.
bool BetterTrial(const Trial& a, int a_exit, const Trial& b, int b_exit) {
  if (a.acc() != b.acc()) return a.acc() > b.acc();
  if (a.cost() != b.cost()) return a.cost() < b.cost();
  return a_exit < b_exit;
}

GreedySummary Search(const PlacementProblem& problem, const GreedyOptions& options,
                     const ThresholdSolverFn& solver) {
  const int k = problem.k();
  GreedySummary s;
  s.rule = options.rule;
  const bool forward = options.rule == GreedyRule::kForward;
  auto run = [&](std::vector<int> kept) {
    Trial t;
    t.kept = std::move(kept);
    t.sum = solver(problem.Thresholds(t.kept, options.budget));
    ++s.solves;
    return t;
  };
  Trial cur = run(forward ? std::vector<int>{k - 1} : AllExits(k));
  for (;;) {
    Trial best;
    int best_exit = -1;
    for (int j = 0; j < k - 1; ++j) {
      const bool in = std::find(cur.kept.begin(), cur.kept.end(), j) != cur.kept.end();
      if (in == forward) continue;
      std::vector<int> kept;
      for (int e : cur.kept) {
        if (e != j) kept.push_back(e);
      }
      if (forward) kept.insert(std::lower_bound(kept.begin(), kept.end(), j), j);
      Trial t = run(kept);
      if (best_exit < 0 || BetterTrial(t, j, best, best_exit)) {
        best = std::move(t);
        best_exit = j;
      }
    }
    if (best_exit < 0) break;
    const bool accept = forward ? best.acc() > cur.acc() : best.acc() >= cur.acc();
    if (!accept) break;
    GreedyStep st;
    st.exit = best_exit;
    st.kept = true;
    st.lhs = best.acc();
    st.rhs = best.cost();
    s.steps.push_back(st);
    cur = std::move(best);
  }
  s.kept = cur.kept;
  s.policy = cur.sum.policy;
  s.policy.kept = cur.kept;
  if (cur.sum.ok()) {
    s.fit = cur.sum.fit;
    s.eval = problem.EvaluateEval(s.policy);
    s.outcome = Outcome::kConverged;
    s.message = "budget " + FormatDouble(options.budget) + ", thresholds by " + cur.sum.method;
  } else {
    s.outcome = cur.sum.outcome == Outcome::kInfeasible ? Outcome::kInfeasible : Outcome::kFailure;
    s.message = "no kept set reached a solution at budget " + FormatDouble(options.budget) + ": " +
                cur.sum.message;
  }
  return s;
}

}  // namespace

GreedySummary Greedy(const PlacementProblem& problem, const GreedyOptions& options,
                     const ThresholdSolverFn& solver) {
  if (const std::string err = options.Validate(); !err.empty()) {
    throw InputError(ToString(options.rule), err);
  }
  if (const std::string err = problem.Check(); !err.empty()) {
    throw InputError(ToString(options.rule), err);
  }
  const auto t0 = std::chrono::steady_clock::now();
  GreedySummary s;
  if (options.rule == GreedyRule::kEfficiency || options.rule == GreedyRule::kTh) {
    if (const std::string err = CheckHeadCosts(*problem.profile, ToString(options.rule));
        !err.empty()) {
      throw InputError(err);
    }
    s = Scan(problem, options);
  } else {
    if (!solver) throw InputError(ToString(options.rule), "needs a threshold solver");
    s = Search(problem, options, solver);
  }
  s.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  return s;
}

}  // namespace exitplan
