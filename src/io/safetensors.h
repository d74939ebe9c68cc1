// safetensors reader: an 8-byte little-endian header length, a JSON header, then the tensor bytes.
//
// Everything is validated before any tensor is used: the header length is bounded, the JSON is an
// object of {dtype, shape, data_offsets} entries, every dtype is one we know, shape x element size
// equals the byte range, every range lies inside the file and no two ranges overlap. A failure
// throws dsv4::Error naming the file and, where there is one, the tensor.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "io/dtype.h"
#include "io/mapped_file.h"

namespace dsv4 {

// Headers of real DeepSeek-V4 shards are a few hundred KB; anything past this is not a safetensors
// file we want to parse.
constexpr uint64_t kMaxSafetensorsHeader = 100ull << 20;

struct TensorEntry {
  std::string name;
  DType dtype;
  std::vector<int64_t> shape;
  uint64_t begin = 0;  // byte offset relative to the start of the data section
  uint64_t end = 0;
  uint64_t numel() const;
  uint64_t nbytes() const { return end - begin; }
};

struct SafetensorsHeader {
  uint64_t header_len = 0;           // JSON bytes
  uint64_t data_start = 0;           // 8 + header_len
  std::vector<TensorEntry> tensors;  // in file order (sorted by begin)
  std::map<std::string, std::string> metadata;
};

// Parses and validates a whole file image (header and data section sizes). `what` names the file in
// error messages. This is the function the fuzzer drives.
SafetensorsHeader parse_safetensors(const uint8_t* data, size_t size, std::string_view what);

// A view of one tensor inside a mapped file.
struct TensorView {
  const TensorEntry* entry = nullptr;
  const uint8_t* data = nullptr;
  const std::string* file = nullptr;  // path of the shard, for messages
  DType dtype() const { return entry->dtype; }
  const std::vector<int64_t>& shape() const { return entry->shape; }
  const std::string& name() const { return entry->name; }
  uint64_t nbytes() const { return entry->nbytes(); }
  // Element i read through memcpy: tensors in real files are not always aligned to their element
  // size (the dsv4-tiny fixture has unaligned F32 tensors), so never cast `data` to T*.
  template <typename T>
  T load(uint64_t i) const {
    T v;
    std::memcpy(&v, data + i * sizeof(T), sizeof(T));
    return v;
  }
};

class SafetensorsFile {
 public:
  // Maps and validates `path`. Tensor pages are advised MADV_RANDOM: decode touches a few experts
  // per layer and kernel readahead of the rest would only evict useful pages.
  static std::unique_ptr<SafetensorsFile> open(const std::string& path);

  const std::string& path() const { return file_.path(); }
  uint64_t file_size() const { return file_.size(); }
  const SafetensorsHeader& header() const { return header_; }
  const std::vector<TensorEntry>& tensors() const { return header_.tensors; }
  const TensorEntry* find(std::string_view name) const;
  TensorView view(const TensorEntry& e) const;
  const MappedFile& mapped() const { return file_; }

 private:
  explicit SafetensorsFile(const std::string& path);
  MappedFile file_;
  SafetensorsHeader header_;
  std::unordered_map<std::string_view, const TensorEntry*> by_name_;
};

}  // namespace dsv4
