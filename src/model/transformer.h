// The DeepSeek-V4 forward pass on CPU (spec dsv4-model.md §4-§7), over the checkpoint as stored.
//
// One call takes a batch of chunks; each chunk is (sequence state, start position, 1..n tokens).
// Prefill, chunked prefill, single-token decode and multi-token verification are the same code
// path: per layer, every token of a chunk reads the window from the ring (positions before the
// chunk) or from the chunk itself, and compressor blocks carry across calls (spec §5.9). Layers run
// over the whole batch; the MoE groups the tokens of all chunks by expert.
#pragma once

#include <cstdint>
#include <span>
#include <vector>

#include "engine/state.h"
#include "kernels/linear.h"
#include "kernels/ops.h"
#include "model/weights.h"

namespace dsv4 {

struct ForwardOptions {
  ActQuant act_quant = ActQuant::Fp8;  // FP8 quantisation of FP8/FP4 linear inputs (reference)
};

struct Chunk {
  SequenceState* state = nullptr;
  int64_t start_pos = 0;  // must equal state->pos
  std::span<const int32_t> tokens;
  bool all_logits = false;    // logits of every position (prompt logprobs), else of the last
  bool keep_streams = false;  // return the pre-head residual streams (input of the MTP block)
};

struct ChunkResult {
  int64_t rows = 0;            // logits rows: tokens.size() or 1
  std::vector<float> logits;   // [rows][vocab]
  std::vector<float> streams;  // [tokens][hc][hidden] when keep_streams
};

// Input of the MTP block for one sequence: the main model's pre-head streams of positions
// start_pos.. and the *next* tokens (token i+1 for position i).
struct MtpChunk {
  SequenceState* state = nullptr;
  int64_t start_pos = 0;           // must equal state->mtp_pos
  std::span<const float> streams;  // [n][hc][hidden]
  std::span<const int32_t> next_tokens;
  bool all_logits = false;
};

class Transformer {
 public:
  Transformer(const Model& model, ForwardOptions opt = {});
  ~Transformer();
  const ModelConfig& config() const { return model_.config; }

  std::vector<ChunkResult> forward(std::span<const Chunk> chunks);
  // The MTP block (block 0 of num_nextn_predict_layers): next-next-token logits.
  std::vector<ChunkResult> forward_mtp(std::span<const MtpChunk> chunks);

  struct Consts;  // float copies of the small tensors (norms, hc, sinks, ape)

 private:
  const Model& model_;
  ForwardOptions opt_;
  std::unique_ptr<Consts> consts_;
};

}  // namespace dsv4
