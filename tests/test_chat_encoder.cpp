// The prompt encoder: DeepSeek's four official vectors byte-exact, then one test per rule of
// docs/chat-encoding.md.
#include <gtest/gtest.h>

#include "chat/encoder.h"
#include "chat_test_util.h"
#include "test_util.h"

namespace dsv4::test {
namespace {

using chat::EncoderEffort;
using chat::EncoderGeneration;
using Json = nlohmann::ordered_json;

fs::path vector_dir() {
  return source_dir() / "tests/fixtures/encoding";
}

Json vector_input(int n) {
  return Json::parse(read_file(vector_dir() / ("test_input_" + std::to_string(n) + ".json")));
}
std::string vector_output(int n) {
  return read_file(vector_dir() / ("test_output_" + std::to_string(n) + ".txt"));
}

// How each vector was produced (fixtures README): case 1 is a {"tools", "messages"} body whose
// tools sit on messages[0]; cases 2 and 3 are thinking mode, case 4 chat mode.
std::string render_vector(int n, const chat::ChatDefaults& d) {
  Json in = vector_input(n);
  Json body = in.is_object() ? in : Json{{"messages", in}};
  if (n == 4) body["chat_template_kwargs"] = {{"thinking", false}};
  return chat::render_prompt(chat::normalise_chat_request(body, d));
}

TEST(ChatVectors, Case1ToolsOnFirstSystemMessage) {
  EXPECT_EQ(render_vector(1, preview_defaults()), vector_output(1));
}
TEST(ChatVectors, Case2DropThinkingMultiTurn) {
  EXPECT_EQ(render_vector(2, preview_defaults()), vector_output(2));
}
TEST(ChatVectors, Case3DeveloperToolsAndLatestReminder) {
  EXPECT_EQ(render_vector(3, preview_defaults()), vector_output(3));
}
TEST(ChatVectors, Case4ChatModeWithActionTask) {
  EXPECT_EQ(render_vector(4, preview_defaults()), vector_output(4));
}
// The 0731 encoder renders the same bytes when its effort adds no paragraph (low).
TEST(ChatVectors, SameBytesFrom0731EncoderAtLowEffort) {
  chat::ChatDefaults d;
  d.effort = "low";
  for (int n = 1; n <= 4; ++n) EXPECT_EQ(render_vector(n, d), vector_output(n)) << "case " << n;
}
// Case 1 with the tools given on messages[0] directly, as DeepSeek's script did.
TEST(ChatVectors, Case1WithMessageLevelTools) {
  Json in = vector_input(1);
  in["messages"][0]["tools"] = in["tools"];
  in.erase("tools");
  EXPECT_EQ(chat::render_prompt(chat::normalise_chat_request(in, preview_defaults())),
            vector_output(1));
}

chat::Message msg(chat::Role r, std::string content) {
  chat::Message m;
  m.role = r;
  m.content = std::move(content);
  return m;
}
chat::Message assistant(std::string content, std::string reasoning) {
  chat::Message m = msg(chat::Role::kAssistant, std::move(content));
  m.reasoning = std::move(reasoning);
  return m;
}
chat::EncoderOptions opts(bool thinking, EncoderEffort e = EncoderEffort::kNone,
                          EncoderGeneration g = EncoderGeneration::k0731) {
  chat::EncoderOptions o;
  o.thinking = thinking;
  o.effort = e;
  o.generation = g;
  return o;
}

TEST(ChatEncoder, BosOnceSystemTextRaw) {
  auto p = chat::encode_messages({msg(chat::Role::kSystem, "S"), msg(chat::Role::kUser, "U")},
                                 opts(false));
  EXPECT_EQ(p, kBos + "S" + kUser + "U" + kAsst + "</think>");
  chat::EncoderOptions o = opts(false);
  o.add_bos = false;
  EXPECT_EQ(chat::encode_messages({msg(chat::Role::kUser, "U")}, o),
            kUser + "U" + kAsst + "</think>");
}

TEST(ChatEncoder, ThinkingModeOpensThinkChatModeClosesIt) {
  std::vector<chat::Message> m{msg(chat::Role::kUser, "hi")};
  EXPECT_EQ(chat::encode_messages(m, opts(true)), kBos + kUser + "hi" + kAsst + "<think>");
  EXPECT_EQ(chat::encode_messages(m, opts(false)), kBos + kUser + "hi" + kAsst + "</think>");
}

TEST(ChatEncoder, EffortPrefixOnlyInThinkingModeBeforeSystem) {
  std::vector<chat::Message> m{msg(chat::Role::kSystem, "S"), msg(chat::Role::kUser, "U")};
  auto p = chat::encode_messages(m, opts(true, EncoderEffort::kMax, EncoderGeneration::kPreview));
  EXPECT_EQ(p.rfind(kBos + "Reasoning Effort: Absolute maximum with no shortcuts permitted.\n", 0),
            0u);
  EXPECT_NE(p.find("unchecked.\n\nS" + kUser), std::string::npos);
  EXPECT_EQ(p.find("Reasoning Effort", 10), p.find("Reasoning Effort"));  // once
  EXPECT_EQ(chat::encode_messages(m, opts(false, EncoderEffort::kMax, EncoderGeneration::kPreview)),
            kBos + "S" + kUser + "U" + kAsst + "</think>");
}

TEST(ChatEncoder, BeyondMaximumPrefixFor0731Max) {
  auto p = chat::encode_messages({msg(chat::Role::kUser, "U")}, opts(true, EncoderEffort::kMax));
  EXPECT_EQ(p.rfind(kBos + "Reasoning Effort: Beyond maximum \u2014 exhaustive, relentless, and "
                           "uncompromising.\nYou MUST reason",
                    0),
            0u);
  EXPECT_NE(p.find("no error remains undiscovered.\n\n" + kUser + "U" + kAsst + "<think>"),
            std::string::npos);
}

TEST(ChatEncoder, PreviewEncoderRejectsLowEffort) {
  auto err = error_of([] {
    chat::encode_messages({msg(chat::Role::kUser, "U")},
                          opts(true, EncoderEffort::kLow, EncoderGeneration::kPreview));
  });
  EXPECT_NE(err.find("'low'"), std::string::npos);
}

std::vector<chat::Message> two_turns() {
  return {msg(chat::Role::kUser, "A"), assistant("a", "ra"), msg(chat::Role::kUser, "B"),
          assistant("b", "rb")};
}

TEST(ChatEncoder, DropThinkingRemovesReasoningBeforeLastUser) {
  EXPECT_EQ(chat::encode_messages(two_turns(), opts(true)),
            kBos + kUser + "A" + kAsst + "</think>a" + kEos + kUser + "B" + kAsst +
                "<think>rb</think>b" + kEos);
}

TEST(ChatEncoder, DropThinkingOffKeepsEveryReasoning) {
  chat::EncoderOptions o = opts(true);
  o.drop_thinking = false;
  EXPECT_EQ(chat::encode_messages(two_turns(), o), kBos + kUser + "A" + kAsst +
                                                       "<think>ra</think>a" + kEos + kUser + "B" +
                                                       kAsst + "<think>rb</think>b" + kEos);
}

TEST(ChatEncoder, DropThinkingRemovesEarlierDeveloperMessages) {
  std::vector<chat::Message> m{msg(chat::Role::kDeveloper, "D"), assistant("a", "ra"),
                               msg(chat::Role::kUser, "B")};
  EXPECT_EQ(chat::encode_messages(m, opts(true)),
            kBos + "a" + kEos + kUser + "B" + kAsst + "<think>");
  // Without thinking nothing is dropped.
  EXPECT_EQ(chat::encode_messages(m, opts(false)),
            kBos + kUser + "D" + kAsst + "</think>a" + kEos + kUser + "B" + kAsst + "</think>");
}

TEST(ChatEncoder, AnyToolsSwitchDropThinkingOff) {
  auto m = two_turns();
  chat::Message sys = msg(chat::Role::kSystem, "S");
  sys.tools = Json::parse(R"([{"name": "f", "parameters": {}}])");
  m.insert(m.begin(), sys);
  auto p = chat::encode_messages(m, opts(true));
  EXPECT_NE(p.find(kUser + "A" + kAsst + "<think>ra</think>a" + kEos), std::string::npos);
  EXPECT_NE(p.find("### Available Tool Schemas\n\n{\"name\": \"f\", \"parameters\": {}}\n\n"),
            std::string::npos);
}

chat::Message call_turn(std::vector<std::pair<std::string, std::string>> id_names) {
  chat::Message m = assistant("", "r");
  for (auto& [id, name] : id_names) m.tool_calls.push_back({id, name, Json::object()});
  return m;
}
chat::Message tool(std::string id, std::string content) {
  chat::Message m = msg(chat::Role::kTool, std::move(content));
  m.tool_call_id = std::move(id);
  return m;
}

TEST(ChatEncoder, ToolResultsMergeIntoOneUserTurnWithFollowingText) {
  std::vector<chat::Message> m{msg(chat::Role::kUser, "Q"), call_turn({{"c1", "f"}}),
                               tool("c1", "R1"), msg(chat::Role::kUser, "more")};
  auto p = chat::encode_messages(m, opts(false));
  EXPECT_NE(p.find(kEos + kUser + "<tool_result>R1</tool_result>\n\nmore" + kAsst + "</think>"),
            std::string::npos)
      << p;
}

TEST(ChatEncoder, ConsecutiveUserMessagesMergeWithBlankLine) {
  auto p = chat::encode_messages({msg(chat::Role::kUser, "a"), msg(chat::Role::kUser, "b")},
                                 opts(false));
  EXPECT_EQ(p, kBos + kUser + "a\n\nb" + kAsst + "</think>");
}

TEST(ChatEncoder, ToolResultsReorderedByCallId) {
  std::vector<chat::Message> m{msg(chat::Role::kUser, "Q"),
                               call_turn({{"c1", "f"}, {"c2", "g"}, {"c3", "h"}}), tool("c3", "R3"),
                               tool("c1", "R1"), tool("c2", "R2")};
  auto p = chat::encode_messages(m, opts(false));
  EXPECT_NE(p.find(kUser +
                   "<tool_result>R1</tool_result>\n\n<tool_result>R2</tool_result>\n\n"
                   "<tool_result>R3</tool_result>" +
                   kAsst),
            std::string::npos)
      << p;
}

TEST(ChatEncoder, AssistantHistoryWithReasoningAndDsmlBlock) {
  chat::Message a = assistant("Let me check.", "think");
  a.tool_calls.push_back(
      {"c1", "f",
       Json::parse(R"({"s": "a \"raw\" <x>\nline", "n": 3, "x": 2.0, "b": true, "o": {"k": [1]},
                      "z": null})")});
  std::vector<chat::Message> m{msg(chat::Role::kUser, "Q"), a};
  EXPECT_EQ(chat::encode_messages(m, opts(true)),
            kBos + kUser + "Q" + kAsst + "<think>think</think>Let me check.\n\n" +
                "<｜DSML｜tool_calls>\n<｜DSML｜invoke name=\"f\">\n"
                "<｜DSML｜parameter name=\"s\" string=\"true\">a \"raw\" <x>\nline"
                "</｜DSML｜parameter>\n"
                "<｜DSML｜parameter name=\"n\" string=\"false\">3</｜DSML｜parameter>\n"
                "<｜DSML｜parameter name=\"x\" string=\"false\">2.0</｜DSML｜parameter>\n"
                "<｜DSML｜parameter name=\"b\" string=\"false\">true</｜DSML｜parameter>\n"
                "<｜DSML｜parameter name=\"o\" string=\"false\">{\"k\": [1]}</｜DSML｜parameter>\n"
                "<｜DSML｜parameter name=\"z\" string=\"false\">null</｜DSML｜parameter>\n"
                "</｜DSML｜invoke>\n</｜DSML｜tool_calls>" +
                kEos);
}

TEST(ChatEncoder, WoEosLeavesAssistantTurnOpen) {
  chat::Message a = assistant("def f(", "");
  a.wo_eos = true;
  EXPECT_EQ(chat::encode_messages({msg(chat::Role::kUser, "Q"), a}, opts(false)),
            kBos + kUser + "Q" + kAsst + "</think>def f(");
}

TEST(ChatEncoder, TaskTokens) {
  chat::Message u = msg(chat::Role::kUser, "Q");
  u.task = "query";
  EXPECT_EQ(chat::encode_messages({u}, opts(true)), kBos + kUser + "Q<｜query｜>");
  u.task = "action";
  // The answer to a task never thinks, even in thinking mode.
  EXPECT_EQ(chat::encode_messages({u, assistant("Search", "ignored")}, opts(true)),
            kBos + kUser + "Q" + kAsst + "<think><｜action｜>Search" + kEos);
  u.task = "bogus";
  EXPECT_NE(error_of([&] { chat::encode_messages({u}, opts(true)); }).find("unknown task 'bogus'"),
            std::string::npos);
}

TEST(ChatEncoder, LatestReminderHasItsOwnToken) {
  EXPECT_EQ(
      chat::encode_messages({msg(chat::Role::kLatestReminder, "date"), msg(chat::Role::kUser, "Q")},
                            opts(false)),
      kBos + "<｜latest_reminder｜>date" + kUser + "Q" + kAsst + "</think>");
}

TEST(ChatEncoder, ResponseFormatSectionAfterSystemText) {
  chat::Message s = msg(chat::Role::kSystem, "S");
  s.response_format = Json::parse(R"({"type": "json_object"})");
  EXPECT_EQ(chat::encode_messages({s, msg(chat::Role::kUser, "Q")}, opts(false)),
            kBos +
                "S\n\n## Response Format:\n\nYou MUST strictly adhere to the following schema to "
                "reply:\n{\"type\": \"json_object\"}" +
                kUser + "Q" + kAsst + "</think>");
}

TEST(ChatEncoder, DeveloperIsAUserTurnAndNeedsContent) {
  EXPECT_EQ(chat::encode_messages({msg(chat::Role::kDeveloper, "D")}, opts(true)),
            kBos + kUser + "D" + kAsst + "<think>");
  EXPECT_NE(error_of([] {
              chat::encode_messages({msg(chat::Role::kDeveloper, "")}, opts(true));
            }).find("developer"),
            std::string::npos);
}

}  // namespace
}  // namespace dsv4::test
