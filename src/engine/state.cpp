#include "engine/state.h"

#include <algorithm>
#include <limits>

#include "util/error.h"

namespace dsv4 {

void CompressorState::reset() {
  const int64_t n = static_cast<int64_t>(coff) * ratio * coff * d;
  if (!kv) return;
  std::fill(kv, kv + n, 0.0f);
  std::fill(score, score + n, -std::numeric_limits<float>::infinity());
}

void SequenceState::reset() {
  pos = mtp_pos = 0;
  for (auto& l : layers) {
    l.n_entries = l.n_ikeys = 0;
    l.comp.reset();
    l.icomp.reset();
  }
}

namespace {

// Lays out one sequence's state at `base` (or only counts floats when base is null).
int64_t layout(const ModelConfig& c, int64_t max_context, float* base, SequenceState* s) {
  int64_t off = 0;
  auto take = [&](int64_t n) {
    float* p = base ? base + off : nullptr;
    off += n;
    return p;
  };
  const int64_t dh = c.head_dim, ih = c.index_head_dim;
  if (s) s->layers.assign(static_cast<size_t>(c.n_layers_total()), LayerState{});
  for (int64_t l = 0; l < c.n_layers_total(); ++l) {
    LayerState tmp;
    LayerState& ls = s ? s->layers[l] : tmp;
    ls.ring = take(c.sliding_window * dh);
    const int r = c.compress_ratio(l);
    if (r == 0) continue;
    ls.entries = take(max_context / r * dh);
    const int coff = r == 4 ? 2 : 1;
    ls.comp = {r, coff, dh, nullptr, nullptr};
    ls.comp.kv = take(coff * r * coff * dh);
    ls.comp.score = take(coff * r * coff * dh);
    if (r == 4) {
      ls.ikeys = take(max_context / 4 * ih);
      ls.icomp = {4, 2, ih, nullptr, nullptr};
      ls.icomp.kv = take(2 * 4 * 2 * ih);
      ls.icomp.score = take(2 * 4 * 2 * ih);
    }
  }
  return off;
}

}  // namespace

uint64_t StatePool::bytes_per_sequence(const ModelConfig& c, int64_t max_context) {
  return static_cast<uint64_t>(layout(c, max_context, nullptr, nullptr)) * sizeof(float);
}

StatePool::StatePool(const ModelConfig& c, int64_t max_context, int max_sequences)
    : max_context_(max_context) {
  if (max_context < 1 || max_sequences < 1) fail("state pool needs a context and a sequence");
  const int64_t per = layout(c, max_context, nullptr, nullptr);
  floats_per_sequence_ = per;
  arena_.assign(static_cast<size_t>(per * max_sequences), 0.0f);
  for (int i = 0; i < max_sequences; ++i) {
    auto s = std::make_unique<SequenceState>();
    layout(c, max_context, arena_.data() + per * i, s.get());
    s->capacity = max_context;
    slots_.push_back(std::move(s));
    used_.push_back(false);
  }
}

SequenceState* StatePool::acquire() {
  for (size_t i = 0; i < slots_.size(); ++i)
    if (!used_[i]) {
      used_[i] = true;
      slots_[i]->reset();
      return slots_[i].get();
    }
  return nullptr;
}

void StatePool::release(SequenceState* s) {
  for (size_t i = 0; i < slots_.size(); ++i)
    if (slots_[i].get() == s) used_[i] = false;
}

void StatePool::copy(const SequenceState& src, SequenceState& dst) const {
  // Slots are laid out identically, so the state is one contiguous slice of the arena; the
  // ring of layer 0 is its first float.
  const float* from = src.layers.at(0).ring;
  float* to = dst.layers.at(0).ring;
  std::copy(from, from + floats_per_sequence_, to);
  dst.pos = src.pos;
  dst.mtp_pos = src.mtp_pos;
  for (size_t l = 0; l < src.layers.size(); ++l) {
    dst.layers[l].n_entries = src.layers[l].n_entries;
    dst.layers[l].n_ikeys = src.layers[l].n_ikeys;
  }
}

int StatePool::free_slots() const {
  return static_cast<int>(std::count(used_.begin(), used_.end(), false));
}

}  // namespace dsv4
