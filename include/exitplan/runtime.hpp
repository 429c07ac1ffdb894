// exitplan runtime: apply a deployment config on a device, one sample at a time.
//
// Header-only, C++17, standard library only: copy this one file into a deployment. It reads the
// JSON twin of a config written by `exitplan export --format json` or by a sweep with
// `configs: true`. JSON rather than the YAML twin because JSON's grammar is small and fully
// specified, so the ~150-line parser below reads every file exitplan writes exactly (a hand-made
// YAML subset parser would be fragile around styles and quoting), and Python reads the same file
// with its standard `json` module. Numbers are parsed with std::from_chars, which round-trips the
// shortest-form doubles exitplan writes, so thresholds are bit-identical to the evaluator's.
//
//   #include "exitplan/runtime.hpp"
//   const exitplan::runtime::Config config = exitplan::runtime::LoadConfig("row0007.json");
//   exitplan::runtime::Decider decider(config);
//   for (int exit = 0; exit < config.num_exits; ++exit) {       // shallow to deep
//     if (!decider.Runs(exit)) continue;                        // dropped exit: skip its head
//     const float* logits = RunHeadOf(exit);                    // your network, C values
//     if (decider.Step(exit, logits, num_classes)) break;       // stop: use this exit's answer
//   }
//   decider.Reset();                                            // before the next sample
//
// Decisions are those of exitplan's evaluator: a sample stops at the first kept exit whose score
// passes its threshold (score >= t for descending measures, score < t for ascending ones, a tie
// does not stop), and always at the last kept exit. The measure is computed from the exit's logits
// divided by the exit's temperature, with the same arithmetic, operation for operation, as
// exitplan's feature pass (detail::Softmax below; the scores are bit-identical, so a threshold
// that equals a sample's score decides that sample alike):
//   max_prob = 1 / sum_q exp(z_q - z_max);  entropy = 1 - H(p) / log C;
//   margin = (1 - exp(z_2nd - z_max)) / sum_q exp(z_q - z_max);
//   patience = number of consecutive earlier exits (every exit of the network, kept or not)
//              predicting the same class as this one;  vote = max_c #{k' <= k: pred_k' = c} / k.
// patience and vote need every earlier exit's prediction: feed each exit up to the stop (Step on
// an exit that is not kept records its prediction and never stops). For configs of scores-mode
// dumps (measure `confidence`) pass the precomputed score to StepScore.
#pragma once

#include <charconv>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <fstream>
#include <limits>
#include <map>
#include <memory>
#include <sstream>
#include <stdexcept>
#include <string>
#include <vector>

namespace exitplan::runtime {

// A malformed or unsupported config, or a call that breaks the protocol above.
class ConfigError : public std::runtime_error {
 public:
  explicit ConfigError(const std::string& message) : std::runtime_error(message) {}
};

// ------------------------------------------------------------------------------------------------
// A small JSON reader (RFC 8259 plus Python's Infinity / -Infinity / NaN literals).
namespace json {

struct Value {
  enum class Type { kNull, kBool, kNumber, kString, kArray, kObject } type = Type::kNull;
  bool boolean = false;
  double number = 0.0;
  std::string string;
  std::vector<Value> array;
  std::vector<std::pair<std::string, Value>> object;

  const Value* Find(const std::string& key) const {
    for (const auto& kv : object) {
      if (kv.first == key) return &kv.second;
    }
    return nullptr;
  }
};

class Parser {
 public:
  Parser(const std::string& text, const std::string& source) : s_(text), source_(source) {}

  Value ParseDocument() {
    Value v = ParseValue(0);
    SkipSpace();
    if (p_ != s_.size()) Fail("unexpected text after the JSON value");
    return v;
  }

