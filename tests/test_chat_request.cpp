// The request normaliser: where request-level tools go, every spelling of the thinking switch and
// the effort (the one table of effort.h), and 400-grade errors that name the field.
#include <gtest/gtest.h>

#include "chat/effort.h"
#include "chat_test_util.h"
#include "test_util.h"

namespace dsv4::test {
namespace {

using chat::EncoderEffort;
using chat::EncoderGeneration;
using Json = nlohmann::ordered_json;

chat::ChatRequest normalise(const std::string& body, const chat::ChatDefaults& d = {}) {
  return chat::normalise_chat_request(Json::parse(body), d);
}

std::string error_for(const std::string& body) {
  return error_of([&] { normalise(body); });
}

const std::string kTools =
    R"([{"type": "function", "function": {"name": "f", "parameters": {"b": 1, "a": 2}}}])";

TEST(ChatRequest, RequestToolsGoAfterFirstSystemText) {
  auto p = render(R"({"messages": [{"role": "system", "content": "S"},
                                   {"role": "user", "content": "U"}], "tools": )" +
                      kTools + "}",
                  preview_defaults());
  EXPECT_EQ(p.rfind(kBos + "S\n\n## Tools\n\n", 0), 0u) << p;
  EXPECT_NE(p.find(R"({"name": "f", "parameters": {"b": 1, "a": 2}})"), std::string::npos);
}

TEST(ChatRequest, RequestToolsWithoutSystemGetAnEmptyOneAtTheStart) {
  auto r = normalise(R"({"messages": [{"role": "user", "content": "U"}], "tools": )" + kTools + "}",
                     preview_defaults());
  ASSERT_EQ(r.messages.size(), 2u);
  EXPECT_EQ(r.messages[0].role, chat::Role::kSystem);
  EXPECT_EQ(r.messages[0].content, "");
  EXPECT_EQ(chat::render_prompt(r).rfind(kBos + "\n\n## Tools\n\n", 0), 0u);
  EXPECT_EQ(r.tools.size(), 1u);
}

TEST(ChatRequest, RequestToolsReplaceToolsOnTheHeadMessage) {
  auto r = normalise(R"({"messages": [{"role": "system", "content": "S", "tools": [
      {"type": "function", "function": {"name": "old"}}]}, {"role": "user", "content": "U"}],
      "tools": )" + kTools +
                     "}");
  ASSERT_EQ(r.tools.size(), 1u);
  EXPECT_EQ(r.tools[0]["name"], "f");
}

TEST(ChatRequest, ReasoningAcceptedUnderBothNamesAndAbsent) {
  for (const char* key : {"reasoning_content", "reasoning"}) {
    auto r = normalise(std::string(R"({"messages": [{"role": "user", "content": "U"},
        {"role": "assistant", "content": "A", ")") +
                       key + R"(": "R"}]})");
    EXPECT_EQ(r.messages[1].reasoning, "R") << key;
  }
  auto r = normalise(R"({"messages": [{"role": "user", "content": "U"},
      {"role": "assistant", "content": null, "tool_calls": [{"id": "c", "type": "function",
       "function": {"name": "f", "arguments": "{}"}}]}, {"role": "tool", "tool_call_id": "c",
       "content": "x"}], "tools": )" +
                     kTools + "}");
  EXPECT_EQ(r.messages[2].reasoning, "");
  EXPECT_NE(chat::render_prompt(r).find("<think></think>\n\n<｜DSML｜tool_calls>"),
            std::string::npos);
}

TEST(ChatRequest, DefaultIsThinkingWithHighEffort) {
  auto r = normalise(R"({"messages": [{"role": "user", "content": "U"}]})");
  EXPECT_TRUE(r.encoder.thinking);
  EXPECT_EQ(r.encoder.effort, EncoderEffort::kHigh);
  EXPECT_TRUE(r.encoder.drop_thinking);
  // 0731's high is the "Absolute maximum" paragraph; the preview's high has none.
  EXPECT_EQ(render(R"({"messages": [{"role": "user", "content": "U"}]})")
                .rfind(kBos + "Reasoning Effort: Absolute maximum", 0),
            0u);
  EXPECT_EQ(render(R"({"messages": [{"role": "user", "content": "U"}]})", preview_defaults()),
            kBos + kUser + "U" + kAsst + "<think>");
}

