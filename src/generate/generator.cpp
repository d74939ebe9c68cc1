#include "generate/generator.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <condition_variable>
#include <deque>
#include <limits>
#include <memory>
#include <mutex>
#include <set>

#include "generate/reasoning_budget.h"
#include "generate/stop.h"
#include "tokenizer/stream_decoder.h"
#include "util/error.h"

namespace dsv4 {

using Clock = std::chrono::steady_clock;

std::string_view finish_reason_name(FinishReason r) {
  switch (r) {
    case FinishReason::Stop:
      return "stop";
    case FinishReason::Length:
      return "length";
    case FinishReason::ToolCalls:
      return "tool_calls";
    case FinishReason::Cancelled:
      return "cancelled";
  }
  return "?";
}

double GenerateStats::prompt_tokens_per_second() const {
  return prefill_seconds > 0 ? static_cast<double>(prompt_tokens) / prefill_seconds : 0;
}
double GenerateStats::generated_tokens_per_second() const {
  return decode_seconds > 0 ? static_cast<double>(generated_tokens) / decode_seconds : 0;
}

namespace {

// log-softmax of `logits` at `token`.
float forced_logprob(const std::vector<float>& logits, int32_t token) {
  if (token < 0 || static_cast<size_t>(token) >= logits.size())
    return std::numeric_limits<float>::quiet_NaN();
  float mx = -std::numeric_limits<float>::infinity();
  for (float x : logits) mx = std::max(mx, x);
  double sum = 0;
  for (float x : logits) sum += std::exp(static_cast<double>(x - mx));
  return static_cast<float>(logits[static_cast<size_t>(token)] - mx - std::log(sum));
}

// One choice being generated.
struct Seq {
  uint64_t id;  // request id
  int choice;
  std::shared_ptr<const GenerateRequest> req;
  SequenceState* state = nullptr;
  int64_t prefilled = 0;        // prompt tokens through the model (choice 0 only)
  bool decoding = false;        // prefill done, logits hold the last position's
  Seq* leader = nullptr;        // choice 0 of the same request, for choices > 0
  std::vector<Seq*> followers;  // choices > 0 waiting for the leader's prefill
  std::vector<float> logits;
  std::unique_ptr<Sampler> sampler;
  std::unique_ptr<StreamDecoder> detok;
  std::unique_ptr<StopMatcher> stops;
  std::unique_ptr<chat::OutputParser> parser;
  chat::ParsedMessage raw;  // raw_output: the text as generated
  std::unique_ptr<ReasoningBudget> budget;
  std::deque<int32_t> forced;  // fed instead of sampling (closing an exhausted reasoning budget)
  bool budget_closed = false, eos_hit = false, done = false;
  bool prefix_forced = false;  // forced_after_reasoning is in
  int64_t max_new = 0;
  Clock::time_point start;
  GenerateResult out;
  std::shared_ptr<const Engine::Callbacks> cb;
};

struct Pending {
  uint64_t id;
  std::shared_ptr<const GenerateRequest> req;
  std::shared_ptr<const Engine::Callbacks> cb;
  Clock::time_point submitted;
};

}  // namespace

struct Engine::Impl {
  Transformer& tf;
  const Tokenizer& tok;
  StatePool& pool;
  Options opt;
  std::vector<int32_t> eos;
  mutable std::mutex mu;  // guards queue, cancelled, next_id, wake
  std::condition_variable cv;
  bool wake = false;
  std::deque<Pending> queue;
  std::set<uint64_t> cancelled;
  uint64_t next_id = 1;
  std::vector<std::unique_ptr<Seq>> running;  // compute thread only

  Impl(Transformer& t, const Tokenizer& k, StatePool& p, Options o)
      : tf(t), tok(k), pool(p), opt(o) {
    const ModelConfig& c = tf.config();
    if (tok.eos_id()) eos.push_back(*tok.eos_id());
    if (std::find(eos.begin(), eos.end(), c.eos_token_id) == eos.end())
      eos.push_back(static_cast<int32_t>(c.eos_token_id));
  }

