// The output parser: DeepSeek's own vectors, every edge case rule of docs/output-parser.md, and the
// streaming property: for every way of cutting the text, the deltas concatenate to the result and
// the result equals the one-shot parse.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include <random>
#include <string>
#include <vector>

#include "chat/output_parser.h"
#include "test_util.h"

namespace dsv4::chat {
namespace {

using nlohmann::json;
const std::string kEos(dsml::kEos);

json test_tools() {
  return json::parse(R"([
    {"type":"function","function":{"name":"get_weather","parameters":{"type":"object",
      "properties":{"location":{"type":"string"},"unit":{"type":"string","enum":["celsius","fahrenheit"]}},
      "required":["location"]}}},
    {"type":"function","function":{"name":"search","parameters":{"type":"object",
      "properties":{"query":{"type":"string"},"num_results":{"type":"integer"}},"required":["query"]}}},
    {"type":"function","function":{"name":"set_config","parameters":{"type":"object",
      "properties":{"options":{"type":"object"},"enabled":{"type":"boolean"},"ratio":{"type":"number"},
        "tags":{"type":"array"},"mode":{"anyOf":[{"type":"integer"},{"type":"string"}]}}}}},
    {"type":"function","function":{"name":"ping","parameters":{"type":"object","properties":{}}}}
  ])");
}

ParserOptions opts(bool thinking, json tools = test_tools(), uint64_t seed = 42) {
  return ParserOptions{.start_in_reasoning = thinking, .tools = std::move(tools), .id_seed = seed};
}

struct ParseRun {
  ParsedMessage msg;
  std::vector<Delta> deltas;
};

// Feeds `text` cut at `cuts` (sorted offsets), then finish().
ParseRun run_cuts(std::string_view text, const std::vector<size_t>& cuts, const ParserOptions& o,
                  bool eos = true) {
  OutputParser p(o);
  ParseRun r;
  size_t prev = 0;
  auto take = [&](std::vector<Delta> d) { r.deltas.insert(r.deltas.end(), d.begin(), d.end()); };
  for (size_t c : cuts) {
    take(p.push(text.substr(prev, c - prev)));
    prev = c;
  }
  take(p.push(text.substr(prev)));
  take(p.finish(eos));
  r.msg = p.result();
  return r;
}

ParsedMessage parse(std::string_view text, const ParserOptions& o, bool eos = true) {
  return run_cuts(text, {}, o, eos).msg;
}

// The message a streaming client would assemble from the deltas.
ParsedMessage rebuild(const std::vector<Delta>& deltas) {
  ParsedMessage m;
  for (const Delta& d : deltas) {
    switch (d.kind) {
      case Delta::Kind::Reasoning:
        m.reasoning += d.text;
        break;
      case Delta::Kind::Content:
        m.content += d.text;
        break;
      case Delta::Kind::ToolCallStart:
        EXPECT_EQ(d.index, static_cast<int>(m.tool_calls.size()));
        m.tool_calls.push_back(ParsedToolCall{.id = d.id, .name = d.name});
        break;
      case Delta::Kind::ToolCallArgs:
        EXPECT_GE(d.index, 0);
        EXPECT_LT(d.index, static_cast<int>(m.tool_calls.size()));
        if (d.index >= 0 && d.index < static_cast<int>(m.tool_calls.size()))
          m.tool_calls[d.index].arguments += d.text;
        break;
    }
  }
  return m;
}

bool has_issue(const ParsedMessage& m, IssueKind k) {
  for (const auto& i : m.issues)
    if (i.kind == k) return true;
  return false;
}

std::string issue_list(const ParsedMessage& m) {
  std::string s;
  for (const auto& i : m.issues) s += std::string(issue_name(i.kind)) + ": " + i.detail + "\n";
  return s;
}

// The invariants the fuzzer also checks. `label` names the input in failure messages.
void check_invariants(std::string_view text, const ParserOptions& o, const ParseRun& one,
                      const ParseRun& cut, const std::string& label) {
  ASSERT_EQ(cut.msg, one.msg) << label;
  ParsedMessage re = rebuild(cut.deltas);
  EXPECT_EQ(re.reasoning, cut.msg.reasoning) << label;
  EXPECT_EQ(re.content, cut.msg.content) << label;
  EXPECT_EQ(re.tool_calls, cut.msg.tool_calls) << label;
  EXPECT_EQ(cut.msg.raw, text) << label;
  (void)o;
  bool bad_args = has_issue(one.msg, IssueKind::InvalidJsonArguments);
  for (const auto& c : one.msg.tool_calls) {
    if (bad_args) break;
    auto v = json::parse(c.arguments, nullptr, false);
    EXPECT_TRUE(v.is_object()) << label << " arguments: " << c.arguments;
  }
  // With nothing removed from the middle of the text, no marker can appear in it.
  bool removed = !one.msg.tool_calls.empty() || !one.msg.issues.empty();
  if (!removed) {
    for (std::string_view mk : {"<think>", "</think>", "<｜DSML｜", "</｜DSML｜", "<|DSML|",
                                "</|DSML|", "<｜end▁of▁sentence｜>"}) {
      EXPECT_EQ(one.msg.content.find(mk), std::string::npos) << label << " content leaks " << mk;
      EXPECT_EQ(one.msg.reasoning.find(mk), std::string::npos)
          << label << " reasoning leaks " << mk;
    }
  }
}

// Every single cut, byte by byte, and random "token" cuts of 1-8 bytes.
void check_all_splits(const std::string& text, const ParserOptions& o, const std::string& label,
                      bool eos = true) {
  ParseRun one = run_cuts(text, {}, o, eos);
  for (size_t i = 0; i <= text.size(); ++i) {
    check_invariants(text, o, one, run_cuts(text, {i}, o, eos),
                     label + " cut@" + std::to_string(i));
    if (::testing::Test::HasFatalFailure()) return;
  }
  std::vector<size_t> every;
  for (size_t i = 1; i < text.size(); ++i) every.push_back(i);
  check_invariants(text, o, one, run_cuts(text, every, o, eos), label + " bytewise");
  std::mt19937 rng(1234);
  for (int t = 0; t < 30; ++t) {
    std::vector<size_t> cuts;
    for (size_t i = 1 + rng() % 8; i < text.size(); i += 1 + rng() % 8) cuts.push_back(i);
    check_invariants(text, o, one, run_cuts(text, cuts, o, eos), label + " random");
    if (::testing::Test::HasFatalFailure()) return;
  }
}

// ---- DeepSeek's vectors ---------------------------------------------------------------------

struct Completion {
  std::string text;
  bool thinking = false;
  json tools;
};

// Any `tools` array in a test input (top level or on a message).
json find_tools(const json& j) {
  if (j.is_object()) {
    if (j.contains("tools") && j["tools"].is_array()) return j["tools"];
    for (const auto& [k, v] : j.items()) {
      json t = find_tools(v);
      if (!t.is_null()) return t;
    }
  }
  if (j.is_array())
    for (const auto& v : j) {
      json t = find_tools(v);
      if (!t.is_null()) return t;
    }
  return nullptr;
}

// The completions in test_output_N.txt: from each `<｜Assistant｜>` to the next `<｜User｜>`.
std::vector<Completion> completions(int n) {
  auto dir = test::source_dir() / "tests/fixtures/encoding";
  std::string prompt = test::read_file(dir / fmt::format("test_output_{}.txt", n));
  json tools = find_tools(json::parse(test::read_file(dir / fmt::format("test_input_{}.json", n))));
  const std::string a = "<｜Assistant｜>", u = "<｜User｜>";
  std::vector<Completion> out;
  for (size_t p = prompt.find(a); p != std::string::npos; p = prompt.find(a, p)) {
    p += a.size();
    size_t end = prompt.find(u, p);
    std::string t = prompt.substr(p, end == std::string::npos ? std::string::npos : end - p);
    Completion c{.tools = tools.is_null() ? json::array() : tools};
    if (t.starts_with("<think>")) {
      c.thinking = true;
      t.erase(0, 7);
    } else if (t.starts_with("</think>")) {
      t.erase(0, 8);
    }
    c.text = t;
    out.push_back(c);
  }
  return out;
}

TEST(OutputParserVectors, Case1ToolCallTurn) {
  auto cs = completions(1);
  ASSERT_EQ(cs.size(), 2u);
  ASSERT_TRUE(cs[0].thinking);
  ParsedMessage m = parse(cs[0].text, opts(true, cs[0].tools));
  EXPECT_EQ(m.reasoning,
            "The user wants to know the weather in Beijing. I should use the get_weather tool.");
  EXPECT_EQ(m.content, "");
  ASSERT_EQ(m.tool_calls.size(), 1u);
  EXPECT_EQ(m.tool_calls[0].name, "get_weather");
  EXPECT_EQ(json::parse(m.tool_calls[0].arguments),
            json::parse(R"({"location": "Beijing", "unit": "celsius"})"));
  EXPECT_EQ(m.tool_calls[0].arguments, R"({"location":"Beijing","unit":"celsius"})");
  EXPECT_EQ(m.tool_calls[0].id, make_call_id(42, 0));
  EXPECT_TRUE(m.issues.empty()) << issue_list(m);
  EXPECT_TRUE(m.eos_seen);
  EXPECT_TRUE(m.reasoning_closed);
}

TEST(OutputParserVectors, Case1AnswerTurn) {
  auto cs = completions(1);
  ParsedMessage m = parse(cs[1].text, opts(true, cs[1].tools));
  EXPECT_EQ(m.reasoning, "Got the weather data. Let me format a nice response.");
  EXPECT_NE(m.content.find("22°C"), std::string::npos);
  EXPECT_EQ(m.content,
            "The weather in Beijing is currently sunny with a temperature of 22°C and 45% "
            "humidity.");
  EXPECT_TRUE(m.tool_calls.empty());
  EXPECT_TRUE(m.issues.empty()) << issue_list(m);
}

TEST(OutputParserVectors, Case2LastTurn) {
  auto cs = completions(2);
  ASSERT_EQ(cs.size(), 2u);
  ParsedMessage first = parse(cs[0].text, opts(cs[0].thinking));
  EXPECT_EQ(first.content, "Hi there! How can I help you?");
  ParsedMessage m = parse(cs[1].text, opts(true));
  EXPECT_EQ(m.reasoning, "The user asks about the capital of France. It is Paris.");
  EXPECT_EQ(m.content, "The capital of France is Paris.");
  EXPECT_TRUE(m.issues.empty()) << issue_list(m);
}

TEST(OutputParserVectors, Case3SearchCallInChinese) {
  auto cs = completions(3);
  ASSERT_GE(cs.size(), 2u);
  ParsedMessage m = parse(cs[0].text, opts(true, cs[0].tools));
  EXPECT_EQ(m.reasoning, "用户想知道小柴胡冲剂和布洛芬能否一起服用。");
  ASSERT_EQ(m.tool_calls.size(), 1u);
  EXPECT_EQ(m.tool_calls[0].name, "search");
  EXPECT_EQ(json::parse(m.tool_calls[0].arguments)["queries"], "小柴胡冲剂 布洛芬 相互作用 一起吃");
  EXPECT_TRUE(m.issues.empty()) << issue_list(m);
}

TEST(OutputParserVectors, EveryCompletionEveryCut) {
  for (int n = 1; n <= 4; ++n) {
    auto cs = completions(n);
    for (size_t i = 0; i < cs.size(); ++i)
      check_all_splits(cs[i].text, opts(cs[i].thinking, cs[i].tools),
                       fmt::format("case {} turn {}", n, i));
  }
}

// ---- rules ----------------------------------------------------------------------------------

std::string param(const std::string& name, const std::string& value, bool str = true) {
  return "<｜DSML｜parameter name=\"" + name + "\" string=\"" + (str ? "true" : "false") + "\">" +
         value + "</｜DSML｜parameter>\n";
}
std::string invoke(const std::string& name, const std::string& body) {
  return "<｜DSML｜invoke name=\"" + name + "\">\n" + body + "</｜DSML｜invoke>\n";
}
std::string block(const std::string& invokes) {
  return "\n\n<｜DSML｜tool_calls>\n" + invokes + "</｜DSML｜tool_calls>";
}

TEST(OutputParser, StringParametersStreamIncrementally) {
  OutputParser p(opts(false));
  std::vector<Delta> d = p.push(
      "\n\n<｜DSML｜tool_calls>\n<｜DSML｜invoke name=\"get_weather\">\n"
      "<｜DSML｜parameter name=\"location\" string=\"true\">Bei");
  ASSERT_EQ(d.size(), 2u);
  EXPECT_EQ(d[0].kind, Delta::Kind::ToolCallStart);
  EXPECT_EQ(d[0].name, "get_weather");
  EXPECT_EQ(d[0].id, make_call_id(42, 0));
  EXPECT_EQ(d[1].kind, Delta::Kind::ToolCallArgs);
  EXPECT_EQ(d[1].text, "{\"location\":\"Bei");
  d = p.push("\"jing\"\n</｜DSML｜para");
  ASSERT_EQ(d.size(), 1u);
  EXPECT_EQ(d[0].text, "\\\"jing\\\"\\n");
  d = p.push("meter>\n</｜DSML｜invoke>\n</｜DSML｜tool_calls>");
  ASSERT_EQ(d.size(), 1u);
  EXPECT_EQ(d[0].text, "\"}");
  p.finish(true);
  EXPECT_EQ(json::parse(p.result().tool_calls[0].arguments)["location"], "Bei\"jing\"\n");
  EXPECT_TRUE(p.result().issues.empty()) << issue_list(p.result());
}

TEST(OutputParser, RawStringValuesAreEscaped) {
  std::string v = "say \"hi\" \\ <b>a<c</b>\n\ttab <think> <｜User｜> 中文";
  ParsedMessage m = parse(block(invoke("search", param("query", v))), opts(false));
  ASSERT_EQ(m.tool_calls.size(), 1u);
  EXPECT_EQ(json::parse(m.tool_calls[0].arguments)["query"], v);
  EXPECT_TRUE(m.issues.empty()) << issue_list(m);
}

TEST(OutputParser, NonStringValuesAreCoercedBySchema) {
  std::string body = param("options", "{\"depth\": 2, \"names\": [\"a\"]}", false) +
                     param("enabled", "true", false) + param("ratio", "0.5", false) +
                     param("tags", "[1, \"x\"]", false) + param("mode", "7") +
                     param("unknown_key", "null", false);
  ParsedMessage m = parse(block(invoke("set_config", body)), opts(false));
  ASSERT_EQ(m.tool_calls.size(), 1u);
  EXPECT_EQ(m.tool_calls[0].arguments,
            R"({"options":{"depth":2,"names":["a"]},"enabled":true,"ratio":0.5,"tags":[1,"x"],)"
            R"("mode":"7","unknown_key":null})");
  EXPECT_TRUE(m.issues.empty()) << issue_list(m);
  // string="true" where the schema wants an integer; string="false" where it wants a string.
  m = parse(block(invoke("search", param("query", "42", false) + param("num_results", " 5 "))),
            opts(false));
  EXPECT_EQ(m.tool_calls[0].arguments, R"({"query":"42","num_results":5})");
}

TEST(OutputParser, InvalidJsonValueIsKeptAsStringAndFlagged) {
  ParsedMessage m =
      parse(block(invoke("set_config", param("enabled", "yes please", false))), opts(false));
  EXPECT_EQ(m.tool_calls[0].arguments, R"({"enabled":"yes please"})");
  ASSERT_EQ(m.issues.size(), 1u);
  EXPECT_EQ(m.issues[0].kind, IssueKind::InvalidJsonValue);
  EXPECT_EQ(m.issues[0].raw, "yes please");
}

TEST(OutputParser, TextBeforeBlockIsContentAndCallsGetIndices) {
  ParsedMessage m =
      parse("Let me check both.\n\n<｜DSML｜tool_calls>\n" +
                invoke("get_weather", param("location", "Paris")) + invoke("ping", "") +
                invoke("search", param("query", "x") + param("num_results", "3", false)) +
                "</｜DSML｜tool_calls>" + kEos,
            opts(false, test_tools(), 9));
  EXPECT_EQ(m.content, "Let me check both.");
  ASSERT_EQ(m.tool_calls.size(), 3u);
  EXPECT_EQ(m.tool_calls[1].arguments, "{}");
  EXPECT_EQ(m.tool_calls[2].arguments, R"({"query":"x","num_results":3})");
  for (int i = 0; i < 3; ++i) EXPECT_EQ(m.tool_calls[i].id, make_call_id(9, i));
  EXPECT_TRUE(m.issues.empty()) << issue_list(m);
}

TEST(OutputParser, AsciiBarsAreAccepted) {
  std::string fw = block(invoke("search", param("query", "x")));
  std::string ascii = fw;
  for (size_t p; (p = ascii.find("｜")) != std::string::npos;) ascii.replace(p, 3, "|");
  ParsedMessage a = parse(ascii, opts(false)), b = parse(fw, opts(false));
  EXPECT_EQ(a.tool_calls, b.tool_calls);
  EXPECT_EQ(a.content, "");
  EXPECT_TRUE(a.issues.empty()) << issue_list(a);
}

TEST(OutputParser, BlockInsideReasoningEndsReasoning) {
  ParsedMessage m =
      parse("I need the weather." + block(invoke("get_weather", param("location", "Oslo"))) + kEos,
            opts(true));
  EXPECT_EQ(m.reasoning, "I need the weather.");
  EXPECT_EQ(m.content, "");
  ASSERT_EQ(m.tool_calls.size(), 1u);
  EXPECT_TRUE(m.reasoning_closed);
  EXPECT_TRUE(m.issues.empty()) << issue_list(m);
  // A `</think>` after such a block is stray markup, not content.
  m = parse("r" + block(invoke("ping", "")) + "</think>" + kEos, opts(true));
  EXPECT_EQ(m.content, "");
  EXPECT_TRUE(has_issue(m, IssueKind::StrayMarker));
}

TEST(OutputParser, InvokeWithoutWrapperImpliesBlock) {
  ParsedMessage m = parse("ok " + invoke("ping", "") + kEos, opts(false));
  EXPECT_EQ(m.content, "ok");
  ASSERT_EQ(m.tool_calls.size(), 1u);
  EXPECT_TRUE(has_issue(m, IssueKind::UnterminatedToolCalls));
}

TEST(OutputParser, NoThinkEndBeforeEos) {
  // The model ended (EOS) while reasoning: kept as reasoning, flagged for the server.
  ParsedMessage m = parse("The answer is 4." + kEos, opts(true));
  EXPECT_EQ(m.reasoning, "The answer is 4.");
  EXPECT_EQ(m.content, "");
  ASSERT_EQ(m.issues.size(), 1u);
  EXPECT_EQ(m.issues[0].kind, IssueKind::ReasoningNotClosed);
  m = parse("The answer is 4.", opts(true), /*eos=*/true);
  EXPECT_TRUE(has_issue(m, IssueKind::ReasoningNotClosed));
  // Cut by max_tokens: reasoning so far, empty content, nothing to flag.
  m = parse("The answer is", opts(true), /*eos=*/false);
  EXPECT_EQ(m.reasoning, "The answer is");
  EXPECT_TRUE(m.issues.empty()) << issue_list(m);
}

TEST(OutputParser, ThinkTagsOutOfPlace) {
  ParsedMessage m = parse("<think>hmm</think>answer", opts(false));
  EXPECT_EQ(m.reasoning, "hmm");
  EXPECT_EQ(m.content, "answer");
  EXPECT_TRUE(m.issues.empty()) << issue_list(m);
  m = parse("a<think>b</think>c</think>d", opts(true));
  EXPECT_EQ(m.reasoning, "ab");
  EXPECT_EQ(m.content, "cd");
  ASSERT_EQ(m.issues.size(), 2u);
  EXPECT_EQ(m.issues[0].kind, IssueKind::StrayMarker);
  EXPECT_EQ(m.issues[0].raw, "<think>");
  EXPECT_EQ(m.issues[1].raw, "</think>");
}

TEST(OutputParser, SpecialTokensAndTextAfterEos) {
  ParsedMessage m = parse("a<｜User｜>b" + kEos + "junk", opts(false));
  EXPECT_EQ(m.content, "ab");
  ASSERT_EQ(m.issues.size(), 2u);
  EXPECT_EQ(m.issues[0].kind, IssueKind::StrayMarker);
  EXPECT_EQ(m.issues[1].kind, IssueKind::TextAfterEos);
  EXPECT_EQ(m.issues[1].raw, "junk");
}

TEST(OutputParser, HoldsBackPossibleMarkers) {
  OutputParser p(opts(false));
  auto d = p.push("Hello <｜DS");
  ASSERT_EQ(d.size(), 1u);
  EXPECT_EQ(d[0].text, "Hello");
  d = p.push("ML｜tool_calls>\n");
  EXPECT_TRUE(d.empty());
  d = p.push("</｜DSML｜tool_calls> and a < b, x<y, <thi");
  ASSERT_EQ(d.size(), 1u);
  EXPECT_EQ(d[0].text, "and a < b, x<y,");
  d = p.finish(true);
  ASSERT_EQ(d.size(), 1u);
  EXPECT_EQ(d[0].text, " <thi");
  EXPECT_EQ(p.result().content, "Helloand a < b, x<y, <thi");
}

TEST(OutputParser, TruncatedMarkerAtEndIsFlaggedNotContent) {
  ParsedMessage m = parse("Answer <｜DSML｜too", opts(false), false);
  EXPECT_EQ(m.content, "Answer ");
  ASSERT_EQ(m.issues.size(), 1u);
  EXPECT_EQ(m.issues[0].kind, IssueKind::TruncatedMarker);
  EXPECT_EQ(m.issues[0].raw, "<｜DSML｜too");
}

TEST(OutputParser, WrapperParameterIsUnwrapped) {
  ParsedMessage m = parse(
      block(invoke("search", param("arguments", R"({"query": "x", "num_results": 3})", false))),
      opts(false));
  EXPECT_EQ(m.tool_calls[0].arguments, R"({"query":"x","num_results":3})");
  m = parse(block(invoke("search",
                         param("input", R"({"query": "y"})") + param("num_results", "2", false))),
            opts(false));
  EXPECT_EQ(m.tool_calls[0].arguments, R"({"query":"y","num_results":2})");
  // Keys that are not the tool's parameters: not a wrapper, kept as is.
  m = parse(block(invoke("search", param("arguments", R"({"foo": 1})", false))), opts(false));
  EXPECT_EQ(m.tool_calls[0].arguments, R"({"arguments":{"foo":1}})");
  EXPECT_TRUE(m.issues.empty()) << issue_list(m);
}

TEST(OutputParser, JsonObjectInvokeBody) {
  ParsedMessage m =
      parse(block(invoke("search", "{\"query\": \"x\", \"num_results\": 2}\n")), opts(false));
  EXPECT_EQ(m.tool_calls[0].arguments, R"({"query":"x","num_results":2})");
  EXPECT_TRUE(m.issues.empty()) << issue_list(m);
  m = parse(block(invoke("search", "{\"arguments\": {\"query\": \"z\"}}")), opts(false));
  EXPECT_EQ(m.tool_calls[0].arguments, R"({"query":"z"})");
  m = parse(block(invoke("search", "{\"query\": \"x\",\n")), opts(false));
  EXPECT_EQ(m.tool_calls[0].arguments, "{\"query\": \"x\",");
  ASSERT_EQ(m.issues.size(), 1u);
  EXPECT_EQ(m.issues[0].kind, IssueKind::InvalidJsonArguments);
}

TEST(OutputParser, DuplicateParameterKeepsFirst) {
  ParsedMessage m =
      parse(block(invoke("search", param("query", "a") + param("query", "b"))), opts(false));
  EXPECT_EQ(m.tool_calls[0].arguments, R"({"query":"a"})");
  ASSERT_EQ(m.issues.size(), 1u);
  EXPECT_EQ(m.issues[0].kind, IssueKind::DuplicateParameter);
  EXPECT_EQ(m.issues[0].raw, "b");
}

TEST(OutputParser, UnterminatedBlockIsClosedAndFlagged) {
  std::string text = "Sure.\n\n<｜DSML｜tool_calls>\n<｜DSML｜invoke name=\"search\">\n" +
                     param("num_results", "3", false) +
                     "<｜DSML｜parameter name=\"query\" string=\"true\">wea";
  ParsedMessage m = parse(text, opts(false), /*eos=*/false);
  EXPECT_EQ(m.content, "Sure.");
  ASSERT_EQ(m.tool_calls.size(), 1u);
  EXPECT_EQ(m.tool_calls[0].arguments, R"({"num_results":3,"query":"wea"})");
  ASSERT_EQ(m.issues.size(), 3u) << issue_list(m);
  EXPECT_EQ(m.issues[0].kind, IssueKind::UnclosedParameter);
  EXPECT_EQ(m.issues[1].kind, IssueKind::UnclosedInvoke);
  EXPECT_EQ(m.issues[2].kind, IssueKind::UnterminatedToolCalls);
  EXPECT_EQ(m.issues[2].raw, text.substr(7));
  EXPECT_EQ(m.raw, text);
  // Ended by EOS inside the block: the same, the raw block stops before the EOS.
  m = parse(text + kEos, opts(false));
  EXPECT_EQ(m.issues.back().raw, text.substr(7));
}

TEST(OutputParser, MalformedStructureIsFlaggedNeverContent) {
  // No tool name; stray text between tags; a parameter without a name; an unknown tool.
  std::string text =
      block("<｜DSML｜invoke>\n" + param("q", "1") + "</｜DSML｜invoke>\n" + "oops\n" +
            invoke("nope",
                   "<｜DSML｜parameter string=\"true\">v"
                   "</｜DSML｜parameter>\n"));
  ParsedMessage m = parse(text, opts(false));
  EXPECT_EQ(m.content, "");
  ASSERT_EQ(m.tool_calls.size(), 1u);
  EXPECT_EQ(m.tool_calls[0].name, "nope");
  EXPECT_EQ(m.tool_calls[0].arguments, "{}");
  std::vector<IssueKind> kinds;
  for (const auto& i : m.issues) kinds.push_back(i.kind);
  EXPECT_EQ(kinds, (std::vector<IssueKind>{IssueKind::InvalidInvoke, IssueKind::StrayTextInBlock,
                                           IssueKind::UnknownTool, IssueKind::InvalidParameter}))
      << issue_list(m);
  EXPECT_NE(m.issues[0].raw.find("<｜DSML｜invoke>"), std::string::npos);
  EXPECT_EQ(m.issues[1].raw, "oops");
}

TEST(OutputParser, MissingCloseTagsAreRepaired) {
  std::string text =
      "\n\n<｜DSML｜tool_calls>\n<｜DSML｜invoke name=\"search\">\n"
      "<｜DSML｜parameter name=\"query\" string=\"true\">a\n"
      "<｜DSML｜invoke name=\"ping\">\n</｜DSML｜tool_calls>";
  ParsedMessage m = parse(text, opts(false));
  ASSERT_EQ(m.tool_calls.size(), 2u);
  EXPECT_EQ(m.tool_calls[0].arguments, "{\"query\":\"a\\n\"}");
  EXPECT_EQ(m.tool_calls[1].arguments, "{}");
  EXPECT_TRUE(has_issue(m, IssueKind::UnclosedParameter));
  EXPECT_TRUE(has_issue(m, IssueKind::UnclosedInvoke));
}

TEST(OutputParser, ContentAfterBlock) {
  ParsedMessage m =
      parse("Hi." + block(invoke("ping", "")) + "\n\nDone." + block(invoke("ping", "")) + kEos,
            opts(false));
  EXPECT_EQ(m.content, "Hi.Done.");
  EXPECT_EQ(m.tool_calls.size(), 2u);
}

TEST(OutputParser, Utf8SplitAndInvalidBytes) {
  std::string text = "r\xC3\xA9sum\xC3\xA9 \xFF ok";
  ParsedMessage m = run_cuts(text, {2}, opts(false)).msg;
  EXPECT_EQ(m.content, "résumé \xEF\xBF\xBD ok");
  EXPECT_EQ(m.raw, text);
}

TEST(OutputParser, CallIds) {
  std::string a = make_call_id(1, 0);
  EXPECT_EQ(a.size(), 29u);
  EXPECT_TRUE(a.starts_with("call_"));
  EXPECT_EQ(a.find_first_not_of("0123456789abcdef", 5), std::string::npos);
  EXPECT_EQ(a, make_call_id(1, 0));
  EXPECT_NE(a, make_call_id(1, 1));
  EXPECT_NE(a, make_call_id(2, 0));
}

TEST(OutputParser, PushAfterFinishIsAnError) {
  OutputParser p(opts(false));
  p.finish(true);
  EXPECT_TRUE(p.finish(true).empty());
  EXPECT_NE(test::error_of([&] { p.push("x"); }).find("after finish"), std::string::npos);
}

// ---- the streaming property -----------------------------------------------------------------

std::vector<std::pair<std::string, bool>> own_completions() {
  return {
      {"Thinking about it.</think>\n\nThe answer is **42**.\n" + kEos, true},
      {"Need data." + block(invoke("get_weather", param("location", "São Paulo, \"SP\"\n") +
                                                      param("unit", "celsius"))),
       true},
      {"plan</think>Calling.\n\n<|DSML|tool_calls>\n<|DSML|invoke name=\"search\">\n"
       "<|DSML|parameter name=\"num_results\" string=\"false\">5</|DSML|parameter>\n"
       "</|DSML|invoke>\n</|DSML|tool_calls>" +
           kEos,
       true},
      {block(invoke("set_config", param("options", "{\"a\": [1, {\"b\": null}]}", false) +
                                      param("enabled", "nope", false) + param("mode", "3")) +
             invoke("search", "{\"arguments\": {\"query\": \"q\"}}\n") +
             invoke("search", param("arguments", "{\"query\": \"w\"}", false)) +
             invoke("search", param("query", "a") + param("query", "b"))) +
           kEos,
       false},
      {"<think>x</think>a < b <thi <｜User｜> c</think> <｜DS" + kEos + "tail", false},
      {"reasoning only, never closed" + kEos, true},
      {"cut <｜DSML｜tool_calls>\n<｜DSML｜invoke name=\"search\">\n<｜DSML｜parameter "
       "name=\"query\" string=\"true\">half a val",
       false},
      {block("junk <｜DSML｜invoke>" + param("x", "1") + "</｜DSML｜invoke>\n" +
             invoke("ping", "<｜DSML｜parameter string=\"true\">v</｜DSML｜parameter>\n")),
       false},
      {"bad tag <｜DSML｜invoke name=\"x\"<b> and \xE4\xB8\xAD\xFF\xE6\x96", false},
      {"ok " + invoke("ping", "") + "</think>" + block("{\"stray\": 1}"), true},
  };
}

TEST(OutputParserSplit, OwnCompletionsEveryCut) {
  auto cs = own_completions();
  for (size_t i = 0; i < cs.size(); ++i) {
    check_all_splits(cs[i].first, opts(cs[i].second), fmt::format("own {}", i));
    check_all_splits(cs[i].first, opts(cs[i].second), fmt::format("own {} (length)", i), false);
  }
}

// Random documents built from markup and text fragments, cut at random points.
TEST(OutputParserSplit, RandomFragmentDocuments) {
  const std::vector<std::string> frags = {
      "<think>",
      "</think>",
      kEos,
      "<｜User｜>",
      "<｜DSML｜tool_calls>",
      "</｜DSML｜tool_calls>",
      "<|DSML|tool_calls>",
      "<｜DSML｜invoke name=\"search\">",
      "<｜DSML｜invoke name=\"zz\">",
      "</｜DSML｜invoke>",
      "<｜DSML｜parameter name=\"query\" string=\"true\">",
      "<｜DSML｜parameter name=\"num_results\" string=\"false\">",
      "<｜DSML｜parameter name=\"arguments\" string=\"false\">",
      "</｜DSML｜parameter>",
      "<｜DSML｜invoke>",
      "{\"query\": \"j\"}",
      "\n",
      "\n\n",
      " ",
      "text",
      "<",
      "<｜",
      "<｜DS",
      "\"q\\",
      "12",
      "中",
      "\xE4",
      "\xFF",
      "}",
      "{",
      "<thi",
      "nk>",
      "ML｜"};
  std::mt19937 rng(77);
  for (int doc = 0; doc < 300; ++doc) {
    std::string text;
    int n = 1 + rng() % 14;
    for (int k = 0; k < n; ++k) text += frags[rng() % frags.size()];
    ParserOptions o = opts(rng() % 2 == 0);
    bool eos = rng() % 2 == 0;
    ParseRun one = run_cuts(text, {}, o, eos);
    for (int t = 0; t < 12; ++t) {
      std::vector<size_t> cuts;
      for (size_t i = 1 + rng() % 6; i < text.size(); i += 1 + rng() % 6) cuts.push_back(i);
      check_invariants(text, o, one, run_cuts(text, cuts, o, eos), "doc " + std::to_string(doc));
      if (HasFatalFailure()) return;
    }
  }
}

}  // namespace
}  // namespace dsv4::chat
