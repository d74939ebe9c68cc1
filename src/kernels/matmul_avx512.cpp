// matmul_impl.h for AVX-512: one zmm is the 16 lanes. Compiled with -mavx512f -mavx512bw
// -mavx512vl -mf16c -mfma (CMakeLists.txt); called only when the CPU has them (kernels/isa.h).
#include <immintrin.h>

// GCC 12 reports the _mm512_undefined_*() placeholders inside its own intrinsics as
// (maybe-)uninitialized (a known false positive).
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#pragma GCC diagnostic ignored "-Wuninitialized"
#endif

#include "kernels/matmul.h"

namespace dsv4 {
namespace simd_avx512 {
namespace {

struct V {
  using F = __m512;
  // A prefill tile is 4 rows x 6 inputs: 24 accumulators, 4 weights and an input of the 32 zmm.
  static constexpr int kPrefillInputs = 6;
  static F zero() { return _mm512_setzero_ps(); }
  static F load(const float* p) { return _mm512_loadu_ps(p); }
  static void store(float* p, F v) { _mm512_storeu_ps(p, v); }
  static __mmask16 first(int64_t n) { return static_cast<__mmask16>((1u << n) - 1); }
  static F load_n(const float* p, int64_t n) { return _mm512_maskz_loadu_ps(first(n), p); }
  static void store_n(float* p, F v, int64_t n) { _mm512_mask_storeu_ps(p, first(n), v); }
  static F bcast(const float* p) { return _mm512_set1_ps(*p); }
  static F fma(F a, F b, F c) { return _mm512_fmadd_ps(a, b, c); }
  static F mul(F a, F b) { return _mm512_mul_ps(a, b); }
  static F add(F a, F b) { return _mm512_add_ps(a, b); }
  static __m128i load16(const uint8_t* p) {
    return _mm_loadu_si128(reinterpret_cast<const __m128i*>(p));
  }
  static F bf16(const uint8_t* p) {
    const __m256i h = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(p));
    return _mm512_castsi512_ps(_mm512_slli_epi32(_mm512_cvtepu16_epi32(h), 16));
  }
  static F f32(const uint8_t* p) { return _mm512_loadu_ps(p); }
  // 32 e4m3 bytes -> columns 0-15 in a, 16-31 in b, each the value / 2^8: a byte sign-extended to
  // 16 bits and shifted left by 7 is an f16 of that value (subnormals included) except for bit 14,
  // a copy of the sign, which is cleared. The integer steps take all 32 bytes in one zmm.
  static void fp8x2(const uint8_t* p, F& a, F& b) {
    const __m512i t = _mm512_slli_epi16(
        _mm512_cvtepi8_epi16(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(p))), 7);
    const __m512i h = _mm512_and_si512(t, _mm512_set1_epi16(static_cast<short>(0xBFFF)));
    a = _mm512_cvtph_ps(_mm512_castsi512_si256(h));
    b = _mm512_cvtph_ps(_mm512_extracti64x4_epi64(h, 1));
  }
  // The FP4 values times *s: the lookup table of fp4().
  using T = __m512;
  static T fp4_table(const float* s) {
    const __m512 table = _mm512_setr_ps(0.0f, 0.5f, 1.0f, 1.5f, 2.0f, 3.0f, 4.0f, 6.0f, -0.0f,
                                        -0.5f, -1.0f, -1.5f, -2.0f, -3.0f, -4.0f, -6.0f);
    return _mm512_mul_ps(table, _mm512_set1_ps(*s));
  }
  // The lookup uses the low 4 bits of each index: the low nibble directly, the high one shifted.
  static void fp4(const uint8_t* p, T table, F& lo, F& hi) {
    const __m512i b = _mm512_cvtepu8_epi32(load16(p));
    lo = _mm512_permutexvar_ps(b, table);
    hi = _mm512_permutexvar_ps(_mm512_srli_epi32(b, 4), table);
  }
  static F e8m0(const uint8_t* p) {
    const __m512i e = _mm512_cvtepu8_epi32(load16(p));
    __m512i bits = _mm512_slli_epi32(e, 23);
    bits = _mm512_mask_mov_epi32(bits, _mm512_cmpeq_epi32_mask(e, _mm512_setzero_si512()),
                                 _mm512_set1_epi32(0x00400000));  // 2^-127
    bits = _mm512_mask_mov_epi32(bits, _mm512_cmpeq_epi32_mask(e, _mm512_set1_epi32(255)),
                                 _mm512_set1_epi32(0x7FC00000));  // NaN
    return _mm512_castsi512_ps(bits);
  }
  static float hsum(F v) {
    const __m256 hi8 = _mm256_castpd_ps(_mm512_extractf64x4_pd(_mm512_castps_pd(v), 1));
    const __m256 a = _mm256_add_ps(_mm512_castps512_ps256(v), hi8);
    __m128 b = _mm_add_ps(_mm256_castps256_ps128(a), _mm256_extractf128_ps(a, 1));
    b = _mm_add_ps(b, _mm_movehl_ps(b, b));
    b = _mm_add_ss(b, _mm_shuffle_ps(b, b, 1));
    return _mm_cvtss_f32(b);
  }
};

#include "kernels/matmul_impl.h"

// ---- attention scores: 16 keys on the 16 lanes, each added sequentially over the dimensions

// Interleaves the first (second) halves of a and b: lane 2j = a[j], lane 2j + 1 = b[j].
__m512 lo(__m512 a, __m512 b) {
  return _mm512_permutex2var_ps(
      a, _mm512_setr_epi32(0, 16, 1, 17, 2, 18, 3, 19, 4, 20, 5, 21, 6, 22, 7, 23), b);
}
__m512 hi(__m512 a, __m512 b) {
  return _mm512_permutex2var_ps(
      a, _mm512_setr_epi32(8, 24, 9, 25, 10, 26, 11, 27, 12, 28, 13, 29, 14, 30, 15, 31), b);
}

// r[i] = row i of a 16 x 16 block -> r[j] = column j, by four perfect shuffles.
void transpose16(__m512* r) {
  __m512 t[16];
  for (int round = 0; round < 4; ++round) {
#pragma GCC unroll 8
    for (int i = 0; i < 8; ++i) {
      t[2 * i] = lo(r[i], r[i + 8]);
      t[2 * i + 1] = hi(r[i], r[i + 8]);
    }
#pragma GCC unroll 16
    for (int i = 0; i < 16; ++i) r[i] = t[i];
  }
}

}  // namespace
}  // namespace simd_avx512

