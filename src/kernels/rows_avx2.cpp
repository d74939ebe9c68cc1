// rows_impl.h for AVX2 (8 lanes). Compiled with -mavx2 -ffp-contract=off (CMakeLists.txt):
// called only when the CPU has AVX2.
#include <immintrin.h>

#include "kernels/rows.h"

namespace dsv4 {
namespace simd_avx2 {
namespace {

struct V {
  static constexpr int W = 8;
  using F = __m256;
  static F zero() { return _mm256_setzero_ps(); }
  static F load(const float* p) { return _mm256_loadu_ps(p); }
  static void store(float* p, F v) { _mm256_storeu_ps(p, v); }
  static F set1(float f) { return _mm256_set1_ps(f); }
  static F add(F a, F b) { return _mm256_add_ps(a, b); }
  static F mul(F a, F b) { return _mm256_mul_ps(a, b); }
  static F bf16(const uint8_t* p) {
    const __m128i h = _mm_loadu_si128(reinterpret_cast<const __m128i*>(p));
    return _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_cvtepu16_epi32(h), 16));
  }
  static F lo(F a, F b) {
    return _mm256_permute2f128_ps(_mm256_unpacklo_ps(a, b), _mm256_unpackhi_ps(a, b), 0x20);
  }
  static F hi(F a, F b) {
    return _mm256_permute2f128_ps(_mm256_unpacklo_ps(a, b), _mm256_unpackhi_ps(a, b), 0x31);
  }
};

#include "kernels/rows_impl.h"

}  // namespace
}  // namespace simd_avx2

void rows_avx2(const RowJob& job) {
  simd_avx2::run_rows(job);
}

}  // namespace dsv4
