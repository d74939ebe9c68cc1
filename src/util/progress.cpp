#include "util/progress.h"

#include <fmt/core.h>
#include <unistd.h>

#include <cstdio>

namespace dsv4 {

using Clock = std::chrono::steady_clock;

Progress::Progress(std::string label, uint64_t total, bool enabled)
    : label_(std::move(label)),
      total_(total),
      enabled_(enabled),
      tty_(::isatty(STDERR_FILENO) == 1),
      start_(Clock::now()),
      last_(start_) {}

Progress::~Progress() {
  done();
}

void Progress::set(uint64_t d) {
  done_ = d;
  if (!enabled_) return;
  auto now = Clock::now();
  // Only start drawing after a second, then at most 10 times a second.
  if (now - start_ < std::chrono::seconds(1) || now - last_ < std::chrono::milliseconds(100))
    return;
  last_ = now;
  if (tty_) draw(false);
  shown_ = true;
}

void Progress::draw(bool final) {
  double secs = std::chrono::duration<double>(Clock::now() - start_).count();
  double frac = total_ ? static_cast<double>(done_) / static_cast<double>(total_) : 1.0;
  int width = 30, fill = static_cast<int>(frac * width);
  fmt::print(stderr, "{}{} [{}{}] {:5.1f}% {:.1f}s{}", tty_ ? "\r" : "", label_,
             std::string(fill, '#'), std::string(width - fill, ' '), 100.0 * frac, secs,
             final ? "\n" : "");
  std::fflush(stderr);
}

void Progress::done() {
  if (finished_) return;
  finished_ = true;
  done_ = total_;
  if (enabled_ && shown_) draw(true);
}

}  // namespace dsv4