void dots_sequential_avx512(const float* q, const float* const* keys, int64_t n_keys, int64_t dim,
                            float* out) {
  using namespace simd_avx512;
  int64_t e = 0;
  for (; e + 16 <= n_keys; e += 16) {
    __m512 acc = _mm512_setzero_ps();
    int64_t i = 0;
    for (; i + 16 <= dim; i += 16) {
      __m512 r[16];
#pragma GCC unroll 16
      for (int j = 0; j < 16; ++j) r[j] = _mm512_loadu_ps(keys[e + j] + i);
      transpose16(r);  // r[j] = dimension i + j of the 16 keys
#pragma GCC unroll 16
      for (int j = 0; j < 16; ++j)
        acc = _mm512_add_ps(acc, _mm512_mul_ps(_mm512_set1_ps(q[i + j]), r[j]));
    }
    alignas(64) float a[16];
    _mm512_store_ps(a, acc);
    for (int j = 0; j < 16; ++j) {
      for (int64_t d = i; d < dim; ++d) a[j] += q[d] * keys[e + j][d];
      out[e + j] = a[j];
    }
  }
  for (; e < n_keys; ++e) {
    float dot = 0;
    for (int64_t d = 0; d < dim; ++d) dot += q[d] * keys[e][d];
    out[e] = dot;
  }
}

void matmul_avx512(const MatmulJob& job) {
  simd_avx512::run_matmul(job);
}

void axpy_unfused_avx512(float w, const float* x, float* y, int64_t n) {
  simd_avx512::axpy_unfused(w, x, y, n);
}

}  // namespace dsv4
