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
  static F zero() { return _mm512_setzero_ps(); }
  static F load(const float* p) { return _mm512_loadu_ps(p); }
  static void store(float* p, F v) { _mm512_storeu_ps(p, v); }
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
  // e4m3 byte b -> f16 bits (b << 7) with the sign moved from bit 14 to bit 15 (adding bit 14 to
  // itself carries it up): the same value / 2^8, subnormals included.
  static F fp8(const uint8_t* p) {
    const __m256i t = _mm256_slli_epi16(_mm256_cvtepu8_epi16(load16(p)), 7);
    return _mm512_cvtph_ps(_mm256_add_epi16(t, _mm256_and_si256(t, _mm256_set1_epi16(0x4000))));
  }
  // The lookup uses the low 4 bits of each index: the low nibble directly, the high one shifted.
  static void fp4(const uint8_t* p, F& lo, F& hi) {
    const __m512 table = _mm512_setr_ps(0.0f, 0.5f, 1.0f, 1.5f, 2.0f, 3.0f, 4.0f, 6.0f, -0.0f,
                                        -0.5f, -1.0f, -1.5f, -2.0f, -3.0f, -4.0f, -6.0f);
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

}  // namespace
}  // namespace simd_avx512

void matmul_avx512(const MatmulJob& job) {
  simd_avx512::run_matmul(job);
}

void axpy_unfused_avx512(float w, const float* x, float* y, int64_t n) {
  simd_avx512::axpy_unfused(w, x, y, n);
}

}  // namespace dsv4
