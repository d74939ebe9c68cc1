// GPT-2's byte-level alphabet: every byte has a printable stand-in character, so a BPE vocabulary
// of strings can cover arbitrary bytes. Printable Latin-1 bytes stand for themselves; the other 68
// map to U+0100.. in byte order (space is 'Ġ' U+0120, newline 'Ċ' U+010A).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace dsv4::byte_level {

char32_t byte_to_char(uint8_t b);

// The byte-level spelling of raw bytes (what the vocabulary of tokenizer.json is written in).
std::string encode(std::string_view bytes);

// The bytes a token's text stands for. Like Hugging Face's ByteLevel decoder, a text with any
// character outside the alphabet (an added token such as "<｜User｜>") stands for its own UTF-8.
std::string decode(std::string_view text);

}  // namespace dsv4::byte_level
