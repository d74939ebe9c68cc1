// A chat message as the encoder takes it: the OpenAI shape, already type-checked (request.h does
// that), plus the DeepSeek extensions (developer / latest_reminder roles, task, wo_eos).
#pragma once

#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

namespace dsv4::chat {

enum class Role { kSystem, kUser, kAssistant, kTool, kDeveloper, kLatestReminder };

struct ToolCall {
  std::string id;  // may be empty (DeepSeek's vectors omit it)
  std::string name;
  nlohmann::ordered_json arguments = nlohmann::ordered_json::object();  // always an object
};

struct Message {
  Role role = Role::kUser;
  std::string content;
  std::string reasoning;             // assistant: reasoning_content / reasoning
  std::vector<ToolCall> tool_calls;  // assistant
  std::string tool_call_id;          // tool
  // system / developer: the function definitions (OpenAI "function" objects, unwrapped), and a
  // response format; null when absent.
  nlohmann::ordered_json tools;
  nlohmann::ordered_json response_format;
  std::optional<std::string> task;  // action, query, authority, domain, title, read_url
  bool wo_eos = false;              // assistant: leave the turn open (prefix completion)
};

}  // namespace dsv4::chat
