#include "model/weights.h"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <algorithm>
#include <cstring>
#include <unordered_map>
#include <unordered_set>

#include "model/inventory.h"
#include "util/error.h"

namespace dsv4 {

namespace {

std::string shape_str(const std::vector<int64_t>& s) {
  return fmt::format("[{}]", fmt::join(s, ", "));
}

std::string dtypes_str(const std::vector<DType>& ts) {
  std::string s;
  for (DType t : ts) s += std::string(s.empty() ? "" : " or ") + std::string(dtype_name(t));
  return s;
}

void check_inventory(const ModelConfig& c, const Checkpoint& ck) {
  const std::vector<TensorSpec> specs = expected_tensors(c);
  std::vector<std::string> problems;
  std::unordered_set<std::string_view> expected;
  for (const auto& s : specs) {
    expected.insert(s.name);
    const TensorView* t = ck.find(s.name);
    if (!t) {
      if (!s.optional)
        problems.push_back(
            fmt::format("missing {} ({} {})", s.name, dtypes_str(s.dtypes), shape_str(s.shape)));
      continue;
    }
    if (std::find(s.dtypes.begin(), s.dtypes.end(), t->dtype()) == s.dtypes.end())
      problems.push_back(fmt::format("{} in {}: dtype {}, expected {}", s.name, *t->file,
                                     dtype_name(t->dtype()), dtypes_str(s.dtypes)));
    if (t->shape() != s.shape)
      problems.push_back(fmt::format("{} in {}: shape {}, expected {}", s.name, *t->file,
                                     shape_str(t->shape()), shape_str(s.shape)));
  }
  for (const auto& t : ck.tensors())
    if (!expected.count(t.name()))
      problems.push_back(fmt::format("unexpected tensor {} in {} ({} {})", t.name(), *t.file,
                                     dtype_name(t.dtype()), shape_str(t.shape())));
  if (problems.empty()) return;
  std::string msg =
      fmt::format("{}: the checkpoint does not match its config.json ({} problem{}):", ck.dir(),
                  problems.size(), problems.size() == 1 ? "" : "s");
  const size_t shown = std::min<size_t>(problems.size(), 20);
  for (size_t i = 0; i < shown; ++i) msg += "\n  - " + problems[i];
  if (problems.size() > shown) msg += fmt::format("\n  ... and {} more", problems.size() - shown);
  throw Error(msg);
}

void check_tid2eid(const ModelConfig& c, const TensorView& t) {
  const int64_t rows = t.shape()[0], k = t.shape()[1];
  const bool i64 = t.dtype() == DType::I64;
  std::vector<int64_t> row(static_cast<size_t>(k));
  for (int64_t r = 0; r < rows; ++r) {
    for (int64_t j = 0; j < k; ++j) {
      if (i64) {
        std::memcpy(&row[j], t.data + 8 * (r * k + j), 8);
      } else {
        int32_t v;
        std::memcpy(&v, t.data + 4 * (r * k + j), 4);
        row[j] = v;
      }
      if (row[j] < 0 || row[j] >= c.n_routed_experts)
        fail("{}: tensor '{}': token {} routes to expert {}, outside [0, {})", *t.file, t.name(), r,
             row[j], c.n_routed_experts);
      for (int64_t i = 0; i < j; ++i)
        if (row[i] == row[j])
          fail("{}: tensor '{}': token {} lists expert {} twice", *t.file, t.name(), r, row[j]);
    }
  }
}

class Binder {
 public:
  explicit Binder(const Checkpoint& ck) : ck_(ck) {}
  Tensor get(const std::string& name) const {
    Tensor t = ck_.find(name);
    if (!t) fail("{}: tensor '{}' is missing", ck_.dir(), name);  // unreachable after the check
    return t;
  }
  Tensor maybe(const std::string& name) const { return ck_.find(name); }
  QuantLinear linear(const std::string& base) const {
    return {get(base + ".weight"), get(base + ".scale")};
  }
  HyperConnection hc(const std::string& p, const char* which) const {
    return {get(fmt::format("{}hc_{}_fn", p, which)), get(fmt::format("{}hc_{}_base", p, which)),
            get(fmt::format("{}hc_{}_scale", p, which))};
  }
  CompressorWeights compressor(const std::string& p) const {
    return {get(p + "wkv.weight"), get(p + "wgate.weight"), get(p + "ape"), get(p + "norm.weight")};
  }

