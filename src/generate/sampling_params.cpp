#include "generate/sampling_params.h"

#include <cmath>
#include <unordered_set>

#include "util/error.h"

namespace dsv4 {

namespace {

constexpr size_t kMaxStops = 16;
constexpr size_t kMaxStopTokenIds = 256;
constexpr size_t kMaxStopBytes = 1024;  // bounds the StopMatcher's hold-back and search work
constexpr int kMaxTopLogprobs = 20;

// NaN fails every comparison, so "!(lo <= x && x <= hi)" also refuses it.
void check_range(const char* field, float x, float lo, float hi, bool lo_open = false) {
  bool ok = (lo_open ? lo < x : lo <= x) && x <= hi;
  if (!ok)
    fail("sampling: {} = {} is out of range {}{}, {}]", field, x, lo_open ? '(' : '[', lo, hi);
}

void check_token(const char* field, int32_t id, int32_t vocab) {
  if (id < 0 || id >= vocab) {
    fail("sampling: {} names token {}, outside the vocabulary [0, {})", field, id, vocab);
  }
}

}  // namespace

void SamplingParams::validate(int32_t vocab) const {
  check_range("temperature", temperature, 0, 2);
  check_range("top_p", top_p, 0, 1, /*lo_open=*/true);
  check_range("min_p", min_p, 0, 1);
  if (top_k < 0) fail("sampling: top_k = {} must be >= 0 (0 = no limit)", top_k);
  check_range("presence_penalty", presence_penalty, -2, 2);
  check_range("frequency_penalty", frequency_penalty, -2, 2);
  check_range("repetition_penalty", repetition_penalty, 0, 2, /*lo_open=*/true);
  if (repetition_window < 0) {
    fail("sampling: repetition_window = {} must be >= 0 (0 = whole context)", repetition_window);
  }

  std::unordered_set<int32_t> biased;
  for (const auto& [id, bias] : logit_bias) {
    check_token("logit_bias", id, vocab);
    if (!(-100 <= bias && bias <= 100)) {
      fail("sampling: logit_bias for token {} = {} is out of range [-100, 100]", id, bias);
    }
    if (!biased.insert(id).second) fail("sampling: logit_bias names token {} twice", id);
  }

  if (top_logprobs < 0 || top_logprobs > kMaxTopLogprobs) {
    fail("sampling: top_logprobs = {} is out of range [0, {}]", top_logprobs, kMaxTopLogprobs);
  }
  if (top_logprobs > 0 && !logprobs) fail("sampling: top_logprobs needs logprobs = true");

  if (max_tokens != -1 && max_tokens < 1) {
    fail("sampling: max_tokens = {} must be >= 1 (or -1 for no limit)", max_tokens);
  }
  if (min_tokens < 0) fail("sampling: min_tokens = {} must be >= 0", min_tokens);
  if (max_tokens != -1 && min_tokens > max_tokens) {
    fail("sampling: min_tokens = {} exceeds max_tokens = {}", min_tokens, max_tokens);
  }

  if (stop.size() > kMaxStops) {
    fail("sampling: stop has {} strings, at most {} are allowed", stop.size(), kMaxStops);
  }
  for (size_t i = 0; i < stop.size(); ++i) {
    if (stop[i].empty()) fail("sampling: stop[{}] is empty", i);
    if (stop[i].size() > kMaxStopBytes) {
      fail("sampling: stop[{}] is {} bytes, at most {} are allowed", i, stop[i].size(),
           kMaxStopBytes);
    }
  }
  if (stop_token_ids.size() > kMaxStopTokenIds) {
    fail("sampling: stop_token_ids has {} ids, at most {} are allowed", stop_token_ids.size(),
         kMaxStopTokenIds);
  }
  for (int32_t id : stop_token_ids) check_token("stop_token_ids", id, vocab);
}

}  // namespace dsv4
