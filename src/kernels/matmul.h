// The fast linear-layer kernels: y[i][r] = sum_k x[i][k] * W[r][k] straight from the stored
// weight format, adding in exactly the order of the scalar references of linear.cpp (the "lane
// order" of linear.h), so they change speed, never logits.
//
// Each output is a 16-lane dot product along k: a SIMD vector holds 16 consecutive columns of one
// weight row, so a row streams through memory once, in order, and is decoded in registers. A tile
// of R rows x M inputs keeps R*M accumulators: each weight vector decoded serves M inputs, each
// input vector loaded serves R rows (decode: 8 x 1 up to 2 x 4; prefill, from weights decoded once
// into L1: 4 x 6 on AVX-512). FP8 / FP4 weights are multiplied by their block scale as they are
// decoded, so every kind is the same plain fused chain per lane.
// matmul_impl.h holds the kernel once; matmul_avx512.cpp (one zmm = 16 lanes) and matmul_avx2.cpp
// (two ymm) compile it per ISA.
#pragma once

#include <cstdint>

namespace dsv4 {

struct MatmulJob {
  enum class Kind { Bf16, F32, Fp8, Fp4 };
  Kind kind = Kind::Bf16;
  int64_t k = 0;               // columns (a multiple of 128 for Fp8 / Fp4)
  int64_t n0 = 0, n1 = 0;      // rows computed
  const uint8_t* w = nullptr;  // weights as stored, [rows][k] (Fp4: [rows][k/2] packed)
  // Fp8 / Fp4: weight scales as stored (F8_E8M0 or F32), [rows/128 or rows][ws_cols].
  const uint8_t* ws = nullptr;
  bool ws_e8m0 = true;
  int64_t ws_cols = 0;
  // Inputs [m][k], prepared (linear.cpp): act-quant FP8 values times their scales; Fp4: each
  // 32-column block as its 16 even columns, then its 16 odd ones.
  const float* x = nullptr;
  int64_t m = 0;
  float* y = nullptr;  // y[i * ldy + (r - n0)]
  int64_t ldy = 0;
  float* scratch = nullptr;  // matmul_scratch_floats(k) floats
};

int64_t matmul_scratch_floats(int64_t k);

void matmul_avx512(const MatmulJob& job);
void matmul_avx2(const MatmulJob& job);

// Attention's weighted sum (kernels/linear.h has the dispatching version and the reference).
void axpy_unfused_avx512(float w, const float* x, float* y, int64_t n);
// out[e] = q . keys[e], each added sequentially over the dimensions (product, then sum, both
// rounded), 16 keys at a time on the lanes (AVX-512 only).
void dots_sequential_avx512(const float* q, const float* const* keys, int64_t n_keys, int64_t dim,
                            float* out);
void axpy_unfused_avx2(float w, const float* x, float* y, int64_t n);

}  // namespace dsv4
