// The budget grammar (profiles/budget.hpp), table-driven: every form, every refusal.
#include <catch2/catch.hpp>
#include <cmath>

#include "profiles/budget.hpp"
#include "profiles/error.hpp"
#include "profiles/profile.hpp"
#include "test_util.hpp"

using namespace exitplan;

namespace {

// A profile in ms whose full cost is 4 (backbone 3.5 + heads 0.25 + 0.25).
CostProfile Ms4() {
  CostProfile p;
  p.unit = "ms";
  p.target = "cpu";
  p.backbone = {1.0, 3.5};
  p.head = {0.25, 0.25};
  return p;
}

std::string ErrorOf(const std::string& text) {
  try {
    ParseBudgets(text, "--budget");
  } catch (const InputError& e) {
    return e.what();
  }
  return "";
}

}  // namespace

TEST_CASE("budget: every accepted form resolves to the hand-computed absolute budgets") {
  const CostProfile p = Ms4();
  REQUIRE(p.FullCost() == 4.0);
  struct Case {
    const char* text;
    std::vector<double> absolute;  // in ms, against full cost 4 ms
    std::vector<bool> relative;
  };
  const std::vector<Case> cases = {
      {"3", {3.0}, {false}},
      {"3ms", {3.0}, {false}},
      {" 3 ms ", {3.0}, {false}},
      {"3MS", {3.0}, {false}},
      {"6", {6.0}, {false}},  // above the full cost: valid (everything fits)
      {"40%", {1.6}, {true}},
      {"0.4x", {1.6}, {true}},
      {"100%", {4.0}, {true}},
      {"1x", {4.0}, {true}},
      {"0.25x,50%,2", {1.0, 2.0, 2.0}, {true, true, false}},
      {"1:3:5", {1.0, 1.5, 2.0, 2.5, 3.0}, {false, false, false, false, false}},
      {"1ms:3ms:3", {1.0, 2.0, 3.0}, {false, false, false}},
      {"25%:75%:3", {1.0, 2.0, 3.0}, {true, true, true}},
      {"0.25x:1x:4", {1.0, 2.0, 3.0, 4.0}, {true, true, true, true}},
      {"25%:75%:1", {1.0}, {true}},  // N = 1 gives LO
      {"1:3:1", {1.0}, {false}},
      {"2:2:2", {2.0, 2.0}, {false, false}},
      {"1:2:2,50%", {1.0, 2.0, 2.0}, {false, false, true}},
      {"1e-1", {0.1}, {false}},
  };
  for (const Case& c : cases) {
    INFO("budget text: '" << c.text << "'");
    const std::vector<Budget> b = ParseBudgets(c.text, "--budget");
    const std::vector<double> got = ResolveBudgets(b, p);
    REQUIRE(got.size() == c.absolute.size());
    for (std::size_t i = 0; i < got.size(); ++i) {
      CHECK(got[i] == Approx(c.absolute[i]).epsilon(1e-14));
      CHECK(b[i].relative == c.relative[i]);
    }
  }
  // The endpoints of a range are exact (no drift at HI), and the texts follow their form.
  const std::vector<Budget> r = ParseBudgets("10%:70%:7", "--budget");
  CHECK(r.back().value == 0.7);
  CHECK(r[3].text == "40%");
  CHECK(ParseBudgets("0.1x:0.3x:3", "x")[1].text == "0.2x");
  CHECK(ParseBudgets("1ms:3ms:3", "x")[1].text == "2ms");
  CHECK(ParseBudget("40%", "w").value == 0.4);
  CHECK(ParseBudget("40%", "w").what == "w");
}

TEST_CASE("budget: bad text is refused with one line naming the option and the item") {
  struct Case {
    const char* text;
    const char* expect;  // a substring of the message
  };
  const std::vector<Case> cases = {
      {"", "no budget given"},
      {"  ", "no budget given"},
      {"abc", "budget 'abc': not a number"},
      {"+3", "not a number"},
      {"nan", "not a number"},
      {"inf", "must be finite"},
      {"1e999", "must be finite"},
      {"-3", "must be > 0"},
      {"0", "must be > 0"},
      {"0%", "must be > 0"},
      {"101%", "above 100%"},
      {"1.5x", "above 100%"},
      {"3bananas", "unknown unit 'bananas'"},
      {"1x5", "unknown unit 'x5'"},
      {"1,,2", "empty budget"},
      {"1,", "empty budget"},
      {"1:2", "expected LO:HI:N"},
      {"1:2:3:4", "expected LO:HI:N"},
      {"3:1:2", "LO must be <= HI"},
      {"1:3:0", "N = '0'"},
      {"1:3:2.5", "N = '2.5'"},
      {"1:3:x", "N = 'x'"},
      {"1:3:100001", "at most 100000"},
      {"10%:2:3", "same form"},
      {"1ms:3:3", "same form"},
      {"50%:120%:3", "above 100%"},
      {"1:2:60000,1:2:60000", "more than 100000"},
  };
  for (const Case& c : cases) {
    INFO("budget text: '" << c.text << "'");
    const std::string err = ErrorOf(c.text);
    CHECK(err.rfind("--budget: ", 0) == 0);
    CHECK(err.find(c.expect) != std::string::npos);
    CHECK(err.find('\n') == std::string::npos);
  }
  CHECK(ParseBudgets("1:2:100000", "b").size() == 100000);
}

TEST_CASE("budget: a unit suffix must be the profile's unit") {
  const CostProfile p = Ms4();
  const std::vector<Budget> us = ParseBudgets("3us", "--budget");
  CHECK_THROWS_WITH(ResolveBudgets(us, p), Catch::Contains("--budget: budget '3us': the profile's "
                                                           "unit is ms, not us"));
  CHECK(ResolveBudgets(ParseBudgets("3", "--budget"), p) == std::vector<double>{3.0});
  CHECK(FullCostLine(p) == "full cost (every exit kept, running to the final exit): 4 ms = 100%");
}

TEST_CASE("budget: fractions (--accuracy-drop) as 0.005 or 0.5%") {
  CHECK(ParseFraction("0.005", "--accuracy-drop") == 0.005);
  CHECK(ParseFraction("0.5%", "--accuracy-drop") == Approx(0.005).epsilon(1e-15));
  CHECK(ParseFraction("0", "--accuracy-drop") == 0.0);
  CHECK(ParseFraction("100%", "--accuracy-drop") == 1.0);
  for (const char* bad : {"-0.1", "1.5", "101%", "abc", "0.5x", "nan", ""}) {
    INFO(bad);
    CHECK_THROWS_WITH(ParseFraction(bad, "--accuracy-drop"),
                      Catch::StartsWith("--accuracy-drop: "));
  }
}
