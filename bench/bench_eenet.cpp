// EENet training speed (targets: a 10k x 9 x 10 dump to convergence in <= 10 s on one
// core; a 5k x 4 x 100 CIFAR-100-like synthetic dump in <= 30 s), and the cost of the scorer at
// inference (per sample and exit, against the exit's own cost).
//   build/bench/bench_eenet [learning_rate [hidden_ratio [budget_fraction]]]
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <random>
#include <string>

#include "exitplan_paths.hpp"
#include "optim/eenet.hpp"
#include "optim/internal/float_gemm.hpp"
#include "profiles/dump.hpp"
#include "profiles/profile.hpp"

using namespace exitplan;
namespace fs = std::filesystem;

namespace {

// CPU time of this process (one thread): on a shared machine the wall clock also counts the time
// other processes held the core.
double CpuSeconds() {
  timespec ts{};
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
  return ts.tv_sec + 1e-9 * ts.tv_nsec;
}

void WriteNpy(const std::string& path, const std::string& descr, const std::string& shape,
              const void* data, std::size_t bytes) {
  std::string header =
      "{'descr': '" + descr + "', 'fortran_order': False, 'shape': (" + shape + "), }";
  while ((10 + header.size() + 1) % 64 != 0) header += ' ';
  header += '\n';
  std::ofstream f(path, std::ios::binary);
  f.write("\x93NUMPY\x01\x00", 8);
  const std::uint16_t len = static_cast<std::uint16_t>(header.size());
  f.write(reinterpret_cast<const char*>(&len), 2);
  f << header;
  f.write(static_cast<const char*>(data), static_cast<std::streamsize>(bytes));
}

// CIFAR-100-like: N x K x C logits whose true-class signal grows with depth, per-class
// difficulty so that a class-aware scorer has something to learn.
void WriteSynthetic(const std::string& dir, int n, int k, int c, unsigned seed) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> noise(0.0f, 1.0f);
  std::uniform_int_distribution<int> cls(0, c - 1);
  std::vector<float> logits(static_cast<std::size_t>(n) * k * c);
  std::vector<std::int64_t> labels(n);
  for (int i = 0; i < n; ++i) {
    labels[i] = cls(rng);
    const float difficulty = 0.5f + static_cast<float>(labels[i] % 5) * 0.25f;
    for (int j = 0; j < k; ++j) {
      for (int q = 0; q < c; ++q) {
        const float signal = q == labels[i] ? 1.6f * (j + 1) / difficulty : 0.0f;
        logits[(static_cast<std::size_t>(i) * k + j) * c + q] = signal + 1.2f * noise(rng);
      }
    }
  }
  const std::string shape = std::to_string(n) + ", " + std::to_string(k) + ", " + std::to_string(c);
  WriteNpy(dir + "/val_logits.npy", "<f4", shape, logits.data(), logits.size() * 4);
  WriteNpy(dir + "/val_labels.npy", "<i8", std::to_string(n) + ",", labels.data(),
           labels.size() * 8);
}

void Train(const std::string& name, const Dump& dump, const std::vector<double>& cost,
           double budget, const EENetOptions& opt) {
  const double cpu0 = CpuSeconds();
  const EENetSummary s = FitEENet(dump.fit, dump.fit.correct, cost, budget, opt);
  const double cpu = CpuSeconds() - cpu0;
  std::printf("%s: N=%d K=%d C=%d, %zu parameters\n  %s\n", name.c_str(), dump.fit.n, dump.k,
              dump.c, static_cast<std::size_t>(s.scorer.layout.size), s.FullReport().c_str());
  std::printf(
      "  training: %.2f s wall, %.2f s CPU (one thread; the wall time includes waiting "
      "for a shared core) for %d epochs = %.1f ms CPU/epoch\n",
      s.seconds, cpu, s.epochs, 1000 * cpu / std::max(1, s.epochs));
  // Scorer cost at inference: time the forward pass over the split.
  const EENetInputs in = BuildEENetInputs(dump.fit, {});
  ScoreMatrix q;
  const auto t0 = std::chrono::steady_clock::now();
  const int reps = 5;
  for (int r = 0; r < reps; ++r) EENetForward(s.scorer.layout, s.scorer.theta, in, &q, nullptr);
  const double sec = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  long macs = 0;
  for (int j = 0; j < dump.k; ++j)
    macs += s.scorer.layout.hidden[j] * (s.scorer.layout.inputs[j] + 2);
  std::printf(
      "  scorer at inference: %.1f ns per sample and exit (batched), %ld multiply-adds per "
      "sample over all %d exits\n",
      1e9 * sec / reps / dump.fit.n / dump.k, macs, dump.k);
  // Determinism: a second run gives identical weights.
  const EENetSummary s2 = FitEENet(dump.fit, dump.fit.correct, cost, budget, opt);
  std::printf("  second run identical: %s\n", s2.scorer.theta == s.scorer.theta ? "yes" : "NO");
}

}  // namespace

int main(int argc, char** argv) {
  EENetOptions opt;
  if (argc > 1) opt.learning_rate = std::atof(argv[1]);
  if (argc > 2) opt.hidden_ratio = std::atof(argv[2]);
  const double frac = argc > 3 ? std::atof(argv[3]) : 0.5;
  std::printf("training products (float32): %s kernel\n", internal::FloatGemmKernel());
  const std::string shared = std::string(EXITPLAN_SHARED_DIR) + "/data/fmnist-resnet8";
  if (fs::exists(shared)) {
    const Dump dump = LoadDump(shared);
    const CostProfile p = LoadProfile(shared + "/profile-ms.yaml");
    Train("fmnist-resnet8 (10k x 9 x 10, budget " + std::to_string(frac) + " of full)", dump,
          p.StopCosts(AllExits(dump.k)), frac * p.FullCost(), opt);
  } else {
    std::printf("SKIP: %s is absent\n", shared.c_str());
  }
  const std::string dir = (fs::temp_directory_path() / "exitplan_bench_eenet").string();
  fs::create_directories(dir);
  WriteSynthetic(dir, 5000, 4, 100, 7);
  const Dump dump = LoadDump(dir);
  const std::vector<double> cost = {1.0, 2.0, 3.0, 4.0};
  Train("synthetic CIFAR-100-like (5k x 4 x 100, budget " + std::to_string(frac) + " of full)",
        dump, cost, frac * 4.0, opt);
  fs::remove_all(dir);
  return 0;
}