 private:
  [[noreturn]] void Fail(const std::string& what) const {
    std::size_t line = 1, col = 1;
    for (std::size_t i = 0; i < p_ && i < s_.size(); ++i) {
      if (s_[i] == '\n') {
        ++line;
        col = 1;
      } else {
        ++col;
      }
    }
    throw ConfigError(source_ + ":" + std::to_string(line) + ":" + std::to_string(col) +
                      ": invalid JSON: " + what);
  }
  void SkipSpace() {
    while (p_ < s_.size() &&
           (s_[p_] == ' ' || s_[p_] == '\t' || s_[p_] == '\n' || s_[p_] == '\r')) {
      ++p_;
    }
  }
  bool Literal(const char* word) {
    const std::string w(word);
    if (s_.compare(p_, w.size(), w) == 0) {
      p_ += w.size();
      return true;
    }
    return false;
  }
  Value ParseValue(int depth) {
    if (depth > 64) Fail("nested too deeply");
    SkipSpace();
    if (p_ >= s_.size()) Fail("unexpected end of file");
    Value v;
    const char ch = s_[p_];
    if (ch == '{') {
      v.type = Value::Type::kObject;
      ++p_;
      SkipSpace();
      if (p_ < s_.size() && s_[p_] == '}') {
        ++p_;
        return v;
      }
      for (;;) {
        SkipSpace();
        if (p_ >= s_.size() || s_[p_] != '"') Fail("expected a string key");
        std::string key = ParseString();
        for (const auto& kv : v.object) {
          if (kv.first == key) Fail("duplicate key \"" + key + "\"");
        }
        SkipSpace();
        if (p_ >= s_.size() || s_[p_] != ':') Fail("expected ':' after key \"" + key + "\"");
        ++p_;
        v.object.emplace_back(std::move(key), ParseValue(depth + 1));
        SkipSpace();
        if (p_ < s_.size() && s_[p_] == ',') {
          ++p_;
          continue;
        }
        if (p_ < s_.size() && s_[p_] == '}') {
          ++p_;
          return v;
        }
        Fail("expected ',' or '}' in an object");
      }
    }
    if (ch == '[') {
      v.type = Value::Type::kArray;
      ++p_;
      SkipSpace();
      if (p_ < s_.size() && s_[p_] == ']') {
        ++p_;
        return v;
      }
      for (;;) {
        v.array.push_back(ParseValue(depth + 1));
        SkipSpace();
        if (p_ < s_.size() && s_[p_] == ',') {
          ++p_;
          continue;
        }
        if (p_ < s_.size() && s_[p_] == ']') {
          ++p_;
          return v;
        }
        Fail("expected ',' or ']' in an array");
      }
    }
    if (ch == '"') {
      v.type = Value::Type::kString;
      v.string = ParseString();
      return v;
    }
    if (Literal("true")) {
      v.type = Value::Type::kBool;
      v.boolean = true;
      return v;
    }
    if (Literal("false")) {
      v.type = Value::Type::kBool;
      return v;
    }
    if (Literal("null")) return v;
    v.type = Value::Type::kNumber;
    if (Literal("Infinity")) {
      v.number = std::numeric_limits<double>::infinity();
      return v;
    }
    if (Literal("-Infinity")) {
      v.number = -std::numeric_limits<double>::infinity();
      return v;
    }
    if (Literal("NaN")) {
      v.number = std::numeric_limits<double>::quiet_NaN();
      return v;
    }
    const char* begin = s_.data() + p_;
    const char* end = s_.data() + s_.size();
    if (*begin == '+') Fail("a number may not start with '+'");
    const auto r = std::from_chars(begin, end, v.number);
    if (r.ec != std::errc() || r.ptr == begin) Fail("expected a value");
    p_ += static_cast<std::size_t>(r.ptr - begin);
    return v;
  }
  std::string ParseString() {
    ++p_;  // opening quote
    std::string out;
    while (p_ < s_.size()) {
      const char ch = s_[p_++];
      if (ch == '"') return out;
      if (static_cast<unsigned char>(ch) < 0x20) Fail("control character in a string");
      if (ch != '\\') {
        out += ch;
        continue;
      }
      if (p_ >= s_.size()) break;
      const char e = s_[p_++];
      switch (e) {
        case '"':
          out += '"';
          break;
        case '\\':
          out += '\\';
          break;
        case '/':
          out += '/';
          break;
        case 'b':
          out += '\b';
          break;
        case 'f':
          out += '\f';
          break;
        case 'n':
          out += '\n';
          break;
        case 'r':
          out += '\r';
          break;
        case 't':
          out += '\t';
          break;
        case 'u': {
          if (p_ + 4 > s_.size()) Fail("truncated \\u escape");
          unsigned code = 0;
          const auto r = std::from_chars(s_.data() + p_, s_.data() + p_ + 4, code, 16);
          if (r.ec != std::errc() || r.ptr != s_.data() + p_ + 4) Fail("bad \\u escape");
          p_ += 4;
          // UTF-8 of a BMP code point (surrogate pairs are not needed by exitplan's configs).
          if (code < 0x80) {
            out += static_cast<char>(code);
          } else if (code < 0x800) {
            out += static_cast<char>(0xC0 | (code >> 6));
            out += static_cast<char>(0x80 | (code & 0x3F));
          } else {
            out += static_cast<char>(0xE0 | (code >> 12));
            out += static_cast<char>(0x80 | ((code >> 6) & 0x3F));
            out += static_cast<char>(0x80 | (code & 0x3F));
          }
          break;
        }
        default:
          Fail(std::string("unknown escape \\") + e);
      }
    }
    Fail("unterminated string");
  }

