// The request side, shared by `dsv4 render` and the server: an OpenAI chat-completions body (plus
// the DeepSeek, vLLM/SGLang and NIM spellings of the thinking switches) → encoder inputs. Every
// refusal is a dsv4::Error whose message names the field, fit for an HTTP 400.
#pragma once

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "chat/effort.h"
#include "chat/encoder.h"
#include "chat/message.h"

namespace dsv4::chat {

// What the server assumes when the client says nothing (docs/chat-encoding.md explains them).
struct ChatDefaults {
  EncoderGeneration generation = EncoderGeneration::k0731;
  bool thinking = true;         // like DeepSeek's API: thinking unless switched off
  std::string effort = "high";  // a request spelling, mapped by effort.h like any other
  bool drop_thinking = true;
};

enum class ToolChoiceKind { kAuto, kNone, kRequired, kNamed };

struct ToolChoice {
  ToolChoiceKind kind = ToolChoiceKind::kAuto;
  std::string name;  // kNamed
};

struct ChatRequest {
  std::vector<Message> messages;  // encoder input, request-level tools already attached
  EncoderOptions encoder;         // the effective mode
  // Every function definition the prompt declares (unwrapped OpenAI "function" objects), for the
  // tool-call parser and grammar.
  nlohmann::ordered_json tools = nlohmann::ordered_json::array();
  ToolChoice tool_choice;
  nlohmann::ordered_json response_format;  // null when absent or {"type": "text"}
};

// Takes ordered_json because the key order of tool schemas is part of the prompt.
ChatRequest normalise_chat_request(const nlohmann::ordered_json& body,
                                   const ChatDefaults& defaults = {});

// The prompt text for a normalised request.
std::string render_prompt(const ChatRequest& request);

}  // namespace dsv4::chat
