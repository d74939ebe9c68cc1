// Incremental parser of DeepSeek-V4 completions into an OpenAI assistant message: reasoning,
// content and tool calls (from DSML `tool_calls` blocks). Text arrives in pieces cut anywhere;
// push() returns the deltas it can emit so far, holding back any suffix that could still become a
// marker, and finish() flushes the rest. The result is, by construction, the concatenation of the
// deltas, and it does not depend on where the text was cut. docs/output-parser.md has the states
// and the rule for every edge case.
#pragma once

#include <nlohmann/json.hpp>

#include <cstddef>
#include <cstdint>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "chat/arguments_json.h"
#include "chat/dsml.h"
#include "chat/utf8_stream.h"

namespace dsv4::chat {

struct ParserOptions {
  // Thinking mode: the prompt already ends with `<think>`, so output starts as reasoning.
  bool start_in_reasoning = false;
  // The request's OpenAI `tools` array; its schemas drive value coercion.
  nlohmann::json tools;
  // Call ids are derived from this and the call's index (see make_call_id).
  uint64_t id_seed = 0;
};

struct Delta {
  enum class Kind { Reasoning, Content, ToolCallStart, ToolCallArgs };
  Kind kind = Kind::Content;
  int index = -1;    // tool calls only
  std::string text;  // reasoning/content text, or an arguments fragment
  std::string id;    // ToolCallStart only
  std::string name;  // ToolCallStart only
  bool operator==(const Delta&) const = default;
};

struct ParsedToolCall {
  std::string id;
  std::string name;
  std::string arguments;  // JSON text (see IssueKind::InvalidJsonArguments for the exception)
  bool operator==(const ParsedToolCall&) const = default;
};

enum class IssueKind {
  StrayMarker,            // markup out of place (a second `<think>`, `</think>` in content, a
                          // special token, a DSML tag outside a block): swallowed
  MalformedTag,           // a DSML tag cut before its '>': swallowed
  TruncatedMarker,        // the output ended inside a DSML tag or special token: swallowed
  StrayTextInBlock,       // text between DSML tags that belongs to no parameter: swallowed
  InvalidInvoke,          // an invoke tag without a name: the whole invoke is swallowed
  InvalidParameter,       // a parameter tag without a name: the parameter is swallowed
  DuplicateParameter,     // a parameter name repeated in one invoke: the later value is swallowed
  InvalidJsonValue,       // string="false" text that is not JSON: kept as a JSON string
  InvalidJsonArguments,   // an invoke body that is not a JSON object: passed on as raw arguments
  UnknownTool,            // a call to a tool the request did not offer: kept
  UnclosedParameter,      // a parameter ended by another tag or by the end: closed there
  UnclosedInvoke,         // an invoke ended by another tag or by the end: closed there
  UnterminatedToolCalls,  // the output ended inside a tool_calls block
  TextAfterEos,           // text after `<｜end▁of▁sentence｜>`: ignored
  ReasoningNotClosed,     // the model stopped (EOS) while still reasoning, without `</think>`
};
std::string_view issue_name(IssueKind kind);

struct ParseIssue {
  IssueKind kind;
  std::string detail;  // one line for logs and error messages
  std::string raw;     // the text concerned, verbatim, so nothing is silently lost
  size_t offset = 0;   // where it starts in the (UTF-8-sanitised) output
  bool operator==(const ParseIssue&) const = default;
};

struct ParsedMessage {
  std::string reasoning;
  std::string content;
  std::vector<ParsedToolCall> tool_calls;
  std::vector<ParseIssue> issues;
  std::string raw;                // every byte pushed, for a server that wants to return or log it
  bool reasoning_closed = false;  // `</think>` (or a tool block) ended the reasoning
  bool eos_seen = false;          // the text itself contained the EOS marker
  bool operator==(const ParsedMessage&) const = default;
};

// `call_` + 24 hex digits, a function of (seed, index) only.
std::string make_call_id(uint64_t seed, int index);

class OutputParser {
 public:
  explicit OutputParser(ParserOptions options);

  std::vector<Delta> push(std::string_view text);
  // End of output: `stopped_by_eos` is true when generation ended on EOS (the token may or may not
  // be in the text), false for max_tokens, stop strings or cancellation. Open blocks are closed and
  // flagged. Calling it twice is harmless; push() after it throws dsv4::Error.
  std::vector<Delta> finish(bool stopped_by_eos);

  const ParsedMessage& result() const { return result_; }

 private:
  enum class State {
    Reasoning,
    Content,
    AfterBlock,  // after `</tool_calls>`: whitespace is dropped, other text is content again
    Block,       // inside tool_calls, between invokes
    Invoke,      // inside an invoke, between parameters
    Param,       // inside a parameter value
    InvokeJson,  // an invoke whose body is one JSON object
    SkipInvoke,  // an invalid invoke, swallowed up to its close
    SkipParam,   // an invalid parameter, swallowed up to its close
    Done,        // after EOS
  };
  struct Call {
    int index = 0;
    std::string name;
    bool opened = false;    // `{` emitted
    int members = 0;        // members emitted
    bool complete = false;  // arguments fully emitted (JSON body)
    std::set<std::string, std::less<>> keys;
  };
  struct Param {
    enum class Mode { Stream, Buffer, Wrapper, Duplicate } mode = Mode::Buffer;
    std::string name;
    std::optional<bool> string_attr;
    std::string value;  // everything but Stream
    size_t offset = 0;
  };
  // One step of scanning: a run of text, a marker, or "wait for more".
  struct Scan {
    enum class What { Text, Marker, NeedMore } what = What::NeedMore;
    std::string_view text;
    bool truncated = false;  // Text: a partial marker the end of output cut off
    dsml::Marker marker;
  };

  Scan scan(bool at_end) const;
  void run(bool at_end);
  void step_text(const Scan& s);
  void text_marker(const dsml::Marker& m);
  void step_block(const Scan& s);
  void block_marker(const dsml::Marker& m);
  void step_param(const Scan& s);
  void step_collect(const Scan& s);
  void end_of_output(bool stopped_by_eos);

  void emit_text(std::string_view t);
  void emit(Delta::Kind kind, std::string_view text, int index = -1);
  void emit_args(std::string_view fragment);
  std::string member_prefix(std::string_view key);
  void open_block(size_t at);
  void start_invoke(const dsml::Marker& m);
  void start_param(const dsml::Marker& m);
  void close_param();
  void close_call();
  void finish_json_body();
  void finish_skip(bool invoke);
  void flush_stray();
  void see_eos(size_t at);
  void issue(IssueKind kind, std::string detail, std::string raw, size_t offset);

  ParserOptions options_;
  ToolSchemas schemas_;
  Utf8Stream utf8_;
  std::string text_;  // all sanitised output so far; markers are matched in place
  size_t pos_ = 0;    // first byte not yet consumed
  State state_;
  State ended_in_ = State::Content;  // the state EOS was seen in
  size_t eos_at_ = 0;
  std::string pending_ws_;  // trailing whitespace of reasoning/content, held back
  bool content_started_ = false;
  size_t block_start_ = 0;
  std::string stray_;
  size_t stray_offset_ = 0;
  std::string collected_;  // InvokeJson body, or the raw text of a skipped invoke/parameter
  size_t collected_offset_ = 0;
  std::optional<Call> call_;
  std::optional<Param> param_;
  std::vector<Delta>* out_ = nullptr;
  bool finished_ = false;
  ParsedMessage result_;
};

}  // namespace dsv4::chat
