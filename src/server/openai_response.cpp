#include "server/openai_response.h"

#include <cmath>

#include "tokenizer/utf8.h"

namespace dsv4::server {

using nlohmann::json;

std::string dump(const json& j) {
  return j.dump(-1, ' ', false, json::error_handler_t::replace);
}

std::string sse(const json& j) {
  return "data: " + dump(j) + "\n\n";
}

json usage_json(const std::vector<GenerateResult>& results) {
  int64_t prompt = results.empty() ? 0 : results[0].stats.prompt_tokens;
  int64_t completion = 0, reasoning = 0;
  for (const auto& r : results) {
    completion += r.stats.generated_tokens;
    reasoning += r.stats.reasoning_tokens;
  }
  return {{"prompt_tokens", prompt},
          {"completion_tokens", completion},
          {"total_tokens", prompt + completion},
          // No prefix cache yet: every prompt token is computed.
          {"prompt_tokens_details", {{"cached_tokens", 0}}},
          {"completion_tokens_details", {{"reasoning_tokens", reasoning}}}};
}

namespace {

json number(float x) {
  // JSON has no NaN/inf: a token the model gives no probability at all reports the float minimum.
  if (std::isnan(x)) return nullptr;
  if (std::isinf(x)) return -9999.0;
  return x;
}

json bytes_of(std::string_view b) {
  json a = json::array();
  for (unsigned char c : b) a.push_back(static_cast<int>(c));
  return a;
}

std::string token_string(const Tokenizer& tok, int32_t id) {
  return utf8::replace_invalid(tok.token_bytes(id));
}

}  // namespace

json chat_logprob(const Tokenizer& tok, int32_t token, float logprob,
                  const std::vector<std::pair<int32_t, float>>& top) {
  json tops = json::array();
  for (const auto& [id, lp] : top)
    tops.push_back({{"token", token_string(tok, id)},
                    {"logprob", number(lp)},
                    {"bytes", bytes_of(tok.token_bytes(id))}});
  return {{"token", token_string(tok, token)},
          {"logprob", number(logprob)},
          {"bytes", bytes_of(tok.token_bytes(token))},
          {"top_logprobs", std::move(tops)}};
}

json completion_logprobs(const Tokenizer& tok, const std::vector<int32_t>& tokens,
                         const std::vector<float>& logprobs,
                         const std::vector<std::vector<std::pair<int32_t, float>>>& top,
                         size_t offset0) {
  json toks = json::array(), lps = json::array(), tops = json::array(), offs = json::array();
  size_t off = offset0;
  for (size_t i = 0; i < tokens.size(); ++i) {
    const std::string s = token_string(tok, tokens[i]);
    toks.push_back(s);
    lps.push_back(i < logprobs.size() ? number(logprobs[i]) : json(nullptr));
    if (i < top.size()) {
      json t = json::object();
      for (const auto& [id, lp] : top[i]) t[token_string(tok, id)] = number(lp);
      tops.push_back(std::move(t));
    } else {
      tops.push_back(nullptr);
    }
    offs.push_back(off);
    off += tok.token_bytes(tokens[i]).size();
  }
  return {{"tokens", std::move(toks)},
          {"token_logprobs", std::move(lps)},
          {"top_logprobs", std::move(tops)},
          {"text_offset", std::move(offs)}};
}

json chat_message(const ResponseContext& ctx, const chat::ParsedMessage& m) {
  json msg = {{"role", "assistant"}};
  msg["content"] = m.content.empty() && !m.tool_calls.empty() ? json(nullptr) : json(m.content);
  msg["reasoning_content"] = ctx.thinking ? json(m.reasoning) : json(nullptr);
  if (!m.tool_calls.empty()) {
    json calls = json::array();
    for (const auto& c : m.tool_calls)
      calls.push_back({{"id", c.id},
                       {"type", "function"},
                       {"function", {{"name", c.name}, {"arguments", c.arguments}}}});
    msg["tool_calls"] = std::move(calls);
  }
  return msg;
}

json chat_response(const ResponseContext& ctx, const std::vector<GenerateResult>& results,
                   bool logprobs) {
  json choices = json::array();
  for (size_t i = 0; i < results.size(); ++i) {
    const GenerateResult& r = results[i];
    json lp = nullptr;
    if (logprobs) {
      json content = json::array();
      for (size_t t = 0; t < r.tokens.size(); ++t)
        content.push_back(
            chat_logprob(*ctx.tok, r.tokens[t], t < r.logprobs.size() ? r.logprobs[t] : NAN,
                         t < r.top_logprobs.size() ? r.top_logprobs[t]
                                                   : decltype(r.top_logprobs)::value_type{}));
      lp = {{"content", std::move(content)}};
    }
    choices.push_back({{"index", i},
                       {"message", chat_message(ctx, r.message)},
                       {"logprobs", std::move(lp)},
                       {"finish_reason", finish_reason_name(r.finish)}});
  }
  return {{"id", ctx.id},
          {"object", "chat.completion"},
          {"created", ctx.created},
          {"model", ctx.model},
          {"system_fingerprint", kSystemFingerprint},
          {"choices", std::move(choices)},
          {"usage", usage_json(results)},
          {"reasoning_mode", ctx.mode}};
}

json completion_response(const ResponseContext& ctx, const std::vector<GenerateResult>& results,
                         bool logprobs, const std::string& echo_prefix) {
  json choices = json::array();
  for (size_t i = 0; i < results.size(); ++i) {
    const GenerateResult& r = results[i];
    json lp = nullptr;
    if (logprobs)
      lp = completion_logprobs(*ctx.tok, r.tokens, r.logprobs, r.top_logprobs, echo_prefix.size());
    choices.push_back({{"index", i},
                       {"text", echo_prefix + r.message.content},
                       {"logprobs", std::move(lp)},
                       {"finish_reason", finish_reason_name(r.finish)}});
  }
  return {{"id", ctx.id},
          {"object", "text_completion"},
          {"created", ctx.created},
          {"model", ctx.model},
          {"system_fingerprint", kSystemFingerprint},
          {"choices", std::move(choices)},
          {"usage", usage_json(results)}};
}

json chunk(const ResponseContext& ctx, json choices) {
  json c = {{"id", ctx.id},
            {"object", ctx.chat ? "chat.completion.chunk" : "text_completion"},
            {"created", ctx.created},
            {"model", ctx.model},
            {"system_fingerprint", kSystemFingerprint},
            {"choices", std::move(choices)}};
  if (ctx.chat) c["reasoning_mode"] = ctx.mode;
  return c;
}

json chat_delta(const chat::Delta& d) {
  using K = chat::Delta::Kind;
  switch (d.kind) {
    case K::Reasoning:
      return {{"reasoning_content", d.text}};
    case K::Content:
      return {{"content", d.text}};
    case K::ToolCallStart:
      return {{"tool_calls",
               {{{"index", d.index},
                 {"id", d.id},
                 {"type", "function"},
                 {"function", {{"name", d.name}, {"arguments", ""}}}}}}};
    case K::ToolCallArgs:
      return {{"tool_calls", {{{"index", d.index}, {"function", {{"arguments", d.text}}}}}}};
  }
  return json::object();
}

}  // namespace dsv4::server
