#include "server/openai_request.h"

#include <fmt/core.h>

#include <charconv>
#include <cmath>
#include <cstdint>
#include <limits>
#include <optional>
#include <utility>

#include "chat/effort.h"
#include "util/error.h"
#include "util/json_type.h"

namespace dsv4::server {

std::string ReasoningMode::name() const {
  if (!thinking) return "non-thinking";
  if (effort.empty() || effort == "none") return "thinking";
  return "thinking-" + effort;
}

namespace {

using Json = nlohmann::ordered_json;

// Deeper JSON is refused before it is parsed: it is not a chat request, and the recursive code
// that walks a parsed body (normaliser, encoder, conversions) must not overflow the stack.
constexpr int kMaxNesting = 64;
constexpr int64_t kMaxTopLogprobs = 20;
constexpr size_t kMaxStops = 16;
constexpr int64_t kInt32Max = std::numeric_limits<int32_t>::max();

[[noreturn]] void refuse(std::string param, std::string message, std::string code = {}) {
  throw bad_request(std::move(message), std::move(param), std::move(code));
}

// Counts bracket nesting outside strings; refuses before the parser sees the body. For the bytes
// the parser reads before any error, its nesting never exceeds what this scan counted.
void check_nesting(std::string_view body) {
  int depth = 0;
  bool in_string = false, escaped = false;
  for (size_t i = 0; i < body.size(); ++i) {
    char c = body[i];
    if (in_string) {
      if (escaped)
        escaped = false;
      else if (c == '\\')
        escaped = true;
      else if (c == '"')
        in_string = false;
    } else if (c == '"') {
      in_string = true;
    } else if (c == '[' || c == '{') {
      if (++depth > kMaxNesting)
        refuse("", fmt::format("request body: nested deeper than {} levels (at byte {})",
                               kMaxNesting, i));
    } else if (c == ']' || c == '}') {
      --depth;
    }
  }
}

Json parse_body(std::string_view body) {
  check_nesting(body);
  Json j;
  try {
    j = Json::parse(body.data(), body.data() + body.size());
  } catch (const nlohmann::json::exception& e) {
    std::string what = e.what();
    // "[json.exception.parse_error.101] parse error at line 1, column 7: ..." → from "parse error".
    if (what.rfind("[json.exception.", 0) == 0) {
      size_t p = what.find("] ");
      if (p != std::string::npos) what.erase(0, p + 2);
    }
    refuse("", "request body is not valid JSON: " + what, "invalid_json");
  }
  if (!j.is_object())
    refuse("", fmt::format("request body: expected a JSON object, got {}", json_type_name(j)));
  return j;
}

// A field; JSON null counts as absent.
const Json* find(const Json& obj, std::string_view key) {
  auto it = obj.find(key);
  return it == obj.end() || it->is_null() ? nullptr : &*it;
}

[[noreturn]] void type_error(const std::string& param, std::string_view expected, const Json& v) {
  refuse(param, fmt::format("{}: expected {}, got {}", param, expected, json_type_name(v)));
}

std::optional<bool> opt_bool(const Json& obj, std::string_view key, const std::string& param) {
  const Json* v = find(obj, key);
  if (!v) return std::nullopt;
  if (!v->is_boolean()) type_error(param, "true or false", *v);
  return v->get<bool>();
}

std::optional<bool> opt_bool(const Json& obj, const std::string& key) {
  return opt_bool(obj, key, key);
}

std::optional<std::string> opt_string(const Json& obj, const std::string& key) {
  const Json* v = find(obj, key);
  if (!v) return std::nullopt;
  if (!v->is_string()) type_error(key, "a string", *v);
  return v->get<std::string>();
}

// An integer value: JSON integers, and floats with an integral value (5.0), as Python clients
// may send them. Range-checked as [lo, hi].
int64_t int_value(const Json& v, const std::string& param, int64_t lo, int64_t hi) {
  int64_t x = 0;
  bool in_range = true;
  if (v.is_number_unsigned()) {
    uint64_t u = v.get<uint64_t>();
    in_range = u <= static_cast<uint64_t>(hi);
    x = in_range ? static_cast<int64_t>(u) : hi;
  } else if (v.is_number_integer()) {
    x = v.get<int64_t>();
  } else if (v.is_number_float()) {
    double d = v.get<double>();
    if (!std::isfinite(d) || d != std::floor(d)) type_error(param, "an integer", v);
    in_range = static_cast<double>(lo) <= d && d <= static_cast<double>(hi);
    x = in_range ? static_cast<int64_t>(d) : hi;
  } else {
    type_error(param, "an integer", v);
  }
  if (!in_range || x < lo || x > hi)
    refuse(param, fmt::format("{}: {} is out of range [{}, {}]", param, v.dump(), lo, hi));
  return x;
}

std::optional<int64_t> opt_int(const Json& obj, const std::string& key, int64_t lo, int64_t hi) {
  const Json* v = find(obj, key);
  if (!v) return std::nullopt;
  return int_value(*v, key, lo, hi);
}

// A number in [lo, hi] (or (lo, hi] with lo_open), checked in double before narrowing to float.
std::optional<float> opt_float(const Json& obj, const std::string& key, double lo, double hi,
                               bool lo_open = false) {
  const Json* v = find(obj, key);
  if (!v) return std::nullopt;
  if (!v->is_number()) type_error(key, "a number", *v);
  double d = v->get<double>();
  bool ok = (lo_open ? lo < d : lo <= d) && d <= hi;
  if (!ok)
    refuse(key, fmt::format("{}: {} is out of range {}{}, {}]", key, v->dump(), lo_open ? '(' : '[',
                            lo, hi));
  return static_cast<float>(d);
}

std::string check_model(const Json& body, const ApiConfig& cfg) {
  const Json* m = find(body, "model");
  if (!m) refuse("model", "model: missing (this server serves '" + cfg.model_id + "')");
  if (!m->is_string()) type_error("model", "a string", *m);
  const std::string& name = m->get_ref<const std::string&>();
  bool known = name == cfg.model_id;
  for (const auto& a : cfg.model_aliases) known = known || name == a;
  if (!known)
    refuse(
        "model",
        fmt::format("model: '{}' is not served here (this server serves '{}')", name, cfg.model_id),
        "model_not_found");
  return name;
}

int32_t vocab_of(const Tokenizer& tok, const ApiConfig& cfg) {
  return cfg.vocab_size > 0 ? cfg.vocab_size : tok.vocab_size();
}

int32_t token_id(const Json& v, const std::string& param, int32_t vocab) {
  if (!v.is_number()) type_error(param, "a token id (an integer)", v);
  return static_cast<int32_t>(int_value(v, param, 0, int64_t{vocab} - 1));
}

void parse_stream(const Json& body, ParsedRequest& out) {
  out.stream = opt_bool(body, "stream").value_or(false);
  const Json* so = find(body, "stream_options");
  if (!so) return;
  if (!so->is_object()) type_error("stream_options", "an object", *so);
  if (!out.stream) refuse("stream_options", "stream_options: only allowed when stream is true");
  out.include_usage =
      opt_bool(*so, "include_usage", "stream_options.include_usage").value_or(false);
  out.continuous_usage =
      opt_bool(*so, "continuous_usage_stats", "stream_options.continuous_usage_stats")
          .value_or(false);
}

// Every sampling and stopping field shared by both endpoints, then SamplingParams::validate().
void parse_sampling(const Json& body, bool chat, int32_t vocab, const ApiConfig& cfg,
                    ParsedRequest& out) {
  SamplingParams& s = out.gen.sampling;
  if (auto v = opt_float(body, "temperature", 0, 2)) s.temperature = *v;
  if (auto v = opt_float(body, "top_p", 0, 1, /*lo_open=*/true)) s.top_p = *v;
  if (auto v = opt_float(body, "min_p", 0, 1)) s.min_p = *v;
  if (auto v = opt_int(body, "top_k", -1, kInt32Max)) s.top_k = *v == -1 ? 0 : static_cast<int>(*v);
  if (auto v = opt_float(body, "presence_penalty", -2, 2)) s.presence_penalty = *v;
  if (auto v = opt_float(body, "frequency_penalty", -2, 2)) s.frequency_penalty = *v;
  if (auto v = opt_float(body, "repetition_penalty", 0, 2, /*lo_open=*/true))
    s.repetition_penalty = *v;

  if (const Json* v = find(body, "seed")) {
    if (v->is_number_unsigned())
      s.seed = v->get<uint64_t>();
    else
      s.seed = static_cast<uint64_t>(int_value(*v, "seed", std::numeric_limits<int64_t>::min(),
                                               std::numeric_limits<int64_t>::max()));
  }

  if (const Json* lb = find(body, "logit_bias")) {
    if (!lb->is_object()) type_error("logit_bias", "an object of token id → bias", *lb);
    for (auto it = lb->begin(); it != lb->end(); ++it) {
      const std::string& key = it.key();
      int64_t id = -1;
      auto [end, ec] = std::from_chars(key.data(), key.data() + key.size(), id);
      if (ec != std::errc() || end != key.data() + key.size())
        refuse("logit_bias", fmt::format("logit_bias: key '{}' is not a token id", key));
      if (id < 0 || id >= vocab)
        refuse("logit_bias",
               fmt::format("logit_bias: token {} is outside the vocabulary [0, {})", id, vocab));
      const Json& b = it.value();
      if (!b.is_number()) type_error("logit_bias", "numbers as biases", b);
      double d = b.get<double>();
      if (!(-100 <= d && d <= 100))
        refuse("logit_bias", fmt::format("logit_bias: bias {} for token {} is out of range "
                                         "[-100, 100]",
                                         b.dump(), id));
      s.logit_bias.emplace_back(static_cast<int32_t>(id), static_cast<float>(d));
    }
  }

  if (const Json* st = find(body, "stop")) {
    if (st->is_string()) {
      s.stop.push_back(st->get<std::string>());
    } else if (st->is_array()) {
      if (st->size() > kMaxStops)
        refuse("stop",
               fmt::format("stop: {} strings, at most {} are allowed", st->size(), kMaxStops));
      for (size_t i = 0; i < st->size(); ++i) {
        const Json& e = (*st)[i];
        if (!e.is_string()) type_error(fmt::format("stop[{}]", i), "a string", e);
        s.stop.push_back(e.get<std::string>());
      }
    } else {
      type_error("stop", "a string or an array of strings", *st);
    }
  }

  if (const Json* ids = find(body, "stop_token_ids")) {
    if (!ids->is_array()) type_error("stop_token_ids", "an array of token ids", *ids);
    for (size_t i = 0; i < ids->size(); ++i)
      s.stop_token_ids.push_back(token_id((*ids)[i], fmt::format("stop_token_ids[{}]", i), vocab));
  }

  if (auto v = opt_int(body, "min_tokens", 0, kInt32Max)) s.min_tokens = static_cast<int>(*v);
  s.ignore_eos = opt_bool(body, "ignore_eos").value_or(false);

  // max_tokens (legacy) and max_completion_tokens (current OpenAI name) mean the same thing.
  auto max_tokens = opt_int(body, "max_tokens", 1, kInt32Max);
  auto max_completion = opt_int(body, "max_completion_tokens", 1, kInt32Max);
  if (max_tokens && max_completion && *max_tokens != *max_completion)
    refuse("max_completion_tokens",
           fmt::format("max_completion_tokens: {} disagrees with max_tokens = {}; send one of them",
                       *max_completion, *max_tokens));
  const char* max_name = max_completion && !max_tokens ? "max_completion_tokens" : "max_tokens";
  if (max_tokens || max_completion)
    s.max_tokens = static_cast<int>(max_tokens ? *max_tokens : *max_completion);

  if (auto v = opt_int(body, "n", 1, cfg.max_n)) out.gen.n = static_cast<int>(*v);
  if (const Json* bo = find(body, "best_of")) {
    int64_t b = int_value(*bo, "best_of", std::numeric_limits<int64_t>::min(),
                          std::numeric_limits<int64_t>::max());
    if (b != 1) refuse("best_of", fmt::format("best_of: only 1 is supported, got {}", b));
  }

  if (chat) {
    s.logprobs = opt_bool(body, "logprobs").value_or(false);
    if (auto v = opt_int(body, "top_logprobs", 0, kMaxTopLogprobs)) {
      if (*v > 0 && !s.logprobs) refuse("top_logprobs", "top_logprobs: needs logprobs = true");
      s.top_logprobs = static_cast<int>(*v);
    }
  } else if (auto v = opt_int(body, "logprobs", 0, kMaxTopLogprobs)) {
    s.logprobs = true;
    s.top_logprobs = static_cast<int>(*v);
    out.completion_logprobs = static_cast<int>(*v);
  }

  try {
    s.validate(vocab);
  } catch (const Error& e) {
    ApiError err = from_error(e);
    if (err.param == "max_tokens" && std::string_view(max_name) != "max_tokens") {
      std::string msg = err.what();
      msg.replace(0, std::string_view("max_tokens").size(), max_name);
      ApiError renamed = bad_request(std::move(msg), max_name, err.code);
      throw renamed;
    }
    throw err;
  }

  // The same seed gives the same stream: the salt (choice i uses salt + i) follows the seed.
  if (s.seed) out.gen.sequence_salt = *s.seed;
}

void check_context(size_t prompt_tokens, const ApiConfig& cfg, const std::string& param) {
  if (static_cast<int64_t>(prompt_tokens) < cfg.max_context) return;
  refuse(param,
         fmt::format("{}: the prompt is {} tokens, but the context is {} tokens (prompt and "
                     "generated tokens together; at least one token must be left to generate)",
                     param, prompt_tokens, cfg.max_context),
         "context_length_exceeded");
}

std::vector<int32_t> encode(const Tokenizer& tok, const std::string& text,
                            const std::string& param) {
  try {
    return tok.encode(text);
  } catch (const Error& e) {
    refuse(param, fmt::format("{}: {}", param, e.what()));
  }
}

ParsedRequest parse_chat(std::string_view body_text, const Tokenizer& tok, const ApiConfig& cfg,
                         bool sampling) {
  Json body = parse_body(body_text);
  ParsedRequest out;
  out.chat = true;
  out.model = check_model(body, cfg);

  if (const Json* m = find(body, "messages"); m && m->is_array() && m->size() > cfg.max_messages)
    refuse("messages", fmt::format("messages: {} messages, at most {} are allowed", m->size(),
                                   cfg.max_messages));
  if (const Json* t = find(body, "tools"); t && t->is_array() && t->size() > cfg.max_tools)
    refuse("tools",
           fmt::format("tools: {} tools, at most {} are allowed", t->size(), cfg.max_tools));

  chat::ChatRequest cr;
  try {
    cr = chat::normalise_chat_request(body, cfg.defaults);
  } catch (const Error& e) {
    throw from_error(e);
  }
  // Tools may also come with system messages: the limit is on what the prompt declares.
  if (cr.tools.size() > cfg.max_tools)
    refuse("tools", fmt::format("tools: {} tools (with those of system messages), at most {} are "
                                "allowed",
                                cr.tools.size(), cfg.max_tools));

  out.mode.thinking = cr.encoder.thinking;
  out.mode.effort = std::string(chat::effort_name(cr.encoder.effort));
  out.mode.drop_thinking = cr.encoder.drop_thinking;
  out.tool_choice = cr.tool_choice;
  out.parallel_tool_calls = opt_bool(body, "parallel_tool_calls").value_or(true);
  out.user = opt_string(body, "user").value_or("");

  if (sampling) {
    parse_stream(body, out);
    parse_sampling(body, /*chat=*/true, vocab_of(tok, cfg), cfg, out);
  }

  try {
    out.prompt_text = chat::render_prompt(cr);
  } catch (const Error& e) {
    throw from_error(e);
  }
  out.gen.prompt = encode(tok, out.prompt_text, "messages");
  check_context(out.gen.prompt.size(), cfg, "messages");
  // Thinking mode opens <think> after the last user turn, so the output starts as reasoning; a
  // continued assistant prefix or a task token leaves the prompt elsewhere, and the output is not
  // reasoning then.
  out.gen.start_in_reasoning = out.prompt_text.ends_with("<think>");
  out.gen.tools = nlohmann::json(cr.tools);
  return out;
}

}  // namespace

ParsedRequest parse_chat_request(std::string_view body, const Tokenizer& tok,
                                 const ApiConfig& cfg) {
  return parse_chat(body, tok, cfg, /*sampling=*/true);
}

ParsedRequest parse_render_request(std::string_view body, const Tokenizer& tok,
                                   const ApiConfig& cfg) {
  return parse_chat(body, tok, cfg, /*sampling=*/false);
}

ParsedRequest parse_completion_request(std::string_view body_text, const Tokenizer& tok,
                                       const ApiConfig& cfg) {
  Json body = parse_body(body_text);
  ParsedRequest out;
  out.chat = false;
  out.model = check_model(body, cfg);
  out.mode.thinking = false;
  out.mode.effort = "none";
  out.gen.start_in_reasoning = false;
  const int32_t vocab = vocab_of(tok, cfg);

  if (auto suffix = opt_string(body, "suffix"); suffix && !suffix->empty())
    refuse("suffix", "suffix: not supported (this server does no fill-in-the-middle)");
  out.echo = opt_bool(body, "echo").value_or(false);
  out.user = opt_string(body, "user").value_or("");

  // The prompt: a string, token ids, or an array holding one string.
  const Json* p = find(body, "prompt");
  if (!p) refuse("prompt", "prompt: missing");
  std::optional<std::string> text;
  if (p->is_string()) {
    text = p->get<std::string>();
  } else if (p->is_array()) {
    if (p->empty()) refuse("prompt", "prompt: must not be empty");
    const Json& first = p->front();
    if (first.is_string()) {
      if (p->size() != 1)
        refuse("prompt", fmt::format("prompt: {} prompts in one request are not supported; send "
                                     "one request per prompt",
                                     p->size()));
      text = first.get<std::string>();
    } else if (first.is_array()) {
      refuse("prompt",
             "prompt: several token-id prompts in one request are not supported; send one "
             "request per prompt");
    } else {
      for (size_t i = 0; i < p->size(); ++i)
        out.gen.prompt.push_back(token_id((*p)[i], fmt::format("prompt[{}]", i), vocab));
      out.prompt_text = tok.decode(out.gen.prompt);
    }
  } else {
    type_error("prompt", "a string, an array of token ids or an array with one string", *p);
  }
  if (text) {
    if (text->empty()) refuse("prompt", "prompt: must not be empty");
    out.prompt_text = *text;
    out.gen.prompt = encode(tok, *text, "prompt");
    // Like Hugging Face's add_special_tokens: BOS first when the tokenizer asks for it and the
    // text does not already start with it.
    if (tok.add_bos() && tok.bos_id() &&
        (out.gen.prompt.empty() || out.gen.prompt[0] != *tok.bos_id()))
      out.gen.prompt.insert(out.gen.prompt.begin(), *tok.bos_id());
  }

  parse_stream(body, out);
  parse_sampling(body, /*chat=*/false, vocab, cfg, out);
  check_context(out.gen.prompt.size(), cfg, "prompt");
  return out;
}

}  // namespace dsv4::server
