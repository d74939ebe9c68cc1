// Sampling one row of DeepSeek-V4's 129,280-token vocabulary, per configuration. Each iteration
// copies the row first (sample() modifies it in place); BM_CopyRow measures that copy alone.
// BM_TopPFullSortReference is the naive nucleus (softmax, full sort, prefix) for the same row, to
// read the threshold search's gain as a ratio within one run. Items/s = tokens/s for one sequence.
//
// Two rows: "peaked" is LLM-like (a few dozen plausible tokens over a low background), "flat" is
// a unit Gaussian, where the nucleus is most of the vocabulary and the threshold search must widen.
#include <benchmark/benchmark.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <numeric>
#include <random>
#include <vector>

#include "generate/sampler.h"

namespace {

constexpr size_t kVocab = 129280;

std::vector<float> make_row(bool peaked) {
  std::mt19937 rng(1);
  std::normal_distribution<float> d(0, 1);
  std::vector<float> l(kVocab);
  for (float& x : l) x = d(rng) * (peaked ? 2.f : 1.f);
  if (peaked) {
    for (int i = 0; i < 40; ++i) l[rng() % kVocab] = 14.f + d(rng) * 2;
  }
  return l;
}

dsv4::SamplingParams params_for(int config) {
  dsv4::SamplingParams p;
  p.seed = 1;
  switch (config) {
    case 0:  // greedy
      p.temperature = 0;
      break;
    case 1:  // plain temperature sampling over the whole row
      p.temperature = 0.8f;
      break;
    case 2:
      p.temperature = 0.7f;
      p.top_p = 0.95f;
      break;
    case 3:
      p.top_k = 40;
      break;
    case 4:  // penalties over a 4k prompt and 512 generated tokens, then top_p
      p.temperature = 0.7f;
      p.top_p = 0.95f;
      p.repetition_penalty = 1.1f;
      p.presence_penalty = 0.5f;
      p.frequency_penalty = 0.5f;
      break;
    case 5:
      p.temperature = 0.7f;
      p.min_p = 0.05f;
      break;
    case 6:  // greedy with logprobs and 5 top logprobs
      p.temperature = 0;
      p.logprobs = true;
      p.top_logprobs = 5;
      break;
  }
  return p;
}

const char* kNames[] = {"greedy",    "temp0.8",   "top_p0.95+temp0.7", "top_k40",
                        "penalties", "min_p0.05", "greedy+logprobs5"};

void BM_Sample(benchmark::State& state) {
  const int config = static_cast<int>(state.range(0));
  const bool peaked = state.range(1) != 0;
  const std::vector<float> row = make_row(peaked);
  std::mt19937 rng(2);
  std::vector<int32_t> prompt, generated;
  if (config == 4) {
    for (int i = 0; i < 4096; ++i) prompt.push_back(static_cast<int32_t>(rng() % kVocab));
    for (int i = 0; i < 512; ++i) generated.push_back(static_cast<int32_t>(rng() % kVocab));
  }
  dsv4::Sampler s(params_for(config), {1}, 0);
  std::vector<float> l(kVocab);
  for (auto _ : state) {
    std::copy(row.begin(), row.end(), l.begin());
    benchmark::DoNotOptimize(s.sample(l, prompt, generated).token);
  }
  state.SetItemsProcessed(state.iterations());
  state.SetLabel(std::string(kNames[config]) + (peaked ? " peaked" : " flat"));
}
BENCHMARK(BM_Sample)->ArgsProduct({{0, 1, 2, 3, 4, 5, 6}, {1, 0}})->Unit(benchmark::kMicrosecond);

void BM_CopyRow(benchmark::State& state) {
  const std::vector<float> row = make_row(true);
  std::vector<float> l(kVocab);
  for (auto _ : state) {
    std::copy(row.begin(), row.end(), l.begin());
    benchmark::DoNotOptimize(l.data());
    benchmark::ClobberMemory();
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_CopyRow)->Unit(benchmark::kMicrosecond);

// The textbook nucleus: softmax of the whole row, full sort by probability, prefix, draw.
void BM_TopPFullSortReference(benchmark::State& state) {
  const bool peaked = state.range(0) != 0;
  const std::vector<float> row = make_row(peaked);
  std::vector<float> l(kVocab);
  std::vector<int32_t> ids(kVocab);
  std::mt19937_64 rng(3);
  for (auto _ : state) {
    std::copy(row.begin(), row.end(), l.begin());
    const float m = *std::max_element(l.begin(), l.end());
    double z = 0;
    for (float& x : l) z += x = std::exp((x - m) / 0.7f);
    std::iota(ids.begin(), ids.end(), 0);
    std::sort(ids.begin(), ids.end(), [&](int32_t a, int32_t b) { return l[a] > l[b]; });
    double cum = 0;
    size_t n = 0;
    while (n < kVocab && cum < 0.95 * z) cum += l[ids[n++]];
    double target = std::uniform_real_distribution<double>(0, cum)(rng), c = 0;
    int32_t pick = ids[0];
    for (size_t i = 0; i < n; ++i) {
      c += l[ids[i]];
      if (c > target) {
        pick = ids[i];
        break;
      }
    }
    benchmark::DoNotOptimize(pick);
  }
  state.SetItemsProcessed(state.iterations());
  state.SetLabel(peaked ? "peaked" : "flat");
}
BENCHMARK(BM_TopPFullSortReference)->Arg(1)->Arg(0)->Unit(benchmark::kMicrosecond);

}  // namespace

BENCHMARK_MAIN();
