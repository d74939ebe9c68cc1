// What one request asks of token selection and stopping, in OpenAI's vocabulary (plus top_k,
// min_p, repetition_penalty, min_tokens and ignore_eos as vLLM spells them). validate() is the one
// place the ranges are checked, so the Sampler and the stop rules can trust what they are given.
// See docs/sampling.md for the exact semantics of each field.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace dsv4 {

struct SamplingParams {
  float temperature = 1;  // [0, 2]; 0 = greedy (argmax, lowest id on ties; the seed is unused)
  float top_p = 1;        // (0, 1]: the smallest most-probable set whose mass reaches top_p
  float min_p = 0;        // [0, 1]: drop tokens below min_p * (probability of the likeliest)
  int top_k = 0;          // >= 0; 0 = all tokens
  std::optional<uint64_t> seed;  // none = a fresh random seed per Sampler

  float presence_penalty = 0;    // [-2, 2], subtracted once from every generated token
  float frequency_penalty = 0;   // [-2, 2], subtracted per occurrence in the generated tokens
  float repetition_penalty = 1;  // (0, 2]; divides positive / multiplies negative logits
  int repetition_window = 0;     // >= 0; last N tokens of prompt+generated, 0 = all of them

  std::vector<std::pair<int32_t, float>> logit_bias;  // token id -> [-100, 100], ids unique

  bool logprobs = false;  // report the chosen token's log-probability under the raw logits
  int top_logprobs = 0;   // [0, 20]; needs logprobs

  int max_tokens = -1;      // -1 = until EOS or the end of the context; else >= 1
  int min_tokens = 0;       // >= 0, <= max_tokens: EOS and stop_token_ids are masked until then
  bool ignore_eos = false;  // EOS is masked and never stops generation

  std::vector<std::string> stop;        // at most 16, non-empty; never part of the output
  std::vector<int32_t> stop_token_ids;  // at most 256, each a token id

  // Throws dsv4::Error naming the offending field and its allowed range.
  void validate(int32_t vocab) const;
};

}  // namespace dsv4
