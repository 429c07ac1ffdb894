// Re-split benchmark of the deployment guarantee and the shift check (docs/guarantees.md).
//
// For each dump of data/ and EXITPLAN_SHARED_DIR/data (skipped with a message when absent): the
// fit and eval splits are pooled and re-split at random R times into parts of the original sizes
// (so fit and eval are exchangeable), and every method is solved on the fit part at every budget
// (SolveBudgets, as `exitplan thresholds` does), with and without --guarantee. Printed per dump and
// method: the share of (split, budget) cells whose eval mean cost exceeds B with two 95% intervals:
// Clopper-Pearson over the cells as if they were independent (they are not: the budgets of one
// re-split share its split, so this one is optimistic), and the valid one by re-split (each
// re-split's share of violating cells is one i.i.d. draw in [0, 1]; BoundedMeanInterval in
// optim/guarantee.hpp), then mean eval accuracy, and the accuracy paid for the guarantee (all
// budgets, and budgets >= 40%). Accuracy-drop mode (--drops): the share of cells whose eval
// accuracy is below the eval final-exit accuracy - eps (with the guarantee, among the certified
// cells). The shift check (optim/shift.hpp) of each method at the middle budget: its firing rate on
// the re-splits, with and without the guarantee, beside the former in-sample test (the returned
// policy, fit vs eval), and its p-value on the given split.
//
// Options: --resplits R (20), --drop-resplits R (= R; accuracy-drop mode only),
// --shift-resplits R (= R; the shift check only), -j N (2: re-splits run in parallel),
// --budget LIST (the budget grammar of every command, relative to the full cost, default
// 30%:95%:25; budgets at or below the first exit's cost are dropped and named, since no policy
// meets them), --level L (0.95), --methods a,b,c (exact,single,geometric,ippp; "none"),
// --dumps names (all: example, fmnist-resnet8, alex, scan, msdnet), --drops e1,e2 (0.01,0.02;
// "none" to skip), --drop-methods (single,exact), --seed S (1), --search-fraction F (auto: the
// guarantee's own default), --guarantee-bound wsr|wsr-unrounded|hoeffding-bentkus (wsr),
// --half-price on|off (on), --cells FILE (append one CSV row per (method, budget, re-split) cell:
// dump,method,resplit,budget,acc_without,cost_without,acc_with,cost_with,search_n,test; costs
// relative to the full cost, nan where no policy was returned).
//
// fmnist-resnet8 is read as a logits dump (val = fit, test = eval) with its measured latency
// profile, profile-ms.yaml; data/example with its FLOPs profile; the aaai21 dumps in scores mode
// (ascending) with their own profiles.
//
// "half-data price" is the price of solving the method on the guarantee's search part alone at B
// (no tightening, no calibration; the search part each cell used, whose size `exact` chooses per
// budget): it splits the price into the part of the data the search does not see and the
// tightening the certification needs. Per budget the decomposition also prints the search-part
// tightening of the returned candidate (B minus its search budget), the candidates certified and
// on the path, and the search part's size (means over the certified cells).
#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <map>
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
#include "profiles/parallel.hpp"
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

  // The threshold problem over every pooled sample (views of this pool).
  ThresholdProblem Problem() const {
    ThresholdProblem all;
    all.scores = &scores;
    all.correct = &correct;
    all.order = order;
    all.kept = kept;
    all.stop_cost = stop_cost;
    return all;
  }
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

struct Tally {
  int cells = 0, viol = 0, fit_over = 0, solved = 0;
  // Per re-split with cells, in split order: its violating cells and cells (the re-split-level
  // interval; a tally of one re-split leaves these empty and Add records its viol and cells).
  std::vector<int> split_viol, split_cells;
  double acc_sum = 0.0;
  // paired with the no-guarantee run of the same cell
  double price_sum = 0.0, price40_sum = 0.0;
  int price_n = 0, price40_n = 0;
  double half40_sum = 0.0;  // the search part alone at B, budgets >= 40%
  int half40_n = 0;
  std::vector<double> price_b;  // per budget: price sum and cells
  std::vector<int> price_bn;
  std::vector<double> tight_b;       // per budget: eval mean cost without minus with (paired cells)
  std::vector<int> viol_b, cells_b;  // per budget: violations and cells
  // Per budget, with the guarantee (the price's decomposition): the search-part tightening of the
  // returned candidate (B minus its search budget, relative to the full cost), the certified
  // candidates and the path's length (sums over the certified cells), and the half-data price.
  std::vector<double> stight_b, cert_b, path_b, half_b, search_b;
  std::vector<int> cert_n, half_n;
  // With the guarantee: how often each calibration test was chosen (GuaranteeReport::test).
  std::map<std::string, int> tests;
  // Record this tally's own counts as one re-split's (the first term of a sum).
  void StartSplits() {
    if (split_cells.empty() && cells > 0) {
      split_viol.push_back(viol);
      split_cells.push_back(cells);
    }
  }
  void Add(const Tally& o) {
    if (o.split_cells.empty()) {
      if (o.cells > 0) {
        split_viol.push_back(o.viol);
        split_cells.push_back(o.cells);
      }
    } else {
      split_viol.insert(split_viol.end(), o.split_viol.begin(), o.split_viol.end());
      split_cells.insert(split_cells.end(), o.split_cells.begin(), o.split_cells.end());
    }
    for (const auto& [name, k] : o.tests) tests[name] += k;
    auto add = [](auto& a, const auto& b) {
      a.resize(std::max(a.size(), b.size()), 0);
      for (std::size_t i = 0; i < b.size(); ++i) a[i] += b[i];
    };
    add(stight_b, o.stight_b);
    add(cert_b, o.cert_b);
    add(path_b, o.path_b);
    add(half_b, o.half_b);
    add(search_b, o.search_b);
    add(cert_n, o.cert_n);
    add(half_n, o.half_n);
    viol_b.resize(std::max(viol_b.size(), o.viol_b.size()), 0);
    cells_b.resize(std::max(cells_b.size(), o.cells_b.size()), 0);
    for (std::size_t i = 0; i < o.viol_b.size(); ++i) {
      viol_b[i] += o.viol_b[i];
      cells_b[i] += o.cells_b[i];
    }
    price_b.resize(std::max(price_b.size(), o.price_b.size()), 0.0);
    price_bn.resize(std::max(price_bn.size(), o.price_bn.size()), 0);
    tight_b.resize(std::max(tight_b.size(), o.tight_b.size()), 0.0);
    for (std::size_t i = 0; i < o.tight_b.size(); ++i) tight_b[i] += o.tight_b[i];
    for (std::size_t i = 0; i < o.price_b.size(); ++i) {
      price_b[i] += o.price_b[i];
      price_bn[i] += o.price_bn[i];
    }
    cells += o.cells;
    viol += o.viol;
    fit_over += o.fit_over;
    solved += o.solved;
    acc_sum += o.acc_sum;
    price_sum += o.price_sum;
    price40_sum += o.price40_sum;
    price_n += o.price_n;
    price40_n += o.price40_n;
    half40_sum += o.half40_sum;
    half40_n += o.half40_n;
  }
};

