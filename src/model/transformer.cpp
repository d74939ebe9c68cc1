// Transformer: embedding, the blocks with hyper-connections, hc_head, final norm and head; the MTP
// block (spec §4, §7).
#include "model/transformer.h"

#include <algorithm>
#include <cmath>
#include <utility>

#include "kernels/isa.h"
#include "kernels/linear.h"
#include "model/layers.h"
#include "util/error.h"

namespace dsv4 {

namespace {

std::vector<float> floats(const TensorView* t) {
  if (!t) return {};
  std::vector<float> v(t->entry->numel());
  load_floats(*t, v.data());
  return v;
}

}  // namespace

// ---- hyper-connections
// ---------------------------------------------------------------------------

namespace {
// mix[i] = (fn[i] . X) * rsqrt(mean(X^2) + eps) over the hc*D stream values.
void hc_mixes(const ModelConfig& c, const float* X, const std::vector<float>& fn, int64_t n_mix,
              float* mix) {
  const int64_t len = c.hc_mult * c.hidden_size;
  float ss = 0;
  for (int64_t i = 0; i < len; ++i) ss += X[i] * X[i];
  const float r =
      1.0f / std::sqrt(ss / static_cast<float>(len) + static_cast<float>(c.rms_norm_eps));
  // Each mix is a dot product added sequentially, as the reference does (kernels/linear.h runs
  // 16 of them at a time on AVX-512 lanes).
  std::vector<const float*> rows(static_cast<size_t>(n_mix));
  for (int64_t j = 0; j < n_mix; ++j) rows[static_cast<size_t>(j)] = &fn[j * len];
  dots_sequential(active_isa(), X, rows.data(), n_mix, len, mix);
  for (int64_t j = 0; j < n_mix; ++j) mix[j] = mix[j] * r;
}
}  // namespace

void hc_pre(const ModelConfig& c, const float* X, const std::vector<float>& fn,
            const std::vector<float>& scale, const std::vector<float>& base, float* x, float* post,
            float* comb) {
  const int hc = static_cast<int>(c.hc_mult);
  const int64_t D = c.hidden_size;
  std::vector<float> mix((2 + hc) * hc), pre(hc);
  hc_mixes(c, X, fn, (2 + hc) * hc, mix.data());
  hc_split_sinkhorn(mix.data(), scale.data(), base.data(), hc,
                    static_cast<int>(c.hc_sinkhorn_iters), static_cast<float>(c.hc_eps), pre.data(),
                    post, comb);
  for (int64_t i = 0; i < D; ++i) {
    float acc = 0;
    for (int j = 0; j < hc; ++j) acc += pre[j] * X[j * D + i];
    x[i] = acc;
  }
}

void hc_post(const ModelConfig& c, const float* x, const float* post, const float* comb, float* X) {
  const int hc = static_cast<int>(c.hc_mult);
  const int64_t D = c.hidden_size;
  std::vector<float> old(X, X + hc * D);
  for (int k = 0; k < hc; ++k)
    for (int64_t i = 0; i < D; ++i) {
      float acc = post[k] * x[i];
      for (int j = 0; j < hc; ++j) acc += comb[j * hc + k] * old[j * D + i];  // column k of C
      X[k * D + i] = acc;
    }
}

void hc_head(const ModelConfig& c, const float* X, const std::vector<float>& fn,
             const std::vector<float>& scale, const std::vector<float>& base, float* x) {
  const int hc = static_cast<int>(c.hc_mult);
  const int64_t D = c.hidden_size;
  std::vector<float> mix(hc), pre(hc);
  hc_mixes(c, X, fn, hc, mix.data());
  for (int j = 0; j < hc; ++j)
    pre[j] = sigmoid(mix[j] * scale[0] + base[j]) + static_cast<float>(c.hc_eps);
  for (int64_t i = 0; i < D; ++i) {
    float acc = 0;
    for (int j = 0; j < hc; ++j) acc += pre[j] * X[j * D + i];
    x[i] = acc;
  }
}

// ---- the transformer
// -----------------------------------------------------------------------------

Transformer::Transformer(const Model& model, ForwardOptions opt)
    : model_(model), opt_(opt), consts_(std::make_unique<Consts>()) {
  const ModelConfig& c = model.config;
  const ModelWeights& w = model.weights;
  Consts& k = *consts_;
  k.norm = floats(w.norm);
  k.hc_head_fn = floats(w.hc_head.fn);
  k.hc_head_base = floats(w.hc_head.base);
  k.hc_head_scale = floats(w.hc_head.scale);
  for (const BlockWeights& b : w.layers) {
    BlockConsts bc;
    bc.attn_norm = floats(b.attn_norm);
    bc.ffn_norm = floats(b.ffn_norm);
    bc.hc_attn_fn = floats(b.hc_attn.fn);
    bc.hc_attn_base = floats(b.hc_attn.base);
    bc.hc_attn_scale = floats(b.hc_attn.scale);
    bc.hc_ffn_fn = floats(b.hc_ffn.fn);
    bc.hc_ffn_base = floats(b.hc_ffn.base);
    bc.hc_ffn_scale = floats(b.hc_ffn.scale);
    bc.attn_sink = floats(b.attn.attn_sink);
    bc.q_norm = floats(b.attn.q_norm);
    bc.kv_norm = floats(b.attn.kv_norm);
    if (b.attn.has_compressor) {
      bc.comp_ape = floats(b.attn.compressor.ape);
      bc.comp_norm = floats(b.attn.compressor.norm);
    }
    if (b.attn.has_indexer) {
      bc.icomp_ape = floats(b.attn.indexer.compressor.ape);
      bc.icomp_norm = floats(b.attn.indexer.compressor.norm);
    }
    bc.gate_bias = floats(b.ffn.bias);
    bc.enorm = floats(b.enorm);
    bc.hnorm = floats(b.hnorm);
    bc.norm = floats(b.norm);
    bc.hc_head_fn = floats(b.hc_head.fn);
    bc.hc_head_base = floats(b.hc_head.base);
    bc.hc_head_scale = floats(b.hc_head.scale);
    k.blocks.push_back(std::move(bc));
  }
  const int rd = static_cast<int>(c.qk_rope_head_dim);
  const auto& rs = c.rope_scaling;
  k.rope_swa = rope_freqs(rd, c.rope_theta, false, rs.factor, rs.original_max_position_embeddings,
                          rs.beta_fast, rs.beta_slow);
  k.rope_compressed = rope_freqs(rd, c.compress_rope_theta, true, rs.factor,
                                 rs.original_max_position_embeddings, rs.beta_fast, rs.beta_slow);
}

Transformer::~Transformer() = default;

namespace {

// One block (spec §4.2) over a batch of chunks: attention per chunk, MoE over all tokens.
void run_block(const ModelConfig& c, const BlockWeights& w, const BlockConsts& k,
               const RopeFreqs& rope, int64_t layer, ActQuant aq, std::vector<BlockWork>& work) {
  const int64_t D = c.hidden_size, hc = c.hc_mult;
  const LayerCtx ctx{c, w, k, rope, layer, aq};
  int64_t T = 0;
  for (const auto& wk : work) T += wk.n;
  std::vector<float> post(T * hc), comb(T * hc * hc), x(T * D), y(T * D);
  std::vector<int32_t> tokens(T);
  // Reduce every token's streams to one sub-layer input (hc_pre, then the sub-layer's norm).
  auto mix_in = [&](const BlockWork& wk, int64_t off, const std::vector<float>& fn,
                    const std::vector<float>& scale, const std::vector<float>& base,
                    const std::vector<float>& norm) {
    for (int64_t t = 0; t < wk.n; ++t) {
      const int64_t r = off + t;
      hc_pre(c, wk.streams + t * hc * D, fn, scale, base, &x[r * D], &post[r * hc],
             &comb[r * hc * hc]);
      rms_norm(&x[r * D], norm.data(), D, static_cast<float>(c.rms_norm_eps), &x[r * D]);
    }
  };
  // Write the sub-layer output back into every token's streams (hc_post).
  auto mix_out = [&](const BlockWork& wk, int64_t off) {
    for (int64_t t = 0; t < wk.n; ++t)
      hc_post(c, &y[(off + t) * D], &post[(off + t) * hc], &comb[(off + t) * hc * hc],
              wk.streams + t * hc * D);
  };
  // Attention sub-layer, chunk by chunk.
  int64_t off = 0;
  for (const auto& wk : work) {
    mix_in(wk, off, k.hc_attn_fn, k.hc_attn_scale, k.hc_attn_base, k.attn_norm);
    for (int64_t t = 0; t < wk.n; ++t) tokens[off + t] = wk.tokens[t];
    attention(ctx, wk, &x[off * D], &y[off * D]);
    mix_out(wk, off);
    off += wk.n;
  }
  // MoE sub-layer over the whole batch.
  off = 0;
  for (const auto& wk : work) {
    mix_in(wk, off, k.hc_ffn_fn, k.hc_ffn_scale, k.hc_ffn_base, k.ffn_norm);
    off += wk.n;
  }
  moe(ctx, x.data(), tokens.data(), T, y.data());
  off = 0;
  for (const auto& wk : work) {
    mix_out(wk, off);
    off += wk.n;
  }
}

// hc_head -> norm: the head's input for one position's streams.
void head_input(const Model& m, const std::vector<float>& fn, const std::vector<float>& scale,
                const std::vector<float>& base, const std::vector<float>& norm, const float* X,
                float* x) {
  const ModelConfig& c = m.config;
  hc_head(c, X, fn, scale, base, x);
  rms_norm(x, norm.data(), c.hidden_size, static_cast<float>(c.rms_norm_eps), x);
}

// Logits (float32) of every wanted row of a batch in one product with the head, so its weights
// (1 GB in Flash) stream once per step, not once per sequence. rows[i] = {streams of the
// position, destination}.
void head_logits(const Model& m, const std::vector<float>& fn, const std::vector<float>& scale,
                 const std::vector<float>& base, const std::vector<float>& norm,
                 const std::vector<std::pair<const float*, float*>>& rows) {
  const int64_t D = m.config.hidden_size, V = m.config.vocab_size;
  const auto R = static_cast<int64_t>(rows.size());
  constexpr int64_t kGroup = 64;  // rows per product: bounds the temporary logits
  std::vector<float> x, y;
  for (int64_t g = 0; g < R; g += kGroup) {
    const int64_t n = std::min(kGroup, R - g);
    x.resize(static_cast<size_t>(n * D));
    for (int64_t i = 0; i < n; ++i)
      head_input(m, fn, scale, base, norm, rows[static_cast<size_t>(g + i)].first, &x[i * D]);
    if (n == 1) {
      linear_dense(*m.weights.head, x.data(), 1, rows[static_cast<size_t>(g)].second);
      continue;
    }
    y.resize(static_cast<size_t>(n * V));
    linear_dense(*m.weights.head, x.data(), n, y.data());
    for (int64_t i = 0; i < n; ++i)
      std::copy(y.begin() + i * V, y.begin() + (i + 1) * V,
                rows[static_cast<size_t>(g + i)].second);
  }
}

void check_tokens(const ModelConfig& c, std::span<const int32_t> tokens) {
  if (tokens.empty()) fail("a chunk needs at least one token");
  for (int32_t t : tokens)
    if (t < 0 || t >= c.vocab_size)
      fail("token id {} is outside the vocabulary [0, {})", t, c.vocab_size);
}

}  // namespace

std::vector<ChunkResult> Transformer::forward(std::span<const Chunk> chunks) {
  const ModelConfig& c = model_.config;
  const int64_t D = c.hidden_size, hc = c.hc_mult, V = c.vocab_size;
  std::vector<std::vector<float>> streams(chunks.size());
  std::vector<BlockWork> work;
  for (size_t i = 0; i < chunks.size(); ++i) {
    const Chunk& ch = chunks[i];
    check_tokens(c, ch.tokens);
    if (!ch.state) fail("chunk {} has no sequence state", i);
    if (ch.start_pos != ch.state->pos)
      fail("chunk {} starts at position {} but its sequence is at {}", i, ch.start_pos,
           ch.state->pos);
    for (size_t j = 0; j < i; ++j)
      if (chunks[j].state == ch.state) fail("two chunks of one call share a sequence state");
    if (ch.start_pos + static_cast<int64_t>(ch.tokens.size()) > ch.state->capacity)
      fail("sequence is full: {} + {} tokens exceed the state's {}", ch.start_pos, ch.tokens.size(),
           ch.state->capacity);
    const int64_t n = static_cast<int64_t>(ch.tokens.size());
    // Embedding, expanded to hc identical streams.
    streams[i].resize(n * hc * D);
    for (int64_t t = 0; t < n; ++t)
      for (int64_t j = 0; j < hc; ++j)
        for (int64_t d = 0; d < D; ++d)
          streams[i][(t * hc + j) * D + d] =
              load_float(*model_.weights.embed, ch.tokens[t] * D + d);
    work.push_back({ch.state, ch.start_pos, n, ch.tokens.data(), streams[i].data()});
  }
  for (int64_t l = 0; l < c.num_hidden_layers; ++l) {
    const RopeFreqs& rope = c.compress_ratio(l) ? consts_->rope_compressed : consts_->rope_swa;
    run_block(c, model_.weights.layers[l], consts_->blocks[l], rope, l, opt_.act_quant, work);
  }
  std::vector<ChunkResult> out(chunks.size());
  std::vector<std::pair<const float*, float*>> head_rows;
  for (size_t i = 0; i < chunks.size(); ++i) {
    const Chunk& ch = chunks[i];
    const int64_t n = static_cast<int64_t>(ch.tokens.size());
    ChunkResult& r = out[i];
    r.rows = ch.all_logits ? n : 1;
    r.logits.resize(r.rows * V);
    for (int64_t row = 0; row < r.rows; ++row) {
      const int64_t t = ch.all_logits ? row : n - 1;
      head_rows.emplace_back(&streams[i][t * hc * D], &r.logits[row * V]);
    }
  }
  head_logits(model_, consts_->hc_head_fn, consts_->hc_head_scale, consts_->hc_head_base,
              consts_->norm, head_rows);
  for (size_t i = 0; i < chunks.size(); ++i) {
    if (chunks[i].keep_streams) out[i].streams = std::move(streams[i]);
    chunks[i].state->pos += static_cast<int64_t>(chunks[i].tokens.size());
  }
  return out;
}

std::vector<ChunkResult> Transformer::forward_mtp(std::span<const MtpChunk> chunks) {
  const ModelConfig& c = model_.config;
  if (c.num_nextn_predict_layers < 1) fail("this model has no MTP block");
  const int64_t D = c.hidden_size, hc = c.hc_mult, V = c.vocab_size;
  const int64_t layer = c.num_hidden_layers;  // MTP block 0
  const BlockWeights& bw = model_.weights.layers[layer];
  const BlockConsts& bc = consts_->blocks[layer];
  const float eps = static_cast<float>(c.rms_norm_eps);
  std::vector<std::vector<float>> X(chunks.size());
  std::vector<BlockWork> work;
  for (size_t i = 0; i < chunks.size(); ++i) {
    const MtpChunk& ch = chunks[i];
    check_tokens(c, ch.next_tokens);
    const int64_t n = static_cast<int64_t>(ch.next_tokens.size());
    if (static_cast<int64_t>(ch.streams.size()) != n * hc * D)
      fail("MTP chunk {}: {} stream values for {} tokens", i, ch.streams.size(), n);
    if (ch.start_pos != ch.state->mtp_pos)
      fail("MTP chunk {} starts at position {} but its MTP block is at {}", i, ch.start_pos,
           ch.state->mtp_pos);
    // X = h_proj(hnorm(streams)) + e_proj(enorm(embed(next token))), broadcast over the streams.
    std::vector<float> e(n * D), hn(n * hc * D), pe(n * D);
    for (int64_t t = 0; t < n; ++t) {
      for (int64_t d = 0; d < D; ++d)
        e[t * D + d] = load_float(*model_.weights.embed, ch.next_tokens[t] * D + d);
      rms_norm(&e[t * D], bc.enorm.data(), D, eps, &e[t * D]);
    }
    for (int64_t s = 0; s < n * hc; ++s)
      rms_norm(&ch.streams[s * D], bc.hnorm.data(), D, eps, &hn[s * D]);
    X[i].resize(n * hc * D);
    linear_quant({bw.h_proj.weight, bw.h_proj.scale}, hn.data(), n * hc, X[i].data(),
                 opt_.act_quant);
    linear_quant({bw.e_proj.weight, bw.e_proj.scale}, e.data(), n, pe.data(), opt_.act_quant);
    for (int64_t t = 0; t < n; ++t)
      for (int64_t j = 0; j < hc; ++j)
        for (int64_t d = 0; d < D; ++d) X[i][(t * hc + j) * D + d] += pe[t * D + d];
    work.push_back({ch.state, ch.start_pos, n, ch.next_tokens.data(), X[i].data()});
  }
  // The MTP block's own window ring lives in layers[layer] of the state; it uses mtp_pos.
  run_block(c, bw, bc, c.compress_ratio(layer) ? consts_->rope_compressed : consts_->rope_swa,
            layer, opt_.act_quant, work);
  std::vector<ChunkResult> out(chunks.size());
  std::vector<std::pair<const float*, float*>> head_rows;
  for (size_t i = 0; i < chunks.size(); ++i) {
    const int64_t n = static_cast<int64_t>(chunks[i].next_tokens.size());
    ChunkResult& r = out[i];
    r.rows = chunks[i].all_logits ? n : 1;
    r.logits.resize(r.rows * V);
    for (int64_t row = 0; row < r.rows; ++row) {
      const int64_t t = chunks[i].all_logits ? row : n - 1;
      head_rows.emplace_back(&X[i][t * hc * D], &r.logits[row * V]);
    }
  }
  head_logits(model_, bc.hc_head_fn, bc.hc_head_scale, bc.hc_head_base, bc.norm, head_rows);
  for (size_t i = 0; i < chunks.size(); ++i) {
    const int64_t n = static_cast<int64_t>(chunks[i].next_tokens.size());
    chunks[i].state->mtp_pos += n;
  }
  return out;
}

}  // namespace dsv4
