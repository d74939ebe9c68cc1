// python_json_dumps must match CPython's json.dumps(ensure_ascii=False) byte for byte; the expected
// strings below are what CPython 3 prints.
#include <gtest/gtest.h>

#include <cmath>
#include <limits>

#include "chat/python_json.h"

namespace dsv4::chat {
namespace {

using Json = nlohmann::ordered_json;

TEST(PythonJson, SeparatorsAndKeyOrderKept) {
  Json v = Json::parse(R"({"z": 1, "a": [1, 2, {"k": "v"}], "m": {}})");
  EXPECT_EQ(python_json_dumps(v), R"({"z": 1, "a": [1, 2, {"k": "v"}], "m": {}})");
  EXPECT_EQ(python_json_dumps(Json::array()), "[]");
}

TEST(PythonJson, NonAsciiRawControlCharactersEscaped) {
  Json v = "温泉 22°C \"q\" \\ \n\r\t\b\f \x01\x1f \x7f 😀";
  EXPECT_EQ(python_json_dumps(v),
            "\"温泉 22°C \\\"q\\\" \\\\ \\n\\r\\t\\b\\f \\u0001\\u001f \x7f 😀\"");
}

TEST(PythonJson, LiteralsAndIntegers) {
  Json v = Json::parse(R"([true, false, null, -7, 0, 18446744073709551615, -9223372036854775808])");
  EXPECT_EQ(python_json_dumps(v),
            "[true, false, null, -7, 0, 18446744073709551615, -9223372036854775808]");
}

TEST(PythonJson, FloatsLikePythonRepr) {
  struct Case {
    double v;
    const char* want;
  };
  const Case cases[] = {
      {1.0, "1.0"},
      {0.1, "0.1"},
      {-0.0, "-0.0"},
      {123.456, "123.456"},
      {0.0001, "0.0001"},
      {0.00001, "1e-05"},
      {1.5e-7, "1.5e-07"},
      {1e15, "1000000000000000.0"},
      {1234567890123456.0, "1234567890123456.0"},
      {1e16, "1e+16"},
      {1.25e16, "1.25e+16"},
      {1e22, "1e+22"},
      {1.5e300, "1.5e+300"},
      {5e-324, "5e-324"},
      {1.7976931348623157e308, "1.7976931348623157e+308"},
      {0.30000000000000004, "0.30000000000000004"},
      {std::numeric_limits<double>::infinity(), "Infinity"},
      {-std::numeric_limits<double>::infinity(), "-Infinity"},
      {std::nan(""), "NaN"},
  };
  for (const Case& c : cases) EXPECT_EQ(python_float_repr(c.v), c.want) << c.want;
  EXPECT_EQ(python_json_dumps(Json::parse("[2.50, 1e2, 3E-5]")), "[2.5, 100.0, 3e-05]");
}

}  // namespace
}  // namespace dsv4::chat
