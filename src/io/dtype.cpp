#include "io/dtype.h"

#include <array>

namespace dsv4 {

namespace {
struct Entry {
  DType type;
  std::string_view name;
  size_t size;
};
constexpr std::array<Entry, 9> kTypes{{
    {DType::F32, "F32", 4},
    {DType::F16, "F16", 2},
    {DType::BF16, "BF16", 2},
    {DType::F8_E4M3, "F8_E4M3", 1},
    {DType::F8_E8M0, "F8_E8M0", 1},
    {DType::I8, "I8", 1},
    {DType::U8, "U8", 1},
    {DType::I32, "I32", 4},
    {DType::I64, "I64", 8},
}};
}  // namespace

std::string_view dtype_name(DType t) {
  return kTypes[static_cast<size_t>(t)].name;
}
size_t dtype_size(DType t) {
  return kTypes[static_cast<size_t>(t)].size;
}

std::optional<DType> parse_dtype(std::string_view s) {
  for (const auto& e : kTypes)
    if (e.name == s) return e.type;
  return std::nullopt;
}

}  // namespace dsv4
