// Binds a checkpoint to the model structure: checks the complete tensor inventory (spec §2.2) and
// hands out typed views into the mapped shards. Nothing is copied or converted: FP8 and FP4 weights
// stay in their stored form.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "io/checkpoint.h"
#include "model/config.h"

namespace dsv4 {

using Tensor = const TensorView*;  // never null for required tensors

// An FP8 (or FP4 expert) weight with its block scales; `scale` is F8_E8M0 or F32.
struct QuantLinear {
  Tensor weight = nullptr;
  Tensor scale = nullptr;
};

struct HyperConnection {  // hc_{attn,ffn,head}_{fn,base,scale}
  Tensor fn = nullptr, base = nullptr, scale = nullptr;
};

struct CompressorWeights {
  Tensor wkv = nullptr, wgate = nullptr, ape = nullptr, norm = nullptr;
};

struct IndexerWeights {
  QuantLinear wq_b;
  Tensor weights_proj = nullptr;
  CompressorWeights compressor;
};

struct AttentionWeights {
  Tensor attn_sink = nullptr, q_norm = nullptr, kv_norm = nullptr;
  QuantLinear wq_a, wq_b, wkv, wo_a, wo_b;
  bool has_compressor = false, has_indexer = false;
  CompressorWeights compressor;
  IndexerWeights indexer;
};

struct ExpertWeights {
  QuantLinear w1, w2, w3;
};

struct MoEWeights {
  Tensor gate = nullptr;
  Tensor bias = nullptr;     // non-hash layers
  Tensor tid2eid = nullptr;  // hash layers (I64 or I32)
  ExpertWeights shared;
  std::vector<ExpertWeights> experts;
};

struct BlockWeights {
  Tensor attn_norm = nullptr, ffn_norm = nullptr;
  HyperConnection hc_attn, hc_ffn;
  AttentionWeights attn;
  MoEWeights ffn;
  // MTP blocks only.
  QuantLinear e_proj, h_proj;
  Tensor enorm = nullptr, hnorm = nullptr, norm = nullptr;
  HyperConnection hc_head;
};

struct ModelWeights {
  Tensor embed = nullptr, head = nullptr, norm = nullptr;
  HyperConnection hc_head;
  std::vector<BlockWeights> layers;  // num_hidden_layers main blocks, then the MTP blocks
};

// A loaded model: the config, the mapped checkpoint and the typed views into it.
struct Model {
  ModelConfig config;
  std::unique_ptr<Checkpoint> checkpoint;
  ModelWeights weights;
};

// Checks the checkpoint against expected_tensors(config): missing, unexpected, wrong-dtype and
// wrong-shape tensors are reported together in one dsv4::Error (the first 20, then a count). Then
// checks tid2eid: ids inside [0, n_routed_experts) and no id twice in a row.
ModelWeights bind_weights(const ModelConfig& config, const Checkpoint& ck);

// config.json + shards + binding.
std::unique_ptr<Model> load_model(const std::string& dir, bool show_progress = false);

}  // namespace dsv4