  const std::string& s_;
  std::string source_;
  std::size_t p_ = 0;
};

}  // namespace json

// ------------------------------------------------------------------------------------------------

enum class Measure { kMaxProb, kEntropy, kMargin, kPatience, kVote, kConfidence };

struct ExitRule {
  int index = 0;  // 0-based exit of the network
  std::string name;
  double temperature = 1.0;  // logits are divided by it
  bool final = false;        // the last kept exit: always stops
  double threshold = 0.0;
};

struct Config {
  std::string source;
  std::string model, target, unit, method, measure_name;
  Measure measure = Measure::kMaxProb;
  bool ascending = false;       // score_order: ascending stops on score < t
  int num_exits = 0;            // K of the network
  std::vector<ExitRule> exits;  // kept exits, shallow to deep
  std::vector<int> rule_of;     // size K: index into `exits`, or -1 for a dropped exit
  double budget = 0.0, fit_accuracy = 0.0, fit_cost = 0.0;
  // The deployment guarantee, when the config carries one (else level 0 and NaN bounds): with
  // probability >= guarantee_level, the mean cost of the next `horizon` samples is <= cost_bound
  // (and, for an accuracy-drop guarantee, their accuracy >= the final exit's - drop_bound).
  double guarantee_level = 0.0;
  std::string guarantee_bound;
  double horizon = std::numeric_limits<double>::quiet_NaN();
  double cost_bound = std::numeric_limits<double>::quiet_NaN();
  double accuracy_bound = std::numeric_limits<double>::quiet_NaN();
  double drop_bound = std::numeric_limits<double>::quiet_NaN();
  // The exporter's shift check of its eval split (NaN when not run).
  double shift_p = std::numeric_limits<double>::quiet_NaN();
  bool shift_fired = false;

