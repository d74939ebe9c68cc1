#include "tokenizer/bpe.h"

#include <bit>
#include <climits>
#include <queue>

namespace dsv4 {

namespace {

// Pieces longer than this are rarely repeated (runs of spaces or digits, base64): not cached.
constexpr size_t kMaxCachedPiece = 256;
// Bounds the cache's memory on a long-running server; refilling it is cheap.
constexpr size_t kMaxCacheEntries = 1 << 17;
// The quadratic rescan of an int array beats a heap on pieces up to this many bytes, which are
// nearly all of them.
constexpr size_t kSmallPiece = 96;

uint64_t pair_key(int32_t left, int32_t right) {
  return (uint64_t{static_cast<uint32_t>(left)} << 32) | static_cast<uint32_t>(right);
}

uint64_t mix(uint64_t k) {
  k ^= k >> 29;
  k *= 0xBF58476D1CE4E5B9ULL;
  k ^= k >> 32;
  return k;
}

}  // namespace

Bpe::Bpe(const std::array<int32_t, 256>& byte_ids, std::span<const Merge> merges)
    : byte_ids_(byte_ids) {
  const size_t cap = std::bit_ceil(std::max<size_t>(16, merges.size() * 2));
  slots_.assign(cap, Slot{kEmpty, 0, 0});
  mask_ = cap - 1;
  for (size_t r = 0; r < merges.size(); ++r) {
    const uint64_t key = pair_key(merges[r].left, merges[r].right);
    for (uint64_t h = mix(key) & mask_;; h = (h + 1) & mask_) {
      Slot& s = slots_[h];
      if (s.key == kEmpty || s.key == key) {
        s = Slot{key, static_cast<int32_t>(r), merges[r].merged};
        break;
      }
    }
  }
}

const Bpe::Slot* Bpe::find(int32_t left, int32_t right) const {
  const uint64_t key = pair_key(left, right);
  for (uint64_t h = mix(key) & mask_;; h = (h + 1) & mask_) {
    const Slot& s = slots_[h];
    if (s.key == key) return &s;
    if (s.key == kEmpty) return nullptr;
  }
}

// Keeps the rank of every adjacent pair; a merge looks up only the two pairs it changes, so the
// hash is probed O(n) times and the rest is a scan over a small int array.
void Bpe::merge_small(std::vector<int32_t>& ids) const {
  struct PairRank {
    int32_t rank, merged;
  };
  thread_local std::vector<PairRank> pairs;
  auto rank_of = [&](size_t i) {
    const Slot* s = find(ids[i], ids[i + 1]);
    return s ? PairRank{s->rank, s->merged} : PairRank{INT32_MAX, 0};
  };
  pairs.resize(ids.size() - 1);
  for (size_t i = 0; i + 1 < ids.size(); ++i) pairs[i] = rank_of(i);
  while (!pairs.empty()) {
    size_t best = 0;
    for (size_t i = 1; i < pairs.size(); ++i)
      if (pairs[i].rank < pairs[best].rank) best = i;
    if (pairs[best].rank == INT32_MAX) return;
    ids[best] = pairs[best].merged;
    ids.erase(ids.begin() + static_cast<ptrdiff_t>(best) + 1);
    pairs.erase(pairs.begin() + static_cast<ptrdiff_t>(best));
    if (best > 0) pairs[best - 1] = rank_of(best - 1);
    if (best < pairs.size()) pairs[best] = rank_of(best);
  }
}

// O(n log n) for long pieces: symbols in a linked list, candidate pairs in a min-heap ordered by
// (rank, position). A popped pair is stale when either side has been merged since; merged ids are
// always new (longer) tokens, so comparing the two ids detects that.
void Bpe::merge_large(std::vector<int32_t>& ids) const {
  const int n = static_cast<int>(ids.size());
  std::vector<int> next(n), prev(n);
  for (int i = 0; i < n; ++i) next[i] = i + 1, prev[i] = i - 1;
  next[n - 1] = -1;
  struct Cand {
    int32_t rank;
    int pos;
    int32_t left, right;
    bool operator>(const Cand& o) const { return rank != o.rank ? rank > o.rank : pos > o.pos; }
  };
  std::priority_queue<Cand, std::vector<Cand>, std::greater<>> heap;
  auto push = [&](int i) {
    if (i < 0 || next[i] < 0) return;
    if (const Slot* s = find(ids[i], ids[next[i]])) heap.push({s->rank, i, ids[i], ids[next[i]]});
  };
  for (int i = 0; i + 1 < n; ++i) push(i);
  std::vector<bool> dead(n, false);
  while (!heap.empty()) {
    const Cand c = heap.top();
    heap.pop();
    if (dead[c.pos] || next[c.pos] < 0 || ids[c.pos] != c.left || ids[next[c.pos]] != c.right)
      continue;
    const int r = next[c.pos];
    ids[c.pos] = find(c.left, c.right)->merged;
    dead[r] = true;
    next[c.pos] = next[r];
    if (next[r] >= 0) prev[next[r]] = c.pos;
    push(prev[c.pos]);
    push(c.pos);
  }
  size_t w = 0;
  for (int i = 0; i >= 0; i = next[i]) ids[w++] = ids[i];
  ids.resize(w);
}

void Bpe::encode_piece(std::string_view bytes, std::vector<int32_t>& out) const {
  if (bytes.empty()) return;
  if (bytes.size() == 1) {
    out.push_back(byte_ids_[static_cast<uint8_t>(bytes[0])]);
    return;
  }
  const bool cacheable = bytes.size() <= kMaxCachedPiece;
  if (cacheable) {
    std::lock_guard<std::mutex> lock(cache_mu_);
    if (auto it = cache_.find(bytes); it != cache_.end()) {
      out.insert(out.end(), it->second.begin(), it->second.end());
      return;
    }
  }
  thread_local std::vector<int32_t> ids;
  ids.resize(bytes.size());
  for (size_t i = 0; i < bytes.size(); ++i) ids[i] = byte_ids_[static_cast<uint8_t>(bytes[i])];
  if (ids.size() <= kSmallPiece)
    merge_small(ids);
  else
    merge_large(ids);
  out.insert(out.end(), ids.begin(), ids.end());
  if (cacheable) {
    std::lock_guard<std::mutex> lock(cache_mu_);
    if (cache_.size() >= kMaxCacheEntries) cache_.clear();
    cache_.emplace(std::string(bytes), ids);
  }
}

void Bpe::clear_cache() const {
  std::lock_guard<std::mutex> lock(cache_mu_);
  cache_.clear();
}

}  // namespace dsv4
