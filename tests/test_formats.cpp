// Tests of the scalar number formats. Expected values never come from the code under test: decoders
// are checked against values built from the bit fields with ldexp in double, encoders against a
// nearest-value search over the decoded grid (ties to the even code).
#include "numeric/formats.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <bit>
#include <cmath>
#include <cstdint>
#include <functional>
#include <limits>
#include <random>
#include <vector>

namespace dsv4 {
namespace {

constexpr float kInf = std::numeric_limits<float>::infinity();
constexpr float kNaN = std::numeric_limits<float>::quiet_NaN();

uint32_t Bits(float f) {
  return std::bit_cast<uint32_t>(f);
}
float FromBits(uint32_t u) {
  return std::bit_cast<float>(u);
}
float Up(float f) {
  return std::nextafter(f, kInf);
}
float Down(float f) {
  return std::nextafter(f, -kInf);
}

// Positive codes 0..n-1 of every format here are ordered by value, so grid[c] = value of code c.
// Returns the code nearest to a >= 0; ties go to the even code; a beyond the grid gives the last
// code (saturation, or "infinity" when the caller appends the next power of two as an inf code).
uint32_t NearestCode(const std::vector<double>& grid, double a) {
  if (a >= grid.back()) return static_cast<uint32_t>(grid.size() - 1);
  const size_t hi =
      static_cast<size_t>(std::upper_bound(grid.begin(), grid.end(), a) - grid.begin());
  const size_t lo = hi - 1;
  const double dlo = a - grid[lo];  // exact: a float and a grid value a few binades apart
  const double dhi = grid[hi] - a;
  if (dlo < dhi) return static_cast<uint32_t>(lo);
  if (dhi < dlo) return static_cast<uint32_t>(hi);
  return static_cast<uint32_t>(lo % 2 == 0 ? lo : hi);
}

// Checks an encoder at every midpoint between adjacent positive codes 0..last (tie -> even code),
// one float ulp either side (-> nearest code), and at the grid values themselves, for both signs.
void CheckMidpoints(const std::function<double(uint32_t)>& decode,
                    const std::function<uint32_t(float)>& encode, uint32_t last,
                    uint32_t sign_bit) {
  for (uint32_t c = 0; c < last; ++c) {
    const double lo = decode(c), hi = decode(c + 1);
    const float mid = static_cast<float>((lo + hi) / 2);
    ASSERT_EQ(static_cast<double>(mid), (lo + hi) / 2) << "midpoint not a float, code " << c;
    const uint32_t even = (c % 2 == 0) ? c : c + 1;
    for (const float s : {1.0f, -1.0f}) {
      const uint32_t sb = s < 0 ? sign_bit : 0;
      EXPECT_EQ(encode(s * mid), sb | even) << "tie above code " << c << " sign " << s;
      EXPECT_EQ(encode(s * Up(mid)), sb | (c + 1)) << "above tie, code " << c;
      EXPECT_EQ(encode(s * Down(mid)), sb | c) << "below tie, code " << c;
      EXPECT_EQ(encode(s * static_cast<float>(lo)), sb | c) << "exact, code " << c;
    }
  }
}

// Checks an encoder on a strided sweep through all 2^32 float bit patterns against NearestCode.
void CheckSweep(const std::vector<double>& grid, const std::function<uint32_t(float)>& encode,
                uint32_t sign_bit, const std::function<bool(uint32_t)>& is_nan_code) {
  constexpr uint64_t kStride = 509;  // prime: visits every exponent with varied mantissas
  for (uint64_t u = 0; u <= 0xFFFFFFFFull; u += kStride) {
    const float f = FromBits(static_cast<uint32_t>(u));
    const uint32_t got = encode(f);
    if (std::isnan(f)) {
      ASSERT_TRUE(is_nan_code(got)) << std::hex << u;
      continue;
    }
    const uint32_t want = (std::signbit(f) ? sign_bit : 0) | NearestCode(grid, std::fabs(f));
    ASSERT_EQ(got, want) << std::hex << "bits 0x" << u;
  }
}

// ---- FP8 e4m3fn ---------------------------------------------------------------------------------

double Fp8Reference(uint32_t c) {
  const int s = (c >> 7) & 1, e = (c >> 3) & 0xF, m = c & 7;
  const double mag = e == 0 ? std::ldexp(m, -9) : std::ldexp(1.0 + m / 8.0, e - 7);
  return s ? -mag : mag;
}

std::vector<double> Fp8Grid() {
  std::vector<double> g;
  for (uint32_t c = 0; c <= 0x7E; ++c) g.push_back(Fp8Reference(c));
  return g;
}

uint32_t EncFp8(float f) {
  return f32_to_fp8_e4m3(f);
}

TEST(Fp8, DecodeAllCodes) {
  int nan_count = 0;
  for (uint32_t c = 0; c < 256; ++c) {
    const float v = fp8_e4m3_to_f32(static_cast<uint8_t>(c));
    EXPECT_EQ(std::signbit(v), (c & 0x80) != 0) << c;
    if ((c & 0x7F) == 0x7F) {
      EXPECT_TRUE(std::isnan(v)) << c;
      ++nan_count;
      continue;
    }
    EXPECT_FALSE(std::isnan(v)) << c;
    EXPECT_EQ(static_cast<double>(v), Fp8Reference(c)) << c;
  }
  EXPECT_EQ(nan_count, 2);  // 0x7F and 0xFF only: no infinities, no other NaNs
  EXPECT_EQ(fp8_e4m3_to_f32(0x7E), 448.0f);
  EXPECT_EQ(fp8_e4m3_to_f32(0x08), 0x1p-6f);  // smallest normal
  EXPECT_EQ(fp8_e4m3_to_f32(0x01), 0x1p-9f);  // smallest subnormal
  EXPECT_EQ(fp8_e4m3_to_f32(0x07), 7 * 0x1p-9f);
}

TEST(Fp8, RoundTripAllCodes) {
  for (uint32_t c = 0; c < 256; ++c) {
    const uint8_t got = f32_to_fp8_e4m3(fp8_e4m3_to_f32(static_cast<uint8_t>(c)));
    EXPECT_EQ(got, c) << c;  // NaN codes come back as themselves too (0x7F | sign)
  }
  EXPECT_EQ(f32_to_fp8_e4m3(0.0f), 0x00);
  EXPECT_EQ(f32_to_fp8_e4m3(-0.0f), 0x80);
  EXPECT_EQ(Bits(fp8_e4m3_to_f32(0x80)), 0x80000000u);
}

TEST(Fp8, EncodeMidpoints) {
  CheckMidpoints(Fp8Reference, EncFp8, 0x7E, 0x80);
}

TEST(Fp8, Saturation) {
  for (const float f : {448.0f, Up(448.0f), 449.0f, Down(464.0f), 464.0f, Up(464.0f), 480.0f, 1e9f,
                        std::numeric_limits<float>::max(), kInf}) {
    EXPECT_EQ(f32_to_fp8_e4m3(f), 0x7E) << f;
    EXPECT_EQ(f32_to_fp8_e4m3(-f), 0xFE) << f;
  }
  EXPECT_EQ(f32_to_fp8_e4m3(Down(448.0f)), 0x7E);
  EXPECT_EQ(f32_to_fp8_e4m3(420.0f), 0x7D);  // nearest is 416
  EXPECT_EQ(f32_to_fp8_e4m3(432.0f), 0x7E);  // 416 (0x7D) | 448 (0x7E) tie -> even code 0x7E
  EXPECT_EQ(f32_to_fp8_e4m3(Down(432.0f)), 0x7D);
  EXPECT_EQ(f32_to_fp8_e4m3(400.0f), 0x7C);  // 384 (0x7C) | 416 (0x7D) tie -> 0x7C
}

TEST(Fp8, Subnormals) {
  EXPECT_EQ(f32_to_fp8_e4m3(0x1p-10f), 0x00);  // tie between 0 and 2^-9 -> 0
  EXPECT_EQ(f32_to_fp8_e4m3(-0x1p-10f), 0x80);
  EXPECT_EQ(f32_to_fp8_e4m3(Up(0x1p-10f)), 0x01);
  EXPECT_EQ(f32_to_fp8_e4m3(3 * 0x1p-10f), 0x02);   // 1.5 * 2^-9 -> 2 * 2^-9
  EXPECT_EQ(f32_to_fp8_e4m3(5 * 0x1p-10f), 0x02);   // 2.5 * 2^-9 -> 2 * 2^-9
  EXPECT_EQ(f32_to_fp8_e4m3(7 * 0x1p-10f), 0x04);   // 3.5 * 2^-9 -> 4 * 2^-9
  EXPECT_EQ(f32_to_fp8_e4m3(13 * 0x1p-10f), 0x06);  // 6.5 * 2^-9 -> 6 * 2^-9
  EXPECT_EQ(f32_to_fp8_e4m3(15 * 0x1p-10f), 0x08);  // 7.5 * 2^-9 rounds up into 2^-6 (normal)
  EXPECT_EQ(f32_to_fp8_e4m3(Down(15 * 0x1p-10f)), 0x07);
  EXPECT_EQ(f32_to_fp8_e4m3(0x1p-11f), 0x00);
  EXPECT_EQ(f32_to_fp8_e4m3(std::numeric_limits<float>::denorm_min()), 0x00);
  EXPECT_EQ(f32_to_fp8_e4m3(-std::numeric_limits<float>::denorm_min()), 0x80);
  EXPECT_EQ(f32_to_fp8_e4m3(std::numeric_limits<float>::min()), 0x00);
}

TEST(Fp8, NaN) {
  EXPECT_EQ(f32_to_fp8_e4m3(kNaN), 0x7F);
  EXPECT_EQ(f32_to_fp8_e4m3(-kNaN), 0xFF);
  EXPECT_EQ(f32_to_fp8_e4m3(FromBits(0x7F800001u)), 0x7F);  // signalling NaN
  EXPECT_EQ(f32_to_fp8_e4m3(FromBits(0xFFFFFFFFu)), 0xFF);
}

TEST(Fp8, SweepAgainstReference) {
  CheckSweep(Fp8Grid(), EncFp8, 0x80, [](uint32_t c) { return (c & 0x7F) == 0x7F; });
}

// ---- bfloat16 -----------------------------------------------------------------------------------

double Bf16Reference(uint32_t h) {
  const int s = (h >> 15) & 1, e = (h >> 7) & 0xFF, m = h & 0x7F;
  const double mag = e == 0 ? std::ldexp(m, -133) : std::ldexp(1.0 + m / 128.0, e - 127);
  return s ? -mag : mag;
}

uint32_t EncBf16(float f) {
  return f32_to_bf16(f);
}

TEST(Bf16, DecodeAllCodes) {
  for (uint32_t h = 0; h < 65536; ++h) {
    const float v = bf16_to_f32(static_cast<uint16_t>(h));
    ASSERT_EQ(Bits(v), h << 16);
    const uint32_t e = (h >> 7) & 0xFF;
    if (e != 0xFF) {
      ASSERT_EQ(static_cast<double>(v), Bf16Reference(h)) << h;
    }
  }
}

TEST(Bf16, RoundTripAllCodes) {
  for (uint32_t h = 0; h < 65536; ++h) {
    const float v = bf16_to_f32(static_cast<uint16_t>(h));
    const uint16_t back = f32_to_bf16(v);
    if (std::isnan(v)) {
      ASSERT_EQ(back, h | 0x0040) << h;  // quieted, sign and payload kept
    } else {
      ASSERT_EQ(back, h) << h;
      ASSERT_EQ(Bits(bf16_round(v)), Bits(v)) << h;
    }
  }
}

TEST(Bf16, Ties) {
  EXPECT_EQ(f32_to_bf16(FromBits(0x3F808000u)), 0x3F80);  // tie, even below
  EXPECT_EQ(f32_to_bf16(FromBits(0x3F818000u)), 0x3F82);  // tie, even above
  EXPECT_EQ(f32_to_bf16(FromBits(0x3F808001u)), 0x3F81);
  EXPECT_EQ(f32_to_bf16(FromBits(0x3F807FFFu)), 0x3F80);
  EXPECT_EQ(f32_to_bf16(FromBits(0xBF818000u)), 0xBF82);
  EXPECT_EQ(f32_to_bf16(FromBits(0x3FFF8000u)), 0x4000);  // carry into the exponent
  EXPECT_EQ(f32_to_bf16(FromBits(0x00008000u)), 0x0000);  // subnormal ties
  EXPECT_EQ(f32_to_bf16(FromBits(0x00018000u)), 0x0002);
  EXPECT_EQ(f32_to_bf16(FromBits(0x007F8000u)), 0x0080);  // largest subnormal -> smallest normal
  EXPECT_EQ(f32_to_bf16(FromBits(0x7F7F7FFFu)), 0x7F7F);
  EXPECT_EQ(f32_to_bf16(FromBits(0x7F7F8000u)), 0x7F80);  // overflow to infinity
  EXPECT_EQ(f32_to_bf16(std::numeric_limits<float>::max()), 0x7F80);
  EXPECT_EQ(f32_to_bf16(kInf), 0x7F80);
  EXPECT_EQ(f32_to_bf16(-kInf), 0xFF80);
  EXPECT_EQ(f32_to_bf16(-0.0f), 0x8000);
  EXPECT_EQ(bf16_round(1.00390625f), 1.0f);       // 1 + 2^-8: tie -> 1
  EXPECT_EQ(bf16_round(1.01171875f), 1.015625f);  // 1 + 3*2^-8: tie -> 1 + 2^-6
}

TEST(Bf16, EncodeMidpoints) {
  CheckMidpoints(Bf16Reference, EncBf16, 0x7F7E, 0x8000);
}

TEST(Bf16, NaN) {
  // Truncating 0x7F800001 would give 0x7F80 = infinity; the quiet bit keeps it a NaN.
  EXPECT_EQ(f32_to_bf16(FromBits(0x7F800001u)), 0x7FC0);
  EXPECT_EQ(f32_to_bf16(FromBits(0xFF800001u)), 0xFFC0);
  EXPECT_EQ(f32_to_bf16(kNaN), 0x7FC0);
  EXPECT_EQ(f32_to_bf16(FromBits(0x7FFFFFFFu)), 0x7FFF);  // no carry out of a NaN
  EXPECT_EQ(f32_to_bf16(FromBits(0xFFA12345u)), 0xFFE1);
  EXPECT_TRUE(std::isnan(bf16_round(kNaN)));
}

TEST(Bf16, SweepAgainstReference) {
  std::vector<double> grid;
  for (uint32_t h = 0; h <= 0x7F7F; ++h) grid.push_back(Bf16Reference(h));
  grid.push_back(std::ldexp(1.0, 128));  // code 0x7F80 stands for "rounds past the max": inf
  CheckSweep(grid, EncBf16, 0x8000, [](uint32_t h) { return (h & 0x7FFF) > 0x7F80; });
}

// ---- float16 ------------------------------------------------------------------------------------

double F16Reference(uint32_t h) {
  const int s = (h >> 15) & 1, e = (h >> 10) & 0x1F, m = h & 0x3FF;
  const double mag = e == 0 ? std::ldexp(m, -24) : std::ldexp(1.0 + m / 1024.0, e - 15);
  return s ? -mag : mag;
}

uint32_t EncF16(float f) {
  return f32_to_f16(f);
}

TEST(F16, DecodeAllCodes) {
  for (uint32_t h = 0; h < 65536; ++h) {
    const float v = f16_to_f32(static_cast<uint16_t>(h));
    const uint32_t e = (h >> 10) & 0x1F, m = h & 0x3FF;
    ASSERT_EQ(std::signbit(v), (h & 0x8000) != 0) << h;
    if (e == 0x1F) {
      ASSERT_EQ(std::isnan(v), m != 0) << h;
      if (m == 0) {
        ASSERT_TRUE(std::isinf(v)) << h;
      }
    } else {
      ASSERT_EQ(static_cast<double>(v), F16Reference(h)) << h;
    }
  }
  EXPECT_EQ(f16_to_f32(0x0001), 0x1p-24f);
  EXPECT_EQ(f16_to_f32(0x03FF), 1023 * 0x1p-24f);
  EXPECT_EQ(f16_to_f32(0x7BFF), 65504.0f);
  EXPECT_EQ(Bits(f16_to_f32(0x8000)), 0x80000000u);
}

TEST(F16, RoundTripAllCodes) {
  for (uint32_t h = 0; h < 65536; ++h) {
    const float v = f16_to_f32(static_cast<uint16_t>(h));
    const uint16_t back = f32_to_f16(v);
    if (std::isnan(v)) {
      // Payload may be quieted; it must stay a NaN of the same sign.
      ASSERT_TRUE(std::isnan(f16_to_f32(back))) << h;
      ASSERT_EQ(back & 0x8000, h & 0x8000) << h;
    } else {
      ASSERT_EQ(back, h) << h;
    }
  }
}

TEST(F16, EncodeMidpoints) {
  CheckMidpoints(F16Reference, EncF16, 0x7BFE, 0x8000);
}

TEST(F16, EdgeCases) {
  EXPECT_EQ(f32_to_f16(65504.0f), 0x7BFF);
  EXPECT_EQ(f32_to_f16(Down(65520.0f)), 0x7BFF);
  EXPECT_EQ(f32_to_f16(65520.0f), 0x7C00);  // tie between 65504 (odd) and 2^16: overflows to inf
  EXPECT_EQ(f32_to_f16(-65520.0f), 0xFC00);
  EXPECT_EQ(f32_to_f16(1e9f), 0x7C00);
  EXPECT_EQ(f32_to_f16(kInf), 0x7C00);
  EXPECT_EQ(f32_to_f16(-kInf), 0xFC00);
  EXPECT_EQ(f32_to_f16(0x1p-25f), 0x0000);  // tie between 0 and the smallest subnormal
  EXPECT_EQ(f32_to_f16(Up(0x1p-25f)), 0x0001);
  EXPECT_EQ(f32_to_f16(3 * 0x1p-25f), 0x0002);
  EXPECT_EQ(f32_to_f16(0x1p-14f - 0x1p-25f), 0x0400);  // largest subnormal tie -> smallest normal
  EXPECT_EQ(f32_to_f16(1e-10f), 0x0000);
  EXPECT_EQ(f32_to_f16(-1e-10f), 0x8000);
  EXPECT_EQ(f32_to_f16(std::numeric_limits<float>::denorm_min()), 0x0000);
  EXPECT_EQ(f32_to_f16(-0.0f), 0x8000);
  EXPECT_EQ(f32_to_f16(1.0f), 0x3C00);
  EXPECT_EQ(f32_to_f16(FromBits(0x3F801000u)), 0x3C00);  // 1 + 2^-11: tie -> 1
  EXPECT_EQ(f32_to_f16(FromBits(0x3F803000u)), 0x3C02);  // 1 + 3*2^-11: tie -> 1 + 2^-9
}

TEST(F16, NaN) {
  const uint16_t q = f32_to_f16(kNaN);
  EXPECT_EQ(q & 0x7E00, 0x7E00);
  EXPECT_EQ(f32_to_f16(FromBits(0x7F800001u)) & 0x7FFF, 0x7E00);  // low payload lost, still NaN
  EXPECT_EQ(f32_to_f16(FromBits(0xFF800001u)), 0xFE00);
  EXPECT_TRUE(std::isnan(f16_to_f32(f32_to_f16(FromBits(0x7FFFFFFFu)))));
}

TEST(F16, SweepAgainstReference) {
  std::vector<double> grid;
  for (uint32_t h = 0; h <= 0x7BFF; ++h) grid.push_back(F16Reference(h));
  grid.push_back(65536.0);  // code 0x7C00: inf
  CheckSweep(grid, EncF16, 0x8000, [](uint32_t h) { return (h & 0x7FFF) > 0x7C00; });
}

// ---- E8M0 ---------------------------------------------------------------------------------------

TEST(E8m0, AllCodes) {
  for (int e = 0; e < 255; ++e) {
    const float v = e8m0_to_f32(static_cast<uint8_t>(e));
    EXPECT_EQ(v, std::ldexp(1.0f, e - 127)) << e;
    EXPECT_EQ(static_cast<double>(v), std::ldexp(1.0, e - 127)) << e;
  }
  EXPECT_TRUE(std::isnan(e8m0_to_f32(255)));
  EXPECT_EQ(Bits(e8m0_to_f32(0)), 0x00400000u);  // 2^-127 is a float subnormal
  EXPECT_EQ(e8m0_to_f32(127), 1.0f);
  EXPECT_EQ(e8m0_to_f32(254), 0x1p127f);
}

TEST(Exp2Int, AllExponents) {
  for (int e = -149; e <= 127; ++e) {
    EXPECT_EQ(static_cast<double>(exp2_int(e)), std::ldexp(1.0, e)) << e;
  }
  EXPECT_EQ(Bits(exp2_int(-149)), 0x00000001u);
  EXPECT_EQ(Bits(exp2_int(-126)), 0x00800000u);
  EXPECT_EQ(exp2_int(128), kInf);
  EXPECT_EQ(exp2_int(-150), 0.0f);
}

// ---- FP4 e2m1 -----------------------------------------------------------------------------------

constexpr float kFp4Table[16] = {0, 0.5, 1, 1.5, 2, 3, 4, 6, -0.0, -0.5, -1, -1.5, -2, -3, -4, -6};

double Fp4Reference(uint32_t c) {
  return kFp4Table[c & 0xF];
}
uint32_t EncFp4(float f) {
  return f32_to_fp4_e2m1(f);
}

TEST(Fp4, DecodeAllCodes) {
  for (uint32_t c = 0; c < 16; ++c) {
    const float v = fp4_e2m1_to_f32(static_cast<uint8_t>(c));
    EXPECT_EQ(Bits(v), Bits(kFp4Table[c])) << c;  // bitwise: code 8 is -0
    EXPECT_EQ(Bits(fp4_e2m1_to_f32(static_cast<uint8_t>(c | 0xF0))), Bits(v)) << c;  // low nibble
    EXPECT_EQ(f32_to_fp4_e2m1(v), c) << c;
  }
}

TEST(Fp4, SpecTies) {
  // Spec §3.1: 0.25->0, 0.75->1, 1.25->1, 1.75->2, 2.5->2, 3.5->4, 5->4 (ties to the even code).
  struct Case {
    float x;
    uint8_t code;
    float value;
  };
  const Case cases[] = {{0.25f, 0, 0.0f}, {0.75f, 2, 1.0f}, {1.25f, 2, 1.0f}, {1.75f, 4, 2.0f},
                        {2.5f, 4, 2.0f},  {3.5f, 6, 4.0f},  {5.0f, 6, 4.0f}};
  for (const Case& c : cases) {
    EXPECT_EQ(f32_to_fp4_e2m1(c.x), c.code) << c.x;
    EXPECT_EQ(f32_to_fp4_e2m1(-c.x), c.code | 0x8) << c.x;
    EXPECT_EQ(fp4_e2m1_to_f32(f32_to_fp4_e2m1(c.x)), c.value) << c.x;
    EXPECT_EQ(fp4_e2m1_to_f32(f32_to_fp4_e2m1(-c.x)), -c.value) << c.x;
  }
}

TEST(Fp4, EncodeMidpoints) {
  CheckMidpoints(Fp4Reference, EncFp4, 7, 0x8);
}

TEST(Fp4, SaturationSignAndNaN) {
  for (const float f : {6.0f, Up(6.0f), 7.0f, 100.0f, 1e30f, kInf}) {
    EXPECT_EQ(f32_to_fp4_e2m1(f), 0x7) << f;
    EXPECT_EQ(f32_to_fp4_e2m1(-f), 0xF) << f;
  }
  EXPECT_EQ(f32_to_fp4_e2m1(Down(5.0f)), 0x6);
  EXPECT_EQ(f32_to_fp4_e2m1(Up(5.0f)), 0x7);
  // Sign is kept when the result is zero: -0 and tiny negatives give code 8.
  EXPECT_EQ(f32_to_fp4_e2m1(0.0f), 0x0);
  EXPECT_EQ(f32_to_fp4_e2m1(-0.0f), 0x8);
  EXPECT_EQ(f32_to_fp4_e2m1(-0.1f), 0x8);
  EXPECT_EQ(f32_to_fp4_e2m1(-0.25f), 0x8);
  EXPECT_EQ(f32_to_fp4_e2m1(-std::numeric_limits<float>::denorm_min()), 0x8);
  // NaN has no code; the header fixes it to +6 whatever its sign.
  EXPECT_EQ(f32_to_fp4_e2m1(kNaN), 0x7);
  EXPECT_EQ(f32_to_fp4_e2m1(-kNaN), 0x7);
}

TEST(Fp4, SweepAgainstReference) {
  std::vector<double> grid(kFp4Table, kFp4Table + 8);
  CheckSweep(grid, EncFp4, 0x8, [](uint32_t c) { return c == 0x7; });
}

TEST(Fp4, Packing) {
  EXPECT_EQ(fp4_pack(0x3, 0xA), 0xA3);    // low nibble = even element
  EXPECT_EQ(fp4_pack(0xF3, 0x1A), 0xA3);  // stray high bits are masked
  for (uint32_t b = 0; b < 256; ++b) {
    const auto byte = static_cast<uint8_t>(b);
    EXPECT_EQ(fp4_lo(byte), b & 0xF);
    EXPECT_EQ(fp4_hi(byte), b >> 4);
    EXPECT_EQ(fp4_pack(fp4_lo(byte), fp4_hi(byte)), b);
  }
  // Packing a row [1, -2] gives one byte whose low nibble decodes to element 0.
  const uint8_t packed = fp4_pack(f32_to_fp4_e2m1(1.0f), f32_to_fp4_e2m1(-2.0f));
  EXPECT_EQ(packed, 0xC2);
  EXPECT_EQ(fp4_e2m1_to_f32(fp4_lo(packed)), 1.0f);
  EXPECT_EQ(fp4_e2m1_to_f32(fp4_hi(packed)), -2.0f);
}

// ---- power-of-two scales ------------------------------------------------------------------------

// Exact ceil(log2 t) for t > 0 (frexp is exact, subnormals included).
int CeilLog2(float t) {
  int ex = 0;
  const float m = std::frexp(t, &ex);  // t = m * 2^ex, m in [0.5, 1)
  return m == 0.5f ? ex - 1 : ex;
}

// Independent model of the spec: floor, one float multiply, exact ceil(log2), clamped at -126 (the
// bit formula's value for subnormal t) and -127 for t == 0.
int ScaleReference(float amax, float qmax, float floor) {
  const float a = std::isnan(amax) ? floor : std::max(amax, floor);
  const float t = a * static_cast<float>(1.0 / static_cast<double>(qmax));
  if (t == 0.0f) return -127;
  if (std::isinf(t)) return 128;
  return std::max(CeilLog2(t), -126);
}

TEST(Pow2Scale, ReciprocalIsFloatRounded) {
  EXPECT_EQ(1.0f / 448.0f, static_cast<float>(1.0 / 448.0));
  EXPECT_NEAR(static_cast<double>(1.0f / 448.0f), 2.232142956927e-3, 1e-15);
  EXPECT_GT(static_cast<double>(1.0f / 448.0f), 1.0 / 448.0);  // slightly above 1/448
}

TEST(Pow2Scale, Fp8ExactMultiplesOf448) {
  // 448 * 2^-22 is the first multiple above the 1e-4 floor; 448 * 2^119 is the largest float one.
  for (int k = -22; k <= 119; ++k) {
    const float amax = std::ldexp(448.0f, k);
    EXPECT_EQ(fp8_scale_exponent(amax), k) << k;
    EXPECT_EQ(fp8_scale_exponent(Up(amax)), k + 1) << k;
    EXPECT_EQ(fp8_scale_exponent(Down(amax)), ScaleReference(Down(amax), 448.0f, 1e-4f)) << k;
    // amax in [448 * 2^(k-1), 448 * 2^k] after rounding maps to exponent k.
    EXPECT_EQ(fp8_scale_exponent(std::ldexp(300.0f, k)), k) << k;
  }
}

TEST(Pow2Scale, Fp4ExactMultiplesOf6) {
  EXPECT_EQ(6.0f * (1.0f / 6.0f), 1.0f);  // the float product of 6 and f32(1/6) rounds to 1
  for (int k = -126; k <= 125; ++k) {
    const float amax = std::ldexp(6.0f, k);
    EXPECT_EQ(fp4_scale_exponent(amax), k) << k;
    EXPECT_EQ(fp4_scale_exponent(Up(amax)), k + 1) << k;
    EXPECT_EQ(fp4_scale_exponent(Down(amax)), ScaleReference(Down(amax), 6.0f, fp4_amax_floor()));
  }
}

TEST(Pow2Scale, Floors) {
  EXPECT_EQ(fp4_amax_floor(), std::ldexp(6.0f, -126));
  EXPECT_EQ(Bits(fp4_amax_floor()), 0x01C00000u);  // 1.5 * 2^-124
  // FP8: t = f32(1e-4 * f32(1/448)) ~ 2.232e-7, and 2^-23 ~ 1.19e-7 < t <= 2^-22 ~ 2.38e-7.
  const long double t = 1e-4L / 448.0L;
  EXPECT_LT(std::ldexp(1.0L, -23), t);
  EXPECT_GT(std::ldexp(1.0L, -22), t);
  for (const float a : {0.0f, -0.0f, 1e-30f, 5e-5f, Down(1e-4f), 1e-4f, -3.0f}) {
    EXPECT_EQ(fp8_scale_exponent(a), -22) << a;
  }
  // FP4: 6*2^-126 * f32(1/6) = 2^-126 * (1 + 2^-25), which rounds to exactly 2^-126 (normal).
  EXPECT_EQ(fp4_amax_floor() * (1.0f / 6.0f), exp2_int(-126));
  for (const float a : {0.0f, 1e-40f, std::numeric_limits<float>::min(), Down(fp4_amax_floor())}) {
    EXPECT_EQ(fp4_scale_exponent(a), -126) << a;
  }
  EXPECT_EQ(fp4_scale_exponent(fp4_amax_floor()), -126);
  EXPECT_EQ(fp4_scale_exponent(Up(fp4_amax_floor())), -125);
}

TEST(Pow2Scale, SubnormalZeroInfNaN) {
  // Below the floors t can be subnormal: the bit formula gives -126 (exponent field 0, mantissa
  // set), i.e. ceil(log2 t) clamped to the smallest normal exponent; t == 0 gives -127.
  EXPECT_EQ(pow2_scale_exponent(std::ldexp(448.0f, -140), 448.0f, 0.0f), -126);
  EXPECT_EQ(pow2_scale_exponent(std::ldexp(6.0f, -127), 6.0f, 0.0f), -126);
  EXPECT_EQ(pow2_scale_exponent(std::numeric_limits<float>::denorm_min(), 1.0f, 0.0f), -126);
  EXPECT_EQ(pow2_scale_exponent(0.0f, 448.0f, 0.0f), -127);
  // Infinite amax: t = inf, exponent field 255 -> 128 (E8M0 byte 255, i.e. NaN).
  EXPECT_EQ(fp8_scale_exponent(kInf), 128);
  // NaN amax: max is fmax-like, so the floor wins.
  EXPECT_EQ(fp8_scale_exponent(kNaN), -22);
  EXPECT_EQ(fp4_scale_exponent(kNaN), -126);
  // Largest finite amax: t = FLT_MAX / 448 ~ 2^(128 - 8.81) = 2^119.19 -> 120.
  EXPECT_EQ(fp8_scale_exponent(std::numeric_limits<float>::max()), 120);
}

TEST(Pow2Scale, RandomAgainstReference) {
  std::mt19937 rng(12345);
  std::uniform_real_distribution<double> log_amax(-20.0, 127.9);
  std::uniform_int_distribution<uint32_t> any_bits(0, 0x7F7FFFFFu);
  for (int i = 0; i < 200000; ++i) {
    const float amax =
        (i % 2 == 0) ? static_cast<float>(std::exp2(log_amax(rng))) : FromBits(any_bits(rng));
    const float t8 = std::max(amax, 1e-4f) * (1.0f / 448.0f);
    ASSERT_EQ(fp8_scale_exponent(amax), ScaleReference(amax, 448.0f, 1e-4f)) << amax;
    // For normal t the double-precision log2 of t is exact enough to agree with the bit formula.
    ASSERT_EQ(fp8_scale_exponent(amax), static_cast<int>(std::ceil(std::log2(double{t8})))) << amax;
    ASSERT_EQ(fp4_scale_exponent(amax), ScaleReference(amax, 6.0f, fp4_amax_floor())) << amax;
    // The scale is the tightest power of two with amax / 2^e <= qmax (in the float sense of t).
    const int e = fp8_scale_exponent(amax);
    ASSERT_LE(t8, exp2_int(e));
    ASSERT_GT(t8, exp2_int(e - 1));
  }
}

}  // namespace
}  // namespace dsv4
