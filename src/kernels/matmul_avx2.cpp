// matmul_impl.h for AVX2: the 16 lanes are two ymm registers (lanes 0-7 in a, 8-15 in b).
// Compiled with -mavx2 -mfma -mf16c (CMakeLists.txt); called only when the CPU has them.
#include <immintrin.h>

#include "kernels/matmul.h"

namespace dsv4 {
namespace simd_avx2 {
namespace {

struct V {
  struct F {
    __m256 a, b;
  };
  // A prefill tile is 4 rows x 2 inputs: 16 of the 16 ymm hold accumulators already.
  static constexpr int kPrefillInputs = 2;
  static F zero() { return {_mm256_setzero_ps(), _mm256_setzero_ps()}; }
  static F load(const float* p) { return {_mm256_loadu_ps(p), _mm256_loadu_ps(p + 8)}; }
  static void store(float* p, F v) {
    _mm256_storeu_ps(p, v.a);
    _mm256_storeu_ps(p + 8, v.b);
  }
  // Lanes l < n of 8 (n may be <= 0 or >= 8).
  static __m256i first8(int64_t n) {
    const __m256i idx = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
    return _mm256_cmpgt_epi32(_mm256_set1_epi32(static_cast<int>(n)), idx);
  }
  static F load_n(const float* p, int64_t n) {
    return {_mm256_maskload_ps(p, first8(n)), _mm256_maskload_ps(p + 8, first8(n - 8))};
  }
  static void store_n(float* p, F v, int64_t n) {
    _mm256_maskstore_ps(p, first8(n), v.a);
    _mm256_maskstore_ps(p + 8, first8(n - 8), v.b);
  }
  static F bcast(const float* p) {
    const __m256 s = _mm256_broadcast_ss(p);
    return {s, s};
  }
  static F fma(F x, F y, F z) {
    return {_mm256_fmadd_ps(x.a, y.a, z.a), _mm256_fmadd_ps(x.b, y.b, z.b)};
  }
  static F mul(F x, F y) { return {_mm256_mul_ps(x.a, y.a), _mm256_mul_ps(x.b, y.b)}; }
  static F add(F x, F y) { return {_mm256_add_ps(x.a, y.a), _mm256_add_ps(x.b, y.b)}; }
  static __m128i load8(const uint8_t* p) {
    return _mm_loadl_epi64(reinterpret_cast<const __m128i*>(p));
  }
  static __m128i load16(const uint8_t* p) {
    return _mm_loadu_si128(reinterpret_cast<const __m128i*>(p));
  }
  static __m256 bf16_8(const uint8_t* p) {
    return _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_cvtepu16_epi32(load16(p)), 16));
  }
  static F bf16(const uint8_t* p) { return {bf16_8(p), bf16_8(p + 16)}; }
  static F f32(const uint8_t* p) { return load(reinterpret_cast<const float*>(p)); }
  // As the AVX-512 version: e4m3 bits sign-extended and shifted into an f16, bit 14 cleared.
  static F fp8_16(const uint8_t* p) {
    const __m256i t = _mm256_slli_epi16(_mm256_cvtepi8_epi16(load16(p)), 7);
    const __m256i h = _mm256_and_si256(t, _mm256_set1_epi16(static_cast<short>(0xBFFF)));
    return {_mm256_cvtph_ps(_mm256_castsi256_si128(h)),
            _mm256_cvtph_ps(_mm256_extracti128_si256(h, 1))};
  }
  static void fp8x2(const uint8_t* p, F& a, F& b) {
    a = fp8_16(p);
    b = fp8_16(p + 16);
  }
  // The FP4 magnitudes times *s: fp4()'s lookup table (the sign is applied after the lookup,
  // which gives the same bits as a scaled signed value).
  using T = __m256;
  static T fp4_table(const float* s) {
    return _mm256_mul_ps(_mm256_setr_ps(0.0f, 0.5f, 1.0f, 1.5f, 2.0f, 3.0f, 4.0f, 6.0f),
                         _mm256_broadcast_ss(s));
  }
  // 8 FP4 codes (bits 0-3 of each 32-bit lane; higher bits ignored) -> values: the magnitude by
  // an 8-entry lookup (which reads the low 3 bits), the sign from bit 3.
  static __m256 fp4_8(__m256i code, T mags) {
    const __m256 mag = _mm256_permutevar8x32_ps(mags, code);
    const __m256i sign = _mm256_and_si256(_mm256_slli_epi32(code, 28),
                                          _mm256_set1_epi32(static_cast<int>(0x80000000u)));
    return _mm256_xor_ps(mag, _mm256_castsi256_ps(sign));
  }
  static void fp4(const uint8_t* p, T mags, F& lo, F& hi) {
    const __m256i b0 = _mm256_cvtepu8_epi32(load8(p)), b1 = _mm256_cvtepu8_epi32(load8(p + 8));
    lo = {fp4_8(b0, mags), fp4_8(b1, mags)};
    hi = {fp4_8(_mm256_srli_epi32(b0, 4), mags), fp4_8(_mm256_srli_epi32(b1, 4), mags)};
  }
  static __m256 e8m0_8(const uint8_t* p) {
    const __m256i e = _mm256_cvtepu8_epi32(load8(p));
    __m256i bits = _mm256_slli_epi32(e, 23);
    bits = _mm256_blendv_epi8(bits, _mm256_set1_epi32(0x00400000),
                              _mm256_cmpeq_epi32(e, _mm256_setzero_si256()));
    bits = _mm256_blendv_epi8(bits, _mm256_set1_epi32(0x7FC00000),
                              _mm256_cmpeq_epi32(e, _mm256_set1_epi32(255)));
    return _mm256_castsi256_ps(bits);
  }
  static F e8m0(const uint8_t* p) { return {e8m0_8(p), e8m0_8(p + 8)}; }
  static float hsum(F v) {
    const __m256 a = _mm256_add_ps(v.a, v.b);
    __m128 b = _mm_add_ps(_mm256_castps256_ps128(a), _mm256_extractf128_ps(a, 1));
    b = _mm_add_ps(b, _mm_movehl_ps(b, b));
    b = _mm_add_ss(b, _mm_shuffle_ps(b, b, 1));
    return _mm_cvtss_f32(b);
  }
};

#include "kernels/matmul_impl.h"

}  // namespace
}  // namespace simd_avx2

void matmul_avx2(const MatmulJob& job) {
  simd_avx2::run_matmul(job);
}

void axpy_unfused_avx2(float w, const float* x, float* y, int64_t n) {
  simd_avx2::axpy_unfused(w, x, y, n);
}

}  // namespace dsv4
