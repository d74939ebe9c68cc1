// Building the OpenAI `arguments` JSON text of a tool call from DSML parameters: JSON string
// escaping that works on any slice of a string (for incremental streaming), the tools' JSON
// schemas, and coercion of a parameter's raw text to the JSON value the schema asks for.
#pragma once

#include <nlohmann/json.hpp>

#include <map>
#include <optional>
#include <string>
#include <string_view>

#include "chat/python_json.h"

namespace dsv4::chat {

// JSON escaping is python_json's append_json_escaped (byte by byte, so escaping the pieces of a
// string and concatenating equals escaping the whole). json_quote adds the quotes.
std::string json_quote(std::string_view s);

// Parses JSON keeping object key order; nullopt if it is not JSON or nests deeper than 256
// (deep nesting would only exhaust the stack of the recursive dump).
std::optional<nlohmann::ordered_json> parse_json(std::string_view text);
std::string dump_json(const nlohmann::ordered_json& v);

// What a schema property allows, as far as streaming is concerned.
enum class ValueKind {
  Unknown,    // no type information: trust the DSML `string` attribute
  String,     // only strings
  NonString,  // only numbers, booleans, null, arrays or objects
  Union,      // strings and something else
};
ValueKind value_kind(const nlohmann::json* property);

// The tools of a request (OpenAI `tools` array, or bare {name, parameters} objects).
class ToolSchemas {
 public:
  ToolSchemas() = default;
  explicit ToolSchemas(const nlohmann::json& tools);
  bool empty() const { return params_.empty(); }
  bool known(std::string_view tool) const { return params_.find(tool) != params_.end(); }
  // The `parameters` schema of a tool; nullptr when unknown.
  const nlohmann::json* parameters(std::string_view tool) const;
  // One property's schema; nullptr when the tool or property is unknown.
  const nlohmann::json* property(std::string_view tool, std::string_view name) const;

 private:
  std::map<std::string, nlohmann::json, std::less<>> params_;
};

struct CoercedValue {
  std::string json;   // the JSON text of the value
  bool valid = true;  // false: the text was meant as JSON but is not; it was kept as a string
};

// The JSON value of one DSML parameter. `string_attr` is the DSML `string` attribute (nullopt when
// absent). string="true" text is a string unless the schema allows no string, in which case it is
// parsed when it is JSON of an allowed type. string="false" text is parsed as JSON; a schema that
// only allows strings turns it into a string. Text that should be JSON but is not is kept as a
// string so nothing is lost.
CoercedValue coerce_value(std::string_view raw, std::optional<bool> string_attr,
                          const nlohmann::json* property);

// True when the value's type is one the property allows (or the property says nothing).
bool type_allowed(const nlohmann::json* property, const nlohmann::ordered_json& v);

}  // namespace dsv4::chat
