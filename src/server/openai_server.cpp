#include "server/openai_server.h"

#include <fmt/core.h>
#include <pthread.h>
#include <signal.h>

#include <atomic>
#include <chrono>
#include <filesystem>
#include <mutex>
#include <nlohmann/json.hpp>
#include <set>
#include <thread>

#include "engine/state.h"
#include "model/weights.h"
#include "server/metrics.h"
#include "server/openai_response.h"
#include "tokenizer/utf8.h"
#include "util/error.h"

namespace dsv4::server {

using nlohmann::json;
using Clock = std::chrono::steady_clock;

namespace {

double seconds_since(Clock::time_point t) {
  return std::chrono::duration<double>(Clock::now() - t).count();
}

// Equal-time comparison, so the key cannot be guessed byte by byte from response times.
bool same_key(std::string_view a, std::string_view b) {
  unsigned char diff = a.size() == b.size() ? 0 : 1;
  for (size_t i = 0; i < a.size(); ++i)
    diff |= static_cast<unsigned char>(a[i] ^ (i < b.size() ? b[i] : 0));
  return diff == 0;
}

std::string random_hex(size_t n) {
  static std::atomic<uint64_t> counter{0};
  thread_local uint64_t state = static_cast<uint64_t>(Clock::now().time_since_epoch().count()) ^
                                (reinterpret_cast<uintptr_t>(&state) << 16) ^
                                (counter.fetch_add(1) * 0x9E3779B97F4A7C15ull);
  std::string s;
  while (s.size() < n) {
    state += 0x9E3779B97F4A7C15ull;
    uint64_t z = state;
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    z ^= z >> 31;
    s += fmt::format("{:016x}", z);
  }
  return s.substr(0, n);
}

}  // namespace

class Service;

// One inference request, from submit() to its last choice.
struct Job {
  Service* svc = nullptr;
  std::shared_ptr<Responder> resp;
  ResponseContext ctx;
  std::string route;
  bool stream = false, include_usage = false, logprobs = false;
  int n = 1;
  std::string echo;  // completions with echo: the prompt text
  Clock::time_point submitted = Clock::now();
  std::atomic<uint64_t> engine_id{0};
  std::atomic<bool> gone{false};
  // compute thread only:
  bool started = false;
  int done = 0;
  std::vector<GenerateResult> results;
  std::vector<json> pending_lp;  // chat: logprob entries not yet sent; completions: unused
  std::vector<std::vector<int32_t>> pend_tok;  // completions streaming logprobs
  std::vector<std::vector<float>> pend_lp;
  std::vector<std::vector<std::vector<std::pair<int32_t, float>>>> pend_top;
  std::vector<size_t> text_sent;  // completions: bytes of text streamed per choice
  std::vector<Clock::time_point> last_token;
  std::vector<bool> any_token;
};

class Service {
 public:
  explicit Service(const ServeOptions& opt) : opt_(opt), api_(opt.api) {
    metrics_.set_loading(true);
  }

  void load() {
    const auto t0 = Clock::now();
    model_ = load_model(opt_.model_dir, !opt_.quiet);
    tok_ = Tokenizer::load(opt_.tokenizer_dir.empty() ? opt_.model_dir : opt_.tokenizer_dir);
    tf_ = std::make_unique<Transformer>(*model_, ForwardOptions{opt_.act_quant});
    const ModelConfig& c = model_->config;
    const uint64_t per_seq = StatePool::bytes_per_sequence(c, opt_.ctx);
    int slots = opt_.max_sequences;
    if (slots <= 0)
      slots = static_cast<int>(
          std::clamp<uint64_t>(opt_.state_budget_bytes / std::max<uint64_t>(per_seq, 1), 1, 256));
    pool_ = std::make_unique<StatePool>(c, opt_.ctx, slots);
    engine_ = std::make_unique<Engine>(*tf_, *tok_, *pool_, opt_.engine);
    api_.max_context = opt_.ctx;
    api_.vocab_size = static_cast<int32_t>(c.vocab_size);
    api_.max_n = std::min(api_.max_n, slots);
    slots_ = slots;
    bytes_per_slot_ = per_seq;
    metrics_.set_state_pool(0, slots, per_seq);
    metrics_.set_loading(false);
    ready_ = true;
    if (!opt_.quiet)
      fmt::print(stderr,
                 "dsv4 serve: model '{}' ready in {:.1f} s: context {} tokens, {} sequence slots "
                 "({:.1f} MiB of state each)\n",
                 api_.model_id, seconds_since(t0), opt_.ctx, slots,
                 static_cast<double>(per_seq) / (1 << 20));
  }

