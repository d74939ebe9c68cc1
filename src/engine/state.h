// Per-sequence decode state (spec §9): the window ring of every layer, the compressed caches (main
// entries and indexer keys), and the compressor partial-block buffers. All of it lives in one
// budgeted arena owned by a StatePool; nothing is allocated per token.
#pragma once

#include <cstdint>
#include <memory>
#include <vector>

#include "model/config.h"

namespace dsv4 {

// The reference Compressor's kv_state / score_state: [coff*ratio][coff*d] float32 each. With
// overlap (ratio 4) rows 0..r-1 hold the previous block and rows r..2r-1 the current one.
struct CompressorState {
  int ratio = 0, coff = 1;
  int64_t d = 0;
  float* kv = nullptr;
  float* score = nullptr;
  void reset();  // kv <- 0, score <- -inf: a fresh sequence has no previous block
};

struct LayerState {
  float* ring = nullptr;     // [window][head_dim], slot = position mod window
  float* entries = nullptr;  // [capacity / ratio][head_dim] compressed entries
  float* ikeys = nullptr;    // [capacity / 4][index_head_dim] indexer keys (ratio 4)
  int64_t n_entries = 0, n_ikeys = 0;
  CompressorState comp, icomp;
};

struct SequenceState {
  int64_t pos = 0;                 // tokens consumed by the main model = next position
  int64_t mtp_pos = 0;             // tokens consumed by the MTP block(s)
  int64_t capacity = 0;            // most tokens this state can hold
  std::vector<LayerState> layers;  // main layers, then MTP blocks
  void reset();
};

class StatePool {
 public:
  // Room for `max_sequences` sequences of up to `max_context` tokens each.
  StatePool(const ModelConfig& c, int64_t max_context, int max_sequences);
  // Exact bytes one sequence of `max_context` tokens takes (float32 layout).
  static uint64_t bytes_per_sequence(const ModelConfig& c, int64_t max_context);
  uint64_t bytes() const { return arena_.size() * sizeof(float); }
  int64_t max_context() const { return max_context_; }

  // A reset state, or nullptr when every slot is in use.
  SequenceState* acquire();
  void release(SequenceState* s);
  // Makes `dst` an exact copy of `src` (same position, caches and buffers): n > 1 choices share
  // one prefill of their prompt.
  void copy(const SequenceState& src, SequenceState& dst) const;
  int free_slots() const;

 private:
  int64_t max_context_;
  std::vector<float> arena_;
  std::vector<std::unique_ptr<SequenceState>> slots_;
  std::vector<bool> used_;
  int64_t floats_per_sequence_ = 0;
};

}  // namespace dsv4
