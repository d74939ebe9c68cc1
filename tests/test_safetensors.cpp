// The safetensors parser: valid files round-trip, and every kind of corruption is one clear error
// naming the file and the tensor.
#include "io/safetensors.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "io/safetensors_writer.h"
#include "test_util.h"

namespace dsv4 {
namespace {

using test::error_of;
using test::raw_safetensors;
using ::testing::HasSubstr;

SafetensorsHeader parse(const std::string& img) {
  return parse_safetensors(reinterpret_cast<const uint8_t*>(img.data()), img.size(), "x.st");
}

TEST(Safetensors, WriterRoundTripsNamesDtypesShapesAndBytes) {
  test::TempDir dir;
  SafetensorsWriter w;
  w.add("a.bf16", DType::BF16, {3}, [](uint8_t* p) {
    for (int i = 0; i < 6; ++i) p[i] = static_cast<uint8_t>(i + 1);
  });
  w.add("b.f32", DType::F32, {2, 2}, [](uint8_t* p) {
    float v[4] = {1.5f, -2, 3, 4};
    std::memcpy(p, v, 16);
  });
  w.add("c.i64", DType::I64, {1}, [](uint8_t* p) {
    int64_t v = -7;
    std::memcpy(p, &v, 8);
  });
  w.add("d.e8m0", DType::F8_E8M0, {0, 4}, {});
  w.set_metadata("format", "pt");
  w.write(dir.str("m.safetensors"));

  auto f = SafetensorsFile::open(dir.str("m.safetensors"));
  EXPECT_EQ(f->header().metadata.at("format"), "pt");
  EXPECT_EQ(f->header().data_start % 8, 0u);
  ASSERT_EQ(f->tensors().size(), 4u);
  const TensorEntry* b = f->find("b.f32");
  ASSERT_NE(b, nullptr);
  EXPECT_EQ(b->dtype, DType::F32);
  EXPECT_EQ(b->shape, (std::vector<int64_t>{2, 2}));
  TensorView v = f->view(*b);
  EXPECT_EQ(v.load<float>(0), 1.5f);
  EXPECT_EQ(v.load<float>(1), -2.0f);
  // Wider elements are laid out first, so every tensor is aligned to its element size.
  for (const auto& t : f->tensors())
    EXPECT_EQ((f->header().data_start + t.begin) % dtype_size(t.dtype), 0u) << t.name;
  EXPECT_EQ(f->view(*f->find("c.i64")).load<int64_t>(0), -7);
  TensorView a = f->view(*f->find("a.bf16"));
  EXPECT_EQ(a.data[5], 6);
  EXPECT_EQ(f->find("nope"), nullptr);
}

TEST(Safetensors, AcceptsEveryDtypeOfTheCheckpoints) {
  for (const char* dt : {"F32", "F16", "BF16", "F8_E4M3", "F8_E8M0", "I8", "U8", "I32", "I64"}) {
    const size_t sz = dtype_size(*parse_dtype(dt));
    std::string hdr =
        fmt::format(R"({{"t":{{"dtype":"{}","shape":[2],"data_offsets":[0,{}]}}}})", dt, 2 * sz);
    auto h = parse(raw_safetensors(hdr, std::string(2 * sz, '\0')));
    EXPECT_EQ(dtype_name(h.tensors.at(0).dtype), dt);
  }
}

TEST(Safetensors, RejectsOtherDtypesByName) {
  for (const char* dt : {"F64", "BOOL", "F8_E5M2", "U16", "C64"}) {
    std::string hdr =
        fmt::format(R"({{"t":{{"dtype":"{}","shape":[1],"data_offsets":[0,8]}}}})", dt);
    EXPECT_THAT(error_of([&] { parse(raw_safetensors(hdr, std::string(8, '\0'))); }),
                HasSubstr(fmt::format("tensor 't': dtype {} is not supported", dt)));
  }
}

TEST(Safetensors, TooShortForAHeader) {
  EXPECT_THAT(error_of([] { parse("abc"); }), HasSubstr("x.st: file is 3 bytes, too short"));
}

TEST(Safetensors, HeaderLengthPastEndOfFile) {
  std::string img = raw_safetensors("{}", "", 5000);
  EXPECT_THAT(error_of([&] { parse(img); }),
              HasSubstr("x.st: header length 5000 runs past the end of the file"));
}

TEST(Safetensors, HeaderLengthBeyondLimit) {
  std::string img = raw_safetensors("{}", "", uint64_t{1} << 40);
  EXPECT_THAT(error_of([&] { parse(img); }), HasSubstr("exceeds the 104857600 byte limit"));
}

TEST(Safetensors, HeaderNotJsonOrNotAnObject) {
  EXPECT_THAT(error_of([] { parse(raw_safetensors("{\"a\":", "")); }),
              HasSubstr("x.st: header is not valid JSON"));
  EXPECT_THAT(error_of([] { parse(raw_safetensors("[1,2]", "")); }),
              HasSubstr("header JSON must be an object"));
  std::string deep = std::string(200, '[') + std::string(200, ']');
  EXPECT_THAT(error_of([&] { parse(raw_safetensors("{\"t\":" + deep + "}", "")); }),
              HasSubstr("nests deeper"));
}

TEST(Safetensors, MalformedEntries) {
  auto err = [](const std::string& entry) {
    return error_of([&] { parse(raw_safetensors("{\"t\":" + entry + "}", std::string(8, '\0'))); });
  };
  EXPECT_THAT(err("3"), HasSubstr("tensor 't': entry must be an object"));
  EXPECT_THAT(err(R"({"shape":[2],"data_offsets":[0,8]})"), HasSubstr("missing dtype"));
  EXPECT_THAT(err(R"({"dtype":"F32","data_offsets":[0,8]})"), HasSubstr("missing shape"));
  EXPECT_THAT(err(R"({"dtype":"F32","shape":[-2],"data_offsets":[0,8]})"),
              HasSubstr("shape must hold non-negative integers"));
  EXPECT_THAT(err(R"({"dtype":"F32","shape":[2.5],"data_offsets":[0,8]})"),
              HasSubstr("shape must hold non-negative integers"));
  EXPECT_THAT(err(R"({"dtype":"F32","shape":[2],"data_offsets":[0]})"),
              HasSubstr("data_offsets must be [begin, end]"));
  EXPECT_THAT(err(R"({"dtype":"F32","shape":[2],"data_offsets":[8,0]})"), HasSubstr("begin > end"));
  EXPECT_THAT(err(R"({"dtype":"F32","shape":[4294967296,4294967296,4],"data_offsets":[0,8]})"),
              HasSubstr("impossibly large"));
}

TEST(Safetensors, ShapeTimesElementSizeMustEqualTheByteRange) {
  std::string hdr = R"({"w":{"dtype":"BF16","shape":[3],"data_offsets":[0,8]}})";
  EXPECT_THAT(error_of([&] { parse(raw_safetensors(hdr, std::string(8, '\0'))); }),
              HasSubstr("tensor 'w': shape [3] of BF16 needs 6 bytes but data_offsets span 8"));
}

TEST(Safetensors, RangePastTheEndOfTheFile) {
  std::string hdr = R"({"w":{"dtype":"F32","shape":[4],"data_offsets":[0,16]}})";
  EXPECT_THAT(error_of([&] { parse(raw_safetensors(hdr, std::string(12, '\0'))); }),
              HasSubstr("tensor 'w': bytes [0, 16) lie past the end of the data section (12 bytes; "
                        "truncated file?)"));
}

TEST(Safetensors, TruncatedFileOnDisk) {
  test::TempDir dir;
  SafetensorsWriter w;
  w.add("big", DType::F32, {1000}, {});
  w.write(dir.str("m.safetensors"));
  std::string bytes = test::read_file(dir.path() / "m.safetensors");
  test::write_file(dir.path() / "m.safetensors", bytes.substr(0, bytes.size() - 100));
  EXPECT_THAT(
      error_of([&] { SafetensorsFile::open(dir.str("m.safetensors")); }),
      HasSubstr(dir.str("m.safetensors") + ": tensor 'big': bytes [0, 4000) lie past the end"));
}

TEST(Safetensors, OverlappingRanges) {
  std::string hdr = R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},)"
                    R"("b":{"dtype":"F32","shape":[2],"data_offsets":[4,12]}})";
  EXPECT_THAT(error_of([&] { parse(raw_safetensors(hdr, std::string(12, '\0'))); }),
              HasSubstr("tensors 'a' [0, 8) and 'b' [4, 12) overlap"));
}

