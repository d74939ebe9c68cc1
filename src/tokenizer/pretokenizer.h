// The pre-tokenizer of tokenizer.json: a sequence of regex `Split` stages (PCRE2 with UTF + UCP,
// JIT-compiled), each cutting every piece of the stage before into smaller pieces, and the
// `ByteLevel` stage (whose byte mapping the BPE does on ids; with use_regex it also splits with
// GPT-2's pattern). Pieces never cross: each piece is matched as its own subject, so a lookahead
// such as `\s+(?!\S)` cannot see the next piece, as in Hugging Face.
#pragma once

#include <nlohmann/json_fwd.hpp>

#include <cstddef>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace dsv4 {

class PreTokenizer {
 public:
  struct Piece {
    size_t begin, end;
  };

  // `j` is the "pre_tokenizer" value; `where` names the file for errors. Throws dsv4::Error for
  // anything other than Split / ByteLevel (add_prefix_space=false) in a Sequence.
  PreTokenizer(const nlohmann::json& j, const std::string& where);
  ~PreTokenizer();
  PreTokenizer(const PreTokenizer&) = delete;
  PreTokenizer& operator=(const PreTokenizer&) = delete;

  // Splits [begin, end) of `text`, which must be valid UTF-8 (not checked again), appending the
  // pieces in order. `scratch` is reused between calls to avoid allocations.
  void split(std::string_view text, Piece whole, std::vector<Piece>& out,
             std::vector<Piece>& scratch) const;

  bool has_byte_level() const { return has_byte_level_; }

 private:
  enum class Behavior { kRemoved, kIsolated, kMergedWithPrevious, kMergedWithNext, kContiguous };
  struct Stage;
  void add_stage(const nlohmann::json& j, const std::string& where);
  void add_regex(const std::string& pattern, bool literal, Behavior b, const std::string& where);
  void split_one(const Stage& st, std::string_view text, Piece p, std::vector<Piece>& out) const;

  std::vector<std::unique_ptr<Stage>> stages_;
  bool has_byte_level_ = false;
};

}  // namespace dsv4
