// Does exact without its iPPP start still reach at least iPPP's fit accuracy (when iPPP meets the
// budget) at every budget of the aaai21 sweeps? Prints the budgets where it does not.
#include <cstdio>
#include <filesystem>

#include "aaai21_data.hpp"
#include "exitplan_paths.hpp"
#include "optim/solve.hpp"

using namespace exitplan;

int main() {
  const std::string root = std::string(EXITPLAN_SHARED_DIR) + "/data/aaai21";
  if (!std::filesystem::exists(root + "/msdnet")) {
    std::printf("SKIP: %s absent\n", root.c_str());
    return 0;
  }
  int below = 0, total = 0;
  for (const char* name : {"alex", "scan", "msdnet"}) {
    const aaai21::Model m = aaai21::Load(root + "/" + name, name);
    const auto budgets = m.budgets();
    for (std::size_t i = 0; i < budgets.size(); ++i) {
      const ThresholdProblem p = aaai21::Problem(m, budgets[i]);
      SolverOptions o = aaai21::PaperOptions(m);
      const ThresholdSummary ip = Solve(Method::kIppp, p, o);
      o.exact.start_ippp = false;
      const ThresholdSummary e = Solve(Method::kExact, p, o);
      ++total;
      if (ip.ok() && ip.fit.mean_cost <= p.budget && e.fit.accuracy < ip.fit.accuracy) {
        ++below;
        std::printf("%s budget %zu: exact without iPPP start %.6f < ippp %.6f\n", name, i,
                    e.fit.accuracy, ip.fit.accuracy);
      }
    }
  }
  std::printf("exact without its iPPP start below a within-budget ippp: %d of %d budgets\n", below,
              total);
  return 0;
}
