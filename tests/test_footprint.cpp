// Sizes of the released models, from the inventory alone: they must reproduce the published tensor
// counts and byte totals (spec §2.1, §9.2, §11).
#include "model/footprint.h"

#include <gtest/gtest.h>

#include "model/inventory.h"

namespace dsv4 {
namespace {

TEST(Footprint, ProMatchesThePublishedIndex) {
  const ModelConfig c = preset_config("pro");
  Footprint f = compute_footprint(c);
  EXPECT_EQ(f.tensors, 145116u);
  EXPECT_EQ(f.weight_bytes, 864704792696ull);
  auto gb = [&](DType t) { return f.by_dtype[static_cast<size_t>(t)].bytes / 1e9; };
  EXPECT_NEAR(gb(DType::I8), 786.38, 0.005);
  EXPECT_NEAR(gb(DType::F8_E8M0), 49.15, 0.005);
  EXPECT_NEAR(gb(DType::F8_E4M3), 23.17, 0.005);
  EXPECT_NEAR(gb(DType::BF16), 5.63, 0.005);
  EXPECT_NEAR(gb(DType::F32), 0.35, 0.005);
  EXPECT_EQ(f.by_dtype[static_cast<size_t>(DType::I64)].bytes, 3ull * 129280 * 6 * 8);
  EXPECT_NEAR(f.decode_bytes_per_token / 1e9, 39.7, 0.05);
  EXPECT_NEAR(f.active_params / 1e9, 48.9, 0.1);
}

TEST(Footprint, FlashMatchesThePublishedIndex) {
  const ModelConfig c = preset_config("flash");
  Footprint f = compute_footprint(c);
  EXPECT_EQ(f.tensors, 69187u);
  EXPECT_EQ(f.weight_bytes, 159609485896ull);
  EXPECT_NEAR(f.decode_bytes_per_token / 1e9, 11.2, 0.05);
  EXPECT_NEAR(f.active_params / 1e9, 13.3, 0.1);
}

TEST(Footprint, PerSequenceStateMatchesTheSpec) {
  constexpr double kMiB = 1024.0 * 1024, kGiB = kMiB * 1024;
  StateSize pro = compute_state_size(preset_config("pro"));
  EXPECT_NEAR(pro.fixed_bytes / kMiB, 25.6, 0.05);
  // Growth per token: 30 CSA x (1024 + 256) / 4 + 31 HCA x 1024 / 128 = 9848 B.
  EXPECT_EQ(pro.bytes_at(4 * 128 * 1000) - pro.bytes_at(0), 9848ull * 4 * 128 * 1000);
  EXPECT_NEAR(pro.bytes_at(1048576) / kGiB, 9.64, 0.01);
  EXPECT_NEAR(pro.bytes_at(131072) / kGiB, 1.23, 0.01);
  StateSize flash = compute_state_size(preset_config("flash"));
  EXPECT_NEAR(flash.fixed_bytes / kMiB, 17.1, 0.05);
  EXPECT_EQ(flash.bytes_at(512000) - flash.bytes_at(0), 6880ull * 512000);
  EXPECT_NEAR(flash.bytes_at(1048576) / kGiB, 6.74, 0.01);
  // Entries exist only for complete blocks.
  EXPECT_EQ(flash.bytes_at(3), flash.bytes_at(0));
}

TEST(Footprint, BenchmarkPresetsFitIn24GiB) {
  for (const char* name : {"bench-flash-2l", "bench-flash-4l"}) {
    Footprint f = compute_footprint(preset_config(name));
    EXPECT_LT(f.weight_bytes, 20e9) << name;  // leaves room for the OS and the state
    EXPECT_GT(f.weight_bytes, 10e9) << name;
  }
}

}  // namespace
}  // namespace dsv4
