#include <fmt/core.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "chat/effort.h"
#include "cli/commands.h"
#include "cli/threads.h"
#include "server/openai_server.h"
#include "util/error.h"

namespace dsv4::cli {

namespace {

std::string read_key_file(const std::string& path) {
  std::ifstream f(path);
  if (!f) fail("--api-key-file {}: cannot read it", path);
  std::stringstream ss;
  ss << f.rdbuf();
  std::string key = ss.str();
  while (!key.empty() && (key.back() == '\n' || key.back() == '\r' || key.back() == ' '))
    key.pop_back();
  if (key.empty()) fail("--api-key-file {}: the file is empty", path);
  return key;
}

}  // namespace

DSV4_COMMAND(serve, "serve", "Serve the OpenAI-compatible HTTP API (chat, completions, tools)", 5) {
  struct Opts {
    server::ServeOptions s;
    std::string api_key_file, encoder = "0731", act_quant = "fp8", effort = "high";
    std::string thinking = "on";
    double state_gib = 1.0;
    int port = 8000;
    std::vector<std::string> aliases;
    bool no_drop_thinking = false;
  };
  auto o = std::make_shared<Opts>();
  auto& s = o->s;
  app.add_option("--model", s.model_dir, "Model directory (Hugging Face layout, tokenizer.json)")
      ->required();
  app.add_option("--tokenizer", s.tokenizer_dir, "Tokenizer directory (default: the model's)");
  app.add_option("--host", s.http.host, "Address to listen on (default 127.0.0.1: this machine)");
  app.add_option("--port", o->port, "Port (0 = any free port)")->check(CLI::Range(0, 65535));
  app.add_option("--api-key", s.api_key,
                 "Require 'Authorization: Bearer KEY' on every route but /health "
                 "(also: --api-key-file, env DSV4_API_KEY)");
  app.add_option("--api-key-file", o->api_key_file, "Read the API key from this file");
  app.add_option("--served-model-name", s.api.model_id,
                 "The model name clients send (default: the directory's name)");
  app.add_option("--alias", o->aliases, "Another accepted model name (repeatable)");
  app.add_option("--ctx", s.ctx, "Tokens per sequence: prompt + output")
      ->check(CLI::Range(16, 1 << 20));
  app.add_option("--max-sequences", s.max_sequences,
                 "Sequences generated at once (default: as many as --state-memory holds)")
      ->check(CLI::Range(1, 4096));
  app.add_option("--state-memory", o->state_gib, "GiB of sequence state when no --max-sequences")
      ->check(CLI::Range(0.001, 65536.0));
  app.add_option("--max-queue", s.engine.max_queue, "Requests waiting for a slot; more get 429")
      ->check(CLI::Range(1, 1 << 20));
  app.add_option("--prefill-chunk", s.engine.prefill_chunk, "Prompt tokens per sequence per step")
      ->check(CLI::Range(1, 1 << 20));
  app.add_option("--prefill-budget", s.engine.prefill_budget, "Prompt tokens per step in all")
      ->check(CLI::Range(1, 1 << 24));
  app.add_option("--max-n", s.api.max_n, "Most choices (n) per request")->check(CLI::Range(1, 128));
  app.add_option("--max-messages", s.api.max_messages, "Most messages per request");
  app.add_option("--max-tools", s.api.max_tools, "Most tools per request");
  app.add_option("--max-body", s.http.max_body_bytes, "Largest request body in bytes");
  app.add_option("--io-threads", s.http.io_threads, "HTTP I/O threads")->check(CLI::Range(1, 64));
  app.add_option("--max-connections", s.http.max_connections, "Open connections; more get 503");
  app.add_option("--read-timeout", s.http.read_timeout_s, "Seconds a request may take to arrive");
  app.add_option("--write-timeout", s.http.write_timeout_s,
                 "Seconds one write may wait for a slow client before it is dropped");
  app.add_option("--shutdown-timeout", s.shutdown_timeout_s,
                 "Seconds SIGTERM waits for in-flight requests before cancelling them");
  app.add_option("--thinking", o->thinking, "Default when a request says nothing: on or off")
      ->check(CLI::IsMember({"on", "off"}));
  app.add_option("--effort", o->effort, "Default reasoning effort: low, high or max");
  app.add_flag("--keep-thinking", o->no_drop_thinking,
               "Default drop_thinking=false: keep the reasoning of earlier turns in the prompt");
  app.add_option("--encoder", o->encoder, "Chat encoder generation: preview or 0731")
      ->check(CLI::IsMember({"preview", "0731", "0813"}));
  app.add_option("--act-quant", o->act_quant)->check(CLI::IsMember({"fp8", "none"}));
  app.add_flag("--quiet", s.quiet, "No request log on stderr");
  auto threads = add_threads_option(app);
  return [o, threads] {
    set_compute_threads(*threads);
    auto& so = o->s;
    so.http.port = static_cast<uint16_t>(o->port);
    if (!o->api_key_file.empty()) so.api_key = read_key_file(o->api_key_file);
    if (so.api_key.empty())
      if (const char* env = std::getenv("DSV4_API_KEY")) so.api_key = env;
    if (so.api.model_id == "deepseek-v4" || so.api.model_id.empty()) {
      std::filesystem::path p(so.model_dir);
      std::string name = p.filename().string();
      if (name.empty()) name = p.parent_path().filename().string();
      if (!name.empty()) so.api.model_id = name;
    }
    so.api.model_aliases = o->aliases;
    so.api.defaults.generation = chat::parse_encoder_generation(o->encoder);
    so.api.defaults.thinking = o->thinking == "on";
    so.api.defaults.effort = o->effort;
    so.api.defaults.drop_thinking = !o->no_drop_thinking;
    if (!chat::map_effort(o->effort, true, so.api.defaults.generation))
      fail("--effort: unknown effort '{}' (expected one of {})", o->effort,
           chat::effort_spellings());
    so.state_budget_bytes = static_cast<uint64_t>(o->state_gib * (1ull << 30));
    so.act_quant = o->act_quant == "none" ? ActQuant::None : ActQuant::Fp8;
    if (!std::filesystem::is_directory(so.model_dir))
      fail("--model {}: not a directory", so.model_dir);
    return server::serve(so);
  };
}

}  // namespace dsv4::cli
