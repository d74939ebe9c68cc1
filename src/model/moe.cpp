// Mixture of experts (spec §6): sqrtsoftplus gate, bias for selection only, hash routing in the
// first layers, renormalised weights x route scale, SwiGLU with clamp, routing weight applied
// before w2, and the shared expert. Tokens of the whole batch are grouped by expert.
#include <algorithm>
#include <cmath>
#include <numeric>

#include "kernels/ops.h"
#include "model/layers.h"

namespace dsv4 {

namespace {

// y = w2( silu(min(w1 x, L)) * clamp(w3 x, -L, L) * weight ) for the rows of x.
void expert(const ExpertWeights& e, const float* x, const float* row_weight, int64_t rows,
            int64_t D, int64_t I, float limit, ActQuant aq, float* y) {
  std::vector<float> a(rows * I), b(rows * I);
  linear_quant({e.w1.weight, e.w1.scale}, x, rows, a.data(), aq);
  linear_quant({e.w3.weight, e.w3.scale}, x, rows, b.data(), aq);
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t i = 0; i < I; ++i)
      a[r * I + i] = swiglu(a[r * I + i], b[r * I + i], limit, row_weight ? row_weight[r] : 1.0f);
  linear_quant({e.w2.weight, e.w2.scale}, a.data(), rows, y, aq);
  (void)D;
}

}  // namespace

void moe(const LayerCtx& ctx, const float* x, const int32_t* tokens, int64_t T, float* out) {
  const ModelConfig& c = ctx.c;
  const MoEWeights& m = ctx.w.ffn;
  const int64_t D = c.hidden_size, E = c.n_routed_experts, K = c.num_experts_per_tok;
  const int64_t I = c.moe_intermediate_size;
  const float limit = static_cast<float>(c.swiglu_limit);

  // Router: scores for all experts, then k experts and their weights per token.
  std::vector<float> scores(T * E);
  linear_dense(*m.gate, x, T, scores.data());
  for (auto& s : scores) s = std::sqrt(softplus(s));
  std::vector<int64_t> idx(T * K);
  std::vector<float> wts(T * K);
  std::vector<int64_t> order(E);
  for (int64_t t = 0; t < T; ++t) {
    const float* s = &scores[t * E];
    if (m.tid2eid) {
      const int64_t row = tokens[t];
      for (int64_t j = 0; j < K; ++j)
        idx[t * K + j] = m.tid2eid->dtype() == DType::I64
                             ? m.tid2eid->load<int64_t>(static_cast<uint64_t>(row * K + j))
                             : m.tid2eid->load<int32_t>(static_cast<uint64_t>(row * K + j));
    } else {
      // Bias only chooses; ties (only in degenerate cases) go to the lower expert id.
      std::iota(order.begin(), order.end(), 0);
      const float* bias = ctx.k.gate_bias.data();
      std::partial_sort(order.begin(), order.begin() + K, order.end(), [&](int64_t a, int64_t b) {
        const float sa = s[a] + bias[a], sb = s[b] + bias[b];
        return sa != sb ? sa > sb : a < b;
      });
      for (int64_t j = 0; j < K; ++j) idx[t * K + j] = order[j];
    }
    float sum = 0;
    for (int64_t j = 0; j < K; ++j) sum += (wts[t * K + j] = s[idx[t * K + j]]);
    for (int64_t j = 0; j < K; ++j)
      wts[t * K + j] = wts[t * K + j] / sum * static_cast<float>(c.routed_scaling_factor);
  }

  // Routed experts in ascending id (the reference's summation order), each over all its tokens.
  std::fill(out, out + T * D, 0.0f);
  std::vector<int64_t> rows_of;
  std::vector<float> xs, ws, ys;
  for (int64_t e = 0; e < E; ++e) {
    rows_of.clear();
    ws.clear();
    for (int64_t t = 0; t < T; ++t)
      for (int64_t j = 0; j < K; ++j)
        if (idx[t * K + j] == e) {
          rows_of.push_back(t);
          ws.push_back(wts[t * K + j]);
        }
    if (rows_of.empty()) continue;
    const int64_t R = static_cast<int64_t>(rows_of.size());
    xs.resize(R * D);
    ys.resize(R * D);
    for (int64_t r = 0; r < R; ++r)
      std::copy(x + rows_of[r] * D, x + rows_of[r] * D + D, &xs[r * D]);
    expert(m.experts[e], xs.data(), ws.data(), R, D, I, limit, ctx.aq, ys.data());
    for (int64_t r = 0; r < R; ++r)
      for (int64_t i = 0; i < D; ++i) out[rows_of[r] * D + i] += ys[r * D + i];
  }
  ys.resize(T * D);
  expert(m.shared, x, nullptr, T, D, I, limit, ctx.aq, ys.data());
  for (int64_t i = 0; i < T * D; ++i) out[i] += ys[i];
}

}  // namespace dsv4
