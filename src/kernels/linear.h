// Linear layers over weights as stored in the checkpoint (spec §3.4, §3.5):
// y[m][n] = sum_k x[m][k] * W[n][k] for rows n in [n0, n1), float32 accumulation.
#pragma once

#include <cstdint>

#include "io/safetensors.h"
#include "kernels/isa.h"

namespace dsv4 {

enum class ActQuant { None, Fp8 };

// A quantised weight: F8_E4M3 [N, K] with 128x128 block scales, or packed FP4 (I8 [N, K/2]) with
// per-row per-32 scales; scales are F8_E8M0 or F32.
struct QuantWeight {
  const TensorView* weight = nullptr;
  const TensorView* scale = nullptr;
  int64_t rows() const { return weight->shape()[0]; }
  int64_t cols() const;  // logical K
  bool fp4() const { return weight->dtype() == DType::I8; }
};

// FP8/FP4 linear. With ActQuant::Fp8 the input is FP8-quantised per 128 with power-of-two scales,
// as DeepSeek's fp8_gemm / fp4_gemm take it; with None the input is used as is. Either way the
// weight is exactly dequantised (its scales are powers of two).
// y has row stride ldy (>= n1 - n0) and receives columns n0..n1 at y[m*ldy + (n - n0)].
void linear_quant(const QuantWeight& w, const float* x, int64_t m, float* y, ActQuant aq,
                  int64_t n0 = 0, int64_t n1 = -1, int64_t ldy = -1);

// BF16 (or F32) weight [N, K], float32 math.
void linear_dense(const TensorView& w, const float* x, int64_t m, float* y);

// The scalar references of both. They fix the order of every float operation, and the fast
// kernels (kernels/matmul.h, for the active ISA of kernels/isa.h) follow it exactly, so every ISA,
// prefill and decode give the same bits. The "lane order": each output is a sum over 16 lanes.
//   - The weights as multiplied: dense (BF16 / F32) as stored; FP4 value * block scale; FP8
//     (value * 2^-8) * (block scale * 256), which is the product the fast decoder forms (for any
//     scale a checkpoint holds, simply value * scale). Each is exact: scales are powers of two.
//   - The inputs as multiplied: with act-quant FP8, each FP8 value times its block's power-of-two
//     scale (exact); without, the input as given.
//   - Column j goes to lane j % 16 (FP4: lane (j % 32) / 2, so lane l gets columns 2l then 2l + 1
//     of each 32, as the bytes pack them); lane += x[j] * w[j] (fused, fmaf) for increasing j.
//   - The 16 lanes are added as a tree: lane[l] += lane[l + h] for h = 8, 4, 2, 1; lane 0 is y.
// With act-quant FP8 every product is exact (FP8 x FP8/FP4 values, power-of-two scales), so only
// the additions round, as in DeepSeek's kernels, whose order of additions is the GPU's.
void linear_quant_ref(const QuantWeight& w, const float* x, int64_t m, float* y, ActQuant aq,
                      int64_t n0 = 0, int64_t n1 = -1, int64_t ldy = -1);
void linear_dense_ref(const TensorView& w, const float* x, int64_t m, float* y);

// The fast versions with an explicit ISA (the ones above use active_isa()); for tests.
void linear_quant_isa(Isa isa, const QuantWeight& w, const float* x, int64_t m, float* y,
                      ActQuant aq, int64_t n0 = 0, int64_t n1 = -1, int64_t ldy = -1);
void linear_dense_isa(Isa isa, const TensorView& w, const float* x, int64_t m, float* y);

// y += w * x, unfused (a rounded product, then a rounded sum), as attention sums its values.
void axpy_unfused(Isa isa, float w, const float* x, float* y, int64_t n);
void axpy_unfused_ref(float w, const float* x, float* y, int64_t n);
// out[e] = q . keys[e] added sequentially over the dimensions, unfused: attention's scores, in the
// reference's order (a change of order moves the act-fp8 conformance cases).
void dots_sequential(Isa isa, const float* q, const float* const* keys, int64_t n_keys, int64_t dim,
                     float* out);
void dots_sequential_ref(const float* q, const float* const* keys, int64_t n_keys, int64_t dim,
                         float* out);

// Reads element i of a BF16 or F32 tensor as float.
float load_float(const TensorView& t, int64_t i);
void load_floats(const TensorView& t, float* out);  // the whole tensor

}  // namespace dsv4
