#include "profiles/numbers.hpp"

#include <charconv>
#include <cmath>
#include <cstdio>

#include "profiles/error.hpp"
#include "profiles/types.hpp"

namespace exitplan {

std::string QuoteForError(std::string_view text, std::size_t max_chars) {
  std::string out = "'";
  std::size_t shown = 0;
  for (unsigned char ch : text) {
    if (shown++ == max_chars) {
      out += "...";
      break;
    }
    if (ch == '\n') {
      out += "\\n";
    } else if (ch == '\t') {
      out += "\\t";
    } else if (ch == '\\') {
      out += "\\\\";
    } else if (ch < 0x20 || ch >= 0x7f) {
      char buf[8];
      std::snprintf(buf, sizeof buf, "\\x%02x", ch);
      out += buf;
    } else {
      out += static_cast<char>(ch);
    }
  }
  return out + "'";
}

namespace {

std::string Range(double lo, double hi) {
  return "[" + FormatDouble(lo) + ", " + FormatDouble(hi) + "]";
}

}  // namespace

double ParseDouble(std::string_view text, const std::string& what, double lo, double hi) {
  double v = 0;
  if (text == "inf" || text == "+inf" || text == "Infinity") {
    v = INFINITY;
  } else if (text == "-inf" || text == "-Infinity") {
    v = -INFINITY;
  } else {
    const char* begin = text.data();
    if (!text.empty() && text[0] == '+') ++begin;  // from_chars takes no '+'
    const auto r = std::from_chars(begin, text.data() + text.size(), v);
    const bool nan_text = !text.empty() && (text.find("nan") != std::string_view::npos ||
                                            text.find("NaN") != std::string_view::npos);
    if (text.empty()) throw InputError(what, "empty (expected a number)");
    if (r.ec == std::errc::result_out_of_range) {
      throw InputError(what, QuoteForError(text) + " is out of the range of a double");
    }
    if (r.ec != std::errc() || r.ptr != text.data() + text.size() || nan_text ||
        (begin != text.data() && (*begin == '-' || *begin == '+'))) {
      throw InputError(what, QuoteForError(text) + " is not a number");
    }
  }
  if (!(v >= lo && v <= hi)) {
    throw InputError(what, FormatDouble(v) + " is outside " + Range(lo, hi));
  }
  return v;
}

std::int64_t ParseInt(std::string_view text, const std::string& what, std::int64_t lo,
                      std::int64_t hi) {
  if (text.empty()) throw InputError(what, "empty (expected a whole number)");
  std::int64_t v = 0;
  const auto r = std::from_chars(text.data(), text.data() + text.size(), v);
  if (r.ec == std::errc::result_out_of_range) {
    throw InputError(what, QuoteForError(text) + " is outside " + std::to_string(lo) + ".." +
                               std::to_string(hi));
  }
  if (r.ec != std::errc() || r.ptr != text.data() + text.size()) {
    throw InputError(what, QuoteForError(text) + " is not a whole number");
  }
  if (v < lo || v > hi) {
    throw InputError(
        what, std::to_string(v) + " is outside " + std::to_string(lo) + ".." + std::to_string(hi));
  }
  return v;
}

}  // namespace exitplan
