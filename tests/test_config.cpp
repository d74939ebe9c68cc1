// config.json -> ModelConfig: the released models' values, the fixture, and clear refusals.
#include "model/config.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "test_util.h"

namespace dsv4 {
namespace {

using nlohmann::json;
using test::error_of;
using ::testing::HasSubstr;

json fixture_json() {
  return json::parse(test::read_file(test::tiny_fixture() / "config.json"));
}

std::string parse_error(const json& j) {
  return error_of([&] { parse_config(j, "config.json"); });
}

TEST(Config, ParsesTheTinyFixture) {
  ModelConfig c = load_config(test::tiny_fixture().string());
  EXPECT_EQ(c.hidden_size, 256);
  EXPECT_EQ(c.num_hidden_layers, 4);
  EXPECT_EQ(c.num_nextn_predict_layers, 1);
  EXPECT_EQ(c.head_dim, 128);
  EXPECT_EQ(c.nope_head_dim(), 64);
  EXPECT_EQ(c.sliding_window, 16);
  EXPECT_EQ(c.index_topk, 8);
  EXPECT_EQ(c.expert_dtype, "fp4");
  EXPECT_EQ(c.quantization.scale_fmt, "ue8m0");
  EXPECT_EQ(c.rope_scaling.original_max_position_embeddings, 65536);
  EXPECT_EQ(c.layer_kind(0), LayerKind::SWA);
  EXPECT_EQ(c.layer_kind(1), LayerKind::CSA);
  EXPECT_EQ(c.layer_kind(2), LayerKind::HCA);
  EXPECT_EQ(c.layer_kind(4), LayerKind::SWA);  // the MTP block
  EXPECT_TRUE(c.is_mtp(4));
  EXPECT_TRUE(c.is_hash_layer(0));
  EXPECT_FALSE(c.is_hash_layer(1));
}

TEST(Config, ProPresetHasTheReleasedValues) {
  ModelConfig c = preset_config("pro");
  EXPECT_EQ(c.hidden_size, 7168);
  EXPECT_EQ(c.num_hidden_layers, 61);
  EXPECT_EQ(c.num_attention_heads, 128);
  EXPECT_EQ(c.q_lora_rank, 1536);
  EXPECT_EQ(c.o_groups, 16);
  EXPECT_EQ(c.index_topk, 1024);
  EXPECT_EQ(c.n_routed_experts, 384);
  EXPECT_EQ(c.moe_intermediate_size, 3072);
  EXPECT_DOUBLE_EQ(c.routed_scaling_factor, 2.5);
  ASSERT_EQ(c.compress_ratios.size(), 62u);
  EXPECT_EQ(c.compress_ratios[0], 128);
  EXPECT_EQ(c.compress_ratios[1], 128);
  EXPECT_EQ(c.compress_ratios[2], 4);
  EXPECT_EQ(c.compress_ratios[3], 128);
  EXPECT_EQ(c.compress_ratios[60], 4);
  EXPECT_EQ(c.compress_ratios[61], 0);
}

TEST(Config, FlashPresetHasTheReleasedValues) {
  ModelConfig c = preset_config("flash");
  EXPECT_EQ(c.hidden_size, 4096);
  EXPECT_EQ(c.num_hidden_layers, 43);
  EXPECT_EQ(c.num_attention_heads, 64);
  EXPECT_EQ(c.o_groups, 8);
  EXPECT_EQ(c.index_topk, 512);
  EXPECT_EQ(c.n_routed_experts, 256);
  EXPECT_DOUBLE_EQ(c.routed_scaling_factor, 1.5);
  ASSERT_EQ(c.compress_ratios.size(), 44u);
  EXPECT_EQ(c.compress_ratios[0], 0);
  EXPECT_EQ(c.compress_ratios[1], 0);
  EXPECT_EQ(c.compress_ratios[2], 4);
  EXPECT_EQ(c.compress_ratios[41], 128);
  EXPECT_EQ(c.compress_ratios[43], 0);
}

TEST(Config, EveryPresetRoundTripsThroughConfigJson) {
  for (const auto& name : preset_names()) {
    ModelConfig c = preset_config(name);
    ModelConfig back = parse_config(config_to_json(c), name);
    EXPECT_EQ(config_to_json(back), config_to_json(c)) << name;
    EXPECT_EQ(back.compress_ratios, c.compress_ratios) << name;
  }
  EXPECT_THAT(error_of([] { preset_config("huge"); }), HasSubstr("unknown preset 'huge'"));
}

TEST(Config, RefusesOtherModels) {
  json j = fixture_json();
  j["model_type"] = "deepseek_v3";
  j["architectures"] = {"DeepseekV3ForCausalLM"};
  std::string e = parse_error(j);
  EXPECT_THAT(e, HasSubstr("config.json: not a DeepSeek-V4 config"));
  EXPECT_THAT(e, HasSubstr("model_type is 'deepseek_v3'"));
  EXPECT_THAT(e, HasSubstr("does not name DeepseekV4ForCausalLM"));
}

TEST(Config, RefusesUnknownKeysOfLaterReleases) {
  json j = fixture_json();
  j["engram_config"] = {{"n", 4}};
  j["rope_scaling"]["mscale"] = 1.0;
  std::string e = parse_error(j);
  EXPECT_THAT(e, HasSubstr("unknown key 'engram_config'"));
  EXPECT_THAT(e, HasSubstr("unknown key 'rope_scaling.mscale'"));
}

TEST(Config, HarmlessHuggingFaceKeysAreIgnored) {
  json j = fixture_json();
  j["transformers_version"] = "4.57.0";
  j["initializer_range"] = 0.02;
  EXPECT_NO_THROW(parse_config(j, "config.json"));
}

TEST(Config, MissingAndMistypedKeysAreAllListed) {
  json j = fixture_json();
  j.erase("hidden_size");
  j["num_attention_heads"] = "four";
  std::string e = parse_error(j);
  EXPECT_THAT(e, HasSubstr("missing key 'hidden_size'"));
  EXPECT_THAT(e, HasSubstr("'num_attention_heads' must be an integer, got \"four\""));
}

TEST(Config, CompressRatiosLengthAndValues) {
  json j = fixture_json();
  j["compress_ratios"] = {0, 4, 128, 4};
  EXPECT_THAT(parse_error(j), HasSubstr("compress_ratios has 4 entries, expected "
                                        "num_hidden_layers + num_nextn_predict_layers = 5"));
  j["compress_ratios"] = {0, 4, 64, 4, 0};
  EXPECT_THAT(parse_error(j), HasSubstr("compress_ratios[2] is 64, expected 0, 4 or 128"));
}

TEST(Config, InconsistentSizes) {
  struct Case {
    const char* key;
    json value;
    const char* message;
  };
  const Case cases[] = {
      {"hidden_size", 200, "hidden_size = 200 must be a multiple of 128"},
      {"qk_rope_head_dim", 63, "qk_rope_head_dim must be even"},
      {"head_dim", 100, "head_dim - qk_rope_head_dim = 36 must be a multiple of 64"},
      {"o_groups", 3, "num_attention_heads 4 must be a multiple of o_groups 3"},
      {"index_head_dim", 96, "index_head_dim must be a power of two"},
      {"num_experts_per_tok", 9, "num_experts_per_tok must be 1..n_routed_experts (8)"},
      {"num_hash_layers", 5, "num_hash_layers must be 0..num_hidden_layers"},
      {"num_key_value_heads", 8, "num_key_value_heads must be 1"},
      {"n_shared_experts", 2, "n_shared_experts must be 1"},
      {"scoring_func", "softmax", "scoring_func 'softmax' is not supported"},
      {"q_lora_rank", 100, "q_lora_rank = 100 must be a multiple of 128"},
      {"moe_intermediate_size", 96, "moe_intermediate_size = 96 must be a multiple of 128"},
      {"eos_token_id", 5000, "eos_token_id outside the vocabulary"},
      {"expert_dtype", "int4", "expert_dtype 'int4' is not supported"},
      {"tie_word_embeddings", true, "tie_word_embeddings must be false"},
  };
  for (const auto& c : cases) {
    json j = fixture_json();
    j[c.key] = c.value;
    EXPECT_THAT(parse_error(j), HasSubstr(c.message)) << c.key;
  }
  json j = fixture_json();
  j["quantization_config"]["weight_block_size"] = {64, 64};
  EXPECT_THAT(parse_error(j), HasSubstr("weight_block_size must be [128, 128]"));
}

TEST(Config, BaseCheckpointsWithoutExpertDtypeHaveFp8Experts) {
  json j = fixture_json();
  j.erase("expert_dtype");
  j["quantization_config"].erase("scale_fmt");
  ModelConfig c = parse_config(j, "config.json");
  EXPECT_EQ(c.expert_dtype, "fp8");
  EXPECT_FALSE(c.experts_fp4());
  EXPECT_EQ(c.quantization.scale_fmt, "");
}

TEST(Config, NotJsonOrNotAnObjectOrNoFile) {
  EXPECT_THAT(error_of([] { parse_config_text("{", "c.json"); }),
              HasSubstr("c.json: not valid JSON"));
  EXPECT_THAT(error_of([] { parse_config_text("[]", "c.json"); }),
              HasSubstr("c.json: config must be a JSON object"));
  EXPECT_THAT(error_of([] { load_config("/nonexistent"); }),
              HasSubstr("/nonexistent/config.json: cannot open"));
}

}  // namespace
}  // namespace dsv4
