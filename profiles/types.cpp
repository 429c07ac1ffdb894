#include "profiles/types.hpp"

#include <charconv>
#include <cmath>
#include <sstream>

#include "profiles/error.hpp"

namespace exitplan {
namespace {

const char* const kMeasureNames[kNumMeasures] = {"max_prob", "entropy", "margin",
                                                 "patience", "vote",    "confidence"};

std::string Trimmed(const std::string& s) {
  auto b = s.find_first_not_of(" \t");
  auto e = s.find_last_not_of(" \t");
  return b == std::string::npos ? std::string() : s.substr(b, e - b + 1);
}

}  // namespace

std::string ToString(ScoreOrder order) {
  return order == ScoreOrder::kDescending ? "descending" : "ascending";
}
std::string ToString(Measure measure) { return kMeasureNames[static_cast<int>(measure)]; }
std::string ToString(Target target) { return target == Target::kLabels ? "labels" : "agreement"; }

ScoreOrder ScoreOrderFromString(const std::string& text, const std::string& what) {
  if (text == "descending") return ScoreOrder::kDescending;
  if (text == "ascending") return ScoreOrder::kAscending;
  throw InputError(what, "unknown score order '" + text + "' (expected descending or ascending)");
}

Measure MeasureFromString(const std::string& text, const std::string& what) {
  for (int i = 0; i < kNumMeasures; ++i) {
    if (text == kMeasureNames[i]) return static_cast<Measure>(i);
  }
  throw InputError(what, "unknown measure '" + text +
                             "' (expected max_prob, entropy, margin, patience, vote or "
                             "confidence)");
}

Target TargetFromString(const std::string& text, const std::string& what) {
  if (text == "labels") return Target::kLabels;
  if (text == "agreement") return Target::kAgreement;
  throw InputError(what, "unknown target '" + text + "' (expected labels or agreement)");
}

std::vector<std::string> MeasureNames() {
  return std::vector<std::string>(kMeasureNames, kMeasureNames + kNumMeasures);
}

std::string FormatDouble(double value) {
  if (std::isnan(value)) return "nan";
  if (std::isinf(value)) return value > 0 ? "inf" : "-inf";
  char buf[64];
  auto res = std::to_chars(buf, buf + sizeof buf, value);
  return std::string(buf, res.ptr);
}

std::string JoinDoubles(const std::vector<double>& values, const std::string& sep) {
  std::string out;
  for (std::size_t i = 0; i < values.size(); ++i) {
    if (i) out += sep;
    out += FormatDouble(values[i]);
  }
  return out;
}

std::vector<double> ParseDoubleList(const std::string& text, const std::string& what) {
  std::vector<double> out;
  std::stringstream ss(text);
  std::string item;
  while (std::getline(ss, item, ',')) {
    item = Trimmed(item);
    double v = 0;
    auto res = std::from_chars(item.data(), item.data() + item.size(), v);
    if (item.empty() || res.ec != std::errc() || res.ptr != item.data() + item.size()) {
      throw InputError(what, "'" + item + "' is not a number (expected a comma-separated list)");
    }
    out.push_back(v);
  }
  if (out.empty()) throw InputError(what, "empty list");
  return out;
}

std::vector<int> ParseIntList(const std::string& text, const std::string& what) {
  std::vector<int> out;
  std::stringstream ss(text);
  std::string item;
  while (std::getline(ss, item, ',')) {
    item = Trimmed(item);
    int v = 0;
    auto res = std::from_chars(item.data(), item.data() + item.size(), v);
    if (item.empty() || res.ec != std::errc() || res.ptr != item.data() + item.size()) {
      throw InputError(what, "'" + item + "' is not a whole number");
    }
    out.push_back(v);
  }
  if (out.empty()) throw InputError(what, "empty list");
  return out;
}

}  // namespace exitplan
