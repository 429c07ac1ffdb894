// exitplan inspect: what is in a dump, per split.
#include <cstdio>
#include <memory>

#include "cli/commands.hpp"
#include "cli/dump_args.hpp"
#include "profiles/stats.hpp"

namespace exitplan::cli {
namespace {

void PrintSplit(const SplitData& s) {
  std::printf("split %s (%s): N=%d K=%d", s.name.c_str(), s.source.c_str(), s.n, s.k);
  if (s.has_logits()) std::printf(" C=%d", s.c);
  std::printf(", %s mode\n", ToString(s.mode).c_str());
  const bool logits = s.has_logits();
  std::printf("  %-5s %9s %7s %12s\n", "exit", "accuracy", "ece", "agree_final");
  for (int j = 0; j < s.k; ++j) {
    double acc = 0.0;
    for (int i = 0; i < s.n; ++i) acc += s.correct(j, i);
    acc /= s.n;
    if (logits) {
      double agree = 0.0;
      for (int i = 0; i < s.n; ++i) agree += s.agrees_final(j, i);
      agree /= s.n;
      const double ece = ExpectedCalibrationError(s.Scores(Measure::kMaxProb), s.correct, j);
      std::printf("  %-5d %9.4f %7.4f %12.4f\n", j + 1, acc, ece, agree);
    } else {
      std::printf("  %-5d %9.4f %7s %12s\n", j + 1, acc, "n/a", "n/a");
    }
  }
  std::printf("  quantiles q10/q50/q90 of each confidence measure per exit%s\n",
              logits ? "" : (" (stored confidence, " + ToString(s.confidence_order) + ")").c_str());
  std::printf("  %-5s", "exit");
  std::vector<Measure> measures;
  for (int m = 0; m < kNumMeasures; ++m) {
    if (s.has(static_cast<Measure>(m))) measures.push_back(static_cast<Measure>(m));
  }
  for (Measure m : measures) std::printf(" %23s", ToString(m).c_str());
  std::printf("\n");
  for (int j = 0; j < s.k; ++j) {
    std::printf("  %-5d", j + 1);
    for (Measure m : measures) {
      const ScoreMatrix& sc = s.Scores(m);
      std::vector<double> row(s.n);
      for (int i = 0; i < s.n; ++i) row[i] = sc(j, i);
      std::printf(" %7.3f/%7.3f/%7.3f", Quantile(row, 0.1), Quantile(row, 0.5),
                  Quantile(row, 0.9));
    }
    std::printf("\n");
  }
}

}  // namespace

void RegisterInspect(CLI::App& root, std::vector<Command>& out) {
  auto args = std::make_shared<DumpArgs>();
  CLI::App* app = root.add_subcommand(
      "inspect", "print per split: N, K, C, per-exit accuracy, expected calibration error (15 "
                 "bins of max_prob), agreement with the final exit, and confidence quantiles");
  args->Add(*app);
  out.push_back({app, [args]() {
                   const Dump dump = args->Load();
                   PrintSplit(dump.fit);
                   if (dump.eval) PrintSplit(*dump.eval);
                   return kExitOk;
                 }});
}

}  // namespace exitplan::cli