  void compute_loop() {
    while (!stop_compute_) {
      bool more = false;
      try {
        more = engine_->step();
      } catch (const std::exception& e) {
        fmt::print(stderr, "dsv4 serve: engine step failed: {}\n", e.what());
      }
      metrics_.set_state_pool(slots_ - pool_->free_slots(), slots_, bytes_per_slot_);
      if (!more) engine_->wait_for_work(200);
    }
  }
  void stop_compute() {
    stop_compute_ = true;
    if (engine_) engine_->notify();
  }

  void handle(const HttpRequest& req, std::shared_ptr<Responder> resp);

  // Shutdown.
  void set_draining() { draining_ = true; }
  int in_flight() const { return in_flight_.load(); }
  void cancel_all() {
    std::lock_guard<std::mutex> lock(live_mu_);
    for (uint64_t id : live_) engine_->cancel(id);
  }
  int free_slots() const { return pool_ ? pool_->free_slots() : 0; }
  int slots() const { return slots_; }

  // Job callbacks (compute thread).
  void on_start(Job& j, double queue_s);
  void on_token(Job& j, int k, const TokenEvent& ev);
  void on_deltas(Job& j, int k, const std::vector<chat::Delta>& ds);
  void on_done(const std::shared_ptr<Job>& j, int k, GenerateResult r);

 private:
  void reply_json(const std::shared_ptr<Responder>& resp, const std::string& route, int status,
                  const json& body, Headers headers = {});
  void reply_error(const std::shared_ptr<Responder>& resp, const std::string& route,
                   const ApiError& e);
  void log(const std::string& method, const std::string& path, int status) const;

  void models(const std::string& route, const HttpRequest& req,
              const std::shared_ptr<Responder>& resp);
  void inference(const HttpRequest& req, const std::shared_ptr<Responder>& resp, bool chat);
  void render(const HttpRequest& req, const std::shared_ptr<Responder>& resp);
  void tokenize(const HttpRequest& req, const std::shared_ptr<Responder>& resp);
  void detokenize(const HttpRequest& req, const std::shared_ptr<Responder>& resp);
  void check_model_field(const json& body) const;

