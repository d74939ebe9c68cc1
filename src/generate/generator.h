// The generation loop: prompt tokens -> chunked prefill -> decode, for a batch of sequences on the
// per-sequence state of the forward pass. Every step is one forward call over all active
// sequences. Each new token goes through the stream detokenizer, the stop-string matcher and the
// reasoning/tool-call output parser, and the parser's deltas reach the caller as they appear.
// Cancellation is checked at every token.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "chat/output_parser.h"
#include "generate/sampler.h"
#include "generate/sampling_params.h"
#include "model/transformer.h"
#include "tokenizer/tokenizer.h"

namespace dsv4 {

enum class FinishReason { Stop, Length, ToolCalls, Cancelled };
std::string_view finish_reason_name(FinishReason r);

struct GenerateRequest {
  std::vector<int32_t> prompt;
  SamplingParams sampling;
  int n = 1;                        // choices sharing one prefill of the prompt
  bool start_in_reasoning = false;  // the prompt ends inside <think> (thinking mode)
  nlohmann::json tools = nlohmann::json::array();
  int64_t reasoning_budget = -1;  // max reasoning tokens; -1 = unlimited
  uint64_t sequence_salt = 0;     // the sampler's stream; choice i uses salt + i
};

struct GenerateStats {
  int64_t prompt_tokens = 0, generated_tokens = 0, reasoning_tokens = 0;
  double prefill_seconds = 0, decode_seconds = 0, first_token_seconds = 0;
  double prompt_tokens_per_second() const;
  double generated_tokens_per_second() const;
};

struct GenerateResult {  // one choice
  chat::ParsedMessage message;
  std::vector<int32_t> tokens;  // generated ids (without a final EOS or stop id)
  std::vector<float> logprobs;  // per generated token, when sampling.logprobs
  FinishReason finish = FinishReason::Stop;
  GenerateStats stats;
};

class Generator {
 public:
  // The pool bounds the batch (one slot per choice) and prompt + generated tokens.
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
