// Engine results → OpenAI response bodies: chat.completion, text_completion, their streaming
// chunks, usage and logprobs. Pure functions of their inputs, shared by the streaming and the
// non-streaming paths so the two cannot drift apart.
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <utility>
#include <vector>

#include "chat/output_parser.h"
#include "generate/generator.h"
#include "tokenizer/tokenizer.h"

namespace dsv4::server {

struct ResponseContext {
  std::string id;  // chatcmpl-… / cmpl-…
  int64_t created = 0;
  std::string model;
  std::string mode;  // ReasoningMode::name(), echoed as "reasoning_mode"
  bool chat = true;
  bool thinking = false;  // reasoning_content is a string (possibly empty), else null
  const Tokenizer* tok = nullptr;
};

inline constexpr const char* kSystemFingerprint = "dsv4";

// JSON text for the wire: invalid UTF-8 (a token that is part of a character) becomes U+FFFD.
std::string dump(const nlohmann::json& j);
// One server-sent event.
std::string sse(const nlohmann::json& j);

// usage over all choices of one request (the prompt counted once).
nlohmann::json usage_json(const std::vector<GenerateResult>& results);

// One token of chat logprobs: {"token", "logprob", "bytes", "top_logprobs"}.
nlohmann::json chat_logprob(const Tokenizer& tok, int32_t token, float logprob,
                            const std::vector<std::pair<int32_t, float>>& top);

// Completions logprobs of a run of tokens: {"tokens", "token_logprobs", "top_logprobs",
// "text_offset"}; offsets start at `offset0`.
nlohmann::json completion_logprobs(const Tokenizer& tok, const std::vector<int32_t>& tokens,
                                   const std::vector<float>& logprobs,
                                   const std::vector<std::vector<std::pair<int32_t, float>>>& top,
                                   size_t offset0);

// The assistant message of a chat result: content, reasoning_content and tool_calls.
nlohmann::json chat_message(const ResponseContext& ctx, const chat::ParsedMessage& m);

// The whole non-streaming response.
nlohmann::json chat_response(const ResponseContext& ctx, const std::vector<GenerateResult>& results,
                             bool logprobs);
nlohmann::json completion_response(const ResponseContext& ctx,
                                   const std::vector<GenerateResult>& results, bool logprobs,
                                   const std::string& echo_prefix);

// Streaming: a chunk with the given choices (each {"index", "delta"/"text", ...}).
nlohmann::json chunk(const ResponseContext& ctx, nlohmann::json choices);
// The delta of one parser event.
nlohmann::json chat_delta(const chat::Delta& d);

}  // namespace dsv4::server
