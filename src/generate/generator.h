// The generation loop: prompt tokens -> chunked prefill -> decode, for a batch of sequences on the
// per-sequence state of the forward pass. Every step is one forward call over all active
// sequences. Each new token goes through the stream detokenizer, the stop-string matcher and the
// reasoning/tool-call output parser, and the parser's deltas reach the caller as they appear.
// Cancellation is checked at every token.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "chat/output_parser.h"
#include "generate/sampler.h"
#include "generate/sampling_params.h"
#include "model/transformer.h"
#include "tokenizer/tokenizer.h"
#include "util/error.h"

namespace dsv4 {

enum class FinishReason { Stop, Length, ToolCalls, Cancelled };
std::string_view finish_reason_name(FinishReason r);

struct GenerateRequest {
  std::vector<int32_t> prompt;
  SamplingParams sampling;
  int n = 1;                        // choices sharing one prefill of the prompt
  bool start_in_reasoning = false;  // the prompt ends inside <think> (thinking mode)
  // The text as generated, all of it content (raw completions): no reasoning/tool-call parsing.
  bool raw_output = false;
  // Text forced into the output once reasoning is over (at the start without thinking): the
  // opener of a DSML tool-call block for tool_choice required/named. Its tokens are fed to the
  // model and the parser as if sampled.
  std::string forced_after_reasoning;
  nlohmann::json tools = nlohmann::json::array();
  int64_t reasoning_budget = -1;  // max reasoning tokens; -1 = unlimited
  uint64_t sequence_salt = 0;     // the sampler's stream; choice i uses salt + i
};

struct GenerateStats {
  int64_t prompt_tokens = 0, generated_tokens = 0, reasoning_tokens = 0;
  // Seconds from submit(): waiting for a slot, to the end of prefill, to the first token; and
  // from the end of prefill to the end.
  double queue_seconds = 0, prefill_seconds = 0, decode_seconds = 0, first_token_seconds = 0;
  double prompt_tokens_per_second() const;
  double generated_tokens_per_second() const;
};

struct GenerateResult {  // one choice
  chat::ParsedMessage message;
  std::vector<int32_t> tokens;  // generated ids (without a final EOS or stop id)
  std::vector<float> logprobs;  // per generated token, when sampling.logprobs
  // per generated token, when sampling.top_logprobs > 0: the likeliest tokens, most likely first
  std::vector<std::vector<std::pair<int32_t, float>>> top_logprobs;
  FinishReason finish = FinishReason::Stop;
  GenerateStats stats;
};

// One generated token as it is sampled (for per-token logprobs and latency).
struct TokenEvent {
  int32_t token = -1;
  float logprob = 0;                                            // NaN unless sampling.logprobs
  const std::vector<std::pair<int32_t, float>>* top = nullptr;  // top_logprobs, or empty
};

// Engine::submit() refuses a request because the queue is full: the caller may retry later.
class QueueFull : public Error {
 public:
  using Error::Error;
};

// Continuous batching: requests join and leave the running batch at every step. step() is one
// forward call over every running sequence: prompt chunks of sequences still prefilling (so a
// long prompt does not stall the others) and one new token for each decoding sequence. submit()
// and cancel() may be called from other threads; step() from one compute thread.
class Engine {
 public:
  struct Options {
    int64_t prefill_chunk = 256;    // prompt tokens per sequence per step
    int64_t prefill_budget = 1024;  // prompt tokens per step over all sequences
    size_t max_queue = 64;          // requests waiting for slots; more are refused
  };
  // on_deltas(choice, deltas); on_done(choice, result) once per choice.
  using OnDeltas = std::function<void(int, const std::vector<chat::Delta>&)>;
  using OnDone = std::function<void(int, GenerateResult)>;
  // Everything a caller can hear about a request. Callbacks run on the thread calling step().
  struct Callbacks {
    OnDeltas on_deltas;
    OnDone on_done;
    std::function<void(int, const TokenEvent&)> on_token;  // every generated token, in order
    std::function<void(double queue_seconds)> on_start;    // slots taken, prefill begins
  };

  Engine(Transformer& tf, const Tokenizer& tok, StatePool& pool, Options opt);
  Engine(Transformer& tf, const Tokenizer& tok, StatePool& pool);
  ~Engine();

  // Validates and queues a request (n choices need n free slots to start). Returns its id.
  // Throws QueueFull for a full queue, dsv4::Error for a bad request.
  uint64_t submit(GenerateRequest req, Callbacks callbacks);
  uint64_t submit(GenerateRequest req, OnDeltas on_deltas, OnDone on_done);
  // Ends a request at its next step (finish reason Cancelled); a queued one never starts.
  void cancel(uint64_t id);
  // One step. Returns false when nothing is running or queued.
  bool step();
  size_t running() const;  // choices in the batch (compute thread only)
  size_t queued() const;
  // Wakes a wait_for_work() caller (after submit, or to stop).
  void notify();
  // Blocks until a request is queued, notify() is called or `timeout_ms` passes.
  void wait_for_work(int timeout_ms);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// Runs requests to completion on an Engine (the CLI and tests use it).
class Generator {
 public:
  Generator(Transformer& tf, const Tokenizer& tok, StatePool& pool, int64_t prefill_chunk = 256);

  // on_deltas(request index, choice index, deltas)
  using OnDeltas = std::function<void(size_t, int, const std::vector<chat::Delta>&)>;
  // Results in request order, the n choices of a request next to each other.
  std::vector<GenerateResult> generate_batch(const std::vector<GenerateRequest>& reqs,
                                             const OnDeltas& on_deltas = {},
                                             const std::atomic<bool>* cancel = nullptr);

  using OnDelta1 = std::function<void(const std::vector<chat::Delta>&)>;
  GenerateResult generate(const GenerateRequest& req, const OnDelta1& on_deltas = {},
                          const std::atomic<bool>* cancel = nullptr);

 private:
  Transformer& tf_;
  const Tokenizer& tok_;
  StatePool& pool_;
  int64_t prefill_chunk_;
};

}  // namespace dsv4
