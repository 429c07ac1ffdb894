#include "profiles/budget.hpp"

#include <algorithm>
#include <cctype>
#include <charconv>
#include <cmath>
#include <cstdio>

#include "profiles/error.hpp"
#include "profiles/profile.hpp"
#include "profiles/types.hpp"

namespace exitplan {

const char* const kBudgetGrammar =
    "B or Bunit (absolute, the profile's unit), B% or Bx (of the full cost: every exit kept, "
    "running to the final exit; at most 100%), comma lists, LO:HI:N ranges (N evenly spaced, "
    "inclusive; N = 1 gives LO)";

namespace {

std::string Trim(const std::string& s) {
  std::size_t b = 0, e = s.size();
  while (b < e && std::isspace(static_cast<unsigned char>(s[b]))) ++b;
  while (e > b && std::isspace(static_cast<unsigned char>(s[e - 1]))) --e;
  return s.substr(b, e - b);
}

std::string Lower(std::string s) {
  for (char& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

std::string Short(double v) {
  char b[40];
  std::snprintf(b, sizeof b, "%.10g", v);
  return b;
}

std::string UnitList() {
  std::string s;
  for (const std::string& u : KnownUnits()) s += (s.empty() ? "" : ", ") + u;
  return s;
}

// The number at the start of `text` (std::from_chars: no hex, no leading '+', locale-free) and
// the rest, trimmed. Returns false when there is no number.
bool SplitNumber(const std::string& text, double& value, std::string& rest) {
  const char* begin = text.data();
  const char* end = begin + text.size();
  const auto r = std::from_chars(begin, end, value, std::chars_format::general);
  if (r.ec == std::errc::invalid_argument) return false;
  if (r.ec == std::errc::result_out_of_range) value = INFINITY;
  rest = Lower(Trim(std::string(r.ptr, end)));
  return true;
}

// The text of a generated range item, in the form of the range's endpoints.
std::string ItemText(const Budget& like, double value) {
  if (like.relative) {
    return like.text.back() == '%' ? Short(value * 100) + "%" : Short(value) + "x";
  }
  return Short(value) + like.unit;
}

}  // namespace

Budget ParseBudget(const std::string& item_in, const std::string& what) {
  const std::string item = Trim(item_in);
  auto bad = [&](const std::string& why) {
    return InputError(what, "budget '" + item + "': " + why);
  };
  if (item.empty())
    throw InputError(what, "empty budget (expected " + std::string(kBudgetGrammar) + ")");
  Budget b;
  b.text = item;
  b.what = what;
  double v = 0.0;
  std::string suffix;
  if (!SplitNumber(item, v, suffix)) throw bad("not a number (expected e.g. 3, 3ms, 40% or 0.4x)");
  if (std::isnan(v)) throw bad("not a number");
  if (!std::isfinite(v)) throw bad("must be finite");
  if (!(v > 0)) throw bad("must be > 0");
  if (suffix == "%" || suffix == "x") {
    b.relative = true;
    b.value = suffix == "%" ? v / 100.0 : v;
    if (b.value > 1.0) {
      throw bad(
          "a relative budget above 100% of the full cost (every exit kept, running to the "
          "final exit) is refused; give an absolute budget in the profile's unit instead");
    }
    return b;
  }
  b.value = v;
  if (!suffix.empty()) {
    const std::vector<std::string> units = KnownUnits();
    if (std::find(units.begin(), units.end(), suffix) == units.end()) {
      throw bad("unknown unit '" + suffix +
                "' (expected % or x for a fraction of the full cost, "
                "or the profile's unit: one of " +
                UnitList() + ")");
    }
    b.unit = suffix;
  }
  return b;
}

std::vector<Budget> ParseBudgets(const std::string& text, const std::string& what) {
  std::vector<Budget> out;
  if (Trim(text).empty())
    throw InputError(what, "no budget given (expected " + std::string(kBudgetGrammar) + ")");
  std::size_t start = 0;
  while (start <= text.size()) {
    std::size_t comma = text.find(',', start);
    if (comma == std::string::npos) comma = text.size();
    const std::string item = Trim(text.substr(start, comma - start));
    start = comma + 1;
    if (item.find(':') == std::string::npos) {
      out.push_back(ParseBudget(item, what));
    } else {
      std::vector<std::string> parts;
      std::size_t p = 0;
      for (std::size_t q; (q = item.find(':', p)) != std::string::npos; p = q + 1) {
        parts.push_back(item.substr(p, q - p));
      }
      parts.push_back(item.substr(p));
      auto bad = [&](const std::string& why) {
        return InputError(what, "budget range '" + item + "': " + why);
      };
      if (parts.size() != 3) throw bad("expected LO:HI:N (e.g. 20%:80%:4 or 1ms:3ms:5)");
      const Budget lo = ParseBudget(parts[0], what), hi = ParseBudget(parts[1], what);
      if (lo.relative != hi.relative || lo.unit != hi.unit) {
        throw bad(
            "LO and HI must be written in the same form (e.g. 20%:80%:4, 0.2x:0.8x:4, "
            "1ms:3ms:5 or 1:3:5)");
      }
      if (!(lo.value <= hi.value)) throw bad("LO must be <= HI");
      double nd = 0.0;
      std::string rest;
      const std::string ntext = Trim(parts[2]);
      if (!SplitNumber(ntext, nd, rest) || !rest.empty() || nd != std::floor(nd) || !(nd >= 1)) {
        throw bad("N = '" + ntext + "': expected an integer >= 1");
      }
      if (nd > kMaxBudgets) {
        throw bad("N = " + ntext + ": at most " + std::to_string(kMaxBudgets) + " budgets");
      }
      const int n = static_cast<int>(nd);
      for (int i = 0; i < n; ++i) {
        Budget b = lo;
        b.value = i == 0       ? lo.value
                  : i == n - 1 ? hi.value
                               : lo.value + (hi.value - lo.value) * i / (n - 1);
        b.text = i == 0 ? lo.text : i == n - 1 ? hi.text : ItemText(lo, b.value);
        out.push_back(b);
      }
    }
    if (out.size() > static_cast<std::size_t>(kMaxBudgets)) {
      throw InputError(what, "more than " + std::to_string(kMaxBudgets) + " budgets");
    }
    if (comma == text.size()) break;
  }
  return out;
}

double Budget::Resolve(double full_cost, const std::string& profile_unit) const {
  if (relative) {
    // A fraction of nothing (all costs 0) or of an overflowed sum is no budget at all.
    if (!(full_cost > 0) || !std::isfinite(full_cost)) {
      throw InputError(what, "budget '" + text + "' is a fraction of the full cost, which is " +
                                 FormatDouble(full_cost) + " " + profile_unit +
                                 " in this profile (expected finite and > 0): give an absolute "
                                 "budget or fix the profile's costs");
    }
    return value * full_cost;
  }
  if (!unit.empty() && unit != Lower(profile_unit)) {
    throw InputError(what, "budget '" + text + "': the profile's unit is " + profile_unit +
                               ", not " + unit + " (write " + Short(value) + profile_unit +
                               " only if you mean " + profile_unit +
                               ", or a fraction of the full cost such as 40%)");
  }
  return value;
}

double Budget::Resolve(const CostProfile& profile) const {
  return Resolve(profile.FullCost(), profile.unit);
}

std::vector<double> ResolveBudgets(const std::vector<Budget>& budgets, const CostProfile& profile) {
  std::vector<double> out;
  out.reserve(budgets.size());
  for (const Budget& b : budgets) out.push_back(b.Resolve(profile));
  return out;
}

double ParseFraction(const std::string& text_in, const std::string& what) {
  const std::string text = Trim(text_in);
  double v = 0.0;
  std::string suffix;
  if (!SplitNumber(text, v, suffix) || !(suffix.empty() || suffix == "%")) {
    throw InputError(what, "'" + text +
                               "': expected a fraction such as 0.005 or a percentage "
                               "such as 0.5%");
  }
  if (suffix == "%") v /= 100.0;
  if (!(v >= 0.0 && v <= 1.0)) {
    throw InputError(what, "'" + text + "': must be in [0, 1] (or [0%, 100%])");
  }
  return v;
}

std::string FullCostLine(const CostProfile& profile) {
  return "full cost (every exit kept, running to the final exit): " +
         FormatDouble(profile.FullCost()) + " " + profile.unit + " = 100%";
}

}  // namespace exitplan