  bool Kept(int exit) const { return exit >= 0 && exit < num_exits && rule_of[exit] >= 0; }
};

namespace detail {

inline const json::Value& Need(const json::Value& obj, const std::string& key,
                               json::Value::Type type, const std::string& where) {
  const json::Value* v = obj.Find(key);
  if (!v) throw ConfigError(where + ": missing field \"" + key + "\"");
  if (v->type != type) {
    static const char* const kNames[] = {"null",     "a boolean", "a number",
                                         "a string", "an array",  "an object"};
    throw ConfigError(where + ": field \"" + key + "\" must be " + kNames[static_cast<int>(type)] +
                      ", found " + kNames[static_cast<int>(v->type)]);
  }
  return *v;
}

inline int NeedInt(const json::Value& obj, const std::string& key, const std::string& where) {
  const double d = Need(obj, key, json::Value::Type::kNumber, where).number;
  if (!(d == std::floor(d)) || std::fabs(d) > 1e9) {
    throw ConfigError(where + ": field \"" + key + "\" must be an integer");
  }
  return static_cast<int>(d);
}

inline double OptNumber(const json::Value& obj, const std::string& key) {
  const json::Value* v = obj.Find(key);
  return v && v->type == json::Value::Type::kNumber ? v->number
                                                    : std::numeric_limits<double>::quiet_NaN();
}

// The softmax measures of one exit's scaled logits y (y_q = z_q * (1 / T), finite): a verbatim
// copy of exitplan's reference arithmetic (profiles/softmax.hpp there), kept here so this file
// stands alone. exp is a fixed polynomial, the sums run over 8 interleaved partials combined in a
// fixed order, and every multiply-add is an explicit std::fma, so no compiler flag changes a bit.
struct Softmax {
  int arg = 0;
  double sum = 0.0, max_prob = 0.0, entropy = 0.0, margin = 0.0;
};

inline double ExpNonPositive(double d) {
  constexpr double kPoly[12] = {1.0 / 6227020800.0, 1.0 / 479001600.0, 1.0 / 39916800.0,
                                1.0 / 3628800.0,    1.0 / 362880.0,    1.0 / 40320.0,
                                1.0 / 5040.0,       1.0 / 720.0,       1.0 / 120.0,
                                1.0 / 24.0,         1.0 / 6.0,         0.5};
  if (!(d >= -708.0)) return 0.0;
  const double n = std::nearbyint(d * 1.4426950408889634);
  double r = std::fma(-n, 0.693147180369123816490, d);
  r = std::fma(-n, 1.90821492927058770002e-10, r);
  double p = kPoly[0];
  for (int i = 1; i < 12; ++i) p = std::fma(p, r, kPoly[i]);
  p = std::fma(p, r, 1.0);
  p = std::fma(p, r, 1.0);
  const std::uint64_t bits = static_cast<std::uint64_t>(static_cast<std::int64_t>(n) + 1023) << 52;
  double scale;
  std::memcpy(&scale, &bits, sizeof scale);
  return p * scale;
}

inline double CombineLanes(const double* p) {
  return ((p[0] + p[4]) + (p[2] + p[6])) + ((p[1] + p[5]) + (p[3] + p[7]));
}

inline Softmax SoftmaxOfScaled(const double* y, int c) {
  int arg = 0;
  for (int q = 1; q < c; ++q) {
    if (y[q] > y[arg]) arg = q;
  }
  const double ymax = y[arg];
  double s[8] = {}, a[8] = {};
  double second = 0.0;
  for (int q = 0; q < c; ++q) {
    const double d = y[q] - ymax;
    const double eq = ExpNonPositive(d);
    s[q % 8] += eq;
    a[q % 8] = std::fma(eq, d, a[q % 8]);
    if (q != arg && eq > second) second = eq;
  }
  Softmax out;
  out.arg = arg;
  out.sum = CombineLanes(s);
  const double acc = CombineLanes(a);
  out.max_prob = 1.0 / out.sum;
  out.entropy =
      c > 1 ? 1.0 - (std::log(out.sum) - acc / out.sum) / std::log(static_cast<double>(c)) : 1.0;
  out.margin = c > 1 ? (1.0 - second) / out.sum : 1.0;
  return out;
}

}  // namespace detail

// Parses a config's JSON text. Throws ConfigError naming `source`, the field and the problem.
inline Config ParseConfig(const std::string& text, const std::string& source = "config") {
  using T = json::Value::Type;
  const json::Value root = json::Parser(text, source).ParseDocument();
  if (root.type != T::kObject) throw ConfigError(source + ": a config is a JSON object");
  Config c;
  c.source = source;
  const int version = detail::NeedInt(root, "schema_version", source);
  if (version != 1) {
    throw ConfigError(source + ": schema_version " + std::to_string(version) +
                      " is not supported by this runtime (expected 1)");
  }
  c.model = detail::Need(root, "model", T::kString, source).string;
  c.target = detail::Need(root, "target", T::kString, source).string;
  c.unit = detail::Need(root, "unit", T::kString, source).string;
  if (const json::Value* m = root.Find("method"); m && m->type == T::kString) c.method = m->string;
  c.measure_name = detail::Need(root, "measure", T::kString, source).string;
  static const std::map<std::string, Measure> kMeasures = {
      {"max_prob", Measure::kMaxProb}, {"entropy", Measure::kEntropy},
      {"margin", Measure::kMargin},    {"patience", Measure::kPatience},
      {"vote", Measure::kVote},        {"confidence", Measure::kConfidence}};
  const auto mit = kMeasures.find(c.measure_name);
  if (mit == kMeasures.end()) {
    throw ConfigError(source + ": unknown measure \"" + c.measure_name +
                      "\" (expected max_prob, entropy, margin, patience, vote or confidence)");
  }
  c.measure = mit->second;
  const std::string order = detail::Need(root, "score_order", T::kString, source).string;
  if (order != "descending" && order != "ascending") {
    throw ConfigError(source + ": score_order \"" + order + "\" must be descending or ascending");
  }
  c.ascending = order == "ascending";
  c.num_exits = detail::NeedInt(root, "num_exits", source);
  if (c.num_exits < 1) throw ConfigError(source + ": num_exits must be >= 1");
  const json::Value& exits = detail::Need(root, "exits", T::kArray, source);
  if (exits.array.empty()) throw ConfigError(source + ": exits is empty");
  c.rule_of.assign(static_cast<std::size_t>(c.num_exits), -1);
  int previous = -1;
  for (std::size_t q = 0; q < exits.array.size(); ++q) {
    const json::Value& e = exits.array[q];
    const std::string where = source + ": exits[" + std::to_string(q) + "]";
    if (e.type != T::kObject) throw ConfigError(where + ": expected an object");
    ExitRule r;
    r.index = detail::NeedInt(e, "index", where) - 1;  // 1-based in the file
    if (r.index <= previous || r.index >= c.num_exits) {
      throw ConfigError(where + ": index " + std::to_string(r.index + 1) +
                        " must be ascending and within 1.." + std::to_string(c.num_exits));
    }
    previous = r.index;
    if (const json::Value* n = e.Find("name"); n && n->type == T::kString) r.name = n->string;
    if (const json::Value* m = e.Find("measure");
        m && m->type == T::kString && m->string != c.measure_name) {
      throw ConfigError(where + ": measure \"" + m->string +
                        "\" differs from the config's measure (one measure per config)");
    }
    if (e.Find("temperature")) {
      r.temperature = detail::Need(e, "temperature", T::kNumber, where).number;
      if (!(r.temperature > 0) || !std::isfinite(r.temperature)) {
        throw ConfigError(where + ": temperature must be finite and > 0");
      }
    }
    r.final = q + 1 == exits.array.size();
    const json::Value* fin = e.Find("final");
    if (fin && (fin->type != T::kBool || fin->boolean != r.final)) {
      throw ConfigError(where + ": \"final\" must be true exactly on the last kept exit");
    }
    if (!r.final) {
      r.threshold = detail::Need(e, "threshold", T::kNumber, where).number;
      if (std::isnan(r.threshold)) throw ConfigError(where + ": threshold is NaN");
    }
    c.rule_of[static_cast<std::size_t>(r.index)] = static_cast<int>(c.exits.size());
    c.exits.push_back(r);
  }
  if (c.exits.back().index != c.num_exits - 1) {
    throw ConfigError(source + ": the last kept exit must be the final exit " +
                      std::to_string(c.num_exits));
  }
  if (const json::Value* ex = root.Find("expected"); ex && ex->type == T::kObject) {
    c.fit_accuracy = detail::OptNumber(*ex, "fit_accuracy");
    c.fit_cost = detail::OptNumber(*ex, "fit_cost");
  }
  c.budget = detail::OptNumber(root, "budget");
  // Optional (configs written before them, or without a guarantee, lack them or hold null).
  if (const json::Value* g = root.Find("guarantee"); g && g->type == T::kObject) {
    c.guarantee_level = detail::Need(*g, "level", T::kNumber, source + ": guarantee").number;
    if (!(c.guarantee_level > 0.0 && c.guarantee_level < 1.0)) {
      throw ConfigError(source + ": guarantee: level must be in (0, 1)");
    }
    if (const json::Value* b = g->Find("bound"); b && b->type == T::kString) {
      c.guarantee_bound = b->string;
    }
    c.horizon = detail::OptNumber(*g, "horizon");
    c.cost_bound = detail::OptNumber(*g, "cost_bound");
    c.accuracy_bound = detail::OptNumber(*g, "accuracy_bound");
    c.drop_bound = detail::OptNumber(*g, "drop_bound");
  }
  if (const json::Value* sc = root.Find("shift_check"); sc && sc->type == T::kObject) {
    c.shift_p = detail::OptNumber(*sc, "p_value");
    if (const json::Value* f = sc->Find("fired"); f && f->type == T::kBool)
      c.shift_fired = f->boolean;
  }
  return c;
}

// Reads and parses a config file (the .json twin).
inline Config LoadConfig(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw ConfigError(path + ": cannot open the config file");
  std::ostringstream ss;
  ss << in.rdbuf();
  return ParseConfig(ss.str(), path);
}

// Does `score` pass `threshold`? The evaluator's definition.
inline bool Passes(double score, double threshold, bool ascending) {
  return ascending ? score < threshold : score >= threshold;
}

// The per-sample state: which exits were fed, their predictions (for patience and vote).
class Decider {
 public:
  // Keeps a pointer to `config`, which must outlive the Decider.
  explicit Decider(const Config& config) : c_(&config) { Reset(); }
  // A temporary config would dangle (`Decider d(LoadConfig(path))`): keep the Config in a
  // variable and pass that.
  explicit Decider(Config&&) = delete;

