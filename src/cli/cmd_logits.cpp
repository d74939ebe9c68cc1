#include <fmt/core.h>

#include <sstream>

#include "cli/args.h"
#include "cli/commands.h"
#include "cli/threads.h"
#include "io/npy.h"
#include "model/transformer.h"
#include "util/error.h"

namespace dsv4::cli {

DSV4_COMMAND(logits, "logits",
             "Write the logits of every position of a token sequence to a .npy file", 60) {
  struct Opts {
    std::string model, tokens, out, act_quant = "fp8";
    int64_t prefill = 0, chunk = 0;
  };
  auto o = std::make_shared<Opts>();
  app.add_option("--model", o->model, "Checkpoint directory")->required();
  app.add_option("--tokens", o->tokens, "Comma-separated token ids")->required();
  app.add_option("--prefill", o->prefill,
                 "Tokens given to the first forward call (one prefill; logits of every position)")
      ->required()
      ->check(CLI::Range(int64_t{1}, int64_t{1} << 40));
  app.add_option("--out", o->out, "Output .npy: float32 [len(tokens), vocab]")->required();
  app.add_option("--act-quant", o->act_quant,
                 "FP8 quantisation of linear inputs: fp8 (the reference) or none")
      ->check(CLI::IsMember({"fp8", "none"}));
  app.add_option("--chunk", o->chunk, "After the prefill, feed N tokens per call (default 1)")
      ->check(CLI::Range(int64_t{1}, int64_t{1} << 40));
  auto threads = add_threads_option(app);
  return [o, threads] {
    set_compute_threads(*threads);
    const std::vector<int32_t> tokens = parse_id_list(o->tokens, "--tokens");
    const int64_t n = static_cast<int64_t>(tokens.size());
    if (o->prefill > n) fail("--prefill {} is more than the {} tokens given", o->prefill, n);
    auto model = load_model(o->model);
    const ModelConfig& c = model->config;
    Transformer tf(*model, {o->act_quant == "none" ? ActQuant::None : ActQuant::Fp8});
    StatePool pool(c, n, 1);
    fmt::print(stderr, "dsv4 logits: {} tokens, state {} bytes, act-quant {}\n", n, pool.bytes(),
               o->act_quant);
    SequenceState* st = pool.acquire();
    std::vector<float> out(static_cast<size_t>(n * c.vocab_size));
    const int64_t step = o->chunk > 0 ? o->chunk : 1;
    for (int64_t pos = 0; pos < n;) {
      const int64_t len = pos == 0 ? o->prefill : std::min(step, n - pos);
      Chunk ch{st, pos, std::span<const int32_t>(tokens.data() + pos, len), true, false};
      auto r = tf.forward(std::span<const Chunk>(&ch, 1));
      std::copy(r[0].logits.begin(), r[0].logits.end(), out.begin() + pos * c.vocab_size);
      pos += len;
    }
    write_npy(o->out, {n, c.vocab_size}, out.data());
    return 0;
  };
}

}  // namespace dsv4::cli
