#include "io/safetensors_writer.h"

#include <unistd.h>
#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <nlohmann/json.hpp>

#include "util/error.h"

namespace dsv4 {

void SafetensorsWriter::add(std::string name, DType dtype, std::vector<int64_t> shape, Fill fill) {
  uint64_t n = dtype_size(dtype);
  for (int64_t d : shape) n *= static_cast<uint64_t>(d);
  tensors_.push_back(
      {std::move(name), dtype, std::move(shape), data_bytes_, data_bytes_ + n, std::move(fill)});
  data_bytes_ += n;
}

std::vector<std::string> SafetensorsWriter::names() const {
  std::vector<std::string> out;
  for (const auto& t : tensors_) out.push_back(t.name);
  return out;
}

void SafetensorsWriter::write(const std::string& path,
                              const std::function<void(uint64_t)>& on_bytes) const {
  // Wider elements first (stable), so with the header padded to 8 bytes every tensor is aligned to
  // its element size and the data has no holes; this is what the reference serializer does.
  std::vector<const Pending*> order;
  for (const auto& t : tensors_) order.push_back(&t);
  std::stable_sort(order.begin(), order.end(), [](const Pending* a, const Pending* b) {
    return dtype_size(a->dtype) > dtype_size(b->dtype);
  });
  nlohmann::json header = nlohmann::json::object();  // key order is irrelevant: offsets place data
  if (!metadata_.empty()) header["__metadata__"] = metadata_;
  uint64_t offset = 0;
  for (const Pending* t : order) {
    const uint64_t n = t->end - t->begin;
    header[t->name] = {{"dtype", std::string(dtype_name(t->dtype))},
                       {"shape", t->shape},
                       {"data_offsets", {offset, offset + n}}};
    offset += n;
  }
  std::string text = header.dump();
  while (text.size() % 8) text.push_back(' ');

  const std::string tmp = path + ".tmp";
  FILE* f = std::fopen(tmp.c_str(), "wb");
  if (!f) fail("{}: cannot create: {}", tmp, std::strerror(errno));
  auto check = [&](bool ok) {
    if (!ok) {
      int e = errno;
      std::fclose(f);
      std::remove(tmp.c_str());
      fail("{}: write failed: {}", tmp, std::strerror(e));
    }
  };
  uint8_t len[8];
  uint64_t n = text.size();
  for (int i = 0; i < 8; ++i) len[i] = static_cast<uint8_t>(n >> (8 * i));
  check(std::fwrite(len, 1, 8, f) == 8);
  check(std::fwrite(text.data(), 1, text.size(), f) == text.size());
  std::vector<uint8_t> buf;
  uint64_t written = 0;
  for (const Pending* t : order) {
    const uint64_t bytes = t->end - t->begin;
    if (t->fill) {
      buf.assign(bytes, 0);
      t->fill(buf.data());
      check(std::fwrite(buf.data(), 1, buf.size(), f) == buf.size());
    } else {
      // No fill: all-zero bytes, left as a hole of a sparse file.
      check(::fseeko(f, static_cast<off_t>(bytes), SEEK_CUR) == 0);
    }
    written += bytes;
    if (on_bytes) on_bytes(written);
  }
  check(std::fflush(f) == 0);
  // A trailing hole needs the file size set explicitly.
  check(::ftruncate(::fileno(f), static_cast<off_t>(8 + text.size() + written)) == 0);
  if (std::fclose(f) != 0) fail("{}: close failed: {}", tmp, std::strerror(errno));
  if (std::rename(tmp.c_str(), path.c_str()) != 0)
    fail("{}: cannot rename into place: {}", path, std::strerror(errno));
}

}  // namespace dsv4
