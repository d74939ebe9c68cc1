#include "chat/encoder.h"

#include <algorithm>
#include <array>
#include <map>
#include <string_view>

#include "chat/python_json.h"
#include "util/error.h"

namespace dsv4::chat {

namespace {

constexpr std::string_view kBos = "<｜begin▁of▁sentence｜>";
constexpr std::string_view kEos = "<｜end▁of▁sentence｜>";
constexpr std::string_view kUser = "<｜User｜>";
constexpr std::string_view kAssistant = "<｜Assistant｜>";
constexpr std::string_view kLatestReminder = "<｜latest_reminder｜>";
constexpr std::string_view kThinkStart = "<think>";
constexpr std::string_view kThinkEnd = "</think>";

struct TaskToken {
  std::string_view task, token;
};
constexpr std::array<TaskToken, 6> kTaskTokens{{
    {"action", "<｜action｜>"},
    {"query", "<｜query｜>"},
    {"authority", "<｜authority｜>"},
    {"domain", "<｜domain｜>"},
    {"title", "<｜title｜>"},
    {"read_url", "<｜read_url｜>"},
}};

std::string_view task_token(const std::string& task) {
  for (const auto& t : kTaskTokens)
    if (t.task == task) return t.token;
  fail("unknown task '{}' (expected action, query, authority, domain, title or read_url)", task);
}

// The tools section, byte for byte as DeepSeek's TOOLS_TEMPLATE renders it.
std::string render_tools(const nlohmann::ordered_json& tools) {
  std::string schemas;
  for (const auto& t : tools) {
    if (!schemas.empty()) schemas += '\n';
    schemas += python_json_dumps(t);
  }
  return "## Tools\n\n"
         "You have access to a set of tools to help answer the user's question. You can invoke "
         "tools by writing a \"<｜DSML｜tool_calls>\" block like the following:\n\n"
         "<｜DSML｜tool_calls>\n"
         "<｜DSML｜invoke name=\"$TOOL_NAME\">\n"
         "<｜DSML｜parameter name=\"$PARAMETER_NAME\" string=\"true|false\">$PARAMETER_VALUE"
         "</｜DSML｜parameter>\n"
         "...\n"
         "</｜DSML｜invoke>\n"
         "<｜DSML｜invoke name=\"$TOOL_NAME2\">\n"
         "...\n"
         "</｜DSML｜invoke>\n"
         "</｜DSML｜tool_calls>\n\n"
         "String parameters should be specified as is and set `string=\"true\"`. For all other "
         "types (numbers, booleans, arrays, objects), pass the value in JSON format and set "
         "`string=\"false\"`.\n\n"
         "If thinking_mode is enabled (triggered by <think>), you MUST output your complete "
         "reasoning inside <think>...</think> BEFORE any tool calls or final response.\n\n"
         "Otherwise, output directly after </think> with tool calls or final response.\n\n"
         "### Available Tool Schemas\n\n" +
         schemas +
         "\n\nYou MUST strictly follow the above defined tool name and parameter schemas to "
         "invoke tool calls.\n";
}

std::string render_response_format(const nlohmann::ordered_json& rf) {
  return "## Response Format:\n\nYou MUST strictly adhere to the following schema to reply:\n" +
         python_json_dumps(rf);
}

// Tools and response format on a system/developer message, each after a blank line.
std::string render_attachments(const Message& m) {
  std::string out;
  if (m.tools.is_array() && !m.tools.empty()) out += "\n\n" + render_tools(m.tools);
  if (!m.response_format.is_null()) out += "\n\n" + render_response_format(m.response_format);
  return out;
}

// One DSML invoke: string values raw, everything else as Python JSON.
std::string render_tool_call(const ToolCall& tc) {
  std::string params;
  for (auto it = tc.arguments.begin(); it != tc.arguments.end(); ++it) {
    if (!params.empty()) params += '\n';
    bool is_str = it.value().is_string();
    params += "<｜DSML｜parameter name=\"" + it.key() + "\" string=\"" +
              (is_str ? "true" : "false") + "\">" +
              (is_str ? it.value().get<std::string>() : python_json_dumps(it.value())) +
              "</｜DSML｜parameter>";
  }
  return "<｜DSML｜invoke name=\"" + tc.name + "\">\n" + params + "\n</｜DSML｜invoke>";
}

// A user turn is a list of blocks once tool results have been merged into it.
struct Block {
  bool tool_result = false;
  std::string text;
  std::string tool_call_id;
};

struct Turn {
  Message msg;
  std::vector<Block> blocks;  // user turns only
};

bool is_user_like(Role r) {
  return r == Role::kUser || r == Role::kDeveloper;
}

bool has_tools(const Message& m) {
  return m.tools.is_array() && !m.tools.empty();
}

// V4 has no tool role in the prompt: tool results become <tool_result> blocks of a user turn.
// A tool result joins a preceding user turn; user text joins a preceding user turn unless that
// turn carries a task (the reference's merge_tool_messages, including that consecutive user
// messages merge).
std::vector<Turn> merge_tool_messages(const std::vector<Message>& messages) {
  std::vector<Turn> out;
  for (const Message& m : messages) {
    bool prev_user = !out.empty() && out.back().msg.role == Role::kUser;
    if (m.role == Role::kTool) {
      Block b{true, m.content, m.tool_call_id};
      if (prev_user) {
        out.back().blocks.push_back(std::move(b));
      } else {
        Turn t;
        t.msg.role = Role::kUser;
        t.blocks.push_back(std::move(b));
        out.push_back(std::move(t));
      }
    } else if (m.role == Role::kUser) {
      Block b{false, m.content, {}};
      if (prev_user && !out.back().msg.task) {
        out.back().blocks.push_back(std::move(b));
      } else {
        Turn t;
        t.msg.role = Role::kUser;
        t.msg.content = m.content;
        t.msg.task = m.task;
        t.msg.wo_eos = m.wo_eos;
        t.blocks.push_back(std::move(b));
        out.push_back(std::move(t));
      }
    } else {
      out.push_back(Turn{m, {}});
    }
  }
  return out;
}

// Results come back in the order the tools finished; the model saw the calls in the order it
// made them, so results are re-ordered by the call ids of the latest assistant tool-call turn.
// Unknown ids sort as position 0 and the sort is stable, as in the reference.
void sort_tool_results(std::vector<Turn>& turns) {
  std::map<std::string, size_t> order;
  for (Turn& t : turns) {
    if (t.msg.role == Role::kAssistant && !t.msg.tool_calls.empty()) {
      order.clear();
      for (size_t i = 0; i < t.msg.tool_calls.size(); ++i)
        if (!t.msg.tool_calls[i].id.empty()) order[t.msg.tool_calls[i].id] = i;
    } else if (t.msg.role == Role::kUser && !t.blocks.empty()) {
      std::vector<Block> results;
      for (const Block& b : t.blocks)
        if (b.tool_result) results.push_back(b);
      if (results.size() <= 1 || order.empty()) continue;
      auto pos = [&](const Block& b) {
        auto it = order.find(b.tool_call_id);
        return it == order.end() ? size_t{0} : it->second;
      };
      std::stable_sort(results.begin(), results.end(),
                       [&](const Block& a, const Block& b) { return pos(a) < pos(b); });
      size_t k = 0;
      for (Block& b : t.blocks)
        if (b.tool_result) b = results[k++];
    }
  }
}

ptrdiff_t last_user_index(const std::vector<Turn>& turns) {
  for (ptrdiff_t i = static_cast<ptrdiff_t>(turns.size()) - 1; i >= 0; --i)
    if (is_user_like(turns[static_cast<size_t>(i)].msg.role)) return i;
  return -1;
}

// Before the last user turn: assistant turns lose their reasoning and developer turns go away;
// system, user and reminder turns stay.
std::vector<Turn> drop_thinking_turns(std::vector<Turn> turns) {
  ptrdiff_t last_user = last_user_index(turns);
  std::vector<Turn> out;
  for (size_t i = 0; i < turns.size(); ++i) {
    Turn& t = turns[i];
    Role r = t.msg.role;
    if (static_cast<ptrdiff_t>(i) >= last_user || r == Role::kUser || r == Role::kSystem ||
        r == Role::kTool || r == Role::kLatestReminder) {
      out.push_back(std::move(t));
    } else if (r == Role::kAssistant) {
      t.msg.reasoning.clear();
      out.push_back(std::move(t));
    }
  }
  return out;
}

struct RenderContext {
  const std::vector<Turn>& turns;
  ptrdiff_t last_user;
  const EncoderOptions& opts;
  bool drop;  // effective drop_thinking
};

std::string render_turn(size_t index, const RenderContext& c) {
  const Message& m = c.turns[index].msg;
  const auto idx = static_cast<ptrdiff_t>(index);
  std::string out;
  if (index == 0 && c.opts.thinking) out += effort_prefix(c.opts.generation, c.opts.effort);

  switch (m.role) {
    case Role::kSystem:
      out += m.content + render_attachments(m);
      break;
    case Role::kDeveloper:
      if (m.content.empty()) fail("a developer message needs non-empty content");
      out += std::string(kUser) + m.content + render_attachments(m);
      break;
    case Role::kUser: {
      out += kUser;
      bool first = true;
      for (const Block& b : c.turns[index].blocks) {
        if (!first) out += "\n\n";
        first = false;
        out += b.tool_result ? "<tool_result>" + b.text + "</tool_result>" : b.text;
      }
      break;
    }
    case Role::kLatestReminder:
      out += std::string(kLatestReminder) + m.content;
      break;
    case Role::kTool:
      break;  // merged into user turns before rendering
    case Role::kAssistant: {
      // A turn answering a task (e.g. the "action" classifier) never thinks.
      bool prev_has_task = index > 0 && c.turns[index - 1].msg.task.has_value();
      if (c.opts.thinking && !prev_has_task && (!c.drop || idx > c.last_user))
        out += m.reasoning + std::string(kThinkEnd);
      out += m.content;
      if (!m.tool_calls.empty()) {
        std::string calls;
        for (const ToolCall& tc : m.tool_calls) {
          if (!calls.empty()) calls += '\n';
          calls += render_tool_call(tc);
        }
        out += "\n\n<｜DSML｜tool_calls>\n" + calls + "\n</｜DSML｜tool_calls>";
      }
      if (!m.wo_eos) out += kEos;
      break;
    }
  }

  // What follows a turn: nothing when the next turn opens itself (user, system, ...); otherwise
  // the task token, or the assistant prompt that starts (or skips) thinking.
  if (index + 1 < c.turns.size()) {
    Role next = c.turns[index + 1].msg.role;
    if (next != Role::kAssistant && next != Role::kLatestReminder) return out;
  }
  if (m.task) {
    std::string_view token = task_token(*m.task);
    if (*m.task != "action") {
      out += token;
    } else {
      out += kAssistant;
      out += c.opts.thinking ? kThinkStart : kThinkEnd;
      out += token;
    }
  } else if (is_user_like(m.role)) {
    out += kAssistant;
    bool think = c.opts.thinking && (!c.drop || idx >= c.last_user);
    out += think ? kThinkStart : kThinkEnd;
  }
  return out;
}

}  // namespace

std::string encode_messages(const std::vector<Message>& messages, const EncoderOptions& opts) {
  check_effort(opts.generation, opts.effort);
  std::vector<Turn> turns = merge_tool_messages(messages);
  sort_tool_results(turns);

  // Interleaved thinking: when tools are in play every turn keeps its reasoning.
  bool drop = opts.drop_thinking && std::none_of(messages.begin(), messages.end(), has_tools);
  if (opts.thinking && drop) turns = drop_thinking_turns(std::move(turns));

  std::string prompt = opts.add_bos ? std::string(kBos) : std::string();
  RenderContext c{turns, last_user_index(turns), opts, drop};
  for (size_t i = 0; i < turns.size(); ++i) prompt += render_turn(i, c);
  return prompt;
}

}  // namespace dsv4::chat
