#include "kernels/decode.h"

// GCC 12 reports the _mm512_undefined_*() placeholders inside its own intrinsics as
// maybe-uninitialized (a known false positive); nothing here reads an undefined value.
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#endif

#include <immintrin.h>

#include <cstring>

#include "numeric/formats.h"

namespace dsv4 {

namespace {

// ---- scalar reference -----------------------------------------------------------------------

void decode_bf16_scalar(const uint8_t* src, int64_t n, float* dst) {
  for (int64_t j = 0; j < n; ++j) {
    uint16_t h;
    std::memcpy(&h, src + 2 * j, 2);
    dst[j] = bf16_to_f32(h);
  }
}

void decode_fp8_scalar(const uint8_t* src, int64_t n, const float* scales, float* dst) {
  for (int64_t j = 0; j < n; ++j) dst[j] = fp8_e4m3_to_f32(src[j]) * scales[j / 128];
}

void decode_fp4_scalar(const uint8_t* src, int64_t n, const float* scales, float* dst) {
  for (int64_t j = 0; j < n / 2; ++j) {
    const float s = scales[(2 * j) / 32];
    dst[2 * j] = fp4_e2m1_to_f32(fp4_lo(src[j])) * s;
    dst[2 * j + 1] = fp4_e2m1_to_f32(fp4_hi(src[j])) * s;
  }
}

// The 16 FP4 e2m1 values by code (sign in bit 3).
constexpr float kFp4[16] = {0, 0.5f, 1, 1.5f, 2, 3, 4, 6, -0.f, -0.5f, -1, -1.5f, -2, -3, -4, -6};

// ---- AVX2 (+FMA, F16C) ------------------------------------------------------------------------

#define DSV4_AVX2 __attribute__((target("avx2,fma,f16c")))

DSV4_AVX2 void decode_bf16_avx2(const uint8_t* src, int64_t n, float* dst) {
  int64_t j = 0;
  for (; j + 8 <= n; j += 8) {
    const __m128i h = _mm_loadu_si128(reinterpret_cast<const __m128i*>(src + 2 * j));
    const __m256i w = _mm256_slli_epi32(_mm256_cvtepu16_epi32(h), 16);
    _mm256_storeu_ps(dst + j, _mm256_castsi256_ps(w));
  }
  decode_bf16_scalar(src + 2 * j, n - j, dst + j);
}

// e4m3 byte lanes (16-bit) → the f16 with the same bits shifted: value / 2^8.
DSV4_AVX2 inline __m128i fp8_to_f16_bits_128(__m128i b16) {
  const __m128i mag = _mm_and_si128(_mm_slli_epi16(b16, 7), _mm_set1_epi16(0x3F80));
  const __m128i sign = _mm_and_si128(_mm_slli_epi16(b16, 8), _mm_set1_epi16(-32768));
  return _mm_or_si128(mag, sign);
}

DSV4_AVX2 void decode_fp8_avx2(const uint8_t* src, int64_t n, const float* scales, float* dst) {
  for (int64_t c = 0; c < n; c += 128) {
    const __m256 sf = _mm256_set1_ps(scales[c / 128] * 256.0f);
    for (int64_t j = c; j < c + 128; j += 8) {
      const __m128i b =
          _mm_cvtepu8_epi16(_mm_loadl_epi64(reinterpret_cast<const __m128i*>(src + j)));
      const __m256 f = _mm256_cvtph_ps(fp8_to_f16_bits_128(b));
      _mm256_storeu_ps(dst + j, _mm256_mul_ps(f, sf));
    }
  }
}

// 8 FP4 codes (one per 32-bit lane) → scaled values.
DSV4_AVX2 inline __m256 fp4_values_avx2(__m256i code, __m256 table, __m256 s) {
  const __m256 mag = _mm256_permutevar8x32_ps(table, _mm256_and_si256(code, _mm256_set1_epi32(7)));
  const __m256i sign = _mm256_slli_epi32(_mm256_and_si256(code, _mm256_set1_epi32(8)), 28);
  return _mm256_mul_ps(_mm256_xor_ps(mag, _mm256_castsi256_ps(sign)), s);
}

DSV4_AVX2 void decode_fp4_avx2(const uint8_t* src, int64_t n, const float* scales, float* dst) {
  const __m256 table = _mm256_setr_ps(0, 0.5f, 1, 1.5f, 2, 3, 4, 6);
  for (int64_t c = 0; c < n; c += 32) {  // 16 bytes, one scale
    const __m256 s = _mm256_set1_ps(scales[c / 32]);
    for (int64_t half = 0; half < 2; ++half) {  // 8 bytes → 16 values
      const uint8_t* p = src + c / 2 + 8 * half;
      const __m256i b = _mm256_cvtepu8_epi32(_mm_loadl_epi64(reinterpret_cast<const __m128i*>(p)));
      const __m256i lo = _mm256_and_si256(b, _mm256_set1_epi32(15));
      const __m256i hi = _mm256_srli_epi32(b, 4);

      const __m256 L = fp4_values_avx2(lo, table, s), H = fp4_values_avx2(hi, table, s);
      const __m256 a = _mm256_unpacklo_ps(L, H);  // L0 H0 L1 H1 | L4 H4 L5 H5
      const __m256 d = _mm256_unpackhi_ps(L, H);  // L2 H2 L3 H3 | L6 H6 L7 H7
      float* out = dst + c + 16 * half;
      _mm256_storeu_ps(out, _mm256_permute2f128_ps(a, d, 0x20));
      _mm256_storeu_ps(out + 8, _mm256_permute2f128_ps(a, d, 0x31));
    }
  }
}

// ---- AVX-512 (F, BW, VL) + F16C ---------------------------------------------------------------

#define DSV4_AVX512 __attribute__((target("avx512f,avx512bw,avx512vl,f16c,fma")))

DSV4_AVX512 void decode_bf16_avx512(const uint8_t* src, int64_t n, float* dst) {
  int64_t j = 0;
  for (; j + 16 <= n; j += 16) {
    const __m256i h = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(src + 2 * j));
    const __m512i w = _mm512_slli_epi32(_mm512_cvtepu16_epi32(h), 16);
    _mm512_storeu_ps(dst + j, _mm512_castsi512_ps(w));
  }
  decode_bf16_scalar(src + 2 * j, n - j, dst + j);
}

DSV4_AVX512 void decode_fp8_avx512(const uint8_t* src, int64_t n, const float* scales, float* dst) {
  const __m256i m_mag = _mm256_set1_epi16(0x3F80), m_sign = _mm256_set1_epi16(-32768);
  for (int64_t c = 0; c < n; c += 128) {
    const __m512 s = _mm512_set1_ps(scales[c / 128] * 256.0f);
    for (int64_t j = c; j < c + 128; j += 16) {
      const __m256i b =
          _mm256_cvtepu8_epi16(_mm_loadu_si128(reinterpret_cast<const __m128i*>(src + j)));
      const __m256i h = _mm256_or_si256(_mm256_and_si256(_mm256_slli_epi16(b, 7), m_mag),
                                        _mm256_and_si256(_mm256_slli_epi16(b, 8), m_sign));
      _mm512_storeu_ps(dst + j, _mm512_mul_ps(_mm512_cvtph_ps(h), s));
    }
  }
}

DSV4_AVX512 void decode_fp4_avx512(const uint8_t* src, int64_t n, const float* scales, float* dst) {
  const __m512 table = _mm512_loadu_ps(kFp4);
  const __m512i even = _mm512_setr_epi32(0, 16, 1, 17, 2, 18, 3, 19, 4, 20, 5, 21, 6, 22, 7, 23);
  const __m512i odd =
      _mm512_setr_epi32(8, 24, 9, 25, 10, 26, 11, 27, 12, 28, 13, 29, 14, 30, 15, 31);
  for (int64_t c = 0; c < n; c += 32) {  // 16 bytes, one scale
    const __m512 s = _mm512_set1_ps(scales[c / 32]);
    const __m512i b =
        _mm512_cvtepu8_epi32(_mm_loadu_si128(reinterpret_cast<const __m128i*>(src + c / 2)));
    const __m512 L =
        _mm512_mul_ps(_mm512_permutexvar_ps(_mm512_and_si512(b, _mm512_set1_epi32(15)), table), s);
    const __m512 H = _mm512_mul_ps(_mm512_permutexvar_ps(_mm512_srli_epi32(b, 4), table), s);
    _mm512_storeu_ps(dst + c, _mm512_permutex2var_ps(L, even, H));
    _mm512_storeu_ps(dst + c + 16, _mm512_permutex2var_ps(L, odd, H));
  }
}

}  // namespace

void decode_bf16(Isa isa, const uint8_t* src, int64_t n, float* dst) {
  if (isa == Isa::Avx512) return decode_bf16_avx512(src, n, dst);
  if (isa == Isa::Avx2) return decode_bf16_avx2(src, n, dst);
  decode_bf16_scalar(src, n, dst);
}
void decode_fp8(Isa isa, const uint8_t* src, int64_t n, const float* scales, float* dst) {
  if (isa == Isa::Avx512) return decode_fp8_avx512(src, n, scales, dst);
  if (isa == Isa::Avx2) return decode_fp8_avx2(src, n, scales, dst);
  decode_fp8_scalar(src, n, scales, dst);
}
void decode_fp4(Isa isa, const uint8_t* src, int64_t n, const float* scales, float* dst) {
  if (isa == Isa::Avx512) return decode_fp4_avx512(src, n, scales, dst);
  if (isa == Isa::Avx2) return decode_fp4_avx2(src, n, scales, dst);
  decode_fp4_scalar(src, n, scales, dst);
}

}  // namespace dsv4
