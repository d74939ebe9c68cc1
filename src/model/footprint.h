// What a model costs: bytes of weights per dtype, bytes streamed per decoded token at batch 1, and
// per-sequence state bytes at a given context length (spec §9, §11).
#pragma once

#include <array>
#include <cstdint>
#include <vector>

#include "io/dtype.h"
#include "model/config.h"
#include "model/inventory.h"

namespace dsv4 {

class Checkpoint;

struct DTypeTotal {
  uint64_t count = 0, bytes = 0;
};

struct Footprint {
  std::array<DTypeTotal, 9> by_dtype{};  // indexed by DType
  uint64_t tensors = 0;
  uint64_t weight_bytes = 0;
  // Weights read to decode one token at batch 1: every main-model tensor except the embedding
  // (one row), plus num_experts_per_tok of the routed experts per layer; the MTP block not counted.
  uint64_t decode_bytes_per_token = 0;
  uint64_t active_params = 0;  // same selection, in parameters (FP4 counts 1 per element)
};

// Sizes from the inventory; where `ck` is given, the stored dtypes of its tensors are used (so F32
// scales of Base checkpoints count 4 bytes).
Footprint compute_footprint(const ModelConfig& c, const Checkpoint* ck = nullptr);

// Per-sequence decode state in the reference layout (BF16 ring and entries, FP32 compressor
// buffers), spec §9.
struct StateSize {
  uint64_t fixed_bytes = 0;  // window rings + compressor partial-block buffers
  uint64_t bytes_at(uint64_t context) const;
  // per layer: entry bytes and ratio, for the compressed caches
  struct Growth {
    int ratio;
    uint64_t bytes_per_entry;
  };
  std::vector<Growth> growth;
};
StateSize compute_state_size(const ModelConfig& c);

}  // namespace dsv4
