// Scalar reference implementations of DeepSeek-V4's numeric primitives (spec dsv4-model.md §3),
// in float32. Activations are float32 throughout (the numerics of DeepSeek's reference run in
// float32, which is what the conformance fixture holds); the quantisation *simulations* that are
// part of the model (KV FP8, indexer FP4) and the FP8 quantisation of linear inputs are exact.
#pragma once

#include <cstdint>
#include <vector>

namespace dsv4 {

// ---- quantisation simulation (values rounded onto a low-precision grid, kept as float) ----------

// FP8 e4m3 with one power-of-two scale per `block` consecutive values (spec §3.3, in-place mode).
void act_quant_sim(float* x, int64_t n, int block);
// FP4 e2m1 with one power-of-two scale per `block` values (spec §3.6).
void fp4_act_quant_sim(float* x, int64_t n, int block);

// Real FP8 quantisation of a linear input (block 128): codes and power-of-two scales per block.
struct Fp8Activations {
  std::vector<uint8_t> codes;  // [rows][k]
  std::vector<float> scales;   // [rows][k/128]
};
void act_quant_fp8(const float* x, int64_t rows, int64_t k, Fp8Activations& out);
// The same quantisation as values: out[i] = (FP8 code of x[i] / scale) * scale, bit for bit what
// act_quant_fp8's codes decode to times their scales, without the codes or a branch per value
// (the fast kernels' input). k is a multiple of 128; out must not alias x.
void act_quant_fp8_values(const float* x, int64_t rows, int64_t k, float* out);

// ---- norms, activations
// --------------------------------------------------------------------------

// y = w * x * rsqrt(mean(x^2) + eps); w may be null (weightless, as the per-head q norm). y may
// alias x.
void rms_norm(const float* x, const float* w, int64_t n, float eps, float* y);
float softplus(float x);  // PyTorch's: x if x > 20 else log1p(exp(x))
float sigmoid(float x);
float silu(float x);
// The experts' SwiGLU: silu(min(gate, limit)) * clamp(up, -limit, limit), times the routing
// weight (applied before w2).
float swiglu(float gate, float up, float limit, float weight);

// ---- rotary embedding (spec §3.8) ---------------------------------------------------------------

// Per-layer-kind frequency table: base 160000 + YaRN for compressed layers, base 10000 plain for
// sliding-window-only layers.
struct RopeFreqs {
  std::vector<float> freq;  // dims/2 values
};
RopeFreqs rope_freqs(int dims, double base, bool yarn, double factor, int64_t original_len,
                     double beta_fast, double beta_slow);
// Rotates the `dims` values at v (interleaved pairs) to position `pos`; inverse uses -sin.
void apply_rope(float* v, int dims, int64_t pos, const RopeFreqs& f, bool inverse = false);

// ---- Hadamard (spec §3.9)
// -------------------------------------------------------------------------

// In-place Sylvester Walsh-Hadamard transform of n (a power of two) values, scaled by n^-1/2.
void hadamard(float* x, int n);

// ---- attention with a sink (spec §5.6)
// ------------------------------------------------------------

// o = sum_e softmax_e(q.k_e * scale) k_e, where the softmax denominator also holds exp(sink): an
// extra logit (not scaled) whose value vector is zero. Keys double as values (K = V).
void attend_with_sink(const float* q, const float* const* keys, int64_t n_keys, int64_t dim,
                      float scale, float sink, float* out);

// ---- manifold-constrained hyper-connections (spec §4.3)
// -------------------------------------------

// From the hc "mixes" (length (2+hc)*hc): pre [hc], post [hc] and the Sinkhorn-normalised comb
// [hc][hc] (row-major, comb[j*hc+k]).
void hc_split_sinkhorn(const float* mixes, const float* scale, const float* base, int hc, int iters,
                       float eps, float* pre, float* post, float* comb);

}  // namespace dsv4
