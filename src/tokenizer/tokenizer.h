// A Hugging Face tokenizer.json (+ tokenizer_config.json) of the byte-level BPE kind DeepSeek uses:
// added tokens matched in the raw text first, then the pre-tokenizer's regex splits, then BPE over
// bytes; decoding maps the byte-level alphabet back to bytes. Anything else a tokenizer.json may
// hold (other models, normalizers, decoders, stripping flags) is refused with an error naming the
// file and the field, rather than tokenized subtly wrong. See docs/tokenizer.md.
#pragma once

#include <nlohmann/json_fwd.hpp>

#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace dsv4 {

class Bpe;
class PreTokenizer;
class AddedTokenMatcher;

class Tokenizer {
 public:
  // `path_or_dir`: a tokenizer.json, or a model directory holding one. tokenizer_config.json next
  // to it is read when present (BOS/EOS and add_bos_token).
  static std::unique_ptr<Tokenizer> load(const std::string& path_or_dir);
  // From the texts of the two files (`config_json` may be empty); `where` names them in errors.
  static std::unique_ptr<Tokenizer> from_json(std::string_view tokenizer_json,
                                              std::string_view config_json = {},
                                              const std::string& where = "tokenizer.json");
  ~Tokenizer();

  // Ids of `text`; added/special tokens written in the text become their single ids. Never adds
  // BOS (see add_bos()). Text that is not valid UTF-8 is refused with a dsv4::Error giving the
  // byte offset: utf8::replace_invalid() makes any bytes acceptable, lossily.
  std::vector<int32_t> encode(std::string_view text) const;

  // The bytes the ids stand for; with skip_special, tokens marked special are left out. Ids that
  // name no token (the model's padded vocabulary) decode to nothing, as in Hugging Face. The result
  // can end inside a UTF-8 character: StreamDecoder is for output shown as it is generated.
  std::string decode(std::span<const int32_t> ids, bool skip_special = false) const;

  std::optional<int32_t> token_id(std::string_view token) const;
  // The token as written in tokenizer.json (byte-level spelling for BPE tokens); empty if none.
  std::string_view token_text(int32_t id) const;
  // The bytes one token decodes to; empty if the id names no token.
  std::string_view token_bytes(int32_t id) const;
  bool is_token(int32_t id) const;
  bool is_special(int32_t id) const;
  // One more than the largest id (the model's embedding may be larger).
  int32_t vocab_size() const { return static_cast<int32_t>(text_.size()); }

  std::optional<int32_t> bos_id() const { return bos_; }
  std::optional<int32_t> eos_id() const { return eos_; }
  // tokenizer_config.json's add_bos_token (false without one). Callers that want it prepend bos_id:
  // DeepSeek's chat encoding writes BOS as text instead.
  bool add_bos() const { return add_bos_; }

  // Forgets cached BPE results (benchmarks measure the cold path with it).
  void clear_cache() const;

 private:
  Tokenizer();
  void build(const nlohmann::json& tok, const nlohmann::json* config, const std::string& where);
  void build_unchecked(const nlohmann::json& tok, const nlohmann::json* config,
                       const std::string& where);
  struct Scratch;
  void encode_gap(std::string_view text, size_t begin, size_t end, bool raw_pass,
                  std::vector<int32_t>& out, Scratch& s) const;

  enum Kind : uint8_t { kNone, kVocab, kAdded, kSpecial };
  std::vector<std::string> text_;
  std::vector<std::string> bytes_;
  std::vector<uint8_t> kind_;
  std::unordered_map<std::string, int32_t> ids_;
  std::unique_ptr<AddedTokenMatcher> raw_added_;         // normalized=false: matched first
  std::unique_ptr<AddedTokenMatcher> normalized_added_;  // then these, in what is left
  std::unique_ptr<PreTokenizer> pre_;
  std::unique_ptr<Bpe> bpe_;
  std::optional<int32_t> bos_, eos_;
  bool add_bos_ = false;
};

}  // namespace dsv4
