// libFuzzer target for the output parser. Input: a flags byte (bit 0: thinking mode, bit 1: the
// model stopped on EOS), a chunking seed byte, then the completion bytes. The completion is parsed
// in one piece and again in pieces of 1-16 bytes; the invariants below must hold for any input.
#include <nlohmann/json.hpp>

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>
#include <vector>

#include "chat/output_parser.h"

namespace {

using dsv4::chat::Delta;
using dsv4::chat::OutputParser;
using dsv4::chat::ParsedMessage;
using dsv4::chat::ParserOptions;

const nlohmann::json& tools() {
  static const nlohmann::json t = nlohmann::json::parse(R"([
    {"type":"function","function":{"name":"search","parameters":{"type":"object",
      "properties":{"query":{"type":"string"},"num_results":{"type":"integer"}}}}},
    {"type":"function","function":{"name":"set","parameters":{"type":"object",
      "properties":{"o":{"type":"object"},"b":{"type":"boolean"},
        "m":{"anyOf":[{"type":"integer"},{"type":"string"}]}}}}}])");
  return t;
}

void check(bool ok) {
  if (!ok) std::abort();
}

struct Parsed {
  ParsedMessage msg;
  std::vector<Delta> deltas;
};

Parsed run(std::string_view text, const ParserOptions& o, bool eos, uint32_t seed) {
  OutputParser p(o);
  Parsed r;
  auto take = [&](std::vector<Delta> d) { r.deltas.insert(r.deltas.end(), d.begin(), d.end()); };
  size_t i = 0;
  while (i < text.size()) {
    size_t n = seed == 0 ? text.size() : 1 + (seed >> 16) % 16;
    seed = seed * 1103515245u + 12345u;
    take(p.push(text.substr(i, n)));
    i += std::min(n, text.size() - i);
  }
  take(p.finish(eos));
  r.msg = p.result();
  return r;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 2) return 0;
  ParserOptions o{.start_in_reasoning = (data[0] & 1) != 0, .tools = tools(), .id_seed = 5};
  bool eos = (data[0] & 2) != 0;
  std::string_view text(reinterpret_cast<const char*>(data + 2), size - 2);

  Parsed one = run(text, o, eos, 0);
  Parsed cut = run(text, o, eos, data[1] + 1u);
  // Streaming and non-streaming agree, whatever the cuts.
  check(one.msg == cut.msg);
  check(one.msg.raw == text);

  // The deltas concatenate to the result.
  ParsedMessage re;
  for (const Delta& d : cut.deltas) {
    if (d.kind == Delta::Kind::Reasoning) re.reasoning += d.text;
    if (d.kind == Delta::Kind::Content) re.content += d.text;
    if (d.kind == Delta::Kind::ToolCallStart) {
      check(d.index == static_cast<int>(re.tool_calls.size()));
      re.tool_calls.push_back({d.id, d.name, ""});
    }
    if (d.kind == Delta::Kind::ToolCallArgs) {
      check(d.index >= 0 && d.index < static_cast<int>(re.tool_calls.size()));
      re.tool_calls[d.index].arguments += d.text;
    }
  }
  check(re.reasoning == cut.msg.reasoning && re.content == cut.msg.content &&
        re.tool_calls == cut.msg.tool_calls);

  // Arguments are a JSON object unless an issue says the model wrote something else.
  bool bad_args = false;
  for (const auto& i : one.msg.issues)
    bad_args |= i.kind == dsv4::chat::IssueKind::InvalidJsonArguments;
  if (!bad_args)
    for (const auto& c : one.msg.tool_calls)
      check(nlohmann::json::parse(c.arguments, nullptr, false).is_object());

  // Markup is never copied into text: with nothing removed from the middle of the completion,
  // no marker can be in it. (Removed markup can join literal text such as "<thi" + "nk>".)
  if (one.msg.tool_calls.empty() && one.msg.issues.empty()) {
    for (std::string_view mk : {"<think>", "</think>", "<｜DSML｜", "</｜DSML｜", "<|DSML|",
                                "</|DSML|", "<｜end▁of▁sentence｜>"}) {
      check(one.msg.content.find(mk) == std::string::npos);
      check(one.msg.reasoning.find(mk) == std::string::npos);
    }
  }
  return 0;
}
