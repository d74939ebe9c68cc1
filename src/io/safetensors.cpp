#include "io/safetensors.h"

#include <algorithm>
#include <nlohmann/json.hpp>

#include "util/error.h"

namespace dsv4 {

using nlohmann::json;

uint64_t TensorEntry::numel() const {
  uint64_t n = 1;
  for (int64_t d : shape) n *= static_cast<uint64_t>(d);
  return n;
}

namespace {

// Nesting deeper than this cannot be a safetensors header; refusing it keeps the parser's stack use
// bounded on hostile input.
constexpr int kMaxJsonDepth = 16;

uint64_t read_u64_le(const uint8_t* p) {
  uint64_t v = 0;
  for (int i = 7; i >= 0; --i) v = (v << 8) | p[i];
  return v;
}

uint64_t checked_u64(const json& v, std::string_view what, const std::string& tensor,
                     const char* field) {
  if (!v.is_number_unsigned() && !(v.is_number_integer() && v.get<int64_t>() >= 0))
    fail("{}: tensor '{}': {} must hold non-negative integers", what, tensor, field);
  return v.get<uint64_t>();
}

}  // namespace

SafetensorsHeader parse_safetensors(const uint8_t* data, size_t size, std::string_view what) {
  SafetensorsHeader h;
  if (size < 8) fail("{}: file is {} bytes, too short for a safetensors header", what, size);
  h.header_len = read_u64_le(data);
  if (h.header_len > kMaxSafetensorsHeader)
    fail("{}: header length {} exceeds the {} byte limit (corrupt or not safetensors)", what,
         h.header_len, kMaxSafetensorsHeader);
  if (h.header_len > size - 8)
    fail("{}: header length {} runs past the end of the file ({} bytes; truncated?)", what,
         h.header_len, size);
  h.data_start = 8 + h.header_len;
  const uint64_t data_size = size - h.data_start;

  const char* text = reinterpret_cast<const char*>(data + 8);
  int depth = 0;
  bool too_deep = false;
  json::parser_callback_t cb = [&](int d, json::parse_event_t ev, json&) {
    if (ev == json::parse_event_t::object_start || ev == json::parse_event_t::array_start) {
      depth = d + 1;
      if (depth > kMaxJsonDepth) too_deep = true;
    }
    return !too_deep;
  };
  json root;
  try {
    root = json::parse(text, text + h.header_len, cb);
  } catch (const json::exception& e) {
    fail("{}: header is not valid JSON: {}", what, e.what());
  }
  if (too_deep) fail("{}: header JSON nests deeper than {}", what, kMaxJsonDepth);
  if (!root.is_object()) fail("{}: header JSON must be an object", what);

  for (auto it = root.begin(); it != root.end(); ++it) {
    const std::string& name = it.key();
    const json& v = it.value();
    if (name == "__metadata__") {
      if (!v.is_object()) fail("{}: __metadata__ must be an object", what);
      for (auto m = v.begin(); m != v.end(); ++m) {
        if (!m.value().is_string())
          fail("{}: __metadata__ value '{}' is not a string", what, m.key());
        h.metadata[m.key()] = m.value().get<std::string>();
      }
      continue;
    }
    if (!v.is_object()) fail("{}: tensor '{}': entry must be an object", what, name);
    TensorEntry t;
    t.name = name;
    auto dt = v.find("dtype");
    if (dt == v.end() || !dt->is_string()) fail("{}: tensor '{}': missing dtype", what, name);
    auto parsed = parse_dtype(dt->get<std::string>());
    if (!parsed)
      fail(
          "{}: tensor '{}': dtype {} is not supported (F32, F16, BF16, F8_E4M3, F8_E8M0, I8, U8, "
          "I32, I64)",
          what, name, dt->get<std::string>());
    t.dtype = *parsed;
    auto sh = v.find("shape");
    if (sh == v.end() || !sh->is_array()) fail("{}: tensor '{}': missing shape", what, name);
    if (sh->size() > 8) fail("{}: tensor '{}': {} dimensions is too many", what, name, sh->size());
    // The element count must not overflow: bound it by the file size as we go.
    uint64_t numel = 1;
    for (const json& d : *sh) {
      uint64_t dim = checked_u64(d, what, name, "shape");
      if (dim != 0 && numel > (uint64_t{1} << 62) / dim)
        fail("{}: tensor '{}': shape is impossibly large", what, name);
      numel *= dim;
      t.shape.push_back(static_cast<int64_t>(dim));
    }
    auto off = v.find("data_offsets");
    if (off == v.end() || !off->is_array() || off->size() != 2)
      fail("{}: tensor '{}': data_offsets must be [begin, end]", what, name);
    t.begin = checked_u64((*off)[0], what, name, "data_offsets");
    t.end = checked_u64((*off)[1], what, name, "data_offsets");
    if (t.begin > t.end) fail("{}: tensor '{}': data_offsets begin > end", what, name);
    const uint64_t want = numel * dtype_size(t.dtype);
    if (t.end - t.begin != want)
      fail("{}: tensor '{}': shape {} of {} needs {} bytes but data_offsets span {}", what, name,
           sh->dump(), dtype_name(t.dtype), want, t.end - t.begin);
    if (t.end > data_size)
      fail(
          "{}: tensor '{}': bytes [{}, {}) lie past the end of the data section ({} bytes; "
          "truncated file?)",
          what, name, t.begin, t.end, data_size);
    h.tensors.push_back(std::move(t));
  }

  std::sort(h.tensors.begin(), h.tensors.end(), [](const TensorEntry& a, const TensorEntry& b) {
    return a.begin != b.begin ? a.begin < b.begin : a.end < b.end;
  });
  for (size_t i = 1; i < h.tensors.size(); ++i) {
    const TensorEntry& a = h.tensors[i - 1];
    const TensorEntry& b = h.tensors[i];
    // Empty tensors occupy no bytes and cannot overlap anything.
    if (a.nbytes() && b.nbytes() && b.begin < a.end)
      fail("{}: tensors '{}' [{}, {}) and '{}' [{}, {}) overlap", what, a.name, a.begin, a.end,
           b.name, b.begin, b.end);
  }
  // Like the reference library, require the tensors to cover the data section exactly: a hole or
  // trailing bytes mean the header and the data disagree.
  uint64_t covered = 0;
  for (const auto& t : h.tensors) {
    if (t.nbytes() == 0) continue;
    if (t.begin != covered)
      fail("{}: bytes [{}, {}) of the data section belong to no tensor (before '{}')", what,
           covered, t.begin, t.name);
    covered = t.end;
  }
  if (covered != data_size)
    fail("{}: {} bytes after the last tensor belong to no tensor", what, data_size - covered);
  return h;
}

SafetensorsFile::SafetensorsFile(const std::string& path) : file_(path) {}

std::unique_ptr<SafetensorsFile> SafetensorsFile::open(const std::string& path) {
  std::unique_ptr<SafetensorsFile> f(new SafetensorsFile(path));
  f->header_ = parse_safetensors(f->file_.data(), f->file_.size(), path);
  for (const auto& t : f->header_.tensors) f->by_name_.emplace(t.name, &t);
  f->file_.advise(MappedFile::Advice::Random, f->header_.data_start);
  return f;
}

const TensorEntry* SafetensorsFile::find(std::string_view name) const {
  auto it = by_name_.find(name);
  return it == by_name_.end() ? nullptr : it->second;
}

TensorView SafetensorsFile::view(const TensorEntry& e) const {
  return TensorView{&e, file_.data() + header_.data_start + e.begin, &file_.path()};
}

}  // namespace dsv4
