#include "cli/dump_args.hpp"

#include <cstdio>
#include <filesystem>

#include "optim/calibration.hpp"
#include "profiles/error.hpp"
#include "profiles/feature_cache.hpp"

namespace exitplan::cli {

Dump LoadDumpFrom(const OptionValues& v) { return LoadDump(v.Text("dump"), DumpOptionsFrom(v)); }

CostProfile LoadProfileFor(const OptionValues& v, const Dump& dump) {
  CostProfile p = LoadProfile(v.Text("profile"), v.Text("target"));
  CheckProfileMatches(p, dump.k, dump.fit.source);
  return p;
}

void Note(const OptionValues& v, const std::string& line) {
  if (!v.Bool("quiet")) std::fprintf(stderr, "%s\n", line.c_str());
}

void CalibrateIfAsked(const OptionValues& v, Dump& dump, Target target) {
  if (!v.Bool("calibrate")) return;
  if (!dump.fit.has_logits()) {
    throw InputError("--calibrate", "temperature scaling needs logits, but " + dump.fit.source +
                                        " is a scores-mode dump");
  }
  CalibrationOptions co;
  co.use_agreement = target == Target::kAgreement;
  const CalibrationSummary cs = FitTemperatures(dump.fit, co);
  Note(v, cs.BriefReport());
  dump.fit.ComputeFeatures(cs.temperatures);
  if (dump.eval) dump.eval->ComputeFeatures(cs.temperatures);
}

Measure MeasureFor(const OptionValues& v, const Dump& dump) {
  if (v.Has("measure")) return MeasureFromString(v.Text("measure"));
  return dump.fit.has_logits() ? Measure::kMaxProb : Measure::kConfidence;
}

std::string ModelName(const OptionValues& v, const Dump& dump) {
  if (v.Has("model")) return v.Text("model");
  const std::filesystem::path d = std::filesystem::path(dump.dir).lexically_normal();
  const std::string name = d.filename().string();
  return name.empty() ? d.parent_path().filename().string() : name;
}

}  // namespace exitplan::cli
