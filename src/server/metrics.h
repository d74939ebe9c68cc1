// The server's Prometheus metrics for GET /metrics (text exposition format 0.0.4), without an
// external library. One mutex guards everything; each call is a few additions, so the per-token
// calls (observe_inter_token) stay cheap. render() copies the state under the lock and formats
// outside it. Names carry the "dsv4:" prefix, like vLLM's "vllm:"; docs/metrics.md lists them.
//
// Robustness: gauges never go below 0 (an unmatched -1 is dropped), negative token counts count
// as 0, a NaN observation is ignored and a negative duration (a clock step) is observed as 0.
#pragma once

#include <cstdint>
#include <map>
#include <mutex>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace dsv4::server {

class Metrics {
 public:
  Metrics();

  // Request lifecycle
  void request_queued();                       // +1 waiting
  void request_started(double queue_seconds);  // waiting -1, running +1, queue-time histogram
  void request_dequeued_without_start();       // waiting -1 (cancelled/refused while queued)
  // running -1; request_success_total{finish_reason}, the token counters, the e2e histogram.
  void request_finished(std::string_view finish_reason, int64_t prompt_tokens,
                        int64_t generated_tokens, int64_t reasoning_tokens, double e2e_seconds);
  void request_rejected(int http_status);  // request_rejected_total{status}
  void observe_ttft(double seconds);
  void observe_inter_token(double seconds);
  // http_requests_total{route,status}. `route` should be the matched route ("/v1/models"), not
  // the raw path, so the label set stays small.
  void http_request(std::string_view route, int status);

  // Gauges set from outside
  void set_state_pool(int used_slots, int total_slots, uint64_t bytes_per_slot);
  void set_loading(bool loading);

  // Snapshot values (for tests and the server's own checks)
  int64_t running() const;
  int64_t waiting() const;
  int64_t finished(std::string_view reason) const;

  // Prometheus text exposition (Content-Type: text/plain; version=0.0.4; charset=utf-8)
  std::string render() const;

  // The bucket upper bounds (seconds, ascending; +Inf implied) of each histogram.
  static std::span<const double> ttft_buckets();
  static std::span<const double> inter_token_buckets();
  static std::span<const double> queue_time_buckets();
  static std::span<const double> e2e_buckets();

  // Prometheus escaping: label values escape \ " and newline; HELP text escapes \ and newline.
  static std::string escape_label_value(std::string_view v);
  static std::string escape_help(std::string_view v);

 private:
  struct Histogram {
    std::span<const double> bounds;
    std::vector<uint64_t> counts;  // per bucket (not cumulative); last = above every bound
    double sum = 0;
    uint64_t count = 0;
    explicit Histogram(std::span<const double> b) : bounds(b), counts(b.size() + 1, 0) {}
    void observe(double v);
  };

  struct State {
    int64_t running = 0;
    int64_t waiting = 0;
    int64_t pool_used = 0;
    int64_t pool_total = 0;
    uint64_t pool_bytes_per_slot = 0;
    bool loading = false;
    std::map<std::string, int64_t, std::less<>> finished;  // by finish_reason
    int64_t prompt_tokens = 0;
    int64_t generation_tokens = 0;
    int64_t reasoning_tokens = 0;
    std::map<int, int64_t> rejected;                      // by HTTP status
    std::map<std::pair<std::string, int>, int64_t> http;  // by (route, status)
    Histogram ttft{ttft_buckets()};
    Histogram inter_token{inter_token_buckets()};
    Histogram queue_time{queue_time_buckets()};
    Histogram e2e{e2e_buckets()};
  };

  mutable std::mutex mu_;
  State s_;
};

}  // namespace dsv4::server
