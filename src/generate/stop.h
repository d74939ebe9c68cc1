// Stop strings over streamed text. Text arrives in pieces (one per token, from StreamDecoder), and
// a stop string may straddle pieces, so the matcher holds back any tail that could still become a
// stop string and emits only text that no later piece can turn into one. The stop string itself is
// never emitted. The outcome depends only on the concatenated text, not on how it was split.
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace dsv4 {

class StopMatcher {
 public:
  // Throws dsv4::Error on an empty stop string, which would match before any text.
  explicit StopMatcher(std::vector<std::string> stops);

  struct Out {
    std::string emit;      // safe to send now
    bool stopped = false;  // a stop string completed; nothing follows
    std::string matched;   // the stop string, when stopped
  };

  // Adds the next piece. When several stop strings are in the text, the one that completes first
  // wins (then the longest of those), exactly as if the text had come one byte at a time. After a
  // stop, further pushes emit nothing and report the same stop.
  Out push(std::string_view text);
  // The end of the stream without a stop: releases the held-back tail.
  std::string flush();

  // Text received but not yet emitted (a proper prefix of some stop string).
  std::string_view held() const { return held_; }
  bool stopped() const { return stopped_; }

 private:
  std::vector<std::string> stops_;
  std::string held_;
  bool stopped_ = false;
  std::string matched_;
};

}  // namespace dsv4
