// Tensor element types of safetensors files that DeepSeek-V4 checkpoints use.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string_view>

namespace dsv4 {

enum class DType : uint8_t { F32, F16, BF16, F8_E4M3, F8_E8M0, I8, U8, I32, I64 };

// The safetensors spelling ("F8_E4M3", ...).
std::string_view dtype_name(DType t);
// Parses the safetensors spelling; nullopt for anything we do not support (F64, BOOL, F8_E5M2,
// ...).
std::optional<DType> parse_dtype(std::string_view s);
size_t dtype_size(DType t);

}  // namespace dsv4
