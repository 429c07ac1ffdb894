// The sweep tests' small input (tests/test_sweep.cpp, tests/test_sweep_outputs.cpp): a random
// logits dump with K = 4 exits and C = 5 classes, val and test splits, in dir/dump, and a profile
// beside it with two targets, cpu (ms, backbone and head per exit; full cost 4.4 ms) and flops
// (mflops, cumulative; full cost 70).
#pragma once

#include <filesystem>
#include <string>
#include <vector>

#include "dse/report.hpp"
#include "profiles/io.hpp"
#include "test_util.hpp"

namespace exitplan::testing {

struct SweepFixture {
  TempDir dir;

  SweepFixture(int n_val, int n_test) {
    std::filesystem::create_directories(dir / "dump");
    WriteRandomLogitsDump(dir / "dump", "val", n_val, 4, 5, 11);
    WriteRandomLogitsDump(dir / "dump", "test", n_test, 4, 5, 12);
    WriteText(dir / "dump/profile.yaml",
              "targets:\n"
              "  cpu:\n"
              "    unit: ms\n"
              "    exits:\n"
              "      - {name: e1, backbone: 1.0, head: 0.1}\n"
              "      - {name: e2, backbone: 2.0, head: 0.1}\n"
              "      - {name: e3, backbone: 3.0, head: 0.1}\n"
              "      - {name: fin, backbone: 4.0, head: 0.1}\n"
              "  flops:\n"
              "    unit: mflops\n"
              "    cumulative: [10, 25, 45, 70]\n");
  }

  // Writes dir/<file>: output `output`, one model `model` on the dump, the `methods` list (YAML
  // lines "  - {method: ...}\n"), `budgets`, then `extra` (more top-level keys); returns its path.
  std::string WriteSpec(const std::string& file, const std::string& output,
                        const std::string& methods, const std::string& budgets,
                        const std::string& extra = "", const std::string& model = "toy") const {
    const std::string text = "output: " + output + "\nmodels:\n  - name: " + model +
                             "\n    dump: dump\n    profile: dump/profile.yaml\nmethods:\n" +
                             methods + "budgets: " + budgets + "\n" + extra;
    WriteText(dir / file, text);
    return dir / file;
  }

  // WriteSpec into dir/<name>.yaml with output out-<name>.
  std::string Write(const std::string& name, const std::string& methods,
                    const std::string& budgets = "\"30%:100%:6\"",
                    const std::string& extra = "") const {
    return WriteSpec(name + ".yaml", "out-" + name, methods, budgets, extra);
  }
};

// The rows of a sweep's Pareto CSV for one model/target group (reports/<group>.csv).
inline std::vector<ResultRow> ReportRows(const std::string& output,
                                         const std::string& group = "toy__cpu") {
  const std::string path = output + "/reports/" + group + ".csv";
  return ResultsFromCsv(ReadFile(path), path);
}

}  // namespace exitplan::testing
