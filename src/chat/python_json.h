// JSON text exactly as Python's `json.dumps(value, ensure_ascii=False)` writes it. DeepSeek's
// encoder renders tool schemas, non-string tool arguments and response formats that way, and the
// model was trained on those bytes, so nlohmann's own dump (different separators, float format and
// escapes) would change the prompt.
#pragma once

#include <nlohmann/json.hpp>
#include <string>
#include <string_view>

namespace dsv4::chat {

// Appends s escaped as Python's json.dumps(ensure_ascii=False) escapes a string body: quote,
// backslash, \n \r \t \b \f, other control bytes as \u00xx; everything else (UTF-8, DEL) raw.
// Byte by byte, so escaping the pieces of a string and concatenating equals escaping the whole.
void append_json_escaped(std::string& out, std::string_view s);

// `", "` and `": "` separators, keys in insertion order, non-ASCII characters written raw, control
// characters as \u00XX, floats as Python's repr (1.0, 1e-05, 1e+16, Infinity, NaN).
std::string python_json_dumps(const nlohmann::ordered_json& value);

// Python's repr() of a float: the shortest round-tripping digits, fixed notation for decimal
// exponents in [-4, 16), scientific otherwise, and ".0" on integral values.
std::string python_float_repr(double v);

}  // namespace dsv4::chat
