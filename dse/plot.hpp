// Accuracy-against-cost plots of result rows .
//
// exitplan writes the SVG itself rather than calling gnuplot: SVG needs no extra package on the
// deployment machine or in CI, the output is deterministic text (byte-identical for the same
// rows, so sweeps stay reproducible and diffable), and it renders directly in browsers and in
// the README on GitHub. None of the listed libraries plots; the writer is ~250 lines.
//
// One series per method (+ measure when the rows hold several measures, + model/target
// when the rows hold several), points joined in cost order; the Pareto front (rows with
// `pareto` set, chosen on the fit split, see MarkPareto) is drawn as a dashed black step line
// through ringed points; axes carry ticks and the cost unit; a legend sits right of the plot.
// Rows over their budget (ResultRow::has_policy but not has_solution) are drawn apart as red
// crossed rings, never joined to their series nor on the front; the requested budgets are dotted
// vertical lines; the final-exit reference (every exit kept, every sample to the final exit) is a
// black star.
#pragma once

#include <limits>
#include <string>
#include <vector>

#include "dse/report.hpp"

namespace exitplan {

struct PlotOptions {
  std::string title;            // drawn above the plot; empty = "<model> / <target>" of the rows
  bool use_eval = true;         // plot eval_acc vs eval_cost; false (or no eval figures): fit split
  int width = 900;              // pixels, whole picture (>= 400)
  int height = 540;             // pixels (>= 300)
  bool mark_front = true;       // draw the Pareto front of the rows (their `pareto` flags)
  bool percent = true;          // accuracy axis in percent (else as a fraction)
  bool mark_budgets = true;     // dotted vertical lines at the requested budgets
  std::vector<double> budgets;  // profile unit; empty = the distinct budgets of the rows
  // The final-exit reference point (accuracy as a fraction, on the plotted split, and the full
  // cost); NaN = not drawn.
  double reference_cost = std::numeric_limits<double>::quiet_NaN();
  double reference_acc = std::numeric_limits<double>::quiet_NaN();

  // "" when valid, else one line per broken rule.
  std::string Validate() const;
};

// The SVG document as text. Rows without a policy are skipped; with none left the picture says
// so. When no row has `pareto` set the front is computed on a copy (MarkPareto).
std::string PlotSvg(const std::vector<ResultRow>& rows, const PlotOptions& options = {});

// PlotSvg written atomically (WriteFileAtomic). Throws InputError for invalid options or an
// unwritable path.
void WritePlotSvg(const std::string& path, const std::vector<ResultRow>& rows,
                  const PlotOptions& options = {});

namespace internal {
// "Nice" tick positions (1, 2, 2.5, 5 x 10^k steps) covering [lo, hi] with about `target` ticks.
std::vector<double> NiceTicks(double lo, double hi, int target = 6);
}  // namespace internal

}  // namespace exitplan
