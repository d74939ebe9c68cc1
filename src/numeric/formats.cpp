#include "numeric/formats.h"

#include <bit>
#include <cmath>
#include <limits>

namespace dsv4 {

namespace {

constexpr uint32_t kF32Sign = 0x80000000u;
constexpr uint32_t kF32ExpMask = 0x7F800000u;
constexpr uint32_t kF32ManMask = 0x007FFFFFu;

uint32_t bits_of(float f) {
  return std::bit_cast<uint32_t>(f);
}
float float_of(uint32_t u) {
  return std::bit_cast<float>(u);
}

// v >> s rounded to nearest, ties to even; 1 <= s <= 31.
uint32_t shift_rne(uint32_t v, int s) {
  const uint32_t q = v >> s;
  const uint32_t rem = v & ((1u << s) - 1);
  const uint32_t half = 1u << (s - 1);
  return q + ((rem > half || (rem == half && (q & 1))) ? 1 : 0);
}

// Rounds the magnitude of a finite float (abs_bits = bits without sign) to a narrower binary format
// with `man` mantissa bits and exponent bias `bias`, returning its (exponent << man | mantissa)
// magnitude code. Because the code of such a format is monotone in the value, a carry out of the
// mantissa correctly bumps the exponent (and a subnormal rounds up into the smallest normal). The
// result is NOT range-checked: codes past the largest finite value are left to the caller, which
// either saturates (FP8, FP4) or turns them into infinity (f16).
uint32_t round_magnitude(uint32_t abs_bits, int man, int bias) {
  const int exp_field = static_cast<int>(abs_bits >> 23);
  // f32 subnormals are < 2^-126, far below half of the smallest subnormal of every target here.
  if (exp_field == 0) return 0;
  const int shift = 23 - man;
  const int target_exp = exp_field - 127 + bias;
  if (target_exp >= 1) {
    // Normal in the target: rebias the exponent in place and round the whole word, so that a
    // mantissa overflow carries into the exponent.
    const uint32_t rebased = (static_cast<uint32_t>(target_exp) << 23) | (abs_bits & kF32ManMask);
    return shift_rne(rebased, shift);
  }
  // Subnormal in the target: significand with explicit leading one, shifted further by how far
  // the value lies below the smallest normal exponent.
  const uint32_t sig = (abs_bits & kF32ManMask) | 0x00800000u;
  const int sub_shift = shift + (1 - target_exp);
  // sig < 2^24, so for shifts > 24 the value is below half the smallest subnormal.
  if (sub_shift > 24) return 0;
  return shift_rne(sig, sub_shift);
}

}  // namespace

// ---- bfloat16 / float16 -------------------------------------------------------------------------

float bf16_to_f32(uint16_t h) {
  return float_of(static_cast<uint32_t>(h) << 16);
}

uint16_t f32_to_bf16(float f) {
  const uint32_t u = bits_of(f);
  if (std::isnan(f)) {
    // Plain truncation could clear every payload bit and turn a NaN into infinity; forcing the
    // quiet bit keeps it a NaN (sign and top payload bits preserved).
    return static_cast<uint16_t>((u >> 16) | 0x0040);
  }
  // Round-to-nearest-even on the low 16 bits; a carry into the exponent is the right result
  // (including overflow to infinity).
  return static_cast<uint16_t>((u + 0x7FFFu + ((u >> 16) & 1)) >> 16);
}

float bf16_round(float f) {
  return bf16_to_f32(f32_to_bf16(f));
}

float f16_to_f32(uint16_t h) {
  const uint32_t sign = static_cast<uint32_t>(h & 0x8000) << 16;
  const uint32_t exp = (h >> 10) & 0x1F;
  const uint32_t man = h & 0x3FF;
  if (exp == 0x1F) return float_of(sign | kF32ExpMask | (man << 13));  // inf / NaN
  if (exp == 0) {
    // Subnormal (or zero): man * 2^-24, exact in float (11-bit integer times a power of two).
    const float mag = static_cast<float>(man) * 0x1p-24f;
    return float_of(sign | bits_of(mag));
  }
  return float_of(sign | ((exp - 15 + 127) << 23) | (man << 13));
}

uint16_t f32_to_f16(float f) {
  const uint32_t u = bits_of(f);
  const uint16_t sign = static_cast<uint16_t>((u & kF32Sign) >> 16);
  const uint32_t abs_bits = u & ~kF32Sign;
  if (abs_bits > kF32ExpMask) {
    return static_cast<uint16_t>(sign | 0x7E00 | ((abs_bits & kF32ManMask) >> 13));  // quiet NaN
  }
  if (abs_bits == kF32ExpMask) return static_cast<uint16_t>(sign | 0x7C00);
  const uint32_t mag = round_magnitude(abs_bits, 10, 15);
  // IEEE: everything that rounds past 65504 becomes infinity.
  return static_cast<uint16_t>(sign | (mag >= 0x7C00 ? 0x7C00 : mag));
}

// ---- FP8 e4m3fn ---------------------------------------------------------------------------------

float fp8_e4m3_to_f32(uint8_t code) {
  const bool neg = (code & 0x80) != 0;
  const int exp = (code >> 3) & 0xF;
  const int man = code & 0x7;
  if (exp == 0xF && man == 0x7) {
    return neg ? -std::numeric_limits<float>::quiet_NaN() : std::numeric_limits<float>::quiet_NaN();
  }
  // Subnormal: man * 2^-9; normal: (8 + man) * 2^(exp - 7 - 3). Both are exact float products.
  const float mag = exp == 0 ? static_cast<float>(man) * 0x1p-9f
                             : static_cast<float>(8 + man) * exp2_int(exp - 10);
  return neg ? -mag : mag;
}

uint8_t f32_to_fp8_e4m3(float f) {
  const uint32_t u = bits_of(f);
  const uint8_t sign = static_cast<uint8_t>((u & kF32Sign) >> 24);
  const uint32_t abs_bits = u & ~kF32Sign;
  if (abs_bits > kF32ExpMask) return static_cast<uint8_t>(sign | 0x7F);
  // Infinity saturates too (__NV_SATFINITE): e4m3fn has no infinity.
  if (abs_bits == kF32ExpMask) return static_cast<uint8_t>(sign | 0x7E);
  const uint32_t mag = round_magnitude(abs_bits, 3, 7);
  return static_cast<uint8_t>(sign | (mag > 0x7E ? 0x7E : mag));
}

// ---- E8M0 ---------------------------------------------------------------------------------------

float e8m0_to_f32(uint8_t e) {
  if (e == 0xFF) return std::numeric_limits<float>::quiet_NaN();
  return exp2_int(static_cast<int>(e) - 127);
}

// ---- FP4 e2m1 -----------------------------------------------------------------------------------

float fp4_e2m1_to_f32(uint8_t nibble) {
  static constexpr float kMag[8] = {0.0f, 0.5f, 1.0f, 1.5f, 2.0f, 3.0f, 4.0f, 6.0f};
  const float mag = kMag[nibble & 0x7];
  return (nibble & 0x8) ? -mag : mag;
}

uint8_t f32_to_fp4_e2m1(float f) {
  const uint32_t u = bits_of(f);
  const uint32_t abs_bits = u & ~kF32Sign;
  // No NaN code exists; the header fixes NaN -> +6 (code 7).
  if (abs_bits > kF32ExpMask) return 0x7;
  // Sign is kept for every other input, so -0 and negatives that round to zero give code 8 (-0),
  // as a sign-preserving hardware conversion does.
  const uint8_t sign = (u & kF32Sign) ? 0x8 : 0x0;
  if (abs_bits == kF32ExpMask) return static_cast<uint8_t>(sign | 0x7);
  // e2m1 is a 1-bit-mantissa, bias-1 binary format: codes 0..7 = 0,0.5 | 1,1.5 | 2,3 | 4,6.
  const uint32_t mag = round_magnitude(abs_bits, 1, 1);
  return static_cast<uint8_t>(sign | (mag > 0x7 ? 0x7 : mag));
}

// ---- power-of-two block scales ------------------------------------------------------------------

float fp4_amax_floor() {
  return exp2_int(-126) * 6.0f;
}

int pow2_scale_exponent(float amax, float qmax, float amax_floor) {
  // fmax drops a NaN amax in favour of the floor, like CUDA's fmaxf that the kernel's max lowers
  // to.
  const float a = std::fmax(amax, amax_floor);
  const float inv = 1.0f / qmax;  // correctly rounded: this is f32(1/qmax)
  const float t = a * inv;
  // ceil(log2 t) from the bits, exactly as DeepSeek's fast_log2_ceil: exponent field - 127, plus
  // one if any mantissa bit is set. For normal t this is exact. For subnormal t (exponent field 0)
  // it yields -126 = max(ceil(log2 t), -126), i.e. the scale is clamped to the smallest normal
  // 2^-126 (still >= t, so a / 2^e <= qmax keeps holding); t == 0 yields -127. Neither happens with
  // the V4 floors (the FP4 floor makes t exactly 2^-126). The sign bit is masked like the kernel's.
  const uint32_t u = bits_of(t);
  const int exp_field = static_cast<int>((u >> 23) & 0xFF);
  return exp_field - 127 + ((u & kF32ManMask) != 0 ? 1 : 0);
}

float exp2_int(int e) {
  // Built from bits (as the kernel's fast_pow2 does for normals); subnormals need a mantissa bit.
  // Out-of-range exponents saturate to 0 / infinity like ldexp.
  if (e > 127) return std::numeric_limits<float>::infinity();
  if (e >= -126) return float_of(static_cast<uint32_t>(e + 127) << 23);
  if (e >= -149) return float_of(1u << (e + 149));
  return 0.0f;
}

}  // namespace dsv4
