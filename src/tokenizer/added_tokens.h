// Finds added tokens (special markers such as "<｜User｜>") in raw text before any pre-tokenizing:
// a byte trie searched leftmost-longest, which is what Hugging Face's Aho-Corasick split does.
#pragma once

#include <cstdint>
#include <optional>
#include <string_view>
#include <vector>

namespace dsv4 {

class AddedTokenMatcher {
 public:
  struct Match {
    size_t pos, len;
    int32_t id;
  };

  void add(std::string_view content, int32_t id);
  bool empty() const { return nodes_.size() <= 1; }

  // The leftmost match at or after `from`; the longest one when several start there.
  std::optional<Match> find(std::string_view text, size_t from) const;

 private:
  struct Node {
    std::vector<std::pair<uint8_t, int32_t>> next;  // byte -> node; few children per node
    int32_t id = -1;
  };
  int32_t child(int32_t node, uint8_t b) const;

  std::vector<Node> nodes_{Node{}};
  bool starts_[256] = {};
};

}  // namespace dsv4
