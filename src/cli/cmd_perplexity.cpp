#include <fmt/core.h>

#include <cmath>
#include <fstream>
#include <sstream>

#include "cli/commands.h"
#include "cli/threads.h"
#include "model/transformer.h"
#include "tokenizer/tokenizer.h"
#include "util/error.h"

namespace dsv4::cli {

// Perplexity like llama-perplexity: the text is cut into windows of --ctx tokens; each window is
// one prefill, and the tokens of its second half are scored (the first half is context), so every
// scored token sees at least ctx/2 tokens of history.
DSV4_COMMAND(perplexity, "perplexity", "Perplexity of the model over a text file", 50) {
  struct Opts {
    std::string model, file, act_quant = "fp8";
    int64_t ctx = 512;
    int64_t max_windows = 0;
  };
  auto o = std::make_shared<Opts>();
  app.add_option("--model", o->model, "Model directory (with tokenizer.json)")->required();
  app.add_option("--file", o->file, "UTF-8 text file")->required();
  app.add_option("--ctx", o->ctx, "Window size in tokens")->check(CLI::Range(4, 1 << 20));
  app.add_option("--windows", o->max_windows, "Score at most this many windows (0 = all)");
  app.add_option("--act-quant", o->act_quant)->check(CLI::IsMember({"fp8", "none"}));
  auto threads = add_threads_option(app);
  return [o, threads] {
    set_compute_threads(*threads);
    std::ifstream in(o->file, std::ios::binary);
    if (!in) fail("{}: cannot read the file", o->file);
    std::stringstream ss;
    ss << in.rdbuf();
    auto model = load_model(o->model, true);
    auto tok = Tokenizer::load(o->model);
    std::vector<int32_t> ids;
    try {
      ids = tok->encode(ss.str());
    } catch (const Error& e) {
      fail("{}: {}", o->file, e.what());
    }
    const int64_t n = static_cast<int64_t>(ids.size()), ctx = o->ctx, V = model->config.vocab_size;
    if (n < ctx) fail("{}: {} tokens, fewer than one window of --ctx {}", o->file, n, ctx);
    Transformer tf(*model, {o->act_quant == "none" ? ActQuant::None : ActQuant::Fp8});
    StatePool pool(model->config, ctx, 1);
    double nll = 0;
    int64_t scored = 0, windows = n / ctx;
    if (o->max_windows > 0) windows = std::min(windows, o->max_windows);
    for (int64_t w = 0; w < windows; ++w) {
      SequenceState* st = pool.acquire();
      Chunk ch{st, 0, std::span<const int32_t>(ids.data() + w * ctx, ctx), true, false};
      auto r = tf.forward(std::span<const Chunk>(&ch, 1));
      pool.release(st);
      for (int64_t t = ctx / 2; t + 1 < ctx; ++t) {
        const float* row = &r[0].logits[t * V];
        double m = row[0];
        for (int64_t i = 1; i < V; ++i) m = std::max<double>(m, row[i]);
        double sum = 0;
        for (int64_t i = 0; i < V; ++i) sum += std::exp(row[i] - m);
        nll += (m + std::log(sum)) - row[ids[w * ctx + t + 1]];
        scored++;
      }
      fmt::print(stderr, "[{}/{}] ppl so far {:.4f}\n", w + 1, windows, std::exp(nll / scored));
    }
    fmt::print("perplexity {:.4f} over {} tokens ({} windows of {})\n", std::exp(nll / scored),
               scored, windows, ctx);
    return 0;
  };
}

}  // namespace dsv4::cli
