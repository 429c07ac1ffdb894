// The C++ half of the interleaved comparison of `ippp` with Tan et al.'s published Python iPPP
// (AAAI 2021) on the aaai21 models: bench/ippp_published.py starts this program with --serve and
// asks it for one solve at a time, between its own solves of the same budgets with the published
// code, so that both sides see the same machine load. Without --serve (as in `make bench`) it only
// says how to run the comparison.
//
// Protocol (--serve [--data DIR], DIR default ../shared/data/aaai21): one request per stdin line,
// "<model> <budget> <precision>" (model alex | scan | msdnet, budget in the profile's unit,
// precision single | double); one answer per line, "ok <wall_s> <cpu_s> <fit_acc> <fit_cost>
// <t1,t2,...>" (thresholds to 17 digits; times of the solve alone, the paper's settings, warm
// start included as in the published scripts' timing), or "error <message>".
#include <time.h>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <iostream>
#include <map>
#include <sstream>
#include <string>

#include "aaai21_data.hpp"
#include "exitplan_paths.hpp"
#include "optim/solve.hpp"

using namespace exitplan;

namespace {

double ThreadCpuSeconds() {
  timespec ts{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) + 1e-9 * static_cast<double>(ts.tv_nsec);
}

}  // namespace

int main(int argc, char** argv) {
  std::string data = std::string(EXITPLAN_SHARED_DIR) + "/data/aaai21";
  bool serve = false;
  for (int a = 1; a < argc; ++a) {
    const std::string arg = argv[a];
    if (arg == "--serve") {
      serve = true;
    } else if (arg == "--data" && a + 1 < argc) {
      data = argv[++a];
    } else {
      std::fprintf(stderr, "usage: bench_ippp_published [--serve] [--data DIR]\n");
      return 2;
    }
  }
  if (!serve) {
    std::printf(
        "bench_ippp_published: the interleaved ippp vs published-iPPP run is "
        "/usr/bin/python3 bench/ippp_published.py --published <copy of XinruiTan/AAAI21> "
        "[--build build]\n");
    return 0;
  }
  std::map<std::string, aaai21::Model> models;
  std::string line;
  while (std::getline(std::cin, line)) {
    std::istringstream in(line);
    std::string name, precision;
    double budget = 0;
    if (!(in >> name >> budget >> precision) || (precision != "single" && precision != "double") ||
        (name != "alex" && name != "scan" && name != "msdnet")) {
      std::printf("error bad request '%s'\n", line.c_str());
      std::fflush(stdout);
      continue;
    }
    if (models.count(name) == 0) {
      const std::string dir = data + "/" + name;
      if (!std::filesystem::exists(dir)) {
        std::printf("error %s absent\n", dir.c_str());
        std::fflush(stdout);
        continue;
      }
      models.emplace(name, aaai21::Load(dir, name));
    }
    const aaai21::Model& m = models.at(name);
    const ThresholdProblem p = aaai21::Problem(m, budget);
    SolverOptions o = aaai21::PaperOptions(m);
    o.ippp.precision = precision;
    const double c0 = ThreadCpuSeconds();
    const auto w0 = std::chrono::steady_clock::now();
    const ThresholdSummary s = Solve(Method::kIppp, p, o);
    const double wall =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - w0).count();
    const double cpu = ThreadCpuSeconds() - c0;
    std::printf("ok %.9g %.9g %.17g %.17g ", wall, cpu, s.fit.accuracy, s.fit.mean_cost);
    for (std::size_t q = 0; q < s.policy.thresholds.size(); ++q)
      std::printf("%s%.17g", q ? "," : "", s.policy.thresholds[q]);
    std::printf("\n");
    std::fflush(stdout);
  }
  return 0;
}
