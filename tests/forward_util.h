// Helpers for forward-pass tests: generated models cached per process, and runs of a token
// sequence through the engine in different chunkings.
#pragma once

#include <map>
#include <memory>
#include <numeric>
#include <span>
#include <string>
#include <vector>

#include "model/transformer.h"
#include "synth/make_model.h"
#include "test_util.h"

namespace dsv4::test {

// A model generated from `c` (seed 11) into a temporary directory that lives for the process.
inline const Model& generated_model(const std::string& key, const ModelConfig& c) {
  static std::map<std::string, std::pair<std::unique_ptr<TempDir>, std::unique_ptr<Model>>> cache;
  auto it = cache.find(key);
  if (it != cache.end()) return *it->second.second;
  auto dir = std::make_unique<TempDir>();
  MakeModelOptions o;
  o.config = c;
  o.out_dir = dir->str();
  o.seed = 11;
  o.overwrite = true;
  make_model(o);
  auto m = load_model(dir->str());
  const Model& ref = *m;
  cache.emplace(key, std::make_pair(std::move(dir), std::move(m)));
  return ref;
}

// Logits of every position of `tokens`, fed to a fresh sequence in chunks of the given sizes
// (cycled); rows [len(tokens)][vocab].
inline std::vector<float> run_chunked(Transformer& tf, const std::vector<int32_t>& tokens,
                                      const std::vector<int64_t>& sizes) {
  const ModelConfig& c = tf.config();
  StatePool pool(c, static_cast<int64_t>(tokens.size()) + 8, 1);
  SequenceState* st = pool.acquire();
  std::vector<float> out;
  size_t k = 0;
  for (int64_t pos = 0; pos < static_cast<int64_t>(tokens.size()); ++k) {
    const int64_t len =
        std::min<int64_t>(sizes[k % sizes.size()], static_cast<int64_t>(tokens.size()) - pos);
    Chunk ch{st, pos, std::span<const int32_t>(tokens.data() + pos, len), true, false};
    auto r = tf.forward(std::span<const Chunk>(&ch, 1));
    out.insert(out.end(), r[0].logits.begin(), r[0].logits.end());
    pos += len;
  }
  return out;
}

// Largest relative L2 error of a row of `a` against `b` (rows of `vocab`).
inline double max_row_error(const std::vector<float>& a, const std::vector<float>& b,
                            int64_t vocab) {
  double worst = 0;
  for (size_t r = 0; r * vocab < b.size(); ++r) {
    double num = 0, den = 0;
    for (int64_t i = 0; i < vocab; ++i) {
      const double d = static_cast<double>(a[r * vocab + i]) - b[r * vocab + i];
      num += d * d;
      den += static_cast<double>(b[r * vocab + i]) * b[r * vocab + i];
    }
    worst = std::max(worst, std::sqrt(num / den));
  }
  return worst;
}

inline std::vector<int32_t> random_tokens(int64_t n, int64_t vocab, uint64_t seed) {
  std::vector<int32_t> t(static_cast<size_t>(n));
  uint64_t s = seed * 0x9E3779B97F4A7C15ull + 1;
  for (auto& x : t) {
    s ^= s << 13;
    s ^= s >> 7;
    s ^= s << 17;
    x = static_cast<int32_t>(s % static_cast<uint64_t>(vocab));
  }
  return t;
}

}  // namespace dsv4::test
