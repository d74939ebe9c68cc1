// How an error message names the type of a JSON value ("expected a string, got an integer"),
// shared by the chat-request reader and the OpenAI request parser.
#pragma once

#include <nlohmann/json.hpp>
#include <string>

namespace dsv4 {

inline std::string json_type_name(const nlohmann::ordered_json& v) {
  using T = nlohmann::ordered_json::value_t;
  switch (v.type()) {
    case T::null:
      return "null";
    case T::boolean:
      return "a boolean";
    case T::string:
      return "a string";
    case T::array:
      return "an array";
    case T::object:
      return "an object";
    case T::number_integer:
    case T::number_unsigned:
      return "an integer";
    default:
      return "a number";
  }
}

}  // namespace dsv4
