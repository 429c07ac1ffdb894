// exitplan inspect: what is in a dump, per split.
#include <cstdio>
#include <memory>

#include "cli/commands.hpp"
#include "cli/dump_args.hpp"
#include "cli/option_flags.hpp"
#include "optim/calibration.hpp"
#include "profiles/budget.hpp"
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
  std::vector<std::vector<std::vector<double>>> quantiles;  // per measure, exit: q10, q50, q90
  for (Measure m : measures) quantiles.push_back(RowQuantiles(s.Scores(m), {0.1, 0.5, 0.9}));
  for (int j = 0; j < s.k; ++j) {
    std::printf("  %-5d", j + 1);
    for (const auto& q : quantiles) std::printf(" %7.3f/%7.3f/%7.3f", q[j][0], q[j][1], q[j][2]);
    std::printf("\n");
  }
}

// --calibrate: per-exit temperatures fitted on the fit split, ECE before and after on
// every split.
void PrintCalibration(Dump& dump) {
  const CalibrationSummary cs = FitTemperatures(dump.fit);
  std::printf(
      "calibration: per-exit temperature scaling fitted on split %s by NLL (Ceres L-BFGS): %s\n",
      dump.fit.name.c_str(), ToString(cs.outcome).c_str());
  std::vector<SplitData*> splits = {&dump.fit};
  if (dump.eval) splits.push_back(&*dump.eval);
  std::vector<std::vector<double>> before(splits.size()), after(splits.size());
  for (std::size_t s = 0; s < splits.size(); ++s) {
    for (int j = 0; j < dump.k; ++j) {
      before[s].push_back(
          ExpectedCalibrationError(splits[s]->Scores(Measure::kMaxProb), splits[s]->correct, j));
    }
    splits[s]->ComputeFeatures(cs.temperatures);
    for (int j = 0; j < dump.k; ++j) {
      after[s].push_back(
          ExpectedCalibrationError(splits[s]->Scores(Measure::kMaxProb), splits[s]->correct, j));
    }
  }
  std::printf("  %-5s %11s %10s %10s", "exit", "temperature", "nll_before", "nll_after");
  for (SplitData* s : splits) {
    std::printf(" %12s %11s", ("ece_" + s->name).c_str(), ("calib_" + s->name).c_str());
  }
  std::printf("\n");
  for (int j = 0; j < dump.k; ++j) {
    std::printf("  %-5d %11.4f %10.4f %10.4f", j + 1, cs.temperatures[j], cs.nll_before[j],
                cs.nll_after[j]);
    for (std::size_t s = 0; s < splits.size(); ++s)
      std::printf(" %12.4f %11.4f", before[s][j], after[s][j]);
    std::printf("\n");
  }
}

// --profile: the profile's costs per exit and the full cost, the reference of relative budgets.
void PrintProfile(const CostProfile& p) {
  std::printf("profile %s: target %s, unit %s, K=%d%s\n", p.source.c_str(), p.target.c_str(),
              p.unit.c_str(), p.k(), p.has_heads ? "" : " (cumulative costs)");
  const std::vector<double> stop = p.StopCostsAllKept();
  std::printf("  %-5s %-16s %12s %12s %14s\n", "exit", "name", "backbone", "head",
              "stop (all kept)");
  for (int j = 0; j < p.k(); ++j) {
    std::printf("  %-5d %-16s %12.6g %12.6g %14.6g\n", j + 1,
                p.names.empty() ? "" : p.names[j].c_str(), p.backbone[j], p.head[j], stop[j]);
  }
  std::printf("  %s\n", FullCostLine(p).c_str());
  std::printf("  without early exits (final exit's head only): %s %s\n",
              FormatDouble(p.BackboneOnlyCost()).c_str(), p.unit.c_str());
}

struct InspectArgs {
  RegistryFlags flags;
};

}  // namespace

void RegisterInspect(CLI::App& root, std::vector<Command>& out) {
  auto args = std::make_shared<InspectArgs>();
  CLI::App* app = root.add_subcommand(
      "inspect",
      "print per split: N, K, C, per-exit accuracy, expected calibration error (15 "
      "bins of max_prob), agreement with the final exit, and confidence quantiles; "
      "with --profile, the profile's costs and the full cost");
  args->flags.Add(*app, "inspect", {"dump"});
  out.push_back({app, [args]() {
                   const OptionValues v = args->flags.Values();
                   Dump dump = LoadDumpFrom(v);
                   PrintSplit(dump.fit);
                   if (dump.eval) PrintSplit(*dump.eval);
                   if (v.Has("profile")) PrintProfile(LoadProfileFor(v, dump));
                   if (v.Bool("calibrate")) PrintCalibration(dump);
                   return kExitOk;
                 }});
}

}  // namespace exitplan::cli
