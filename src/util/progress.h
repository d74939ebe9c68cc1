// A one-line progress display on stderr for work that may take more than a second. It stays silent
// for quick work, when disabled, or when stderr is not a terminal (logs get a single final line).
#pragma once

#include <chrono>
#include <cstdint>
#include <string>

namespace dsv4 {

class Progress {
 public:
  Progress(std::string label, uint64_t total, bool enabled);
  ~Progress();
  void step(uint64_t n = 1) { set(done_ + n); }
  void set(uint64_t done);
  void done();

 private:
  void draw(bool final);
  std::string label_;
  uint64_t total_, done_ = 0;
  bool enabled_, tty_, shown_ = false, finished_ = false;
  std::chrono::steady_clock::time_point start_, last_;
};

}  // namespace dsv4