TEST(ChatRequest, EveryThinkingSwitchSpelling) {
  const std::string m = R"("messages": [{"role": "user", "content": "U"}])";
  for (const char* off : {R"("chat_template_kwargs": {"thinking": false})",
                          R"("chat_template_kwargs": {"enable_thinking": false})",
                          R"("thinking": {"type": "disabled"})", R"("thinking": false)",
                          R"("reasoning": {"enabled": false})", R"("reasoning_effort": "none")",
                          R"("chat_template_kwargs": {"reasoning_effort": "none"})",
                          R"("reasoning": {"effort": "none"})"}) {
    auto r = normalise("{" + m + ", " + off + "}");
    EXPECT_FALSE(r.encoder.thinking) << off;
    EXPECT_EQ(r.encoder.effort, EncoderEffort::kNone) << off;
  }
  chat::ChatDefaults chat_default;
  chat_default.thinking = false;
  for (const char* on : {R"("chat_template_kwargs": {"thinking": true})",
                         R"("chat_template_kwargs": {"enable_thinking": true})",
                         R"("thinking": {"type": "enabled"})", R"("reasoning": {"enabled": true})"})
    EXPECT_TRUE(normalise("{" + m + ", " + on + "}", chat_default).encoder.thinking) << on;
}

TEST(ChatRequest, EffortTableForBothGenerations) {
  struct Row {
    const char* spelling;
    EncoderEffort preview, v0731;
  };
  using E = EncoderEffort;
  const Row rows[] = {{"minimal", E::kHigh, E::kLow}, {"low", E::kHigh, E::kLow},
                      {"medium", E::kHigh, E::kHigh}, {"high", E::kHigh, E::kHigh},
                      {"xhigh", E::kHigh, E::kHigh},  {"max", E::kMax, E::kMax},
                      {"ultra", E::kMax, E::kMax},    {"MAX", E::kMax, E::kMax}};
  for (const Row& row : rows) {
    auto p = chat::map_effort(row.spelling, true, EncoderGeneration::kPreview);
    auto n = chat::map_effort(row.spelling, true, EncoderGeneration::k0731);
    ASSERT_TRUE(p && n) << row.spelling;
    EXPECT_TRUE(p->thinking && n->thinking);
    EXPECT_EQ(p->effort, row.preview) << row.spelling;
    EXPECT_EQ(n->effort, row.v0731) << row.spelling;
    auto off = chat::map_effort(row.spelling, false, EncoderGeneration::k0731);
    EXPECT_FALSE(off->thinking);
    EXPECT_EQ(off->effort, E::kNone);
  }
  EXPECT_FALSE(chat::map_effort("extreme", true, EncoderGeneration::k0731));
  // The preview's max paragraph is byte-identical to the 0731 high one.
  EXPECT_EQ(chat::effort_prefix(EncoderGeneration::kPreview, E::kMax),
            chat::effort_prefix(EncoderGeneration::k0731, E::kHigh));
  EXPECT_EQ(chat::effort_prefix(EncoderGeneration::kPreview, E::kHigh), "");
  EXPECT_EQ(chat::effort_prefix(EncoderGeneration::k0731, E::kLow), "");
}

TEST(ChatRequest, EveryEffortFieldSpelling) {
  const std::string m = R"("messages": [{"role": "user", "content": "U"}])";
  for (const char* f :
       {R"("reasoning_effort": "max")", R"("chat_template_kwargs": {"reasoning_effort": "max"})",
        R"("reasoning": {"effort": "max"})",
        R"("thinking": {"type": "enabled"}, "reasoning_effort": "max")"})
    EXPECT_EQ(normalise("{" + m + ", " + f + "}").encoder.effort, EncoderEffort::kMax) << f;
}

