#include "tokenizer/byte_level.h"

#include <array>

#include "tokenizer/utf8.h"

namespace dsv4::byte_level {

namespace {

struct Tables {
  std::array<char32_t, 256> to_char{};
  std::array<int16_t, 512> to_byte{};  // every stand-in is below U+0200; -1: not in the alphabet
  Tables() {
    to_byte.fill(-1);
    char32_t next = 256;
    for (int b = 0; b < 256; ++b) {
      const bool printable = (b >= '!' && b <= '~') || (b >= 0xA1 && b <= 0xAC) || b >= 0xAE;
      to_char[b] = printable ? static_cast<char32_t>(b) : next++;
      to_byte[to_char[b]] = static_cast<int16_t>(b);
    }
  }
};

const Tables& tables() {
  static const Tables t;
  return t;
}

}  // namespace

char32_t byte_to_char(uint8_t b) {
  return tables().to_char[b];
}

std::string encode(std::string_view bytes) {
  std::string out;
  for (char c : bytes) utf8::append_char(out, tables().to_char[static_cast<uint8_t>(c)]);
  return out;
}

std::string decode(std::string_view text) {
  std::string out;
  size_t i = 0;
  while (i < text.size()) {
    const char32_t c = utf8::next_char(text, i);
    if (c >= 512 || tables().to_byte[c] < 0) return std::string(text);
    out += static_cast<char>(tables().to_byte[c]);
  }
  return out;
}

}  // namespace dsv4::byte_level
