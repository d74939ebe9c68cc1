#include "chat/request.h"

#include <fmt/core.h>

#include <optional>
#include <string_view>

#include "util/error.h"
#include "util/json_type.h"

namespace dsv4::chat {

namespace {

using Json = nlohmann::ordered_json;

// The Python dumper recurses; a request nested this deep is not a chat request.
constexpr int kMaxDepth = 200;

void check_depth(const Json& v, int depth) {
  if (depth > kMaxDepth) fail("request body: nested deeper than {} levels", kMaxDepth);
  if (v.is_structured())
    for (const auto& e : v) check_depth(e, depth + 1);
}

const Json* find(const Json& obj, std::string_view key) {
  auto it = obj.find(key);
  return it == obj.end() || it->is_null() ? nullptr : &*it;
}

// "where.key", or just "key" at the top level of the body.
std::string path(const std::string& where, std::string_view key) {
  return where.empty() ? std::string(key) : fmt::format("{}.{}", where, key);
}

std::optional<bool> get_bool(const Json& obj, std::string_view key, const std::string& where) {
  const Json* v = find(obj, key);
  if (!v) return std::nullopt;
  if (!v->is_boolean())
    fail("{}: expected true or false, got {}", path(where, key), json_type_name(*v));
  return v->get<bool>();
}

std::optional<std::string> get_string(const Json& obj, std::string_view key,
                                      const std::string& where) {
  const Json* v = find(obj, key);
  if (!v) return std::nullopt;
  if (!v->is_string()) fail("{}: expected a string, got {}", path(where, key), json_type_name(*v));
  return v->get<std::string>();
}

Role parse_role(const Json& msg, const std::string& where) {
  const Json* r = find(msg, "role");
  if (!r) fail("{}.role: missing", where);
  if (!r->is_string()) fail("{}.role: expected a string, got {}", where, json_type_name(*r));
  const auto& s = r->get_ref<const std::string&>();
  if (s == "system") return Role::kSystem;
  if (s == "user") return Role::kUser;
  if (s == "assistant") return Role::kAssistant;
  if (s == "tool") return Role::kTool;
  if (s == "developer") return Role::kDeveloper;
  if (s == "latest_reminder") return Role::kLatestReminder;
  fail(
      "{}.role: unknown role '{}' (expected system, user, assistant, tool, developer or "
      "latest_reminder)",
      where, s);
}

// Content as text. Text parts of other roles are joined by "\n" (vLLM's string content format);
// a tool result list follows DeepSeek's encoder: parts joined by a blank line, and non-text parts
// kept as an "[Unsupported TYPE]" placeholder rather than refused.
std::string parse_content(const Json& msg, Role role, const std::string& where) {
  const Json* c = find(msg, "content");
  if (!c) return {};
  if (c->is_string()) return c->get<std::string>();
  if (!c->is_array())
    fail("{}.content: expected a string, an array of content parts or null, got {}", where,
         json_type_name(*c));
  std::string out;
  for (size_t j = 0; j < c->size(); ++j) {
    const Json& part = (*c)[j];
    std::string pw = fmt::format("{}.content[{}]", where, j);
    if (!part.is_object())
      fail("{}: expected a content part object, got {}", pw, json_type_name(part));
    std::string type = get_string(part, "type", pw).value_or("");
    std::string text;
    if (type == "text") {
      text = get_string(part, "text", pw).value_or("");
    } else if (role == Role::kTool) {
      text = fmt::format("[Unsupported {}]", type.empty() ? "None" : type);
    } else {
      fail("{}: content part type '{}' is not supported (this model takes text only)", pw, type);
    }
    if (j > 0) out += role == Role::kTool ? "\n\n" : "\n";
    out += text;
  }
  return out;
}

// An OpenAI tools array → the function definitions the encoder renders.
Json parse_tools(const Json& tools, const std::string& where) {
  if (!tools.is_array())
    fail("{}: expected an array of tools, got {}", where, json_type_name(tools));
  Json out = Json::array();
  for (size_t i = 0; i < tools.size(); ++i) {
    const Json& t = tools[i];
    std::string tw = fmt::format("{}[{}]", where, i);
    if (!t.is_object()) fail("{}: expected a tool object, got {}", tw, json_type_name(t));
    auto type = get_string(t, "type", tw);
    if (type && *type != "function")
      fail("{}.type: only function tools are supported, got '{}'", tw, *type);
    const Json* fn = find(t, "function");
    if (!fn || !fn->is_object()) fail("{}.function: missing or not an object", tw);
    auto name = get_string(*fn, "name", tw + ".function");
    if (!name || name->empty()) fail("{}.function.name: missing or empty", tw);
    out.push_back(*fn);
  }
  return out;
}

// The OpenAI response_format → what the encoder states as the schema (null: plain text).
Json parse_response_format(const Json& rf, const std::string& where) {
  if (!rf.is_object()) fail("{}: expected an object, got {}", where, json_type_name(rf));
  auto type = get_string(rf, "type", where);
  if (!type) fail("{}.type: missing", where);
  if (*type == "text") return nullptr;
  if (*type == "json_object") return rf;
  if (*type == "json_schema") {
    const Json* s = find(rf, "json_schema");
    if (!s || !s->is_object()) fail("{}.json_schema: missing or not an object", where);
    return rf;
  }
  fail("{}.type: unknown response format '{}' (expected text, json_object or json_schema)", where,
       *type);
}

std::vector<ToolCall> parse_tool_calls(const Json& msg, const std::string& where) {
  std::vector<ToolCall> out;
  const Json* tcs = find(msg, "tool_calls");
  if (!tcs) return out;
  if (!tcs->is_array())
    fail("{}.tool_calls: expected an array, got {}", where, json_type_name(*tcs));
  for (size_t i = 0; i < tcs->size(); ++i) {
    const Json& tc = (*tcs)[i];
    std::string tw = fmt::format("{}.tool_calls[{}]", where, i);
    if (!tc.is_object()) fail("{}: expected a tool call object, got {}", tw, json_type_name(tc));
    auto type = get_string(tc, "type", tw);
    if (type && *type != "function")
      fail("{}.type: only function calls are supported, got '{}'", tw, *type);
    const Json* fn = find(tc, "function");
    if (!fn || !fn->is_object()) fail("{}.function: missing or not an object", tw);
    ToolCall call;
    call.id = get_string(tc, "id", tw).value_or("");
    auto name = get_string(*fn, "name", tw + ".function");
    if (!name || name->empty()) fail("{}.function.name: missing or empty", tw);
    call.name = *name;
    const Json* args = find(*fn, "arguments");
    std::string aw = tw + ".function.arguments";
    if (args && args->is_string()) {
      Json parsed = Json::parse(args->get<std::string>(), nullptr, /*allow_exceptions=*/false);
      if (parsed.is_discarded()) fail("{}: not valid JSON", aw);
      if (!parsed.is_object())
        fail("{}: must encode a JSON object, got {}", aw, json_type_name(parsed));
      check_depth(parsed, 1);
      call.arguments = std::move(parsed);
    } else if (args && args->is_object()) {
      call.arguments = *args;
    } else if (args) {
      fail("{}: expected a JSON string or an object, got {}", aw, json_type_name(*args));
    }
    out.push_back(std::move(call));
  }
  return out;
}

Message parse_message(const Json& msg, size_t index, size_t count) {
  std::string where = fmt::format("messages[{}]", index);
  if (!msg.is_object()) fail("{}: expected a message object, got {}", where, json_type_name(msg));
  Message m;
  m.role = parse_role(msg, where);
  m.content = parse_content(msg, m.role, where);
  bool head_role = m.role == Role::kSystem || m.role == Role::kDeveloper;
  if (const Json* t = find(msg, "tools")) {
    if (!head_role) fail("{}.tools: only system and developer messages can carry tools", where);
    m.tools = parse_tools(*t, where + ".tools");
  }
  if (const Json* rf = find(msg, "response_format")) {
    if (!head_role)
      fail("{}.response_format: only system and developer messages can carry one", where);
    m.response_format = parse_response_format(*rf, where + ".response_format");
  }
  if (auto task = get_string(msg, "task", where)) {
    static constexpr std::string_view kTasks[] = {"action", "query", "authority",
                                                  "domain", "title", "read_url"};
    bool ok = false;
    for (auto t : kTasks) ok = ok || t == *task;
    if (!ok)
      fail(
          "{}.task: unknown task '{}' (expected action, query, authority, domain, title or "
          "read_url)",
          where, *task);
    m.task = *task;
  }
  if (m.role == Role::kAssistant) {
    // Clients send the reasoning back under either name (DeepSeek: reasoning_content; OpenRouter
    // and others: reasoning); without it the turn is simply rendered without reasoning.
    auto rc = get_string(msg, "reasoning_content", where);
    auto r = get_string(msg, "reasoning", where);
    m.reasoning = rc ? *rc : r.value_or("");
    m.tool_calls = parse_tool_calls(msg, where);
    bool prefix = get_bool(msg, "prefix", where).value_or(false);
    if (prefix && index + 1 != count)
      fail("{}.prefix: only the last message can be a prefix to continue", where);
    m.wo_eos = prefix || get_bool(msg, "wo_eos", where).value_or(false);
  } else if (m.role == Role::kUser) {
    m.wo_eos = get_bool(msg, "wo_eos", where).value_or(false);
  } else if (m.role == Role::kTool) {
    m.tool_call_id = get_string(msg, "tool_call_id", where).value_or("");
  }
  return m;
}

// A tool result must answer a call of the latest assistant turn; an id that names none of that
// turn's calls is refused (DeepSeek's own vectors carry no ids at all, which is accepted).
void check_tool_results(const std::vector<Message>& msgs) {
  const Message* last_assistant = nullptr;
  size_t last_index = 0;
  for (size_t i = 0; i < msgs.size(); ++i) {
    const Message& m = msgs[i];
    if (m.role == Role::kAssistant) {
      last_assistant = &m;
      last_index = i;
    }
    if (m.role != Role::kTool) continue;
    if (!last_assistant || last_assistant->tool_calls.empty())
      fail(
          "messages[{}]: a tool message must answer a tool call, but no assistant message with "
          "tool_calls comes before it",
          i);
    if (m.tool_call_id.empty()) continue;
    bool any_id = false, found = false;
    for (const ToolCall& tc : last_assistant->tool_calls) {
      any_id = any_id || !tc.id.empty();
      found = found || tc.id == m.tool_call_id;
    }
    if (any_id && !found)
      fail("messages[{}].tool_call_id: '{}' matches no tool call of messages[{}]", i,
           m.tool_call_id, last_index);
  }
}

// One value from several places a client may put it; two places that disagree are refused rather
// than one silently winning.
template <typename T>
struct Pick {
  std::optional<T> value;
  std::string from;
  void offer(const std::optional<T>& v, const std::string& field) {
    if (!v) return;
    if (value && *value != *v) fail("{} and {} disagree; send one of them", from, field);
    if (!value) {
      value = v;
      from = field;
    }
  }
};

std::optional<bool> thinking_type(const Json& body) {
  const Json* t = find(body, "thinking");
  if (!t) return std::nullopt;
  if (t->is_boolean()) return t->get<bool>();
  if (!t->is_object())
    fail("thinking: expected an object like {{\"type\": \"enabled\"}}, got {}", json_type_name(*t));
  auto type = get_string(*t, "type", "thinking");
  if (!type) return std::nullopt;
  if (*type == "enabled") return true;
  if (*type == "disabled") return false;
  fail("thinking.type: unknown value '{}' (expected enabled or disabled)", *type);
}

// Where the request's tools and response format go: the first system (or developer) message of
// the conversation's head, after its text; failing that, a new empty system message at the start.
Message& head_message(std::vector<Message>& msgs) {
  for (Message& m : msgs) {
    if (m.role == Role::kSystem || m.role == Role::kDeveloper) return m;
    if (m.role != Role::kLatestReminder) break;
  }
  Message sys;
  sys.role = Role::kSystem;
  msgs.insert(msgs.begin(), std::move(sys));
  return msgs.front();
}

}  // namespace

ChatRequest normalise_chat_request(const nlohmann::ordered_json& body,
                                   const ChatDefaults& defaults) {
  if (!body.is_object()) fail("request body: expected a JSON object, got {}", json_type_name(body));
  check_depth(body, 0);
  ChatRequest req;

  const Json* msgs = find(body, "messages");
  if (!msgs) fail("messages: missing");
  if (!msgs->is_array()) fail("messages: expected an array, got {}", json_type_name(*msgs));
  if (msgs->empty()) fail("messages: must not be empty");
  for (size_t i = 0; i < msgs->size(); ++i)
    req.messages.push_back(parse_message((*msgs)[i], i, msgs->size()));
  check_tool_results(req.messages);

  Json tools = Json::array();
  if (const Json* t = find(body, "tools")) tools = parse_tools(*t, "tools");
  if (const Json* rf = find(body, "response_format"))
    req.response_format = parse_response_format(*rf, "response_format");
  if (!tools.empty() || !req.response_format.is_null()) {
    Message& head = head_message(req.messages);
    // Request-level tools replace any on that message, so the block is never rendered twice.
    if (!tools.empty()) head.tools = tools;
    if (!req.response_format.is_null()) head.response_format = req.response_format;
  }
  for (const Message& m : req.messages)
    if (m.tools.is_array())
      for (const auto& t : m.tools) req.tools.push_back(t);

  if (const Json* tc = find(body, "tool_choice")) {
    if (tc->is_string()) {
      const auto& s = tc->get_ref<const std::string&>();
      if (s == "auto")
        req.tool_choice.kind = ToolChoiceKind::kAuto;
      else if (s == "none")
        req.tool_choice.kind = ToolChoiceKind::kNone;
      else if (s == "required")
        req.tool_choice.kind = ToolChoiceKind::kRequired;
      else
        fail("tool_choice: unknown value '{}' (expected auto, none, required or an object)", s);
    } else if (tc->is_object()) {
      const Json* fn = find(*tc, "function");
      auto name =
          fn && fn->is_object() ? get_string(*fn, "name", "tool_choice.function") : std::nullopt;
      if (!name) fail("tool_choice.function.name: missing");
      bool known = false;
      for (const auto& t : req.tools) known = known || t.value("name", "") == *name;
      if (!known) fail("tool_choice.function.name: no tool named '{}' in tools", *name);
      req.tool_choice = {ToolChoiceKind::kNamed, *name};
    } else {
      fail("tool_choice: expected a string or an object, got {}", json_type_name(*tc));
    }
    if (req.tool_choice.kind == ToolChoiceKind::kRequired && req.tools.empty())
      fail("tool_choice: 'required' needs at least one tool in tools");
  }

  // The thinking switch and the effort, from every spelling clients use (serving.md b.3).
  const Json empty = Json::object();
  const Json* kwargs = find(body, "chat_template_kwargs");
  if (kwargs && !kwargs->is_object())
    fail("chat_template_kwargs: expected an object, got {}", json_type_name(*kwargs));
  const Json& kw = kwargs ? *kwargs : empty;
  const Json* reasoning = find(body, "reasoning");
  if (reasoning && !reasoning->is_object())
    fail("reasoning: expected an object, got {}", json_type_name(*reasoning));
  const Json& rs = reasoning ? *reasoning : empty;

  Pick<bool> thinking;
  thinking.offer(get_bool(kw, "thinking", "chat_template_kwargs"), "chat_template_kwargs.thinking");
  thinking.offer(get_bool(kw, "enable_thinking", "chat_template_kwargs"),
                 "chat_template_kwargs.enable_thinking");
  thinking.offer(thinking_type(body), "thinking.type");
  thinking.offer(get_bool(rs, "enabled", "reasoning"), "reasoning.enabled");

  Pick<std::string> effort;
  effort.offer(get_string(kw, "reasoning_effort", "chat_template_kwargs"),
               "chat_template_kwargs.reasoning_effort");
  effort.offer(get_string(body, "reasoning_effort", ""), "reasoning_effort");
  effort.offer(get_string(rs, "effort", "reasoning"), "reasoning.effort");

  std::string spelling = effort.value.value_or(defaults.effort);
  auto mode = map_effort(spelling, thinking.value.value_or(defaults.thinking), defaults.generation);
  if (!mode)
    fail("{}: unknown reasoning effort '{}' (expected one of {})",
         effort.value ? effort.from : "default effort", spelling, effort_spellings());

  req.encoder.generation = defaults.generation;
  req.encoder.thinking = mode->thinking;
  req.encoder.effort = mode->effort;
  req.encoder.drop_thinking =
      get_bool(kw, "drop_thinking", "chat_template_kwargs").value_or(defaults.drop_thinking);
  return req;
}

std::string render_prompt(const ChatRequest& request) {
  return encode_messages(request.messages, request.encoder);
}

}  // namespace dsv4::chat
