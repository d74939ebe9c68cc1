// Row-parallel linear layers, bit-identical to the scalar references of linear.cpp: a tile of
// rows is decoded from the stored format, transposed, and multiplied with one input row at a
// time, each SIMD lane owning one output row and adding its products in the reference's order
// (sequential over k, per scale block, no fused multiply-add). So the fast kernels change speed,
// never logits: prefill, decode, batching and every ISA give the same bits as the reference.
// rows_impl.h holds the kernel once; rows_avx512.cpp and rows_avx2.cpp compile it per ISA.
#pragma once

#include <cstdint>

namespace dsv4 {

struct RowJob {
  enum class Kind { Bf16, F32, Fp8, Fp4 };
  Kind kind = Kind::Bf16;
  int64_t k = 0;             // columns
  int64_t n0 = 0, n1 = 0;    // rows computed
  const float* x = nullptr;  // inputs [m][k] (FP8 codes decoded, under act-quant)
  int64_t m = 0;
  const float* xs = nullptr;  // act-quant: per-128 input scales [m][k/128]; null otherwise
  float* y = nullptr;         // y[i * ldy + (r - n0)]
  int64_t ldy = 0;
  // Fills dst[0..n) with columns c0..c0+n of row r as floats: unscaled under act-quant, scaled
  // otherwise (c0 and n multiples of the scale block, except for the tail of a dense row).
  void (*decode_row)(const void* ctx, int64_t r, int64_t c0, int64_t n, float* dst) = nullptr;
  // dst[c * stride + l] = the weight scale of row r0 + l, block c (FP8: 128 columns, FP4: 32),
  // for l < rows and c < nsub; act-quant only.
  void (*scales)(const void* ctx, int64_t r0, int64_t rows, int64_t nsub, int64_t stride,
                 float* dst) = nullptr;
  const void* ctx = nullptr;
  // BF16 weights [n][k] as stored: decoded and transposed in registers instead of decode_row.
  const uint8_t* bf16 = nullptr;
  // Scratch from row_scratch_floats(): a tile of decoded columns, its transpose, per-lane scales
  // and the running sums of every input.
  float* scratch = nullptr;
};

// Rows per tile and the scratch a job needs, for an ISA's kernel.
int64_t row_tile(bool avx512);
int64_t row_scratch_floats(bool avx512, int64_t k, int64_t m);

void rows_avx512(const RowJob& job);
void rows_avx2(const RowJob& job);

}  // namespace dsv4
