#include "dse/plot.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <map>
#include <set>
#include <sstream>

#include "profiles/error.hpp"
#include "profiles/io.hpp"

namespace exitplan {
namespace {

// Matplotlib's "tab10" palette: distinguishable, and familiar to readers of ML papers.
const char* const kColors[] = {"#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd",
                               "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22", "#17becf"};
constexpr int kNumColors = 10;
constexpr int kNumShapes = 6;

std::string Xml(const std::string& s) {
  std::string out;
  for (char ch : s) {
    switch (ch) {
      case '&':
        out += "&amp;";
        break;
      case '<':
        out += "&lt;";
        break;
      case '>':
        out += "&gt;";
        break;
      case '"':
        out += "&quot;";
        break;
      default:
        out += ch;
    }
  }
  return out;
}

std::string F(double v) {  // coordinates: two decimals are plenty for pixels
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.2f", v);
  return buf;
}

std::string TickLabel(double v, double step) {
  int decimals = 0;
  if (step > 0) {
    const double e = std::floor(std::log10(step));
    decimals = std::max(0, static_cast<int>(-e));
    const double mant = step / std::pow(10.0, e);
    if (std::fabs(mant - 2.5) < 1e-9) ++decimals;
  }
  if (std::fabs(v) < step * 1e-9) v = 0.0;  // no "-0"
  const double av = std::fabs(v);
  char buf[48];
  if (av != 0.0 && (av >= 1e6 || av < 1e-4)) {
    std::snprintf(buf, sizeof buf, "%.3g", v);
  } else {
    std::snprintf(buf, sizeof buf, "%.*f", std::min(decimals, 8), v);
  }
  return buf;
}

// One marker of `shape` centred at (x, y).
std::string Marker(int shape, double x, double y, const std::string& color, double r = 4.0) {
  std::ostringstream o;
  switch (shape % kNumShapes) {
    case 0:
      o << "<circle cx=\"" << F(x) << "\" cy=\"" << F(y) << "\" r=\"" << F(r) << "\" fill=\""
        << color << "\"/>";
      break;
    case 1:
      o << "<rect x=\"" << F(x - r) << "\" y=\"" << F(y - r) << "\" width=\"" << F(2 * r)
        << "\" height=\"" << F(2 * r) << "\" fill=\"" << color << "\"/>";
      break;
    case 2:
      o << "<polygon points=\"" << F(x) << "," << F(y - 1.2 * r) << " " << F(x - 1.1 * r) << ","
        << F(y + 0.8 * r) << " " << F(x + 1.1 * r) << "," << F(y + 0.8 * r) << "\" fill=\"" << color
        << "\"/>";
      break;
    case 3:
      o << "<polygon points=\"" << F(x) << "," << F(y - 1.3 * r) << " " << F(x + 1.3 * r) << ","
        << F(y) << " " << F(x) << "," << F(y + 1.3 * r) << " " << F(x - 1.3 * r) << "," << F(y)
        << "\" fill=\"" << color << "\"/>";
      break;
    case 4:
      o << "<polygon points=\"" << F(x) << "," << F(y + 1.2 * r) << " " << F(x - 1.1 * r) << ","
        << F(y - 0.8 * r) << " " << F(x + 1.1 * r) << "," << F(y - 0.8 * r) << "\" fill=\"" << color
        << "\"/>";
      break;
    default:
      o << "<path d=\"M" << F(x - r) << "," << F(y - r) << "L" << F(x + r) << "," << F(y + r) << "M"
        << F(x - r) << "," << F(y + r) << "L" << F(x + r) << "," << F(y - r) << "\" stroke=\""
        << color << "\" stroke-width=\"2.2\" fill=\"none\"/>";
  }
  return o.str();
}

// An answer over its budget: a red ring crossed by an X.
std::string OverBudgetMarker(double x, double y) {
  const double r = 4.5;
  std::ostringstream o;
  o << "<g class=\"over-budget\" stroke=\"#d62728\" stroke-width=\"1.4\" fill=\"none\"><circle "
       "cx=\""
    << F(x) << "\" cy=\"" << F(y) << "\" r=\"" << F(r) << "\"/><path d=\"M" << F(x - r) << ","
    << F(y - r) << "L" << F(x + r) << "," << F(y + r) << "M" << F(x - r) << "," << F(y + r) << "L"
    << F(x + r) << "," << F(y - r) << "\"/></g>";
  return o.str();
}

// The final-exit reference: a black five-pointed star.
std::string ReferenceMarker(double x, double y) {
  std::ostringstream o;
  o << "<polygon class=\"reference\" fill=\"black\" points=\"";
  for (int i = 0; i < 10; ++i) {
    const double a = -M_PI / 2 + i * M_PI / 5, r = i % 2 ? 3.0 : 7.0;
    o << (i ? " " : "") << F(x + r * std::cos(a)) << "," << F(y + r * std::sin(a));
  }
  o << "\"/>";
  return o.str();
}

struct Range {
  double lo = 0, hi = 1;
};

Range Padded(double lo, double hi) {
  if (!(hi - lo > 1e-12 * std::max(1.0, std::fabs(hi)))) {
    const double d = std::max(std::fabs(lo) * 0.05, 1e-3);
    return {lo - d, hi + d};
  }
  const double pad = 0.05 * (hi - lo);
  return {lo - pad, hi + pad};
}

}  // namespace

namespace internal {

std::vector<double> NiceTicks(double lo, double hi, int target) {
  std::vector<double> ticks;
  if (!(hi > lo) || !std::isfinite(lo) || !std::isfinite(hi) || target < 2) return ticks;
  const double raw = (hi - lo) / target;
  const double e = std::pow(10.0, std::floor(std::log10(raw)));
  double step = 10 * e;
  for (double m : {1.0, 2.0, 2.5, 5.0, 10.0}) {
    if (m * e >= raw * 0.999) {
      step = m * e;
      break;
    }
  }
  const double first = std::ceil(lo / step - 1e-9) * step;
  for (int i = 0;; ++i) {
    const double v = first + i * step;
    if (v > hi + step * 1e-9) break;
    ticks.push_back(std::fabs(v) < step * 1e-9 ? 0.0 : v);
    if (i > 1000) break;
  }
  return ticks;
}

}  // namespace internal

std::string PlotOptions::Validate() const {
  std::string out;
  if (width < 400) out += "plot width = " + std::to_string(width) + ": must be >= 400\n";
  if (height < 300) out += "plot height = " + std::to_string(height) + ": must be >= 300\n";
  if (!out.empty()) out.pop_back();
  return out;
}

std::string PlotSvg(const std::vector<ResultRow>& input, const PlotOptions& options) {
  if (const std::string bad = options.Validate(); !bad.empty()) throw InputError("plot", bad);
  std::vector<ResultRow> rows, over;  // solutions; policies over their budget
  for (const ResultRow& r : input) {
    if (r.has_solution())
      rows.push_back(r);
    else if (r.has_policy())
      over.push_back(r);
  }
  bool any_front = false;
  for (const ResultRow& r : rows) any_front |= r.pareto;
  if (!any_front) MarkPareto(rows);

  bool eval = options.use_eval;
  if (eval) {
    bool have = false;
    for (const ResultRow& r : rows) have |= !std::isnan(r.eval_acc) && !std::isnan(r.eval_cost);
    for (const ResultRow& r : over) have |= !std::isnan(r.eval_acc) && !std::isnan(r.eval_cost);
    eval = have;
  }
  const double scale = options.percent ? 100.0 : 1.0;
  auto px = [&](const ResultRow& r) { return eval ? r.eval_cost : r.fit_cost; };
  auto py = [&](const ResultRow& r) { return (eval ? r.eval_acc : r.fit_acc) * scale; };
  std::vector<ResultRow> shown, shown_over;
  for (const ResultRow& r : rows) {
    if (std::isfinite(px(r)) && std::isfinite(py(r))) shown.push_back(r);
  }
  for (const ResultRow& r : over) {
    if (std::isfinite(px(r)) && std::isfinite(py(r))) shown_over.push_back(r);
  }
  const bool reference =
      std::isfinite(options.reference_cost) && std::isfinite(options.reference_acc);
  std::vector<double> budgets = options.budgets;
  if (budgets.empty()) {
    for (const ResultRow& r : input) {
      if (std::isfinite(r.budget)) budgets.push_back(r.budget);
    }
  }
  std::sort(budgets.begin(), budgets.end());
  budgets.erase(std::unique(budgets.begin(), budgets.end()), budgets.end());

  // Series keys: method, + measure when the method has several, + model/target when several.
  std::set<std::pair<std::string, std::string>> groups;
  std::string unit;
  for (const ResultRow& r : input) {
    groups.insert({r.model, r.target});
    if (unit.empty()) unit = r.unit;
  }
  std::set<std::string> all_measures;
  for (const ResultRow& r : shown) all_measures.insert(r.measure);
  auto key_of = [&](const ResultRow& r) {
    std::string k = r.method;
    if (all_measures.size() > 1 && !r.measure.empty()) k += " (" + r.measure + ")";
    if (groups.size() > 1) k = r.model + (r.target.empty() ? "" : "/" + r.target) + ": " + k;
    return k;
  };
  std::vector<std::string> keys;  // first-appearance order: stable colours across plots
  std::map<std::string, std::vector<std::pair<double, double>>> series;
  for (const ResultRow& r : shown) {
    const std::string k = key_of(r);
    if (!series.count(k)) keys.push_back(k);
    series[k].push_back({px(r), py(r)});
  }
  for (auto& [k, pts] : series) std::sort(pts.begin(), pts.end());

  std::string title = options.title;
  if (title.empty() && groups.size() == 1) {
    const auto& g = *groups.begin();
    title = g.first + (g.second.empty() ? "" : " / " + g.second);
  }

  const double W = options.width, H = options.height;
  const double legend_w = 250, left = 78, top = title.empty() ? 24 : 46, bottom = 58;
  const double x0 = left, x1 = W - legend_w, y0 = top, y1 = H - bottom;

  std::ostringstream o;
  o << "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
    << "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"" << options.width << "\" height=\""
    << options.height << "\" viewBox=\"0 0 " << options.width << " " << options.height
    << "\" font-family=\"DejaVu Sans, Helvetica, Arial, sans-serif\" font-size=\"13\">\n"
    << "<rect width=\"100%\" height=\"100%\" fill=\"white\"/>\n";
  if (!title.empty()) {
    o << "<text x=\"" << F((x0 + x1) / 2) << "\" y=\"28\" text-anchor=\"middle\" font-size=\"16\""
      << " font-weight=\"bold\">" << Xml(title) << "</text>\n";
  }
  const std::string split = eval ? "eval" : "fit";
  const std::string xlabel =
      "mean " + split + " cost per sample" + (unit.empty() ? "" : " [" + unit + "]");
  const std::string ylabel = split + " accuracy" + (options.percent ? " [%]" : "");

  if (shown.empty() && shown_over.empty()) {
    o << "<rect x=\"" << F(x0) << "\" y=\"" << F(y0) << "\" width=\"" << F(x1 - x0)
      << "\" height=\"" << F(y1 - y0) << "\" fill=\"none\" stroke=\"#333\"/>\n"
      << "<text x=\"" << F((x0 + x1) / 2) << "\" y=\"" << F((y0 + y1) / 2)
      << "\" text-anchor=\"middle\">no configuration with a solution to plot</text>\n</svg>\n";
    return o.str();
  }

  double xmin = INFINITY, xmax = -INFINITY, ymin = INFINITY, ymax = -INFINITY;
  for (const std::vector<ResultRow>* set : {&shown, &shown_over}) {
    for (const ResultRow& r : *set) {
      xmin = std::min(xmin, px(r));
      xmax = std::max(xmax, px(r));
      ymin = std::min(ymin, py(r));
      ymax = std::max(ymax, py(r));
    }
  }
  if (reference) {
    xmin = std::min(xmin, options.reference_cost);
    xmax = std::max(xmax, options.reference_cost);
    ymin = std::min(ymin, options.reference_acc * scale);
    ymax = std::max(ymax, options.reference_acc * scale);
  }
  // Budgets inside the span of the points (a budget far above the full cost would squash them).
  if (options.mark_budgets) {
    std::vector<double> inside;
    for (double b : budgets) {
      if (b >= xmin - 0.05 * (xmax - xmin) && b <= xmax + 0.05 * (xmax - xmin)) inside.push_back(b);
    }
    budgets = inside;
  } else {
    budgets.clear();
  }
  const Range xr = Padded(xmin, xmax), yr = Padded(ymin, ymax);
  auto sx = [&](double v) { return x0 + (v - xr.lo) / (xr.hi - xr.lo) * (x1 - x0); };
  auto sy = [&](double v) { return y1 - (v - yr.lo) / (yr.hi - yr.lo) * (y1 - y0); };

  // Grid, ticks and tick labels.
  const std::vector<double> xt = internal::NiceTicks(xr.lo, xr.hi, 7);
  const std::vector<double> yt = internal::NiceTicks(yr.lo, yr.hi, 6);
  const double xstep = xt.size() > 1 ? xt[1] - xt[0] : 0, ystep = yt.size() > 1 ? yt[1] - yt[0] : 0;
  o << "<g stroke=\"#e5e5e5\" stroke-width=\"1\">\n";
  for (double v : xt)
    o << "<line x1=\"" << F(sx(v)) << "\" y1=\"" << F(y0) << "\" x2=\"" << F(sx(v)) << "\" y2=\""
      << F(y1) << "\"/>\n";
  for (double v : yt)
    o << "<line x1=\"" << F(x0) << "\" y1=\"" << F(sy(v)) << "\" x2=\"" << F(x1) << "\" y2=\""
      << F(sy(v)) << "\"/>\n";
  o << "</g>\n<g stroke=\"#333\" stroke-width=\"1\">\n";
  for (double v : xt)
    o << "<line x1=\"" << F(sx(v)) << "\" y1=\"" << F(y1) << "\" x2=\"" << F(sx(v)) << "\" y2=\""
      << F(y1 + 5) << "\"/>\n";
  for (double v : yt)
    o << "<line x1=\"" << F(x0 - 5) << "\" y1=\"" << F(sy(v)) << "\" x2=\"" << F(x0) << "\" y2=\""
      << F(sy(v)) << "\"/>\n";
  o << "</g>\n";
  for (double v : xt) {
    o << "<text x=\"" << F(sx(v)) << "\" y=\"" << F(y1 + 20) << "\" text-anchor=\"middle\">"
      << TickLabel(v, xstep) << "</text>\n";
  }
  for (double v : yt) {
    o << "<text x=\"" << F(x0 - 9) << "\" y=\"" << F(sy(v) + 4.5) << "\" text-anchor=\"end\">"
      << TickLabel(v, ystep) << "</text>\n";
  }
  o << "<rect x=\"" << F(x0) << "\" y=\"" << F(y0) << "\" width=\"" << F(x1 - x0) << "\" height=\""
    << F(y1 - y0) << "\" fill=\"none\" stroke=\"#333\"/>\n";
  o << "<text x=\"" << F((x0 + x1) / 2) << "\" y=\"" << F(H - 14) << "\" text-anchor=\"middle\">"
    << Xml(xlabel) << "</text>\n";
  o << "<text transform=\"translate(20," << F((y0 + y1) / 2)
    << ") rotate(-90)\" text-anchor=\"middle\">" << Xml(ylabel) << "</text>\n";

  // Series, clipped to the plot area.
  o << "<defs><clipPath id=\"area\"><rect x=\"" << F(x0) << "\" y=\"" << F(y0) << "\" width=\""
    << F(x1 - x0) << "\" height=\"" << F(y1 - y0) << "\"/></clipPath></defs>\n"
    << "<g clip-path=\"url(#area)\">\n";
  // The requested budgets, below everything else.
  for (double b : budgets) {
    o << "<line class=\"budget\" x1=\"" << F(sx(b)) << "\" y1=\"" << F(y0) << "\" x2=\"" << F(sx(b))
      << "\" y2=\"" << F(y1)
      << "\" stroke=\"#888\" stroke-width=\"1\" stroke-dasharray=\"1,3\"/>\n";
  }
  for (std::size_t s = 0; s < keys.size(); ++s) {
    const std::string color = kColors[s % kNumColors];
    const auto& pts = series[keys[s]];
    if (pts.size() > 1) {
      o << "<polyline fill=\"none\" stroke=\"" << color << "\" stroke-width=\"1.6\" "
        << "stroke-opacity=\"0.85\" points=\"";
      for (std::size_t q = 0; q < pts.size(); ++q) {
        o << (q ? " " : "") << F(sx(pts[q].first)) << "," << F(sy(pts[q].second));
      }
      o << "\"/>\n";
    }
    const double r = pts.size() > 60 ? 2.4 : 3.8;
    for (const auto& p : pts)
      o << Marker(static_cast<int>(s), sx(p.first), sy(p.second), color, r) << "\n";
  }
  // The Pareto front (chosen on the fit split), on top.
  std::vector<std::pair<double, double>> front;
  if (options.mark_front) {
    for (const ResultRow& r : shown) {
      if (r.pareto) front.push_back({px(r), py(r)});
    }
    std::sort(front.begin(), front.end());
    if (front.size() > 1) {
      o << "<polyline fill=\"none\" stroke=\"black\" stroke-width=\"1.3\" "
        << "stroke-dasharray=\"5,3\" points=\"";
      for (std::size_t q = 0; q < front.size(); ++q) {
        o << (q ? " " : "") << F(sx(front[q].first)) << "," << F(sy(front[q].second));
      }
      o << "\"/>\n";
    }
    for (const auto& p : front) {
      o << "<circle cx=\"" << F(sx(p.first)) << "\" cy=\"" << F(sy(p.second))
        << "\" r=\"6.5\" fill=\"none\" stroke=\"black\" stroke-width=\"1.3\"/>\n";
    }
  }
  // Over-budget answers: red crossed rings, not joined, not on the front.
  for (const ResultRow& r : shown_over) o << OverBudgetMarker(sx(px(r)), sy(py(r))) << "\n";
  if (reference) {
    o << ReferenceMarker(sx(options.reference_cost), sy(options.reference_acc * scale)) << "\n";
  }
  o << "</g>\n";

  // Legend, right of the plot area.
  const double lx = x1 + 18;
  double ly = y0 + 8;
  o << "<g font-size=\"12\">\n";
  for (std::size_t s = 0; s < keys.size(); ++s) {
    const std::string color = kColors[s % kNumColors];
    o << "<line x1=\"" << F(lx) << "\" y1=\"" << F(ly) << "\" x2=\"" << F(lx + 26) << "\" y2=\""
      << F(ly) << "\" stroke=\"" << color << "\" stroke-width=\"1.6\"/>"
      << Marker(static_cast<int>(s), lx + 13, ly, color) << "\n";
    std::string label = keys[s];
    if (label.size() > 32) label = label.substr(0, 31) + "…";
    o << "<text x=\"" << F(lx + 34) << "\" y=\"" << F(ly + 4) << "\">" << Xml(label) << "</text>\n";
    ly += 20;
  }
  if (options.mark_front && !front.empty()) {
    o << "<line x1=\"" << F(lx) << "\" y1=\"" << F(ly) << "\" x2=\"" << F(lx + 26) << "\" y2=\""
      << F(ly) << "\" stroke=\"black\" stroke-width=\"1.3\" stroke-dasharray=\"5,3\"/>"
      << "<circle cx=\"" << F(lx + 13) << "\" cy=\"" << F(ly)
      << "\" r=\"6.5\" fill=\"none\" stroke=\"black\" stroke-width=\"1.3\"/>\n"
      << "<text x=\"" << F(lx + 34) << "\" y=\"" << F(ly + 4)
      << "\">Pareto front (chosen on fit)</text>\n";
    ly += 20;
  }
  if (!shown_over.empty()) {
    o << OverBudgetMarker(lx + 13, ly) << "<text x=\"" << F(lx + 34) << "\" y=\"" << F(ly + 4)
      << "\">over budget (not deployable)</text>\n";
    ly += 20;
  }
  if (!budgets.empty()) {
    o << "<line x1=\"" << F(lx + 13) << "\" y1=\"" << F(ly - 8) << "\" x2=\"" << F(lx + 13)
      << "\" y2=\"" << F(ly + 8)
      << "\" stroke=\"#888\" stroke-width=\"1\" stroke-dasharray=\"1,3\"/>"
      << "<text x=\"" << F(lx + 34) << "\" y=\"" << F(ly + 4) << "\">requested budget"
      << (budgets.size() > 1 ? "s" : "") << "</text>\n";
    ly += 20;
  }
  if (reference) {
    o << ReferenceMarker(lx + 13, ly) << "<text x=\"" << F(lx + 34) << "\" y=\"" << F(ly + 4)
      << "\">final exit, full cost</text>\n";
    ly += 20;
  }
  o << "</g>\n</svg>\n";
  return o.str();
}

void WritePlotSvg(const std::string& path, const std::vector<ResultRow>& rows,
                  const PlotOptions& options) {
  WriteFileAtomic(path, PlotSvg(rows, options));
}

}  // namespace exitplan