TEST(Safetensors, HolesAndTrailingBytes) {
  std::string hole = R"({"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},)"
                     R"("b":{"dtype":"F32","shape":[1],"data_offsets":[8,12]}})";
  EXPECT_THAT(error_of([&] { parse(raw_safetensors(hole, std::string(12, '\0'))); }),
              HasSubstr("bytes [4, 8) of the data section belong to no tensor (before 'b')"));
  std::string one = R"({"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}})";
  EXPECT_THAT(error_of([&] { parse(raw_safetensors(one, std::string(9, '\0'))); }),
              HasSubstr("5 bytes after the last tensor belong to no tensor"));
}

TEST(Safetensors, MetadataMustBeStrings) {
  EXPECT_THAT(error_of([] { parse(raw_safetensors(R"({"__metadata__":{"a":1}})", "")); }),
              HasSubstr("__metadata__ value 'a' is not a string"));
  auto h = parse(raw_safetensors(R"({"__metadata__":{"format":"pt"}})", ""));
  EXPECT_EQ(h.metadata.at("format"), "pt");
  EXPECT_TRUE(h.tensors.empty());
}

TEST(Safetensors, UnalignedTensorsOfRealFilesAreReadable) {
  // The dsv4-tiny fixture itself has F32 tensors at odd offsets; load<T> must read them.
  std::string hdr = R"({"a":{"dtype":"U8","shape":[1],"data_offsets":[0,1]},)"
                    R"("b":{"dtype":"F32","shape":[1],"data_offsets":[1,5]}})";
  std::string data(5, '\0');
  float v = 3.25f;
  std::memcpy(data.data() + 1, &v, 4);
  std::string img = raw_safetensors(hdr, data);
  auto h = parse(img);
  TensorView view{&h.tensors[1],
                  reinterpret_cast<const uint8_t*>(img.data()) + h.data_start + h.tensors[1].begin};
  EXPECT_EQ(view.load<float>(0), 3.25f);
}

TEST(Safetensors, MissingFileIsAClearError) {
  EXPECT_THAT(error_of([] { SafetensorsFile::open("/nonexistent/x.safetensors"); }),
              HasSubstr("/nonexistent/x.safetensors: cannot open"));
}

}  // namespace
}  // namespace dsv4
