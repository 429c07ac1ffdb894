// Loading ../shared/data/aaai21 (Tan et al.'s public data) for the reference checks in tests/ and
// bench/: the dump (scores mode, ascending), its profile, the paper's iPPP settings and the
// upstream saved results (reference/<Key>_ippp_{train,val}_{acc,delay}.npy, [100, 3]: budget,
// heuristic, iPPP). Header-only so tests and benches share it; not part of the libraries.
#pragma once

#include <string>
#include <vector>

#include "optim/solve.hpp"
#include "profiles/dump.hpp"
#include "profiles/npy.hpp"
#include "profiles/profile.hpp"

namespace exitplan::aaai21 {

struct Model {
  std::string name, key;  // "alex", "Alex"
  double box_lo = 0, box_hi = 1, beta = 0;
  Dump dump;
  CostProfile profile;
  // reference[column][i]: column 0 budget, 1 heuristic, 2 iPPP
  std::vector<std::vector<double>> fit_acc, fit_cost, eval_acc, eval_cost;
  std::vector<double> budgets() const { return fit_acc[0]; }
};

inline std::vector<std::vector<double>> ReadReference(const std::string& path) {
  const NpyArray a = ReadNpy(path);
  std::vector<std::vector<double>> cols(3, std::vector<double>(a.shape()[0]));
  for (std::size_t i = 0; i < a.shape()[0]; ++i)
    for (std::size_t j = 0; j < 3; ++j) cols[j][i] = a.At(i * 3 + j);
  return cols;
}

// dir: ../shared/data/aaai21/<name>
inline Model Load(const std::string& dir, const std::string& name) {
  Model m;
  m.name = name;
  m.key = name == "alex" ? "Alex" : name == "scan" ? "Scan" : "MSD";
  if (name == "alex") {
    m.box_lo = 0.0;
    m.box_hi = 1.0;
    m.beta = 2e7;
  } else {
    m.box_lo = -1.0;
    m.box_hi = 0.0;
    m.beta = name == "scan" ? 5e2 : 1e-14;
  }
  DumpOptions o;
  o.score_order = ScoreOrder::kAscending;
  m.dump = LoadDump(dir, o);
  m.profile = LoadProfile(dir + "/profile.yaml");
  const std::string r = dir + "/reference/" + m.key + "_ippp_";
  m.fit_acc = ReadReference(r + "train_acc.npy");
  m.fit_cost = ReadReference(r + "train_delay.npy");
  m.eval_acc = ReadReference(r + "val_acc.npy");
  m.eval_cost = ReadReference(r + "val_delay.npy");
  return m;
}

inline ThresholdProblem Problem(const Model& m, double budget, bool eval = false) {
  return ThresholdProblem::From(eval ? *m.dump.eval : m.dump.fit, Measure::kConfidence,
                                Target::kLabels, m.profile, AllExits(m.dump.k), budget);
}

// The paper's iPPP settings for this model.
inline SolverOptions PaperOptions(const Model& m) {
  SolverOptions o;
  o.box_lo = m.box_lo;
  o.box_hi = m.box_hi;
  ApplyPaperIpppSettings(&o);
  o.ippp.beta = m.beta;
  return o;
}

}  // namespace exitplan::aaai21
