#include <fmt/core.h>

#include <algorithm>
#include <chrono>
#include <fstream>
#include <nlohmann/json.hpp>
#include <random>
#include <thread>

#include "bench/machine.h"
#include "cli/commands.h"
#include "engine/state.h"
#include "kernels/parallel.h"
#include "model/footprint.h"
#include "model/transformer.h"
#include "model/weights.h"
#include "util/error.h"

namespace dsv4::cli {

namespace {
using Clock = std::chrono::steady_clock;
// The process's peak resident set since the last reset_peak_rss(): VmHWM of /proc/self/status.
uint64_t peak_rss_bytes() {
  std::ifstream f("/proc/self/status");
  std::string line;
  while (std::getline(f, line))
    if (line.rfind("VmHWM:", 0) == 0) return std::stoull(line.substr(6)) * 1024;  // in kB
  return 0;
}
// Writing 5 to clear_refs resets VmHWM (Linux 4.0+): the bandwidth buffer, freed before the
// model loads, must not count as the model's memory.
void reset_peak_rss() {
  std::ofstream("/proc/self/clear_refs") << "5";
}
double since(Clock::time_point t) {
  return std::chrono::duration<double>(Clock::now() - t).count();
}
int32_t argmax(const std::vector<float>& v, size_t off, size_t n) {
  return static_cast<int32_t>(
      std::max_element(v.begin() + static_cast<long>(off), v.begin() + static_cast<long>(off + n)) -
      (v.begin() + static_cast<long>(off)));
}
}  // namespace

DSV4_COMMAND(bench, "bench", "Measure the machine and the model: bandwidth, prefill, decode", 45) {
  struct Opts {
    std::string model, act_quant = "fp8";
    int threads = 1, prompt = 512, gen = 16, batch = 8;
    double bw_gib = 2;
  };
  auto o = std::make_shared<Opts>();
  app.add_option("--model", o->model, "Model directory")->required();
  app.add_option("--threads", o->threads,
                 "Compute threads (and threads of the bandwidth and peak measurements)")
      ->check(CLI::Range(1, 1024));
  app.add_option("--prompt", o->prompt, "Prompt tokens to prefill")->check(CLI::Range(1, 1 << 20));
  app.add_option("--gen", o->gen, "Tokens to decode")->check(CLI::Range(1, 1 << 20));
  app.add_option("--batch", o->batch, "Sequences decoded together in the batch run")
      ->check(CLI::Range(1, 1024));
  app.add_option("--bw-gib", o->bw_gib, "GiB read by the bandwidth measurement")
      ->check(CLI::Range(0.01, 1024.0));
  app.add_option("--act-quant", o->act_quant)->check(CLI::IsMember({"fp8", "none"}));
  return [o] {
    // The machine first, in the same run: everything below is reported as a fraction of it.
    const size_t bw_bytes = static_cast<size_t>(o->bw_gib * (1ull << 30));
    const bench::ReadBandwidth rbw = bench::read_bandwidth(bw_bytes, o->threads, 3);
    const double bw = rbw.stream;
    const double bw1 = o->threads == 1 ? bw : bench::read_bandwidth(bw_bytes, 1, 3).stream;
    const bench::Peak peak = bench::peak_gflops(o->threads);
    set_compute_threads(o->threads);
    // A warm page cache, so that no timing below includes the disk.
    auto t_warm = Clock::now();
    const uint64_t warmed = bench::warm_page_cache(o->model);
    const double warm_s = since(t_warm);
    reset_peak_rss();
    auto t_load = Clock::now();
    auto model = load_model(o->model, false);
    const double load_s = since(t_load);
    // Every weight page mapped before anything is timed: a server that has run a while has
    // touched them all, and a first touch during prefill would time page faults, not kernels.
    auto t_map = Clock::now();
    model->checkpoint->populate();
    const double map_s = since(t_map);
    const ModelConfig& c = model->config;
    const Footprint fp = compute_footprint(c, model->checkpoint.get());
    const int k = static_cast<int>(c.hidden_size);
    const double mat = bench::dense_gflops(64, 1024, k, 2);
    Transformer tf(*model, {o->act_quant == "none" ? ActQuant::None : ActQuant::Fp8});
    const int64_t ctx = o->prompt + o->gen + 8;
    StatePool pool(c, ctx, std::max(1, o->batch));
    const size_t vocab = static_cast<size_t>(c.vocab_size);

    std::mt19937 rng(7);
    std::uniform_int_distribution<int32_t> tokd(0, static_cast<int32_t>(c.vocab_size) - 1);
    std::vector<int32_t> prompt(static_cast<size_t>(o->prompt));
    for (auto& t : prompt) t = tokd(rng);

    // Warm-up: fault the mapped weights in (and fill the caches) before anything is timed.
    {
      SequenceState* w = pool.acquire();
      const int64_t n = std::min<int64_t>(o->prompt, 32);
      Chunk wc{w, 0, std::span<const int32_t>(prompt.data(), static_cast<size_t>(n)), false, false};
      tf.forward({&wc, 1});
      pool.release(w);
    }
    // Prefill: the prompt in one call, twice (on fresh sequences), the faster one counted: a
    // shared host steals a core now and then, and one pass is seconds long. Decode continues the
    // second sequence.
    SequenceState* s = nullptr;
    std::vector<ChunkResult> r;
    double prefill_s = 0;
    for (int rep = 0; rep < 2; ++rep) {
      if (s) pool.release(s);
      s = pool.acquire();
      const auto tp = Clock::now();
      Chunk ch{s, 0, prompt, false, false};
      r = tf.forward({&ch, 1});
      const double t = since(tp);
      prefill_s = rep == 0 ? t : std::min(prefill_s, t);
    }
    // Decode at batch 1: greedy tokens, one forward call each.
    int32_t next = argmax(r[0].logits, 0, vocab);
    auto t0 = Clock::now();
    for (int i = 0; i < o->gen; ++i) {
      Chunk d{s, s->pos, {&next, 1}, false, false};
      auto rr = tf.forward({&d, 1});
      next = argmax(rr[0].logits, 0, vocab);
    }
    const double decode_s = since(t0);
    pool.release(s);

    // Decode at batch B: B sequences with short prompts, one call per step for all of them.
    const int B = o->batch;
    std::vector<SequenceState*> seqs;
    std::vector<int32_t> cur(static_cast<size_t>(B));
    for (int b = 0; b < B; ++b) {
      seqs.push_back(pool.acquire());
      std::vector<int32_t> p(8);
      for (auto& t : p) t = tokd(rng);
      Chunk pc{seqs.back(), 0, p, false, false};
      auto pr = tf.forward({&pc, 1});
      cur[static_cast<size_t>(b)] = argmax(pr[0].logits, 0, vocab);
    }
    t0 = Clock::now();
    for (int i = 0; i < o->gen; ++i) {
      std::vector<Chunk> cs;
      for (int b = 0; b < B; ++b)
        cs.push_back({seqs[static_cast<size_t>(b)],
                      seqs[static_cast<size_t>(b)]->pos,
                      {&cur[static_cast<size_t>(b)], 1},
                      false,
                      false});
      auto rr = tf.forward(cs);
      for (int b = 0; b < B; ++b)
        cur[static_cast<size_t>(b)] = argmax(rr[static_cast<size_t>(b)].logits, 0, vocab);
    }
    const double batch_s = since(t0);
    for (auto* q : seqs) pool.release(q);

    const double prefill_tok_s = o->prompt / prefill_s;
    const double decode_tok_s = o->gen / decode_s;
    const double batch_step_ratio = batch_s / decode_s;  // step time at batch B over batch 1
    // At batch 1 every token reads the dense weights and exactly top-k experts per layer, so the
    // footprint's count is the bytes this run's routing touched.
    const double bytes = static_cast<double>(fp.decode_bytes_per_token);
    const double decode_bw_fraction = decode_tok_s * bytes / (bw * 1e9);
    // Prefill work: 2 FLOPs per active parameter per token, except the output head, which runs
    // for the last position only (attention scores are not counted: small at these lengths).
    const double head = static_cast<double>(c.vocab_size) * static_cast<double>(c.hidden_size);
    const double prefill_flops =
        2.0 * (static_cast<double>(fp.active_params) - head) * o->prompt + 2.0 * head;
    const double prefill_gflops = prefill_flops / prefill_s / 1e9;
    const double prefill_flops_fraction = prefill_gflops / peak.fp32_fma;
    const double state_bytes = static_cast<double>(pool.bytes());
    const double rss = static_cast<double>(peak_rss_bytes());

    fmt::print(
        "machine   read bandwidth {:.1f} GB/s ({} thread{}; {:.1f} with software prefetch), one "
        "thread {:.1f} GB/s\n",
        bw, o->threads, o->threads == 1 ? "" : "s", rbw.prefetched, bw1);
    fmt::print("          fp32 FMA peak {:.1f} GFLOP/s; bf16 dot peak {}{}\n", peak.fp32_fma,
               peak.bf16_dot > 0 ? fmt::format("{:.1f} GFLOP/s", peak.bf16_dot) : "n/a",
               peak.amx_bf16 > 0
                   ? fmt::format("; AMX bf16 peak {:.1f} GFLOP/s (unused)", peak.amx_bf16)
                   : "");
    fmt::print(
        "          dense kernel {:.1f} GFLOP/s (linear_dense, m=64, k={}) = {:.1f}% of peak\n", mat,
        k, 100 * mat / peak.fp32_fma);
    fmt::print(
        "model     page cache warmed: {:.2f} GB read in {:.1f} s; pages mapped in {:.1f} s\n",
        warmed / 1e9, warm_s, map_s);
    fmt::print(
        "          loaded in {:.2f} s; peak RSS {:.2f} GB = {:.2f} GB weights + {:.3f} GB state\n",
        load_s, rss / 1e9, static_cast<double>(fp.weight_bytes) / 1e9, state_bytes / 1e9);
    fmt::print(
        "prefill   {} tokens: {:.1f} tok/s, {:.1f} GFLOP/s = {:.1f}% of the fp32 FMA peak{}\n",
        o->prompt, prefill_tok_s, prefill_gflops, 100 * prefill_flops_fraction,
        peak.bf16_dot > 0 ? fmt::format(" ({:.1f}% of bf16)", 100 * prefill_gflops / peak.bf16_dot)
                          : "");
    fmt::print(
        "decode    batch 1: {:.2f} tok/s x {:.1f} MB/token = {:.1f}% of the read bandwidth "
        "({:.1f}% "
        "of the prefetched)\n",
        decode_tok_s, bytes / 1e6, 100 * decode_bw_fraction,
        100 * decode_tok_s * bytes / (rbw.prefetched * 1e9));
    fmt::print("          batch {}: {:.2f} tok/s; a step costs {:.2f}x a batch-1 step\n", B,
               B * o->gen / batch_s, batch_step_ratio);
    nlohmann::json j = {
        {"prefill_tok_s", prefill_tok_s},
        {"decode_tok_s", decode_tok_s},
        {"decode_batch", B},
        {"decode_batch_tok_s", B * o->gen / batch_s},
        {"decode_batch_step_ratio", batch_step_ratio},
        {"decode_bytes_per_token", fp.decode_bytes_per_token},
        {"read_bw_gbs", bw},
        {"read_bw_gbs_one_thread", bw1},
        {"read_bw_prefetch_gbs", rbw.prefetched},
        {"decode_bw_fraction_prefetch", decode_tok_s * bytes / (rbw.prefetched * 1e9)},
        {"matrix_gflops", peak.fp32_fma},
        {"bf16_peak_gflops", peak.bf16_dot},
        {"dense_kernel_gflops", mat},
        {"prefill_gflops", prefill_gflops},
        {"load_s", load_s},
        {"peak_rss_bytes", rss},
        {"weight_bytes", fp.weight_bytes},
        {"state_bytes", state_bytes},
        {"decode_bw_fraction", decode_bw_fraction},
        {"prefill_flops_fraction", prefill_flops_fraction},
        {"prefill_bf16_fraction", peak.bf16_dot > 0 ? prefill_gflops / peak.bf16_dot : 0.0},
        {"threads", o->threads}};
    fmt::print("{}\n", j.dump());
    return 0;
  };
}

}  // namespace dsv4::cli
