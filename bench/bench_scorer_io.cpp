// Loading an EENet scorer file: the weights as YAML text (version 1, what earlier exitplan wrote)
// against a small YAML with the weights in an .npz beside it (version 2). The scorer is the size
// of a 7-exit, 100-class model at the default hidden ratio (about 160,000 weights, a 3.6 MB
// version-1 file). Prints file sizes, median load and save times (CPU time of this thread, 5
// runs each) and their ratio; checks that both files load to the same weights.
//   build/bench/bench_scorer_io [classes [exits [runs]]]
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <filesystem>
#include <string>
#include <vector>

#include "optim/eenet.hpp"
#include "profiles/io.hpp"
#include "profiles/profile.hpp"

using namespace exitplan;
namespace fs = std::filesystem;

namespace {

double CpuSeconds() {
  timespec ts{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return ts.tv_sec + 1e-9 * ts.tv_nsec;
}

template <class F>
double Median(int runs, F f) {
  std::vector<double> t;
  for (int i = 0; i < runs; ++i) {
    const double t0 = CpuSeconds();
    f();
    t.push_back(CpuSeconds() - t0);
  }
  std::sort(t.begin(), t.end());
  return t[t.size() / 2];
}

}  // namespace

int main(int argc, char** argv) {
  const int c = argc > 1 ? std::atoi(argv[1]) : 100;
  const int k = argc > 2 ? std::atoi(argv[2]) : 7;
  const int runs = argc > 3 ? std::atoi(argv[3]) : 5;
  ScorerFile f;
  f.scorer.layout = EENetLayout::Make(k, c, EENetOptions{}.hidden_ratio);
  f.scorer.theta.resize(f.scorer.layout.size);
  unsigned state = 12345;
  for (int i = 0; i < f.scorer.layout.size; ++i) {  // weights with full-length decimal forms
    state = state * 1103515245u + 12345u;
    f.scorer.theta[i] = (static_cast<double>(state >> 8) / (1 << 24) - 0.5) * 0.2;
  }
  f.scorer.temperatures.assign(k, 1.0);
  f.policy.kept = AllExits(k);
  f.policy.thresholds.assign(k - 1, 0.5);
  f.distribution.assign(k, 1.0 / k);
  f.budget = 1.0;
  f.unit = "ms";

  const fs::path dir =
      fs::temp_directory_path() / ("exitplan-bench-scorer-" + std::to_string(::getpid()));
  fs::create_directories(dir);
  const std::string v1 = (dir / "old.yaml").string(), v2 = (dir / "new.yaml").string();
  const double save_v1 = Median(runs, [&] { WriteFileAtomic(v1, ScorerToYamlV1(f)); });
  const double save_v2 = Median(runs, [&] { SaveScorer(v2, f); });
  ScorerFile a, b;
  const double load_v1 = Median(runs, [&] { a = LoadScorer(v1); });
  const double load_v2 = Median(runs, [&] { b = LoadScorer(v2); });
  const bool same = a.scorer.theta == f.scorer.theta && b.scorer.theta == f.scorer.theta;
  std::printf("scorer: K = %d exits, C = %d classes, %d weights\n", k, c, f.scorer.layout.size);
  std::printf(
      "version 1 (weights as YAML text): %.2f MB; save %.3f s, load %.3f s (median of %d)\n",
      fs::file_size(v1) / 1e6, save_v1, load_v1, runs);
  std::printf("version 2 (YAML %.1f kB + .npz %.2f MB): save %.4f s, load %.4f s\n",
              fs::file_size(v2) / 1e3, fs::file_size(ScorerWeightsPath(v2)) / 1e6, save_v2,
              load_v2);
  std::printf("load: %.0fx faster; save: %.0fx faster; weights identical to the bit: %s\n",
              load_v1 / load_v2, save_v1 / save_v2, same ? "yes" : "NO");
  fs::remove_all(dir);
  return same ? 0 : 1;
}
