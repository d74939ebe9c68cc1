// The arithmetic peak of one core, measured: a loop of independent multiply-adds on registers
// (no memory traffic), per ISA. fp32 FMA is what the matmul kernels compute with (kernels/linear.h
// fixes float32 fused products so the logits stay the reference's); the AVX-512 BF16 dot product
// (vdpbf16ps, 2 products per lane) is measured too, as the machine's bf16 matrix throughput.
#include <cpuid.h>
#include <immintrin.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <thread>
#include <vector>

#include "bench/machine.h"
#include "kernels/isa.h"

#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#pragma GCC diagnostic ignored "-Wuninitialized"
#endif

namespace dsv4::bench {

namespace {

using Clock = std::chrono::steady_clock;
constexpr int kAcc = 12;  // independent chains: covers 4-cycle latency on two FMA pipes

// Each returns the FLOPs done (2 per multiply-add) and stores a result so nothing is dropped.
__attribute__((target("avx512f,fma"))) double fma_avx512(int64_t iters, float* out) {
  __m512 acc[kAcc];
  for (int i = 0; i < kAcc; ++i) acc[i] = _mm512_set1_ps(static_cast<float>(i) * 1e-3f);
  const __m512 a = _mm512_set1_ps(0.999f), b = _mm512_set1_ps(1e-4f);
  for (int64_t it = 0; it < iters; ++it)
#pragma GCC unroll 12
    for (int i = 0; i < kAcc; ++i) acc[i] = _mm512_fmadd_ps(acc[i], a, b);
  __m512 s = acc[0];
  for (int i = 1; i < kAcc; ++i) s = _mm512_add_ps(s, acc[i]);
  *out = _mm512_reduce_add_ps(s);
  return 2.0 * 16 * kAcc * static_cast<double>(iters);
}

__attribute__((target("avx2,fma"))) double fma_avx2(int64_t iters, float* out) {
  __m256 acc[kAcc];
  for (int i = 0; i < kAcc; ++i) acc[i] = _mm256_set1_ps(static_cast<float>(i) * 1e-3f);
  const __m256 a = _mm256_set1_ps(0.999f), b = _mm256_set1_ps(1e-4f);
  for (int64_t it = 0; it < iters; ++it)
#pragma GCC unroll 12
    for (int i = 0; i < kAcc; ++i) acc[i] = _mm256_fmadd_ps(acc[i], a, b);
  float tmp[8];
  __m256 s = acc[0];
  for (int i = 1; i < kAcc; ++i) s = _mm256_add_ps(s, acc[i]);
  _mm256_storeu_ps(tmp, s);
  *out = tmp[0] + tmp[7];
  return 2.0 * 8 * kAcc * static_cast<double>(iters);
}

double fma_scalar(int64_t iters, float* out) {
  float acc[kAcc];
  for (int i = 0; i < kAcc; ++i) acc[i] = static_cast<float>(i) * 1e-3f;
  for (int64_t it = 0; it < iters; ++it)
    for (float& v : acc) v = std::fmaf(v, 0.999f, 1e-4f);
  float s = 0;
  for (float v : acc) s += v;
  *out = s;
  return 2.0 * kAcc * static_cast<double>(iters);
}

__attribute__((target("avx512f,avx512bf16"))) double dot_bf16(int64_t iters, float* out) {
  __m512 acc[kAcc];
  for (int i = 0; i < kAcc; ++i) acc[i] = _mm512_setzero_ps();
  const __m512bh a = (__m512bh)_mm512_set1_epi16(0x3F80);  // 1.0
  const __m512bh b = (__m512bh)_mm512_set1_epi16(0x3A80);  // ~1e-3
  for (int64_t it = 0; it < iters; ++it)
#pragma GCC unroll 12
    for (int i = 0; i < kAcc; ++i) acc[i] = _mm512_dpbf16_ps(acc[i], a, b);
  __m512 s = acc[0];
  for (int i = 1; i < kAcc; ++i) s = _mm512_add_ps(s, acc[i]);
  *out = _mm512_reduce_add_ps(s);
  return 2.0 * 32 * kAcc * static_cast<double>(iters);  // 32 products per instruction
}

// AMX (Intel's tile unit, Sapphire Rapids and later): TDPBF16PS multiplies a 16 x 32 bf16 tile by
// a 32 x 16 one into 16 x 16 float32 sums, 16384 FLOPs per instruction. Four independent
// accumulator tiles. dsv4's kernels do not use AMX; it is measured so the report says what the
// machine could do. The kernel must grant the tile state first (arch_prctl, Linux 5.16+).
struct alignas(64) TileConfig {
  uint8_t palette = 1, start_row = 0, reserved[14] = {};
  uint16_t colsb[16] = {};
  uint8_t rows[16] = {};
};

__attribute__((target("amx-tile,amx-bf16"))) double dot_amx(int64_t iters, float* out) {
  TileConfig cfg;
  for (int t = 0; t < 8; ++t) {
    cfg.colsb[t] = 64;
    cfg.rows[t] = 16;
  }
  alignas(64) static thread_local uint16_t ab[16 * 32];
  alignas(64) static thread_local float c[16 * 16];
  for (auto& v : ab) v = 0x3A80;  // ~1e-3
  _tile_loadconfig(&cfg);
  _tile_zero(0);
  _tile_zero(1);
  _tile_zero(2);
  _tile_zero(3);
  _tile_loadd(4, ab, 64);
  _tile_loadd(5, ab, 64);
  _tile_loadd(6, ab, 64);
  _tile_loadd(7, ab, 64);
  for (int64_t it = 0; it < iters / 16; ++it) {
    _tile_dpbf16ps(0, 4, 6);
    _tile_dpbf16ps(1, 4, 7);
    _tile_dpbf16ps(2, 5, 6);
    _tile_dpbf16ps(3, 5, 7);
  }
  _tile_stored(0, c, 64);
  float sum = c[0];
  _tile_stored(3, c, 64);
  *out = sum + c[255];
  _tile_release();
  return 4.0 * 16384 * static_cast<double>(iters / 16);
}

bool has_amx_bf16() {
  unsigned a = 0, b = 0, c = 0, d = 0;
  if (!__get_cpuid_count(7, 0, &a, &b, &c, &d)) return false;
  if ((d & (1u << 24)) == 0 || (d & (1u << 22)) == 0) return false;  // AMX-TILE, AMX-BF16
  constexpr long kReqXcompPerm = 0x1023, kXfeatureXtiledata = 18;
  return syscall(SYS_arch_prctl, kReqXcompPerm, kXfeatureXtiledata) == 0;
}

bool has_avx512_bf16() {
  unsigned a = 0, b = 0, c = 0, d = 0;
  if (!__get_cpuid_count(7, 1, &a, &b, &c, &d)) return false;
  return (a & (1u << 5)) != 0 && cpu_isa() == Isa::Avx512;
}

// GFLOP/s of `fn` on `threads` threads at once, the best of 3.
double measure(double (*fn)(int64_t, float*), int threads) {
  const int64_t iters = 2'000'000;
  double best = 0;
  for (int rep = 0; rep < 3; ++rep) {
    std::vector<std::thread> ts;
    std::vector<float> sink(static_cast<size_t>(threads));
    std::atomic<double> flops{0};
    const auto t0 = Clock::now();
    for (int t = 0; t < threads; ++t)
      ts.emplace_back([&, t] {
        const double f = fn(iters, &sink[static_cast<size_t>(t)]);
        double cur = flops.load();
        while (!flops.compare_exchange_weak(cur, cur + f)) {
        }
      });
    for (auto& t : ts) t.join();
    const double s = std::chrono::duration<double>(Clock::now() - t0).count();
    best = std::max(best, flops.load() / s / 1e9);
  }
  return best;
}

}  // namespace

Peak peak_gflops(int threads) {
  threads = std::max(1, threads);
  Peak p;
  switch (active_isa()) {
    case Isa::Avx512:
      p.fp32_fma = measure(fma_avx512, threads);
      break;
    case Isa::Avx2:
      p.fp32_fma = measure(fma_avx2, threads);
      break;
    case Isa::Scalar:
      p.fp32_fma = measure(fma_scalar, threads);
      break;
  }
  if (has_avx512_bf16()) p.bf16_dot = measure(dot_bf16, threads);
  if (has_amx_bf16()) p.amx_bf16 = measure(dot_amx, threads);
  return p;
}

}  // namespace dsv4::bench
