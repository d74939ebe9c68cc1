// The forward pass against DeepSeek's official reference: golden logits of the dsv4-tiny fixture
// (tests/fixtures/dsv4-tiny, see its README), in both activation-quantisation modes, every case.
//
// Thresholds, per case, on the relative L2 error of each logits row:
//   act-fp8:  median <= 6e-5, 90th percentile <= 7e-4, max <= 1.5e-2
//   act-none: median <= 4e-7, 90th percentile <= 2e-6, max <= 1e-4
// The medians and the act-fp8 90th percentile are the README's measurement of the reference
// against itself (its decode path vs its prefill path); a missing piece of the model moves the
// act-fp8 median to 2e-3 or more. The rest are looser than the reference's own (9e-3 / 4e-7)
// because FP8/FP4 rounding and top-k are discrete: float32 noise (another summation order) flips
// a rounding now and then. In act-none, one flipped FP8 KV value shows as a run of `window` (16)
// rows near 1e-5..6e-5 (prefill_131_decode_to_270: rows 248-263, 6 % of its rows, under its 90th
// percentile). Measured with the lane order of kernels/linear.h (block-scaled weights, one fused
// chain per lane): act-fp8 medians 1.9e-7..3.7e-5, max 9.2e-3; act-none p90 <= 4.1e-7, max 6.3e-5.
// (The previous order, with a per-block part, flipped a second KV value there: rows 192-207.)
// DSV4_CONF_ROWS=1 prints every row above 2e-6.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdlib>
#include <nlohmann/json.hpp>

#include "io/npy.h"
#include "model/transformer.h"
#include "test_util.h"

namespace dsv4 {
namespace {

struct Case {
  std::string name;
  int64_t prefill;
  std::vector<int32_t> tokens;
};

std::vector<Case> load_cases() {
  auto j = nlohmann::json::parse(
      test::read_file(test::source_dir() / "tests/fixtures/dsv4-tiny/cases.json"));
  std::vector<Case> out;
  for (const auto& c : j) out.push_back({c["name"], c["prefill"], c["tokens"]});
  return out;
}

const Model& tiny() {
  static std::unique_ptr<Model> m = load_model(test::tiny_fixture().string());
  return *m;
}

struct Param {
  std::string name;
  bool fp8;
};

class Conformance : public ::testing::TestWithParam<Param> {};

TEST_P(Conformance, MatchesDeepSeekReference) {
  const Param& p = GetParam();
  Case cs;
  for (auto& c : load_cases())
    if (c.name == p.name) cs = c;
  ASSERT_FALSE(cs.tokens.empty());
  const Model& m = tiny();
  const int64_t V = m.config.vocab_size, n = static_cast<int64_t>(cs.tokens.size());
  const NpyArray ref = read_npy((test::source_dir() / "tests/fixtures/dsv4-tiny" /
                                 (p.fp8 ? "logits-act-fp8" : "logits-act-none") / (p.name + ".npy"))
                                    .string());
  ASSERT_EQ(ref.shape, (std::vector<int64_t>{n, V}));

  // The fixture's protocol: one prefill call of P tokens, then one token per decode call.
  Transformer tf(m, {p.fp8 ? ActQuant::Fp8 : ActQuant::None});
  StatePool pool(m.config, n, 1);
  SequenceState* st = pool.acquire();
  std::vector<float> got;
  for (int64_t pos = 0; pos < n;) {
    const int64_t len = pos == 0 ? cs.prefill : 1;
    Chunk ch{st, pos, std::span<const int32_t>(cs.tokens.data() + pos, len), true, false};
    auto r = tf.forward(std::span<const Chunk>(&ch, 1));
    got.insert(got.end(), r[0].logits.begin(), r[0].logits.end());
    pos += len;
  }

  std::vector<double> err;
  for (int64_t r = 0; r < n; ++r) {
    double num = 0, den = 0;
    for (int64_t i = 0; i < V; ++i) {
      const double d = static_cast<double>(got[r * V + i]) - ref.data[r * V + i];
      num += d * d;
      den += static_cast<double>(ref.data[r * V + i]) * ref.data[r * V + i];
    }
    err.push_back(std::sqrt(num / den));
  }
  if (std::getenv("DSV4_CONF_ROWS"))
    for (int64_t r = 0; r < n; ++r)
      if (err[r] > 2e-6) std::printf("row %ld err %.2e\n", static_cast<long>(r), err[r]);
  std::vector<double> sorted = err;
  std::sort(sorted.begin(), sorted.end());
  const double median = sorted[sorted.size() / 2];
  const double p90 = sorted[static_cast<size_t>(0.9 * static_cast<double>(sorted.size()))];
  const double max = sorted.back();
  RecordProperty("median", std::to_string(median));
  RecordProperty("max", std::to_string(max));
  if (p.fp8) {
    EXPECT_LE(median, 6e-5);
    EXPECT_LE(p90, 7e-4);
    EXPECT_LE(max, 1.5e-2);
  } else {
    EXPECT_LE(median, 4e-7);
    EXPECT_LE(p90, 2e-6);
    EXPECT_LE(max, 1e-4);
  }
  std::printf("%s act-%s: median %.2e p90 %.2e max %.2e\n", p.name.c_str(), p.fp8 ? "fp8" : "none",
              median, p90, max);
}

std::vector<Param> all_params() {
  std::vector<Param> v;
  for (const auto& c : load_cases())
    for (bool fp8 : {true, false}) v.push_back({c.name, fp8});
  return v;
}

INSTANTIATE_TEST_SUITE_P(DsV4Tiny, Conformance, ::testing::ValuesIn(all_params()),
                         [](const ::testing::TestParamInfo<Param>& i) {
                           return i.param.name + (i.param.fp8 ? "_act_fp8" : "_act_none");
                         });

}  // namespace
}  // namespace dsv4