  // Forget the current sample.
  void Reset() {
    next_ = 0;
    last_pred_ = -1;
    patience_ = 0;
    best_votes_ = 0;
    votes_.clear();
    score_ = std::numeric_limits<double>::quiet_NaN();
  }

  // Must this exit's head run? (Kept exits always; every exit for patience and vote.)
  bool Runs(int exit) const { return c_->Kept(exit) || NeedsHistory(); }

  // Feeds the logits (C values) of `exit` (0-based) for the current sample; true = stop here and
  // answer with this exit's prediction. Exits must come in ascending order; for patience and vote
  // every exit from the first must be fed.
  template <typename Real>
  bool Step(int exit, const Real* logits, int num_classes) {
    if (c_->measure == Measure::kConfidence) {
      throw ConfigError(c_->source + ": measure confidence takes a score: use StepScore");
    }
    Order(exit);
    if (num_classes < 1) throw ConfigError("Step: num_classes must be >= 1");
    const int rule = c_->rule_of[static_cast<std::size_t>(exit)];
    const double temperature =
        rule >= 0 ? c_->exits[static_cast<std::size_t>(rule)].temperature : 1.0;
    // Exactly the arithmetic of exitplan's feature pass (detail::SoftmaxOfScaled).
    const int cc = num_classes;
    z_.resize(static_cast<std::size_t>(cc));
    const double inv_t = 1.0 / temperature;
    for (int q = 0; q < cc; ++q) {
      const double z = static_cast<double>(logits[q]);
      if (!std::isfinite(z)) throw ConfigError("Step: non-finite logit");
      z_[q] = z * inv_t;
    }
    const detail::Softmax sm = detail::SoftmaxOfScaled(z_.data(), cc);
    const int arg = sm.arg;
    double score = 0.0;
    switch (c_->measure) {
      case Measure::kMaxProb:
        score = sm.max_prob;
        break;
      case Measure::kEntropy:
        score = sm.entropy;
        break;
      case Measure::kMargin:
        score = sm.margin;
        break;
      default:
        break;
    }
    // History for patience and vote (every exit fed so far).
    patience_ = (next_ > 0 && last_pred_ == arg) ? patience_ + 1.0 : 0.0;
    last_pred_ = arg;
    if (votes_.size() < static_cast<std::size_t>(cc))
      votes_.resize(static_cast<std::size_t>(cc), 0);
    best_votes_ = std::max(best_votes_, ++votes_[static_cast<std::size_t>(arg)]);
    if (c_->measure == Measure::kPatience) score = patience_;
    if (c_->measure == Measure::kVote) score = static_cast<double>(best_votes_) / (exit + 1);
    prediction_ = arg;
    next_ = exit + 1;
    return Decide(rule, score);
  }

