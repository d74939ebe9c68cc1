#include "model/config.h"

#include <fmt/format.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>

#include "util/error.h"

namespace dsv4 {

using nlohmann::json;

std::string_view layer_kind_name(LayerKind k) {
  switch (k) {
    case LayerKind::SWA:
      return "SWA";
    case LayerKind::CSA:
      return "CSA";
    case LayerKind::HCA:
      return "HCA";
  }
  return "?";
}

LayerKind ModelConfig::layer_kind(int64_t layer) const {
  int r = compress_ratio(layer);
  return r == 0 ? LayerKind::SWA : r == 4 ? LayerKind::CSA : LayerKind::HCA;
}

namespace {

// Keys of a Hugging Face config that do not affect inference and may appear in any release.
const std::set<std::string> kIgnoredKeys = {
    "attention_bias", "attention_dropout",    "initializer_range", "torch_dtype",   "dtype",
    "use_cache",      "transformers_version", "auto_map",          "_name_or_path",
};

// Reads typed fields out of a JSON object, remembering which keys it used and every problem, so a
// bad config gets one message listing all of them.
class FieldReader {
 public:
  FieldReader(const json& j, std::string prefix) : j_(j), prefix_(std::move(prefix)) {}
  std::vector<std::string> problems;
  std::set<std::string> used;

  const json* get(const char* key, bool required) {
    used.insert(key);
    auto it = j_.find(key);
    if (it == j_.end() || it->is_null()) {
      if (required) problems.push_back(fmt::format("missing key '{}{}'", prefix_, key));
      return nullptr;
    }
    return &*it;
  }
  void integer(const char* key, int64_t& out, bool required = true) {
    if (const json* v = get(key, required)) {
      if (v->is_number_integer())
        out = v->get<int64_t>();
      else
        bad(key, "an integer", *v);
    }
  }
  void number(const char* key, double& out, bool required = true) {
    if (const json* v = get(key, required)) {
      if (v->is_number())
        out = v->get<double>();
      else
        bad(key, "a number", *v);
    }
  }
  void boolean(const char* key, bool& out, bool required = true) {
    if (const json* v = get(key, required)) {
      if (v->is_boolean())
        out = v->get<bool>();
      else
        bad(key, "true or false", *v);
    }
  }
  void string(const char* key, std::string& out, bool required = true) {
    if (const json* v = get(key, required)) {
      if (v->is_string())
        out = v->get<std::string>();
      else
        bad(key, "a string", *v);
    }
  }
  void unknown_keys() {
    for (auto it = j_.begin(); it != j_.end(); ++it)
      if (!used.count(it.key()) && !kIgnoredKeys.count(it.key()))
        problems.push_back(fmt::format("unknown key '{}{}'", prefix_, it.key()));
  }

