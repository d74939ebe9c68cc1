// Decode throughput of the scalar format references over a 16 MiB input buffer. The table variant
// shows what a 256-entry lookup buys over computing each FP8 value from its bit fields.
#include <benchmark/benchmark.h>

#include <array>
#include <cstddef>
#include <cstdint>
#include <random>
#include <vector>

#include "numeric/formats.h"

namespace {

constexpr size_t kInputBytes = size_t{16} << 20;

std::vector<uint8_t> RandomBytes() {
  std::vector<uint8_t> v(kInputBytes);
  std::mt19937 rng(42);
  for (auto& b : v) b = static_cast<uint8_t>(rng());
  return v;
}

void BM_Fp8DecodeScalar(benchmark::State& state) {
  const std::vector<uint8_t> in = RandomBytes();
  std::vector<float> out(in.size());
  for (auto _ : state) {
    for (size_t i = 0; i < in.size(); ++i) out[i] = dsv4::fp8_e4m3_to_f32(in[i]);
    benchmark::DoNotOptimize(out.data());
    benchmark::ClobberMemory();
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * in.size()));
}
BENCHMARK(BM_Fp8DecodeScalar)->Unit(benchmark::kMillisecond);

void BM_Fp8DecodeTable(benchmark::State& state) {
  const std::vector<uint8_t> in = RandomBytes();
  std::vector<float> out(in.size());
  std::array<float, 256> table;
  for (int c = 0; c < 256; ++c) table[c] = dsv4::fp8_e4m3_to_f32(static_cast<uint8_t>(c));
  for (auto _ : state) {
    for (size_t i = 0; i < in.size(); ++i) out[i] = table[in[i]];
    benchmark::DoNotOptimize(out.data());
    benchmark::ClobberMemory();
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * in.size()));
}
BENCHMARK(BM_Fp8DecodeTable)->Unit(benchmark::kMillisecond);

// Two elements per byte: low nibble = even element, high nibble = odd element.
void BM_Fp4DecodePacked(benchmark::State& state) {
  const std::vector<uint8_t> in = RandomBytes();
  std::vector<float> out(2 * in.size());
  for (auto _ : state) {
    for (size_t i = 0; i < in.size(); ++i) {
      out[2 * i] = dsv4::fp4_e2m1_to_f32(dsv4::fp4_lo(in[i]));
      out[2 * i + 1] = dsv4::fp4_e2m1_to_f32(dsv4::fp4_hi(in[i]));
    }
    benchmark::DoNotOptimize(out.data());
    benchmark::ClobberMemory();
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * in.size()));
}
BENCHMARK(BM_Fp4DecodePacked)->Unit(benchmark::kMillisecond);

void BM_Bf16Decode(benchmark::State& state) {
  const std::vector<uint8_t> bytes = RandomBytes();
  std::vector<uint16_t> in(bytes.size() / 2);
  for (size_t i = 0; i < in.size(); ++i) {
    in[i] = static_cast<uint16_t>(bytes[2 * i] | (bytes[2 * i + 1] << 8));
  }
  std::vector<float> out(in.size());
  for (auto _ : state) {
    for (size_t i = 0; i < in.size(); ++i) out[i] = dsv4::bf16_to_f32(in[i]);
    benchmark::DoNotOptimize(out.data());
    benchmark::ClobberMemory();
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * in.size() * sizeof(uint16_t)));
}
BENCHMARK(BM_Bf16Decode)->Unit(benchmark::kMillisecond);

}  // namespace

BENCHMARK_MAIN();
