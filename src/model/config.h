// The typed DeepSeek-V4 model configuration (spec dsv4-model.md §1), read from a Hugging Face
// config.json. Field names follow config.json; the reference ModelArgs name is in the comment.
#pragma once

#include <cstdint>
#include <nlohmann/json_fwd.hpp>
#include <string>
#include <string_view>
#include <vector>

namespace dsv4 {

enum class LayerKind { SWA, CSA, HCA };  // compress ratio 0, 4, 128
std::string_view layer_kind_name(LayerKind k);

struct RopeScaling {
  std::string type = "yarn";
  double factor = 16;                                // rope_factor
  int64_t original_max_position_embeddings = 65536;  // original_seq_len
  double beta_fast = 32, beta_slow = 1;
};

struct QuantizationConfig {
  std::string quant_method = "fp8";
  std::string fmt = "e4m3";
  std::string activation_scheme = "dynamic";
  std::string scale_fmt = "ue8m0";  // empty when absent (Base checkpoints: F32 scales)
  int64_t weight_block_rows = 128, weight_block_cols = 128;
};

struct ModelConfig {
  int64_t hidden_size = 0;               // dim, D
  int64_t num_hidden_layers = 0;         // n_layers
  int64_t num_nextn_predict_layers = 0;  // n_mtp_layers
  int64_t vocab_size = 0;
  int64_t num_attention_heads = 0;  // n_heads, H
  int64_t num_key_value_heads = 1;  // one shared K=V head
  int64_t head_dim = 512;
  int64_t qk_rope_head_dim = 64;  // rope_head_dim (last dims of a head)
  int64_t q_lora_rank = 0;
  int64_t o_groups = 0;
  int64_t o_lora_rank = 0;
  int64_t sliding_window = 128;      // window_size
  std::vector<int> compress_ratios;  // n_layers + n_mtp entries, each 0, 4 or 128
  double compress_rope_theta = 160000;
  double rope_theta = 10000;
  RopeScaling rope_scaling;
  int64_t max_position_embeddings = 1048576;
  int64_t index_n_heads = 64;
  int64_t index_head_dim = 128;
  int64_t index_topk = 0;
  int64_t n_routed_experts = 0;
  int64_t n_shared_experts = 1;
  int64_t num_experts_per_tok = 6;    // n_activated_experts
  int64_t moe_intermediate_size = 0;  // moe_inter_dim, I
  int64_t num_hash_layers = 0;
  std::string scoring_func = "sqrtsoftplus";
  double routed_scaling_factor = 1;  // route_scale
  bool norm_topk_prob = true;
  std::string topk_method = "noaux_tc";
  double swiglu_limit = 10;
  std::string hidden_act = "silu";
  int64_t hc_mult = 4;
  int64_t hc_sinkhorn_iters = 20;
  double hc_eps = 1e-6;
  double rms_norm_eps = 1e-6;
  QuantizationConfig quantization;
  std::string expert_dtype = "fp4";  // "fp4" (instruct) or "fp8" (Base)
  int64_t bos_token_id = 0, eos_token_id = 1;
  bool tie_word_embeddings = false;

  // ---- derived -------------------------------------------------------------------------------
  int64_t n_layers_total() const { return num_hidden_layers + num_nextn_predict_layers; }
  // Layer index i in [0, n_layers_total): MTP block j is n_layers + j.
  int compress_ratio(int64_t layer) const { return compress_ratios.at(layer); }
  LayerKind layer_kind(int64_t layer) const;
  bool is_hash_layer(int64_t layer) const { return layer < num_hash_layers; }  // never MTP
  bool is_mtp(int64_t layer) const { return layer >= num_hidden_layers; }
  int64_t nope_head_dim() const { return head_dim - qk_rope_head_dim; }
  bool experts_fp4() const { return expert_dtype == "fp4"; }
};

// Parses and validates; `source` names the file in messages. Throws dsv4::Error listing every
// problem found (unknown keys, missing keys, inconsistent sizes).
ModelConfig parse_config(const nlohmann::json& j, std::string_view source);
ModelConfig parse_config_text(std::string_view text, std::string_view source);
ModelConfig load_config(const std::string& model_dir);  // reads DIR/config.json
// Throws dsv4::Error listing every inconsistency.
void validate_config(const ModelConfig& c, std::string_view source);
// The HF config.json for this config (keys as DeepSeek publishes them).
nlohmann::json config_to_json(const ModelConfig& c);

// Named presets: "pro", "flash" (the released models) and the synthetic ones make-model writes.
std::vector<std::string> preset_names();
std::string preset_description(std::string_view name);
ModelConfig preset_config(std::string_view name);  // throws on unknown names

}  // namespace dsv4
