// `dsv4 serve`: the OpenAI-compatible API over one model. The HTTP server comes up first and
// answers /health with 503 until the model is loaded; then one compute thread runs the Engine
// (continuous batching) while the I/O threads parse requests and stream responses. SIGTERM or
// SIGINT stops accepting, lets in-flight requests finish (up to shutdown_timeout_s, then cancels
// them; streams still end with [DONE]) and returns 0. docs/openai-api.md describes the API.
#pragma once

#include <cstdint>
#include <string>

#include "generate/generator.h"
#include "model/transformer.h"
#include "server/http_server.h"
#include "server/openai_request.h"

namespace dsv4::server {

struct ServeOptions {
  std::string model_dir;
  std::string tokenizer_dir;  // "" = the model directory
  HttpOptions http;
  ApiConfig api;          // model_id, limits; max_context and vocab_size are filled at load
  std::string api_key;    // "" = no authentication
  int64_t ctx = 4096;     // tokens per sequence (prompt + output)
  int max_sequences = 0;  // sequence slots; 0 = from state_budget_bytes
  uint64_t state_budget_bytes = 1ull << 30;  // for max_sequences = 0
  Engine::Options engine;
  ActQuant act_quant = ActQuant::Fp8;
  int shutdown_timeout_s = 30;
  bool quiet = false;  // no access log on stderr
};

// Runs until SIGTERM/SIGINT; returns the process exit code. Throws dsv4::Error when the address
// cannot be bound. A model that fails to load is reported and ends the process with 1.
int serve(const ServeOptions& opt);

}  // namespace dsv4::server
