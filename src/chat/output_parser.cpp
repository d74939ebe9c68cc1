#include "chat/output_parser.h"

#include <fmt/core.h>

#include <utility>

#include "util/error.h"

namespace dsv4::chat {
namespace {

constexpr std::string_view kSpace = " \t\r\n";

bool is_space(char c) {
  return kSpace.find(c) != std::string_view::npos;
}

std::string_view trim(std::string_view s) {
  size_t b = s.find_first_not_of(kSpace);
  if (b == std::string_view::npos) return {};
  return s.substr(b, s.find_last_not_of(kSpace) - b + 1);
}

uint64_t splitmix64(uint64_t& x) {
  uint64_t z = (x += 0x9E3779B97F4A7C15ull);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}

// The names the spurious wrapper parameter has been seen under.
bool is_wrapper_name(std::string_view name) {
  return name == "arguments" || name == "input";
}

// An object whose keys are all parameters of the tool (any object when the tool is unknown).
bool fits_schema(const nlohmann::ordered_json& v, const nlohmann::json* params) {
  if (!v.is_object()) return false;
  if (params == nullptr) return true;
  auto props = params->find("properties");
  if (props == params->end() || !props->is_object()) return false;
  for (const auto& [k, _] : v.items())
    if (!props->contains(k)) return false;
  return true;
}

}  // namespace

std::string_view issue_name(IssueKind kind) {
  switch (kind) {
    case IssueKind::StrayMarker:
      return "stray_marker";
    case IssueKind::MalformedTag:
      return "malformed_tag";
    case IssueKind::TruncatedMarker:
      return "truncated_marker";
    case IssueKind::StrayTextInBlock:
      return "stray_text_in_block";
    case IssueKind::InvalidInvoke:
      return "invalid_invoke";
    case IssueKind::InvalidParameter:
      return "invalid_parameter";
    case IssueKind::DuplicateParameter:
      return "duplicate_parameter";
    case IssueKind::InvalidJsonValue:
      return "invalid_json_value";
    case IssueKind::InvalidJsonArguments:
      return "invalid_json_arguments";
    case IssueKind::UnknownTool:
      return "unknown_tool";
    case IssueKind::UnclosedParameter:
      return "unclosed_parameter";
    case IssueKind::UnclosedInvoke:
      return "unclosed_invoke";
    case IssueKind::UnterminatedToolCalls:
      return "unterminated_tool_calls";
    case IssueKind::TextAfterEos:
      return "text_after_eos";
    case IssueKind::ReasoningNotClosed:
      return "reasoning_not_closed";
  }
  return "unknown";
}

std::string make_call_id(uint64_t seed, int index) {
  uint64_t x = seed ^ (static_cast<uint64_t>(index) * 0xD1B54A32D192ED03ull);
  uint64_t a = splitmix64(x);
  uint64_t b = splitmix64(x);
  return fmt::format("call_{:016x}{:08x}", a, b >> 32);
}

OutputParser::OutputParser(ParserOptions options)
    : options_(std::move(options)),
      schemas_(options_.tools),
      state_(options_.start_in_reasoning ? State::Reasoning : State::Content) {}

std::vector<Delta> OutputParser::push(std::string_view text) {
  if (finished_) fail("output parser: push() after finish()");
  std::vector<Delta> out;
  out_ = &out;
  result_.raw.append(text);
  text_ += utf8_.push(text);
  run(false);
  out_ = nullptr;
  return out;
}

std::vector<Delta> OutputParser::finish(bool stopped_by_eos) {
  if (finished_) return {};
  std::vector<Delta> out;
  out_ = &out;
  text_ += utf8_.finish();
  run(true);
  end_of_output(stopped_by_eos);
  finished_ = true;
  out_ = nullptr;
  return out;
}

OutputParser::Scan OutputParser::scan(bool at_end) const {
  std::string_view rest(text_);
  rest.remove_prefix(pos_);
  Scan s;
  if (rest.empty()) return s;
  if (rest[0] != '<') {
    s.what = Scan::What::Text;
    s.text = rest.substr(0, rest.find('<'));
    return s;
  }
  switch (dsml::match_marker(rest, &s.marker)) {
    case dsml::Match::Full:
      s.what = Scan::What::Marker;
      return s;
    case dsml::Match::None:
      s.what = Scan::What::Text;
      s.text = rest.substr(0, 1);
      return s;
    case dsml::Match::Partial:
      // Could still become a marker: hold it back, unless the output has ended.
      if (!at_end) return s;
      s.what = Scan::What::Text;
      s.text = rest;
      s.truncated = true;
      return s;
  }
  return s;
}

void OutputParser::run(bool at_end) {
  while (state_ != State::Done) {
    Scan s = scan(at_end);
    if (s.what == Scan::What::NeedMore) return;
    switch (state_) {
      case State::Reasoning:
      case State::Content:
      case State::AfterBlock:
        step_text(s);
        break;
      case State::Block:
      case State::Invoke:
        step_block(s);
        break;
      case State::Param:
        step_param(s);
        break;
      case State::InvokeJson:
      case State::SkipInvoke:
      case State::SkipParam:
        step_collect(s);
        break;
      case State::Done:
        return;
    }
  }
}

// ---- reasoning and content ------------------------------------------------------------------

void OutputParser::step_text(const Scan& s) {
  size_t at = pos_;
  if (s.what == Scan::What::Text) {
    pos_ += s.text.size();
    if (s.truncated && dsml::looks_like_markup(s.text)) {
      issue(IssueKind::TruncatedMarker, "output ended inside a marker", std::string(s.text), at);
      return;
    }
    emit_text(s.text);
    return;
  }
  pos_ += s.marker.length;
  text_marker(s.marker);
}

void OutputParser::text_marker(const dsml::Marker& m) {
  size_t at = pos_ - m.length;
  std::string raw = text_.substr(at, m.length);
  auto flush_ws = [&] {
    if (state_ != State::AfterBlock)
      emit(state_ == State::Reasoning ? Delta::Kind::Reasoning : Delta::Kind::Content, pending_ws_);
    pending_ws_.clear();
  };
  if (m.is_eos()) {
    flush_ws();
    see_eos(at);
    return;
  }
  switch (m.kind) {
    case dsml::MarkerKind::ThinkClose:
      if (state_ == State::Reasoning) {
        flush_ws();
        result_.reasoning_closed = true;
        state_ = State::Content;
        return;
      }
      break;
    case dsml::MarkerKind::ThinkOpen:
      // A model that opens a think block before writing anything is reasoning after all.
      if (state_ == State::Content && !content_started_ && result_.reasoning.empty() &&
          !result_.reasoning_closed && result_.tool_calls.empty()) {
        pending_ws_.clear();
        state_ = State::Reasoning;
        return;
      }
      break;
    case dsml::MarkerKind::SpecialToken:
      break;
    case dsml::MarkerKind::Dsml:
      if (!m.well_formed) {
        issue(IssueKind::MalformedTag, "DSML tag without '>'", raw, at);
        return;
      }
      if (m.is(dsml::TagName::ToolCalls, false)) {
        open_block(at);
        return;
      }
      if (m.is(dsml::TagName::Invoke, false)) {
        // An invoke without its tool_calls wrapper: the block is implied.
        open_block(at);
        start_invoke(m);
        return;
      }
      break;
  }
  issue(IssueKind::StrayMarker, fmt::format("'{}' out of place", raw), raw, at);
}

void OutputParser::emit_text(std::string_view t) {
  if (state_ == State::AfterBlock) {
    size_t b = t.find_first_not_of(kSpace);
    if (b == std::string_view::npos) return;
    t.remove_prefix(b);
    state_ = State::Content;
  }
  // Trailing whitespace waits: if a tool block follows it is the block's separator, not content.
  size_t last = t.find_last_not_of(kSpace);
  if (last == std::string_view::npos) {
    pending_ws_.append(t);
    return;
  }
  std::string s = std::move(pending_ws_);
  s.append(t.substr(0, last + 1));
  pending_ws_ = std::string(t.substr(last + 1));
  if (state_ == State::Reasoning) {
    emit(Delta::Kind::Reasoning, s);
  } else {
    content_started_ = true;
    emit(Delta::Kind::Content, s);
  }
}

void OutputParser::emit(Delta::Kind kind, std::string_view text, int index) {
  if (text.empty()) return;
  if (kind == Delta::Kind::Reasoning) result_.reasoning.append(text);
  if (kind == Delta::Kind::Content) result_.content.append(text);
  if (kind == Delta::Kind::ToolCallArgs) result_.tool_calls[index].arguments.append(text);
  if (!out_->empty() && out_->back().kind == kind && out_->back().index == index) {
    out_->back().text.append(text);
    return;
  }
  out_->push_back(Delta{.kind = kind, .index = index, .text = std::string(text)});
}

void OutputParser::emit_args(std::string_view fragment) {
  emit(Delta::Kind::ToolCallArgs, fragment, call_->index);
}

// ---- the tool_calls block -------------------------------------------------------------------

void OutputParser::open_block(size_t at) {
  // Whitespace before the block separates it from the text; it is neither content nor reasoning.
  pending_ws_.clear();
  if (state_ == State::Reasoning) result_.reasoning_closed = true;
  block_start_ = at;
  state_ = State::Block;
}

void OutputParser::step_block(const Scan& s) {
  if (s.what == Scan::What::Marker) {
    pos_ += s.marker.length;
    flush_stray();
    block_marker(s.marker);
    return;
  }
  size_t at = pos_;
  for (size_t k = 0; k < s.text.size(); ++k) {
    char c = s.text[k];
    if (is_space(c)) {
      if (!stray_.empty()) stray_ += c;
      continue;
    }
    if (c == '{' && state_ == State::Invoke && stray_.empty() && !call_->opened &&
        !call_->complete) {
      // SGLang's "format 2": the invoke body is one JSON object instead of parameter tags.
      pos_ = at + k;
      state_ = State::InvokeJson;
      collected_.clear();
      collected_offset_ = pos_;
      return;
    }
    if (stray_.empty()) stray_offset_ = at + k;
    stray_ += c;
  }
  pos_ = at + s.text.size();
}

void OutputParser::block_marker(const dsml::Marker& m) {
  size_t at = pos_ - m.length;
  std::string raw = text_.substr(at, m.length);
  if (m.is_eos()) return see_eos(at);
  if (m.kind == dsml::MarkerKind::Dsml && !m.well_formed) {
    issue(IssueKind::MalformedTag, "DSML tag without '>'", raw, at);
    return;
  }
  using dsml::TagName;
  if (state_ == State::Block) {
    if (m.is(TagName::Invoke, false)) return start_invoke(m);
    if (m.is(TagName::ToolCalls, true)) {
      state_ = State::AfterBlock;
      return;
    }
  } else {
    if (m.is(TagName::Parameter, false) && !call_->complete) return start_param(m);
    if (m.is(TagName::Invoke, true)) {
      close_call();
      state_ = State::Block;
      return;
    }
    if (m.is(TagName::ToolCalls, true) || m.is(TagName::Invoke, false)) {
      issue(IssueKind::UnclosedInvoke, fmt::format("invoke '{}' not closed", call_->name), "", at);
      close_call();
      state_ = State::Block;
      if (m.is(TagName::Invoke, false)) return start_invoke(m);
      state_ = State::AfterBlock;
      return;
    }
  }
  issue(IssueKind::StrayMarker, fmt::format("'{}' out of place in a tool_calls block", raw), raw,
        at);
}

void OutputParser::start_invoke(const dsml::Marker& m) {
  size_t at = pos_ - m.length;
  auto attrs = dsml::parse_attributes(m.body);
  auto it = attrs ? attrs->find("name") : decltype(attrs->find("name")){};
  if (!attrs || it == attrs->end() || it->second.empty()) {
    state_ = State::SkipInvoke;
    collected_ = text_.substr(at, m.length);
    collected_offset_ = at;
    return;
  }
  int index = static_cast<int>(result_.tool_calls.size());
  std::string id = make_call_id(options_.id_seed, index);
  result_.tool_calls.push_back(ParsedToolCall{.id = id, .name = it->second});
  out_->push_back(
      Delta{.kind = Delta::Kind::ToolCallStart, .index = index, .id = id, .name = it->second});
  if (!schemas_.empty() && !schemas_.known(it->second))
    issue(IssueKind::UnknownTool,
          fmt::format("tool '{}' is not among the request's tools", it->second), it->second, at);
  call_ = Call{.index = index, .name = it->second};
  state_ = State::Invoke;
}

std::string OutputParser::member_prefix(std::string_view key) {
  std::string s = call_->opened ? (call_->members > 0 ? "," : "") : "{";
  call_->opened = true;
  call_->members++;
  call_->keys.emplace(key);
  s += json_quote(key);
  s += ':';
  return s;
}

void OutputParser::start_param(const dsml::Marker& m) {
  size_t at = pos_ - m.length;
  auto attrs = dsml::parse_attributes(m.body);
  auto it = attrs ? attrs->find("name") : decltype(attrs->find("name")){};
  if (!attrs || it == attrs->end() || it->second.empty()) {
    state_ = State::SkipParam;
    collected_ = text_.substr(at, m.length);
    collected_offset_ = at;
    return;
  }
  Param p;
  p.name = it->second;
  p.offset = at;
  if (auto s = attrs->find("string"); s != attrs->end()) {
    if (s->second == "true" || s->second == "True") p.string_attr = true;
    if (s->second == "false" || s->second == "False") p.string_attr = false;
  }
  const nlohmann::json* prop = schemas_.property(call_->name, p.name);
  if (call_->keys.contains(p.name)) {
    p.mode = Param::Mode::Duplicate;
  } else if (is_wrapper_name(p.name) && !call_->opened && prop == nullptr) {
    p.mode = Param::Mode::Wrapper;
  } else if (p.string_attr.value_or(false) && value_kind(prop) != ValueKind::NonString) {
    // Strings stream as they arrive; everything else waits for the close tag to be coerced.
    p.mode = Param::Mode::Stream;
    emit_args(member_prefix(p.name) + '"');
  }
  param_ = std::move(p);
  state_ = State::Param;
}

void OutputParser::step_param(const Scan& s) {
  auto value_text = [&](std::string_view t) {
    if (param_->mode == Param::Mode::Stream) {
      std::string escaped;
      append_json_escaped(escaped, t);
      emit_args(escaped);
    } else {
      param_->value.append(t);
    }
  };
  if (s.what == Scan::What::Text) {
    pos_ += s.text.size();
    value_text(s.text);
    return;
  }
  const dsml::Marker& m = s.marker;
  size_t at = pos_;
  if (m.is(dsml::TagName::Parameter, true)) {
    pos_ += m.length;
    close_param();
    state_ = State::Invoke;
    return;
  }
  if (m.is_structural()) {
    // Left for the invoke state to act on.
    issue(IssueKind::UnclosedParameter,
          fmt::format("parameter '{}' ended by '{}'", param_->name, text_.substr(at, m.length)), "",
          at);
    close_param();
    state_ = State::Invoke;
    return;
  }
  pos_ += m.length;
  if (m.is_eos()) return see_eos(at);
  // Values are raw text: `<think>` or a special token inside one is part of the value.
  value_text(std::string_view(text_).substr(at, m.length));
}

void OutputParser::close_param() {
  Param& p = *param_;
  const nlohmann::json* prop = schemas_.property(call_->name, p.name);
  if (p.mode == Param::Mode::Stream) {
    emit_args("\"");
  } else if (p.mode == Param::Mode::Duplicate) {
    issue(IssueKind::DuplicateParameter,
          fmt::format("parameter '{}' repeated in a call to '{}'; later value dropped", p.name,
                      call_->name),
          p.value, p.offset);
  } else {
    std::optional<nlohmann::ordered_json> inner;
    if (p.mode == Param::Mode::Wrapper) {
      inner = parse_json(trim(p.value));
      if (inner && !fits_schema(*inner, schemas_.parameters(call_->name))) inner.reset();
    }
    if (inner) {
      // `arguments`/`input` wrapping the real parameters: unwrap it.
      std::string frag = call_->opened ? "" : "{";
      call_->opened = true;
      for (const auto& [k, v] : inner->items()) {
        if (call_->members++ > 0) frag += ',';
        call_->keys.emplace(k);
        frag += json_quote(k) + ':' + dump_json(v);
      }
      emit_args(frag);
    } else {
      CoercedValue c = coerce_value(p.value, p.string_attr, prop);
      if (!c.valid)
        issue(IssueKind::InvalidJsonValue,
              fmt::format("parameter '{}' of '{}' is not valid JSON; passed as a string", p.name,
                          call_->name),
              p.value, p.offset);
      emit_args(member_prefix(p.name) + c.json);
    }
  }
  param_.reset();
}

void OutputParser::close_call() {
  if (!call_) return;
  if (param_) close_param();
  if (!call_->complete) emit_args(call_->opened ? "}" : "{}");
  call_.reset();
}

void OutputParser::step_collect(const Scan& s) {
  if (s.what == Scan::What::Text) {
    pos_ += s.text.size();
    collected_.append(s.text);
    return;
  }
  const dsml::Marker& m = s.marker;
  std::string_view raw = std::string_view(text_).substr(pos_, m.length);
  if (m.is_eos()) {
    pos_ += m.length;
    return see_eos(pos_ - m.length);
  }
  using dsml::TagName;
  bool ends = false, consume = true;
  if (state_ == State::InvokeJson) {
    ends = m.is_structural();
    consume = false;  // the invoke state acts on the tag
  } else if (state_ == State::SkipParam) {
    ends = m.is_structural();
    consume = m.is(TagName::Parameter, true);
  } else {
    ends = m.is(TagName::Invoke, true) || m.is(TagName::Invoke, false) ||
           m.is(TagName::ToolCalls, true);
    consume = m.is(TagName::Invoke, true);
  }
  if (consume || !ends) {
    pos_ += m.length;
    collected_.append(raw);
  }
  if (!ends) return;
  if (state_ == State::InvokeJson) {
    finish_json_body();
    state_ = State::Invoke;
  } else {
    finish_skip(state_ == State::SkipInvoke);
    state_ = state_ == State::SkipInvoke ? State::Block : State::Invoke;
  }
}

void OutputParser::finish_json_body() {
  std::string_view body = trim(collected_);
  auto v = parse_json(body);
  if (v && v->is_object()) {
    if (v->size() == 1) {
      auto it = v->begin();
      if (is_wrapper_name(it.key()) && schemas_.property(call_->name, it.key()) == nullptr &&
          fits_schema(it.value(), schemas_.parameters(call_->name))) {
        nlohmann::ordered_json inner = it.value();
        *v = std::move(inner);
      }
    }
    emit_args(dump_json(*v));
  } else {
    // OpenAI arguments may be invalid JSON; passing the text on loses nothing.
    issue(IssueKind::InvalidJsonArguments,
          fmt::format("the body of the call to '{}' is not a JSON object", call_->name),
          std::string(body), collected_offset_);
    emit_args(body);
  }
  call_->complete = true;
  collected_.clear();
}

void OutputParser::finish_skip(bool invoke) {
  if (invoke) {
    issue(IssueKind::InvalidInvoke, "invoke tag without a tool name; the call was dropped",
          collected_, collected_offset_);
  } else {
    issue(IssueKind::InvalidParameter,
          fmt::format("parameter tag without a name in a call to '{}'; dropped", call_->name),
          collected_, collected_offset_);
  }
  collected_.clear();
}

void OutputParser::flush_stray() {
  std::string_view t = trim(stray_);
  if (!t.empty())
    issue(IssueKind::StrayTextInBlock, "text inside a tool_calls block outside any parameter",
          std::string(t), stray_offset_);
  stray_.clear();
}

// ---- the end --------------------------------------------------------------------------------

void OutputParser::end_of_output(bool stopped_by_eos) {
  size_t end = text_.size();
  if (state_ == State::Done) {
    end = eos_at_;
    if (pos_ < text_.size())
      issue(IssueKind::TextAfterEos, "text after the end-of-sentence marker was ignored",
            text_.substr(pos_), pos_);
    pos_ = text_.size();
  }
  State s = state_ == State::Done ? ended_in_ : state_;
  bool eos = stopped_by_eos || result_.eos_seen;
  std::string why = eos ? "the model ended" : "the output was cut off";
  flush_stray();
  if (s == State::Reasoning || s == State::Content) {
    emit(s == State::Reasoning ? Delta::Kind::Reasoning : Delta::Kind::Content, pending_ws_);
    pending_ws_.clear();
    if (s == State::Reasoning && eos)
      issue(IssueKind::ReasoningNotClosed,
            "the model ended while reasoning (no </think>); the answer is in reasoning", "", end);
    return;
  }
  if (s == State::AfterBlock) return;
  if (s == State::Param) {
    issue(IssueKind::UnclosedParameter, fmt::format("parameter '{}': {}", param_->name, why), "",
          end);
    close_param();
  }
  if (s == State::InvokeJson) finish_json_body();
  if (s == State::SkipInvoke || s == State::SkipParam) finish_skip(s == State::SkipInvoke);
  if (call_) {
    issue(IssueKind::UnclosedInvoke, fmt::format("invoke '{}': {}", call_->name, why), "", end);
    close_call();
  }
  issue(IssueKind::UnterminatedToolCalls,
        fmt::format("{} inside a tool_calls block; completed calls are kept", why),
        text_.substr(block_start_, end - block_start_), block_start_);
}

void OutputParser::see_eos(size_t at) {
  result_.eos_seen = true;
  eos_at_ = at;
  ended_in_ = state_;
  state_ = State::Done;
}

void OutputParser::issue(IssueKind kind, std::string detail, std::string raw, size_t offset) {
  result_.issues.push_back(ParseIssue{
      .kind = kind, .detail = std::move(detail), .raw = std::move(raw), .offset = offset});
}

}  // namespace dsv4::chat
