#include "server/metrics.h"

#include <fmt/format.h>

#include <algorithm>
#include <array>
#include <cmath>
#include <functional>

namespace dsv4::server {

namespace {

// Seconds. CPU decode of a large model is slow: TTFT and queue time go to minutes, a single
// decode step to 10 s, a whole request to half an hour.
constexpr auto kTtftBuckets =
    std::to_array<double>({0.001, 0.005, 0.01, 0.02, 0.04, 0.06, 0.08, 0.1, 0.25, 0.5,
                           0.75,  1,     2.5,  5,    7.5,  10,   20,   40,  60,   120});
constexpr auto kInterTokenBuckets = std::to_array<double>(
    {0.001, 0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.15, 0.2, 0.3, 0.4, 0.5, 0.75, 1, 2.5, 5, 10});
constexpr auto kQueueBuckets = std::to_array<double>(
    {0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 20, 30, 60, 120});
constexpr auto kE2eBuckets = std::to_array<double>(
    {0.1, 0.25, 0.5, 1, 2.5, 5, 10, 15, 20, 30, 40, 50, 60, 120, 240, 480, 960, 1920});

template <size_t N>
constexpr bool strictly_ascending(const std::array<double, N>& a) {
  return std::adjacent_find(a.begin(), a.end(), std::greater_equal<>()) == a.end();
}
static_assert(strictly_ascending(kTtftBuckets));
static_assert(strictly_ascending(kInterTokenBuckets));
static_assert(strictly_ascending(kQueueBuckets));
static_assert(strictly_ascending(kE2eBuckets));

constexpr std::array<const char*, 4> kFinishReasons = {"stop", "length", "tool_calls", "cancelled"};

// A sample value: shortest round-trip, Prometheus spellings of the non-finite values.
std::string num(double v) {
  if (std::isnan(v)) return "NaN";
  if (std::isinf(v)) return v > 0 ? "+Inf" : "-Inf";
  return fmt::format("{}", v);
}

void family(std::string& out, std::string_view name, std::string_view type, std::string_view help) {
  out += fmt::format("# HELP {} {}\n# TYPE {} {}\n", name, Metrics::escape_help(help), name, type);
}

template <typename T>
void sample(std::string& out, std::string_view name, std::string_view labels, T value) {
  if (labels.empty()) {
    out += fmt::format("{} {}\n", name, value);
  } else {
    out += fmt::format("{}{{{}}} {}\n", name, labels, value);
  }
}

void gauge(std::string& out, std::string_view name, std::string_view help, double value) {
  family(out, name, "gauge", help);
  sample(out, name, "", num(value));
}

void counter(std::string& out, std::string_view name, std::string_view help, int64_t value) {
  family(out, name, "counter", help);
  sample(out, name, "", value);
}

std::string label(std::string_view key, std::string_view value) {
  return fmt::format("{}=\"{}\"", key, Metrics::escape_label_value(value));
}

double duration(double seconds) {
  return seconds < 0 ? 0.0 : seconds;
}
int64_t nonneg(int64_t v) {
  return v < 0 ? 0 : v;
}

}  // namespace

std::span<const double> Metrics::ttft_buckets() {
  return kTtftBuckets;
}
std::span<const double> Metrics::inter_token_buckets() {
  return kInterTokenBuckets;
}
std::span<const double> Metrics::queue_time_buckets() {
  return kQueueBuckets;
}
std::span<const double> Metrics::e2e_buckets() {
  return kE2eBuckets;
}

namespace {
// Prometheus text format: backslash and newline are escaped everywhere, the double quote only
// inside label values.
std::string escape(std::string_view v, bool quote) {
  std::string r;
  r.reserve(v.size());
  for (char c : v) {
    if (c == '\\')
      r += "\\\\";
    else if (c == '\n')
      r += "\\n";
    else if (c == '"' && quote)
      r += "\\\"";
    else
      r += c;
  }
  return r;
}
}  // namespace

std::string Metrics::escape_label_value(std::string_view v) {
  return escape(v, true);
}

std::string Metrics::escape_help(std::string_view v) {
  return escape(v, false);
}

void Metrics::Histogram::observe(double v) {
  if (std::isnan(v)) return;
  v = duration(v);
  // le is inclusive: the first bound >= v.
  size_t i =
      static_cast<size_t>(std::lower_bound(bounds.begin(), bounds.end(), v) - bounds.begin());
  ++counts[i];
  sum += v;
  ++count;
}

Metrics::Metrics() {
  for (const char* r : kFinishReasons) s_.finished.emplace(r, 0);
}

void Metrics::request_queued() {
  std::lock_guard lk(mu_);
  ++s_.waiting;
}

void Metrics::request_started(double queue_seconds) {
  std::lock_guard lk(mu_);
  if (s_.waiting > 0) --s_.waiting;
  ++s_.running;
  s_.queue_time.observe(queue_seconds);
}

void Metrics::request_dequeued_without_start() {
  std::lock_guard lk(mu_);
  if (s_.waiting > 0) --s_.waiting;
}

void Metrics::request_finished(std::string_view finish_reason, int64_t prompt_tokens,
                               int64_t generated_tokens, int64_t reasoning_tokens,
                               double e2e_seconds) {
  std::lock_guard lk(mu_);
  if (s_.running > 0) --s_.running;
  auto it = s_.finished.find(finish_reason);
  if (it == s_.finished.end()) it = s_.finished.emplace(std::string(finish_reason), 0).first;
  ++it->second;
  s_.prompt_tokens += nonneg(prompt_tokens);
  s_.generation_tokens += nonneg(generated_tokens);
  s_.reasoning_tokens += nonneg(reasoning_tokens);
  s_.e2e.observe(e2e_seconds);
}

void Metrics::request_rejected(int http_status) {
  std::lock_guard lk(mu_);
  ++s_.rejected[http_status];
}

void Metrics::observe_ttft(double seconds) {
  std::lock_guard lk(mu_);
  s_.ttft.observe(seconds);
}

void Metrics::observe_inter_token(double seconds) {
  std::lock_guard lk(mu_);
  s_.inter_token.observe(seconds);
}

void Metrics::http_request(std::string_view route, int status) {
  std::lock_guard lk(mu_);
  auto key = std::make_pair(std::string(route), status);
  ++s_.http[std::move(key)];
}

void Metrics::set_state_pool(int used_slots, int total_slots, uint64_t bytes_per_slot) {
  std::lock_guard lk(mu_);
  s_.pool_used = std::max(used_slots, 0);
  s_.pool_total = std::max(total_slots, 0);
  s_.pool_bytes_per_slot = bytes_per_slot;
}

void Metrics::set_loading(bool loading) {
  std::lock_guard lk(mu_);
  s_.loading = loading;
}

int64_t Metrics::running() const {
  std::lock_guard lk(mu_);
  return s_.running;
}

int64_t Metrics::waiting() const {
  std::lock_guard lk(mu_);
  return s_.waiting;
}

int64_t Metrics::finished(std::string_view reason) const {
  std::lock_guard lk(mu_);
  auto it = s_.finished.find(reason);
  return it == s_.finished.end() ? 0 : it->second;
}

namespace {

void histogram(std::string& out, std::string_view name, std::string_view help,
               std::span<const double> bounds, const std::vector<uint64_t>& counts, double sum,
               uint64_t count) {
  family(out, name, "histogram", help);
  const std::string bucket = fmt::format("{}_bucket", name);
  uint64_t cum = 0;
  for (size_t i = 0; i < bounds.size(); ++i) {
    cum += counts[i];
    sample(out, bucket, label("le", num(bounds[i])), cum);
  }
  cum += counts[bounds.size()];
  sample(out, bucket, label("le", "+Inf"), cum);
  sample(out, fmt::format("{}_sum", name), "", num(sum));
  sample(out, fmt::format("{}_count", name), "", count);
}

}  // namespace

std::string Metrics::render() const {
  const State s = [this] {
    std::lock_guard lk(mu_);
    return s_;
  }();
  std::string out;
  out.reserve(8192);

  gauge(out, "dsv4:num_requests_running", "Requests currently generating.",
        static_cast<double>(s.running));
  gauge(out, "dsv4:num_requests_waiting", "Requests queued, waiting for a sequence slot.",
        static_cast<double>(s.waiting));
  gauge(out, "dsv4:state_pool_used_slots", "Sequence state slots in use.",
        static_cast<double>(s.pool_used));
  gauge(out, "dsv4:state_pool_total_slots", "Sequence state slots in the pool.",
        static_cast<double>(s.pool_total));
  gauge(out, "dsv4:state_pool_usage_ratio",
        "Fraction of sequence state slots in use (0 when the pool is empty).",
        s.pool_total > 0 ? static_cast<double>(s.pool_used) / static_cast<double>(s.pool_total)
                         : 0.0);
  family(out, "dsv4:state_pool_bytes_per_slot", "gauge", "Bytes of state memory per slot.");
  sample(out, "dsv4:state_pool_bytes_per_slot", "", s.pool_bytes_per_slot);
  gauge(out, "dsv4:model_loading", "1 while the model is loading, else 0.", s.loading ? 1.0 : 0.0);

  family(out, "dsv4:request_success_total", "counter",
         "Requests finished, by finish reason (cancelled = the client went away).");
  for (const auto& [reason, n] : s.finished) {
    sample(out, "dsv4:request_success_total", label("finish_reason", reason), n);
  }
  counter(out, "dsv4:prompt_tokens_total", "Prompt tokens of finished requests.", s.prompt_tokens);
  counter(out, "dsv4:generation_tokens_total",
          "Generated tokens of finished requests (reasoning included).", s.generation_tokens);
  counter(out, "dsv4:reasoning_tokens_total", "Reasoning tokens of finished requests.",
          s.reasoning_tokens);
  family(out, "dsv4:request_rejected_total", "counter", "Requests refused, by HTTP status.");
  for (const auto& [status, n] : s.rejected) {
    sample(out, "dsv4:request_rejected_total", label("status", std::to_string(status)), n);
  }
  family(out, "dsv4:http_requests_total", "counter",
         "HTTP requests answered, by route and status.");
  for (const auto& [key, n] : s.http) {
    sample(out, "dsv4:http_requests_total",
           label("route", key.first) + "," + label("status", std::to_string(key.second)), n);
  }

  histogram(out, "dsv4:time_to_first_token_seconds",
            "Seconds from a request's start to its first generated token.", s.ttft.bounds,
            s.ttft.counts, s.ttft.sum, s.ttft.count);
  histogram(out, "dsv4:inter_token_latency_seconds",
            "Seconds between consecutive generated tokens.", s.inter_token.bounds,
            s.inter_token.counts, s.inter_token.sum, s.inter_token.count);
  histogram(out, "dsv4:request_queue_time_seconds",
            "Seconds a request waited in the queue before it started.", s.queue_time.bounds,
            s.queue_time.counts, s.queue_time.sum, s.queue_time.count);
  histogram(out, "dsv4:e2e_request_latency_seconds", "Seconds from a request's arrival to its end.",
            s.e2e.bounds, s.e2e.counts, s.e2e.sum, s.e2e.count);
  return out;
}

}  // namespace dsv4::server