 private:
  const Checkpoint& ck_;
};

}  // namespace

ModelWeights bind_weights(const ModelConfig& c, const Checkpoint& ck) {
  check_inventory(c, ck);
  Binder b(ck);
  ModelWeights w;
  w.embed = b.get("embed.weight");
  w.head = b.get("head.weight");
  w.norm = b.get("norm.weight");
  w.hc_head = b.hc("", "head");
  for (int64_t l = 0; l < c.n_layers_total(); ++l) {
    const std::string p = layer_prefix(c, l);
    BlockWeights blk;
    blk.attn_norm = b.get(p + "attn_norm.weight");
    blk.ffn_norm = b.get(p + "ffn_norm.weight");
    blk.hc_attn = b.hc(p, "attn");
    blk.hc_ffn = b.hc(p, "ffn");
    AttentionWeights& a = blk.attn;
    a.attn_sink = b.get(p + "attn.attn_sink");
    a.q_norm = b.get(p + "attn.q_norm.weight");
    a.kv_norm = b.get(p + "attn.kv_norm.weight");
    a.wq_a = b.linear(p + "attn.wq_a");
    a.wq_b = b.linear(p + "attn.wq_b");
    a.wkv = b.linear(p + "attn.wkv");
    a.wo_a = b.linear(p + "attn.wo_a");
    a.wo_b = b.linear(p + "attn.wo_b");
    const int r = c.compress_ratio(l);
    a.has_compressor = r > 0;
    a.has_indexer = r == 4;
    if (a.has_compressor) a.compressor = b.compressor(p + "attn.compressor.");
    if (a.has_indexer) {
      a.indexer.wq_b = b.linear(p + "attn.indexer.wq_b");
      a.indexer.weights_proj = b.get(p + "attn.indexer.weights_proj.weight");
      a.indexer.compressor = b.compressor(p + "attn.indexer.compressor.");
    }
    MoEWeights& m = blk.ffn;
    m.gate = b.get(p + "ffn.gate.weight");
    if (c.is_hash_layer(l)) {
      m.tid2eid = b.get(p + "ffn.gate.tid2eid");
      check_tid2eid(c, *m.tid2eid);
    } else {
      m.bias = b.get(p + "ffn.gate.bias");
    }
    m.shared = {b.linear(p + "ffn.shared_experts.w1"), b.linear(p + "ffn.shared_experts.w2"),
                b.linear(p + "ffn.shared_experts.w3")};
    m.experts.reserve(static_cast<size_t>(c.n_routed_experts));
    for (int64_t e = 0; e < c.n_routed_experts; ++e) {
      const std::string ep = fmt::format("{}ffn.experts.{}.", p, e);
      m.experts.push_back({b.linear(ep + "w1"), b.linear(ep + "w2"), b.linear(ep + "w3")});
    }
    if (c.is_mtp(l)) {
      blk.e_proj = b.linear(p + "e_proj");
      blk.h_proj = b.linear(p + "h_proj");
      blk.enorm = b.get(p + "enorm.weight");
      blk.hnorm = b.get(p + "hnorm.weight");
      blk.norm = b.get(p + "norm.weight");
      blk.hc_head = b.hc(p, "head");
    }
    w.layers.push_back(std::move(blk));
  }
  return w;
}

std::unique_ptr<Model> load_model(const std::string& dir, bool show_progress) {
  auto m = std::make_unique<Model>();
  m->config = load_config(dir);
  m->checkpoint = Checkpoint::open(dir, show_progress);
  m->weights = bind_weights(m->config, *m->checkpoint);
  return m;
}

}  // namespace dsv4
