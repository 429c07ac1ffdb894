#include "dse/dump_options.hpp"

#include "profiles/feature_cache.hpp"

namespace exitplan {

DumpOptions DumpOptionsFrom(const OptionValues& v) {
  DumpOptions o;
  o.fit_split = v.Text("fit_split");
  o.eval_split = v.Text("eval_split");
  if (o.eval_split == "none") o.eval_split = o.fit_split;  // no eval split
  // A split the user named must exist (a typo must not silently drop the eval figures).
  o.require_eval = v.Has("eval_split") && v.Text("eval_split") != "none";
  o.layout = LayoutFromString(v.Text("layout"));
  o.score_order = ScoreOrderFromString(v.Text("score_order"));
  if (v.Bool("cache")) o.cache_dir = DefaultFeatureCacheDir();
  return o;
}

}  // namespace exitplan
