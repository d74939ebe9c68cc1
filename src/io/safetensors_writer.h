// Writes safetensors files the way the reference serializer does: 8-byte length, JSON header padded
// with spaces to a multiple of 8, tensors back to back in the order they were added.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <vector>

#include "io/dtype.h"

namespace dsv4 {

class SafetensorsWriter {
 public:
  // Fills `out` (already sized to the tensor's byte count) with the tensor's bytes. An empty Fill
  // means all zeros, written as a hole (sparse file).
  using Fill = std::function<void(uint8_t* out)>;

  void add(std::string name, DType dtype, std::vector<int64_t> shape, Fill fill);
  void set_metadata(std::string key, std::string value) { metadata_[key] = value; }
  uint64_t data_bytes() const { return data_bytes_; }
  size_t count() const { return tensors_.size(); }
  std::vector<std::string> names() const;

  // Writes to `path` (via a temporary file renamed into place, so a crash leaves no half file).
  // `on_bytes` is called with the number of data bytes written so far, for progress display.
  void write(const std::string& path, const std::function<void(uint64_t)>& on_bytes = {}) const;

 private:
  struct Pending {
    std::string name;
    DType dtype;
    std::vector<int64_t> shape;
    uint64_t begin, end;
    Fill fill;
  };
  std::vector<Pending> tensors_;
  std::map<std::string, std::string> metadata_;
  uint64_t data_bytes_ = 0;
};

}  // namespace dsv4