// The shift check's outcomes over splits: fired / tested, for one method.
struct ShiftTally {
  int tested = 0, fired = 0;
  void Count(const ShiftResult& r) {
    if (!r.tested) return;
    ++tested;
    fired += r.shifted ? 1 : 0;
  }
  void Add(const ShiftTally& o) {
    tested += o.tested;
    fired += o.fired;
  }
};

// What one re-split (one work item) adds up to; summed in split order after the parallel loop.
struct SplitOut {
  std::vector<Tally> plain, guar, dplain, dguar;
  // per method at the middle budget: the held-out check without / with the guarantee, and the
  // former in-sample test (the policy fitted on the whole fit split, fit vs eval)
  std::vector<ShiftTally> shift, shift_g, shift_in;
  std::vector<double> p_given, p_given_g, p_given_in;  // the given split only (item 0)
  std::vector<double> secs;                            // per method, then the drop mode
  std::string cells;  // --cells: one CSV row per (method, budget) cell of this re-split
};

std::vector<std::string> Split(const std::string& s) {
  std::vector<std::string> out;
  std::stringstream ss(s);
  std::string item;
  while (std::getline(ss, item, ','))
    if (!item.empty()) out.push_back(item);
  return out;
}

// A mean in percentage points, or "-" when nothing was counted.
std::string Pp(double sum, int n) {
  if (n == 0) return "-";
  char b[32];
  std::snprintf(b, sizeof b, "%+8.3fpp", 100.0 * sum / n);
  return b;
}

// `v` printed with `fmt`, or "-" where it is not defined (NaN: no floor where the budget does not
// bind, no ratio where the floor is 0).
std::string Fixed(double v, const char* fmt) {
  if (std::isnan(v)) return "-";
  char buf[64];
  std::snprintf(buf, sizeof buf, fmt, v);
  return buf;
}

// v[i], or 0 past the end of v (a budget no cell reached).
template <typename T>
T At(const std::vector<T>& v, int i) {
  return i < static_cast<int>(v.size()) ? v[i] : T{};
}

// k/n with the Clopper-Pearson 95% interval: valid when the n cells are independent (one cell per
// re-split: the per-budget lines, the shift check, accuracy-drop mode).
std::string Rate(int k, int n) {
  if (n == 0) return "0/0 (none run)";  // no rate and no interval to state
  const MeanInterval ci = ClopperPearson(k, n);
  char b[80];
  std::snprintf(b, sizeof b, "%d/%d = %5.1f%% (%4.1f-%4.1f)", k, n, n ? 100.0 * k / n : 0.0,
                100 * ci.lo, 100 * ci.hi);
  return b;
}

// A violation share pooled over the budgets: k/n with the Clopper-Pearson 95% interval over the
// cells (as if independent, which they are not: the budgets of one re-split share its split), and
// the 95% interval by re-split, valid: the re-splits are i.i.d., so the shares v_r = (violating
// cells of r) / (cells of r) are i.i.d. in [0, 1] and BoundedMeanInterval bounds their mean for
// any law (a Clopper-Pearson interval on R would assume each v_r is 0 or 1). With equal cells per
// re-split (every budget-mode tally: each re-split runs every budget) the pooled share k/n is the
// mean of the v_r; otherwise the interval is for the unweighted mean of the v_r, printed with it.
std::string PooledRate(const Tally& t) {
  const int k = t.viol, n = t.cells;
  if (n == 0) return "0/0 (none run)";
  const MeanInterval ci = ClopperPearson(k, n);
  std::vector<double> v;
  bool equal = true;
  for (std::size_t r = 0; r < t.split_cells.size(); ++r) {
    v.push_back(static_cast<double>(t.split_viol[r]) / t.split_cells[r]);
    equal = equal && t.split_cells[r] == t.split_cells[0];
  }
  const MeanInterval by = BoundedMeanInterval(v);
  char b[160];
  if (equal) {
    std::snprintf(b, sizeof b, "%d/%d = %5.1f%% (%4.1f-%4.1f; by re-split %4.1f-%4.1f)", k, n,
                  100.0 * k / n, 100 * ci.lo, 100 * ci.hi, 100 * by.lo, 100 * by.hi);
  } else {
    double mean = 0.0;
    for (double x : v) mean += x / static_cast<double>(v.size());
    std::snprintf(b, sizeof b,
                  "%d/%d = %5.1f%% (%4.1f-%4.1f; by re-split, mean share %4.1f%%: %4.1f-%4.1f)", k,
                  n, 100.0 * k / n, 100 * ci.lo, 100 * ci.hi, 100 * mean, 100 * by.lo, 100 * by.hi);
  }
  return b;
}

}  // namespace