TEST(ChatRequest, DisagreeingSwitchesAreRefused) {
  auto e = error_for(R"({"messages": [{"role": "user", "content": "U"}],
      "chat_template_kwargs": {"thinking": false}, "thinking": {"type": "enabled"}})");
  EXPECT_NE(e.find("chat_template_kwargs.thinking and thinking.type disagree"), std::string::npos)
      << e;
  e = error_for(R"({"messages": [{"role": "user", "content": "U"}],
      "reasoning_effort": "max", "reasoning": {"effort": "low"}})");
  EXPECT_NE(e.find("reasoning_effort and reasoning.effort disagree"), std::string::npos) << e;
}

TEST(ChatRequest, DropThinkingKwarg) {
  auto r = normalise(R"({"messages": [{"role": "user", "content": "U"}],
      "chat_template_kwargs": {"drop_thinking": false}})");
  EXPECT_FALSE(r.encoder.drop_thinking);
}

TEST(ChatRequest, ContentPartsAreJoined) {
  auto r = normalise(R"({"messages": [{"role": "user", "content": [{"type": "text", "text": "a"},
      {"type": "text", "text": "b"}]}, {"role": "assistant", "tool_calls": [{"id": "c",
      "function": {"name": "f", "arguments": {}}}]}, {"role": "tool", "tool_call_id": "c",
      "content": [{"type": "text", "text": "x"}, {"type": "image_url"}]}]})");
  EXPECT_EQ(r.messages[0].content, "a\nb");
  EXPECT_EQ(r.messages[2].content, "x\n\n[Unsupported image_url]");
}

TEST(ChatRequest, PrefixCompletionOnLastAssistant) {
  auto p = render(R"({"messages": [{"role": "user", "content": "U"},
      {"role": "assistant", "content": "```python\n", "prefix": true}],
      "thinking": {"type": "disabled"}})");
  EXPECT_EQ(p, kBos + kUser + "U" + kAsst + "</think>```python\n");
  EXPECT_NE(error_for(R"({"messages": [{"role": "assistant", "content": "x", "prefix": true},
      {"role": "user", "content": "U"}]})")
                .find("messages[0].prefix"),
            std::string::npos);
}

TEST(ChatRequest, ToolChoice) {
  const std::string m = R"("messages": [{"role": "user", "content": "U"}], "tools": )" + kTools;
  EXPECT_EQ(normalise("{" + m + R"(, "tool_choice": "required"})").tool_choice.kind,
            chat::ToolChoiceKind::kRequired);
  auto r =
      normalise("{" + m + R"(, "tool_choice": {"type": "function", "function": {"name": "f"}}})");
  EXPECT_EQ(r.tool_choice.kind, chat::ToolChoiceKind::kNamed);
  EXPECT_EQ(r.tool_choice.name, "f");
  EXPECT_NE(error_for("{" + m + R"(, "tool_choice": {"function": {"name": "g"}}})")
                .find("tool_choice.function.name: no tool named 'g'"),
            std::string::npos);
  EXPECT_NE(error_for(R"({"messages": [{"role": "user", "content": "U"}],
      "tool_choice": "required"})")
                .find("tool_choice"),
            std::string::npos);
}

TEST(ChatRequest, ResponseFormatGoesOnTheHeadMessage) {
  auto p = render(R"({"messages": [{"role": "system", "content": "S"},
      {"role": "user", "content": "U"}], "response_format": {"type": "json_schema",
      "json_schema": {"name": "x", "schema": {"type": "object"}}}})");
  EXPECT_NE(p.find("S\n\n## Response Format:\n\nYou MUST strictly adhere to the following schema "
                   "to reply:\n{\"type\": \"json_schema\", \"json_schema\": {\"name\": \"x\", "
                   "\"schema\": {\"type\": \"object\"}}}" +
                   kUser),
            std::string::npos)
      << p;
  auto r = normalise(R"({"messages": [{"role": "user", "content": "U"}],
      "response_format": {"type": "text"}})");
  EXPECT_EQ(r.messages.size(), 1u);
}

