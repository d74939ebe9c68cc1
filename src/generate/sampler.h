// Picks the next token of one sequence from its row of logits. Each Sampler owns its random
// stream: the draw for the token at generated position i is a pure function of (seed, salt, i), so
// a seeded request reproduces across runs, across batch compositions and across a restart that
// rebuilds the Sampler. Rows of a batch are independent: call sample() once per row, from any
// thread (scratch space is thread-local). See docs/sampling.md.
#pragma once

#include <cstdint>
#include <span>
#include <utility>
#include <vector>

#include "generate/sampling_params.h"

namespace dsv4 {

class Sampler {
 public:
  // `params` must have passed validate(). `eos_ids` are masked by ignore_eos and, like
  // stop_token_ids, until min_tokens tokens exist. `sequence_salt` separates the streams of
  // sequences that share a seed (the n choices of one request): give each its own.
  Sampler(const SamplingParams& params, std::vector<int32_t> eos_ids, uint64_t sequence_salt);

  struct Choice {
    int32_t token = -1;
    // log-softmax of the raw (unmodified) logits at `token`; NaN unless params.logprobs.
    float logprob = 0;
    // The params.top_logprobs likeliest tokens under the raw logits, most likely first (lowest id
    // on ties), with their raw log-probabilities.
    std::vector<std::pair<int32_t, float>> top;
  };

  // `logits`: this sequence's row, one entry per vocabulary token. On return it holds the
  // processed logits (penalties, bias and masks applied; not temperature-scaled, not truncated).
  // `prompt` and `generated` feed the penalties; generated.size() is also the position that picks
  // the random draw and counts towards min_tokens. Throws dsv4::Error when a token id is outside
  // the row or when no token is left to pick (every logit -inf or NaN).
  Choice sample(std::span<float> logits, std::span<const int32_t> prompt,
                std::span<const int32_t> generated) const;

  // The uniform draw in [0, 1) used for the token at generated position `position`.
  double uniform(uint64_t position) const;

 private:
  void apply_penalties(std::span<float> logits, std::span<const int32_t> prompt,
                       std::span<const int32_t> generated) const;
  int32_t pick(std::span<const float> logits, double u) const;

  SamplingParams params_;
  std::vector<int32_t> eos_ids_;
  uint64_t key_;
  int32_t max_id_ = -1;  // the largest id params_ and eos_ids_ name, checked against the row
};

}  // namespace dsv4
