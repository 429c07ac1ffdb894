// Prints every threshold method's answer (thresholds, fit accuracy and cost) at every budget of
// the three aaai21 sweeps, one line per solve, so that a change meant to keep answers can be
// diffed before/after. Usage: bench_solver_answers all | method ... (without arguments, as in
// `make bench`, it only says how to run it: the listing is thousands of lines).
// Also every measure of data/example (descending scores, ties: patience, vote) at 9 budgets, for
// every kept set of 2..K exits that keeps the final one, and for all exits. Skips the aaai21
// part when the published data is absent.
#include <cstdio>
#include <filesystem>
#include <string>

#include "aaai21_data.hpp"
#include "exitplan_paths.hpp"
#include "optim/solve.hpp"

using namespace exitplan;

int main(int argc, char** argv) {
  if (argc < 2) {
    std::printf(
        "bench_solver_answers: prints every answer for diffing; run with 'all' or method "
        "names\n");
    return 0;
  }
  std::vector<Method> methods;
  for (int a = 1; a < argc; ++a)
    if (std::string(argv[a]) != "all") methods.push_back(MethodFromString(argv[a]));
  if (methods.empty())
    methods = {Method::kGeometric, Method::kGeometricQuantile, Method::kSingle, Method::kIppp,
               Method::kExact};
  auto print = [](const std::string& what, Method method, const ThresholdSummary& s) {
    std::printf("%s %s %s acc=%s cost=%s t=%s\n", what.c_str(), ToString(method).c_str(),
                ToString(s.outcome).c_str(), FormatDouble(s.fit.accuracy).c_str(),
                FormatDouble(s.fit.mean_cost).c_str(),
                JoinDoubles(s.policy.thresholds, ",").c_str());
  };
  {
    const std::string dir = std::string(EXITPLAN_SOURCE_DIR) + "/data/example";
    const Dump d = LoadDump(dir, DumpOptions{});
    const CostProfile prof = LoadProfile(dir + "/profile-flops.yaml");
    std::vector<std::vector<int>> kepts;
    for (int mask = 0; mask < (1 << (d.k - 1)); ++mask) {
      std::vector<int> kept;
      for (int e = 0; e + 1 < d.k; ++e)
        if (mask >> e & 1) kept.push_back(e);
      kept.push_back(d.k - 1);
      kepts.push_back(kept);
    }
    for (Measure ms : {Measure::kMaxProb, Measure::kEntropy, Measure::kMargin, Measure::kPatience,
                       Measure::kVote}) {
      for (const auto& kept : kepts) {
        for (int b = 1; b <= 9; ++b) {
          ThresholdProblem p = ThresholdProblem::From(d.fit, ms, Target::kLabels, prof, kept, 0);
          p.budget = p.MinCost() + (p.MaxCost() - p.MinCost()) * b / 10.0;
          for (Method method : methods) {
            if (method == Method::kIppp) continue;
            print("example " + ToString(ms) + " " +
                      JoinDoubles(std::vector<double>(kept.begin(), kept.end()), ",") + " " +
                      std::to_string(b),
                  method, Solve(method, p));
          }
        }
      }
    }
  }
  const std::string root = std::string(EXITPLAN_SHARED_DIR) + "/data/aaai21";
  if (!std::filesystem::exists(root + "/msdnet")) {
    std::printf("SKIP: %s absent\n", root.c_str());
    return 0;
  }
  for (const char* name : {"alex", "scan", "msdnet"}) {
    const aaai21::Model m = aaai21::Load(root + "/" + name, name);
    const auto budgets = m.budgets();
    for (std::size_t i = 0; i < budgets.size(); ++i) {
      const ThresholdProblem p = aaai21::Problem(m, budgets[i]);
      const SolverOptions o = aaai21::PaperOptions(m);
      for (Method method : methods) {
        const ThresholdSummary s = Solve(method, p, o);
        print(std::string(name) + " " + std::to_string(i), method, s);
      }
    }
  }
  return 0;
}
