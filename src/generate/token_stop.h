// The token-level stop rules the generation loop checks after each sampled token: EOS, the
// request's stop_token_ids and max_tokens. Stop strings are text-level (StopMatcher); the reasoning
// budget ends thinking, not generation (ReasoningBudget).
#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>
#include <vector>

#include "generate/sampling_params.h"

namespace dsv4 {

enum class StopReason {
  kNone,
  kEos,         // an EOS id (unless ignore_eos)
  kStopToken,   // one of stop_token_ids
  kStopString,  // reported by StopMatcher
  kLength,      // max_tokens reached
};

// OpenAI's finish_reason: "stop", "length", or "" for kNone.
std::string_view finish_reason(StopReason r);

class TokenStop {
 public:
  TokenStop(const SamplingParams& params, std::vector<int32_t> eos_ids);

  // `token` has just been appended and `n_generated` counts it. Neither EOS nor a stop token
  // stops before min_tokens other tokens exist (the Sampler masks them until then anyway). The
  // stopping token is part of the generated ids but its text is not part of the output.
  StopReason check(int32_t token, size_t n_generated) const;

 private:
  std::vector<int32_t> eos_ids_;
  std::vector<int32_t> stop_ids_;
  size_t min_tokens_;
  long long max_tokens_;  // -1 = none
};

}  // namespace dsv4
