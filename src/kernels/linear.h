// Linear layers over weights as stored in the checkpoint (spec §3.4, §3.5):
// y[m][n] = sum_k x[m][k] * W[n][k] for rows n in [n0, n1), float32 accumulation.
#pragma once

#include <cstdint>

#include "io/safetensors.h"

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

// FP8/FP4 linear. With ActQuant::Fp8 the input is FP8-quantised per 128 with power-of-two scales
// and products are accumulated per block and promoted with both scales, as DeepSeek's fp8_gemm /
// fp4_gemm do; with None the input is used as is against the exactly dequantised weight.
// y has row stride ldy (>= n1 - n0) and receives columns n0..n1 at y[m*ldy + (n - n0)].
void linear_quant(const QuantWeight& w, const float* x, int64_t m, float* y, ActQuant aq,
                  int64_t n0 = 0, int64_t n1 = -1, int64_t ldy = -1);

// BF16 (or F32) weight [N, K], float32 math.
void linear_dense(const TensorView& w, const float* x, int64_t m, float* y);

// The scalar references of both (the fast versions above use the SIMD kernels of decode.h for the
// active ISA, kernels/isa.h, and equal these up to the order of float additions).
void linear_quant_ref(const QuantWeight& w, const float* x, int64_t m, float* y, ActQuant aq,
                      int64_t n0 = 0, int64_t n1 = -1, int64_t ldy = -1);
void linear_dense_ref(const TensorView& w, const float* x, int64_t m, float* y);

// Reads element i of a BF16 or F32 tensor as float.
float load_float(const TensorView& t, int64_t i);
void load_floats(const TensorView& t, float* out);  // the whole tensor

}  // namespace dsv4
