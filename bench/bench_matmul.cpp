// The linear-layer kernels in isolation (kernels/matmul.h), as GFLOP/s: the shapes prefill and the
// experts give them on Flash (hidden 4096, experts of 2048). Compare with `dsv4 bench`'s fp32 FMA
// peak of the same machine; `--benchmark_repetitions` helps on noisy hosts.
#include <benchmark/benchmark.h>

#include <cstdint>
#include <random>
#include <vector>

#include "io/safetensors.h"
#include "kernels/linear.h"

namespace {

using namespace dsv4;

struct Layer {
  TensorEntry we, se;
  std::vector<uint8_t> w, s;
  TensorView wv, sv;
};

// A random FP8 [n, k] (128x128 E8M0 scales) or FP4 [n, k/2] (per-32 scales) layer.
Layer make_layer(bool fp4, int64_t n, int64_t k) {
  Layer l;
  std::mt19937 rng(1);
  const int64_t wc = fp4 ? k / 2 : k, sr = fp4 ? n : (n + 127) / 128, sc = fp4 ? k / 32 : k / 128;
  l.w.resize(static_cast<size_t>(n * wc));
  for (auto& b : l.w) b = static_cast<uint8_t>(rng() & (fp4 ? 0xFF : 0x7E));
  l.s.assign(static_cast<size_t>(sr * sc), 120);
  l.we = {"w", fp4 ? DType::I8 : DType::F8_E4M3, {n, wc}, 0, l.w.size()};
  l.se = {"s", DType::F8_E8M0, {sr, sc}, 0, l.s.size()};
  l.wv = {&l.we, l.w.data(), nullptr};
  l.sv = {&l.se, l.s.data(), nullptr};
  return l;
}

void BM_Quant(benchmark::State& state, bool fp4, int64_t n, int64_t k) {
  const int64_t m = state.range(0);
  Layer l = make_layer(fp4, n, k);
  std::vector<float> x(static_cast<size_t>(m * k)), y(static_cast<size_t>(m * n));
  std::mt19937 rng(2);
  std::normal_distribution<float> nd;
  for (auto& v : x) v = nd(rng);
  for (auto _ : state) {
    linear_quant({&l.wv, &l.sv}, x.data(), m, y.data(), ActQuant::Fp8);
    benchmark::DoNotOptimize(y.data());
  }
  state.counters["GFLOP/s"] = benchmark::Counter(2.0 * static_cast<double>(m * n * k),
                                                 benchmark::Counter::kIsIterationInvariantRate,
                                                 benchmark::Counter::kIs1000);
  state.counters["weight_GB/s"] = benchmark::Counter(static_cast<double>(l.w.size() + l.s.size()),
                                                     benchmark::Counter::kIsIterationInvariantRate,
                                                     benchmark::Counter::kIs1000);
}

// Decode's expert pattern: one input against a different FP4 [rows, 4096] expert each time
// (256 MB of them: every call reads its weights from memory), as the MoE of a decode step does
// with rows = 2048; 16384 rows shows the same bytes in fewer, longer calls.
void BM_Fp4_Experts(benchmark::State& state) {
  const int64_t rows = state.range(0);
  const int kExperts = static_cast<int>(64 * 2048 / rows);
  std::vector<Layer> ls;
  for (int e = 0; e < kExperts; ++e) ls.push_back(make_layer(true, rows, 4096));
  for (auto& l : ls) {  // the views point into the vectors, which moved
    l.wv = {&l.we, l.w.data(), nullptr};
    l.sv = {&l.se, l.s.data(), nullptr};
  }
  std::vector<float> x(4096), y(static_cast<size_t>(rows));
  std::mt19937 rng(2);
  std::normal_distribution<float> nd;
  for (auto& v : x) v = nd(rng);
  size_t e = 0;
  for (auto _ : state) {
    const Layer& l = ls[e++ % kExperts];
    linear_quant({&l.wv, &l.sv}, x.data(), 1, y.data(), ActQuant::Fp8);
    benchmark::DoNotOptimize(y.data());
  }
  state.counters["weight_GB/s"] = benchmark::Counter(
      static_cast<double>(ls[0].w.size() + ls[0].s.size()),
      benchmark::Counter::kIsIterationInvariantRate, benchmark::Counter::kIs1000);
}

// A BF16 [n, k] layer, as the head and the router are stored. At m = 1 with n = 32768 (256 MB,
// far over any cache) it is decode's memory-bound case: compare weight_GB/s with `dsv4 bench`'s
// read bandwidth.
void BM_Bf16(benchmark::State& state, int64_t n, int64_t k) {
  const int64_t m = state.range(0);
  std::vector<uint8_t> w(static_cast<size_t>(2 * n * k));
  std::mt19937 rng(1);
  for (size_t i = 0; i < w.size(); i += 2) {
    w[i] = static_cast<uint8_t>(rng());
    w[i + 1] = static_cast<uint8_t>(0x3C + (rng() & 1));  // magnitudes near 2^-7..2^-6
  }
  TensorEntry e{"w", DType::BF16, {n, k}, 0, w.size()};
  TensorView v{&e, w.data(), nullptr};
  std::vector<float> x(static_cast<size_t>(m * k)), y(static_cast<size_t>(m * n));
  std::normal_distribution<float> nd;
  for (auto& f : x) f = nd(rng);
  for (auto _ : state) {
    linear_dense(v, x.data(), m, y.data());
    benchmark::DoNotOptimize(y.data());
  }
  state.counters["GFLOP/s"] = benchmark::Counter(2.0 * static_cast<double>(m * n * k),
                                                 benchmark::Counter::kIsIterationInvariantRate,
                                                 benchmark::Counter::kIs1000);
  state.counters["weight_GB/s"] = benchmark::Counter(static_cast<double>(w.size()),
                                                     benchmark::Counter::kIsIterationInvariantRate,
                                                     benchmark::Counter::kIs1000);
}

void BM_Fp8_4096x4096(benchmark::State& s) {
  BM_Quant(s, false, 4096, 4096);
}
void BM_Fp4_2048x4096(benchmark::State& s) {
  BM_Quant(s, true, 2048, 4096);
}
void BM_Fp8_32768x4096(benchmark::State& s) {
  BM_Quant(s, false, 32768, 4096);
}
void BM_Fp4_65536x4096(benchmark::State& s) {
  BM_Quant(s, true, 65536, 4096);
}
void BM_Bf16_32768x4096(benchmark::State& s) {
  BM_Bf16(s, 32768, 4096);
}

}  // namespace

BENCHMARK(BM_Fp8_4096x4096)
    ->Arg(1)
    ->Arg(8)
    ->Arg(16)
    ->Arg(64)
    ->Arg(512)
    ->Unit(benchmark::kMillisecond);
BENCHMARK(BM_Fp4_2048x4096)
    ->Arg(1)
    ->Arg(4)
    ->Arg(8)
    ->Arg(12)
    ->Arg(16)
    ->Arg(32)
    ->Unit(benchmark::kMillisecond);
// Decode's memory-bound cases: 128-256 MB of weights, one input.
BENCHMARK(BM_Fp8_32768x4096)->Arg(1)->Unit(benchmark::kMillisecond);
BENCHMARK(BM_Fp4_65536x4096)->Arg(1)->Unit(benchmark::kMillisecond);
BENCHMARK(BM_Fp4_Experts)->Arg(2048)->Arg(16384)->Unit(benchmark::kMillisecond);
BENCHMARK(BM_Bf16_32768x4096)->Arg(1)->Arg(64)->Unit(benchmark::kMillisecond);
BENCHMARK_MAIN();
