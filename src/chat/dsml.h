// The markup DeepSeek-V4 writes into its completions: think tags, special tokens such as EOS, and
// DSML tool-call tags. Matching works on a prefix of the text so a streaming parser can tell
// "this is a marker", "this might still become one" (hold it back) and "plain text".
#pragma once

#include <cstddef>
#include <map>
#include <optional>
#include <string>
#include <string_view>

namespace dsv4::dsml {

inline constexpr std::string_view kThinkOpen = "<think>";
inline constexpr std::string_view kThinkClose = "</think>";
inline constexpr std::string_view kEos = "<｜end▁of▁sentence｜>";
// FULLWIDTH VERTICAL LINE U+FF5C; the ASCII '|' is accepted too because models sometimes emit it.
inline constexpr std::string_view kBar = "｜";
inline constexpr std::string_view kDsml = "DSML";
inline constexpr std::string_view kEosName = "end▁of▁sentence";

// A DSML tag with no '>' within this many bytes is cut there and reported as malformed, so a
// runaway tag cannot make the parser hold back text forever.
inline constexpr size_t kMaxTagBytes = 1024;
// Longest special-token name we wait for (`<｜name｜>`); the real ones are under 30 bytes.
inline constexpr size_t kMaxSpecialNameBytes = 64;

enum class MarkerKind { ThinkOpen, ThinkClose, SpecialToken, Dsml };
enum class TagName { ToolCalls, Invoke, Parameter, Other };

struct Marker {
  MarkerKind kind = MarkerKind::ThinkOpen;
  size_t length = 0;             // bytes the marker covers, starting at its '<'
  bool closing = false;          // DSML `</...>`
  TagName tag = TagName::Other;  // DSML only
  bool well_formed = true;       // DSML: ended with '>' (false: cut at '<' or at kMaxTagBytes)
  // DSML: the text after the tag name up to '>' (the attributes); special token: its name.
  std::string_view body;

  bool is_eos() const { return kind == MarkerKind::SpecialToken && body == kEosName; }
  // The tool-call structure tags; anything else DSML-looking is stray markup.
  bool is_structural() const {
    return kind == MarkerKind::Dsml && well_formed && tag != TagName::Other;
  }
  bool is(TagName t, bool close) const { return is_structural() && tag == t && closing == close; }
};

enum class Match { None, Partial, Full };

// Classifies the text starting at s[0] (which should be '<'): Full fills *out; Partial means s is
// a proper prefix of some marker (more text decides); None means s[0] is a literal '<'.
Match match_marker(std::string_view s, Marker* out);

// Parses DSML attributes `name="x" string="true"` (double or single quotes). nullopt when the
// text is not a sequence of key="value" pairs or a key repeats.
std::optional<std::map<std::string, std::string, std::less<>>> parse_attributes(
    std::string_view body);

// True for text that is a cut-off DSML tag or special token (as opposed to a cut-off `<think>`,
// or a lone '<' that is ordinary text). Used at the end of output to decide what a held-back
// suffix was.
bool looks_like_markup(std::string_view held);

}  // namespace dsv4::dsml
