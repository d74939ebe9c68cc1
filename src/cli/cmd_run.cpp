#include <fmt/core.h>
#include <unistd.h>

#include <csignal>
#include <cstdio>

#include "chat/request.h"
#include "cli/commands.h"
#include "cli/threads.h"
#include "generate/generator.h"
#include "util/error.h"

namespace dsv4::cli {

namespace {
std::atomic<bool> g_interrupted{false};
void on_sigint(int) {
  g_interrupted = true;
}
}  // namespace

DSV4_COMMAND(run, "run", "Generate an answer to one prompt, streamed to stdout", 30) {
  struct Opts {
    std::string model, prompt, think, encoder = "0731", act_quant = "fp8";
    bool no_reasoning = false, raw = false;
    int64_t ctx = 4096;
    SamplingParams s;
    uint64_t seed = 0;
    bool seed_set = false;
  };
  auto o = std::make_shared<Opts>();
  app.add_option("--model", o->model, "Model directory (with tokenizer.json)")->required();
  app.add_option("-p,--prompt", o->prompt, "The user message")->required();
  app.add_option("--think", o->think,
                 "Reasoning: none, low, high or max (default: the encoder's default, high)");
  app.add_option("--encoder", o->encoder, "Chat encoder generation: preview or 0731")
      ->check(CLI::IsMember({"preview", "0731", "0813"}));
  app.add_flag("--raw", o->raw, "Feed the prompt as plain text, without the chat template");
  app.add_option("--temperature", o->s.temperature, "0 = greedy")->check(CLI::Range(0.0, 2.0));
  app.add_option("--top-p", o->s.top_p)->check(CLI::Range(0.0, 1.0));
  app.add_option("--top-k", o->s.top_k)->check(CLI::Range(0, 1 << 20));
  app.add_option("--min-p", o->s.min_p)->check(CLI::Range(0.0, 1.0));
  app.add_option("--presence-penalty", o->s.presence_penalty)->check(CLI::Range(-2.0, 2.0));
  app.add_option("--frequency-penalty", o->s.frequency_penalty)->check(CLI::Range(-2.0, 2.0));
  app.add_option("--repetition-penalty", o->s.repetition_penalty);
  app.add_option("--max-tokens", o->s.max_tokens, "Most tokens to generate");
  app.add_option("--stop", o->s.stop, "Stop string (repeatable)");
  auto* seed = app.add_option("--seed", o->seed, "Sampling seed (reproducible output)");
  app.add_option("--ctx", o->ctx, "Context size (prompt + answer)")->check(CLI::Range(16, 1 << 20));
  app.add_option("--act-quant", o->act_quant)->check(CLI::IsMember({"fp8", "none"}));
  app.add_flag("--no-reasoning", o->no_reasoning, "Do not show the reasoning");
  auto threads = add_threads_option(app);
  return [o, seed, threads] {
    set_compute_threads(*threads);
    if (seed->count()) o->s.seed = o->seed;
    auto model = load_model(o->model, true);
    auto tok = Tokenizer::load(o->model);
    Transformer tf(*model, {o->act_quant == "none" ? ActQuant::None : ActQuant::Fp8});
    StatePool pool(model->config, o->ctx, 1);
    Generator gen(tf, *tok, pool);

    GenerateRequest req;
    req.sampling = o->s;
    if (o->raw) {
      req.prompt = tok->encode(o->prompt);
    } else {
      nlohmann::ordered_json body = {{"messages", {{{"role", "user"}, {"content", o->prompt}}}}};
      if (!o->think.empty()) body["reasoning_effort"] = o->think;
      chat::ChatDefaults defaults;
      defaults.generation = o->encoder == "preview" ? chat::EncoderGeneration::kPreview
                                                    : chat::EncoderGeneration::k0731;
      chat::ChatRequest cr = chat::normalise_chat_request(body, defaults);
      req.prompt = tok->encode(chat::render_prompt(cr));
      req.start_in_reasoning = cr.encoder.thinking;
    }
    // Reasoning goes to stderr (dimmed on a terminal), the answer alone to stdout.
    const bool tty = ::isatty(STDERR_FILENO) == 1;
    bool in_reasoning = false;
    auto on_deltas = [&](const std::vector<chat::Delta>& ds) {
      for (const auto& d : ds) {
        if (d.kind == chat::Delta::Kind::Reasoning) {
          if (o->no_reasoning) continue;
          if (!in_reasoning) fmt::print(stderr, "{}", tty ? "\x1b[2m" : "[reasoning] ");
          in_reasoning = true;
          fmt::print(stderr, "{}", d.text);
          std::fflush(stderr);
          continue;
        }
        if (in_reasoning) fmt::print(stderr, "{}\n", tty ? "\x1b[0m" : "");
        in_reasoning = false;
        if (d.kind == chat::Delta::Kind::Content) fmt::print("{}", d.text);
        if (d.kind == chat::Delta::Kind::ToolCallStart) fmt::print("\n[tool call {}] ", d.name);
        if (d.kind == chat::Delta::Kind::ToolCallArgs) fmt::print("{}", d.text);
        std::fflush(stdout);
      }
    };
    std::signal(SIGINT, on_sigint);
    GenerateResult r = gen.generate(req, on_deltas, &g_interrupted);
    std::signal(SIGINT, SIG_DFL);
    if (in_reasoning) fmt::print(stderr, "{}\n", tty ? "\x1b[0m" : "");
    fmt::print("\n");
    const GenerateStats& st = r.stats;
    fmt::print(stderr,
               "[{} prompt tokens at {:.1f} tok/s, {} generated ({} reasoning) at {:.1f} tok/s, "
               "first token after {:.2f} s, finish: {}]\n",
               st.prompt_tokens, st.prompt_tokens_per_second(), st.generated_tokens,
               st.reasoning_tokens, st.generated_tokens_per_second(), st.first_token_seconds,
               finish_reason_name(r.finish));
    for (const auto& issue : r.message.issues)
      fmt::print(stderr, "[parser: {}: {}]\n", chat::issue_name(issue.kind), issue.detail);
    return 0;
  };
}

}  // namespace dsv4::cli