  // For `confidence` configs (scores-mode dumps): the exit's precomputed confidence score.
  bool StepScore(int exit, double score) {
    if (NeedsHistory()) throw ConfigError(c_->source + ": patience/vote need logits: use Step");
    Order(exit);
    next_ = exit + 1;
    return Decide(c_->rule_of[static_cast<std::size_t>(exit)], score);
  }

  double last_score() const { return score_; }         // score of the last Step (NaN: none)
  int last_prediction() const { return prediction_; }  // argmax class of the last Step

 private:
  bool NeedsHistory() const {
    return c_->measure == Measure::kPatience || c_->measure == Measure::kVote;
  }
  void Order(int exit) {
    if (exit < 0 || exit >= c_->num_exits) {
      throw ConfigError("Step: exit " + std::to_string(exit) + " is outside 0.." +
                        std::to_string(c_->num_exits - 1));
    }
    if (exit < next_) {
      throw ConfigError("Step: exit " + std::to_string(exit) +
                        " comes after a deeper one (call Reset() between samples)");
    }
    if (NeedsHistory() && exit != next_) {
      throw ConfigError("Step: measure " + c_->measure_name + " needs every exit in order; exit " +
                        std::to_string(next_) + " was skipped");
    }
  }
  bool Decide(int rule, double score) {
    score_ = score;
    if (rule < 0) return false;  // not a kept exit: never stops here
    const ExitRule& r = c_->exits[static_cast<std::size_t>(rule)];
    return r.final || Passes(score, r.threshold, c_->ascending);
  }

  const Config* c_;
  int next_ = 0;
  int last_pred_ = -1;
  int prediction_ = -1;
  double patience_ = 0.0;
  int best_votes_ = 0;
  std::vector<int> votes_;
  std::vector<double> z_;
  double score_ = 0.0;
};

}  // namespace exitplan::runtime