TEST(ChatRequest, BadRequestsNameTheField) {
  struct Case {
    const char* body;
    const char* want;
  };
  const Case cases[] = {
      {R"([])", "request body: expected a JSON object"},
      {R"({})", "messages: missing"},
      {R"({"messages": {}})", "messages: expected an array"},
      {R"({"messages": []})", "messages: must not be empty"},
      {R"({"messages": [1]})", "messages[0]: expected a message object"},
      {R"({"messages": [{"content": "x"}]})", "messages[0].role: missing"},
      {R"({"messages": [{"role": "function", "content": "x"}]})",
       "messages[0].role: unknown role 'function'"},
      {R"({"messages": [{"role": "user", "content": 5}]})", "messages[0].content: expected"},
      {R"({"messages": [{"role": "user", "content": [{"type": "image_url"}]}]})",
       "messages[0].content[0]: content part type 'image_url' is not supported"},
      {R"({"messages": [{"role": "user", "content": "x", "tools": []}]})",
       "messages[0].tools: only system and developer"},
      {R"({"messages": [{"role": "user", "content": "x", "task": "nope"}]})",
       "messages[0].task: unknown task 'nope'"},
      {R"({"messages": [{"role": "assistant", "reasoning_content": 3}]})",
       "messages[0].reasoning_content: expected a string"},
      {R"({"messages": [{"role": "assistant", "tool_calls": {}}]})",
       "messages[0].tool_calls: expected an array"},
      {R"({"messages": [{"role": "assistant", "tool_calls": [{"function": {"name": "f",
          "arguments": "{bad"}}]}]})",
       "messages[0].tool_calls[0].function.arguments: not valid JSON"},
      {R"({"messages": [{"role": "assistant", "tool_calls": [{"function": {"name": "f",
          "arguments": "[1]"}}]}]})",
       "messages[0].tool_calls[0].function.arguments: must encode a JSON object"},
      {R"({"messages": [{"role": "assistant", "tool_calls": [{"function": {}}]}]})",
       "messages[0].tool_calls[0].function.name: missing or empty"},
      {R"({"messages": [{"role": "user", "content": "x"}, {"role": "tool", "content": "r"}]})",
       "messages[1]: a tool message must answer a tool call"},
      {R"({"messages": [{"role": "assistant", "tool_calls": [{"id": "a", "function":
          {"name": "f"}}]}, {"role": "tool", "tool_call_id": "b", "content": "r"}]})",
       "messages[1].tool_call_id: 'b' matches no tool call of messages[0]"},
      {R"({"messages": [{"role": "user", "content": "x"}], "tools": [{"type": "retrieval"}]})",
       "tools[0].type: only function tools are supported"},
      {R"({"messages": [{"role": "user", "content": "x"}], "tools": [{"function": {}}]})",
       "tools[0].function.name: missing or empty"},
      {R"({"messages": [{"role": "user", "content": "x"}], "reasoning_effort": "extreme"})",
       "reasoning_effort: unknown reasoning effort 'extreme'"},
      {R"({"messages": [{"role": "user", "content": "x"}], "reasoning_effort": 3})",
       "reasoning_effort: expected a string"},
      {R"({"messages": [{"role": "user", "content": "x"}], "thinking": {"type": "on"}})",
       "thinking.type: unknown value 'on'"},
      {R"({"messages": [{"role": "user", "content": "x"}], "chat_template_kwargs":
          {"thinking": "yes"}})",
       "chat_template_kwargs.thinking: expected true or false"},
      {R"({"messages": [{"role": "user", "content": "x"}], "response_format": {"type": "xml"}})",
       "response_format.type: unknown response format 'xml'"},
      {R"({"messages": [{"role": "developer", "content": ""}]})", "developer"},
  };
  for (const Case& c : cases) {
    std::string e = error_of([&] { render(c.body); });
    EXPECT_NE(e.find(c.want), std::string::npos) << c.body << "\n  got: " << e;
  }
}

TEST(ChatRequest, DeeplyNestedBodyIsRefused) {
  std::string deep(5000, '[');
  deep += std::string(5000, ']');
  EXPECT_NE(error_for(R"({"messages": [{"role": "user", "content": "x"}], "x": )" + deep + "}")
                .find("nested deeper"),
            std::string::npos);
}

}  // namespace
}  // namespace dsv4::test
