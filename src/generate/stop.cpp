#include "generate/stop.h"

#include <algorithm>
#include <utility>

#include "util/error.h"

namespace dsv4 {

StopMatcher::StopMatcher(std::vector<std::string> stops) : stops_(std::move(stops)) {
  for (size_t i = 0; i < stops_.size(); ++i) {
    if (stops_[i].empty()) fail("stop string {} is empty", i);
  }
}

StopMatcher::Out StopMatcher::push(std::string_view text) {
  Out out;
  if (stopped_) {
    out.stopped = true;
    out.matched = matched_;
    return out;
  }
  std::string buf = std::move(held_);
  held_.clear();
  buf.append(text);

  // The held tail contains no whole stop string (or we would have stopped), so searching all of
  // `buf` finds only completions that involve the new text.
  size_t best_end = std::string::npos, best_pos = 0;
  const std::string* best = nullptr;
  for (const std::string& s : stops_) {
    const size_t pos = buf.find(s);
    if (pos == std::string::npos) continue;
    const size_t end = pos + s.size();
    if (end < best_end || (end == best_end && pos < best_pos)) {
      best_end = end;
      best_pos = pos;
      best = &s;
    }
  }
  if (best != nullptr) {
    stopped_ = true;
    matched_ = *best;
    out.stopped = true;
    out.matched = matched_;
    buf.resize(best_pos);
    out.emit = std::move(buf);
    return out;
  }

  // Hold back the longest tail of `buf` that is a proper prefix of some stop string.
  size_t hold = 0;
  for (const std::string& s : stops_) {
    for (size_t k = std::min(buf.size(), s.size() - 1); k > hold; --k) {
      if (std::string_view(buf).substr(buf.size() - k) == std::string_view(s).substr(0, k)) {
        hold = k;
        break;
      }
    }
  }
  held_ = buf.substr(buf.size() - hold);
  buf.resize(buf.size() - hold);
  out.emit = std::move(buf);
  return out;
}

std::string StopMatcher::flush() {
  return std::exchange(held_, std::string());
}

}  // namespace dsv4
