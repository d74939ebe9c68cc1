// JSON text exactly as Python's `json.dumps(value, ensure_ascii=False)` writes it. DeepSeek's
// encoder renders tool schemas, non-string tool arguments and response formats that way, and the
// model was trained on those bytes, so nlohmann's own dump (different separators, float format and
// escapes) would change the prompt.
#pragma once

#include <nlohmann/json.hpp>
#include <string>

namespace dsv4::chat {

// `", "` and `": "` separators, keys in insertion order, non-ASCII characters written raw, control
// characters as \u00XX, floats as Python's repr (1.0, 1e-05, 1e+16, Infinity, NaN).
std::string python_json_dumps(const nlohmann::ordered_json& value);

// Python's repr() of a float: the shortest round-tripping digits, fixed notation for decimal
// exponents in [-4, 16), scientific otherwise, and ".0" on integral values.
std::string python_float_repr(double v);

}  // namespace dsv4::chat