int main(int argc, char** argv) {
  std::setvbuf(stdout, nullptr, _IOLBF, 0);  // progress visible when redirected
  int resplits = 20, drop_resplits = -1, shift_resplits = -1, jobs = 2;
  std::string budget_text = "30%:95%:25";
  unsigned seed = 1;
  double level = 0.95, search_fraction = std::nan("");  // auto
  bool half = true;
  std::string cells_path;  // --cells FILE: per-cell CSV (empty: none)
  GuaranteeBound bound = GuaranteeBound::kWsr;
  std::vector<std::string> methods = {"exact", "single", "geometric", "ippp"};
  std::vector<std::string> drop_methods = {"single", "exact"};
  std::vector<std::string> only;
  std::vector<double> drops = {0.01, 0.02};
  try {
    for (int i = 1; i < argc; i += 2) {
      const std::string a = argv[i];
      if (i + 1 >= argc) throw InputError(a, "needs a value");
      const std::string v = argv[i + 1];
      if (a == "--resplits")
        resplits = std::stoi(v);
      else if (a == "--drop-resplits")
        drop_resplits = std::stoi(v);
      else if (a == "--shift-resplits")
        shift_resplits = std::stoi(v);
      else if (a == "-j" || a == "--jobs")
        jobs = std::stoi(v);
      else if (a == "--budget")
        budget_text = v;
      else if (a == "--search-fraction")
        search_fraction = std::stod(v);
      else if (a == "--guarantee-bound")
        bound = GuaranteeBoundFromString(v);
      else if (a == "--level")
        level = std::stod(v);
      else if (a == "--methods")
        methods = v == "none" ? std::vector<std::string>{} : Split(v);
      else if (a == "--drop-methods")
        drop_methods = Split(v);
      else if (a == "--dumps")
        only = Split(v);
      else if (a == "--seed")
        seed = static_cast<unsigned>(std::stoul(v));
      else if (a == "--half-price")
        half = v != "off";
      else if (a == "--cells")
        cells_path = v;
      else if (a == "--drops") {
        drops.clear();
        if (v != "none")
          for (const auto& x : Split(v)) drops.push_back(std::stod(x));
      } else {
        throw InputError(a, "unknown option");
      }
    }
    for (const auto& m : methods) MethodFromString(m, "--methods");
    for (const auto& m : drop_methods) MethodFromString(m, "--drop-methods");
    if (resplits < 0 || jobs < 1) throw InputError("--resplits/-j", "must be >= 0 / >= 1");
  } catch (const std::exception& e) {
    std::fprintf(stderr, "bench_resplit: %s\n", e.what());
    return 2;
  }
  if (!cells_path.empty()) {
    std::FILE* f = std::fopen(cells_path.c_str(), "a");
    if (f == nullptr) {
      std::fprintf(stderr, "bench_resplit: --cells %s: cannot open for writing\n",
                   cells_path.c_str());
      return 2;
    }
    std::fclose(f);
  }
  if (drop_resplits < 0) drop_resplits = resplits;
  if (shift_resplits < 0) shift_resplits = resplits;
  const std::string src = EXITPLAN_SOURCE_DIR, shared = std::string(EXITPLAN_SHARED_DIR) + "/data";
  // fmnist-resnet8: its val/test logits and the measured latency profile (its README: one thread,
  // batch 1, median), as the published reference results on it use.
  const std::vector<DumpSpec> specs = {
      {"example", src + "/data/example", src + "/data/example/profile-flops.yaml", false},
      {"fmnist-resnet8", shared + "/fmnist-resnet8", shared + "/fmnist-resnet8/profile-ms.yaml",
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
      "bench_resplit: %d re-splits (accuracy-drop mode: %d) x budgets %s of the full cost, "
      "guarantee %g (%s, horizon = eval size, search fraction %s), seed %u, %d jobs\n",
      resplits, drops.empty() ? 0 : drop_resplits, budget_text.c_str(), level,
      ToString(bound).c_str(),
      std::isnan(search_fraction) ? "auto" : std::to_string(search_fraction).c_str(), seed, jobs);
  const auto t0 = std::chrono::steady_clock::now();
  for (const DumpSpec& spec : specs) {
    if (!only.empty() && std::find(only.begin(), only.end(), spec.name) == only.end()) continue;
    Pool pool;
    if (!LoadPool(spec, &pool)) continue;
    const auto td = std::chrono::steady_clock::now();
    const int total = pool.n_fit + pool.n_eval;
    // Budgets at or below the first exit's cost are dropped: no policy meets them (every sample
    // stopping at the first exit costs that much), so they would count as cells that cannot be
    // solved, not as cells that hold.
    const double cheapest = pool.stop_cost[pool.kept.front()] / pool.full_cost;
    std::vector<double> budgets;
    std::string dropped;
    for (const Budget& b : budget_list) {
      if (b.value > cheapest * (1 + 1e-9)) {
        budgets.push_back(b.value * pool.full_cost);
      } else {
        dropped += (dropped.empty() ? "" : ",") + b.text;
      }
    }
    if (budgets.empty()) {
      std::printf("SKIP %s: every budget is at or below the first exit's cost %.3f\n",
                  pool.name.c_str(), cheapest);
      continue;
    }
    const int nbudgets = static_cast<int>(budgets.size());
    std::printf(
        "%s: %d budgets %.3f-%.3f of the full cost %g (first exit %.3f)%s%s\n", pool.name.c_str(),
        nbudgets, budgets.front() / pool.full_cost, budgets.back() / pool.full_cost, pool.full_cost,
        cheapest,
        dropped.empty() ? "" : "; dropped, at or below the first exit's cost: ", dropped.c_str());
    const std::size_t nm = methods.size(), nd = drop_methods.size() * drops.size();
    const double mid = budgets[nbudgets / 2];
    // Two floors, both computed on the pool (the pooled fit + eval samples, standing in for the
    // population), per method and budget B. The method solved on the pool at B has per-sample
    // cost sd s (s' at the tightened budget: one fixed-point step); z = 1.6449 (the normal 95%
    // quantile; M >= 5,000 here).
    // * The oracle floor: an oracle that knows the population must keep its population mean
    //   below B - z s' / sqrt(M) (the mean of M fresh draws exceeds it by more with probability
    //   0.05).
    // * The learning floor: a method that learns the population from the N fit samples must in
    //   addition leave room for the noise of its own estimate: B - z s' sqrt(1/N + 1/M) (the
    //   fresh mean minus the fit estimate has sd s sqrt(1/N + 1/M); docs/guarantees.md states the
    //   argument and its assumptions).
    // Each tightening is converted to accuracy with the local slope of the pool's accuracy / mean
    // cost curve: a least-squares line through the method solved on the pool at kSlopePoints
    // budgets spread evenly over [B - g_L - w, B + w], g_L the learning tightening,
    // w = max(g_L / 2, 1 % of the full cost) (the difference of two pool accuracies at nearby
    // budgets is noisy at the 0.01-0.05 pp level and often 0 on the flat steps of the curve).
    std::vector<std::vector<double>> oracle(nm, std::vector<double>(nbudgets, NAN));
    std::vector<std::vector<double>> oracle_gap(nm, std::vector<double>(nbudgets, NAN));
    std::vector<std::vector<double>> learn(nm, std::vector<double>(nbudgets, NAN));
    std::vector<std::vector<double>> learn_gap(nm, std::vector<double>(nbudgets, NAN));
    if (resplits > 0) {
      const ThresholdProblem all = pool.Problem();
      const double z = 1.6448536269514722;
      const double k_oracle = 1.0 / std::sqrt(pool.n_eval);
      const double k_learn = std::sqrt(1.0 / pool.n_fit + 1.0 / pool.n_eval);
      const int kSlopePoints = 7;
      ParallelFor(nm, jobs, [&](std::size_t mi) {
        const Method method = MethodFromString(methods[mi]);
        SolverOptions o;
        o.seed = seed;
        const std::vector<ThresholdSummary> at_b = SolveBudgets(method, all, budgets, o);
        auto sd_of = [&](const ThresholdSummary& s) {
          std::vector<double> c;
          std::vector<std::uint8_t> k;
          PerSample(all, s.policy, &c, &k);
          double mu = 0.0, v = 0.0;
          for (double x : c) mu += x;
          mu /= static_cast<double>(c.size());
          for (double x : c) v += (x - mu) * (x - mu);
          return std::sqrt(v / static_cast<double>(c.size()));
        };
        // The tightening z s' k for the factor k (one fixed-point step for s').
        auto tightening = [&](double k) {
          std::vector<double> gap(nbudgets, NAN), tight(nbudgets);
          for (int b = 0; b < nbudgets; ++b)
            tight[b] = budgets[b] - (at_b[b].ok() ? z * sd_of(at_b[b]) * k : 0.0);
          const std::vector<ThresholdSummary> at_t = SolveBudgets(method, all, tight, o);
          for (int b = 0; b < nbudgets; ++b)
            if (at_b[b].ok() && at_t[b].ok()) gap[b] = z * sd_of(at_t[b]) * k;
          return gap;
        };
        const std::vector<double> go = tightening(k_oracle), gl = tightening(k_learn);
        const double first = pool.stop_cost[pool.kept.front()];
        std::vector<double> window;
        for (int b = 0; b < nbudgets; ++b) {
          const double g = std::isnan(gl[b]) ? 0.0 : gl[b];
          const double w = std::max(0.5 * g, 0.01 * pool.full_cost);
          const double lo = std::max(first * (1 + 1e-6), budgets[b] - g - w);
          const double hi = budgets[b] + w;
          for (int i = 0; i < kSlopePoints; ++i)
            window.push_back(lo + (hi - lo) * i / (kSlopePoints - 1));
        }
        const std::vector<ThresholdSummary> at_w = SolveBudgets(method, all, window, o);
        for (int b = 0; b < nbudgets; ++b) {
          if (std::isnan(gl[b])) continue;
          double sx = 0, sy = 0, sxx = 0, sxy = 0;
          int m = 0;
          for (int i = 0; i < kSlopePoints; ++i) {
            const ThresholdSummary& s = at_w[static_cast<std::size_t>(b * kSlopePoints + i)];
            if (!s.ok()) continue;
            const double x = s.fit.mean_cost / pool.full_cost, y = s.fit.accuracy;
            sx += x;
            sy += y;
            sxx += x * x;
            sxy += x * y;
            ++m;
          }
          const double den = m * sxx - sx * sx;
          if (m < 2 || !(den > 0.0)) continue;
          const double slope = (m * sxy - sx * sy) / den;  // accuracy per unit relative cost
          oracle_gap[mi][b] = go[b] / pool.full_cost;
          learn_gap[mi][b] = gl[b] / pool.full_cost;
          oracle[mi][b] = slope * oracle_gap[mi][b];
          learn[mi][b] = slope * learn_gap[mi][b];
        }
      });
    }
    // Item 0: the given split (the shift check only); items 1..: random re-splits.
    const int items = std::max({resplits, shift_resplits, drops.empty() ? 0 : drop_resplits}) + 1;
    std::vector<SplitOut> outs(items);
    std::atomic<int> done{0};
    ParallelFor(static_cast<std::size_t>(items), jobs, [&](std::size_t item) {
      const int r = static_cast<int>(item);
      SplitOut& out = outs[item];
      struct Done {  // progress on stderr, whichever way the item ends
        std::atomic<int>& n;
        const std::string& name;
        int of;
        ~Done() {
          if (const int d = ++n; d % 5 == 0 || d == of)
            std::fprintf(stderr, "bench_resplit: %s %d/%d splits\n", name.c_str(), d, of);
        }
      } progress{done, pool.name, items};
      out.plain.resize(nm);
      out.guar.resize(nm);
      out.dplain.resize(nd);
      out.dguar.resize(nd);
      out.shift.resize(nm);
      out.shift_g.resize(nm);
      out.shift_in.resize(nm);
      out.p_given.assign(nm, NAN);
      out.p_given_g.assign(nm, NAN);
      out.p_given_in.assign(nm, NAN);
      out.secs.assign(nm + 1, 0.0);
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
      const ThresholdProblem all = pool.Problem();
      const SampleSubset fsub(all, fi), esub(all, ei);
      const ThresholdProblem& fp = fsub.problem;
      const ThresholdProblem& ep = esub.problem;
      const bool budget_mode = r <= resplits, shift_split = r <= shift_resplits;
      for (std::size_t mi = 0; mi < nm; ++mi) {
        if (!budget_mode && !shift_split) break;
        const auto tm = std::chrono::steady_clock::now();
        const Method method = MethodFromString(methods[mi]);
        SolverOptions o;
        o.seed = seed + static_cast<unsigned>(r);
        SolverOptions og = o;
        og.guarantee.level = level;
        og.guarantee.horizon = pool.n_eval;
        og.guarantee.search_fraction = search_fraction;
        og.guarantee.bound = bound;
        // The shift check at the middle budget, as `exitplan thresholds` runs it.
        if (r == 0 || shift_split) {
          const ShiftResult sh = ShiftChecks(method, fp, ep, {mid}, o)[0];
          const ShiftResult shg = ShiftChecks(method, fp, ep, {mid}, og)[0];
          ThresholdProblem pm = fp;
          pm.budget = mid;
          const ThresholdSummary sm = Solve(method, pm, o);
          const ShiftResult shi =
              sm.has_policy() ? TwoSampleShiftTest(fp, ep, sm.policy) : ShiftResult{};
          if (r == 0) {
            out.p_given[mi] = sh.p_value;
            out.p_given_g[mi] = shg.p_value;
            out.p_given_in[mi] = shi.p_value;
          } else {
            out.shift[mi].Count(sh);
            out.shift_g[mi].Count(shg);
            out.shift_in[mi].Count(shi);
          }
        }
        if (r == 0 || !budget_mode) {
          out.secs[mi] +=
              std::chrono::duration<double>(std::chrono::steady_clock::now() - tm).count();
          continue;
        }
        const std::vector<ThresholdSummary> s0 = SolveBudgets(method, fp, budgets, o);
        const std::vector<ThresholdSummary> s1 = SolveBudgets(method, fp, budgets, og);
        // The search part alone at B (what the guarantee's search sees, untightened), budgets
        // >= 40%: the search part each guaranteed cell used (its size, from the report; `exact`
        // chooses it per budget), solved at the budgets that share it.
        std::vector<ThresholdSummary> sh40(nbudgets);
        if (half) {
          std::map<int, std::vector<int>> by_size;
          for (int b = 0; b < nbudgets; ++b) {
            if (budgets[b] < 0.40 * pool.full_cost - 1e-12) continue;
            const int ns = s1[b].guarantee.search_n > 0
                               ? s1[b].guarantee.search_n
                               : static_cast<int>(std::lround(
                                     og.guarantee.SearchFraction(method, false) * fp.n()));
            by_size[ns].push_back(b);
          }
          for (const auto& [ns, idx] : by_size) {
            const SampleSubset part(
                fp, GuaranteeSearchPart(fp.n(), og.seed, static_cast<double>(ns) / fp.n()));
            std::vector<double> bs;
            for (int b : idx) bs.push_back(budgets[b]);
            const std::vector<ThresholdSummary> r = SolveBudgets(method, part.problem, bs, o);
            for (std::size_t i = 0; i < idx.size(); ++i) sh40[idx[i]] = r[i];
          }
        }
        for (int b = 0; b < nbudgets; ++b) {
          const bool ge40 = budgets[b] >= 0.40 * pool.full_cost - 1e-12;
          double acc0 = NAN, cost0 = NAN;
          for (int w = 0; w < 2; ++w) {
            const ThresholdSummary& s = w == 0 ? s0[b] : s1[b];
            Tally& t = w == 0 ? out.plain[mi] : out.guar[mi];
            ++t.cells;
            t.viol_b.resize(nbudgets, 0);
            t.cells_b.resize(nbudgets, 0);
            ++t.cells_b[b];
            if (w == 1 && !s.guarantee.test.empty()) ++t.tests[s.guarantee.test];
            if (!s.ok()) continue;  // no policy returned: cannot violate (counted as cells)
            ++t.solved;
            const Evaluation e = ep.Evaluate(s.policy);
            if (w == 1 && s.guarantee.on()) {
              t.stight_b.resize(nbudgets, 0.0);
              t.cert_b.resize(nbudgets, 0.0);
              t.path_b.resize(nbudgets, 0.0);
              t.cert_n.resize(nbudgets, 0);
              t.search_b.resize(nbudgets, 0.0);
              t.search_b[b] += s.guarantee.search_n;
              if (!std::isnan(s.fit_budget))
                t.stight_b[b] += (budgets[b] - s.fit_budget) / pool.full_cost;
              t.cert_b[b] += s.guarantee.certified;
              t.path_b[b] += s.guarantee.path_length;
              ++t.cert_n[b];
            }
            if (s.fit.mean_cost > budgets[b] * (1 + 1e-12)) ++t.fit_over;
            if (e.mean_cost > budgets[b]) {
              ++t.viol;
              ++t.viol_b[b];
            }
            t.acc_sum += e.accuracy;
            if (w == 0) {
              acc0 = e.accuracy;
              cost0 = e.mean_cost;
            } else if (!std::isnan(acc0)) {
              t.tight_b.resize(nbudgets, 0.0);
              t.tight_b[b] += (cost0 - e.mean_cost) / pool.full_cost;
              t.price_sum += acc0 - e.accuracy;
              ++t.price_n;
              t.price_b.resize(nbudgets, 0.0);
              t.price_bn.resize(nbudgets, 0);
              t.price_b[b] += acc0 - e.accuracy;
              ++t.price_bn[b];
              if (ge40) {
                t.price40_sum += acc0 - e.accuracy;
                ++t.price40_n;
              }
            }
          }
          if (!cells_path.empty()) {
            // One row per cell: eval accuracy and relative cost without / with the guarantee
            // (NaN: no policy), the guarantee's search part and test.
            Evaluation e0, e1;
            e0.accuracy = e0.mean_cost = e1.accuracy = e1.mean_cost = NAN;
            if (s0[b].ok()) e0 = ep.Evaluate(s0[b].policy);
            if (s1[b].ok()) e1 = ep.Evaluate(s1[b].policy);
            char row[512];
            std::snprintf(row, sizeof row, "%s,%s,%d,%.4f,%.6f,%.6f,%.6f,%.6f,%d,%s\n",
                          pool.name.c_str(), methods[mi].c_str(), r, budgets[b] / pool.full_cost,
                          e0.accuracy, e0.mean_cost / pool.full_cost, e1.accuracy,
                          e1.mean_cost / pool.full_cost, s1[b].guarantee.search_n,
                          s1[b].guarantee.test.c_str());
            out.cells += row;
          }
          if (ge40 && half && s0[b].ok()) {
            if (sh40[b].ok()) {
              const double hp =
                  ep.Evaluate(s0[b].policy).accuracy - ep.Evaluate(sh40[b].policy).accuracy;
              Tally& t = out.guar[mi];
              t.half40_sum += hp;
              ++t.half40_n;
              t.half_b.resize(nbudgets, 0.0);
              t.half_n.resize(nbudgets, 0);
              t.half_b[b] += hp;
              ++t.half_n[b];
            }
          }
        }
        out.secs[mi] +=
            std::chrono::duration<double>(std::chrono::steady_clock::now() - tm).count();
      }
      // Accuracy-drop mode.
      if (r == 0 || r > drop_resplits || drops.empty()) return;
      const auto tdm = std::chrono::steady_clock::now();
      double final_acc_eval = 0.0;
      for (Eigen::Index i = 0; i < ep.correct->cols(); ++i)
        final_acc_eval += (*ep.correct)(pool.kept.back(), i);
      final_acc_eval /= static_cast<double>(ep.correct->cols());
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
          // Paired by cell (both returned a policy): the eval cost with over without the
          // guarantee (price_sum), and the eval accuracy with minus without (price40_sum).
          if (s0.ok() && s1.ok()) {
            const Evaluation e0 = ep.Evaluate(s0.policy), e1 = ep.Evaluate(s1.policy);
            Tally& t = out.dguar[mi * drops.size() + di];
            t.price_sum += e1.mean_cost / e0.mean_cost;
            t.price40_sum += e1.accuracy - e0.accuracy;
            ++t.price_n;
          }
          for (int w = 0; w < 2; ++w) {
            const ThresholdSummary& s = w == 0 ? s0 : s1;
            Tally& t = (w == 0 ? out.dplain : out.dguar)[mi * drops.size() + di];
            ++t.cells;
            if (!s.ok()) continue;
            ++t.solved;
            const Evaluation e = ep.Evaluate(s.policy);
            if (e.accuracy < final_acc_eval - drops[di]) ++t.viol;
            t.acc_sum += e.mean_cost / pool.full_cost;  // relative eval cost
          }
        }
      }
      out.secs[nm] += std::chrono::duration<double>(std::chrono::steady_clock::now() - tdm).count();
    });
    // Sum in split order (the output does not depend on the thread count).
    if (!cells_path.empty()) {
      std::FILE* f = std::fopen(cells_path.c_str(), "a");
      if (f == nullptr) {
        std::fprintf(stderr, "bench_resplit: --cells %s: cannot open for writing\n",
                     cells_path.c_str());
        return 2;
      }
      for (int r = 0; r < items; ++r) std::fputs(outs[r].cells.c_str(), f);
      std::fclose(f);
    }
    SplitOut sum = outs[0];
    for (auto* v : {&sum.plain, &sum.guar, &sum.dplain, &sum.dguar})
      for (Tally& t : *v) t.StartSplits();
    for (int r = 1; r < items; ++r) {
      for (std::size_t mi = 0; mi < nm; ++mi) {
        sum.plain[mi].Add(outs[r].plain[mi]);
        sum.guar[mi].Add(outs[r].guar[mi]);
        sum.shift[mi].Add(outs[r].shift[mi]);
        sum.shift_g[mi].Add(outs[r].shift_g[mi]);
        sum.shift_in[mi].Add(outs[r].shift_in[mi]);
      }
      for (std::size_t di = 0; di < nd; ++di) {
        sum.dplain[di].Add(outs[r].dplain[di]);
        sum.dguar[di].Add(outs[r].dguar[di]);
      }
      for (std::size_t mi = 0; mi <= nm; ++mi) sum.secs[mi] += outs[r].secs[mi];
    }
    const double wall =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - td).count();
    const double secs =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    std::printf(
        "\n== %s (fit %d, eval %d; %d re-splits x %d budgets x %d methods; %.0f s wall for this "
        "dump, %.0f s so far)\n",
        pool.name.c_str(), pool.n_fit, pool.n_eval, resplits, nbudgets, static_cast<int>(nm), wall,
        secs);
    std::printf("thread seconds:");
    for (std::size_t mi = 0; mi < nm; ++mi)
      std::printf(" %s %.0f", methods[mi].c_str(), sum.secs[mi]);
    if (!drops.empty()) std::printf(" accuracy-drop %.0f", sum.secs[nm]);
    std::printf("\n");
    if (nm > 0) {
      std::printf(
          "shift check (level 0.05) at budget %.3f, re-splits fired / tested (95%% CI) | "
          "given split p\n",
          mid / pool.full_cost);
      std::printf("%-10s | %-30s %-30s %-30s | %-9s %-9s %-9s\n", "method", "held out",
                  "held out, --guarantee", "former in-sample test", "held out", "w/ guar.",
                  "in-sample");
      for (std::size_t mi = 0; mi < nm; ++mi) {
        std::printf("%-10s | %-30s %-30s %-30s | %-9.3g %-9.3g %-9.3g\n", methods[mi].c_str(),
                    Rate(sum.shift[mi].fired, sum.shift[mi].tested).c_str(),
                    Rate(sum.shift_g[mi].fired, sum.shift_g[mi].tested).c_str(),
                    Rate(sum.shift_in[mi].fired, sum.shift_in[mi].tested).c_str(), sum.p_given[mi],
                    sum.p_given_g[mi], sum.p_given_in[mi]);
      }
    }
    if (nm > 0 && resplits > 0) {
      std::printf(
          "(CI): Clopper-Pearson 95%% over the cells, as if independent (the budgets of one "
          "re-split share its split: optimistic); by re-split: 95%% interval for the mean over the "
          "re-splits of each one's share of violating cells, valid (re-splits i.i.d., any law on "
          "[0, 1])\n");
      std::printf("%-10s | %-52s %-9s %-7s | %-52s %-9s %-7s | %-9s %-9s %-9s\n", "method",
                  "eval > B w/o guarantee (CI)", "eval acc", "fit>B",
                  "eval > B with guarantee (CI)", "eval acc", "solved", "price", "price>=40",
                  "half>=40");
    }
    for (std::size_t mi = 0; resplits > 0 && mi < nm; ++mi) {
      const Tally& a = sum.plain[mi];
      const Tally& g = sum.guar[mi];
      std::printf("%-10s | %-52s %-9.5f %-7d | %-52s %-9.5f %4d/%-4d | %+8.3fpp %+8.3fpp %10s\n",
                  methods[mi].c_str(), PooledRate(a).c_str(), a.acc_sum / std::max(1, a.solved),
                  a.fit_over, PooledRate(g).c_str(), g.acc_sum / std::max(1, g.solved), g.solved,
                  g.cells, 100.0 * g.price_sum / std::max(1, g.price_n),
                  100.0 * g.price40_sum / std::max(1, g.price40_n),
                  Pp(g.half40_sum, g.half40_n).c_str());
    }
    // Per budget: the measured price against the two floors (accuracy and cost tightening, both
    // relative to the full cost), and the violations with the guarantee; then the means over the
    // budgets >= 40%.
    for (std::size_t mi = 0; resplits > 0 && mi < nm; ++mi) {
      const Tally& g = sum.guar[mi];
      double o40 = 0.0, l40 = 0.0, p40 = 0.0;
      int n40 = 0;
      std::printf(
          "%-10s | budget | price (pp)  oracle floor  learning floor  price/learning | cost "
          "tightening (%% of full): measured  oracle  learning  measured/learning | eval > B "
          "with guarantee (CI: Clopper-Pearson 95%%, one cell per re-split, valid)\n",
          methods[mi].c_str());
      for (int b = 0; b < nbudgets; ++b) {
        const bool has = b < static_cast<int>(g.price_bn.size()) && g.price_bn[b] > 0;
        const double pb = has ? g.price_b[b] / g.price_bn[b] : NAN;
        const double tb = has ? g.tight_b[b] / g.price_bn[b] : NAN;
        const int vb = At(g.viol_b, b), cb = At(g.cells_b, b);
        std::printf(
            "%-10s | %5.0f%% | %8s    %8s      %8s        %6s         |               "
            "           %6s  %6s    %6s    %6s           | %s\n",
            methods[mi].c_str(), 100.0 * budgets[b] / pool.full_cost,
            Fixed(100.0 * pb, "%+.3f").c_str(), Fixed(100.0 * oracle[mi][b], "%+.3f").c_str(),
            Fixed(100.0 * learn[mi][b], "%+.3f").c_str(),
            Fixed(learn[mi][b] > 0.0 ? pb / learn[mi][b] : NAN, "%.2f").c_str(),
            Fixed(100.0 * tb, "%.3f").c_str(), Fixed(100.0 * oracle_gap[mi][b], "%.3f").c_str(),
            Fixed(100.0 * learn_gap[mi][b], "%.3f").c_str(),
            Fixed(learn_gap[mi][b] > 0.0 ? tb / learn_gap[mi][b] : NAN, "%.2f").c_str(),
            Rate(vb, cb).c_str());
        if (budgets[b] >= 0.40 * pool.full_cost - 1e-12 && has && !std::isnan(learn[mi][b])) {
          o40 += oracle[mi][b];
          l40 += learn[mi][b];
          p40 += pb;
          ++n40;
        }
      }
      if (n40 > 0) {
        std::printf(
            "%-10s | >=40%%, over the %d budget(s) with a floor: price %+.3fpp, oracle floor "
            "%+.3fpp, learning floor %+.3fpp, price/learning %s\n",
            methods[mi].c_str(), n40, 100.0 * p40 / n40, 100.0 * o40 / n40, 100.0 * l40 / n40,
            Fixed(l40 > 0 ? p40 / l40 : NAN, "%.2f").c_str());
      }
      std::printf(
          "%-10s | budget | decomposition: half-data price (pp) | search-part tightening of the "
          "returned candidate (%% of full) | candidates certified / on the path | search samples "
          "(means)\n",
          methods[mi].c_str());
      for (int b = 0; b < nbudgets; ++b) {
        const int cn = At(g.cert_n, b), hn = At(g.half_n, b);
        std::printf("%-10s | %5.0f%% | %8s | %8s | %s / %s | %s\n", methods[mi].c_str(),
                    100.0 * budgets[b] / pool.full_cost,
                    Fixed(hn ? 100.0 * At(g.half_b, b) / hn : NAN, "%+.3f").c_str(),
                    Fixed(cn ? 100.0 * At(g.stight_b, b) / cn : NAN, "%.3f").c_str(),
                    Fixed(cn ? At(g.cert_b, b) / cn : NAN, "%.1f").c_str(),
                    Fixed(cn ? At(g.path_b, b) / cn : NAN, "%.1f").c_str(),
                    Fixed(cn ? At(g.search_b, b) / cn : NAN, "%.0f").c_str());
      }
      if (!g.tests.empty()) {
        std::printf("%-10s | calibration test chosen (cells):", methods[mi].c_str());
        for (const auto& [name, k] : g.tests) std::printf(" %s %d", name.c_str(), k);
        std::printf("\n");
      }
    }
    if (!drops.empty()) {
      std::printf(
          "accuracy-drop mode (%d re-splits): eval accuracy < eval final-exit accuracy - "
          "eps; with the guarantee, violations among the certified cells; (CI): Clopper-Pearson "
          "95%%, one cell per re-split and eps, so valid as is\n",
          drop_resplits);
      std::printf("%-10s %-6s | %-32s %-9s | %-32s %-9s | %-9s %-9s\n", "method", "eps",
                  "viol. w/o guarantee (CI)", "rel. cost", "viol. certified (CI)", "rel. cost",
                  "cost w/wo", "acc w-wo");
      for (std::size_t mi = 0; mi < drop_methods.size(); ++mi) {
        for (std::size_t di = 0; di < drops.size(); ++di) {
          const Tally& a = sum.dplain[mi * drops.size() + di];
          const Tally& g = sum.dguar[mi * drops.size() + di];
          std::printf(
              "%-10s %-6g | %-32s %-9.4f | %-32s %-9.4f | %-9.4f %+8.3fpp (%d paired cells)\n",
              drop_methods[mi].c_str(), drops[di], Rate(a.viol, a.solved).c_str(),
              a.acc_sum / std::max(1, a.solved), Rate(g.viol, g.solved).c_str(),
              g.acc_sum / std::max(1, g.solved), g.price_sum / std::max(1, g.price_n),
              100.0 * g.price40_sum / std::max(1, g.price_n), g.price_n);
        }
      }
    }
    std::fflush(stdout);
  }
  return 0;
}