  ServeOptions opt_;
  ApiConfig api_;
  Metrics metrics_;
  std::unique_ptr<Model> model_;
  std::unique_ptr<Tokenizer> tok_;
  std::unique_ptr<Transformer> tf_;
  std::unique_ptr<StatePool> pool_;
  std::unique_ptr<Engine> engine_;
  int slots_ = 0;
  uint64_t bytes_per_slot_ = 0;
  int64_t created_ = std::chrono::duration_cast<std::chrono::seconds>(
                         std::chrono::system_clock::now().time_since_epoch())
                         .count();
  std::atomic<bool> ready_{false}, draining_{false}, stop_compute_{false};
  std::atomic<int> in_flight_{0};
  std::mutex live_mu_;
  std::set<uint64_t> live_;
};

void Service::log(const std::string& method, const std::string& path, int status) const {
  if (!opt_.quiet) fmt::print(stderr, "dsv4 serve: {} {} {}\n", method, path, status);
}

void Service::reply_json(const std::shared_ptr<Responder>& resp, const std::string& route,
                         int status, const json& body, Headers headers) {
  metrics_.http_request(route, status);
  resp->reply(status, "application/json", dump(body), std::move(headers));
}

void Service::reply_error(const std::shared_ptr<Responder>& resp, const std::string& route,
                          const ApiError& e) {
  metrics_.request_rejected(e.status);
  Headers h;
  if (e.retry_after_s > 0) h.emplace_back("Retry-After", std::to_string(e.retry_after_s));
  if (e.status == 401) h.emplace_back("WWW-Authenticate", "Bearer");
  reply_json(resp, route, e.status, error_body(e), std::move(h));
}

void Service::handle(const HttpRequest& req, std::shared_ptr<Responder> resp) {
  const std::string& path = req.path;
  // Known routes and their methods; the route label of the metrics is the canonical path.
  struct Route {
    const char* method;
    std::vector<std::string> paths;  // canonical first
  };
  static const std::vector<Route> table = {
      {"GET", {"/health", "/v1/health"}},
      {"GET", {"/metrics"}},
      {"GET", {"/v1/models", "/models"}},
      {"POST", {"/v1/chat/completions", "/chat/completions"}},
      {"POST", {"/v1/completions", "/completions"}},
      {"POST", {"/v1/chat/completions/render"}},
      {"POST", {"/tokenize", "/v1/tokenize"}},
      {"POST", {"/detokenize", "/v1/detokenize"}},
  };
  std::string route;
  std::string method_needed;
  for (const Route& r : table)
    for (const std::string& p : r.paths)
      if (path == p) {
        route = r.paths.front();
        method_needed = r.method;
      }
  const bool model_path = path.rfind("/v1/models/", 0) == 0;
  if (model_path) {
    route = "/v1/models";
    method_needed = "GET";
  }
  try {
    if (route.empty())
      throw ApiError(404, fmt::format("no route {} {}", req.method, path), "invalid_request_error",
                     {}, "not_found");
    if (req.method != method_needed)
      throw ApiError(405, fmt::format("{} takes {}, not {}", route, method_needed, req.method),
                     "invalid_request_error", {}, "method_not_allowed");
    if (route == "/health") {
      // No key needed: load balancers and orchestrators probe it.
      const int status = draining_ ? 503 : ready_ ? 200 : 503;
      reply_json(resp, route, status,
                 {{"status", draining_ ? "shutting_down"
                             : ready_  ? "ok"
                                       : "loading"}},
                 status == 503 ? Headers{{"Retry-After", "5"}} : Headers{});
      return log(req.method, path, status);
    }
    if (!opt_.api_key.empty()) {
      const std::string auth = req.header("authorization");
      const std::string_view prefix = "Bearer ";
      if (auth.size() <= prefix.size() || auth.compare(0, prefix.size(), prefix) != 0 ||
          !same_key(std::string_view(auth).substr(prefix.size()), opt_.api_key))
        throw ApiError(401,
                       auth.empty() ? "missing API key: send 'Authorization: Bearer <key>'"
                                    : "invalid API key",
                       "authentication_error", {}, "invalid_api_key");
    }
    if (route == "/metrics") {
      metrics_.http_request(route, 200);
      resp->reply(200, "text/plain; version=0.0.4; charset=utf-8", metrics_.render());
      return;
    }
    if (draining_) {
      ApiError e(503, "the server is shutting down", "server_error", {}, "shutting_down");
      e.retry_after_s = 5;
      throw e;
    }
    if (!ready_) {
      ApiError e(503, "the model is still loading", "server_error", {}, "model_loading");
      e.retry_after_s = 5;
      throw e;
    }
    if (route == "/v1/models") return models(route, req, resp);
    if (route == "/v1/chat/completions") return inference(req, resp, true);
    if (route == "/v1/completions") return inference(req, resp, false);
    if (route == "/v1/chat/completions/render") return render(req, resp);
    if (route == "/tokenize") return tokenize(req, resp);
    if (route == "/detokenize") return detokenize(req, resp);
  } catch (const ApiError& e) {
    reply_error(resp, route.empty() ? "other" : route, e);
    log(req.method, path, e.status);
  } catch (const Error& e) {
    const ApiError a = from_error(e);
    reply_error(resp, route, a);
    log(req.method, path, a.status);
  }
}

void Service::models(const std::string& route, const HttpRequest& req,
                     const std::shared_ptr<Responder>& resp) {
  auto card = [&](const std::string& id) {
    return json{
        {"id", id},           {"object", "model"},      {"created", created_},
        {"owned_by", "dsv4"}, {"root", opt_.model_dir}, {"max_model_len", api_.max_context}};
  };
  if (req.path.rfind("/v1/models/", 0) == 0) {
    const std::string id = req.path.substr(std::string("/v1/models/").size());
    bool known = id == api_.model_id;
    for (const auto& a : api_.model_aliases) known = known || id == a;
    if (!known)
      throw ApiError(
          404,
          fmt::format("the model '{}' does not exist; this server serves '{}'", id, api_.model_id),
          "invalid_request_error", "model", "model_not_found");
    reply_json(resp, route, 200, card(id));
    return log(req.method, req.path, 200);
  }
  reply_json(resp, route, 200, {{"object", "list"}, {"data", json::array({card(api_.model_id)})}});
  log(req.method, req.path, 200);
}

void Service::check_model_field(const json& body) const {
  if (!body.contains("model") || body["model"].is_null()) return;
  if (!body["model"].is_string()) throw bad_request("model: expected a string", "model");
  const std::string m = body["model"].get<std::string>();
  bool known = m == api_.model_id;
  for (const auto& a : api_.model_aliases) known = known || m == a;
  if (!known)
    throw bad_request(
        fmt::format("model: unknown model '{}'; this server serves '{}'", m, api_.model_id),
        "model", "model_not_found");
}

namespace {
json parse_body(const std::string& body) {
  json j = json::parse(body, nullptr, false);
  if (j.is_discarded() || !j.is_object())
    throw bad_request("request body: expected a JSON object", {}, "invalid_json");
  return j;
}
}  // namespace

void Service::render(const HttpRequest& req, const std::shared_ptr<Responder>& resp) {
  ParsedRequest p = parse_render_request(req.body, *tok_, api_);
  reply_json(resp, "/v1/chat/completions/render", 200,
             {{"prompt", p.prompt_text},
              {"prompt_token_ids", p.gen.prompt},
              {"num_tokens", p.gen.prompt.size()},
              {"max_model_len", api_.max_context},
              {"reasoning_mode", p.mode.name()}},
             {{"X-Reasoning-Mode", p.mode.name()}});
  log(req.method, req.path, 200);
}

void Service::tokenize(const HttpRequest& req, const std::shared_ptr<Responder>& resp) {
  std::vector<int32_t> ids;
  const json body = parse_body(req.body);
  check_model_field(body);
  if (body.contains("messages")) {
    ParsedRequest p = parse_render_request(req.body, *tok_, api_);
    ids = p.gen.prompt;
  } else {
    if (!body.contains("prompt") || !body["prompt"].is_string())
      throw bad_request("prompt: expected a string (or send messages)", "prompt");
    const std::string text = body["prompt"].get<std::string>();
    try {
      ids = tok_->encode(text);
    } catch (const Error& e) {
      throw bad_request(fmt::format("prompt: {}", e.what()), "prompt");
    }
    bool add_special = true;
    if (body.contains("add_special_tokens")) {
      if (!body["add_special_tokens"].is_boolean())
        throw bad_request("add_special_tokens: expected true or false", "add_special_tokens");
      add_special = body["add_special_tokens"].get<bool>();
    }
    if (add_special && tok_->add_bos() && tok_->bos_id()) ids.insert(ids.begin(), *tok_->bos_id());
  }
  reply_json(resp, "/tokenize", 200,
             {{"tokens", ids}, {"count", ids.size()}, {"max_model_len", api_.max_context}});
  log(req.method, req.path, 200);
}

void Service::detokenize(const HttpRequest& req, const std::shared_ptr<Responder>& resp) {
  const json body = parse_body(req.body);
  check_model_field(body);
  if (!body.contains("tokens") || !body["tokens"].is_array())
    throw bad_request("tokens: expected an array of token ids", "tokens");
  std::vector<int32_t> ids;
  for (const auto& t : body["tokens"]) {
    if (!t.is_number_integer() || t.get<int64_t>() < 0 || t.get<int64_t>() >= api_.vocab_size)
      throw bad_request(
          fmt::format("tokens: {} is not a token id in [0, {})", dump(t), api_.vocab_size),
          "tokens");
    ids.push_back(static_cast<int32_t>(t.get<int64_t>()));
  }
  reply_json(resp, "/detokenize", 200, {{"prompt", utf8::replace_invalid(tok_->decode(ids))}});
  log(req.method, req.path, 200);
}

void Service::inference(const HttpRequest& req, const std::shared_ptr<Responder>& resp, bool chat) {
  const std::string route = chat ? "/v1/chat/completions" : "/v1/completions";
  ParsedRequest p = chat ? parse_chat_request(req.body, *tok_, api_)
                         : parse_completion_request(req.body, *tok_, api_);
  // tool_choice required / named: once the reasoning is over, the output is made to open the
  // tool-call block (and, named, the call), in the exact form the encoder renders past calls.
  if (chat && !p.gen.tools.empty()) {
    if (p.tool_choice.kind == chat::ToolChoiceKind::kRequired)
      p.gen.forced_after_reasoning = "\n\n<｜DSML｜tool_calls>\n";
    else if (p.tool_choice.kind == chat::ToolChoiceKind::kNamed)
      p.gen.forced_after_reasoning =
          "\n\n<｜DSML｜tool_calls>\n<｜DSML｜invoke name=\"" + p.tool_choice.name + "\">\n";
  }
  // Unseeded requests get their own stream (and their own tool-call ids); seeded ones reproduce.
  if (!p.gen.sampling.seed) p.gen.sequence_salt = std::stoull(random_hex(16), nullptr, 16);
  auto job = std::make_shared<Job>();
  job->svc = this;
  job->resp = resp;
  job->route = route;
  job->ctx.id = (chat ? "chatcmpl-" : "cmpl-") + random_hex(24);
  job->ctx.created = std::chrono::duration_cast<std::chrono::seconds>(
                         std::chrono::system_clock::now().time_since_epoch())
                         .count();
  job->ctx.model = p.model;
  job->ctx.mode = p.mode.name();
  job->ctx.chat = chat;
  job->ctx.thinking = chat && p.mode.thinking;
  job->ctx.tok = tok_.get();
  job->stream = p.stream;
  job->include_usage = p.include_usage;
  job->logprobs = p.gen.sampling.logprobs;
  job->n = p.gen.n;
  if (!chat && p.echo) job->echo = p.prompt_text;
  const size_t n = static_cast<size_t>(p.gen.n);
  job->results.resize(n);
  job->pending_lp.assign(n, json::array());
  job->pend_tok.resize(n);
  job->pend_lp.resize(n);
  job->pend_top.resize(n);
  job->text_sent.assign(n, job->echo.size());
  job->last_token.resize(n);
  job->any_token.assign(n, false);

  Headers headers = {{"X-Request-Id", job->ctx.id}};
  if (chat) headers.emplace_back("X-Reasoning-Mode", job->ctx.mode);

  // A client that goes away cancels its request at once (its state returns to the pool).
  std::weak_ptr<Job> weak = job;
  resp->on_disconnect([weak, this] {
    if (auto j = weak.lock()) {
      j->gone = true;
      if (const uint64_t id = j->engine_id.load()) engine_->cancel(id);
    }
  });

  Engine::Callbacks cb;
  cb.on_start = [job](double q) { job->svc->on_start(*job, q); };
  cb.on_token = [job](int k, const TokenEvent& ev) { job->svc->on_token(*job, k, ev); };
  cb.on_deltas = [job](int k, const std::vector<chat::Delta>& d) {
    job->svc->on_deltas(*job, k, d);
  };
  cb.on_done = [job](int k, GenerateResult r) { job->svc->on_done(job, k, std::move(r)); };

  if (p.stream) resp->start_stream(200, "text/event-stream", headers);
  // Streams open with the role of every choice (and the echoed prompt), as OpenAI's do.
  if (p.stream) {
    json choices = json::array();
    for (size_t k = 0; k < n; ++k) {
      if (chat)
        choices.push_back({{"index", k},
                           {"delta", {{"role", "assistant"}, {"content", ""}}},
                           {"logprobs", nullptr},
                           {"finish_reason", nullptr}});
      else if (!job->echo.empty())
        choices.push_back(
            {{"index", k}, {"text", job->echo}, {"logprobs", nullptr}, {"finish_reason", nullptr}});
    }
    if (!choices.empty()) resp->send(sse(chunk(job->ctx, std::move(choices))));
  }
  uint64_t id = 0;
  in_flight_++;
  try {
    metrics_.request_queued();
    id = engine_->submit(std::move(p.gen), std::move(cb));
  } catch (const QueueFull& e) {
    in_flight_--;
    metrics_.request_dequeued_without_start();
    ApiError a(429, std::string(e.what()) + "; retry later", "rate_limit_error", {}, "queue_full");
    a.retry_after_s = 1;
    if (p.stream) {  // headers are out: the error goes in the stream
      metrics_.request_rejected(429);
      resp->send(sse(error_body(a)));
      resp->send("data: [DONE]\n\n");
      resp->end();
      return log(req.method, req.path, 429);
    }
    throw a;
  } catch (const Error& e) {
    in_flight_--;
    metrics_.request_dequeued_without_start();
    const ApiError a = from_error(e);
    if (p.stream) {
      metrics_.request_rejected(a.status);
      resp->send(sse(error_body(a)));
      resp->send("data: [DONE]\n\n");
      resp->end();
      return log(req.method, req.path, a.status);
    }
    throw a;
  }
  {
    std::lock_guard<std::mutex> lock(live_mu_);
    live_.insert(id);
  }
  job->engine_id = id;
  if (job->gone) engine_->cancel(id);  // disconnected before the id was known
  if (p.stream) metrics_.http_request(route, 200);
  log(req.method, req.path, 200);
}

void Service::on_start(Job& j, double queue_s) {
  j.started = true;
  metrics_.request_started(queue_s);
}

void Service::on_token(Job& j, int k, const TokenEvent& ev) {
  const size_t i = static_cast<size_t>(k);
  const auto now = Clock::now();
  if (!j.any_token[i]) {
    if (k == 0) metrics_.observe_ttft(std::chrono::duration<double>(now - j.submitted).count());
  } else {
    metrics_.observe_inter_token(std::chrono::duration<double>(now - j.last_token[i]).count());
  }
  j.any_token[i] = true;
  j.last_token[i] = now;
  if (!j.stream || !j.logprobs) return;
  static const std::vector<std::pair<int32_t, float>> none;
  const auto& top = ev.top ? *ev.top : none;
  if (j.ctx.chat) {
    j.pending_lp[i].push_back(chat_logprob(*tok_, ev.token, ev.logprob, top));
  } else {
    j.pend_tok[i].push_back(ev.token);
    j.pend_lp[i].push_back(ev.logprob);
    j.pend_top[i].push_back(top);
  }
}

namespace {

// Logprobs waiting for the next chunk of choice i (null when there are none).
json take_logprobs(Job& j, size_t i, const Tokenizer& tok) {
  if (!j.logprobs) return nullptr;
  if (j.ctx.chat) {
    if (j.pending_lp[i].empty()) return nullptr;
    json lp = {{"content", std::move(j.pending_lp[i])}};
    j.pending_lp[i] = json::array();
    return lp;
  }
  if (j.pend_tok[i].empty()) return nullptr;
  json lp = completion_logprobs(tok, j.pend_tok[i], j.pend_lp[i], j.pend_top[i], j.text_sent[i]);
  j.pend_tok[i].clear();
  j.pend_lp[i].clear();
  j.pend_top[i].clear();
  return lp;
}

}  // namespace

void Service::on_deltas(Job& j, int k, const std::vector<chat::Delta>& ds) {
  if (!j.stream || j.gone) return;
  const size_t i = static_cast<size_t>(k);
  // Consecutive reasoning or content pieces of one step go out as one chunk.
  std::vector<chat::Delta> merged;
  for (const auto& d : ds) {
    const bool text =
        d.kind == chat::Delta::Kind::Reasoning || d.kind == chat::Delta::Kind::Content;
    if (text && !merged.empty() && merged.back().kind == d.kind)
      merged.back().text += d.text;
    else
      merged.push_back(d);
  }
  for (const auto& d : merged) {
    json choice;
    if (j.ctx.chat) {
      choice = {{"index", k}, {"delta", chat_delta(d)}};
    } else {
      choice = {{"index", k}, {"text", d.text}};
    }
    choice["logprobs"] = take_logprobs(j, i, *tok_);
    choice["finish_reason"] = nullptr;
    if (!j.ctx.chat) j.text_sent[i] += d.text.size();
    j.resp->send(sse(chunk(j.ctx, json::array({std::move(choice)}))));
  }
}

void Service::on_done(const std::shared_ptr<Job>& jp, int k, GenerateResult r) {
  Job& j = *jp;
  const size_t i = static_cast<size_t>(k);
  if (j.stream && !j.gone) {
    json choice = {{"index", k}};
    if (j.ctx.chat)
      choice["delta"] = json::object();
    else
      choice["text"] = "";
    choice["logprobs"] = take_logprobs(j, i, *tok_);
    choice["finish_reason"] = finish_reason_name(r.finish);
    j.resp->send(sse(chunk(j.ctx, json::array({std::move(choice)}))));
  }
  j.results[i] = std::move(r);
  if (++j.done < j.n) return;

  // The last choice: the request is over.
  const GenerateResult& r0 = j.results[0];
  int64_t gen = 0, reasoning = 0;
  for (const auto& x : j.results) {
    gen += x.stats.generated_tokens;
    reasoning += x.stats.reasoning_tokens;
  }
  if (!j.started) metrics_.request_dequeued_without_start();
  metrics_.request_finished(j.started ? finish_reason_name(r0.finish) : "cancelled",
                            r0.stats.prompt_tokens, gen, reasoning, seconds_since(j.submitted));
  if (!j.gone) {
    if (j.stream) {
      if (j.include_usage) {
        json c = chunk(j.ctx, json::array());
        c["usage"] = usage_json(j.results);
        j.resp->send(sse(c));
      }
      j.resp->send("data: [DONE]\n\n");
      j.resp->end();
    } else {
      json body = j.ctx.chat ? chat_response(j.ctx, j.results, j.logprobs)
                             : completion_response(j.ctx, j.results, j.logprobs, j.echo);
      Headers h = {{"X-Request-Id", j.ctx.id}};
      if (j.ctx.chat) h.emplace_back("X-Reasoning-Mode", j.ctx.mode);
      reply_json(j.resp, j.route, 200, body, std::move(h));
    }
  }
  {
    std::lock_guard<std::mutex> lock(live_mu_);
    live_.erase(j.engine_id.load());
  }
  in_flight_--;
}

int serve(const ServeOptions& opt) {
  // SIGINT/SIGTERM are taken by sigwait() below; every thread started from here inherits the mask.
  sigset_t sigs;
  sigemptyset(&sigs);
  sigaddset(&sigs, SIGINT);
  sigaddset(&sigs, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &sigs, nullptr);

  auto owned = std::make_unique<Service>(opt);
  Service& svc = *owned;
  HttpServer http(opt.http, [&svc](const HttpRequest& r, std::shared_ptr<Responder> resp) {
    svc.handle(r, std::move(resp));
  });
  fmt::print(stderr, "dsv4 serve: listening on http://{}:{}\n", opt.http.host, http.port());
  std::thread io([&] { http.run(); });
  int code = 0;
  std::thread compute;
  try {
    svc.load();
    compute = std::thread([&] { svc.compute_loop(); });
  } catch (const std::exception& e) {
    fmt::print(stderr, "dsv4: error: {}\n", e.what());
    code = 1;
  }
  if (code == 0) {
    int sig = 0;
    sigwait(&sigs, &sig);
    fmt::print(stderr, "dsv4 serve: {} received: draining {} request(s)\n",
               sig == SIGTERM ? "SIGTERM" : "SIGINT", svc.in_flight());
    svc.set_draining();
    http.stop_accepting();
    const auto deadline = Clock::now() + std::chrono::seconds(opt.shutdown_timeout_s);
    while (svc.in_flight() > 0 && Clock::now() < deadline)
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    if (svc.in_flight() > 0) {
      fmt::print(stderr, "dsv4 serve: cancelling {} request(s) after {} s\n", svc.in_flight(),
                 opt.shutdown_timeout_s);
      svc.cancel_all();
      while (svc.in_flight() > 0) std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    // Let the last bytes ([DONE]) reach the clients.
    const auto flush_deadline = Clock::now() + std::chrono::seconds(5);
    while (http.open_connections() > 0 && Clock::now() < flush_deadline)
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  svc.stop_compute();
  if (compute.joinable()) compute.join();
  http.stop();
  io.join();
  // The engine (and any request it still holds, with its connection) goes before the transport.
  owned.reset();
  if (code == 0) fmt::print(stderr, "dsv4 serve: stopped\n");
  return code;
}

}  // namespace dsv4::server
