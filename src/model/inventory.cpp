#include "model/inventory.h"

#include <fmt/core.h>

namespace dsv4 {

namespace {

int64_t ceil_div(int64_t a, int64_t b) {
  return (a + b - 1) / b;
}

class Builder {
 public:
  explicit Builder(const ModelConfig& c) : c_(c) {}
  std::vector<TensorSpec> out;

  void add(std::string name, DType t, std::vector<int64_t> shape, bool optional = false) {
    out.push_back({std::move(name), {t}, std::move(shape), optional});
  }
  // FP8 e4m3 weight [n, k] with 128x128 block scales.
  void fp8_linear(const std::string& base, int64_t n, int64_t k) {
    add(base + ".weight", DType::F8_E4M3, {n, k});
    scale(base + ".scale", {ceil_div(n, 128), ceil_div(k, 128)});
  }
  // Routed expert weight: FP4 packed two per byte with per-row per-32 scales (instruct), or FP8
  // 128x128 blocks (Base checkpoints).
  void expert_linear(const std::string& base, int64_t n, int64_t k) {
    if (!c_.experts_fp4()) return fp8_linear(base, n, k);
    add(base + ".weight", DType::I8, {n, k / 2});
    scale(base + ".scale", {n, k / 32});
  }
  void scale(std::string name, std::vector<int64_t> shape) {
    out.push_back({std::move(name), {DType::F8_E8M0, DType::F32}, std::move(shape), false});
  }

 private:
  const ModelConfig& c_;
};

}  // namespace

std::string layer_prefix(const ModelConfig& c, int64_t layer) {
  return layer < c.num_hidden_layers ? fmt::format("layers.{}.", layer)
                                     : fmt::format("mtp.{}.", layer - c.num_hidden_layers);
}

std::vector<TensorSpec> expected_tensors(const ModelConfig& c) {
  Builder b(c);
  const int64_t D = c.hidden_size, V = c.vocab_size, hc = c.hc_mult;
  const int64_t mix = (2 + hc) * hc;  // pre, post and the hc x hc comb matrix
  auto hc_head = [&](const std::string& p) {
    b.add(p + "hc_head_fn", DType::F32, {hc, hc * D});
    b.add(p + "hc_head_base", DType::F32, {hc});
    b.add(p + "hc_head_scale", DType::F32, {1});
  };
  b.add("embed.weight", DType::BF16, {V, D});
  b.add("head.weight", DType::BF16, {V, D});
  b.add("norm.weight", DType::BF16, {D});
  hc_head("");

  const int64_t H = c.num_attention_heads, dh = c.head_dim, Q = c.q_lora_rank;
  const int64_t G = c.o_groups, R = c.o_lora_rank, E = c.n_routed_experts;
  const int64_t I = c.moe_intermediate_size, ih = c.index_head_dim, inh = c.index_n_heads;
  for (int64_t l = 0; l < c.n_layers_total(); ++l) {
    const std::string p = layer_prefix(c, l);
    b.add(p + "attn_norm.weight", DType::BF16, {D});
    b.add(p + "ffn_norm.weight", DType::BF16, {D});
    for (const char* which : {"attn", "ffn"}) {
      b.add(fmt::format("{}hc_{}_fn", p, which), DType::F32, {mix, hc * D});
      b.add(fmt::format("{}hc_{}_base", p, which), DType::F32, {mix});
      b.add(fmt::format("{}hc_{}_scale", p, which), DType::F32, {3});
    }
    // Attention core.
    b.add(p + "attn.attn_sink", DType::F32, {H});
    b.add(p + "attn.q_norm.weight", DType::BF16, {Q});
    b.add(p + "attn.kv_norm.weight", DType::BF16, {dh});
    b.fp8_linear(p + "attn.wq_a", Q, D);
    b.fp8_linear(p + "attn.wq_b", H * dh, Q);
    b.fp8_linear(p + "attn.wkv", dh, D);
    b.fp8_linear(p + "attn.wo_a", G * R, H * dh / G);
    b.fp8_linear(p + "attn.wo_b", D, G * R);
    const int r = c.compress_ratio(l);
    if (r > 0) {
      const int64_t coff = r == 4 ? 2 : 1;
      b.add(p + "attn.compressor.wkv.weight", DType::BF16, {coff * dh, D});
      b.add(p + "attn.compressor.wgate.weight", DType::BF16, {coff * dh, D});
      b.add(p + "attn.compressor.ape", DType::F32, {r, coff * dh});
      b.add(p + "attn.compressor.norm.weight", DType::BF16, {dh});
    }
    if (r == 4) {
      b.fp8_linear(p + "attn.indexer.wq_b", inh * ih, Q);
      b.add(p + "attn.indexer.weights_proj.weight", DType::BF16, {inh, D});
      b.add(p + "attn.indexer.compressor.wkv.weight", DType::BF16, {2 * ih, D});
      b.add(p + "attn.indexer.compressor.wgate.weight", DType::BF16, {2 * ih, D});
      b.add(p + "attn.indexer.compressor.ape", DType::F32, {4, 2 * ih});
      b.add(p + "attn.indexer.compressor.norm.weight", DType::BF16, {ih});
    }
    // MoE: router, hash table or bias, shared expert, routed experts.
    b.add(p + "ffn.gate.weight", DType::BF16, {E, D});
    if (c.is_hash_layer(l)) {
      b.out.push_back(
          {p + "ffn.gate.tid2eid", {DType::I64, DType::I32}, {V, c.num_experts_per_tok}});
    } else {
      b.add(p + "ffn.gate.bias", DType::F32, {E});
    }
    b.fp8_linear(p + "ffn.shared_experts.w1", I, D);
    b.fp8_linear(p + "ffn.shared_experts.w2", D, I);
    b.fp8_linear(p + "ffn.shared_experts.w3", I, D);
    for (int64_t e = 0; e < E; ++e) {
      const std::string ep = fmt::format("{}ffn.experts.{}.", p, e);
      b.expert_linear(ep + "w1", I, D);
      b.expert_linear(ep + "w2", D, I);
      b.expert_linear(ep + "w3", I, D);
    }
    if (c.is_mtp(l)) {
      b.fp8_linear(p + "e_proj", D, D);
      b.fp8_linear(p + "h_proj", D, D);
      b.add(p + "enorm.weight", DType::BF16, {D});
      b.add(p + "hnorm.weight", DType::BF16, {D});
      b.add(p + "norm.weight", DType::BF16, {D});
      hc_head(p);
      // Base checkpoints carry their own copies of embed and head for the MTP block.
      b.add(p + "emb.tok_emb.weight", DType::BF16, {V, D}, true);
      b.add(p + "head.weight", DType::BF16, {V, D}, true);
    }
  }
  return b.out;
}

}  // namespace dsv4
