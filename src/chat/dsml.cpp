#include "chat/dsml.h"

#include <algorithm>

namespace dsv4::dsml {
namespace {

// Matching one literal at s[i]: consumed, ran out of text while still matching, or differs.
enum class Step { Ok, Short, Mismatch };

Step eat(std::string_view s, size_t& i, std::string_view lit) {
  size_t n = std::min(lit.size(), s.size() - i);
  if (s.compare(i, n, lit, 0, n) != 0) return Step::Mismatch;
  if (n < lit.size()) return Step::Short;
  i += n;
  return Step::Ok;
}

Step eat_bar(std::string_view s, size_t& i) {
  Step full = eat(s, i, kBar);
  if (full != Step::Mismatch) return full;
  return eat(s, i, "|");
}

Match match_literal(std::string_view s, std::string_view lit, MarkerKind kind, Marker* out) {
  size_t i = 0;
  switch (eat(s, i, lit)) {
    case Step::Ok:
      *out = Marker{.kind = kind, .length = lit.size()};
      return Match::Full;
    case Step::Short:
      return Match::Partial;
    case Step::Mismatch:
      return Match::None;
  }
  return Match::None;
}

bool is_name_char(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_';
}

TagName tag_of(std::string_view name) {
  // V3.2 called the block `function_calls`; accepting it costs nothing.
  if (name == "tool_calls" || name == "function_calls") return TagName::ToolCalls;
  if (name == "invoke") return TagName::Invoke;
  if (name == "parameter") return TagName::Parameter;
  return TagName::Other;
}

Match match_dsml(std::string_view s, Marker* out) {
  size_t i = 1;
  if (i == s.size()) return Match::Partial;
  bool closing = s[i] == '/';
  if (closing) ++i;
  // Prefix `<` `/`? bar `DSML` bar: until it is complete this may still be plain text.
  Step st = eat_bar(s, i);
  if (st == Step::Ok) st = eat(s, i, kDsml);
  if (st == Step::Ok) st = eat_bar(s, i);
  if (st == Step::Mismatch) return Match::None;
  if (st == Step::Short) return Match::Partial;
  // From here on it is markup for sure, well formed or not.
  size_t name_start = i;
  while (i < s.size() && is_name_char(s[i])) ++i;
  size_t name_end = i;
  for (; i < s.size(); ++i) {
    if (s[i] == '>' || s[i] == '<' || i >= kMaxTagBytes) {
      bool ok = s[i] == '>';
      *out = Marker{.kind = MarkerKind::Dsml,
                    .length = ok ? i + 1 : i,
                    .closing = closing,
                    .tag = tag_of(s.substr(name_start, name_end - name_start)),
                    .well_formed = ok,
                    .body = s.substr(name_end, i - name_end)};
      return Match::Full;
    }
  }
  return Match::Partial;
}

Match match_special(std::string_view s, Marker* out) {
  size_t i = 1;
  Step st = eat(s, i, kBar);
  if (st != Step::Ok) return st == Step::Short ? Match::Partial : Match::None;
  size_t name_start = i;
  for (; i < s.size(); ++i) {
    if (i - name_start > kMaxSpecialNameBytes || s[i] == '<' || s[i] == '>') return Match::None;
    size_t j = i;
    Step bar = eat(s, j, kBar);
    if (bar == Step::Short) return Match::Partial;
    if (bar == Step::Ok) {
      if (i == name_start) return Match::None;
      if (j == s.size()) return Match::Partial;
      if (s[j] != '>') return Match::None;
      *out = Marker{.kind = MarkerKind::SpecialToken,
                    .length = j + 1,
                    .body = s.substr(name_start, i - name_start)};
      return Match::Full;
    }
  }
  return Match::Partial;
}

}  // namespace

Match match_marker(std::string_view s, Marker* out) {
  if (s.empty() || s[0] != '<') return Match::None;
  bool partial = false;
  // DSML comes before special tokens: `<｜DSML｜...` must never be read as a special token.
  for (auto m : {match_literal(s, kThinkOpen, MarkerKind::ThinkOpen, out),
                 match_literal(s, kThinkClose, MarkerKind::ThinkClose, out)}) {
    if (m == Match::Full) return m;
    partial |= m == Match::Partial;
  }
  Match d = match_dsml(s, out);
  if (d == Match::Full) return d;
  partial |= d == Match::Partial;
  Match sp = match_special(s, out);
  if (sp == Match::Full && d == Match::None) return sp;
  partial |= sp == Match::Partial || sp == Match::Full;
  return partial ? Match::Partial : Match::None;
}

std::optional<std::map<std::string, std::string, std::less<>>> parse_attributes(
    std::string_view body) {
  std::map<std::string, std::string, std::less<>> attrs;
  auto is_space = [](char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; };
  size_t i = 0;
  auto skip = [&] {
    while (i < body.size() && is_space(body[i])) ++i;
  };
  for (;;) {
    skip();
    if (i == body.size()) return attrs;
    if (body[i] == '/' && i + 1 == body.size()) return attrs;  // tolerate `<... />`
    size_t k = i;
    while (i < body.size() && (is_name_char(body[i]) || body[i] == '-')) ++i;
    if (i == k) return std::nullopt;
    std::string key(body.substr(k, i - k));
    skip();
    if (i == body.size() || body[i] != '=') return std::nullopt;
    ++i;
    skip();
    if (i == body.size() || (body[i] != '"' && body[i] != '\'')) return std::nullopt;
    char q = body[i++];
    size_t end = body.find(q, i);
    if (end == std::string_view::npos) return std::nullopt;
    if (!attrs.emplace(key, std::string(body.substr(i, end - i))).second) return std::nullopt;
    i = end + 1;
  }
}

bool looks_like_markup(std::string_view held) {
  if (held.starts_with("<") && held.substr(1).starts_with(kBar)) return true;
  if (held.starts_with("</") && held.substr(2).starts_with(kBar)) return true;
  return held.find(kDsml) != std::string_view::npos;
}

}  // namespace dsv4::dsml
