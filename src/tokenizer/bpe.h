// Byte-pair encoding of one pre-tokenized piece: start from one id per byte, then repeatedly merge
// the adjacent pair with the lowest merge rank (leftmost first among equal ranks), as Hugging Face
// `tokenizers` does. Works on ids, never on strings: the pair -> (rank, merged id) table is an
// open-addressing hash keyed on the two ids. Results for short pieces are cached because natural
// text repeats its words.
#pragma once

#include <array>
#include <cstdint>
#include <mutex>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace dsv4 {

class Bpe {
 public:
  struct Merge {
    int32_t left, right, merged;
  };

  // byte_ids[b]: the id of the one-byte token for byte b. merges: in rank order (rank = index); a
  // pair listed twice keeps its later rank, as in Hugging Face.
  Bpe(const std::array<int32_t, 256>& byte_ids, std::span<const Merge> merges);

  // Appends the ids of one piece of raw bytes.
  void encode_piece(std::string_view bytes, std::vector<int32_t>& out) const;

  void clear_cache() const;

 private:
  struct Slot {
    uint64_t key;  // kEmpty or (left << 32 | right)
    int32_t rank;
    int32_t merged;
  };
  static constexpr uint64_t kEmpty = ~uint64_t{0};

  const Slot* find(int32_t left, int32_t right) const;
  void merge_small(std::vector<int32_t>& ids) const;
  void merge_large(std::vector<int32_t>& ids) const;

  std::array<int32_t, 256> byte_ids_;
  std::vector<Slot> slots_;
  uint64_t mask_ = 0;

  struct StringHash {
    using is_transparent = void;
    size_t operator()(std::string_view s) const { return std::hash<std::string_view>{}(s); }
  };
  mutable std::mutex cache_mu_;
  mutable std::unordered_map<std::string, std::vector<int32_t>, StringHash, std::equal_to<>> cache_;
};

}  // namespace dsv4
