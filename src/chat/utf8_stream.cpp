#include "chat/utf8_stream.h"

#include <cstdint>

namespace dsv4::chat {
namespace {

constexpr std::string_view kReplacement = "\xEF\xBF\xBD";

// Length of the sequence a lead byte starts, and the allowed range of its second byte
// (RFC 3629: this excludes overlongs, surrogates and code points above U+10FFFF). 0: not a lead.
int sequence_length(uint8_t b, uint8_t* lo, uint8_t* hi) {
  *lo = 0x80;
  *hi = 0xBF;
  if (b < 0x80) return 1;
  if (b >= 0xC2 && b <= 0xDF) return 2;
  if (b >= 0xE0 && b <= 0xEF) {
    if (b == 0xE0) *lo = 0xA0;
    if (b == 0xED) *hi = 0x9F;
    return 3;
  }
  if (b >= 0xF0 && b <= 0xF4) {
    if (b == 0xF0) *lo = 0x90;
    if (b == 0xF4) *hi = 0x8F;
    return 4;
  }
  return 0;
}

}  // namespace

std::string Utf8Stream::push(std::string_view bytes) {
  pending_.append(bytes);
  return convert(false);
}

std::string Utf8Stream::finish() {
  return convert(true);
}

std::string Utf8Stream::convert(bool at_end) {
  std::string out;
  out.reserve(pending_.size());
  size_t i = 0;
  const size_t n = pending_.size();
  while (i < n) {
    uint8_t lo, hi;
    int len = sequence_length(static_cast<uint8_t>(pending_[i]), &lo, &hi);
    if (len == 1) {
      out.push_back(pending_[i++]);
      continue;
    }
    int got = 1;
    bool valid = len > 0;
    for (; valid && got < len && i + got < n; ++got) {
      uint8_t c = static_cast<uint8_t>(pending_[i + got]);
      uint8_t min = got == 1 ? lo : 0x80, max = got == 1 ? hi : 0xBF;
      valid = c >= min && c <= max;
    }
    if (valid && got == len) {
      out.append(pending_, i, len);
      i += len;
    } else if (valid && !at_end) {
      break;  // a valid prefix cut by the chunk boundary: wait for the rest
    } else {
      out.append(kReplacement);
      ++i;
    }
  }
  pending_.erase(0, i);
  return out;
}

}  // namespace dsv4::chat
