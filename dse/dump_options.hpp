// The dump-reading options every command takes (--fit-split, --eval-split, --layout,
// --score-order, --no-cache), turned into the reader's DumpOptions once for the CLI, export and
// the Python module.
#pragma once

#include "dse/options.hpp"
#include "profiles/dump.hpp"

namespace exitplan {

DumpOptions DumpOptionsFrom(const OptionValues& v);

}  // namespace exitplan
