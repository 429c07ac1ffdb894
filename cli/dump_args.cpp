#include "cli/dump_args.hpp"

#include "profiles/feature_cache.hpp"

namespace exitplan::cli {

void DumpArgs::Add(CLI::App& app) {
  app.add_option("--dump", dump,
                 "dump directory: <split>_logits.npy + <split>_labels.npy, <split>.npz, or "
                 "<split>_confidence.npy + <split>_correct.npy (scores mode)")
      ->required();
  app.add_option("--fit-split", fit_split, "split the policy is chosen on")->capture_default_str();
  app.add_option("--eval-split", eval_split, "split that only measures the policy (optional)")
      ->capture_default_str();
  app.add_option("--layout", layout, "logits axis order: nk = [N,K,C], kn = [K,N,C]")
      ->capture_default_str();
  app.add_option("--score-order", score_order,
                 "scores mode: descending (larger is more confident, stop if score >= t) or "
                 "ascending (stop if score < t)")
      ->capture_default_str();
  app.add_flag("--no-cache", no_cache,
               "do not read or write the logits feature cache ($EXITPLAN_CACHE_DIR, else "
               "$XDG_CACHE_HOME/exitplan or ~/.cache/exitplan)");
}

DumpOptions DumpArgs::Options() const {
  DumpOptions o;
  o.fit_split = fit_split;
  o.eval_split = eval_split;
  o.layout = LayoutFromString(layout);
  o.score_order = ScoreOrderFromString(score_order);
  if (!no_cache) o.cache_dir = DefaultFeatureCacheDir();
  return o;
}

Dump DumpArgs::Load() const { return LoadDump(dump, Options()); }

void ProfileArgs::Add(CLI::App& app, bool required) {
  auto* opt = app.add_option("--profile", profile, "cost profile YAML (DESIGN.md format)");
  if (required) opt->required();
  app.add_option("--target", target, "target inside a multi-target profile");
}

CostProfile ProfileArgs::Load(const Dump& dump) const {
  CostProfile p = LoadProfile(profile, target);
  CheckProfileMatches(p, dump.k, dump.fit.source);
  return p;
}

}  // namespace exitplan::cli
