// Reading the inputs every dump-reading command shares (dump, splits, layout, profile), from the
// registry's values (dse/options.hpp), in one place.
#pragma once

#include <string>

#include "dse/dump_options.hpp"
#include "dse/options.hpp"
#include "profiles/dump.hpp"
#include "profiles/profile.hpp"

namespace exitplan::cli {

// --fit-split, --eval-split (an eval split given explicitly must exist; `none`: no eval split),
// --layout, --score-order; throws InputError on a bad value.
Dump LoadDumpFrom(const OptionValues& v);
// --profile (and --target), checked against the dump's K.
CostProfile LoadProfileFor(const OptionValues& v, const Dump& dump);
// --calibrate: per-exit temperatures fitted on the fit split (NLL), applied to every split;
// prints one line on stderr unless --quiet.
void CalibrateIfAsked(const OptionValues& v, Dump& dump, Target target);
// --measure, or max_prob (logits) / confidence (scores-mode dumps).
Measure MeasureFor(const OptionValues& v, const Dump& dump);
// --model, or the dump folder's name.
std::string ModelName(const OptionValues& v, const Dump& dump);
// One line on stderr unless --quiet.
void Note(const OptionValues& v, const std::string& line);

}  // namespace exitplan::cli
