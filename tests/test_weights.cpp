// Weight binding: the full tensor inventory is checked at load, and every mismatch is named.
#include "model/weights.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "io/safetensors_writer.h"
#include "model/inventory.h"
#include "numeric/formats.h"
#include "synth/make_model.h"
#include "test_util.h"

namespace dsv4 {
namespace {

using test::error_of;
using ::testing::HasSubstr;
using ::testing::Not;

struct Entry {
  std::string name;
  DType dtype;
  std::vector<int64_t> shape;
  std::string bytes;
};

// Rewrites every shard of the checkpoint in `dir` through `mutate` and regenerates the index.
void rewrite(const test::TempDir& dir, const std::function<void(std::vector<Entry>&)>& mutate) {
  nlohmann::json index =
      nlohmann::json::parse(test::read_file(dir.path() / "model.safetensors.index.json"));
  std::set<std::string> shards;
  for (auto& [k, v] : index["weight_map"].items()) shards.insert(v.get<std::string>());
  nlohmann::json map = nlohmann::json::object();
  for (const auto& s : shards) {
    std::vector<Entry> entries;
    {
      auto f = SafetensorsFile::open(dir.str(s));
      for (const auto& t : f->tensors()) {
        TensorView v = f->view(t);
        entries.push_back({t.name, t.dtype, t.shape,
                           std::string(reinterpret_cast<const char*>(v.data), t.nbytes())});
      }
    }
    mutate(entries);
    SafetensorsWriter w;
    for (const auto& e : entries) {
      w.add(e.name, e.dtype, e.shape,
            [b = e.bytes](uint8_t* p) { std::memcpy(p, b.data(), b.size()); });
      map[e.name] = s;
    }
    w.write(dir.str(s));
  }
  index["weight_map"] = map;
  test::write_file(dir.path() / "model.safetensors.index.json", index.dump());
}

class Binding : public ::testing::Test {
 protected:
  void SetUp() override {
    MakeModelOptions o;
    o.config = preset_config("ci");
    o.out_dir = dir.str();
    o.seed = 7;
    o.shards = 2;
    o.overwrite = true;
    make_model(o);
  }
  std::string load_error() {
    return error_of([&] { load_model(dir.str()); });
  }
  test::TempDir dir;
};

TEST(BindingFixture, TheTinyFixtureBindsCompletely) {
  auto m = load_model(test::tiny_fixture().string());
  const auto& w = m->weights;
  ASSERT_EQ(w.layers.size(), 5u);
  EXPECT_FALSE(w.layers[0].attn.has_compressor);
  EXPECT_TRUE(w.layers[1].attn.has_indexer);
  EXPECT_TRUE(w.layers[2].attn.has_compressor);
  EXPECT_FALSE(w.layers[2].attn.has_indexer);
  EXPECT_NE(w.layers[0].ffn.tid2eid, nullptr);
  EXPECT_EQ(w.layers[0].ffn.bias, nullptr);
  EXPECT_NE(w.layers[1].ffn.bias, nullptr);
  EXPECT_EQ(w.layers[1].ffn.experts.size(), 8u);
  EXPECT_EQ(w.layers[3].ffn.experts[7].w2.weight->shape(), (std::vector<int64_t>{256, 64}));
  EXPECT_NE(w.layers[4].e_proj.weight, nullptr);  // the MTP block
  EXPECT_NE(w.layers[4].hc_head.fn, nullptr);
  EXPECT_EQ(w.layers[1].e_proj.weight, nullptr);
  EXPECT_EQ(w.embed->dtype(), DType::BF16);
}

TEST_F(Binding, GeneratedModelBinds) {
  auto m = load_model(dir.str());
  EXPECT_EQ(m->weights.layers.size(), 5u);
  EXPECT_NE(m->weights.layers[1].ffn.tid2eid, nullptr);  // ci has two hash layers
}

TEST_F(Binding, MissingTensor) {
  rewrite(dir, [](std::vector<Entry>& es) {
    std::erase_if(es, [](const Entry& e) { return e.name == "layers.2.attn.compressor.ape"; });
  });
  std::string e = load_error();
  EXPECT_THAT(e, HasSubstr("the checkpoint does not match its config.json (1 problem)"));
  EXPECT_THAT(e, HasSubstr("missing layers.2.attn.compressor.ape (F32 [128, 128])"));
}

TEST_F(Binding, WrongDtype) {
  rewrite(dir, [](std::vector<Entry>& es) {
    for (auto& e : es)
      if (e.name == "layers.1.attn.wkv.weight") e.dtype = DType::I8;
  });
  EXPECT_THAT(load_error(), HasSubstr("layers.1.attn.wkv.weight in "));
  EXPECT_THAT(load_error(), HasSubstr(": dtype I8, expected F8_E4M3"));
}

TEST_F(Binding, WrongShape) {
  rewrite(dir, [](std::vector<Entry>& es) {
    for (auto& e : es)
      if (e.name == "layers.3.attn.wq_b.weight") e.shape = {128, 512};
  });
  EXPECT_THAT(load_error(), HasSubstr("layers.3.attn.wq_b.weight in "));
  EXPECT_THAT(load_error(), HasSubstr("shape [128, 512], expected [512, 128]"));
}

TEST_F(Binding, UnexpectedTensor) {
  bool added = false;  // into the first shard only
  rewrite(dir, [&](std::vector<Entry>& es) {
    if (!std::exchange(added, true))
      es.push_back({"layers.0.attn.engram.weight", DType::BF16, {2}, std::string(4, '\0')});
  });
  EXPECT_THAT(load_error(), HasSubstr("unexpected tensor layers.0.attn.engram.weight in "));
}

TEST_F(Binding, ManyProblemsListTwentyThenACount) {
  rewrite(dir, [](std::vector<Entry>& es) {
    std::erase_if(es, [](const Entry& e) { return e.name.find(".experts.") != std::string::npos; });
  });
  std::string e = load_error();
  EXPECT_THAT(e, HasSubstr("(240 problems)"));
  EXPECT_THAT(e, HasSubstr("... and 220 more"));
  EXPECT_EQ(std::count(e.begin(), e.end(), '\n'), 21);
}

TEST_F(Binding, ScalesMayBeStoredAsF32) {
  rewrite(dir, [](std::vector<Entry>& es) {
    for (auto& e : es) {
      if (e.dtype != DType::F8_E8M0) continue;
      std::string f32(e.bytes.size() * 4, '\0');
      for (size_t i = 0; i < e.bytes.size(); ++i) {
        float v = e8m0_to_f32(static_cast<uint8_t>(e.bytes[i]));
        std::memcpy(f32.data() + 4 * i, &v, 4);
      }
      e.dtype = DType::F32;
      e.bytes = f32;
    }
  });
  auto m = load_model(dir.str());
  EXPECT_EQ(m->weights.layers[0].attn.wq_a.scale->dtype(), DType::F32);
}

TEST_F(Binding, Tid2eidOutOfRange) {
  rewrite(dir, [](std::vector<Entry>& es) {
    for (auto& e : es)
      if (e.name == "layers.1.ffn.gate.tid2eid") {
        int64_t bad = 8;  // n_routed_experts
        std::memcpy(e.bytes.data() + 8 * (5 * 3 + 1), &bad, 8);
      }
  });
  EXPECT_THAT(load_error(), HasSubstr("tensor 'layers.1.ffn.gate.tid2eid': token 5 routes to "
                                      "expert 8, outside [0, 8)"));
}

TEST_F(Binding, Tid2eidDuplicateExpert) {
  rewrite(dir, [](std::vector<Entry>& es) {
    for (auto& e : es)
      if (e.name == "layers.0.ffn.gate.tid2eid")
        std::memcpy(e.bytes.data() + 8 * (1023 * 3 + 2), e.bytes.data() + 8 * (1023 * 3), 8);
  });
  EXPECT_THAT(load_error(), HasSubstr("token 1023 lists expert"));
  EXPECT_THAT(load_error(), HasSubstr("twice"));
}

TEST_F(Binding, ConfigAndWeightsDisagree) {
  // A config that claims more experts than the shards hold.
  auto cfg = nlohmann::json::parse(test::read_file(dir.path() / "config.json"));
  cfg["n_routed_experts"] = 16;
  test::write_file(dir.path() / "config.json", cfg.dump());
  std::string e = load_error();
  EXPECT_THAT(e, HasSubstr("missing layers.0.ffn.experts.8.w1.weight"));
  EXPECT_THAT(e, HasSubstr("layers.0.ffn.gate.weight in "));
}

TEST(Inventory, MatchesTheTinyFixtureExactly) {
  auto ck = Checkpoint::open(test::tiny_fixture().string());
  const ModelConfig c = load_config(test::tiny_fixture().string());
  size_t required = 0;
  for (const auto& s : expected_tensors(c)) {
    if (s.optional) continue;
    ++required;
    const TensorView* t = ck->find(s.name);
    ASSERT_NE(t, nullptr) << s.name;
    EXPECT_EQ(t->dtype(), s.dtypes.front()) << s.name;
    EXPECT_EQ(t->shape(), s.shape) << s.name;
  }
  EXPECT_EQ(required, ck->tensors().size());
}

}  // namespace
}  // namespace dsv4
