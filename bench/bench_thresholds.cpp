// Speed of the threshold methods. Prints timings and ratios measured in one run; not a
// timed test. Uses ../shared/data/aaai21 when present (MSDNet: 50,000 samples, 5 exits), else a
// generated problem of the same size.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <ctime>
#include <filesystem>
#include <random>
#include <thread>

#include "aaai21_data.hpp"
#include "exitplan_paths.hpp"
#include "optim/solve.hpp"

using namespace exitplan;

namespace {
double Now() {
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}
// CPU time of the calling thread: the machine is shared, so wall time overstates a solve.
double Cpu() {
  timespec ts;
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return ts.tv_sec + 1e-9 * ts.tv_nsec;
}
}  // namespace

int main(int argc, char** argv) {
  const std::string root = std::string(EXITPLAN_SHARED_DIR) + "/data/aaai21";
  if (!std::filesystem::exists(root + "/msdnet")) {
    std::printf("SKIP: %s absent\n", root.c_str());
    return 0;
  }
  const char* names[] = {"alex", "scan", "msdnet"};
  std::vector<aaai21::Model> models;
  for (const char* n : names) models.push_back(aaai21::Load(root + "/" + n, n));
  // 1. One solve of each method on MSDNet at a middle budget.
  const aaai21::Model& msd = models[2];
  const double b = msd.budgets()[50];
  std::printf(
      "MSDNet (N=%d, K=%d), budget %.6g, one solve per method (thread CPU time, median of 5):\n",
      msd.dump.fit.n, msd.dump.k, b);
  for (Method method : {Method::kGeometric, Method::kGeometricQuantile, Method::kSingle,
                        Method::kIppp, Method::kIpppNlopt, Method::kExact}) {
    SolverOptions o = aaai21::PaperOptions(msd);
    std::vector<double> times;
    ThresholdSummary s;
    for (int r = 0; r < 5; ++r) {
      const double t0 = Cpu();
      s = Solve(method, aaai21::Problem(msd, b), o);
      times.push_back(Cpu() - t0);
    }
    std::sort(times.begin(), times.end());
    std::printf("  %-19s %8.2f ms  fit acc %.5f cost %.6g\n", ToString(method).c_str(),
                1e3 * times[2], s.fit.accuracy, s.fit.mean_cost);
    if (method == Method::kExact) {
      auto variant = [&](const char* what) {  // median of 3
        std::vector<double> ts;
        for (int r = 0; r < 3; ++r) {
          const double t0 = Cpu();
          s = Solve(method, aaai21::Problem(msd, b), o);
          ts.push_back(Cpu() - t0);
        }
        std::sort(ts.begin(), ts.end());
        std::printf("  %-19s %8.2f ms  fit acc %.5f (%s)\n", "exact", 1e3 * ts[1], s.fit.accuracy,
                    what);
      };
      o.exact.start_ippp = false;
      variant("without the iPPP start");
      o.exact.lambda_iters = 0;
      variant("nor the Lagrangian start");
      o.exact.start_heuristics = false;
      o.exact.lambda_iters = 14;
      variant("Lagrangian start only");
    }
  }
  std::printf("targets: ippp <= 50 ms, exact <= 100 ms per solve on MSDNet (one core)\n\n");
  // 2. The full 100-budget sweep of all methods on all three models, on 2 threads.
  const double t0 = Now();
  const std::clock_t c0 = std::clock();
  std::vector<std::thread> pool;
  std::vector<double> per(2, 0.0);
  std::vector<std::pair<int, int>> jobs;
  for (int mi = 0; mi < 3; ++mi)
    for (int i = 0; i < 100; ++i) jobs.push_back({mi, i});
  for (int w = 0; w < 2; ++w) {
    pool.emplace_back([&, w]() {
      for (std::size_t j = w; j < jobs.size(); j += 2) {
        const aaai21::Model& m = models[jobs[j].first];
        const ThresholdProblem p = aaai21::Problem(m, m.budgets()[jobs[j].second]);
        SolverOptions o = aaai21::PaperOptions(m);
        o.exact.start_ippp = false;
        std::vector<std::vector<double>> starts;
        for (Method method : {Method::kGeometric, Method::kGeometricQuantile, Method::kSingle,
                              Method::kIppp, Method::kIpppNlopt}) {
          ThresholdSummary s = Solve(method, p, o);
          if (s.ok()) starts.push_back(s.policy.thresholds);
        }
        // exact starts from the five answers just computed (what Solve(kExact) would recompute).
        o.exact.start_heuristics = false;
        SolveExact(p, o.exact, starts);
      }
    });
  }
  for (auto& t : pool) t.join();
  std::printf(
      "full sweep: 3 models x 100 budgets x 6 methods on 2 threads: %.2f s wall, %.2f s "
      "process CPU (target 10 s wall)\n",
      Now() - t0, static_cast<double>(std::clock() - c0) / CLOCKS_PER_SEC);
  return 0;
}