  void emit(Seq& q, const std::vector<chat::Delta>& d) {
    if (!d.empty() && q.cb->on_deltas) q.cb->on_deltas(q.choice, d);
  }

  void admit() {
    std::lock_guard<std::mutex> lock(mu);
    while (!queue.empty()) {
      Pending& p = queue.front();
      if (cancelled.count(p.id)) {  // cancelled while queued: report and drop
        for (int k = 0; k < p.req->n; ++k) {
          GenerateResult r;
          r.finish = FinishReason::Cancelled;
          r.stats.queue_seconds = std::chrono::duration<double>(Clock::now() - p.submitted).count();
          if (p.cb->on_done) p.cb->on_done(k, std::move(r));
        }
        cancelled.erase(p.id);
        queue.pop_front();
        continue;
      }
      if (pool.free_slots() < p.req->n) return;  // admission by the state-memory budget
      const GenerateRequest& r = *p.req;
      const double queued_for = std::chrono::duration<double>(Clock::now() - p.submitted).count();
      if (p.cb->on_start) p.cb->on_start(queued_for);
      Seq* leader = nullptr;
      for (int k = 0; k < r.n; ++k) {
        auto q = std::make_unique<Seq>();
        q->id = p.id;
        q->choice = k;
        q->req = p.req;
        q->state = pool.acquire();
        q->sampler = std::make_unique<Sampler>(r.sampling, eos, r.sequence_salt + k);
        q->detok = std::make_unique<StreamDecoder>(tok);
        q->stops = std::make_unique<StopMatcher>(r.sampling.stop);
        q->parser = std::make_unique<chat::OutputParser>(
            chat::ParserOptions{r.start_in_reasoning, r.tools, r.sequence_salt + k});
        q->budget = std::make_unique<ReasoningBudget>(r.reasoning_budget);
        const int64_t room = pool.max_context() - static_cast<int64_t>(r.prompt.size());
        q->max_new =
            r.sampling.max_tokens >= 0 ? std::min<int64_t>(r.sampling.max_tokens, room) : room;
        q->out.stats.prompt_tokens = static_cast<int64_t>(r.prompt.size());
        q->out.finish = FinishReason::Length;
        q->out.stats.queue_seconds = queued_for;
        q->start = p.submitted;
        q->cb = p.cb;
        if (k == 0) {
          leader = q.get();
        } else {
          q->leader = leader;
          leader->followers.push_back(q.get());
        }
        running.push_back(std::move(q));
      }
      queue.pop_front();
    }
  }

  // Text out of the stop matcher: through the output parser, or verbatim for raw_output.
  void feed(Seq& q, const std::string& text) {
    if (!q.req->raw_output) {
      emit(q, q.parser->push(text));
      return;
    }
    if (text.empty()) return;
    q.raw.content += text;
    q.raw.raw += text;
    emit(q, {chat::Delta{chat::Delta::Kind::Content, -1, text, {}, {}}});
  }

  void finish(Seq& q, FinishReason why) {
    q.done = true;
    q.out.finish = why;
  }