 private:
  void bad(const char* key, const char* want, const json& v) {
    problems.push_back(fmt::format("'{}{}' must be {}, got {}", prefix_, key, want, v.dump()));
  }
  const json& j_;
  std::string prefix_;
};

std::string join_problems(const std::vector<std::string>& p) {
  std::string s;
  for (const auto& x : p) s += "\n  - " + x;
  return s;
}

}  // namespace

ModelConfig parse_config(const json& j, std::string_view source) {
  if (!j.is_object()) fail("{}: config must be a JSON object", source);
  ModelConfig c;
  FieldReader r(j, "");

  // Identity first: a config of another model gets a short, specific refusal.
  std::string model_type;
  r.string("model_type", model_type);
  bool arch_ok = false;
  if (const json* a = r.get("architectures", true)) {
    if (a->is_array())
      for (const auto& x : *a)
        arch_ok |= x.is_string() && x.get<std::string>() == "DeepseekV4ForCausalLM";
    if (!arch_ok)
      r.problems.push_back(
          fmt::format("architectures {} does not name DeepseekV4ForCausalLM", a->dump()));
  }
  if (!model_type.empty() && model_type != "deepseek_v4")
    r.problems.push_back(
        fmt::format("model_type is '{}', expected 'deepseek_v4' (this is not a DeepSeek-V4 model)",
                    model_type));

  r.integer("hidden_size", c.hidden_size);
  r.integer("num_hidden_layers", c.num_hidden_layers);
  r.integer("num_nextn_predict_layers", c.num_nextn_predict_layers, false);
  r.integer("vocab_size", c.vocab_size);
  r.integer("num_attention_heads", c.num_attention_heads);
  r.integer("num_key_value_heads", c.num_key_value_heads, false);
  r.integer("head_dim", c.head_dim);
  r.integer("qk_rope_head_dim", c.qk_rope_head_dim);
  r.integer("q_lora_rank", c.q_lora_rank);
  r.integer("o_groups", c.o_groups);
  r.integer("o_lora_rank", c.o_lora_rank);
  r.integer("sliding_window", c.sliding_window);
  if (const json* v = r.get("compress_ratios", true)) {
    bool ok = v->is_array();
    if (ok)
      for (const auto& x : *v) {
        if (!x.is_number_integer()) {
          ok = false;
          break;
        }
        c.compress_ratios.push_back(static_cast<int>(x.get<int64_t>()));
      }
    if (!ok) r.problems.push_back("'compress_ratios' must be a list of integers");
  }
  r.number("compress_rope_theta", c.compress_rope_theta);
  r.number("rope_theta", c.rope_theta);
  if (const json* v = r.get("rope_scaling", true)) {
    if (!v->is_object()) {
      r.problems.push_back("'rope_scaling' must be an object");
    } else {
      FieldReader rs(*v, "rope_scaling.");
      rs.string("type", c.rope_scaling.type);
      rs.number("factor", c.rope_scaling.factor);
      rs.integer("original_max_position_embeddings",
                 c.rope_scaling.original_max_position_embeddings);
      rs.number("beta_fast", c.rope_scaling.beta_fast);
      rs.number("beta_slow", c.rope_scaling.beta_slow);
      rs.unknown_keys();
      r.problems.insert(r.problems.end(), rs.problems.begin(), rs.problems.end());
    }
  }
  r.integer("max_position_embeddings", c.max_position_embeddings, false);
  r.integer("index_n_heads", c.index_n_heads);
  r.integer("index_head_dim", c.index_head_dim);
  r.integer("index_topk", c.index_topk);
  r.integer("n_routed_experts", c.n_routed_experts);
  r.integer("n_shared_experts", c.n_shared_experts, false);
  r.integer("num_experts_per_tok", c.num_experts_per_tok);
  r.integer("moe_intermediate_size", c.moe_intermediate_size);
  r.integer("num_hash_layers", c.num_hash_layers, false);
  r.string("scoring_func", c.scoring_func, false);
  r.number("routed_scaling_factor", c.routed_scaling_factor);
  r.boolean("norm_topk_prob", c.norm_topk_prob, false);
  r.string("topk_method", c.topk_method, false);
  r.number("swiglu_limit", c.swiglu_limit);
  r.string("hidden_act", c.hidden_act, false);
  r.integer("hc_mult", c.hc_mult);
  r.integer("hc_sinkhorn_iters", c.hc_sinkhorn_iters);
  r.number("hc_eps", c.hc_eps, false);
  r.number("rms_norm_eps", c.rms_norm_eps, false);
  if (const json* v = r.get("quantization_config", true)) {
    if (!v->is_object()) {
      r.problems.push_back("'quantization_config' must be an object");
    } else {
      FieldReader q(*v, "quantization_config.");
      auto& qc = c.quantization;
      q.string("quant_method", qc.quant_method);
      q.string("fmt", qc.fmt, false);
      q.string("activation_scheme", qc.activation_scheme, false);
      qc.scale_fmt.clear();
      q.string("scale_fmt", qc.scale_fmt, false);
      if (const json* b = q.get("weight_block_size", true)) {
        if (b->is_array() && b->size() == 2 && (*b)[0].is_number_integer() &&
            (*b)[1].is_number_integer()) {
          qc.weight_block_rows = (*b)[0].get<int64_t>();
          qc.weight_block_cols = (*b)[1].get<int64_t>();
        } else {
          q.problems.push_back("'quantization_config.weight_block_size' must be [rows, cols]");
        }
      }
      q.unknown_keys();
      r.problems.insert(r.problems.end(), q.problems.begin(), q.problems.end());
    }
  }
  // Absent in Base checkpoints, whose experts are FP8 blocks like the dense linears.
  c.expert_dtype = "fp8";
  r.string("expert_dtype", c.expert_dtype, false);
  r.integer("bos_token_id", c.bos_token_id, false);
  r.integer("eos_token_id", c.eos_token_id, false);
  r.boolean("tie_word_embeddings", c.tie_word_embeddings, false);
  r.unknown_keys();

  if (!r.problems.empty())
    fail("{}: not a DeepSeek-V4 config this engine supports:{}", source, join_problems(r.problems));
  validate_config(c, source);
  return c;
}

ModelConfig parse_config_text(std::string_view text, std::string_view source) {
  json j;
  try {
    j = json::parse(text);
  } catch (const json::exception& e) {
    fail("{}: not valid JSON: {}", source, e.what());
  }
  return parse_config(j, source);
}

ModelConfig load_config(const std::string& model_dir) {
  const std::string path = (std::filesystem::path(model_dir) / "config.json").string();
  std::ifstream in(path, std::ios::binary);
  if (!in) fail("{}: cannot open (is {} a model directory?)", path, model_dir);
  std::ostringstream ss;
  ss << in.rdbuf();
  return parse_config_text(ss.str(), path);
}

void validate_config(const ModelConfig& c, std::string_view source) {
  std::vector<std::string> p;
  auto need = [&](bool ok, std::string msg) {
    if (!ok) p.push_back(std::move(msg));
  };
  auto positive = [&](int64_t v, const char* name) {
    need(v > 0, fmt::format("{} must be positive, got {}", name, v));
  };
  positive(c.hidden_size, "hidden_size");
  positive(c.num_hidden_layers, "num_hidden_layers");
  need(c.num_nextn_predict_layers >= 0 && c.num_nextn_predict_layers <= 8,
       fmt::format("num_nextn_predict_layers must be 0..8, got {}", c.num_nextn_predict_layers));
  need(c.vocab_size >= 2, fmt::format("vocab_size must be at least 2, got {}", c.vocab_size));
  positive(c.num_attention_heads, "num_attention_heads");
  need(c.num_key_value_heads == 1,
       fmt::format("num_key_value_heads must be 1 (one shared K=V head), got {}",
                   c.num_key_value_heads));
  positive(c.head_dim, "head_dim");
  positive(c.q_lora_rank, "q_lora_rank");
  positive(c.o_groups, "o_groups");
  positive(c.o_lora_rank, "o_lora_rank");
  positive(c.sliding_window, "sliding_window");
  positive(c.index_n_heads, "index_n_heads");
  positive(c.index_topk, "index_topk");
  positive(c.n_routed_experts, "n_routed_experts");
  positive(c.moe_intermediate_size, "moe_intermediate_size");
  positive(c.max_position_embeddings, "max_position_embeddings");

  const int64_t want_ratios = c.num_hidden_layers + c.num_nextn_predict_layers;
  need(static_cast<int64_t>(c.compress_ratios.size()) == want_ratios,
       fmt::format("compress_ratios has {} entries, expected num_hidden_layers + "
                   "num_nextn_predict_layers = {} (a different release structure?)",
                   c.compress_ratios.size(), want_ratios));
  for (size_t i = 0; i < c.compress_ratios.size(); ++i) {
    int r = c.compress_ratios[i];
    need(r == 0 || r == 4 || r == 128,
         fmt::format("compress_ratios[{}] is {}, expected 0, 4 or 128", i, r));
  }

  // Attention geometry: RoPE on the last qk_rope_head_dim dims (interleaved pairs), the rest
  // FP8-simulated in blocks of 64.
  need(c.qk_rope_head_dim > 0 && c.qk_rope_head_dim % 2 == 0 && c.qk_rope_head_dim < c.head_dim,
       fmt::format("qk_rope_head_dim must be even and smaller than head_dim, got {} / {}",
                   c.qk_rope_head_dim, c.head_dim));
  need(c.nope_head_dim() % 64 == 0,
       fmt::format("head_dim - qk_rope_head_dim = {} must be a multiple of 64 (the KV FP8 block)",
                   c.nope_head_dim()));
  need(c.o_groups > 0 && c.num_attention_heads % std::max<int64_t>(c.o_groups, 1) == 0,
       fmt::format("num_attention_heads {} must be a multiple of o_groups {}",
                   c.num_attention_heads, c.o_groups));
  // Indexer: Hadamard over a power-of-two head, RoPE on its last qk_rope_head_dim dims, FP4 in 32s.
  const int64_t ih = c.index_head_dim;
  need(ih >= 32 && (ih & (ih - 1)) == 0 && ih > c.qk_rope_head_dim,
       fmt::format("index_head_dim must be a power of two >= 32 and > qk_rope_head_dim, got {}",
                   ih));

  // Every FP8/FP4 linear quantises its input in blocks of 128 along K.
  auto k128 = [&](int64_t k, const char* what) {
    need(k % 128 == 0, fmt::format("{} = {} must be a multiple of 128 (FP8 block)", what, k));
  };
  k128(c.hidden_size, "hidden_size");
  k128(c.q_lora_rank, "q_lora_rank");
  k128(c.moe_intermediate_size, "moe_intermediate_size");
  k128(c.o_groups * c.o_lora_rank, "o_groups * o_lora_rank");
  if (c.o_groups > 0) k128(c.num_attention_heads * c.head_dim / c.o_groups, "wo_a group width");

  need(c.n_shared_experts == 1,
       fmt::format("n_shared_experts must be 1, got {}", c.n_shared_experts));
  need(c.num_experts_per_tok >= 1 && c.num_experts_per_tok <= c.n_routed_experts,
       fmt::format("num_experts_per_tok must be 1..n_routed_experts ({}), got {}",
                   c.n_routed_experts, c.num_experts_per_tok));
  need(c.num_hash_layers >= 0 && c.num_hash_layers <= c.num_hidden_layers,
       fmt::format("num_hash_layers must be 0..num_hidden_layers, got {}", c.num_hash_layers));
  need(c.scoring_func == "sqrtsoftplus",
       fmt::format("scoring_func '{}' is not supported (sqrtsoftplus)", c.scoring_func));
  need(c.topk_method == "noaux_tc",
       fmt::format("topk_method '{}' is not supported (noaux_tc)", c.topk_method));
  need(c.hidden_act == "silu",
       fmt::format("hidden_act '{}' is not supported (silu)", c.hidden_act));
  need(c.norm_topk_prob, "norm_topk_prob must be true");
  need(c.routed_scaling_factor > 0, "routed_scaling_factor must be positive");
  need(c.swiglu_limit > 0, "swiglu_limit must be positive");
  need(c.hc_mult >= 1 && c.hc_mult <= 16, fmt::format("hc_mult must be 1..16, got {}", c.hc_mult));
  need(c.hc_sinkhorn_iters >= 1,
       fmt::format("hc_sinkhorn_iters must be >= 1, got {}", c.hc_sinkhorn_iters));
  need(c.hc_eps > 0 && c.rms_norm_eps > 0, "hc_eps and rms_norm_eps must be positive");
  need(c.rope_theta > 1 && c.compress_rope_theta > 1, "rope bases must be > 1");
  need(c.rope_scaling.type == "yarn",
       fmt::format("rope_scaling.type '{}' is not supported (yarn)", c.rope_scaling.type));
  need(c.rope_scaling.factor >= 1, "rope_scaling.factor must be >= 1");
  need(c.rope_scaling.original_max_position_embeddings > 0,
       "rope_scaling.original_max_position_embeddings must be positive");
  need(c.rope_scaling.beta_fast > c.rope_scaling.beta_slow && c.rope_scaling.beta_slow > 0,
       "rope_scaling needs beta_fast > beta_slow > 0");
  const auto& q = c.quantization;
  need(q.quant_method == "fp8",
       fmt::format("quantization_config.quant_method '{}' is not supported (fp8)", q.quant_method));
  need(q.fmt == "e4m3", fmt::format("quantization_config.fmt '{}' is not supported (e4m3)", q.fmt));
  need(q.weight_block_rows == 128 && q.weight_block_cols == 128,
       "quantization_config.weight_block_size must be [128, 128]");
  need(q.scale_fmt.empty() || q.scale_fmt == "ue8m0",
       fmt::format("quantization_config.scale_fmt '{}' is not supported (ue8m0)", q.scale_fmt));
  need(c.expert_dtype == "fp4" || c.expert_dtype == "fp8",
       fmt::format("expert_dtype '{}' is not supported (fp4 or fp8)", c.expert_dtype));
  need(c.bos_token_id >= 0 && c.bos_token_id < c.vocab_size, "bos_token_id outside the vocabulary");
  need(c.eos_token_id >= 0 && c.eos_token_id < c.vocab_size, "eos_token_id outside the vocabulary");
  need(!c.tie_word_embeddings, "tie_word_embeddings must be false (separate embed and head)");
  if (!p.empty()) fail("{}: inconsistent DeepSeek-V4 config:{}", source, join_problems(p));
}

json config_to_json(const ModelConfig& c) {
  json q = {
      {"activation_scheme", c.quantization.activation_scheme},
      {"fmt", c.quantization.fmt},
      {"quant_method", c.quantization.quant_method},
      {"weight_block_size", {c.quantization.weight_block_rows, c.quantization.weight_block_cols}}};
  if (!c.quantization.scale_fmt.empty()) q["scale_fmt"] = c.quantization.scale_fmt;
  json j = {
      {"architectures", {"DeepseekV4ForCausalLM"}},
      {"model_type", "deepseek_v4"},
      {"attention_bias", false},
      {"bos_token_id", c.bos_token_id},
      {"eos_token_id", c.eos_token_id},
      {"hc_eps", c.hc_eps},
      {"hc_mult", c.hc_mult},
      {"hc_sinkhorn_iters", c.hc_sinkhorn_iters},
      {"hidden_act", c.hidden_act},
      {"max_position_embeddings", c.max_position_embeddings},
      {"norm_topk_prob", c.norm_topk_prob},
      {"num_key_value_heads", c.num_key_value_heads},
      {"rms_norm_eps", c.rms_norm_eps},
      {"rope_theta", c.rope_theta},
      {"compress_rope_theta", c.compress_rope_theta},
      {"scoring_func", c.scoring_func},
      {"topk_method", c.topk_method},
      {"tie_word_embeddings", c.tie_word_embeddings},
      {"torch_dtype", "bfloat16"},
      {"rope_scaling",
       {{"beta_fast", c.rope_scaling.beta_fast},
        {"beta_slow", c.rope_scaling.beta_slow},
        {"factor", c.rope_scaling.factor},
        {"original_max_position_embeddings", c.rope_scaling.original_max_position_embeddings},
        {"type", c.rope_scaling.type}}},
      {"quantization_config", q},
      {"vocab_size", c.vocab_size},
      {"hidden_size", c.hidden_size},
      {"moe_intermediate_size", c.moe_intermediate_size},
      {"num_hidden_layers", c.num_hidden_layers},
      {"num_hash_layers", c.num_hash_layers},
      {"num_nextn_predict_layers", c.num_nextn_predict_layers},
      {"num_attention_heads", c.num_attention_heads},
      {"n_routed_experts", c.n_routed_experts},
      {"n_shared_experts", c.n_shared_experts},
      {"num_experts_per_tok", c.num_experts_per_tok},
      {"routed_scaling_factor", c.routed_scaling_factor},
      {"swiglu_limit", c.swiglu_limit},
      {"q_lora_rank", c.q_lora_rank},
      {"head_dim", c.head_dim},
      {"qk_rope_head_dim", c.qk_rope_head_dim},
      {"o_groups", c.o_groups},
      {"o_lora_rank", c.o_lora_rank},
      {"sliding_window", c.sliding_window},
      {"compress_ratios", c.compress_ratios},
      {"index_n_heads", c.index_n_heads},
      {"index_head_dim", c.index_head_dim},
      {"index_topk", c.index_topk},
  };
  if (c.expert_dtype == "fp4") j["expert_dtype"] = "fp4";
  return j;
}

// ---- presets
// --------------------------------------------------------------------------------------

namespace {

ModelConfig released_common() {
  ModelConfig c;
  c.vocab_size = 129280;
  c.head_dim = 512;
  c.qk_rope_head_dim = 64;
  c.o_lora_rank = 1024;
  c.sliding_window = 128;
  c.num_nextn_predict_layers = 1;
  c.index_n_heads = 64;
  c.index_head_dim = 128;
  c.num_experts_per_tok = 6;
  c.num_hash_layers = 3;
  return c;
}

// Main layers 0 and 1 get `first_two`, then CSA on even and HCA on odd indices, the MTP block SWA.
std::vector<int> released_ratios(int64_t n_layers, int first_two) {
  std::vector<int> r;
  for (int64_t i = 0; i < n_layers; ++i) r.push_back(i < 2 ? first_two : (i % 2 == 0 ? 4 : 128));
  r.push_back(0);
  return r;
}

ModelConfig pro() {
  ModelConfig c = released_common();
  c.hidden_size = 7168;
  c.num_hidden_layers = 61;
  c.num_attention_heads = 128;
  c.q_lora_rank = 1536;
  c.o_groups = 16;
  c.index_topk = 1024;
  c.n_routed_experts = 384;
  c.moe_intermediate_size = 3072;
  c.routed_scaling_factor = 2.5;
  c.compress_ratios = released_ratios(61, 128);
  return c;
}

ModelConfig flash() {
  ModelConfig c = released_common();
  c.hidden_size = 4096;
  c.num_hidden_layers = 43;
  c.num_attention_heads = 64;
  c.q_lora_rank = 1024;
  c.o_groups = 8;
  c.index_topk = 512;
  c.n_routed_experts = 256;
  c.moe_intermediate_size = 2048;
  c.routed_scaling_factor = 1.5;
  c.compress_ratios = released_ratios(43, 0);
  return c;
}

// Small shapes shared by the synthetic test presets (like the dsv4-tiny conformance model, but
// with 16 indexer heads so index-score ties are rare).
ModelConfig small_common() {
  ModelConfig c;
  c.hidden_size = 256;
  c.num_attention_heads = 4;
  c.head_dim = 128;
  c.qk_rope_head_dim = 64;
  c.q_lora_rank = 128;
  c.o_groups = 2;
  c.o_lora_rank = 64;
  c.sliding_window = 16;
  c.index_n_heads = 16;
  c.index_head_dim = 128;
  c.index_topk = 8;
  c.n_routed_experts = 8;
  c.num_experts_per_tok = 3;
  c.moe_intermediate_size = 128;
  c.routed_scaling_factor = 2.5;
  return c;
}

struct Preset {
  const char* name;
  const char* description;
  ModelConfig (*make)();
};

const Preset kPresets[] = {
    {"pro", "DeepSeek-V4-Pro as released (1.6T parameters; 865 GB)", pro},
    {"flash", "DeepSeek-V4-Flash as released (284B parameters; 160 GB)", flash},
    {"ci", "CI-size model: vocab 1024, hidden 256, SWA/CSA/HCA/CSA + MTP, 2 hash layers (~8 MB)",
     [] {
       ModelConfig c = small_common();
       c.vocab_size = 1024;
       c.num_hidden_layers = 4;
       c.num_nextn_predict_layers = 1;
       c.num_hash_layers = 2;
       c.compress_ratios = {0, 4, 128, 4, 0};
       return c;
     }},
    {"text",
     "small model with the real 129,280-token vocabulary and window 128, for tokenizer and "
     "serving tests (~150 MB)",
     [] {
       ModelConfig c = small_common();
       c.vocab_size = 129280;
       c.sliding_window = 128;
       c.index_topk = 64;
       c.n_routed_experts = 16;
       c.num_experts_per_tok = 6;
       c.num_hidden_layers = 3;
       c.num_nextn_predict_layers = 1;
       c.num_hash_layers = 1;
       c.compress_ratios = {0, 4, 128, 0};
       return c;
     }},
    {"bench-flash-2l",
     "benchmark model with Flash's per-layer shapes, 2 layers (CSA, HCA) + MTP (~12.7 GB)",
     [] {
       ModelConfig c = flash();
       c.num_hidden_layers = 2;
       c.num_hash_layers = 1;
       c.compress_ratios = {4, 128, 0};
       return c;
     }},
    {"bench-flash-4l",
     "benchmark model with Flash's per-layer shapes, 4 layers (CSA, HCA, CSA, HCA), no MTP "
     "(~16 GB)",
     [] {
       ModelConfig c = flash();
       c.num_hidden_layers = 4;
       c.num_nextn_predict_layers = 0;
       c.num_hash_layers = 1;
       c.compress_ratios = {4, 128, 4, 128};
       return c;
     }},
};

}  // namespace

std::vector<std::string> preset_names() {
  std::vector<std::string> v;
  for (const auto& p : kPresets) v.push_back(p.name);
  return v;
}

std::string preset_description(std::string_view name) {
  for (const auto& p : kPresets)
    if (name == p.name) return p.description;
  return {};
}

ModelConfig preset_config(std::string_view name) {
  for (const auto& p : kPresets)
    if (name == p.name) {
      ModelConfig c = p.make();
      validate_config(c, std::string("preset ") + p.name);
      return c;
    }
  std::string all;
  for (const auto& p : kPresets) all += std::string(all.empty() ? "" : ", ") + p.name;
  fail("unknown preset '{}' (known: {})", name, all);
}

}  // namespace dsv4
