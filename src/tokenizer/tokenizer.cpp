#include "tokenizer/tokenizer.h"

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "tokenizer/added_tokens.h"
#include "tokenizer/bpe.h"
#include "tokenizer/byte_level.h"
#include "tokenizer/pretokenizer.h"
#include "tokenizer/utf8.h"
#include "util/error.h"

namespace dsv4 {

namespace fs = std::filesystem;
using json = nlohmann::json;

namespace {

// Far above any real vocabulary (DeepSeek: 129,280), low enough that a corrupt id cannot make
// the tables take gigabytes.
constexpr int64_t kMaxTokenId = (1 << 24) - 1;

std::string read_text(const fs::path& p) {
  std::ifstream f(p, std::ios::binary);
  if (!f) fail("{}: cannot read the file", p.string());
  std::stringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

json parse(std::string_view text, const std::string& where) {
  try {
    return json::parse(text);
  } catch (const json::exception& e) {
    fail("{}: not valid JSON: {}", where, e.what());
  }
}

// A normalizer that changes nothing: null, or (nested) Sequences of nothing.
bool is_identity_normalizer(const json& n) {
  if (n.is_null()) return true;
  if (!n.is_object() || n.value("type", "") != "Sequence" || !n.contains("normalizers") ||
      !n["normalizers"].is_array())
    return false;
  for (const auto& s : n["normalizers"])
    if (!is_identity_normalizer(s)) return false;
  return true;
}

bool is_byte_level_decoder(const json& d) {
  if (d.is_null()) return true;
  if (!d.is_object()) return false;
  const std::string type = d.value("type", "");
  if (type == "ByteLevel") return true;
  if (type != "Sequence" || !d.contains("decoders") || !d["decoders"].is_array()) return false;
  for (const auto& s : d["decoders"])
    if (!is_byte_level_decoder(s)) return false;
  return true;
}

int32_t checked_id(const json& v, const std::string& where, const std::string& what) {
  if (!v.is_number_integer() || v.get<int64_t>() < 0 || v.get<int64_t>() > kMaxTokenId)
    fail("{}: {}: id {} is not a token id in 0..{}", where, what, v.dump(), kMaxTokenId);
  return static_cast<int32_t>(v.get<int64_t>());
}

// bos_token / eos_token of tokenizer_config.json: a string or an AddedToken object.
std::optional<std::string> config_token(const json& config, const char* key) {
  if (!config.contains(key)) return std::nullopt;
  const json& v = config[key];
  if (v.is_string()) return v.get<std::string>();
  if (v.is_object() && v.contains("content") && v["content"].is_string())
    return v["content"].get<std::string>();
  return std::nullopt;
}

}  // namespace

struct Tokenizer::Scratch {
  std::vector<PreTokenizer::Piece> pieces, stage;
};

Tokenizer::Tokenizer() = default;
Tokenizer::~Tokenizer() = default;

std::unique_ptr<Tokenizer> Tokenizer::load(const std::string& path_or_dir) {
  fs::path p(path_or_dir);
  std::error_code ec;
  if (fs::is_directory(p, ec)) {
    p /= "tokenizer.json";
    if (!fs::exists(p, ec)) fail("{}: no tokenizer.json in this directory", path_or_dir);
  } else if (!fs::exists(p, ec)) {
    fail("{}: no such file or directory", path_or_dir);
  }
  const std::string tok_text = read_text(p);
  const fs::path cfg = p.parent_path() / "tokenizer_config.json";
  const std::string cfg_text = fs::exists(cfg, ec) ? read_text(cfg) : std::string();
  std::unique_ptr<Tokenizer> t(new Tokenizer());
  const json tok = parse(tok_text, p.string());
  if (cfg_text.empty()) {
    t->build(tok, nullptr, p.string());
  } else {
    const json config = parse(cfg_text, cfg.string());
    t->build(tok, &config, p.string());
  }
  return t;
}

std::unique_ptr<Tokenizer> Tokenizer::from_json(std::string_view tokenizer_json,
                                                std::string_view config_json,
                                                const std::string& where) {
  std::unique_ptr<Tokenizer> t(new Tokenizer());
  const json tok = parse(tokenizer_json, where);
  if (config_json.empty()) {
    t->build(tok, nullptr, where);
  } else {
    const json config = parse(config_json, where + " (tokenizer_config)");
    t->build(tok, &config, where);
  }
  return t;
}

void Tokenizer::build(const json& tok, const json* config, const std::string& where) {
  // The checks below name the field for every mistake they anticipate; a value of a type nobody
  // anticipated (a number where a string belongs) still ends as a dsv4::Error naming the file.
  try {
    build_unchecked(tok, config, where);
  } catch (const json::exception& e) {
    fail("{}: unexpected JSON content: {}", where, e.what());
  }
}

void Tokenizer::build_unchecked(const json& tok, const json* config, const std::string& where) {
  if (!tok.is_object()) fail("{}: not a tokenizer.json (the top level is not an object)", where);
  if (!tok.contains("model") || !tok["model"].is_object())
    fail("{}: no \"model\" object: not a tokenizer.json", where);
  const json& model = tok["model"];
  if (model.value("type", "BPE") != "BPE")
    fail("{}: model type '{}' is not supported (only byte-level BPE)", where,
         model.value("type", ""));
  if (model.contains("dropout") && !model["dropout"].is_null() && model["dropout"] != 0)
    fail("{}: model.dropout is not supported", where);
  for (const char* key : {"continuing_subword_prefix", "end_of_word_suffix"})
    if (model.contains(key) && !model[key].is_null() && model[key] != "")
      fail("{}: model.{} is not supported", where, key);
  for (const char* key : {"byte_fallback", "ignore_merges"})
    if (model.value(key, false)) fail("{}: model.{}=true is not supported", where, key);
  if (!is_identity_normalizer(tok.value("normalizer", json())))
    fail("{}: normalizer {} is not supported (only none or an empty Sequence)", where,
         tok["normalizer"].dump().substr(0, 80));
  if (!is_byte_level_decoder(tok.value("decoder", json())))
    fail("{}: decoder {} is not supported (only ByteLevel)", where,
         tok["decoder"].dump().substr(0, 80));
  pre_ = std::make_unique<PreTokenizer>(tok.value("pre_tokenizer", json()), where);
  if (!pre_->has_byte_level())
    fail("{}: pre_tokenizer has no ByteLevel stage: not a byte-level BPE tokenizer", where);

  // The vocabulary, then added tokens on top (they win where both name an id).
  if (!model.contains("vocab") || !model["vocab"].is_object())
    fail("{}: model.vocab is missing or not an object", where);
  std::unordered_map<std::string, int32_t> vocab;
  int32_t max_id = -1;
  for (const auto& [text, v] : model["vocab"].items()) {
    const int32_t id = checked_id(v, where, "model.vocab[\"" + text + "\"]");
    vocab.emplace(text, id);
    max_id = std::max(max_id, id);
  }
  const json added = tok.value("added_tokens", json::array());
  if (!added.is_array()) fail("{}: added_tokens is not a list", where);
  for (const auto& a : added) {
    if (!a.is_object() || !a.contains("content") || !a["content"].is_string() || !a.contains("id"))
      fail("{}: added_tokens: every entry needs \"id\" and \"content\"", where);
    max_id = std::max(max_id, checked_id(a["id"], where, "added_tokens"));
  }
  text_.assign(static_cast<size_t>(max_id + 1), std::string());
  bytes_.assign(text_.size(), std::string());
  kind_.assign(text_.size(), kNone);
  for (const auto& [text, id] : vocab) {
    text_[id] = text;
    kind_[id] = kVocab;
    ids_[text] = id;
  }
  raw_added_ = std::make_unique<AddedTokenMatcher>();
  normalized_added_ = std::make_unique<AddedTokenMatcher>();
  for (const auto& a : added) {
    const std::string content = a["content"];
    const int32_t id = a["id"].get<int32_t>();
    if (content.empty()) fail("{}: added token {} has empty content", where, id);
    for (const char* flag : {"lstrip", "rstrip", "single_word"})
      if (a.value(flag, false))
        fail("{}: added token '{}' has {}=true, which is not supported", where, content, flag);
    text_[id] = content;
    kind_[id] = a.value("special", false) ? kSpecial : kAdded;
    ids_[content] = id;
    (a.value("normalized", !a.value("special", false)) ? normalized_added_ : raw_added_)
        ->add(content, id);
  }
  for (size_t id = 0; id < text_.size(); ++id)
    if (kind_[id] != kNone) bytes_[id] = byte_level::decode(text_[id]);

  std::array<int32_t, 256> byte_ids;
  for (int b = 0; b < 256; ++b) {
    std::string s;
    utf8::append_char(s, byte_level::byte_to_char(static_cast<uint8_t>(b)));
    auto it = vocab.find(s);
    if (it == vocab.end())
      fail("{}: model.vocab lacks the byte-level token '{}' for byte 0x{:02X}", where, s, b);
    byte_ids[b] = it->second;
  }
  if (!model.contains("merges") || !model["merges"].is_array())
    fail("{}: model.merges is missing or not a list", where);
  std::vector<Bpe::Merge> merges;
  merges.reserve(model["merges"].size());
  for (const auto& m : model["merges"]) {
    // Older files write "a b", newer ones ["a", "b"].
    std::string left, right;
    if (m.is_string()) {
      const std::string s = m;
      const size_t sp = s.find(' ');
      if (sp == std::string::npos || sp == 0 || sp + 1 == s.size())
        fail("{}: merge \"{}\" is not two tokens separated by a space", where, s);
      left = s.substr(0, sp), right = s.substr(sp + 1);
    } else if (m.is_array() && m.size() == 2 && m[0].is_string() && m[1].is_string()) {
      left = m[0], right = m[1];
    } else {
      fail("{}: merge {} is neither \"a b\" nor [\"a\", \"b\"]", where, m.dump().substr(0, 80));
    }
    const auto l = vocab.find(left), r = vocab.find(right), mm = vocab.find(left + right);
    if (l == vocab.end() || r == vocab.end() || mm == vocab.end())
      fail("{}: merge \"{} {}\" uses a token that is not in model.vocab", where, left, right);
    merges.push_back({l->second, r->second, mm->second});
  }
  bpe_ = std::make_unique<Bpe>(byte_ids, merges);

  if (config) {
    if (!config->is_object()) fail("{}: tokenizer_config.json is not an object", where);
    auto resolve = [&](const char* key) -> std::optional<int32_t> {
      const auto t = config_token(*config, key);
      if (!t) return std::nullopt;
      const auto id = token_id(*t);
      if (!id) fail("{}: tokenizer_config.json {} '{}' is not a token", where, key, *t);
      return id;
    };
    bos_ = resolve("bos_token");
    eos_ = resolve("eos_token");
    const json& ab = config->value("add_bos_token", json(false));
    add_bos_ = ab.is_boolean() && ab.get<bool>();
    if (add_bos_ && !bos_)
      fail("{}: tokenizer_config.json sets add_bos_token but names no bos_token", where);
  }
}

void Tokenizer::encode_gap(std::string_view text, size_t begin, size_t end, bool raw_pass,
                           std::vector<int32_t>& out, Scratch& s) const {
  // Hugging Face matches added tokens in two passes: normalized=false ones on the raw text, then
  // normalized=true ones on the normalized remainder (the normalizer here is the identity).
  const AddedTokenMatcher& m = raw_pass ? *raw_added_ : *normalized_added_;
  const std::string_view upto = text.substr(0, end);
  size_t pos = begin;
  while (pos < end) {
    const auto hit = m.find(upto, pos);
    const size_t gap_end = hit ? hit->pos : end;
    if (gap_end > pos) {
      if (raw_pass) {
        encode_gap(text, pos, gap_end, false, out, s);
      } else {
        s.pieces.clear();
        pre_->split(text, {pos, gap_end}, s.pieces, s.stage);
        for (const auto& p : s.pieces)
          bpe_->encode_piece(text.substr(p.begin, p.end - p.begin), out);
      }
    }
    if (!hit) break;
    out.push_back(hit->id);
    pos = hit->pos + hit->len;
  }
}

std::vector<int32_t> Tokenizer::encode(std::string_view text) const {
  if (const size_t bad = utf8::find_invalid(text); bad != std::string_view::npos)
    fail("text is not valid UTF-8: byte {} (0x{:02X}) starts no well-formed character", bad,
         static_cast<uint8_t>(text[bad]));
  std::vector<int32_t> out;
  out.reserve(text.size() / 3);
  Scratch s;
  encode_gap(text, 0, text.size(), true, out, s);
  return out;
}

std::string Tokenizer::decode(std::span<const int32_t> ids, bool skip_special) const {
  std::string out;
  for (const int32_t id : ids) {
    if (!is_token(id) || (skip_special && kind_[id] == kSpecial)) continue;
    out += bytes_[id];
  }
  return out;
}

std::optional<int32_t> Tokenizer::token_id(std::string_view token) const {
  const auto it = ids_.find(std::string(token));
  if (it == ids_.end()) return std::nullopt;
  return it->second;
}

bool Tokenizer::is_token(int32_t id) const {
  return id >= 0 && id < vocab_size() && kind_[id] != kNone;
}

bool Tokenizer::is_special(int32_t id) const {
  return is_token(id) && kind_[id] == kSpecial;
}

std::string_view Tokenizer::token_text(int32_t id) const {
  return is_token(id) ? std::string_view(text_[id]) : std::string_view();
}

std::string_view Tokenizer::token_bytes(int32_t id) const {
  return is_token(id) ? std::string_view(bytes_[id]) : std::string_view();
}

void Tokenizer::clear_cache() const {
  bpe_->clear_cache();
}

}  // namespace dsv4