  // Samples (or takes a forced token), feeds it through detokenizer, stop matcher and parser.
  // Returns the token to feed to the model, or -1 when the sequence is done.
  int32_t next_token(Seq& q) {
    const GenerateRequest& r = *q.req;
    int32_t token;
    float logprob = 0;
    std::vector<std::pair<int32_t, float>> top;
    if (!q.prefix_forced && !r.forced_after_reasoning.empty() && q.forced.empty() &&
        !(r.start_in_reasoning && !q.parser->result().reasoning_closed)) {
      q.prefix_forced = true;
      for (int32_t t : tok.encode(r.forced_after_reasoning)) {
        if (t >= tf.config().vocab_size)
          fail("the tokenizer's id {} of the forced tool-call opener is outside the model", t);
        q.forced.push_back(t);
      }
    }
    if (!q.forced.empty()) {
      token = q.forced.front();
      q.forced.pop_front();
      // A forced token was not sampled: report its log-probability under the model anyway.
      if (r.sampling.logprobs) logprob = forced_logprob(q.logits, token);
    } else {
      Sampler::Choice ch = q.sampler->sample(q.logits, r.prompt, q.out.tokens);
      token = ch.token;
      logprob = ch.logprob;
      top = std::move(ch.top);
      const bool is_eos = std::find(eos.begin(), eos.end(), token) != eos.end();
      const bool is_stop_id =
          std::find(r.sampling.stop_token_ids.begin(), r.sampling.stop_token_ids.end(), token) !=
          r.sampling.stop_token_ids.end();
      // The sampler itself masks EOS (ignore_eos, min_tokens) and stop ids (min_tokens).
      if (is_eos || is_stop_id) {
        q.eos_hit = is_eos;
        finish(q, FinishReason::Stop);
        return -1;
      }
    }
    GenerateResult& out = q.out;
    if (out.tokens.empty())
      out.stats.first_token_seconds = std::chrono::duration<double>(Clock::now() - q.start).count();
    out.tokens.push_back(token);
    if (r.sampling.logprobs) out.logprobs.push_back(logprob);
    if (r.sampling.top_logprobs > 0) out.top_logprobs.push_back(top);
    out.stats.generated_tokens++;
    if (q.cb->on_token) q.cb->on_token(q.choice, TokenEvent{token, logprob, &top});
    const bool in_reasoning = r.start_in_reasoning && !q.parser->result().reasoning_closed;
    if (in_reasoning && !q.budget_closed) {
      out.stats.reasoning_tokens++;
      q.budget->add();
    }
    StopMatcher::Out s = q.stops->push(q.detok->push(token));
    feed(q, s.emit);
    if (s.stopped) {
      finish(q, FinishReason::Stop);
      return -1;
    }
    // An exhausted reasoning budget: the model is made to close its reasoning itself.
    if (in_reasoning && q.budget->exhausted() && !q.budget_closed &&
        !q.parser->result().reasoning_closed) {
      q.budget_closed = true;
      for (int32_t t : tok.encode("</think>")) {
        if (t >= tf.config().vocab_size)
          fail("the tokenizer's </think> (id {}) is outside the model", t);
        q.forced.push_back(t);
      }
    }
    if (static_cast<int64_t>(out.tokens.size()) >= q.max_new) {
      finish(q, FinishReason::Length);
      return -1;
    }
    return token;
  }

  void complete(Seq& q) {
    if (!q.stops->stopped()) feed(q, q.stops->push(q.detok->flush()).emit);
    if (!q.stops->stopped()) feed(q, q.stops->flush());
    if (q.req->raw_output) {
      q.out.message = std::move(q.raw);
      q.out.message.eos_seen = q.eos_hit;
    } else {
      emit(q, q.parser->finish(q.eos_hit));
      q.out.message = q.parser->result();
    }
    if (q.out.finish == FinishReason::Stop && !q.out.message.tool_calls.empty())
      q.out.finish = FinishReason::ToolCalls;
    q.out.stats.decode_seconds =
        std::chrono::duration<double>(Clock::now() - q.start).count() - q.out.stats.prefill_seconds;
    pool.release(q.state);
    q.state = nullptr;
    if (q.cb->on_done) q.cb->on_done(q.choice, std::move(q.out));
  }

