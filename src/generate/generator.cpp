#include "generate/generator.h"

#include <algorithm>
#include <chrono>
#include <deque>
#include <memory>

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

Generator::Generator(Transformer& tf, const Tokenizer& tok, StatePool& pool, int64_t prefill_chunk)
    : tf_(tf), tok_(tok), pool_(pool), prefill_chunk_(prefill_chunk) {}

namespace {

// One choice being generated.
struct Seq {
  size_t req;
  int choice;
  SequenceState* state = nullptr;
  std::vector<float> logits;  // of the last position
  std::unique_ptr<Sampler> sampler;
  std::unique_ptr<StreamDecoder> detok;
  std::unique_ptr<StopMatcher> stops;
  std::unique_ptr<chat::OutputParser> parser;
  std::unique_ptr<ReasoningBudget> budget;
  std::deque<int32_t> forced;  // fed instead of sampling (closing an exhausted reasoning budget)
  bool budget_closed = false, eos_hit = false, done = false;
  int64_t max_new = 0;
  GenerateResult out;
};

}  // namespace

std::vector<GenerateResult> Generator::generate_batch(const std::vector<GenerateRequest>& reqs,
                                                      const OnDeltas& on_deltas,
                                                      const std::atomic<bool>* cancel) {
  const ModelConfig& c = tf_.config();
  const int64_t ctx = pool_.max_context();
  int total = 0;
  for (const auto& r : reqs) {
    if (r.prompt.empty()) fail("the prompt is empty");
    if (static_cast<int64_t>(r.prompt.size()) >= ctx)
      fail("the prompt has {} tokens, the context holds {}", r.prompt.size(), ctx);
    if (r.n < 1) fail("n must be at least 1");
    r.sampling.validate(static_cast<int32_t>(c.vocab_size));
    total += r.n;
  }
  if (total > pool_.free_slots())
    fail("{} sequences requested, {} free slots", total, pool_.free_slots());
  std::vector<int32_t> eos;
  if (tok_.eos_id()) eos.push_back(*tok_.eos_id());
  if (std::find(eos.begin(), eos.end(), c.eos_token_id) == eos.end())
    eos.push_back(static_cast<int32_t>(c.eos_token_id));

  std::vector<Seq> seqs;
  seqs.reserve(static_cast<size_t>(total));
  struct Release {
    StatePool& p;
    std::vector<Seq>& s;
    ~Release() {
      for (auto& q : s)
        if (q.state) p.release(q.state);
    }
  } release{pool_, seqs};
  for (size_t i = 0; i < reqs.size(); ++i)
    for (int k = 0; k < reqs[i].n; ++k) {
      const GenerateRequest& r = reqs[i];
      Seq q;
      q.req = i;
      q.choice = k;
      q.state = pool_.acquire();
      q.sampler = std::make_unique<Sampler>(r.sampling, eos, r.sequence_salt + k);
      q.detok = std::make_unique<StreamDecoder>(tok_);
      q.stops = std::make_unique<StopMatcher>(r.sampling.stop);
      q.parser = std::make_unique<chat::OutputParser>(
          chat::ParserOptions{r.start_in_reasoning, r.tools, r.sequence_salt + k});
      q.budget = std::make_unique<ReasoningBudget>(r.reasoning_budget);
      const int64_t room = ctx - static_cast<int64_t>(r.prompt.size());
      q.max_new =
          r.sampling.max_tokens >= 0 ? std::min<int64_t>(r.sampling.max_tokens, room) : room;
      q.out.stats.prompt_tokens = static_cast<int64_t>(r.prompt.size());
      q.out.finish = FinishReason::Length;
      seqs.push_back(std::move(q));
    }

  const auto t0 = Clock::now();
  // Prefill: the first choice of every request, all prompts advancing together chunk by chunk;
  // the other choices copy its state.
  {
    std::vector<int64_t> pos(reqs.size(), 0);
    for (;;) {
      std::vector<Chunk> chunks;
      std::vector<Seq*> who;
      for (auto& q : seqs) {
        const auto& p = reqs[q.req].prompt;
        const int64_t n = static_cast<int64_t>(p.size());
        if (q.choice != 0 || pos[q.req] >= n) continue;
        const int64_t len = std::min(prefill_chunk_, n - pos[q.req]);
        chunks.push_back({q.state, pos[q.req], std::span<const int32_t>(p.data() + pos[q.req], len),
                          false, false});
        who.push_back(&q);
        pos[q.req] += len;
      }
      if (chunks.empty()) break;
      auto r = tf_.forward(chunks);
      for (size_t j = 0; j < who.size(); ++j) who[j]->logits = std::move(r[j].logits);
      if (cancel && cancel->load()) break;
    }
    const Seq* first = nullptr;
    for (auto& q : seqs) {
      if (q.choice == 0) {
        first = &q;
        continue;
      }
      pool_.copy(*first->state, *q.state);
      q.logits = first->logits;
    }
  }
  const auto t_prefill = Clock::now();
  const double prefill_s = std::chrono::duration<double>(t_prefill - t0).count();

  auto emit = [&](Seq& q, const std::vector<chat::Delta>& d) {
    if (!d.empty() && on_deltas) on_deltas(q.req, q.choice, d);
  };
  auto finish = [&](Seq& q, FinishReason why) {
    q.done = true;
    q.out.finish = why;
  };
  // Decode: every step samples one token per active sequence, then one forward call for all.
  for (;;) {
    const bool cancelled = cancel && cancel->load();
    std::vector<Chunk> chunks;
    for (auto& q : seqs) {
      if (q.done) continue;
      if (cancelled) {
        finish(q, FinishReason::Cancelled);
        continue;
      }
      const GenerateRequest& r = reqs[q.req];
      int32_t token;
      float logprob = 0;
      if (!q.forced.empty()) {
        token = q.forced.front();
        q.forced.pop_front();
      } else {
        const Sampler::Choice ch = q.sampler->sample(q.logits, r.prompt, q.out.tokens);
        token = ch.token;
        logprob = ch.logprob;
        const bool is_eos = std::find(eos.begin(), eos.end(), token) != eos.end();
        const bool is_stop_id =
            std::find(r.sampling.stop_token_ids.begin(), r.sampling.stop_token_ids.end(), token) !=
            r.sampling.stop_token_ids.end();
        // The sampler itself masks EOS (ignore_eos, min_tokens) and stop ids (min_tokens).
        if (is_eos || is_stop_id) {
          q.eos_hit = is_eos;
          finish(q, FinishReason::Stop);
          continue;
        }
      }
      GenerateResult& out = q.out;
      if (out.tokens.empty())
        out.stats.first_token_seconds = std::chrono::duration<double>(Clock::now() - t0).count();
      out.tokens.push_back(token);
      if (r.sampling.logprobs) out.logprobs.push_back(logprob);
      out.stats.generated_tokens++;
      const bool in_reasoning = r.start_in_reasoning && !q.parser->result().reasoning_closed;
      if (in_reasoning && !q.budget_closed) {
        out.stats.reasoning_tokens++;
        q.budget->add();
      }
      StopMatcher::Out s = q.stops->push(q.detok->push(token));
      emit(q, q.parser->push(s.emit));
      if (s.stopped) {
        finish(q, FinishReason::Stop);
        continue;
      }
      // An exhausted reasoning budget: the model is made to close its reasoning itself.
      if (in_reasoning && q.budget->exhausted() && !q.budget_closed &&
          !q.parser->result().reasoning_closed) {
        q.budget_closed = true;
        for (int32_t t : tok_.encode("</think>")) {
          if (t >= c.vocab_size) fail("the tokenizer's </think> (id {}) is outside the model", t);
          q.forced.push_back(t);
        }
      }
      if (static_cast<int64_t>(out.tokens.size()) >= q.max_new) {
        finish(q, FinishReason::Length);
        continue;
      }
      chunks.push_back(
          {q.state, q.state->pos, std::span<const int32_t>(&out.tokens.back(), 1), false, false});
    }
    if (chunks.empty()) break;
    auto r = tf_.forward(chunks);
    size_t j = 0;
    for (auto& q : seqs)
      if (!q.done) q.logits = std::move(r[j++].logits);
  }

  const double decode_s = std::chrono::duration<double>(Clock::now() - t_prefill).count();
  std::vector<GenerateResult> results;
  for (auto& q : seqs) {
    if (!q.stops->stopped()) emit(q, q.parser->push(q.stops->push(q.detok->flush()).emit));
    if (!q.stops->stopped()) emit(q, q.parser->push(q.stops->flush()));
    emit(q, q.parser->finish(q.eos_hit));
    q.out.message = q.parser->result();
    if (q.out.finish == FinishReason::Stop && !q.out.message.tool_calls.empty())
      q.out.finish = FinishReason::ToolCalls;
    q.out.stats.prefill_seconds = prefill_s;
    q.out.stats.decode_seconds = decode_s;
    results.push_back(std::move(q.out));
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
