// Re-split benchmark of the deployment guarantee (docs/guarantees.md).
//
// For each dump of data/ and ../shared/data (skipped with a message when absent): the fit and eval
// splits are pooled and re-split at random R times into parts of the original sizes (so fit and
// eval are exchangeable), and every method is solved on the fit part at B budgets across
// 30%-95% of the full cost, with and without --guarantee. Printed per dump and method: the share
// of (split, budget) cells whose eval mean cost exceeds B (Clopper-Pearson 95% interval), mean
// eval accuracy, and the accuracy paid for the guarantee (all budgets, and budgets >= 40%).
// Accuracy-drop mode (--drops): the share of cells whose eval accuracy is below the eval
// final-exit accuracy - eps. Also the shift check's firing rate on the re-splits and on the given
// split.
//
// Options: --resplits R (20), --budget LIST (the budget grammar of every command, relative to the
// full cost, default 30%:95%:14; budgets within 2% of the first exit's cost or below it are
// dropped, since they leave nothing to choose), --level L (0.95), --methods a,b,c
// (exact,single,geometric,ippp), --dumps names (all), --drops e1,e2 (0.005,0.01,0.02; "none" to
// skip), --drop-methods (single,exact), --seed S (1), --search-fraction F (auto: 0.8 for exact in
// budget mode, else 0.5),
// --guarantee-bound wsr|hoeffding-bentkus (wsr).
//
// "half-data price" is the price of solving the method on the guarantee's search part alone at B
// (no tightening, no calibration): it splits the price into the half of the data the search does
// not see and the tightening the certification needs.
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include "exitplan_paths.hpp"
#include "optim/guarantee.hpp"
#include "optim/shift.hpp"
#include "optim/solve.hpp"
#include "profiles/budget.hpp"
#include "profiles/dump.hpp"
#include "profiles/error.hpp"
#include "profiles/profile.hpp"

using namespace exitplan;

namespace {

struct DumpSpec {
  std::string name, dir, profile;
  bool scores_mode;
};

struct Pool {
  std::string name;
  ScoreMatrix scores;
  CorrectMatrix correct;
  ScoreOrder order;
  std::vector<double> stop_cost;
  std::vector<int> kept;
  int n_fit = 0, n_eval = 0;
  double full_cost = 0;
};

bool LoadPool(const DumpSpec& d, Pool* p) {
  if (!std::filesystem::exists(d.dir) || !std::filesystem::exists(d.profile)) {
    std::printf("SKIP %s: %s absent\n", d.name.c_str(), d.dir.c_str());
    return false;
  }
  DumpOptions o;
  o.score_order = d.scores_mode ? ScoreOrder::kAscending : ScoreOrder::kDescending;
  Dump dump = LoadDump(d.dir, o);
  if (!dump.has_eval()) {
    std::printf("SKIP %s: no eval split\n", d.name.c_str());
    return false;
  }
  const Measure m = d.scores_mode ? Measure::kConfidence : Measure::kMaxProb;
  const CostProfile prof = LoadProfile(d.profile);
  const ScoreMatrix& fs = dump.fit.Scores(m);
  const ScoreMatrix& es = dump.eval->Scores(m);
  const CorrectMatrix& fc = dump.fit.Correct(Target::kLabels);
  const CorrectMatrix& ec = dump.eval->Correct(Target::kLabels);
  p->name = d.name;
  p->n_fit = static_cast<int>(fs.cols());
  p->n_eval = static_cast<int>(es.cols());
  p->scores.resize(fs.rows(), fs.cols() + es.cols());
  p->scores << fs, es;
  p->correct.resize(fc.rows(), fc.cols() + ec.cols());
  p->correct << fc, ec;
  p->order = dump.fit.Order(m);
  p->kept = AllExits(dump.k);
  p->stop_cost = prof.StopCosts(p->kept);
  p->full_cost = prof.FullCost();
  return true;
}

// Clopper-Pearson interval for k successes in n, by bisection on the binomial tails.
void ClopperPearson(int k, int n, double* lo, double* hi) {
  const double a = 0.025;
  auto bis = [](auto f, double l, double h) {
    for (int i = 0; i < 100; ++i) {
      const double m = 0.5 * (l + h);
      if (f(m))
        l = m;
      else
        h = m;
    }
    return 0.5 * (l + h);
  };
  *lo = k == 0 ? 0.0 : bis([&](double p) { return 1.0 - BinomialCdf(k - 1, n, p) < a; }, 0.0, 1.0);
  *hi = k == n ? 1.0 : bis([&](double p) { return BinomialCdf(k, n, p) > a; }, 0.0, 1.0);
}

struct Tally {
  int cells = 0, viol = 0, fit_over = 0, solved = 0;
  double acc_sum = 0.0;
  // paired with the no-guarantee run of the same cell
  double price_sum = 0.0, price40_sum = 0.0;
  int price_n = 0, price40_n = 0;
  double half40_sum = 0.0;  // the search part alone at B, budgets >= 40%
  int half40_n = 0;
};

void Sub(const Pool& p, const std::vector<int>& idx, ScoreMatrix* s, CorrectMatrix* c) {
  s->resize(p.scores.rows(), static_cast<Eigen::Index>(idx.size()));
  c->resize(p.correct.rows(), static_cast<Eigen::Index>(idx.size()));
  for (std::size_t j = 0; j < idx.size(); ++j) {
    s->col(static_cast<Eigen::Index>(j)) = p.scores.col(idx[j]);
    c->col(static_cast<Eigen::Index>(j)) = p.correct.col(idx[j]);
  }
}

std::vector<std::string> Split(const std::string& s) {
  std::vector<std::string> out;
  std::stringstream ss(s);
  std::string item;
  while (std::getline(ss, item, ','))
    if (!item.empty()) out.push_back(item);
  return out;
}

}  // namespace