  bool step() {
    admit();
    {
      std::lock_guard<std::mutex> lock(mu);
      for (auto& q : running)
        if (!q->done && cancelled.count(q->id)) finish(*q, FinishReason::Cancelled);
    }
    std::vector<Chunk> chunks;
    std::vector<Seq*> who;
    std::vector<int32_t> fed;  // one token per decoding sequence (stable storage for the spans)
    fed.reserve(running.size());
    int64_t budget = opt.prefill_budget;
    for (auto& qp : running) {
      Seq& q = *qp;
      if (q.done) continue;
      if (!q.decoding) {
        if (q.leader) continue;  // waits for its leader's prefill
        const auto& p = q.req->prompt;
        const int64_t left = static_cast<int64_t>(p.size()) - q.prefilled;
        const int64_t len = std::min({opt.prefill_chunk, left, std::max<int64_t>(budget, 0)});
        if (len <= 0) continue;
        budget -= len;
        chunks.push_back({q.state, q.prefilled,
                          std::span<const int32_t>(p.data() + q.prefilled, len), false, false});
        who.push_back(&q);
        q.prefilled += len;
        continue;
      }
      const int32_t t = next_token(q);
      if (t < 0) continue;
      fed.push_back(t);
      chunks.push_back(
          {q.state, q.state->pos, std::span<const int32_t>(&fed.back(), 1), false, false});
      who.push_back(&q);
    }
    if (!chunks.empty()) {
      auto r = tf.forward(chunks);
      for (size_t j = 0; j < who.size(); ++j) {
        Seq& q = *who[j];
        q.logits = std::move(r[j].logits);
        if (!q.decoding && q.prefilled == static_cast<int64_t>(q.req->prompt.size())) {
          q.decoding = true;
          q.out.stats.prefill_seconds =
              std::chrono::duration<double>(Clock::now() - q.start).count();
          for (Seq* f : q.followers) {  // n > 1: the other choices start from this prefill
            pool.copy(*q.state, *f->state);
            f->logits = q.logits;
            f->decoding = true;
            f->leader = nullptr;
            f->out.stats.prefill_seconds = q.out.stats.prefill_seconds;
          }
          q.followers.clear();
        }
      }
    }
    // Finished sequences leave the batch; a leader cancelled during its prefill goes together
    // with its followers (cancellation marks every choice of the request).
    bool any_done = false;
    for (auto& q : running) {
      const bool followers_done = std::all_of(q->followers.begin(), q->followers.end(),
                                              [](const Seq* f) { return f->done; });
      if (q->done && followers_done && q->state) {
        complete(*q);
        any_done = true;
      }
    }
    if (any_done) {
      std::erase_if(running, [](const std::unique_ptr<Seq>& q) { return q->state == nullptr; });
      std::lock_guard<std::mutex> lock(mu);
      for (auto it = cancelled.begin(); it != cancelled.end();) {
        const uint64_t id = *it;
        const bool live =
            std::any_of(running.begin(), running.end(),
                        [&](const auto& q) { return q->id == id; }) ||
            std::any_of(queue.begin(), queue.end(), [&](const Pending& p) { return p.id == id; });
        it = live ? std::next(it) : cancelled.erase(it);
      }
    }
    std::lock_guard<std::mutex> lock(mu);
    return !running.empty() || !queue.empty();
  }
};

Engine::Engine(Transformer& tf, const Tokenizer& tok, StatePool& pool, Options opt)
    : impl_(std::make_unique<Impl>(tf, tok, pool, opt)) {}
Engine::Engine(Transformer& tf, const Tokenizer& tok, StatePool& pool)
    : Engine(tf, tok, pool, Options{}) {}
Engine::~Engine() {
  for (auto& q : impl_->running)
    if (q->state) impl_->pool.release(q->state);
}

uint64_t Engine::submit(GenerateRequest req, OnDeltas on_deltas, OnDone on_done) {
  Callbacks cb;
  cb.on_deltas = std::move(on_deltas);
  cb.on_done = std::move(on_done);
  return submit(std::move(req), std::move(cb));
}

uint64_t Engine::submit(GenerateRequest req, Callbacks callbacks) {
  const ModelConfig& c = impl_->tf.config();
  if (req.prompt.empty()) fail("the prompt is empty");
  const int64_t ctx = impl_->pool.max_context();
  if (static_cast<int64_t>(req.prompt.size()) >= ctx)
    fail("the prompt has {} tokens, the context holds {}", req.prompt.size(), ctx);
  for (int32_t t : req.prompt)
    if (t < 0 || t >= c.vocab_size)
      fail("prompt token {} is outside the vocabulary [0, {})", t, c.vocab_size);
  if (req.n < 1) fail("n must be at least 1");
  const int64_t total_slots =
      impl_->pool.free_slots() + static_cast<int64_t>(impl_->running.size());
  if (req.n > total_slots) fail("n = {} is more than the {} sequence slots", req.n, total_slots);
  req.sampling.validate(static_cast<int32_t>(c.vocab_size));
  uint64_t id;
  {
    std::lock_guard<std::mutex> lock(impl_->mu);
    if (impl_->queue.size() >= impl_->opt.max_queue)
      throw QueueFull(fmt::format("the queue is full ({} requests waiting)", impl_->queue.size()));
    id = impl_->next_id++;
    impl_->queue.push_back({id, std::make_shared<const GenerateRequest>(std::move(req)),
                            std::make_shared<const Callbacks>(std::move(callbacks)), Clock::now()});
    impl_->wake = true;
  }
  impl_->cv.notify_all();
  return id;
}

void Engine::cancel(uint64_t id) {
  {
    std::lock_guard<std::mutex> lock(impl_->mu);
    impl_->cancelled.insert(id);
    impl_->wake = true;
  }
  impl_->cv.notify_all();
}

void Engine::notify() {
  {
    std::lock_guard<std::mutex> lock(impl_->mu);
    impl_->wake = true;
  }
  impl_->cv.notify_all();
}

void Engine::wait_for_work(int timeout_ms) {
  std::unique_lock<std::mutex> lock(impl_->mu);
  impl_->cv.wait_for(lock, std::chrono::milliseconds(timeout_ms),
                     [&] { return impl_->wake || !impl_->queue.empty(); });
  impl_->wake = false;
}

bool Engine::step() {
  return impl_->step();
}
size_t Engine::running() const {
  return impl_->running.size();
}
size_t Engine::queued() const {
  std::lock_guard<std::mutex> lock(impl_->mu);
  return impl_->queue.size();
}

Generator::Generator(Transformer& tf, const Tokenizer& tok, StatePool& pool, int64_t prefill_chunk)
    : tf_(tf), tok_(tok), pool_(pool), prefill_chunk_(prefill_chunk) {}

std::vector<GenerateResult> Generator::generate_batch(const std::vector<GenerateRequest>& reqs,
                                                      const OnDeltas& on_deltas,
                                                      const std::atomic<bool>* cancel) {
  int total = 0;
  for (const auto& r : reqs) total += std::max(r.n, 1);
  if (total > pool_.free_slots())
    fail("{} sequences requested, {} free slots", total, pool_.free_slots());
  Engine::Options opt;
  opt.prefill_chunk = prefill_chunk_;
  opt.prefill_budget = INT64_MAX;
  opt.max_queue = reqs.size() + 1;
  Engine engine(tf_, tok_, pool_, opt);
  std::vector<size_t> first(reqs.size());
  std::vector<GenerateResult> results(static_cast<size_t>(total));
  std::vector<uint64_t> ids;
  size_t at = 0;
  for (size_t i = 0; i < reqs.size(); ++i) {
    first[i] = at;
    at += static_cast<size_t>(reqs[i].n);
    ids.push_back(engine.submit(
        reqs[i],
        [&, i](int k, const std::vector<chat::Delta>& d) {
          if (on_deltas) on_deltas(i, k, d);
        },
        [&, i](int k, GenerateResult r) { results[first[i] + k] = std::move(r); }));
  }
  bool cancelled = false;
  while (engine.step()) {
    if (cancel && cancel->load() && !cancelled) {
      cancelled = true;
      for (uint64_t id : ids) engine.cancel(id);
    }
  }
  return results;
}
GenerateResult Generator::generate(const GenerateRequest& req, const OnDelta1& on_deltas,
                                   const std::atomic<bool>* cancel) {
  GenerateRequest one = req;
  one.n = 1;
  auto r = generate_batch(
      {one},
      [&](size_t, int, const std::vector<chat::Delta>& d) {
        if (on_deltas) on_deltas(d);
      },
      cancel);
  return std::move(r[0]);
}

}  // namespace dsv4
