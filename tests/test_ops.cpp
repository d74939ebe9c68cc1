// Tests of the scalar numeric primitives (spec dsv4-model.md §3, §4.3, §5.6). Expected values are
// derived by hand from the spec (the derivation is in the comment next to each value) or computed
// by an independent double-precision transcription of the spec formula; they are never taken from
// the code under test.
#include "kernels/ops.h"

#include <gtest/gtest.h>

#include <random>

#include <cstring>

#include <algorithm>
#include <bit>
#include <cmath>
#include <cstdint>
#include <limits>
#include <vector>

#include "numeric/formats.h"

namespace dsv4 {
namespace {

// 2^e as a float literal helper (exact for the small exponents used here).
float P2(int e) {
  return std::ldexp(1.0f, e);
}

// Deterministic values in [-1, 1) (a 32-bit LCG), so tests need no <random> engine state.
std::vector<float> Pseudo(int64_t n, uint32_t seed) {
  std::vector<float> v(static_cast<size_t>(n));
  for (auto& x : v) {
    seed = seed * 1664525u + 1013904223u;
    x = static_cast<float>(seed >> 8) / static_cast<float>(1u << 23) - 1.0f;
  }
  return v;
}

// One value placed at `index` of a test vector and the value it must come back as.
struct Placed {
  int64_t index;
  float in;
  float want;
};

// Builds the input and the expected output from `cases` (all other entries zero), runs `quant`
// in place and compares every entry exactly.
template <typename Quant>
void CheckPlaced(int64_t n, const std::vector<Placed>& cases, Quant quant) {
  std::vector<float> x(static_cast<size_t>(n), 0.0f), want(static_cast<size_t>(n), 0.0f);
  for (const Placed& c : cases) {
    x[c.index] = c.in;
    want[c.index] = c.want;
  }
  quant(x.data(), n);
  for (int64_t i = 0; i < n; ++i) EXPECT_EQ(x[i], want[i]) << "index " << i;
}

// ---- FP8 / FP4 block quantisation ------------------------------------------------------------

TEST(Ops, ActQuantSimFp8Block64) {
  // e4m3 grid (spec §3.1): in [2^e, 2^(e+1)) the step is 2^(e-3); subnormals k*2^-9, k=1..7.
  // Scale by §3.2: the smallest 2^e with amax / 2^e <= 448 (amax = 448*2^k gives exactly 2^k).
  const std::vector<Placed> cases = {
      // Block 0, [0, 64): amax 448 (index 5) -> scale 1. Ties go to the even mantissa.
      {0, 1.0625f, 1.0f},    // tie 1.0 (m=000) / 1.125 (001)
      {1, 1.1875f, 1.25f},   // tie 1.125 (001) / 1.25 (010)
      {2, -1.0625f, -1.0f},  // sign kept, same tie
      {3, 3.125f, 3.0f},     // step 0.25: tie 3.0 (100) / 3.25 (101)
      {4, 3.375f, 3.5f},     // tie 3.25 (101) / 3.5 (110)
      {5, 448.0f, 448.0f},   // the block's amax, exact
      {6, 15.5f, 16.0f},     // tie 15 (1.111b*2^3) / 16 (1.000b*2^4): carries into the exponent
      {7, 432.0f, 448.0f},   // step 32: tie 416 (101) / 448 (110)
      {8, 400.0f, 384.0f},   // tie 384 (100) / 416 (101)
      {9, 1.07f, 1.125f},    // not a tie: nearer 1.125
      {10, 0.6f, 0.625f},    // step 1/16 in [0.5, 1): 9.6/16 -> 10/16
      {11, 3 * P2(-9), 3 * P2(-9)},     // subnormal, exact
      {12, 1.5f * P2(-9), 2 * P2(-9)},  // subnormal tie 1 / 2 -> 2
      {13, 0.01f, 5 * P2(-9)},          // 0.01 / 2^-9 = 5.12 -> 5 (subnormal)
      {63, -447.0f, -448.0f},           // last element of the block belongs to it
      // Block 1, [64, 128): amax 7168 = 448*2^4 at its LAST index -> scale 16. Same inputs as
      // block 0 give different outputs, so each block has its own scale.
      {64, 17.0f, 16.0f},                 // 1.0625*16: tie -> 1.0*16
      {65, 19.0f, 20.0f},                 // 1.1875*16: tie -> 1.25*16
      {66, 3 * P2(-5), 3 * P2(-5)},       // subnormal 3*2^-9 times 16, exact
      {67, 1.5f * P2(-5), 2 * P2(-5)},    // subnormal tie 1 / 2 -> 2, times 16
      {68, 0.5f * P2(-5), 0.0f},          // tie 0 / 1*2^-9 -> 0 (even)
      {69, 7.5f * P2(-5), P2(-2)},        // tie 7*2^-9 (0x07) / 2^-6 (0x08, smallest normal)
      {70, -5.5f * P2(-5), -6 * P2(-5)},  // tie 5 / 6 -> 6, sign kept
      {71, 2.5f * P2(-5), 2 * P2(-5)},    // tie 2 / 3 -> 2
      {73, 0.01f, 0.0f},                  // 0.01/16 = 0.32*2^-9 -> 0 (was 5*2^-9 in block 0)
      {127, 7168.0f, 7168.0f},
      // Block 2, [128, 192): amax 449*2^-3 = 56.125 exceeds 448*2^-3, so the scale is 2^-2 and
      // 56.125/0.25 = 224.5 (step 16: tie 224 / 240 -> 224) comes back as 56 = 448*2^-3. The
      // scale never lets a value saturate: x/s <= 448 always holds.
      {128, 56.125f, 56.0f},
      {129, P2(-12), 0.0f},         // 2^-12 / 2^-2 = 0.5*2^-9: tie -> 0 (with scale 2^-3: exact)
      {130, 3 * P2(-12), P2(-10)},  // 1.5*2^-9 -> 2*2^-9, times 2^-2
      // Block 3, [192, 256): all zero; the amax floor 1e-4 gives scale 2^-22 and zeros stay zero.
      // Tail block, [256, 266): amax 1e-5 < floor -> scale 2^-22 (not 2^-25 as the unfloored amax
      // would give): 1e-5*2^22 = 41.94 (step 4: 40 / 44) -> 40; 1e-9*2^22 = 2.15*2^-9 -> 2*2^-9
      // (with scale 2^-25 it would be 9*2^-33 instead of 8*2^-33).
      {256, 1e-5f, 40 * P2(-22)},
      {257, 1e-9f, P2(-30)},
      {258, -1e-9f, -P2(-30)},
  };
  CheckPlaced(266, cases, [](float* x, int64_t n) { act_quant_sim(x, n, 64); });

  // Saturation proper happens in the encoder (inputs past 448 that RNE would round to 480).
  EXPECT_EQ(fp8_e4m3_to_f32(f32_to_fp8_e4m3(470.0f)), 448.0f);
  EXPECT_EQ(fp8_e4m3_to_f32(f32_to_fp8_e4m3(-1e6f)), -448.0f);
}

TEST(Ops, ActQuantFp8RealMode) {
  constexpr int64_t kRows = 2, kCols = 256;
  // Background values well below each block's amax, so the placed amax values decide the scales.
  std::vector<float> x = Pseudo(kRows * kCols, 7);
  for (int64_t c = 0; c < 128; ++c) x[c] *= 200.0f;            // row 0 block 0: |x| < 200
  for (int64_t c = 128; c < 256; ++c) x[c] *= 0.2f * P2(-10);  // row 0 block 1
  for (int64_t c = 256; c < 384; ++c) x[c] = 0.0f;             // row 1 block 0: all zero
  for (int64_t c = 384; c < 512; ++c) x[c] *= 100.0f;          // row 1 block 1
  // Row 0 block 0: amax 448 -> scale 1. Codes (e4m3, bias 7): 448 = 1.75*2^8 -> 0x7E,
  // 1.0625 -> 1.0 (tie) -> 0x38, 1.1875 -> 1.25 -> 0x3A, -1 -> 0xB8, 2^-9 -> 0x01.
  x[3] = 448.0f;
  x[4] = 1.0625f;
  x[5] = 1.1875f;
  x[6] = -1.0f;
  x[7] = P2(-9);
  // Row 0 block 1: amax 0.4375 = 448*2^-10 -> scale 2^-10; 0.4375 -> 448 -> 0x7E, 2^-10 -> 1.0.
  x[128] = -0.4375f;  // -448 -> 0xFE
  x[129] = P2(-10);   // 0x38
  // Row 1 block 0: all zero -> floored scale 2^-22, codes 0.
  // Row 1 block 1: amax 449 -> scale 2: 449/2 = 224.5 -> 224 = 1.75*2^7 -> 0x76;
  // -3/2 = -1.5 -> 0xBC; 2.125/2 = 1.0625 -> 1.0 -> 0x38.
  x[256 + 200] = 449.0f;
  x[256 + 201] = -3.0f;
  x[256 + 202] = 2.125f;

  Fp8Activations q;
  act_quant_fp8(x.data(), kRows, kCols, q);
  ASSERT_EQ(q.codes.size(), static_cast<size_t>(kRows * kCols));
  ASSERT_EQ(q.scales.size(), static_cast<size_t>(kRows * 2));
  EXPECT_EQ(q.scales[0], 1.0f);
  EXPECT_EQ(q.scales[1], P2(-10));
  EXPECT_EQ(q.scales[2], P2(-22));
  EXPECT_EQ(q.scales[3], 2.0f);
  EXPECT_EQ(q.codes[3], 0x7E);
  EXPECT_EQ(q.codes[4], 0x38);
  EXPECT_EQ(q.codes[5], 0x3A);
  EXPECT_EQ(q.codes[6], 0xB8);
  EXPECT_EQ(q.codes[7], 0x01);
  EXPECT_EQ(q.codes[128], 0xFE);
  EXPECT_EQ(q.codes[129], 0x38);
  for (int64_t c = 256; c < 384; ++c) EXPECT_EQ(q.codes[c], 0x00) << c;
  EXPECT_EQ(q.codes[256 + 200], 0x76);
  EXPECT_EQ(q.codes[256 + 201], 0xBC);
  EXPECT_EQ(q.codes[256 + 202], 0x38);
  // With scale 1 the codes are just the encoder applied to x.
  for (int64_t c = 0; c < 128; ++c) EXPECT_EQ(q.codes[c], f32_to_fp8_e4m3(x[c])) << c;

  // Real mode and simulate mode are the same quantisation: code * scale == act_quant_sim(x, 128).
  std::vector<float> sim = x;
  act_quant_sim(sim.data(), kRows * kCols, 128);
  for (int64_t r = 0; r < kRows; ++r)
    for (int64_t c = 0; c < kCols; ++c) {
      const float dq = fp8_e4m3_to_f32(q.codes[r * kCols + c]) * q.scales[r * 2 + c / 128];
      EXPECT_EQ(dq, sim[r * kCols + c]) << "row " << r << " col " << c;
    }

  // A K that is not a multiple of 128 gets a short last block with its own scale.
  std::vector<float> y(2 * 130, 0.0f);
  y[0] = 448.0f;        // row 0 block 0 -> scale 1
  y[129] = 3.0f;        // row 0 block 1 (2 values): amax 3 -> t = 3/448 -> scale 2^-7 (3*128=384)
  y[130 + 128] = 6.0f;  // row 1 block 1: 6*128 = 768 > 448 -> scale 2^-6 (6*64 = 384)
  act_quant_fp8(y.data(), 2, 130, q);
  ASSERT_EQ(q.scales.size(), 4u);
  EXPECT_EQ(q.scales[0], 1.0f);
  EXPECT_EQ(q.scales[1], P2(-7));
  EXPECT_EQ(q.scales[2], P2(-22));
  EXPECT_EQ(q.scales[3], P2(-6));
  EXPECT_EQ(q.codes[129], 0x7C);  // 384 = 1.5*2^8 -> exponent 15, mantissa 100
  EXPECT_EQ(q.codes[130 + 128], 0x7C);
}

// The fast kernels' input: act_quant_fp8_values is act_quant_fp8's codes decoded times their
// scales, bit for bit. Each block holds every e4m3 value and every midpoint between neighbours
// (both signs, the subnormals included), at block scales from 2^-30 to 2^20, plus random values
// over 60 binades and zeros; one block has a NaN (ignored by the scale, as act_quant_fp8 does).
TEST(Ops, ActQuantValuesMatchTheCodes) {
  std::vector<float> grid;
  for (int c = 0; c < 0x7F; ++c) grid.push_back(fp8_e4m3_to_f32(static_cast<uint8_t>(c)));
  std::vector<float> probes;
  for (size_t i = 0; i < grid.size(); ++i) {
    probes.push_back(grid[i]);
    if (i + 1 < grid.size()) {
      const float mid = (grid[i] + grid[i + 1]) / 2;  // exact: neighbours differ by one step
      probes.push_back(mid);
      probes.push_back(std::nextafter(mid, 0.0f));
      probes.push_back(std::nextafter(mid, 1e9f));
    }
  }
  std::mt19937 rng(11);
  std::uniform_real_distribution<float> ex(-40.0f, 20.0f);
  const int64_t k = 128 * 8;
  std::vector<float> x;
  for (int e = -30; e <= 20; e += 5) {
    size_t at = 0;
    for (int64_t c = 0; c < k; ++c) {
      float v;
      if (at < probes.size()) {
        v = probes[at++] * P2(e);
        if (c % 2) v = -v;
      } else {
        v = (c % 7 == 0) ? 0.0f : std::exp2(ex(rng)) * ((c % 3) ? 1.0f : -1.0f);
      }
      x.push_back(v);
    }
  }
  x[5 * k + 3] = std::numeric_limits<float>::quiet_NaN();
  const int64_t rows = static_cast<int64_t>(x.size()) / k;
  Fp8Activations q;
  act_quant_fp8(x.data(), rows, k, q);
  std::vector<float> got(x.size());
  act_quant_fp8_values(x.data(), rows, k, got.data());
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t c = 0; c < k; ++c) {
      const size_t i = static_cast<size_t>(r * k + c);
      const float want =
          fp8_e4m3_to_f32(q.codes[i]) * q.scales[static_cast<size_t>(r * 8 + c / 128)];
      if (std::isnan(want)) {
        EXPECT_TRUE(std::isnan(got[i])) << i;
        continue;
      }
      ASSERT_EQ(std::memcmp(&got[i], &want, 4), 0)
          << "row " << r << " col " << c << ": x " << x[i] << " got " << got[i] << " want " << want;
    }
}

TEST(Ops, Fp4SimBlock32) {
  // e2m1 magnitudes {0, 0.5, 1, 1.5, 2, 3, 4, 6} (codes 0..7); ties go to the even code
  // (spec §3.1): 0.25->0, 0.75->1, 1.25->1, 1.75->2, 2.5->2, 3.5->4, 5->4. Scale: smallest 2^e
  // with amax/2^e <= 6.
  const std::vector<Placed> cases = {
      // Block 0, [0, 32): amax 1.5 = 6*2^-2 -> scale 1/4; every value below is (tie)*1/4.
      {0, 1.5f, 1.5f},
      {1, 0.0625f, 0.0f},    // 0.25 -> 0
      {2, 0.1875f, 0.25f},   // 0.75 -> 1
      {3, 0.3125f, 0.25f},   // 1.25 -> 1
      {4, 0.4375f, 0.5f},    // 1.75 -> 2
      {5, 0.625f, 0.5f},     // 2.5 -> 2
      {6, 0.875f, 1.0f},     // 3.5 -> 4
      {7, 1.25f, 1.0f},      // 5 -> 4
      {8, -0.4375f, -0.5f},  // negative: -1.75 -> -2
      {9, -0.875f, -1.0f},   // -3.5 -> -4
      {10, 0.3f, 0.25f},     // 1.2 -> 1 (no tie)
      {11, 0.45f, 0.5f},     // 1.8 -> 2
      {12, 0.3f, 0.25f},
      {31, -1.4f, -1.5f},  // -5.6 -> -6, last element of the block
      // Block 1, [32, 64): amax 48 = 6*2^3 (last index) -> scale 8: the same ties times 8.
      {32, 2.0f, 0.0f},    // 0.25 -> 0
      {33, 6.0f, 8.0f},    // 0.75 -> 1
      {34, 20.0f, 16.0f},  // 2.5 -> 2
      {35, 28.0f, 32.0f},  // 3.5 -> 4
      {36, 40.0f, 32.0f},  // 5 -> 4
      {37, -28.0f, -32.0f},
      {38, 14.0f, 16.0f},  // 1.75 -> 2
      {39, 0.3f, 0.0f},    // 0.0375 -> 0 (0.25 in block 0: blocks are independent)
      {63, 48.0f, 48.0f},
      // Block 2, [64, 96): all zero; floor 6*2^-126 -> scale 2^-126, zeros stay zero.
      // Block 3, [96, 128): amax 7 > 6 -> scale 2: 7/2 = 3.5 -> 4, so 7 comes back as 8.
      {96, 7.0f, 8.0f},
      {97, 1.0f, 1.0f},  // 0.5, exact
      {98, 0.5f, 0.0f},  // 0.25 -> 0
      // Tail, [128, 134): amax 3 -> t = 0.5 -> scale 1/2: 3 -> 6 (exact), 0.2 -> 0.4 -> 0.5.
      {128, 3.0f, 3.0f},
      {129, 0.2f, 0.25f},
      {133, -0.7f, -0.75f},  // -1.4 -> -1.5
  };
  CheckPlaced(134, cases, [](float* x, int64_t n) { fp4_act_quant_sim(x, n, 32); });
}

TEST(Ops, Pow2ScaleBitRecipe) {
  // Spec §3.2: t = f32(max(amax, floor) * f32(1/qmax)), e = ceil(log2 t) from the bits.
  // f32(1/448) = 1/448 * (1 + 4.4e-8): 448*2^k * f32(1/448) = 2^k (1 + 4.4e-8), which rounds to
  // 2^k (half an ulp above 1 is 6e-8), so exact multiples of 448 keep their power of two.
  EXPECT_EQ(fp8_scale_exponent(448.0f), 0);
  EXPECT_EQ(fp8_scale_exponent(224.0f), -1);
  EXPECT_EQ(fp8_scale_exponent(448.0f * 1024.0f), 10);
  EXPECT_EQ(fp8_scale_exponent(448.0f * P2(-10)), -10);
  // 448.0001f = 448 + 3 ulps (ulp 2^-15): t = 1 + 2.5e-7 > 1 -> e = 1. Even the next float above
  // 448 gives t = 1 + 1.1e-7, which rounds up to 1 + 2^-23, not down to 1.
  EXPECT_EQ(fp8_scale_exponent(448.0001f), 1);
  EXPECT_EQ(fp8_scale_exponent(std::nextafter(448.0f, 1000.0f)), 1);
  EXPECT_EQ(fp8_scale_exponent(std::nextafter(448.0f, 0.0f)), 0);
  // amax 0 is floored to 1e-4: 1e-4/448 = 2.232e-7, log2 = -22.09, and 2^-23 = 1.19e-7 <
  // 2.232e-7 <= 2^-22 = 2.38e-7 -> e = -22. Anything below the floor gives the same.
  EXPECT_EQ(fp8_scale_exponent(0.0f), -22);
  EXPECT_EQ(fp8_scale_exponent(1e-30f), -22);
  EXPECT_EQ(fp8_scale_exponent(kFp8AmaxFloor), -22);

  // FP4: f32(1/6) = 1/6 * (1 + 3.0e-8); 6*2^k * f32(1/6) rounds to 2^k.
  EXPECT_EQ(fp4_scale_exponent(6.0f), 0);
  EXPECT_EQ(fp4_scale_exponent(12.0f), 1);
  EXPECT_EQ(fp4_scale_exponent(3.0f), -1);
  EXPECT_EQ(fp4_scale_exponent(6.5f), 1);  // 6.5/6 > 1
  // amax 0 is floored to 6*2^-126: t = 2^-126 (1 + 3e-8) rounds to 2^-126 (ulp 2^-149) -> -126.
  EXPECT_EQ(fp4_amax_floor(), std::ldexp(6.0f, -126));
  EXPECT_EQ(fp4_scale_exponent(0.0f), -126);

  // The scale 2^e is exact, built from bits (normal and subnormal range).
  EXPECT_EQ(exp2_int(0), 1.0f);
  EXPECT_EQ(exp2_int(-22), std::ldexp(1.0f, -22));
  EXPECT_EQ(exp2_int(-126), std::numeric_limits<float>::min());
  EXPECT_EQ(exp2_int(-149), std::numeric_limits<float>::denorm_min());
  EXPECT_EQ(exp2_int(127), std::ldexp(1.0f, 127));
}

// ---- Hadamard --------------------------------------------------------------------------------

// y = H x / sqrt(n) in double with H[i][j] = (-1)^popcount(i & j) (Sylvester, natural order).
std::vector<double> DenseHadamard(const std::vector<float>& x) {
  const int n = static_cast<int>(x.size());
  std::vector<double> y(x.size(), 0.0);
  for (int i = 0; i < n; ++i) {
    for (int j = 0; j < n; ++j)
      y[i] += (std::popcount(static_cast<unsigned>(i & j)) % 2 ? -1.0 : 1.0) * x[j];
    y[i] /= std::sqrt(static_cast<double>(n));
  }
  return y;
}

TEST(Ops, HadamardMatchesSylvesterMatrix) {
  // n = 4: rows of H4 are ++++, +-+-, ++--, +--+, so [1,2,3,4] -> [10, -2, -4, 0] / 2, all exact.
  std::vector<float> x4 = {1, 2, 3, 4};
  hadamard(x4.data(), 4);
  EXPECT_EQ(x4, (std::vector<float>{5, -1, -2, 0}));

  // n = 1 is the identity.
  float one = 3.5f;
  hadamard(&one, 1);
  EXPECT_EQ(one, 3.5f);

  // n = 128 (the indexer's size) against the explicit matrix. Small-integer inputs keep every
  // partial sum exact in float; only the final scale by f32(128^-1/2) rounds (~1e-7 relative).
  std::vector<float> x(128), y(128);
  for (int i = 0; i < 128; ++i) {
    x[i] = static_cast<float>((i * 37 + 11) % 17 - 8);
    y[i] = static_cast<float>((i * 53 + 5) % 13 - 6);
  }
  const std::vector<double> want = DenseHadamard(x);
  std::vector<float> hx = x;
  hadamard(hx.data(), 128);
  for (int i = 0; i < 128; ++i)
    EXPECT_NEAR(hx[i], want[i], 1e-6 * std::max(1.0, std::fabs(want[i])));

  // Orthogonal up to the scale: dot products are preserved.
  std::vector<float> hy = y;
  hadamard(hy.data(), 128);
  double dot = 0, hdot = 0, nx = 0, ny = 0;
  for (int i = 0; i < 128; ++i) {
    dot += static_cast<double>(x[i]) * y[i];
    hdot += static_cast<double>(hx[i]) * hy[i];
    nx += static_cast<double>(x[i]) * x[i];
    ny += static_cast<double>(y[i]) * y[i];
  }
  EXPECT_NEAR(hdot, dot, 1e-6 * std::sqrt(nx * ny));

  // Symmetric and orthogonal (H H = n I): applying it twice gives the input back.
  std::vector<float> z = Pseudo(128, 3), zz = z;
  hadamard(zz.data(), 128);
  hadamard(zz.data(), 128);
  for (int i = 0; i < 128; ++i) EXPECT_NEAR(zz[i], z[i], 1e-6) << i;
}

// ---- mHC Sinkhorn ----------------------------------------------------------------------------

// Spec §4.3 step 4 transcribed in double: pre, post, and comb after a row softmax (+eps), a column
// normalisation, then iters-1 rounds of (row, column) normalisation with +eps denominators.
void SinkhornRef(const float* mixes, const float* scale, const float* base, int hc, int iters,
                 double eps, std::vector<double>& pre, std::vector<double>& post,
                 std::vector<double>& comb) {
  auto sig = [](double v) { return 1.0 / (1.0 + std::exp(-v)); };
  pre.assign(hc, 0);
  post.assign(hc, 0);
  comb.assign(hc * hc, 0);
  for (int j = 0; j < hc; ++j) {
    pre[j] = sig(double(mixes[j]) * scale[0] + base[j]) + eps;
    post[j] = 2 * sig(double(mixes[hc + j]) * scale[1] + base[hc + j]);
  }
  auto at = [&](int j, int k) -> double& { return comb[j * hc + k]; };
  for (int j = 0; j < hc; ++j) {
    double m = -1e300, s = 0;
    for (int k = 0; k < hc; ++k) {
      at(j, k) = double(mixes[2 * hc + j * hc + k]) * scale[2] + base[2 * hc + j * hc + k];
      m = std::max(m, at(j, k));
    }
    for (int k = 0; k < hc; ++k) s += (at(j, k) = std::exp(at(j, k) - m));
    for (int k = 0; k < hc; ++k) at(j, k) = at(j, k) / s + eps;
  }
  auto cols = [&] {
    for (int k = 0; k < hc; ++k) {
      double s = 0;
      for (int j = 0; j < hc; ++j) s += at(j, k);
      for (int j = 0; j < hc; ++j) at(j, k) /= s + eps;
    }
  };
  cols();
  for (int it = 1; it < iters; ++it) {
    for (int j = 0; j < hc; ++j) {
      double s = 0;
      for (int k = 0; k < hc; ++k) s += at(j, k);
      for (int k = 0; k < hc; ++k) at(j, k) /= s + eps;
    }
    cols();
  }
}

TEST(Ops, SinkhornSplit) {
  constexpr int kHc = 4;
  constexpr float kEps = 1e-6f;  // hc_eps
  float pre[kHc], post[kHc], comb[kHc * kHc];

  // Uniform case: mixes 0, scale 1, base 0. pre = sigmoid(0) + eps = 0.5 + eps (sigmoid(0) is
  // exactly 1/2); post = 2 sigmoid(0) = 1 exactly. comb: the row softmax gives 1/4 exactly, +eps;
  // the column step divides by 4(1/4+eps)+eps = 1+5eps -> u1 = (1/4+eps)/(1+5eps). The matrix
  // stays uniform, and each later row/column step is u -> u/(4u+eps), whose fixed point is
  // (1-eps)/4 = 0.25 - 2.5e-7 (u1 already equals it up to 1.25e-12). So every entry is
  // 0.25 - 2.5e-7, about 17 float ulps (2^-26) below 0.25: a missing eps is detected.
  {
    const std::vector<float> mixes((2 + kHc) * kHc, 0.0f), base((2 + kHc) * kHc, 0.0f);
    const float scale[3] = {1, 1, 1};
    hc_split_sinkhorn(mixes.data(), scale, base.data(), kHc, 20, kEps, pre, post, comb);
    const double u = (1.0 - 1e-6) / 4;
    for (int j = 0; j < kHc; ++j) {
      EXPECT_EQ(pre[j], 0.5f + kEps);
      EXPECT_EQ(post[j], 1.0f);
    }
    for (int i = 0; i < kHc * kHc; ++i) EXPECT_NEAR(comb[i], u, 3e-8) << i;
  }

  // Non-uniform case with non-trivial scale and base (index layout: pre mixes[0:4], post
  // mixes[4:8], comb mixes[8:24] row-major; scale[0..2], base laid out like mixes).
  std::vector<float> mixes = Pseudo((2 + kHc) * kHc, 11), base = Pseudo((2 + kHc) * kHc, 12);
  for (auto& b : base) b *= 0.5f;
  const float scale[3] = {0.7f, 1.3f, 2.0f};
  std::vector<double> rpre, rpost, rcomb;

  auto row_sum = [&](int j) {
    return comb[j * kHc] + comb[j * kHc + 1] + comb[j * kHc + 2] + comb[j * kHc + 3];
  };
  auto col_sum = [&](int k) {
    return comb[k] + comb[kHc + k] + comb[2 * kHc + k] + comb[3 * kHc + k];
  };

  // iters = 1: one row softmax (+eps) and one column step; the result ends on columns, so columns
  // sum to S/(S+eps) ~ 1 while rows are still far from 1.
  hc_split_sinkhorn(mixes.data(), scale, base.data(), kHc, 1, kEps, pre, post, comb);
  SinkhornRef(mixes.data(), scale, base.data(), kHc, 1, kEps, rpre, rpost, rcomb);
  for (int j = 0; j < kHc; ++j) {
    EXPECT_NEAR(pre[j], rpre[j], 1e-6);
    EXPECT_NEAR(post[j], rpost[j], 1e-6);
  }
  for (int i = 0; i < kHc * kHc; ++i) EXPECT_NEAR(comb[i], rcomb[i], 1e-6) << i;
  const std::vector<float> comb1(comb, comb + kHc * kHc);
  double max_row_dev = 0;
  for (int k = 0; k < kHc; ++k) EXPECT_NEAR(col_sum(k), 1.0, 1e-5) << "column " << k;
  for (int j = 0; j < kHc; ++j) max_row_dev = std::max(max_row_dev, std::fabs(row_sum(j) - 1.0));
  EXPECT_GT(max_row_dev, 1e-2);

  // iters = 20 (hc_sinkhorn_iters): doubly stochastic up to eps, all entries positive, and
  // different from the one-iteration result.
  hc_split_sinkhorn(mixes.data(), scale, base.data(), kHc, 20, kEps, pre, post, comb);
  SinkhornRef(mixes.data(), scale, base.data(), kHc, 20, kEps, rpre, rpost, rcomb);
  for (int i = 0; i < kHc * kHc; ++i) {
    EXPECT_NEAR(comb[i], rcomb[i], 1e-6) << i;
    EXPECT_GT(comb[i], 0.0f) << i;
  }
  for (int k = 0; k < kHc; ++k) {
    EXPECT_NEAR(row_sum(k), 1.0, 1e-5) << "row " << k;
    EXPECT_NEAR(col_sum(k), 1.0, 1e-5) << "column " << k;
  }
  double max_diff = 0;
  for (int i = 0; i < kHc * kHc; ++i)
    max_diff = std::max(max_diff, double(std::fabs(comb[i] - comb1[i])));
  EXPECT_GT(max_diff, 1e-3);

  // The +eps after the softmax keeps entries positive: with logits 0 on the diagonal and -100 off
  // it, softmax gives [1, e^-100 ~ 4e-44, ...]; +eps makes the off-diagonal 1e-6, and the column
  // step divides by 1+5e-6. Without that eps the off-diagonal entries would be ~4e-44.
  std::vector<float> perm((2 + kHc) * kHc, 0.0f), zero((2 + kHc) * kHc, 0.0f);
  for (int j = 0; j < kHc; ++j)
    for (int k = 0; k < kHc; ++k) perm[2 * kHc + j * kHc + k] = j == k ? 0.0f : -100.0f;
  const float unit[3] = {1, 1, 1};
  hc_split_sinkhorn(perm.data(), unit, zero.data(), kHc, 1, kEps, pre, post, comb);
  for (int j = 0; j < kHc; ++j)
    for (int k = 0; k < kHc; ++k)
      EXPECT_NEAR(comb[j * kHc + k], j == k ? (1 + 1e-6) / (1 + 5e-6) : 1e-6 / (1 + 5e-6),
                  j == k ? 2e-7 : 1e-12);
}

// ---- RoPE ------------------------------------------------------------------------------------

TEST(Ops, YarnFrequencyTable) {
  // Plain table as the reference computes it in float32: f_i = 1 / base^(2i/64).
  auto plain = [](double base, int i) {
    return 1.0f / std::pow(static_cast<float>(base), static_cast<float>(2 * i) / 64.0f);
  };
  const RopeFreqs y = rope_freqs(64, 160000, true, 16, 65536, 32, 1);
  ASSERT_EQ(y.freq.size(), 32u);
  // corr(32) = 64 ln(65536/(64 pi)) / (2 ln 160000) = 15.45 -> low 15;
  // corr(1) = 64 ln(65536/(2 pi)) / (2 ln 160000) = 24.71 -> high 25.
  for (int i = 0; i <= 15; ++i) EXPECT_EQ(y.freq[i], plain(160000, i)) << i;       // ramp 0
  for (int i = 25; i < 32; ++i) EXPECT_EQ(y.freq[i], plain(160000, i) / 16) << i;  // ramp 1
  for (int i = 16; i <= 24; ++i) {
    const double f = plain(160000, i), ramp = (i - 15) / 10.0;
    EXPECT_NEAR(y.freq[i], f / 16 * ramp + f * (1 - ramp), 2e-7 * f) << i;
  }
  // Independent check against the spec's Appendix C (YaRN column, ~1e-7 relative).
  const double appendix_c[] = {1.00000000e+00, 3.63553851e-03, 2.26562493e-03, 8.49689706e-04,
                               2.96977785e-04, 1.95312532e-05, 5.37231244e-06, 5.68052940e-07};
  const int rows[] = {0, 15, 16, 18, 20, 24, 25, 31};
  for (int r = 0; r < 8; ++r)
    EXPECT_NEAR(y.freq[rows[r]], appendix_c[r], 3e-7 * appendix_c[r]) << rows[r];

  // Ratio-0 layers: base 10000, no YaRN: plain f_i; f_0 = 1 exactly.
  const RopeFreqs p = rope_freqs(64, 10000, false, 16, 65536, 32, 1);
  ASSERT_EQ(p.freq.size(), 32u);
  EXPECT_EQ(p.freq[0], 1.0f);
  for (int i = 0; i < 32; ++i) EXPECT_EQ(p.freq[i], plain(10000, i)) << i;
  EXPECT_NEAR(p.freq[1], 7.49894202e-01, 1e-7);  // Appendix C
  EXPECT_NEAR(p.freq[31], 1.33352150e-04, 1e-11);
}

TEST(Ops, RopePairsAreInterleaved) {
  // A hand-made table with distinct frequencies: any other pairing (e.g. half-split) would mix
  // values of different frequencies.
  RopeFreqs f;
  f.freq = {1.0f, 0.5f, 0.25f, 0.125f};
  // Pair i = (v[2i], v[2i+1]). (1,0) rotates to (cos, sin); (0,1) to (-sin, cos). Both exact
  // given c and s (the other product is 0), with c, s = cos/sin of the float angle p*f_i.
  const std::vector<float> v = {1, 0, 0, 1, 1, 0, 0, 1};
  std::vector<float> r = v;
  apply_rope(r.data(), 8, 3, f);
  for (int i = 0; i < 4; ++i) {
    const double th = 3.0f * f.freq[i];
    const float c = static_cast<float>(std::cos(th)), s = static_cast<float>(std::sin(th));
    const bool unit_a = (i % 2 == 0);
    EXPECT_NEAR(r[2 * i], unit_a ? c : -s, 1e-7) << i;
    EXPECT_NEAR(r[2 * i + 1], unit_a ? s : c, 1e-7) << i;
  }
  // Position 0 is the identity exactly (cos 0 = 1, sin 0 = 0).
  std::vector<float> w = Pseudo(64, 5), w0 = w;
  const RopeFreqs yarn = rope_freqs(64, 160000, true, 16, 65536, 32, 1);
  apply_rope(w0.data(), 64, 0, yarn);
  EXPECT_EQ(w0, w);
  // Inverse RoPE (sin -> -sin) undoes RoPE.
  std::vector<float> w1 = w;
  apply_rope(w1.data(), 64, 777, yarn);
  apply_rope(w1.data(), 64, 777, yarn, /*inverse=*/true);
  for (int i = 0; i < 64; ++i) EXPECT_NEAR(w1[i], w[i], 1e-6) << i;

  // The angle is f32(f32(p) * f_i) (spec §3.8). At p = 1000003 the float product is up to 1/32
  // rad off the exact product, so the test would fail with a double-precision angle.
  constexpr int64_t kPos = 1000003;
  std::vector<float> u(64);
  for (int i = 0; i < 32; ++i) {
    u[2 * i] = 1;
    u[2 * i + 1] = 0;
  }
  apply_rope(u.data(), 64, kPos, yarn);
  double max_gap = 0;
  for (int i = 0; i < 32; ++i) {
    const float th = static_cast<float>(kPos) * yarn.freq[i];  // one float rounding
    const double exact = static_cast<double>(kPos) * yarn.freq[i];
    EXPECT_NEAR(u[2 * i], std::cos(static_cast<double>(th)), 2e-7) << i;
    EXPECT_NEAR(u[2 * i + 1], std::sin(static_cast<double>(th)), 2e-7) << i;
    max_gap = std::max(max_gap, std::fabs(std::cos(exact) - std::cos(static_cast<double>(th))));
  }
  ASSERT_GT(max_gap, 1e-3);  // premise: the float rounding of the angle is visible
}

// ---- attention with a sink -------------------------------------------------------------------

// Dense softmax in double over the keys' logits (q.k * scale) plus the sink as one more logit
// whose value vector is zero (spec §5.6).
std::vector<double> DenseSinkRef(const std::vector<float>& q,
                                 const std::vector<std::vector<float>>& keys, double scale,
                                 double sink) {
  std::vector<double> logit;
  for (const auto& k : keys) {
    double d = 0;
    for (size_t i = 0; i < q.size(); ++i) d += double(q[i]) * k[i];
    logit.push_back(d * scale);
  }
  logit.push_back(sink);
  const double m = *std::max_element(logit.begin(), logit.end());
  double den = 0;
  for (double l : logit) den += std::exp(l - m);
  std::vector<double> o(q.size(), 0.0);
  for (size_t e = 0; e < keys.size(); ++e)
    for (size_t i = 0; i < q.size(); ++i) o[i] += std::exp(logit[e] - m) / den * keys[e][i];
  return o;  // the sink's value vector is zero: it contributes nothing but its denominator term
}

std::vector<float> Attend(const std::vector<float>& q, const std::vector<std::vector<float>>& keys,
                          float scale, float sink) {
  std::vector<const float*> ptrs;
  for (const auto& k : keys) ptrs.push_back(k.data());
  std::vector<float> out(q.size(), -1.0f);
  attend_with_sink(q.data(), ptrs.data(), static_cast<int64_t>(keys.size()),
                   static_cast<int64_t>(q.size()), scale, sink, out.data());
  return out;
}

TEST(Ops, AttendWithSink) {
  // Orthogonal unit keys e0, e1, e2 in 4 dims: o[e] is the softmax weight of key e, o[3] = 0.
  // q = (1, 2, 3, 0), scale 1/2 -> logits 0.5, 1.0, 1.5.
  const std::vector<float> q = {1, 2, 3, 0};
  const std::vector<std::vector<float>> keys = {{1, 0, 0, 0}, {0, 1, 0, 0}, {0, 0, 1, 0}};
  const double e0 = std::exp(-1.0), e1 = std::exp(-0.5);  // exp(l - 1.5)

  // a) sink -1e4: exp(sink - m) underflows to 0 -> plain softmax: [e0, e1, 1] / (e0 + e1 + 1).
  std::vector<float> o = Attend(q, keys, 0.5f, -1e4f);
  const double plain = e0 + e1 + 1;
  EXPECT_NEAR(o[0], e0 / plain, 1e-6);
  EXPECT_NEAR(o[1], e1 / plain, 1e-6);
  EXPECT_NEAR(o[2], 1 / plain, 1e-6);
  EXPECT_EQ(o[3], 0.0f);

  // b) sink +50: weights ~ exp(1.5 - 50) ~ 1e-21; +200: exp overflows and the output is 0.
  o = Attend(q, keys, 0.5f, 50.0f);
  for (float v : o) EXPECT_LT(std::fabs(v), 1e-15f);
  o = Attend(q, keys, 0.5f, 200.0f);
  for (float v : o) EXPECT_EQ(v, 0.0f);

  // c) sink = max logit 1.5: the denominator gets exactly one more exp(0) = 1. The sink is not
  // scaled: scaled, it would add exp(0.75 - 1.5) = 0.47 instead of 1.
  o = Attend(q, keys, 0.5f, 1.5f);
  const double with_sink = e0 + e1 + 1 + 1;
  EXPECT_NEAR(o[0], e0 / with_sink, 1e-6);
  EXPECT_NEAR(o[1], e1 / with_sink, 1e-6);
  EXPECT_NEAR(o[2], 1 / with_sink, 1e-6);
  ASSERT_GT(std::fabs(1 / with_sink - 1 / (e0 + e1 + 1 + std::exp(-0.75))), 1e-2);  // premise

  // General case against the dense double reference: 10 random keys, 16 dims, scale 16^-1/2,
  // sinks below, between and above the logits.
  std::vector<std::vector<float>> rk;
  for (int e = 0; e < 10; ++e) rk.push_back(Pseudo(16, 100 + e));
  std::vector<float> rq = Pseudo(16, 99);
  for (auto& v : rq) v *= 3.0f;
  for (const float sink : {-5.0f, 0.3f, 2.0f, 6.0f}) {
    o = Attend(rq, rk, 0.25f, sink);
    const std::vector<double> want = DenseSinkRef(rq, rk, 0.25, sink);
    for (int i = 0; i < 16; ++i)
      EXPECT_NEAR(o[i], want[i], 1e-6) << "sink " << sink << " dim " << i;
  }
}

// ---- norms, activations ----------------------------------------------------------------------

TEST(Ops, RmsNormAndActivations) {
  // [3, 4]: mean(x^2) = 25/2 = 12.5; y = w * x / sqrt(12.5).
  const float x[2] = {3, 4}, w[2] = {1, 2};
  float y[2];
  rms_norm(x, w, 2, 0.0f, y);
  EXPECT_FLOAT_EQ(y[0], 3 / std::sqrt(12.5));
  EXPECT_FLOAT_EQ(y[1], 8 / std::sqrt(12.5));
  // Weightless (the per-head q norm).
  rms_norm(x, nullptr, 2, 0.0f, y);
  EXPECT_FLOAT_EQ(y[0], 3 / std::sqrt(12.5));
  EXPECT_FLOAT_EQ(y[1], 4 / std::sqrt(12.5));
  // eps is added to the mean inside the sqrt: x = [1e-3, 0]: mean 5e-7, + 1e-6 = 1.5e-6,
  // y0 = 1e-3 / sqrt(1.5e-6) = 0.8165 (eps outside the sqrt would give ~1.41).
  const float small[2] = {1e-3f, 0.0f};
  rms_norm(small, nullptr, 2, 1e-6f, y);
  EXPECT_NEAR(y[0], 1e-3 / std::sqrt(1.5e-6), 1e-5);
  EXPECT_EQ(y[1], 0.0f);
  // All-zero input with eps stays zero (no NaN); y may alias x.
  float z[3] = {0, 0, 0};
  rms_norm(z, nullptr, 3, 1e-6f, z);
  for (float v : z) EXPECT_EQ(v, 0.0f);
  float a[2] = {3, 4};
  rms_norm(a, w, 2, 0.0f, a);
  EXPECT_FLOAT_EQ(a[1], 8 / std::sqrt(12.5));

  // softplus: PyTorch threshold 20 (x > 20 returns x exactly), else log1p(exp(x)).
  EXPECT_EQ(softplus(20.5f), 20.5f);
  EXPECT_EQ(softplus(100.0f), 100.0f);  // no exp overflow
  EXPECT_FLOAT_EQ(softplus(0.0f), std::log(2.0));
  EXPECT_FLOAT_EQ(softplus(1.0f), std::log1p(std::exp(1.0)));
  // log1p, not log(1 + .): log(1 + e^-30) would be 0 in float; the true value is 9.36e-14.
  EXPECT_FLOAT_EQ(softplus(-30.0f), std::log1p(std::exp(-30.0)));

  EXPECT_EQ(sigmoid(0.0f), 0.5f);
  EXPECT_FLOAT_EQ(sigmoid(2.0f), 1 / (1 + std::exp(-2.0)));
  EXPECT_EQ(sigmoid(-200.0f), 0.0f);  // exp overflows to inf: 1/inf = 0, not NaN
  EXPECT_EQ(silu(0.0f), 0.0f);
  EXPECT_FLOAT_EQ(silu(1.0f), 1 / (1 + std::exp(-1.0)));
  EXPECT_FLOAT_EQ(silu(-2.0f), -2 / (1 + std::exp(2.0)));
}

}  // namespace
}  // namespace dsv4
