#include <catch2/catch.hpp>
#include <fstream>
#include <regex>

#include "dse/plot.hpp"
#include "profiles/error.hpp"
#include "profiles/io.hpp"
#include "test_util.hpp"

using namespace exitplan;

namespace {

ResultRow Row(const std::string& method, const std::string& measure, double fc, double fa,
              double ec, double ea) {
  ResultRow r;
  r.model = "m";
  r.target = "cpu";
  r.unit = "ms";
  r.method = method;
  r.measure = measure;
  r.kept_exits = {0, 1};
  r.fit_cost = fc;
  r.fit_acc = fa;
  r.eval_cost = ec;
  r.eval_acc = ea;
  r.outcome = "optimal";
  return r;
}

int Count(const std::string& text, const std::string& needle) {
  int n = 0;
  for (std::size_t p = text.find(needle); p != std::string::npos; p = text.find(needle, p + 1)) ++n;
  return n;
}

}  // namespace

TEST_CASE("NiceTicks picks 1-2-2.5-5 steps inside the range") {
  auto t = internal::NiceTicks(0.0, 1.0, 5);
  REQUIRE(t.size() == 6);  // 0, 0.2, ..., 1.0
  CHECK(t[0] == 0.0);
  CHECK(t[1] == Approx(0.2));
  CHECK(t[5] == Approx(1.0));
  t = internal::NiceTicks(0.93, 4.1, 6);  // raw step 0.528 -> 1
  REQUIRE(t.size() == 4);
  CHECK(t.front() == Approx(1.0));
  CHECK(t.back() == Approx(4.0));
  t = internal::NiceTicks(87.3, 91.2, 6);  // raw 0.65 -> 1
  REQUIRE(t.size() == 4);
  CHECK(t.front() == Approx(88));
  t = internal::NiceTicks(0, 10, 4);  // raw 2.5
  REQUIRE(t.size() == 5);
  CHECK(t[1] == Approx(2.5));
  CHECK(internal::NiceTicks(1.0, 1.0).empty());
}

TEST_CASE("PlotSvg draws one series per method, the front and the legend") {
  std::vector<ResultRow> rows = {Row("ippp", "maxprob", 1.0, 0.80, 1.1, 0.79),
                                 Row("ippp", "maxprob", 2.0, 0.90, 2.1, 0.88),
                                 Row("single", "maxprob", 1.5, 0.82, 1.4, 0.81),
                                 Row("single", "maxprob", 2.5, 0.89, 2.4, 0.9)};
  MarkPareto(rows);
  int front = 0;
  for (const auto& r : rows) front += r.pareto;
  REQUIRE(front == 3);  // (2.5, 0.89) is dominated by (2.0, 0.90)
  const std::string svg = PlotSvg(rows, {});
  CHECK(svg.rfind("<?xml", 0) == 0);
  CHECK(svg.find("</svg>") != std::string::npos);
  CHECK(Count(svg, "<polyline") == 3);          // two series + the front
  CHECK(Count(svg, "r=\"6.5\"") == front + 1);  // one ring per front point + legend ring
  CHECK(svg.find(">ippp</text>") != std::string::npos);
  CHECK(svg.find(">single</text>") != std::string::npos);
  CHECK(svg.find("mean eval cost per sample [ms]") != std::string::npos);
  CHECK(svg.find("eval accuracy [%]") != std::string::npos);
  CHECK(svg.find(">m / cpu</text>") != std::string::npos);
  // Deterministic.
  CHECK(svg == PlotSvg(rows, {}));

  PlotOptions fit;
  fit.use_eval = false;
  fit.title = "A <b> & c";
  const std::string svg2 = PlotSvg(rows, fit);
  CHECK(svg2.find("mean fit cost per sample [ms]") != std::string::npos);
  CHECK(svg2.find("A &lt;b&gt; &amp; c") != std::string::npos);
}

