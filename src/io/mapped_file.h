// A read-only memory map of a whole file. Weights are used straight from the map: nothing is copied
// at load, so opening a checkpoint of hundreds of GB costs the time to read its headers.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

namespace dsv4 {

class MappedFile {
 public:
  // PopulateRead maps every page of the range into this process now (MADV_POPULATE_READ,
  // Linux 5.14+), reading what the page cache lacks.
  enum class Advice { Normal, Random, Sequential, WillNeed, PopulateRead };

  // Throws dsv4::Error naming the path when the file cannot be opened or mapped.
  explicit MappedFile(const std::string& path);
  ~MappedFile();
  MappedFile(const MappedFile&) = delete;
  MappedFile& operator=(const MappedFile&) = delete;

  const uint8_t* data() const { return data_; }
  size_t size() const { return size_; }
  const std::string& path() const { return path_; }
  // madvise over [offset, offset+len) (page-aligned internally); failures are ignored (advice
  // only).
  void advise(Advice a, size_t offset = 0, size_t len = SIZE_MAX) const;

 private:
  std::string path_;
  const uint8_t* data_ = nullptr;
  size_t size_ = 0;
};

}  // namespace dsv4
