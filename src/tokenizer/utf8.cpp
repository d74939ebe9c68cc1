#include "tokenizer/utf8.h"

#include <cstdint>
#include <cstring>

namespace dsv4::utf8 {

Seq classify(std::string_view s, size_t i) {
  const auto* p = reinterpret_cast<const unsigned char*>(s.data()) + i;
  const size_t n = s.size() - i;
  const unsigned c = p[0];
  if (c < 0x80) return {SeqKind::kValid, 1};
  size_t need = 0;
  unsigned lo = 0x80, hi = 0xBF;  // the range of the second byte, which rules out the bad cases
  if (c >= 0xC2 && c <= 0xDF) {
    need = 1;
  } else if (c == 0xE0) {
    need = 2, lo = 0xA0;  // overlong
  } else if (c >= 0xE1 && c <= 0xEF) {
    need = 2;
    if (c == 0xED) hi = 0x9F;  // surrogates
  } else if (c == 0xF0) {
    need = 3, lo = 0x90;  // overlong
  } else if (c >= 0xF1 && c <= 0xF3) {
    need = 3;
  } else if (c == 0xF4) {
    need = 3, hi = 0x8F;  // above U+10FFFF
  } else {
    return {SeqKind::kInvalid, 1};
  }
  for (size_t k = 1; k <= need; ++k) {
    if (k >= n) return {SeqKind::kTruncated, k};
    const unsigned b = p[k];
    if (b < lo || b > hi) return {SeqKind::kInvalid, k};
    lo = 0x80, hi = 0xBF;
  }
  return {SeqKind::kValid, need + 1};
}

size_t find_invalid(std::string_view s) {
  size_t i = 0;
  while (i < s.size()) {
    // ASCII dominates most text: skip it eight bytes at a time.
    while (i + 8 <= s.size()) {
      uint64_t w;
      std::memcpy(&w, s.data() + i, 8);
      if (w & 0x8080808080808080ULL) break;
      i += 8;
    }
    if (i >= s.size()) break;
    const Seq q = classify(s, i);
    if (q.kind != SeqKind::kValid) return i;
    i += q.len;
  }
  return std::string_view::npos;
}

std::string replace_invalid(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  size_t i = 0;
  while (i < s.size()) {
    const Seq q = classify(s, i);
    if (q.kind == SeqKind::kValid)
      out.append(s.substr(i, q.len));
    else
      out.append(kReplacement);
    i += q.len;
  }
  return out;
}

char32_t next_char(std::string_view s, size_t& i) {
  const auto* p = reinterpret_cast<const unsigned char*>(s.data());
  const unsigned c = p[i];
  if (c < 0x80) return p[i++];
  size_t len = c >= 0xF0 ? 4 : c >= 0xE0 ? 3 : 2;
  char32_t cp = c & (0x7F >> len);
  for (size_t k = 1; k < len && i + k < s.size(); ++k) cp = (cp << 6) | (p[i + k] & 0x3F);
  i += len;
  return cp;
}

void append_char(std::string& out, char32_t c) {
  if (c < 0x80) {
    out += static_cast<char>(c);
  } else if (c < 0x800) {
    out += static_cast<char>(0xC0 | (c >> 6));
    out += static_cast<char>(0x80 | (c & 0x3F));
  } else if (c < 0x10000) {
    out += static_cast<char>(0xE0 | (c >> 12));
    out += static_cast<char>(0x80 | ((c >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (c & 0x3F));
  } else {
    out += static_cast<char>(0xF0 | (c >> 18));
    out += static_cast<char>(0x80 | ((c >> 12) & 0x3F));
    out += static_cast<char>(0x80 | ((c >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (c & 0x3F));
  }
}

}  // namespace dsv4::utf8
