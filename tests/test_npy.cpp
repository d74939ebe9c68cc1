// .npy files: what dsv4 logits writes, numpy-compatible, read back exactly; bad files refused.
#include "io/npy.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "test_util.h"

namespace dsv4 {
namespace {

TEST(Npy, RoundTripsAndPadsTheHeaderTo64Bytes) {
  test::TempDir d;
  const float v[6] = {1, -2, 3.5f, 0, 1e30f, -0.0f};
  write_npy(d.str("a.npy"), {2, 3}, v);
  std::string bytes = test::read_file(d.path() / "a.npy");
  EXPECT_EQ(bytes.substr(0, 8), std::string("\x93NUMPY\x01\x00", 8));
  EXPECT_NE(bytes.find("'shape': (2, 3)"), std::string::npos);
  EXPECT_EQ((bytes.size() - 24) % 64, 0u);  // data starts on a 64-byte boundary
  NpyArray a = read_npy(d.str("a.npy"));
  EXPECT_EQ(a.shape, (std::vector<int64_t>{2, 3}));
  EXPECT_EQ(a.data, std::vector<float>(v, v + 6));
}

TEST(Npy, ReadsTheFixture) {
  NpyArray a = read_npy(
      (test::source_dir() / "tests/fixtures/dsv4-tiny/logits-act-none/prefill_40.npy").string());
  EXPECT_EQ(a.shape, (std::vector<int64_t>{40, 1024}));
}

TEST(Npy, RefusesWhatItCannotRead) {
  using ::testing::HasSubstr;
  EXPECT_THAT(test::error_of([] { parse_npy("hello", "x"); }), HasSubstr("x: not a .npy file"));
  std::string h = "{'descr': '<f8', 'fortran_order': False, 'shape': (1,), }";
  std::string img = std::string("\x93NUMPY\x01\x00", 8) + static_cast<char>(h.size()) + '\0' + h +
                    std::string(8, '\0');
  EXPECT_THAT(test::error_of([&] { parse_npy(img, "x"); }), HasSubstr("'<f4'"));
  h = "{'descr': '<f4', 'fortran_order': False, 'shape': (3,), }";
  img = std::string("\x93NUMPY\x01\x00", 8) + static_cast<char>(h.size()) + '\0' + h +
        std::string(8, '\0');
  EXPECT_THAT(test::error_of([&] { parse_npy(img, "x"); }), HasSubstr("holds 8 data bytes"));
}

}  // namespace
}  // namespace dsv4
