// Strict UTF-8 (Unicode Table 3-7: no overlongs, no surrogates, nothing above U+10FFFF). The
// tokenizer validates text once with this and then lets PCRE2 skip its own check; the stream
// decoder uses it to hold back a character whose bytes are split across tokens.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

namespace dsv4::utf8 {

enum class SeqKind { kValid, kInvalid, kTruncated };

struct Seq {
  SeqKind kind;
  // kValid: the sequence length. kInvalid: the maximal ill-formed subpart (>= 1 byte), the unit
  // that one U+FFFD replaces. kTruncated: the bytes present, a valid prefix cut by the end.
  size_t len;
};

// Classifies the sequence starting at s[i] (i < s.size()).
Seq classify(std::string_view s, size_t i);

// Offset of the first byte that does not start a well-formed sequence, or npos when s is valid.
size_t find_invalid(std::string_view s);

// s with every maximal ill-formed subpart (and a truncated tail) replaced by U+FFFD.
std::string replace_invalid(std::string_view s);

// Decodes the character at s[i] of valid text and advances i past it.
char32_t next_char(std::string_view s, size_t& i);

void append_char(std::string& out, char32_t c);

inline constexpr std::string_view kReplacement = "\xEF\xBF\xBD";

}  // namespace dsv4::utf8
