#include "kernels/parallel.h"

#include <atomic>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

namespace dsv4 {

namespace {

class Pool {
 public:
  explicit Pool(int n) : n_(n) {
    for (int t = 1; t < n; ++t) workers_.emplace_back([this, t] { work(t); });
  }
  ~Pool() {
    stop_.store(true);
    epoch_.fetch_add(1);
    epoch_.notify_all();
    for (auto& w : workers_) w.join();
  }
  int size() const { return n_; }

  // Returns false (nothing run) when another thread is using the pool.
  bool run(void (*fn)(void*, int, int), void* ctx) {
    std::unique_lock<std::mutex> lock(busy_, std::try_to_lock);
    if (!lock.owns_lock()) return false;
    fn_ = fn;
    ctx_ = ctx;
    pending_.store(n_ - 1);
    epoch_.fetch_add(1);
    epoch_.notify_all();
    in_task = true;
    fn(ctx, 0, n_);
    in_task = false;
    for (int spin = 0;; ++spin) {
      const int left = pending_.load();
      if (left == 0) break;
      if (spin > kSpins) pending_.wait(left);
    }
    return true;
  }

  static thread_local bool in_task;

 private:
  static constexpr int kSpins = 20000;  // ~ tens of microseconds before sleeping

  void work(int t) {
    in_task = true;
    uint64_t seen = 0;  // the epoch before any run: a run issued before this thread starts counts
    for (;;) {
      for (int spin = 0; epoch_.load() == seen; ++spin)
        if (spin > kSpins) epoch_.wait(seen);
      seen = epoch_.load();
      if (stop_.load()) return;
      fn_(ctx_, t, n_);
      if (pending_.fetch_sub(1) == 1) pending_.notify_one();
    }
  }

  const int n_;
  std::vector<std::thread> workers_;
  std::mutex busy_;
  std::atomic<uint64_t> epoch_{0};
  std::atomic<int> pending_{0};
  std::atomic<bool> stop_{false};
  void (*fn_)(void*, int, int) = nullptr;
  void* ctx_ = nullptr;
};

thread_local bool Pool::in_task = false;

std::unique_ptr<Pool>& pool() {
  static std::unique_ptr<Pool> p;
  return p;
}

}  // namespace

void set_compute_threads(int n) {
  if (n < 1) n = 1;
  auto& p = pool();
  if (p && p->size() == n) return;
  p.reset();
  if (n > 1) p = std::make_unique<Pool>(n);
}

int compute_threads() {
  const auto& p = pool();
  return p ? p->size() : 1;
}

void parallel_run(void (*fn)(void* ctx, int t, int T), void* ctx) {
  auto& p = pool();
  if (!p || Pool::in_task || !p->run(fn, ctx)) fn(ctx, 0, 1);
}

}  // namespace dsv4
