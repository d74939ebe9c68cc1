// Scalar number formats of DeepSeek-V4 checkpoints and numerics (spec dsv4-model.md §2.3,
// §3.1-3.2).
//
// Decoders are exact. Encoders round to nearest, ties to even, and saturate to the largest finite
// value (CUDA __NV_SATFINITE semantics), which is what DeepSeek's kernels do. These are the scalar
// references every vectorised kernel is checked against.
#pragma once

#include <cstdint>

namespace dsv4 {

// ---- bfloat16 / float16 -------------------------------------------------------------------------
float bf16_to_f32(uint16_t h);
uint16_t f32_to_bf16(float f);  // RNE; NaN stays a (quiet) NaN
float bf16_round(float f);      // f32 -> bf16 -> f32
float f16_to_f32(uint16_t h);
uint16_t f32_to_f16(float f);  // RNE; overflow -> inf (IEEE), NaN stays NaN

// ---- FP8 e4m3fn: bias 7, max 448, no inf, NaN = S.1111.111 --------------------------------------
constexpr float kFp8Max = 448.0f;
float fp8_e4m3_to_f32(uint8_t code);
uint8_t f32_to_fp8_e4m3(float f);  // RNE, saturating to +-448; NaN -> 0x7F (sign kept)

// ---- E8M0 scale: value 2^(e-127); 255 = NaN -----------------------------------------------------
float e8m0_to_f32(uint8_t e);  // e=0 gives 2^-127 (a float32 subnormal), e=255 NaN

// ---- FP4 e2m1: magnitudes {0,0.5,1,1.5,2,3,4,6}, bit 3 = sign ----------------------------------
constexpr float kFp4Max = 6.0f;
float fp4_e2m1_to_f32(uint8_t nibble);  // uses the low 4 bits
uint8_t f32_to_fp4_e2m1(float f);       // RNE (ties to even code), saturating to +-6; NaN -> +6
// Packed pairs: low nibble = even element, high nibble = odd element.
inline uint8_t fp4_pack(uint8_t even, uint8_t odd) {
  return static_cast<uint8_t>((even & 0xF) | ((odd & 0xF) << 4));
}
inline uint8_t fp4_lo(uint8_t b) {
  return b & 0xF;
}
inline uint8_t fp4_hi(uint8_t b) {
  return b >> 4;
}

// ---- power-of-two ("ue8m0") block scales, spec §3.2 (DeepSeek's fast_round_scale)
// ------------------ Floors of amax applied before the scale is derived.
constexpr float kFp8AmaxFloor = 1e-4f;
float fp4_amax_floor();  // 6 * 2^-126
// Returns the exponent e such that the scale is 2^e: amax is floored, multiplied by f32(1/qmax),
// and e = ceil(log2(t)) taken from the float bits. The stored E8M0 byte is e + 127.
int pow2_scale_exponent(float amax, float qmax, float amax_floor);
inline int fp8_scale_exponent(float amax) {
  return pow2_scale_exponent(amax, kFp8Max, kFp8AmaxFloor);
}
inline int fp4_scale_exponent(float amax) {
  return pow2_scale_exponent(amax, kFp4Max, fp4_amax_floor());
}
float exp2_int(int e);  // exact 2^e for e in [-149, 127]

}  // namespace dsv4
