#include "server/api_error.h"

#include <string_view>
#include <utility>

#include "tokenizer/utf8.h"
#include "util/error.h"

namespace dsv4::server {

namespace {

bool is_path_char(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
         c == '.' || c == '[' || c == ']';
}

bool is_path(std::string_view s) {
  if (s.empty()) return false;
  for (char c : s)
    if (!is_path_char(c)) return false;
  return true;
}

// The field path a message starts with, or "" when it names none:
//  - "messages[2].content: ..."           → "messages[2].content" (text before the first ": ")
//  - "top_k = 5 must be ..."               → "top_k" (no ": " at all: the leading path word)
//  - "request body: ...", "default effort: ..." → "" (the text before ": " is not a path)
std::string leading_param(std::string_view msg) {
  size_t colon = msg.find(": ");
  if (colon != std::string_view::npos) {
    std::string_view head = msg.substr(0, colon);
    return is_path(head) ? std::string(head) : std::string();
  }
  size_t end = 0;
  while (end < msg.size() && is_path_char(msg[end])) ++end;
  if (end == 0 || (end < msg.size() && msg[end] != ' ')) return {};
  return std::string(msg.substr(0, end));
}

}  // namespace

ApiError::ApiError(int status_, std::string message, std::string type_, std::string param_,
                   std::string code_)
    : std::runtime_error(std::move(message)),
      status(status_),
      type(std::move(type_)),
      param(std::move(param_)),
      code(std::move(code_)) {}

ApiError bad_request(std::string message, std::string param, std::string code) {
  return ApiError(400, std::move(message), "invalid_request_error", std::move(param),
                  std::move(code));
}

ApiError from_error(const dsv4::Error& e) {
  std::string_view msg = e.what();
  constexpr std::string_view kSampling = "sampling: ";
  if (msg.substr(0, kSampling.size()) == kSampling) msg.remove_prefix(kSampling.size());
  return bad_request(std::string(msg), leading_param(msg));
}

nlohmann::json error_body(const ApiError& e) {
  auto text_or_null = [](const std::string& s) -> nlohmann::json {
    if (s.empty()) return nullptr;
    return utf8::replace_invalid(s);
  };
  // Messages quote client input (a parse error's "last read"), which may be any bytes: the body
  // must still be dumpable JSON.
  return {{"error",
           {{"message", utf8::replace_invalid(e.what())},
            {"type", e.type},
            {"param", text_or_null(e.param)},
            {"code", text_or_null(e.code)}}}};
}

}  // namespace dsv4::server
