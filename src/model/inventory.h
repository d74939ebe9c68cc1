// The complete list of tensors a DeepSeek-V4 checkpoint must hold for a given config (spec §2.2),
// with the dtypes and shapes each may have.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "io/dtype.h"
#include "model/config.h"

namespace dsv4 {

struct TensorSpec {
  std::string name;
  std::vector<DType> dtypes;  // accepted dtypes (".scale": F8_E8M0 or F32)
  std::vector<int64_t> shape;
  bool optional = false;  // e.g. Flash-Base's mtp.0.emb.tok_emb.weight
};

std::vector<TensorSpec> expected_tensors(const ModelConfig& c);

// Name prefix of layer i: "layers.{i}." for main layers, "mtp.{j}." for MTP blocks.
std::string layer_prefix(const ModelConfig& c, int64_t layer);

}  // namespace dsv4
