#include "model/footprint.h"

#include "io/checkpoint.h"

namespace dsv4 {

namespace {

bool is_routed_expert(const std::string& name) {
  return name.find(".ffn.experts.") != std::string::npos;
}

}  // namespace

Footprint compute_footprint(const ModelConfig& c, const Checkpoint* ck) {
  Footprint f;
  const double expert_share =
      static_cast<double>(c.num_experts_per_tok) / static_cast<double>(c.n_routed_experts);
  double decode = 0, active = 0;
  for (const TensorSpec& s : expected_tensors(c)) {
    DType t = s.dtypes.front();
    uint64_t numel = 1;
    for (int64_t d : s.shape) numel *= static_cast<uint64_t>(d);
    if (ck) {
      const TensorView* v = ck->find(s.name);
      if (!v) continue;  // optional tensors that are absent
      t = v->dtype();
    } else if (s.optional) {
      continue;
    }
    const uint64_t bytes = numel * dtype_size(t);
    auto& slot = f.by_dtype[static_cast<size_t>(t)];
    slot.count++;
    slot.bytes += bytes;
    f.tensors++;
    f.weight_bytes += bytes;

    const bool mtp = s.name.rfind("mtp.", 0) == 0;
    if (mtp) continue;
    // Packed FP4 holds two parameters per byte; scales and hash tables are not parameters.
    const bool param =
        s.name.find(".scale") == std::string::npos && s.name.find("tid2eid") == std::string::npos;
    const double params = static_cast<double>(numel) * (t == DType::I8 ? 2 : 1) * (param ? 1 : 0);
    if (s.name == "embed.weight") {
      decode += static_cast<double>(c.hidden_size * dtype_size(t));
      active += static_cast<double>(c.hidden_size);
    } else if (s.name.find("tid2eid") != std::string::npos) {
      decode += static_cast<double>(c.num_experts_per_tok * dtype_size(t));  // one row
    } else if (is_routed_expert(s.name)) {
      decode += static_cast<double>(bytes) * expert_share;
      active += params * expert_share;
    } else {
      decode += static_cast<double>(bytes);
      active += params;
    }
  }
  f.decode_bytes_per_token = static_cast<uint64_t>(decode);
  f.active_params = static_cast<uint64_t>(active);
  return f;
}

StateSize compute_state_size(const ModelConfig& c) {
  StateSize s;
  const uint64_t dh = static_cast<uint64_t>(c.head_dim);
  const uint64_t ih = static_cast<uint64_t>(c.index_head_dim);
  const uint64_t win = static_cast<uint64_t>(c.sliding_window);
  for (int64_t l = 0; l < c.n_layers_total(); ++l) {
    s.fixed_bytes += win * dh * 2;  // BF16 window ring
    const int r = c.compress_ratio(l);
    if (r == 0) continue;
    const uint64_t coff = r == 4 ? 2 : 1;
    // kv_state and score_state, FP32, [coff*r][coff*d] each.
    s.fixed_bytes += 2 * coff * r * coff * dh * 4;
    s.growth.push_back({r, dh * 2});
    if (r == 4) {
      s.fixed_bytes += 2 * 2 * 4 * 2 * ih * 4;  // indexer compressor state
      s.growth.push_back({4, ih * 2});          // indexer keys
    }
  }
  return s;
}

uint64_t StateSize::bytes_at(uint64_t context) const {
  uint64_t b = fixed_bytes;
  for (const auto& g : growth) b += context / static_cast<uint64_t>(g.ratio) * g.bytes_per_entry;
  return b;
}

}  // namespace dsv4
