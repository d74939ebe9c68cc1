#include "model/inspect.h"

#include <fmt/format.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include "io/checkpoint.h"
#include "model/footprint.h"

namespace dsv4 {

namespace fs = std::filesystem;
using ojson = nlohmann::ordered_json;

namespace {

// Compact run-length description of the layer kinds: "SWA x2, CSA, HCA, ...".
std::string layer_pattern(const ModelConfig& c) {
  std::string s;
  for (int64_t l = 0; l < c.num_hidden_layers;) {
    int64_t j = l;
    while (j < c.num_hidden_layers && c.layer_kind(j) == c.layer_kind(l)) ++j;
    if (!s.empty()) s += " ";
    s += fmt::format("{}", layer_kind_name(c.layer_kind(l)));
    if (j - l > 1) s += fmt::format("x{}", j - l);
    l = j;
  }
  return s;
}

void check_tokenizer(const std::string& dir, ojson& warnings, ojson& report) {
  const fs::path p = fs::path(dir) / "tokenizer.json";
  std::error_code ec;
  if (!fs::exists(p, ec)) {
    report["tokenizer"] = nullptr;
    warnings.push_back("no tokenizer.json: text generation and serving need DeepSeek's tokenizer");
    return;
  }
  std::ifstream in(p, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  nlohmann::json tok;
  try {
    tok = nlohmann::json::parse(ss.str());
  } catch (const nlohmann::json::exception& e) {
    warnings.push_back(fmt::format("{}: not valid JSON ({})", p.string(), e.what()));
    return;
  }
  int64_t max_id = -1;
  std::vector<std::string> specials;
  if (tok.contains("added_tokens") && tok["added_tokens"].is_array())
    for (const auto& t : tok["added_tokens"]) {
      if (!t.is_object() || !t.contains("content") || !t["content"].is_string()) continue;
      specials.push_back(t["content"].get<std::string>());
      if (t.contains("id") && t["id"].is_number_integer())
        max_id = std::max<int64_t>(max_id, t["id"].get<int64_t>());
    }
  int64_t vocab = 0;
  if (tok.contains("model") && tok["model"].contains("vocab") && tok["model"]["vocab"].is_object())
    vocab = static_cast<int64_t>(tok["model"]["vocab"].size());
  report["tokenizer"] = {{"file", p.string()},
                         {"bpe_vocab", vocab},
                         {"added_tokens", specials.size()},
                         {"max_token_id", std::max(max_id, vocab - 1)}};
  // The V4 chat format needs these as single tokens; the V3 tokenizer has none of them.
  std::vector<std::string> missing;
  for (const char* m : {"<think>", "</think>", "｜DSML｜"}) {
    bool found = false;
    for (const auto& s : specials) found |= s.find(m) != std::string::npos;
    if (!found) missing.push_back(m);
  }
  if (!missing.empty())
    warnings.push_back(fmt::format(
        "tokenizer lacks the DeepSeek-V4 markers {} (a V3 tokenizer?): they are encoded as "
        "ordinary text, not as the single tokens the model was trained on",
        fmt::join(missing, " ")));
}

}  // namespace

ojson inspect_model(const ModelConfig& c, const Checkpoint* ck, const std::string& dir) {
  ojson r;
  ojson warnings = ojson::array();
  int csa = 0, hca = 0, swa = 0;
  ojson layers = ojson::array();
  for (int64_t l = 0; l < c.n_layers_total(); ++l) {
    LayerKind k = c.layer_kind(l);
    if (!c.is_mtp(l)) (k == LayerKind::CSA ? csa : k == LayerKind::HCA ? hca : swa)++;
    layers.push_back({{"layer", l},
                      {"kind", layer_kind_name(k)},
                      {"ratio", c.compress_ratio(l)},
                      {"hash", c.is_hash_layer(l) && !c.is_mtp(l)},
                      {"mtp", c.is_mtp(l)}});
  }
  r["config"] = {
      {"hidden_size", c.hidden_size},
      {"layers", c.num_hidden_layers},
      {"mtp_layers", c.num_nextn_predict_layers},
      {"vocab_size", c.vocab_size},
      {"heads", c.num_attention_heads},
      {"head_dim", c.head_dim},
      {"rope_dims", c.qk_rope_head_dim},
      {"q_lora_rank", c.q_lora_rank},
      {"o_groups", c.o_groups},
      {"o_lora_rank", c.o_lora_rank},
      {"window", c.sliding_window},
      {"index_heads", c.index_n_heads},
      {"index_head_dim", c.index_head_dim},
      {"index_topk", c.index_topk},
      {"experts", c.n_routed_experts},
      {"experts_per_token", c.num_experts_per_tok},
      {"expert_dim", c.moe_intermediate_size},
      {"expert_dtype", c.expert_dtype},
      {"hash_layers", c.num_hash_layers},
      {"route_scale", c.routed_scaling_factor},
      {"max_position_embeddings", c.max_position_embeddings},
  };
  r["layer_kinds"] = {{"csa", csa}, {"hca", hca}, {"swa", swa}, {"pattern", layer_pattern(c)}};
  r["layers"] = layers;

  const Footprint f = compute_footprint(c, ck);
  ojson dt = ojson::object();
  for (size_t i = 0; i < f.by_dtype.size(); ++i)
    if (f.by_dtype[i].count)
      dt[std::string(dtype_name(static_cast<DType>(i)))] = {{"tensors", f.by_dtype[i].count},
                                                            {"bytes", f.by_dtype[i].bytes}};
  r["tensors"] = {{"count", f.tensors}, {"bytes", f.weight_bytes}, {"by_dtype", dt}};
  r["memory"] = {{"weights_bytes", f.weight_bytes},
                 {"decode_bytes_per_token", f.decode_bytes_per_token},
                 {"active_params", f.active_params}};
  const StateSize st = compute_state_size(c);
  ojson state = {{"fixed_bytes", st.fixed_bytes}};
  for (auto [label, n] : {std::pair{"4K", 4096ull}, {"128K", 131072ull}, {"1M", 1048576ull}})
    state[std::string("bytes_at_") + label] = st.bytes_at(n);
  r["state_per_sequence"] = state;

  if (ck) {
    r["checkpoint"] = {{"dir", ck->dir()}, {"shards", ck->shards().size()}};
    bool f32_scales = f.by_dtype[static_cast<size_t>(DType::F32)].count > 0 &&
                      ck->find("layers.0.attn.wq_a.scale") &&
                      ck->find("layers.0.attn.wq_a.scale")->dtype() == DType::F32;
    if (f32_scales) warnings.push_back("block scales are stored as F32 (a Base checkpoint)");
  }
  if (!c.experts_fp4())
    warnings.push_back("routed experts are FP8 blocks (expert_dtype fp8: a Base checkpoint)");
  if (c.sliding_window != 128)
    warnings.push_back(
        fmt::format("sliding_window is {}, the released models use 128", c.sliding_window));
  if (c.hc_mult != 4)
    warnings.push_back(fmt::format("hc_mult is {}, the released models use 4", c.hc_mult));
  if (!dir.empty()) check_tokenizer(dir, warnings, r);
  r["warnings"] = warnings;
  return r;
}

namespace {
std::string bytes_str(uint64_t b) {
  const double v = static_cast<double>(b);
  if (v >= 1e9) return fmt::format("{:.2f} GB", v / 1e9);
  if (v >= 1e6) return fmt::format("{:.2f} MB", v / 1e6);
  if (v >= 1e3) return fmt::format("{:.1f} KB", v / 1e3);
  return fmt::format("{} B", b);
}
template <typename... A>
void add_line(std::string& s, fmt::format_string<A...> f, A&&... a) {
  s += fmt::format(f, std::forward<A>(a)...);
  s += '\n';
}
std::string gib_str(uint64_t b) {
  const double v = static_cast<double>(b);
  if (v >= 1024.0 * 1024 * 1024) return fmt::format("{:.2f} GiB", v / (1024.0 * 1024 * 1024));
  if (v >= 1024.0 * 1024) return fmt::format("{:.2f} MiB", v / (1024.0 * 1024));
  return fmt::format("{:.1f} KiB", v / 1024.0);
}
std::string count_str(uint64_t n) {
  const double v = static_cast<double>(n);
  if (v >= 1e9) return fmt::format("{:.2f} B", v / 1e9);
  if (v >= 1e6) return fmt::format("{:.2f} M", v / 1e6);
  return fmt::format("{}", n);
}
}  // namespace

std::string format_inspect(const ojson& r) {
  std::string s;
  const auto& c = r["config"];
  if (r.contains("checkpoint"))
    add_line(s, "model       {} ({} shard{})", r["checkpoint"]["dir"].get<std::string>(),
             r["checkpoint"]["shards"].get<int>(),
             r["checkpoint"]["shards"].get<int>() == 1 ? "" : "s");
  add_line(s, "shape       hidden {}, {} layers + {} MTP, vocab {}",
           c["hidden_size"].get<int64_t>(), c["layers"].get<int64_t>(),
           c["mtp_layers"].get<int64_t>(), c["vocab_size"].get<int64_t>());
  add_line(s, "attention   {} heads x {} (rope {}), q_lora {}, o {} groups x {}, window {}",
           c["heads"].get<int64_t>(), c["head_dim"].get<int64_t>(), c["rope_dims"].get<int64_t>(),
           c["q_lora_rank"].get<int64_t>(), c["o_groups"].get<int64_t>(),
           c["o_lora_rank"].get<int64_t>(), c["window"].get<int64_t>());
  add_line(s, "indexer     {} heads x {}, top-{}", c["index_heads"].get<int64_t>(),
           c["index_head_dim"].get<int64_t>(), c["index_topk"].get<int64_t>());
  add_line(s, "moe         {} experts ({}) x {}, top-{} x {}, {} hash layer{}",
           c["experts"].get<int64_t>(), c["expert_dtype"].get<std::string>(),
           c["expert_dim"].get<int64_t>(), c["experts_per_token"].get<int64_t>(),
           c["route_scale"].get<double>(), c["hash_layers"].get<int64_t>(),
           c["hash_layers"].get<int64_t>() == 1 ? "" : "s");
  const auto& k = r["layer_kinds"];
  add_line(s, "layers      {} CSA, {} HCA, {} SWA: {}", k["csa"].get<int>(), k["hca"].get<int>(),
           k["swa"].get<int>(), k["pattern"].get<std::string>());
  for (const auto& l : r["layers"])
    if (l["mtp"].get<bool>())
      add_line(s, "            MTP block {}: {}", l["layer"].get<int64_t>(),
               l["kind"].get<std::string>());
  const auto& t = r["tensors"];
  add_line(s, "tensors     {} tensors, {}", t["count"].get<uint64_t>(),
           bytes_str(t["bytes"].get<uint64_t>()));
  for (auto it = t["by_dtype"].begin(); it != t["by_dtype"].end(); ++it)
    add_line(s, "  {:9} {:>8} tensors {:>12}", it.key(), it.value()["tensors"].get<uint64_t>(),
             bytes_str(it.value()["bytes"].get<uint64_t>()));
  const auto& m = r["memory"];
  add_line(s, "memory      weights {} (mapped, not copied)",
           bytes_str(m["weights_bytes"].get<uint64_t>()));
  add_line(s, "decode      {} of weights read per token at batch 1 ({} active parameters)",
           bytes_str(m["decode_bytes_per_token"].get<uint64_t>()),
           count_str(m["active_params"].get<uint64_t>()));
  const auto& st = r["state_per_sequence"];
  add_line(s, "state       per sequence: {} fixed; {} at 4K, {} at 128K, {} at 1M tokens",
           gib_str(st["fixed_bytes"].get<uint64_t>()), gib_str(st["bytes_at_4K"].get<uint64_t>()),
           gib_str(st["bytes_at_128K"].get<uint64_t>()),
           gib_str(st["bytes_at_1M"].get<uint64_t>()));
  if (r.contains("tokenizer") && !r["tokenizer"].is_null())
    add_line(s, "tokenizer   {} ({} BPE tokens + {} added)",
             r["tokenizer"]["file"].get<std::string>(), r["tokenizer"]["bpe_vocab"].get<int64_t>(),
             r["tokenizer"]["added_tokens"].get<size_t>());
  for (const auto& w : r["warnings"]) add_line(s, "warning     {}", w.get<std::string>());
  return s;
}

}  // namespace dsv4
