// The one reader of numbers in text exitplan reads back (CSV fields, manifest entries, option
// values): strict (the whole text is the number, no spaces, no "nan"), range-checked, and with
// errors of one line that name what was read and quote the text found.
#pragma once

#include <cstdint>
#include <limits>
#include <string>
#include <string_view>

namespace exitplan {

// `text` as a double in [lo, hi]. "inf" / "-inf" are accepted only when the range includes them;
// NaN never is. Throws InputError("<what>: ...") otherwise.
double ParseDouble(std::string_view text, const std::string& what,
                   double lo = -std::numeric_limits<double>::infinity(),
                   double hi = std::numeric_limits<double>::infinity());

// `text` as a whole number in [lo, hi] (decimal digits with an optional '-'; no exponent, no
// fraction). Throws InputError("<what>: ...") otherwise.
std::int64_t ParseInt(std::string_view text, const std::string& what,
                      std::int64_t lo = std::numeric_limits<std::int64_t>::min(),
                      std::int64_t hi = std::numeric_limits<std::int64_t>::max());

// `text` for an error message: in single quotes, control bytes and non-ASCII bytes escaped
// (\n, \xNN), cut after `max_chars` characters with "...", so an error stays one line.
std::string QuoteForError(std::string_view text, std::size_t max_chars = 60);

}  // namespace exitplan
