// Sweep speed: 3 models x 4 methods x 100 budgets on the example data, with 1 and with 2
// jobs; prints the wall times, the speed-up, and checks the two reports are identical (all
// columns but `seconds`). The 3 "models" are data/example under its three cost profiles (CPU
// latency, FLOPs, and the two-target file's cpu-1thread target).
//
//   build/bench/bench_sweep [methods...]     default: geometric geometric-quantile single
//                                            greedy-backward (thresholds by single)
#include <sys/resource.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <string>
#include <vector>

#include "dse/sweep.hpp"
#include "exitplan_paths.hpp"
#include "profiles/io.hpp"

using namespace exitplan;
namespace fs = std::filesystem;

namespace {

double CpuSeconds() {  // user + system time of every thread of this process
  rusage u{};
  getrusage(RUSAGE_SELF, &u);
  return u.ru_utime.tv_sec + u.ru_stime.tv_sec + 1e-6 * (u.ru_utime.tv_usec + u.ru_stime.tv_usec);
}

std::string Reports(const std::string& out) {
  std::string all;
  for (const char* g : {"m-ms__cpu-1thread", "m-flops__flops", "m-multi__cpu-1thread"}) {
    std::vector<ResultRow> rows = ResultsFromCsv(ReadFile(out + "/reports/" + g + ".csv"), g);
    for (ResultRow& r : rows) r.seconds = 0;
    all += ResultsToCsv(rows);
  }
  return all;
}

}  // namespace

int main(int argc, char** argv) {
  std::vector<std::string> methods = {"geometric", "geometric-quantile", "single",
                                      "greedy-backward"};
  if (argc > 1) methods.assign(argv + 1, argv + argc);
  const std::string ex = std::string(EXITPLAN_SOURCE_DIR) + "/data/example";
  const fs::path tmp =
      fs::temp_directory_path() / ("exitplan-bench-sweep-" + std::to_string(::getpid()));
  fs::create_directories(tmp);
  std::string yaml = "output: out\nmodels:\n";
  yaml += "  - {name: m-ms, dump: " + ex + ", profile: " + ex + "/profile-ms.yaml}\n";
  yaml += "  - {name: m-flops, dump: " + ex + ", profile: " + ex + "/profile-flops.yaml}\n";
  yaml += "  - {name: m-multi, dump: " + ex + ", profile: " + ex +
          "/profile.yaml, target: cpu-1thread}\n";
  yaml += "methods:\n";
  for (const std::string& m : methods) {
    yaml +=
        "  - {method: " + m +
        (m.rfind("greedy", 0) == 0 || m == "exhaustive" ? ", options: {solver: single}}\n" : "}\n");
  }
  yaml += "budgets: \"20%:100%:100\"\n";
  WriteFileAtomic((tmp / "bench.yaml").string(), yaml);
  SweepSpec spec = LoadSweepSpec((tmp / "bench.yaml").string());

  double secs[2] = {0, 0}, cpu[2] = {0, 0};
  int cells = 0, failed = 0;
  for (int jobs = 1; jobs <= 2; ++jobs) {
    spec.output = (tmp / ("out" + std::to_string(jobs))).string();
    SweepOptions o;
    o.jobs = jobs;
    const auto t0 = std::chrono::steady_clock::now();
    const double c0 = CpuSeconds();
    const SweepSummary s = RunSweep(spec, o);
    secs[jobs - 1] = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    cpu[jobs - 1] = CpuSeconds() - c0;
    cells = s.cells_run;
    failed = s.cells_failed;
    std::printf("jobs=%d: %s\n", jobs, s.BriefReport().c_str());
  }
  // A rerun: every cell skipped.
  const auto t0 = std::chrono::steady_clock::now();
  const SweepSummary again = RunSweep(spec, {});
  const double rerun = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  const bool same = Reports((tmp / "out1").string()) == Reports((tmp / "out2").string());
  std::printf("methods:");
  for (const auto& m : methods) std::printf(" %s", m.c_str());
  std::printf("\n%d cells (3 models x %zu methods x 100 budgets), %d failed\n", cells,
              methods.size(), failed);
  std::printf("wall time: 1 job %.2f s, 2 jobs %.2f s, speed-up %.2fx (target: <= 30 s)\n", secs[0],
              secs[1], secs[0] / secs[1]);
  std::printf("CPU time: 1 job %.2f s (%.2f cores busy on average), 2 jobs %.2f s (%.2f cores)\n",
              cpu[0], cpu[0] / secs[0], cpu[1], cpu[1] / secs[1]);
  double load[3] = {0, 0, 0};
  if (getloadavg(load, 3) > 0) {
    std::printf("machine load average (1 min): %.2f on %ld cores: a speed-up needs free cores\n",
                load[0], sysconf(_SC_NPROCESSORS_ONLN));
  }
  std::printf("rerun with every cell done: %.3f s (%d skipped)\n", rerun, again.cells_skipped);
  std::printf("reports identical for 1 and 2 jobs: %s\n", same ? "yes" : "NO");
  fs::remove_all(tmp);
  return same ? 0 : 1;
}
