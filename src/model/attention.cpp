// Attention (spec §5): q path, the shared K=V head, the sliding window ring, the Compressor
// (ratio 4 overlapping, ratio 128), the Lightning Indexer and sparse attention with a sink.
#include <algorithm>
#include <cmath>
#include <limits>
#include <numeric>

#include "kernels/ops.h"
#include "kernels/parallel.h"
#include "model/layers.h"
#include "util/error.h"

namespace dsv4 {

namespace {

constexpr float kNegInf = -std::numeric_limits<float>::infinity();

// Advances a compressor by one token at position p with projections u (kv) and g (gate score,
// ape not yet added), both of width coff*d. Returns true and fills `entry` [d] when the token
// completes a block (spec §5.4, the reference decode state machine; prefill is the same math).
bool compressor_step(CompressorState& st, const float* ape, int64_t p, const float* u,
                     const float* g, float* entry) {
  const int r = st.ratio;
  const int64_t d = st.d, w = st.coff * d;
  const bool overlap = st.coff == 2;
  const int64_t row = (overlap ? r : 0) + p % r;
  const float* a = ape + (p % r) * w;
  for (int64_t f = 0; f < w; ++f) {
    st.kv[row * w + f] = u[f];
    st.score[row * w + f] = g[f] + a[f];
  }
  if ((p + 1) % r != 0) return false;
  // Candidates per feature f: overlap = the previous block's first halves and the current block's
  // second halves (2r candidates); otherwise the r rows of the current block.
  const int n_cand = overlap ? 2 * r : r;
  thread_local std::vector<float> sc, kv;  // reused: no allocation per compressed entry
  sc.resize(static_cast<size_t>(n_cand));
  kv.resize(static_cast<size_t>(n_cand));
  for (int64_t f = 0; f < d; ++f) {
    for (int j = 0; j < n_cand; ++j) {
      const int64_t col = overlap && j >= r ? d + f : f;
      sc[j] = st.score[j * w + col];
      kv[j] = st.kv[j * w + col];
    }
    float m = kNegInf;
    for (float s : sc) m = std::max(m, s);
    float sum = 0;
    for (int j = 0; j < n_cand; ++j) sum += (sc[j] = sc[j] == kNegInf ? 0.0f : std::exp(sc[j] - m));
    // softmax() then the weighted sum, as the reference.
    float out = 0;
    for (int j = 0; j < n_cand; ++j) out += kv[j] * (sc[j] / sum);
    entry[f] = out;
  }
  if (overlap)  // the current block becomes the previous one
    for (int j = 0; j < r; ++j)
      for (int64_t f = 0; f < w; ++f) {
        st.kv[j * w + f] = st.kv[(r + j) * w + f];
        st.score[j * w + f] = st.score[(r + j) * w + f];
      }
  return true;
}

// Top-k of scores[0..n) with ties broken by the lowest index first; k <= n.
void topk_indices(const std::vector<float>& scores, int64_t k, std::vector<int64_t>& out) {
  out.resize(scores.size());
  std::iota(out.begin(), out.end(), 0);
  std::partial_sort(out.begin(), out.begin() + k, out.end(), [&](int64_t a, int64_t b) {
    return scores[a] != scores[b] ? scores[a] > scores[b] : a < b;
  });
  out.resize(static_cast<size_t>(k));
}

}  // namespace

void attention(const LayerCtx& ctx, const BlockWork& work, const float* x, float* out) {
  const ModelConfig& c = ctx.c;
  const AttentionWeights& aw = ctx.w.attn;
  const BlockConsts& k = ctx.k;
  LayerState& ls = work.state->layers[ctx.layer];
  const int64_t n = work.n, p0 = work.start_pos, D = c.hidden_size;
  const int64_t H = c.num_attention_heads, dh = c.head_dim, rd = c.qk_rope_head_dim;
  const int64_t nope = dh - rd, Q = c.q_lora_rank, W = c.sliding_window;
  const float eps = static_cast<float>(c.rms_norm_eps);
  const int ratio = c.compress_ratio(ctx.layer);

  // ---- q: wq_a -> q_norm -> wq_b -> weightless per-head norm -> RoPE --------------------------
  std::vector<float> qr(n * Q), q(n * H * dh);
  linear_quant({aw.wq_a.weight, aw.wq_a.scale}, x, n, qr.data(), ctx.aq);
  for (int64_t t = 0; t < n; ++t) rms_norm(&qr[t * Q], k.q_norm.data(), Q, eps, &qr[t * Q]);
  linear_quant({aw.wq_b.weight, aw.wq_b.scale}, qr.data(), n, q.data(), ctx.aq);
  for (int64_t t = 0; t < n; ++t)
    for (int64_t h = 0; h < H; ++h) {
      float* qh = &q[(t * H + h) * dh];
      rms_norm(qh, nullptr, dh, eps, qh);
      apply_rope(qh + nope, static_cast<int>(rd), p0 + t, ctx.rope);
    }

  // ---- kv: wkv -> kv_norm -> RoPE -> FP8 simulation of the nope dims ----------------------------
  std::vector<float> kv(n * dh);
  linear_quant({aw.wkv.weight, aw.wkv.scale}, x, n, kv.data(), ctx.aq);
  for (int64_t t = 0; t < n; ++t) {
    float* v = &kv[t * dh];
    rms_norm(v, k.kv_norm.data(), dh, eps, v);
    apply_rope(v + nope, static_cast<int>(rd), p0 + t, ctx.rope);
    act_quant_sim(v, nope, 64);
  }

  // ---- compressor and indexer projections for the whole chunk -----------------------------------
  std::vector<float> cu, cg, iu, ig, iq, iw;
  const int64_t ih = c.index_head_dim, inh = c.index_n_heads;
  if (ratio > 0) {
    const int64_t w = aw.compressor.wkv->shape()[0];
    cu.resize(n * w);
    cg.resize(n * w);
    linear_dense(*aw.compressor.wkv, x, n, cu.data());
    linear_dense(*aw.compressor.wgate, x, n, cg.data());
  }
  if (ratio == 4) {
    const IndexerWeights& iw_ = aw.indexer;
    iu.resize(n * 2 * ih);
    ig.resize(n * 2 * ih);
    linear_dense(*iw_.compressor.wkv, x, n, iu.data());
    linear_dense(*iw_.compressor.wgate, x, n, ig.data());
    iq.resize(n * inh * ih);
    linear_quant({iw_.wq_b.weight, iw_.wq_b.scale}, qr.data(), n, iq.data(), ctx.aq);
    for (int64_t t = 0; t < n; ++t)
      for (int64_t h = 0; h < inh; ++h) {
        float* v = &iq[(t * inh + h) * ih];
        apply_rope(v + (ih - rd), static_cast<int>(rd), p0 + t, ctx.rope);
        hadamard(v, static_cast<int>(ih));
        fp4_act_quant_sim(v, ih, 32);
      }
    iw.resize(n * inh);
    linear_dense(*iw_.weights_proj, x, n, iw.data());
    const float wscale =
        1.0f / std::sqrt(static_cast<float>(ih)) / std::sqrt(static_cast<float>(inh));
    for (auto& v : iw) v *= wscale;
  }

  // ---- per token: advance compressors, select, attend ------------------------------------------
  const float scale = 1.0f / std::sqrt(static_cast<float>(dh));
  std::vector<float> o(n * H * dh), entry(dh), ientry(ih), iscores;
  std::vector<int64_t> selected;
  std::vector<const float*> keys;
  for (int64_t t = 0; t < n; ++t) {
    const int64_t p = p0 + t;
    if (p >= work.state->capacity)
      fail("sequence is full: position {} is past the state's {} tokens", p, work.state->capacity);
    if (ratio == 4 && compressor_step(ls.icomp, k.icomp_ape.data(), p, &iu[t * 2 * ih],
                                      &ig[t * 2 * ih], ientry.data())) {
      rms_norm(ientry.data(), k.icomp_norm.data(), ih, eps, ientry.data());
      apply_rope(ientry.data() + (ih - rd), static_cast<int>(rd), p + 1 - 4, ctx.rope);
      hadamard(ientry.data(), static_cast<int>(ih));
      fp4_act_quant_sim(ientry.data(), ih, 32);
      std::copy(ientry.begin(), ientry.end(), ls.ikeys + ls.n_ikeys * ih);
      ls.n_ikeys++;
    }
    if (ratio > 0) {
      const int64_t w = static_cast<int64_t>(ls.comp.coff) * dh;
      if (compressor_step(ls.comp, k.comp_ape.data(), p, &cu[t * w], &cg[t * w], entry.data())) {
        rms_norm(entry.data(), k.comp_norm.data(), dh, eps, entry.data());
        apply_rope(entry.data() + nope, static_cast<int>(rd), p + 1 - ratio, ctx.rope);
        act_quant_sim(entry.data(), nope, 64);
        std::copy(entry.begin(), entry.end(), ls.entries + ls.n_entries * dh);
        ls.n_entries++;
      }
    }

    // Keys: the window (oldest first; ring for positions before the chunk, the chunk after),
    // then the compressed part.
    keys.clear();
    for (int64_t j = std::max<int64_t>(0, p - W + 1); j <= p; ++j)
      keys.push_back(j < p0 ? ls.ring + (j % W) * dh : &kv[(j - p0) * dh]);
    const int64_t visible = ratio > 0 ? (p + 1) / ratio : 0;
    if (ratio == 128) {
      for (int64_t e = 0; e < visible; ++e) keys.push_back(ls.entries + e * dh);
    } else if (ratio == 4 && visible > 0) {
      // Lightning Indexer: score(w) = sum_h relu(q_h . K_w) * weight_h over visible entries.
      // Entries are independent: split over the compute threads (same bits for any count).
      iscores.assign(static_cast<size_t>(visible), 0.0f);
      auto score = [&](int part, int parts) {
        for (int64_t e = visible * part / parts; e < visible * (part + 1) / parts; ++e) {
          const float* K = ls.ikeys + e * ih;
          float s = 0;
          for (int64_t h = 0; h < inh; ++h) {
            const float* qh = &iq[(t * inh + h) * ih];
            float dot = 0;
            for (int64_t i = 0; i < ih; ++i) dot += qh[i] * K[i];
            s += std::max(dot, 0.0f) * iw[t * inh + h];
          }
          iscores[static_cast<size_t>(e)] = s;
        }
      };
      parallel_run(score);
      topk_indices(iscores, std::min<int64_t>(c.index_topk, visible), selected);
      for (int64_t e : selected) keys.push_back(ls.entries + e * dh);
    }

    // Sparse attention with the per-head sink, then inverse RoPE at the query position; heads
    // are independent, split over the compute threads.
    auto attend = [&](int part, int parts) {
      for (int64_t h = H * part / parts; h < H * (part + 1) / parts; ++h) {
        float* oh = &o[(t * H + h) * dh];
        attend_with_sink(&q[(t * H + h) * dh], keys.data(), static_cast<int64_t>(keys.size()), dh,
                         scale, k.attn_sink[h], oh);
        apply_rope(oh + nope, static_cast<int>(rd), p, ctx.rope, /*inverse=*/true);
      }
    };
    parallel_run(attend);
  }

  // The last `window` positions of the chunk go into the ring, after every query has read it.
  for (int64_t t = std::max<int64_t>(0, n - W); t < n; ++t)
    std::copy(&kv[t * dh], &kv[t * dh] + dh, ls.ring + ((p0 + t) % W) * dh);

  // ---- output: grouped wo_a (never activation-quantised), then wo_b
  // ------------------------------
  const int64_t G = c.o_groups, R = c.o_lora_rank, gw = H * dh / G;
  std::vector<float> og(n * gw), z(n * G * R);
  for (int64_t g = 0; g < G; ++g) {
    for (int64_t t = 0; t < n; ++t)
      std::copy(&o[t * H * dh + g * gw], &o[t * H * dh + g * gw] + gw, &og[t * gw]);
    linear_quant({aw.wo_a.weight, aw.wo_a.scale}, og.data(), n, &z[g * R], ActQuant::None, g * R,
                 (g + 1) * R, G * R);
  }
  linear_quant({aw.wo_b.weight, aw.wo_b.scale}, z.data(), n, out, ctx.aq);
  (void)D;
}

}  // namespace dsv4