int main(int argc, char** argv) {
  std::setvbuf(stdout, nullptr, _IOLBF, 0);  // progress visible when redirected
  int resplits = 20;
  std::string budget_text = "30%:95%:14";
  unsigned seed = 1;
  double level = 0.95, search_fraction = std::nan("");  // auto
  GuaranteeBound bound = GuaranteeBound::kWsr;
  std::vector<std::string> methods = {"exact", "single", "geometric", "ippp"};
  std::vector<std::string> drop_methods = {"single", "exact"};
  std::vector<std::string> only;
  std::vector<double> drops = {0.005, 0.01, 0.02};
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string a = argv[i], v = argv[i + 1];
    if (a == "--resplits")
      resplits = std::stoi(v);
    else if (a == "--budget")
      budget_text = v;
    else if (a == "--search-fraction")
      search_fraction = std::stod(v);
    else if (a == "--guarantee-bound")
      bound = GuaranteeBoundFromString(v);
    else if (a == "--level")
      level = std::stod(v);
    else if (a == "--methods")
      methods = Split(v);
    else if (a == "--drop-methods")
      drop_methods = Split(v);
    else if (a == "--dumps")
      only = Split(v);
    else if (a == "--seed")
      seed = static_cast<unsigned>(std::stoul(v));
    else if (a == "--drops") {
      drops.clear();
      if (v != "none")
        for (const auto& x : Split(v)) drops.push_back(std::stod(x));
    } else {
      std::fprintf(stderr, "bench_resplit: unknown option %s\n", a.c_str());
      return 2;
    }
  }
  const std::string src = EXITPLAN_SOURCE_DIR, shared = std::string(EXITPLAN_SHARED_DIR) + "/data";
  const std::vector<DumpSpec> specs = {
      {"example", src + "/data/example", src + "/data/example/profile-flops.yaml", false},
      {"fmnist-resnet8", shared + "/fmnist-resnet8", shared + "/fmnist-resnet8/profile-flops.yaml",
       false},
      {"alex", shared + "/aaai21/alex", shared + "/aaai21/alex/profile.yaml", true},
      {"scan", shared + "/aaai21/scan", shared + "/aaai21/scan/profile.yaml", true},
      {"msdnet", shared + "/aaai21/msdnet", shared + "/aaai21/msdnet/profile.yaml", true},
  };
  std::vector<Budget> budget_list;
  try {
    budget_list = ParseBudgets(budget_text, "--budget");
    for (const Budget& b : budget_list) {
      if (!b.relative)
        throw InputError("--budget",
                         "'" + b.text +
                             "': give budgets relative to "
                             "the full cost (40%, 0.4x), the dumps have different units");
    }
  } catch (const InputError& e) {
    std::fprintf(stderr, "bench_resplit: %s\n", e.what());
    return 2;
  }
  std::printf(
      "bench_resplit: %d re-splits x budgets %s of the full cost, guarantee %g (%s, "
      "horizon = eval size, search fraction %s), seed %u\n",
      resplits, budget_text.c_str(), level, ToString(bound).c_str(),
      std::isnan(search_fraction) ? "auto" : std::to_string(search_fraction).c_str(), seed);
  const auto t0 = std::chrono::steady_clock::now();
  for (const DumpSpec& spec : specs) {
    if (!only.empty() && std::find(only.begin(), only.end(), spec.name) == only.end()) continue;
    Pool pool;
    if (!LoadPool(spec, &pool)) continue;
    const int total = pool.n_fit + pool.n_eval;
    // 30%-95% of the full cost, starting above the cheapest exit's cost when that is dearer
    // (a budget at the first exit's cost leaves nothing to choose).
    const double cheapest = pool.stop_cost[pool.kept.front()] / pool.full_cost;
    std::vector<double> budgets;
    for (const Budget& b : budget_list) {
      if (b.value > cheapest + 0.02) budgets.push_back(b.value * pool.full_cost);
    }
    if (budgets.empty()) {
      std::printf("SKIP %s: every budget is within 2%% of the first exit's cost %.3f\n",
                  pool.name.c_str(), cheapest);
      continue;
    }
    const int nbudgets = static_cast<int>(budgets.size());
    std::printf("%s: %d budgets %.3f-%.3f of the full cost %g (first exit %.3f)\n",
                pool.name.c_str(), nbudgets, budgets.front() / pool.full_cost,
                budgets.back() / pool.full_cost, pool.full_cost, cheapest);
    std::vector<Tally> plain(methods.size()), guar(methods.size());
    std::vector<Tally> dplain(drop_methods.size() * drops.size()),
        dguar(drop_methods.size() * drops.size());
    int shift_fired = 0, shift_tests = 0;
    for (int r = 0; r <= resplits; ++r) {
      // r = 0: the given split (only for the shift check); r >= 1: random re-splits.
      std::vector<int> perm(total);
      for (int i = 0; i < total; ++i) perm[i] = i;
      if (r > 0) {
        std::mt19937_64 rng(seed * 1000003ULL + static_cast<unsigned>(r));
        std::shuffle(perm.begin(), perm.end(), rng);
      }
      std::vector<int> fi(perm.begin(), perm.begin() + pool.n_fit),
          ei(perm.begin() + pool.n_fit, perm.end());
      std::sort(fi.begin(), fi.end());
      std::sort(ei.begin(), ei.end());
      ScoreMatrix fs, es;
      CorrectMatrix fc, ec;
      Sub(pool, fi, &fs, &fc);
      Sub(pool, ei, &es, &ec);
      ThresholdProblem fp;
      fp.scores = &fs;
      fp.correct = &fc;
      fp.order = pool.order;
      fp.kept = pool.kept;
      fp.stop_cost = pool.stop_cost;
      ThresholdProblem ep = fp;
      ep.scores = &es;
      ep.correct = &ec;
      // Shift check on the single method's answer at the middle budget.
      {
        ThresholdProblem p = fp;
        p.budget = budgets[nbudgets / 2];
        const ThresholdSummary s = Solve(Method::kSingle, p, SolverOptions{});
        if (s.ok()) {
          const ShiftResult sh = ShiftCheck(fp, ep, s.policy, 0.05);
          if (r == 0) {
            std::printf("%s given split: shift check p = %.3g (%s)\n", pool.name.c_str(),
                        sh.p_value, sh.shifted ? "fires" : "quiet");
          } else {
            ++shift_tests;
            shift_fired += sh.shifted ? 1 : 0;
          }
        }
      }
      if (r == 0) continue;
      for (std::size_t mi = 0; mi < methods.size(); ++mi) {
        const Method method = MethodFromString(methods[mi]);
        for (int b = 0; b < nbudgets; ++b) {
          ThresholdProblem p = fp;
          p.budget = budgets[b];
          SolverOptions o;
          o.seed = seed + static_cast<unsigned>(r);
          const ThresholdSummary s0 = Solve(method, p, o);
          o.guarantee.level = level;
          o.guarantee.horizon = pool.n_eval;
          o.guarantee.search_fraction = search_fraction;
          o.guarantee.bound = bound;
          const ThresholdSummary s1 = Solve(method, p, o);
          const bool ge40 = budgets[b] >= 0.40 * pool.full_cost - 1e-12;
          if (ge40 && s0.ok()) {
            // The search part alone at B (what the guarantee's search sees, untightened).
            const std::vector<int> part =
                GuaranteeSearchPart(fp.n(), o.seed, o.guarantee.SearchFraction(method, false));
            ScoreMatrix hs(fs.rows(), static_cast<Eigen::Index>(part.size()));
            CorrectMatrix hc(fc.rows(), static_cast<Eigen::Index>(part.size()));
            for (std::size_t j = 0; j < part.size(); ++j) {
              hs.col(static_cast<Eigen::Index>(j)) = fs.col(part[j]);
              hc.col(static_cast<Eigen::Index>(j)) = fc.col(part[j]);
            }
            ThresholdProblem hp = p;
            hp.scores = &hs;
            hp.correct = &hc;
            SolverOptions ho;
            ho.seed = o.seed;
            const ThresholdSummary sh = Solve(method, hp, ho);
            if (sh.ok()) {
              guar[mi].half40_sum +=
                  ep.Evaluate(s0.policy).accuracy - ep.Evaluate(sh.policy).accuracy;
              ++guar[mi].half40_n;
            }
          }
          double acc0 = NAN;
          for (int w = 0; w < 2; ++w) {
            const ThresholdSummary& s = w == 0 ? s0 : s1;
            Tally& t = w == 0 ? plain[mi] : guar[mi];
            ++t.cells;
            if (!s.ok()) continue;  // no policy returned: cannot violate (counted as cells)
            ++t.solved;
            const Evaluation e = ep.Evaluate(s.policy);
            if (s.fit.mean_cost > budgets[b] * (1 + 1e-12)) ++t.fit_over;
            if (e.mean_cost > budgets[b]) ++t.viol;
            t.acc_sum += e.accuracy;
            if (w == 0)
              acc0 = e.accuracy;
            else if (!std::isnan(acc0)) {
              t.price_sum += acc0 - e.accuracy;
              ++t.price_n;
              if (ge40) {
                t.price40_sum += acc0 - e.accuracy;
                ++t.price40_n;
              }
            }
          }
        }
      }
      // Accuracy-drop mode.
      double final_acc_eval = 0.0;
      for (Eigen::Index i = 0; i < ec.cols(); ++i) final_acc_eval += ec(pool.kept.back(), i);
      final_acc_eval /= static_cast<double>(ec.cols());
      for (std::size_t mi = 0; mi < drop_methods.size(); ++mi) {
        const Method method = MethodFromString(drop_methods[mi]);
        for (std::size_t di = 0; di < drops.size(); ++di) {
          ThresholdProblem p = fp;
          p.budget = pool.full_cost;
          SolverOptions o;
          o.seed = seed + static_cast<unsigned>(r);
          o.accuracy_drop = drops[di];
          const ThresholdSummary s0 = Solve(method, p, o);
          o.guarantee.level = level;
          o.guarantee.horizon = pool.n_eval;
          o.guarantee.search_fraction = search_fraction;
          o.guarantee.bound = bound;
          const ThresholdSummary s1 = Solve(method, p, o);
          for (int w = 0; w < 2; ++w) {
            const ThresholdSummary& s = w == 0 ? s0 : s1;
            Tally& t = (w == 0 ? dplain : dguar)[mi * drops.size() + di];
            ++t.cells;
            if (!s.ok()) continue;
            ++t.solved;
            const Evaluation e = ep.Evaluate(s.policy);
            if (e.accuracy < final_acc_eval - drops[di]) ++t.viol;
            t.acc_sum += e.mean_cost / pool.full_cost;  // relative eval cost
          }
        }
      }
    }
    const double secs =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    std::printf("\n== %s (fit %d, eval %d; %.0f s so far)\n", pool.name.c_str(), pool.n_fit,
                pool.n_eval, secs);
    double slo, shi;
    ClopperPearson(shift_fired, shift_tests, &slo, &shi);
    std::printf("shift check at level 0.05 on %d re-splits: fired %d (%.1f%%, CI %.1f-%.1f%%)\n",
                shift_tests, shift_fired, 100.0 * shift_fired / std::max(1, shift_tests), 100 * slo,
                100 * shi);
    std::printf("%-10s | %-27s %-9s %-7s | %-27s %-9s %-7s | %-9s %-9s %-9s\n", "method",
                "viol. w/o guarantee (CI)", "eval acc", "fit>B", "viol. with guarantee (CI)",
                "eval acc", "solved", "price", "price>=40", "half>=40");
    for (std::size_t mi = 0; mi < methods.size(); ++mi) {
      const Tally& a = plain[mi];
      const Tally& g = guar[mi];
      double alo, ahi, glo, ghi;
      ClopperPearson(a.viol, a.cells, &alo, &ahi);
      ClopperPearson(g.viol, g.cells, &glo, &ghi);
      char ca[64], cg[64];
      std::snprintf(ca, sizeof ca, "%5.1f%% (%4.1f-%4.1f)", 100.0 * a.viol / a.cells, 100 * alo,
                    100 * ahi);
      std::snprintf(cg, sizeof cg, "%5.1f%% (%4.1f-%4.1f)", 100.0 * g.viol / g.cells, 100 * glo,
                    100 * ghi);
      std::printf(
          "%-10s | %-27s %-9.5f %-7d | %-27s %-9.5f %3d/%-3d | %+8.3fpp %+8.3fpp %+8.3fpp\n",
          methods[mi].c_str(), ca, a.acc_sum / std::max(1, a.solved), a.fit_over, cg,
          g.acc_sum / std::max(1, g.solved), g.solved, g.cells,
          100.0 * g.price_sum / std::max(1, g.price_n),
          100.0 * g.price40_sum / std::max(1, g.price40_n),
          100.0 * g.half40_sum / std::max(1, g.half40_n));
    }
    if (!drops.empty()) {
      std::printf("accuracy-drop mode: eval accuracy < eval final-exit accuracy - eps\n");
      std::printf("%-10s %-6s | %-27s %-9s | %-27s %-9s %-7s\n", "method", "eps",
                  "viol. w/o guarantee (CI)", "rel. cost", "viol. with guarantee (CI)", "rel. cost",
                  "solved");
      for (std::size_t mi = 0; mi < drop_methods.size(); ++mi) {
        for (std::size_t di = 0; di < drops.size(); ++di) {
          const Tally& a = dplain[mi * drops.size() + di];
          const Tally& g = dguar[mi * drops.size() + di];
          double alo, ahi, glo, ghi;
          ClopperPearson(a.viol, a.cells, &alo, &ahi);
          ClopperPearson(g.viol, g.cells, &glo, &ghi);
          char ca[64], cg[64];
          std::snprintf(ca, sizeof ca, "%5.1f%% (%4.1f-%4.1f)", 100.0 * a.viol / a.cells, 100 * alo,
                        100 * ahi);
          std::snprintf(cg, sizeof cg, "%5.1f%% (%4.1f-%4.1f)", 100.0 * g.viol / g.cells, 100 * glo,
                        100 * ghi);
          std::printf("%-10s %-6g | %-27s %-9.4f | %-27s %-9.4f %3d/%-3d\n",
                      drop_methods[mi].c_str(), drops[di], ca, a.acc_sum / std::max(1, a.solved),
                      cg, g.acc_sum / std::max(1, g.solved), g.solved, g.cells);
        }
      }
    }
    std::fflush(stdout);
  }
  return 0;
}
