// Stored weight formats → float32, one row segment at a time, for every ISA (scalar / AVX2 /
// AVX-512 versions of the same function, picked by the caller). Scales are applied while decoding:
// FP8 per 128 columns, FP4 per 32, BF16 none. FP8 goes through FP16 (e4m3 bits shifted into an
// f16, converted by the hardware, times 2^8) so subnormal codes cost nothing extra; FP4 is a
// 16-entry lookup in a register. Each decoder is exact: it matches numeric/formats.h value for
// value (tests/test_kernels.cpp).
#pragma once

#include <cstdint>

#include "kernels/isa.h"

namespace dsv4 {

// n values; n a multiple of 128 for fp8 (one scale per 128), of 32 for fp4 (one per 32 values =
// 16 bytes). `scales` holds one float per block.
void decode_bf16(Isa isa, const uint8_t* src, int64_t n, float* dst);
void decode_fp8(Isa isa, const uint8_t* src, int64_t n, const float* scales, float* dst);
void decode_fp4(Isa isa, const uint8_t* src, int64_t n, const float* scales, float* dst);

}  // namespace dsv4