TEST_CASE("PlotSvg places points by value") {
  // Two points: (1, 50%) and (3, 100%); x range padded by 5% of 2 -> [0.9, 3.1].
  std::vector<ResultRow> rows = {Row("a", "x", 1, 0.5, 1, 0.5), Row("a", "x", 3, 1.0, 3, 1.0)};
  PlotOptions o;
  o.mark_front = false;
  const std::string svg = PlotSvg(rows, o);
  // Plot area x: 78 .. 900-250=650; x=1 -> 78 + 0.1/2.2*572 = 104.00.
  CHECK(svg.find("cx=\"104.00\"") != std::string::npos);
  // x=3 -> 78 + 2.1/2.2*572 = 624.00
  CHECK(svg.find("cx=\"624.00\"") != std::string::npos);
}

TEST_CASE("PlotSvg labels series by measure and model when needed; no solution still plots") {
  std::vector<ResultRow> rows = {Row("ippp", "maxprob", 1, 0.8, 1, 0.8),
                                 Row("ippp", "entropy", 2, 0.9, 2, 0.9)};
  std::string svg = PlotSvg(rows);
  CHECK(svg.find(">ippp (maxprob)</text>") != std::string::npos);
  rows[1].model = "n";
  svg = PlotSvg(rows);
  CHECK(svg.find(">n/cpu: ippp (entropy)</text>") != std::string::npos);

  ResultRow bad = Row("exact", "maxprob", NAN, NAN, NAN, NAN);
  bad.outcome = "infeasible";
  svg = PlotSvg({bad});
  CHECK(svg.find("no configuration with a solution") != std::string::npos);
  // No eval figures: falls back to fit.
  ResultRow nf = Row("a", "x", 1, 0.5, NAN, NAN);
  CHECK(PlotSvg({nf}).find("fit accuracy") != std::string::npos);
}

TEST_CASE("WritePlotSvg writes atomically and rejects bad options") {
  testing::TempDir dir;
  const std::string path = dir / "sub/plot.svg";
  WritePlotSvg(path, {Row("a", "x", 1, 0.5, 1, 0.5)});
  CHECK(ReadFile(path).find("</svg>") != std::string::npos);
  PlotOptions o;
  o.width = 10;
  CHECK(o.Validate() == "plot width = 10: must be >= 400");
  CHECK_THROWS_AS(WritePlotSvg(dir / "x.svg", {}, o), InputError);
}

TEST_CASE("PlotSvg marks over-budget rows apart, draws the budgets and the final-exit reference") {
  std::vector<ResultRow> rows = {Row("exact", "max_prob", 1.0, 0.80, 1.0, 0.79),
                                 Row("exact", "max_prob", 2.0, 0.85, 2.0, 0.84),
                                 Row("ippp", "max_prob", 2.2, 0.90, 2.2, 0.89)};
  rows[0].budget = 1.0;
  rows[1].budget = 2.0;
  rows[2].budget = 2.0;  // fit cost 2.2 > 2: over budget
  MarkPareto(rows);
  REQUIRE_FALSE(rows[2].pareto);
  PlotOptions po;
  po.reference_cost = 3.0;
  po.reference_acc = 0.86;
  const std::string svg = PlotSvg(rows, po);
  CHECK(Count(svg, "class=\"over-budget\"") == 2);  // the point and its legend entry
  CHECK(Count(svg, "class=\"budget\"") == 2);       // budgets 1 and 2
  CHECK(Count(svg, "class=\"reference\"") == 2);    // the star and its legend entry
  CHECK_THAT(svg, Catch::Contains("over budget (not deployable)"));
  CHECK_THAT(svg, Catch::Contains("requested budgets"));
  CHECK_THAT(svg, Catch::Contains("final exit, full cost"));
  // The over-budget row is not a series of its own (its method has no legend line).
  CHECK(Count(svg, ">ippp<") == 0);
  // Without over-budget rows, budgets or a reference: none of the three.
  po = PlotOptions();
  po.mark_budgets = false;
  const std::string plain = PlotSvg({rows[0], rows[1]}, po);
  CHECK(Count(plain, "over-budget") == 0);
  CHECK(Count(plain, "class=\"budget\"") == 0);
  CHECK(Count(plain, "class=\"reference\"") == 0);
}
