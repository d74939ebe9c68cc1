#include "generate/token_stop.h"

#include <algorithm>

namespace dsv4 {

std::string_view finish_reason(StopReason r) {
  switch (r) {
    case StopReason::kNone:
      return "";
    case StopReason::kLength:
      return "length";
    case StopReason::kEos:
    case StopReason::kStopToken:
    case StopReason::kStopString:
      return "stop";
  }
  return "";
}

TokenStop::TokenStop(const SamplingParams& params, std::vector<int32_t> eos_ids)
    : eos_ids_(params.ignore_eos ? std::vector<int32_t>{} : std::move(eos_ids)),
      stop_ids_(params.stop_token_ids),
      min_tokens_(static_cast<size_t>(std::max(params.min_tokens, 0))),
      max_tokens_(params.max_tokens) {}

StopReason TokenStop::check(int32_t token, size_t n_generated) const {
  auto has = [token](const std::vector<int32_t>& v) {
    return std::find(v.begin(), v.end(), token) != v.end();
  };
  // Stop rules win over length, as in vLLM: a last token that is EOS reports "stop".
  if (n_generated > min_tokens_) {
    if (has(eos_ids_)) return StopReason::kEos;
    if (has(stop_ids_)) return StopReason::kStopToken;
  }
  if (max_tokens_ >= 0 && n_generated >= static_cast<size_t>(max_tokens_)) {
    return StopReason::kLength;
  }
  return StopReason::kNone;
}

}  // namespace dsv4
