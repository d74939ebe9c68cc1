// OpenAI request bodies → what the engine runs. parse_chat_request / parse_completion_request are
// the only place the server reads a request body: they check every field (type, range, known
// model, context length), apply the documented defaults and resolve the reasoning mode, and throw
// ApiError (400 naming the parameter) for anything they refuse. They never touch the engine, so a
// fuzzer can drive them directly (fuzz/fuzz_openai_request.cpp).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "chat/request.h"
#include "generate/generator.h"
#include "server/api_error.h"
#include "tokenizer/tokenizer.h"

namespace dsv4::server {

// What the server is serving, and the limits a request must stay within.
struct ApiConfig {
  std::string model_id = "deepseek-v4";    // the name /v1/models lists and requests must use
  std::vector<std::string> model_aliases;  // other names accepted in "model"
  int64_t max_context = 4096;              // prompt + generated tokens per sequence
  int32_t vocab_size = 0;                  // the model's (may exceed the tokenizer's)
  chat::ChatDefaults defaults;             // thinking on, effort high, drop_thinking
  size_t max_messages = 2048;
  size_t max_tools = 128;
  int max_n = 8;  // most choices per request (each takes one sequence slot)
};

// The resolved reasoning mode, echoed back in the X-Reasoning-Mode header and the response's
// "reasoning_mode" field.
struct ReasoningMode {
  bool thinking = true;
  std::string effort = "none";  // the encoder effort: none | low | high | max
  bool drop_thinking = true;
  // "non-thinking", "thinking" (no effort), "thinking-low", "thinking-high", "thinking-max"
  std::string name() const;
};

struct ParsedRequest {
  bool chat = true;   // /v1/chat/completions; false for /v1/completions
  std::string model;  // as the client sent it (echoed back)
  bool stream = false;
  bool include_usage = false;     // stream_options.include_usage
  bool continuous_usage = false;  // stream_options.continuous_usage_stats (vLLM)
  GenerateRequest gen;            // prompt ids, sampling, n, start_in_reasoning, tools, seed salt
  std::string prompt_text;        // the rendered prompt (chat) or the raw prompt (completions)
  ReasoningMode mode;             // chat only (completions: thinking=false)
  chat::ToolChoice tool_choice;   // chat only
  bool parallel_tool_calls = true;
  bool echo = false;             // completions: prepend the prompt to the text
  int completion_logprobs = -1;  // completions' integer `logprobs` (-1 = absent)
  std::string user;
};

// `body` is the raw request body (any bytes). Throws ApiError.
ParsedRequest parse_chat_request(std::string_view body, const Tokenizer& tok, const ApiConfig& cfg);
ParsedRequest parse_completion_request(std::string_view body, const Tokenizer& tok,
                                       const ApiConfig& cfg);

// The chat prompt only (POST /v1/chat/completions/render): same checks as parse_chat_request
// except the sampling fields.
ParsedRequest parse_render_request(std::string_view body, const Tokenizer& tok,
                                   const ApiConfig& cfg);

}  // namespace dsv4::server
