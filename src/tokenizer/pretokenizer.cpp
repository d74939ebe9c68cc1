#include "tokenizer/pretokenizer.h"

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>

#include <nlohmann/json.hpp>

#include "util/error.h"

namespace dsv4 {

namespace {

// What Hugging Face's ByteLevel pre-tokenizer splits with when use_regex is true.
constexpr const char* kGpt2Pattern =
    R"('s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+)";

std::string pcre2_message(int code) {
  PCRE2_UCHAR buf[256];
  pcre2_get_error_message(code, buf, sizeof buf);
  return reinterpret_cast<const char*>(buf);
}

struct MatchData {
  pcre2_match_data* md = pcre2_match_data_create(1, nullptr);
  ~MatchData() { pcre2_match_data_free(md); }
};

}  // namespace

struct PreTokenizer::Stage {
  pcre2_code* code = nullptr;
  Behavior behavior = Behavior::kIsolated;
  ~Stage() { pcre2_code_free(code); }
};

PreTokenizer::PreTokenizer(const nlohmann::json& j, const std::string& where) {
  if (j.is_null()) return;
  add_stage(j, where);
}

PreTokenizer::~PreTokenizer() = default;

void PreTokenizer::add_stage(const nlohmann::json& j, const std::string& where) {
  if (!j.is_object() || !j.contains("type") || !j["type"].is_string())
    fail("{}: pre_tokenizer: every stage needs a \"type\"", where);
  const std::string type = j["type"];
  if (type == "Sequence") {
    if (!j.contains("pretokenizers") || !j["pretokenizers"].is_array())
      fail("{}: pre_tokenizer Sequence without a \"pretokenizers\" list", where);
    for (const auto& s : j["pretokenizers"]) add_stage(s, where);
  } else if (type == "Split") {
    const auto& pat = j.value("pattern", nlohmann::json());
    const bool is_regex = pat.is_object() && pat.contains("Regex") && pat["Regex"].is_string();
    const bool is_string = pat.is_object() && pat.contains("String") && pat["String"].is_string();
    if (!is_regex && !is_string)
      fail("{}: pre_tokenizer Split needs a pattern {{\"Regex\": ...}} or {{\"String\": ...}}",
           where);
    if (j.value("invert", false))
      fail("{}: pre_tokenizer Split with invert=true is not supported", where);
    const std::string b = j.value("behavior", std::string("Isolated"));
    Behavior behavior;
    if (b == "Removed")
      behavior = Behavior::kRemoved;
    else if (b == "Isolated")
      behavior = Behavior::kIsolated;
    else if (b == "MergedWithPrevious")
      behavior = Behavior::kMergedWithPrevious;
    else if (b == "MergedWithNext")
      behavior = Behavior::kMergedWithNext;
    else if (b == "Contiguous")
      behavior = Behavior::kContiguous;
    else
      fail("{}: pre_tokenizer Split behavior '{}' is not supported", where, b);
    add_regex(is_regex ? pat["Regex"].get<std::string>() : pat["String"].get<std::string>(),
              is_string, behavior, where);
  } else if (type == "ByteLevel") {
    if (j.value("add_prefix_space", false))
      fail("{}: pre_tokenizer ByteLevel with add_prefix_space=true is not supported", where);
    if (j.value("use_regex", true)) add_regex(kGpt2Pattern, false, Behavior::kIsolated, where);
    has_byte_level_ = true;
  } else {
    fail("{}: pre_tokenizer type '{}' is not supported (only Sequence, Split, ByteLevel)", where,
         type);
  }
}

void PreTokenizer::add_regex(const std::string& pattern, bool literal, Behavior b,
                             const std::string& where) {
  auto st = std::make_unique<Stage>();
  st->behavior = b;
  int err = 0;
  PCRE2_SIZE off = 0;
  // PCRE2_LITERAL admits no UCP (nothing to classify in a literal).
  const uint32_t opts = PCRE2_UTF | (literal ? PCRE2_LITERAL : PCRE2_UCP);
  st->code = pcre2_compile(reinterpret_cast<PCRE2_SPTR>(pattern.data()), pattern.size(), opts, &err,
                           &off, nullptr);
  if (!st->code)
    fail("{}: pre_tokenizer regex /{}/ does not compile at offset {}: {}", where, pattern, off,
         pcre2_message(err));
  // Without JIT (an unsupported CPU) matching still works, about five times slower.
  pcre2_jit_compile(st->code, PCRE2_JIT_COMPLETE);
  stages_.push_back(std::move(st));
}

void PreTokenizer::split_one(const Stage& st, std::string_view text, Piece p,
                             std::vector<Piece>& out) const {
  thread_local MatchData match;
  const auto* subject = reinterpret_cast<PCRE2_SPTR>(text.data() + p.begin);
  const size_t len = p.end - p.begin;
  // Segments of the piece alternate between unmatched gaps and matches; `Behavior` says how they
  // become pieces (Hugging Face's SplitDelimiterBehavior).
  const size_t first_out = out.size();
  bool last_was_match = false;
  bool have_last = false;
  auto emit = [&](size_t b, size_t e, bool is_match) {
    if (b == e) return;
    b += p.begin, e += p.begin;
    switch (st.behavior) {
      case Behavior::kRemoved:
        if (!is_match) out.push_back({b, e});
        break;
      case Behavior::kIsolated:
        out.push_back({b, e});
        break;
      case Behavior::kMergedWithPrevious:
        if (is_match && have_last && !last_was_match && out.size() > first_out)
          out.back().end = e;
        else
          out.push_back({b, e});
        break;
      case Behavior::kMergedWithNext:
        // A match is glued to the gap after it (not to a second match).
        if (!is_match && have_last && last_was_match && out.size() > first_out)
          out.back().end = e;
        else
          out.push_back({b, e});
        break;
      case Behavior::kContiguous:
        if (have_last && is_match == last_was_match && out.size() > first_out)
          out.back().end = e;
        else
          out.push_back({b, e});
        break;
    }
    last_was_match = is_match;
    have_last = true;
  };
  size_t prev = 0, off = 0;
  while (off < len) {
    const int rc = pcre2_match(st.code, subject, len, off, PCRE2_NO_UTF_CHECK, match.md, nullptr);
    if (rc == PCRE2_ERROR_NOMATCH) break;
    if (rc < 0) fail("pre-tokenizer regex failed: {}", pcre2_message(rc));
    const PCRE2_SIZE* ov = pcre2_get_ovector_pointer(match.md);
    const size_t ms = ov[0], me = ov[1];
    if (me == ms) {  // an empty match cuts nothing: step over one character
      off = ms + 1;
      while (off < len && (subject[off] & 0xC0) == 0x80) ++off;
      continue;
    }
    emit(prev, ms, false);
    emit(ms, me, true);
    prev = off = me;
  }
  emit(prev, len, false);
}

void PreTokenizer::split(std::string_view text, Piece whole, std::vector<Piece>& out,
                         std::vector<Piece>& scratch) const {
  if (whole.begin == whole.end) return;
  if (stages_.empty()) {
    out.push_back(whole);
    return;
  }
  // Stage k cuts every piece of stage k-1; the last stage writes straight into `out`.
  scratch.assign(1, whole);
  std::vector<Piece> next;
  for (size_t k = 0; k < stages_.size(); ++k) {
    const bool last = k + 1 == stages_.size();
    std::vector<Piece>& dst = last ? out : next;
    if (!last) next.clear();
    for (const Piece& p : scratch) split_one(*stages_[k], text, p, dst);
    if (!last) scratch.swap(next);
  }
}

}  // namespace dsv4
