// NumPy .npy files of float32 (what `dsv4 logits` writes and the conformance fixture holds).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace dsv4 {

struct NpyArray {
  std::vector<int64_t> shape;
  std::vector<float> data;  // C order
};

// Reads a little-endian float32 array ('<f4', C order); throws dsv4::Error naming the file.
NpyArray read_npy(const std::string& path);
// Parses an in-memory .npy image (the fuzzable part).
NpyArray parse_npy(const std::string& bytes, const std::string& what);
void write_npy(const std::string& path, const std::vector<int64_t>& shape, const float* data);

}  // namespace dsv4
