// A checkpoint directory as published on Hugging Face: config.json plus either one
// model.safetensors or shards listed in model.safetensors.index.json. All shards are mapped and
// validated, and the index is checked against them, before anything is returned.
#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "io/safetensors.h"

namespace dsv4 {

class Checkpoint {
 public:
  // Throws dsv4::Error naming the file (and tensor) at the first problem.
  static std::unique_ptr<Checkpoint> open(const std::string& dir, bool show_progress = false);

  const std::string& dir() const { return dir_; }
  const std::vector<std::unique_ptr<SafetensorsFile>>& shards() const { return shards_; }
  // nullptr when absent.
  const TensorView* find(std::string_view name) const;
  const std::vector<TensorView>& tensors() const { return tensors_; }  // sorted by name
  uint64_t total_bytes() const;
  // Ask the kernel to read every shard into the page cache in the background.
  void prefetch() const;
  // Map every page of every shard into this process now (reading what the page cache lacks), so
  // that no later access takes a page fault. RSS then holds the whole checkpoint.
  void populate() const;

 private:
  std::string dir_;
  std::vector<std::unique_ptr<SafetensorsFile>> shards_;
  std::vector<TensorView> tensors_;
  std::unordered_map<std::string_view, size_t> by_name_;
};

}  // namespace dsv4
