// Internal pieces of the forward pass, one concept each: hyper-connections, attention (with the
// compressor and the indexer), MoE, head. Names follow DeepSeek's model.py.
#pragma once

#include <vector>

#include "model/transformer.h"

namespace dsv4 {

struct BlockConsts {
  std::vector<float> attn_norm, ffn_norm;
  std::vector<float> hc_attn_fn, hc_attn_base, hc_attn_scale;
  std::vector<float> hc_ffn_fn, hc_ffn_base, hc_ffn_scale;
  std::vector<float> attn_sink, q_norm, kv_norm;
  std::vector<float> comp_ape, comp_norm;    // main compressor
  std::vector<float> icomp_ape, icomp_norm;  // indexer compressor
  std::vector<float> gate_bias;
  // MTP only
  std::vector<float> enorm, hnorm, norm, hc_head_fn, hc_head_base, hc_head_scale;
};

struct Transformer::Consts {
  std::vector<float> norm, hc_head_fn, hc_head_base, hc_head_scale;
  std::vector<BlockConsts> blocks;
  RopeFreqs rope_swa, rope_compressed;
};

// One chunk of tokens of one sequence going through a block.
struct BlockWork {
  SequenceState* state;
  int64_t start_pos;
  int64_t n;
  const int32_t* tokens;  // token ids (hash routing)
  float* streams;         // [n][hc][D], updated in place
};

struct LayerCtx {
  const ModelConfig& c;
  const BlockWeights& w;
  const BlockConsts& k;
  const RopeFreqs& rope;
  int64_t layer;
  ActQuant aq;
};

// hc_pre: x [D] from the streams X [hc][D]; post [hc], comb [hc][hc].
void hc_pre(const ModelConfig& c, const float* X, const std::vector<float>& fn,
            const std::vector<float>& scale, const std::vector<float>& base, float* x, float* post,
            float* comb);
// hc_post: X'[k] = post[k] x + sum_j comb[j][k] X[j], in place on X.
void hc_post(const ModelConfig& c, const float* x, const float* post, const float* comb, float* X);
// hc_head: x [D] from X [hc][D].
void hc_head(const ModelConfig& c, const float* X, const std::vector<float>& fn,
             const std::vector<float>& scale, const std::vector<float>& base, float* x);

// Attention of one chunk: x [n][D] (after attn_norm) -> out [n][D]. Reads and updates the chunk's
// layer state (ring, compressed caches, compressor buffers).
void attention(const LayerCtx& ctx, const BlockWork& work, const float* x, float* out);

// MoE over all tokens of a batch: x [T][D] (after ffn_norm), token ids [T] -> out [T][D].
void moe(const LayerCtx& ctx, const float* x, const int32_t* tokens, int64_t T, float* out);

}  // namespace dsv4
