// libFuzzer target for the tokenizer: encode arbitrary bytes, decode and stream arbitrary ids, and
// parse arbitrary tokenizer.json text. Refuse cleanly, never crash; and on valid text,
// decode(encode(x)) == x and the stream decoder emits only valid UTF-8.
#include <nlohmann/json.hpp>

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <string_view>
#include <vector>

#include "tokenizer/byte_level.h"
#include "tokenizer/stream_decoder.h"
#include "tokenizer/tokenizer.h"
#include "tokenizer/utf8.h"
#include "util/error.h"

namespace {

// A small tokenizer.json with DeepSeek's pre-tokenizer: the 256 byte tokens, a few merges, and
// added tokens (special and not) that share prefixes.
std::string tiny_tokenizer_json() {
  using json = nlohmann::json;
  json vocab = json::object();
  int id = 0;
  for (int b = 0; b < 256; ++b)
    vocab[dsv4::byte_level::encode(std::string(1, static_cast<char>(b)))] = id++;
  json merges = json::array();
  for (const char* m : {" t", "he", " the", "in", "ing", "12", "123", "深度", "\n\n", "  "}) {
    const std::string s = m;
    const size_t cut = s.size() == 3 && s[0] != ' ' ? 2 : s.size() == 6 ? 3 : s.size() / 2;
    const std::string l = dsv4::byte_level::encode(s.substr(0, cut));
    const std::string r = dsv4::byte_level::encode(s.substr(cut));
    for (const std::string& part : {l, r})
      if (!vocab.contains(part)) vocab[part] = id++;
    if (!vocab.contains(l + r)) vocab[l + r] = id++;
    merges.push_back(l + " " + r);
  }
  json added = json::array();
  int aid = id + 5;  // leave a hole of ids that name no token
  for (const char* a : {"<｜User｜>", "<｜User｜>x", "<think>", "</think>", "｜DSML｜", "<|EOT|>"})
    added.push_back({{"id", aid++}, {"content", a}, {"special", aid % 2 == 0}});
  json split3 = {
      {"type", "Split"},
      {"pattern",
       {{"Regex",
         "[!\"#$%&'()*+,\\-./:;<=>?@\\[\\\\\\]^_`{|}~][A-Za-z]+|[^\r\n\\p{L}\\p{P}\\p{S}]?"
         "[\\p{L}\\p{M}]+| ?[\\p{P}\\p{S}]+[\r\n]*|\\s*[\r\n]+|\\s+(?!\\S)|\\s+"}}},
      {"behavior", "Isolated"}};
  json pre = {
      {"type", "Sequence"},
      {"pretokenizers",
       {{{"type", "Split"}, {"pattern", {{"Regex", "\\p{N}{1,3}"}}}, {"behavior", "Isolated"}},
        {{"type", "Split"},
         {"pattern", {{"Regex", "[一-龥぀-ゟ゠-ヿ]+"}}},
         {"behavior", "Isolated"}},
        split3,
        {{"type", "ByteLevel"}, {"add_prefix_space", false}, {"use_regex", false}}}}};
  json tok = {{"model", {{"type", "BPE"}, {"vocab", vocab}, {"merges", merges}}},
              {"pre_tokenizer", pre},
              {"decoder", {{"type", "ByteLevel"}}},
              {"added_tokens", added}};
  return tok.dump();
}

const dsv4::Tokenizer& tokenizer() {
  static const auto t = dsv4::Tokenizer::from_json(tiny_tokenizer_json(), "", "fuzz");
  return *t;
}

void check_round_trip(std::string_view text) {
  const dsv4::Tokenizer& t = tokenizer();
  const std::vector<int32_t> ids = t.encode(text);
  if (t.decode(ids) != text) std::abort();
  dsv4::StreamDecoder sd(t);
  std::string streamed;
  for (int32_t id : ids) streamed += sd.push(id);
  streamed += sd.flush();
  if (streamed != text) std::abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  const std::string_view rest(reinterpret_cast<const char*>(data) + 1, size - 1);
  switch (data[0] % 3) {
    case 0:  // text
      if (dsv4::utf8::find_invalid(rest) == std::string_view::npos) {
        check_round_trip(rest);
      } else {
        try {
          tokenizer().encode(rest);
          std::abort();  // invalid UTF-8 must be refused
        } catch (const dsv4::Error&) {
        }
        check_round_trip(dsv4::utf8::replace_invalid(rest));
      }
      break;
    case 1: {  // ids, including negative, unknown and out-of-range ones
      std::vector<int32_t> ids(rest.size() / 4);
      std::memcpy(ids.data(), rest.data(), ids.size() * 4);
      for (auto& id : ids)
        if (id % 7 != 0) id = static_cast<int32_t>(static_cast<uint32_t>(id) % 300);
      (void)tokenizer().decode(ids, data[0] & 8);
      dsv4::StreamDecoder sd(tokenizer(), data[0] & 16);
      for (int32_t id : ids)
        if (dsv4::utf8::find_invalid(sd.push(id)) != std::string_view::npos) std::abort();
      if (dsv4::utf8::find_invalid(sd.flush()) != std::string_view::npos) std::abort();
      break;
    }
    case 2:  // a tokenizer.json
      try {
        const auto t = dsv4::Tokenizer::from_json(rest, "", "fuzz");
        (void)t->encode("hello 123 <think> 深度");
      } catch (const dsv4::Error&) {
      }
      break;
  }
  return 0;
}
