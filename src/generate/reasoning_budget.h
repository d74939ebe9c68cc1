// A limit on reasoning (thinking) tokens. The generation loop counts each token it samples inside
// the reasoning block and, once exhausted() holds, ends the block itself (DeepSeek-V4: it forces
// the end-of-thinking token) instead of sampling; what follows is the answer, which max_tokens
// still bounds.
#pragma once

#include <cstdint>

#include "util/error.h"

namespace dsv4 {

class ReasoningBudget {
 public:
  // -1 = no limit; 0 = no reasoning tokens at all.
  explicit ReasoningBudget(int64_t limit = -1) : limit_(limit) {
    if (limit < -1) fail("sampling: reasoning budget = {} must be >= 0 (or -1 for none)", limit);
  }

  void add(int64_t n = 1) { used_ += n; }
  bool exhausted() const { return limit_ >= 0 && used_ >= limit_; }
  int64_t used() const { return used_; }
  int64_t limit() const { return limit_; }

 private:
  int64_t limit_;
  int64_t used_ = 0;
};

}  // namespace dsv4
