// Checkpoint directories: single file or sharded with an index, and the index checked against the
// shards.
#include "io/checkpoint.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "io/safetensors_writer.h"
#include "test_util.h"

namespace dsv4 {
namespace {

using test::error_of;
using ::testing::HasSubstr;

void write_shard(const test::TempDir& d, const std::string& file,
                 const std::vector<std::string>& names) {
  SafetensorsWriter w;
  for (const auto& n : names) w.add(n, DType::F32, {2}, {});
  w.write(d.str(file));
}

void write_index(const test::TempDir& d, const nlohmann::json& weight_map) {
  nlohmann::json j = {{"metadata", {{"total_size", 0}}}, {"weight_map", weight_map}};
  test::write_file(d.path() / "model.safetensors.index.json", j.dump());
}

TEST(Checkpoint, OpensTheShardedTinyFixture) {
  auto ck = Checkpoint::open(test::tiny_fixture().string());
  EXPECT_EQ(ck->shards().size(), 2u);
  EXPECT_EQ(ck->tensors().size(), 427u);
  EXPECT_EQ(ck->total_bytes(), 7618738u);  // the index's metadata.total_size
  const TensorView* t = ck->find("layers.0.ffn.gate.tid2eid");
  ASSERT_NE(t, nullptr);
  EXPECT_EQ(t->dtype(), DType::I64);
  EXPECT_THAT(*t->file, HasSubstr("model-00002-of-00002.safetensors"));
}

TEST(Checkpoint, SingleFileWithoutIndex) {
  test::TempDir d;
  write_shard(d, "model.safetensors", {"a", "b"});
  auto ck = Checkpoint::open(d.str());
  EXPECT_EQ(ck->tensors().size(), 2u);
  EXPECT_NE(ck->find("b"), nullptr);
}

TEST(Checkpoint, IndexNamesMustExistInTheNamedShard) {
  test::TempDir d;
  write_shard(d, "s1.safetensors", {"a"});
  write_shard(d, "s2.safetensors", {"b"});
  write_index(d, {{"a", "s1.safetensors"}, {"b", "s1.safetensors"}});
  EXPECT_THAT(error_of([&] { Checkpoint::open(d.str()); }),
              HasSubstr("s1.safetensors: tensor 'b' is listed in model.safetensors.index.json but "
                        "is not in the shard"));
}

TEST(Checkpoint, ShardTensorsMissingFromTheIndex) {
  test::TempDir d;
  write_shard(d, "s1.safetensors", {"a", "extra"});
  write_index(d, {{"a", "s1.safetensors"}});
  EXPECT_THAT(
      error_of([&] { Checkpoint::open(d.str()); }),
      HasSubstr("tensor 'extra' is in the shard but model.safetensors.index.json does not"));
}

TEST(Checkpoint, MissingShard) {
  test::TempDir d;
  write_shard(d, "s1.safetensors", {"a"});
  write_index(d, {{"a", "s1.safetensors"}, {"b", "s2.safetensors"}});
  EXPECT_THAT(error_of([&] { Checkpoint::open(d.str()); }),
              HasSubstr("shard s2.safetensors is listed in model.safetensors.index.json (e.g. for "
                        "'b') but does not exist"));
}

TEST(Checkpoint, IndexMayNotPointOutsideTheDirectory) {
  test::TempDir d;
  write_index(d, {{"a", "../evil.safetensors"}});
  EXPECT_THAT(error_of([&] { Checkpoint::open(d.str()); }),
              HasSubstr("which is not a file in this directory"));
}

TEST(Checkpoint, BadIndexJson) {
  test::TempDir d;
  test::write_file(d.path() / "model.safetensors.index.json", "{not json");
  EXPECT_THAT(error_of([&] { Checkpoint::open(d.str()); }),
              HasSubstr("model.safetensors.index.json: not valid JSON"));
  test::write_file(d.path() / "model.safetensors.index.json", R"({"weight_map": []})");
  EXPECT_THAT(error_of([&] { Checkpoint::open(d.str()); }), HasSubstr("missing the weight_map"));
}

TEST(Checkpoint, SeveralFilesWithoutIndexOrNone) {
  test::TempDir d;
  EXPECT_THAT(error_of([&] { Checkpoint::open(d.str()); }),
              HasSubstr("no model.safetensors and no model.safetensors.index.json"));
  write_shard(d, "x.safetensors", {"a"});
  write_shard(d, "y.safetensors", {"b"});
  EXPECT_THAT(error_of([&] { Checkpoint::open(d.str()); }),
              HasSubstr("2 .safetensors files but no model.safetensors.index.json"));
  EXPECT_THAT(error_of([&] { Checkpoint::open(d.str("x.safetensors")); }),
              HasSubstr("not a directory"));
}

TEST(Checkpoint, TruncatedShardNamesTheFile) {
  test::TempDir d;
  test::copy_dir(test::tiny_fixture(), d.path());
  const auto shard = d.path() / "model-00002-of-00002.safetensors";
  std::string bytes = test::read_file(shard);
  test::write_file(shard, bytes.substr(0, bytes.size() / 2));
  EXPECT_THAT(error_of([&] { Checkpoint::open(d.str()); }),
              HasSubstr(shard.string() + ": tensor '"));
}

}  // namespace
}  // namespace dsv4
