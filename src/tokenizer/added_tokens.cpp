#include "tokenizer/added_tokens.h"

namespace dsv4 {

int32_t AddedTokenMatcher::child(int32_t node, uint8_t b) const {
  for (const auto& [c, n] : nodes_[node].next)
    if (c == b) return n;
  return -1;
}

void AddedTokenMatcher::add(std::string_view content, int32_t id) {
  if (content.empty()) return;
  starts_[static_cast<uint8_t>(content[0])] = true;
  int32_t node = 0;
  for (char ch : content) {
    const auto b = static_cast<uint8_t>(ch);
    int32_t n = child(node, b);
    if (n < 0) {
      n = static_cast<int32_t>(nodes_.size());
      nodes_[node].next.emplace_back(b, n);
      nodes_.emplace_back();
    }
    node = n;
  }
  // A content listed twice keeps its first id.
  if (nodes_[node].id < 0) nodes_[node].id = id;
}

std::optional<AddedTokenMatcher::Match> AddedTokenMatcher::find(std::string_view text,
                                                                size_t from) const {
  if (empty()) return std::nullopt;
  for (size_t i = from; i < text.size(); ++i) {
    if (!starts_[static_cast<uint8_t>(text[i])]) continue;
    int32_t node = 0;
    std::optional<Match> best;
    for (size_t j = i; j < text.size(); ++j) {
      node = child(node, static_cast<uint8_t>(text[j]));
      if (node < 0) break;
      if (nodes_[node].id >= 0) best = Match{i, j + 1 - i, nodes_[node].id};
    }
    if (best) return best;
  }
  return std::nullopt;
}

}  // namespace dsv4
