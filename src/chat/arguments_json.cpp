#include "chat/arguments_json.h"

#include "chat/python_json.h"

#include <fmt/core.h>

#include <set>

namespace dsv4::chat {
namespace {

constexpr int kMaxJsonDepth = 256;

std::string_view trim(std::string_view s) {
  constexpr std::string_view ws = " \t\r\n";
  size_t b = s.find_first_not_of(ws);
  if (b == std::string_view::npos) return {};
  return s.substr(b, s.find_last_not_of(ws) - b + 1);
}

// Bracket depth outside strings; a cheap guard run before the real parser.
int max_depth(std::string_view s) {
  int depth = 0, max = 0;
  bool in_string = false, escaped = false;
  for (char c : s) {
    if (in_string) {
      if (escaped) {
        escaped = false;
      } else if (c == '\\') {
        escaped = true;
      } else if (c == '"') {
        in_string = false;
      }
    } else if (c == '"') {
      in_string = true;
    } else if (c == '[' || c == '{') {
      max = std::max(max, ++depth);
    } else if (c == ']' || c == '}') {
      --depth;
    }
  }
  return max;
}

// The JSON types a property allows, from `type` (string or list) and anyOf/oneOf branches.
std::set<std::string> allowed_types(const nlohmann::json* p) {
  std::set<std::string> types;
  if (p == nullptr || !p->is_object()) return types;
  auto add = [&](const nlohmann::json& t) {
    if (t.is_string()) types.insert(t.get<std::string>());
    if (t.is_array())
      for (const auto& x : t)
        if (x.is_string()) types.insert(x.get<std::string>());
  };
  if (auto it = p->find("type"); it != p->end()) add(*it);
  for (const char* key : {"anyOf", "oneOf"}) {
    auto it = p->find(key);
    if (it == p->end() || !it->is_array()) continue;
    for (const auto& branch : *it)
      if (branch.is_object() && branch.contains("type")) add(branch["type"]);
  }
  // An enum of strings without a type is a string.
  if (types.empty()) {
    if (auto it = p->find("enum"); it != p->end() && it->is_array() && !it->empty()) {
      bool all_strings = true;
      for (const auto& x : *it) all_strings &= x.is_string();
      if (all_strings) types.insert("string");
    }
  }
  return types;
}

bool is_type(const nlohmann::ordered_json& v, const std::string& t) {
  if (t == "string") return v.is_string();
  if (t == "integer") return v.is_number_integer();
  if (t == "number") return v.is_number();
  if (t == "boolean") return v.is_boolean();
  if (t == "null") return v.is_null();
  if (t == "object") return v.is_object();
  if (t == "array") return v.is_array();
  return false;
}

}  // namespace

std::string json_quote(std::string_view s) {
  std::string out = "\"";
  append_json_escaped(out, s);
  out += '"';
  return out;
}

std::optional<nlohmann::ordered_json> parse_json(std::string_view text) {
  if (max_depth(text) > kMaxJsonDepth) return std::nullopt;
  auto v = nlohmann::ordered_json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (v.is_discarded()) return std::nullopt;
  return v;
}

std::string dump_json(const nlohmann::ordered_json& v) {
  // Strings are escaped the same way as streamed ones so both paths give identical text.
  if (v.is_string()) return json_quote(v.get_ref<const std::string&>());
  return v.dump(-1, ' ', false, nlohmann::ordered_json::error_handler_t::replace);
}

ValueKind value_kind(const nlohmann::json* property) {
  std::set<std::string> types = allowed_types(property);
  if (types.empty()) return ValueKind::Unknown;
  if (!types.contains("string")) return ValueKind::NonString;
  return types.size() == 1 ? ValueKind::String : ValueKind::Union;
}

bool type_allowed(const nlohmann::json* property, const nlohmann::ordered_json& v) {
  std::set<std::string> types = allowed_types(property);
  if (types.empty()) return true;
  for (const auto& t : types)
    if (is_type(v, t)) return true;
  return false;
}

ToolSchemas::ToolSchemas(const nlohmann::json& tools) {
  if (!tools.is_array()) return;
  for (const auto& t : tools) {
    if (!t.is_object()) continue;
    const nlohmann::json& f =
        t.contains("function") && t["function"].is_object() ? t["function"] : t;
    if (!f.contains("name") || !f["name"].is_string()) continue;
    nlohmann::json params = f.contains("parameters") ? f["parameters"] : nlohmann::json::object();
    params_.emplace(f["name"].get<std::string>(), std::move(params));
  }
}

const nlohmann::json* ToolSchemas::parameters(std::string_view tool) const {
  auto it = params_.find(tool);
  return it == params_.end() ? nullptr : &it->second;
}

const nlohmann::json* ToolSchemas::property(std::string_view tool, std::string_view name) const {
  const nlohmann::json* p = parameters(tool);
  if (p == nullptr || !p->is_object()) return nullptr;
  auto props = p->find("properties");
  if (props == p->end() || !props->is_object()) return nullptr;
  auto it = props->find(std::string(name));
  return it == props->end() ? nullptr : &*it;
}

CoercedValue coerce_value(std::string_view raw, std::optional<bool> string_attr,
                          const nlohmann::json* property) {
  ValueKind kind = value_kind(property);
  if (string_attr.value_or(false)) {
    if (kind == ValueKind::NonString) {
      // The schema allows no string: `<... string="true">5<` meant the number 5.
      auto v = parse_json(trim(raw));
      if (v && !v->is_string() && type_allowed(property, *v)) return {dump_json(*v)};
    }
    return {json_quote(raw)};
  }
  auto v = parse_json(trim(raw));
  if (kind == ValueKind::String) {
    if (v && v->is_string()) return {dump_json(*v)};
    return {json_quote(trim(raw))};
  }
  if (v) {
    // A JSON string where the schema wants a number etc.: try its contents ("5" -> 5).
    if (v->is_string() && kind == ValueKind::NonString) {
      auto inner = parse_json(trim(v->get_ref<const std::string&>()));
      if (inner && type_allowed(property, *inner)) return {dump_json(*inner)};
    }
    return {dump_json(*v)};
  }
  return {json_quote(raw), kind == ValueKind::Union};
}

}  // namespace dsv4::chat
