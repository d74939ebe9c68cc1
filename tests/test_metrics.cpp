// The Prometheus metrics registry: lifecycle counts and gauges, histogram buckets, the text
// exposition checked by a small validating parser (HELP/TYPE before samples, cumulative buckets,
// +Inf == _count, label escaping round trip), and exact totals under concurrent use.
#include "server/metrics.h"

#include <gtest/gtest-spi.h>
#include <gtest/gtest.h>

#include <atomic>
#include <cmath>
#include <map>
#include <optional>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

namespace dsv4::server {
namespace {

using Labels = std::map<std::string, std::string>;

struct Sample {
  std::string name;
  Labels labels;
  double value = 0;
};

struct Family {
  std::string type;
  bool help = false;
};

struct Exposition {
  std::map<std::string, Family> families;
  std::vector<Sample> samples;

  // The value of the one sample `name{labels}`; nullopt if there is none.
  std::optional<double> get(const std::string& name, const Labels& labels = {}) const {
    for (const auto& s : samples) {
      if (s.name == name && s.labels == labels) return s.value;
    }
    return std::nullopt;
  }
  double at(const std::string& name, const Labels& labels = {}) const {
    auto v = get(name, labels);
    if (!v) ADD_FAILURE() << "no sample " << name;
    return v.value_or(std::nan(""));
  }
};

bool parse_value(const std::string& t, double& v) {
  if (t == "+Inf" || t == "-Inf" || t == "NaN") {
    v = t == "NaN" ? NAN : t[0] == '+' ? INFINITY : -INFINITY;
    return true;
  }
  if (t.empty()) return false;
  size_t used = 0;
  try {
    v = std::stod(t, &used);
  } catch (...) {
    return false;
  }
  return used == t.size();
}

// The family a sample belongs to: its own name, or for a histogram's series the base name.
std::string family_of(const std::map<std::string, Family>& fams, const std::string& name) {
  if (fams.count(name)) return name;
  for (const char* suffix : {"_bucket", "_sum", "_count"}) {
    std::string s = suffix;
    if (name.size() > s.size() && name.compare(name.size() - s.size(), s.size(), s) == 0) {
      std::string base = name.substr(0, name.size() - s.size());
      auto it = fams.find(base);
      if (it != fams.end() && it->second.type == "histogram") return base;
    }
  }
  return {};
}

// Parses and validates text format 0.0.4 as far as the registry uses it. Every problem is a test
// failure naming the line.
Exposition parse(const std::string& text) {
  // [a-zA-Z_:][a-zA-Z0-9_:]* and [a-zA-Z_][a-zA-Z0-9_]* (no <regex>: GCC 12 warns inside it).
  auto name_ok = [](const std::string& n, bool colon) {
    if (n.empty()) return false;
    for (size_t i = 0; i < n.size(); ++i) {
      const char c = n[i];
      const bool alpha =
          (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || (colon && c == ':');
      if (!alpha && !(i > 0 && c >= '0' && c <= '9')) return false;
    }
    return true;
  };
  Exposition e;
  std::set<std::string> seen;  // name + labels, for duplicates
  EXPECT_TRUE(!text.empty() && text.back() == '\n') << "text must end with a newline";
  std::istringstream in(text);
  std::string line;
  int n = 0;
  while (std::getline(in, line)) {
    ++n;
    SCOPED_TRACE("line " + std::to_string(n) + ": " + line);
    EXPECT_FALSE(line.empty());
    if (line.empty()) continue;
    if (line[0] == '#') {
      std::istringstream ls(line);
      std::string hash, kind, name;
      ls >> hash >> kind >> name;
      EXPECT_EQ(hash, "#");
      EXPECT_TRUE(name_ok(name, true));
      std::string rest;
      std::getline(ls, rest);
      if (!rest.empty() && rest[0] == ' ') rest.erase(0, 1);
      Family& f = e.families[name];
      if (kind == "HELP") {
        EXPECT_FALSE(f.help) << "second HELP";
        EXPECT_TRUE(f.type.empty()) << "HELP after TYPE";
        EXPECT_FALSE(rest.empty());
        f.help = true;
      } else if (kind == "TYPE") {
        EXPECT_TRUE(f.type.empty()) << "second TYPE";
        EXPECT_TRUE(rest == "counter" || rest == "gauge" || rest == "histogram") << rest;
        f.type = rest;
      } else {
        ADD_FAILURE() << "unknown comment";
      }
      continue;
    }
    Sample s;
    size_t i = 0;
    while (i < line.size() && line[i] != '{' && line[i] != ' ') ++i;
    s.name = line.substr(0, i);
    EXPECT_TRUE(name_ok(s.name, true)) << s.name;
    std::string key = s.name;
    if (i < line.size() && line[i] == '{') {
      ++i;
      while (true) {
        if (i < line.size() && line[i] == '}') {
          ++i;
          break;
        }
        size_t eq = line.find('=', i);
        if (eq == std::string::npos) {
          ADD_FAILURE() << "label without '='";
          return e;
        }
        std::string lname = line.substr(i, eq - i);
        EXPECT_TRUE(name_ok(lname, false)) << lname;
        i = eq + 1;
        if (i >= line.size() || line[i] != '"') {
          ADD_FAILURE() << "label value not quoted";
          return e;
        }
        ++i;
        std::string value;
        bool closed = false;
        while (i < line.size()) {
          char c = line[i++];
          if (c == '"') {
            closed = true;
            break;
          }
          if (c == '\\') {
            if (i >= line.size()) break;
            char d = line[i++];
            if (d == 'n') {
              value += '\n';
            } else if (d == '\\' || d == '"') {
              value += d;
            } else {
              ADD_FAILURE() << "bad escape \\" << d;
            }
          } else {
            value += c;
          }
        }
        if (!closed) {
          ADD_FAILURE() << "unterminated label value";
          return e;
        }
        EXPECT_TRUE(s.labels.emplace(lname, value).second) << "duplicate label " << lname;
        if (i < line.size() && line[i] == ',') {
          ++i;
        } else if (i >= line.size() || line[i] != '}') {
          ADD_FAILURE() << "expected ',' or '}' after a label";
          return e;
        }
      }
      for (const auto& [k, v] : s.labels) key += "|" + k + "=" + v;
    }
    EXPECT_TRUE(i < line.size() && line[i] == ' ') << "no space before the value";
    std::string vt = line.substr(std::min(i + 1, line.size()));
    EXPECT_TRUE(parse_value(vt, s.value)) << "bad value '" << vt << "'";
    EXPECT_TRUE(seen.insert(key).second) << "duplicate sample";
    std::string fam = family_of(e.families, s.name);
    EXPECT_FALSE(fam.empty()) << "sample without a TYPE before it";
    if (!fam.empty()) {
      const Family& f = e.families[fam];
      EXPECT_TRUE(f.help) << "sample without a HELP before it";
      if (f.type == "counter") {
        EXPECT_TRUE(s.name.size() > 6 && s.name.ends_with("_total")) << "counter without _total";
      }
      if (f.type == "histogram" || f.type == "counter") {
        EXPECT_GE(s.value, 0);
      }
      if (s.name.ends_with("_bucket")) {
        EXPECT_TRUE(s.labels.count("le"));
      }
    }
    e.samples.push_back(std::move(s));
  }

  // Histograms: buckets in ascending le, counts non-decreasing, +Inf last and == _count.
  for (const auto& [name, f] : e.families) {
    EXPECT_TRUE(f.help && !f.type.empty()) << name << ": HELP and TYPE";
    if (f.type != "histogram") continue;
    SCOPED_TRACE(name);
    double prev_le = -INFINITY, prev_count = 0;
    int buckets = 0;
    for (const auto& s : e.samples) {
      if (s.name != name + "_bucket") continue;
      double le = 0;
      EXPECT_TRUE(parse_value(s.labels.at("le"), le));
      EXPECT_GT(le, prev_le) << "le not ascending";
      EXPECT_GE(s.value, prev_count) << "bucket counts not cumulative";
      prev_le = le;
      prev_count = s.value;
      ++buckets;
    }
    EXPECT_GE(buckets, 2);
    EXPECT_EQ(prev_le, INFINITY) << "last bucket is not +Inf";
    EXPECT_EQ(prev_count, e.at(name + "_count")) << "+Inf bucket != _count";
    EXPECT_TRUE(e.get(name + "_sum"));
  }
  return e;
}

const std::vector<std::string> kFinishReasons = {"stop", "length", "tool_calls", "cancelled"};

TEST(Metrics, FreshRegistryExposesEveryFamilyAtZero) {
  Metrics m;
  EXPECT_EQ(m.running(), 0);
  EXPECT_EQ(m.waiting(), 0);
  Exposition e = parse(m.render());
  const std::map<std::string, std::string> expected = {
      {"dsv4:num_requests_running", "gauge"},
      {"dsv4:num_requests_waiting", "gauge"},
      {"dsv4:state_pool_used_slots", "gauge"},
      {"dsv4:state_pool_total_slots", "gauge"},
      {"dsv4:state_pool_usage_ratio", "gauge"},
      {"dsv4:state_pool_bytes_per_slot", "gauge"},
      {"dsv4:model_loading", "gauge"},
      {"dsv4:request_success_total", "counter"},
      {"dsv4:prompt_tokens_total", "counter"},
      {"dsv4:generation_tokens_total", "counter"},
      {"dsv4:reasoning_tokens_total", "counter"},
      {"dsv4:request_rejected_total", "counter"},
      {"dsv4:http_requests_total", "counter"},
      {"dsv4:time_to_first_token_seconds", "histogram"},
      {"dsv4:inter_token_latency_seconds", "histogram"},
      {"dsv4:request_queue_time_seconds", "histogram"},
      {"dsv4:e2e_request_latency_seconds", "histogram"},
  };
  for (const auto& [name, type] : expected) {
    ASSERT_TRUE(e.families.count(name)) << name;
    EXPECT_EQ(e.families.at(name).type, type) << name;
  }
  EXPECT_EQ(e.families.size(), expected.size());
  for (const auto& r : kFinishReasons) {
    EXPECT_EQ(e.at("dsv4:request_success_total", {{"finish_reason", r}}), 0) << r;
    EXPECT_EQ(m.finished(r), 0);
  }
  EXPECT_EQ(e.at("dsv4:num_requests_running"), 0);
  EXPECT_EQ(e.at("dsv4:state_pool_usage_ratio"), 0);
  EXPECT_EQ(e.at("dsv4:model_loading"), 0);
  EXPECT_EQ(e.at("dsv4:time_to_first_token_seconds_count"), 0);
  EXPECT_EQ(e.at("dsv4:time_to_first_token_seconds_sum"), 0);
}

TEST(Metrics, LifecycleCountsAndTokens) {
  Metrics m;
  for (int i = 0; i < 4; ++i) m.request_queued();
  EXPECT_EQ(m.waiting(), 4);
  m.request_started(0.5);
  m.request_started(1.5);
  m.request_started(0.002);
  m.request_dequeued_without_start();
  EXPECT_EQ(m.waiting(), 0);
  EXPECT_EQ(m.running(), 3);
  m.request_finished("stop", 10, 20, 5, 3.0);
  m.request_finished("length", 100, 200, 0, 30.0);
  EXPECT_EQ(m.running(), 1);
  m.request_finished("tool_calls", 1, 2, 3, 0.25);
  EXPECT_EQ(m.running(), 0);
  EXPECT_EQ(m.finished("stop"), 1);
  EXPECT_EQ(m.finished("length"), 1);
  EXPECT_EQ(m.finished("tool_calls"), 1);
  EXPECT_EQ(m.finished("cancelled"), 0);
  EXPECT_EQ(m.finished("nonsense"), 0);
  m.request_rejected(429);
  m.request_rejected(429);
  m.request_rejected(400);
  m.http_request("/v1/chat/completions", 200);
  m.http_request("/v1/chat/completions", 200);
  m.http_request("/v1/chat/completions", 429);
  m.http_request("/metrics", 200);

  Exposition e = parse(m.render());
  EXPECT_EQ(e.at("dsv4:num_requests_running"), 0);
  EXPECT_EQ(e.at("dsv4:num_requests_waiting"), 0);
  EXPECT_EQ(e.at("dsv4:request_success_total", {{"finish_reason", "stop"}}), 1);
  EXPECT_EQ(e.at("dsv4:request_success_total", {{"finish_reason", "length"}}), 1);
  EXPECT_EQ(e.at("dsv4:request_success_total", {{"finish_reason", "tool_calls"}}), 1);
  EXPECT_EQ(e.at("dsv4:request_success_total", {{"finish_reason", "cancelled"}}), 0);
  EXPECT_EQ(e.at("dsv4:prompt_tokens_total"), 111);
  EXPECT_EQ(e.at("dsv4:generation_tokens_total"), 222);
  EXPECT_EQ(e.at("dsv4:reasoning_tokens_total"), 8);
  EXPECT_EQ(e.at("dsv4:request_rejected_total", {{"status", "429"}}), 2);
  EXPECT_EQ(e.at("dsv4:request_rejected_total", {{"status", "400"}}), 1);
  EXPECT_FALSE(e.get("dsv4:request_rejected_total", {{"status", "503"}}));
  EXPECT_EQ(
      e.at("dsv4:http_requests_total", {{"route", "/v1/chat/completions"}, {"status", "200"}}), 2);
  EXPECT_EQ(
      e.at("dsv4:http_requests_total", {{"route", "/v1/chat/completions"}, {"status", "429"}}), 1);
  EXPECT_EQ(e.at("dsv4:http_requests_total", {{"route", "/metrics"}, {"status", "200"}}), 1);
  EXPECT_EQ(e.at("dsv4:request_queue_time_seconds_count"), 3);
  EXPECT_DOUBLE_EQ(e.at("dsv4:request_queue_time_seconds_sum"), 2.002);
  EXPECT_EQ(e.at("dsv4:e2e_request_latency_seconds_count"), 3);
  EXPECT_DOUBLE_EQ(e.at("dsv4:e2e_request_latency_seconds_sum"), 33.25);
}

TEST(Metrics, UnknownFinishReasonGetsItsOwnLabel) {
  Metrics m;
  m.request_queued();
  m.request_started(0);
  m.request_finished("error", 1, 0, 0, 0.1);
  EXPECT_EQ(m.finished("error"), 1);
  Exposition e = parse(m.render());
  EXPECT_EQ(e.at("dsv4:request_success_total", {{"finish_reason", "error"}}), 1);
  for (const auto& r : kFinishReasons) {
    EXPECT_EQ(e.at("dsv4:request_success_total", {{"finish_reason", r}}), 0);
  }
}

TEST(Metrics, GaugesNeverNegative) {
  Metrics m;
  // Normal use: an interleaving of queue / start / cancel-while-queued / finish.
  int64_t waiting = 0, running = 0;
  for (int i = 0; i < 200; ++i) {
    switch (i % 5) {
      case 0:
      case 1:
        m.request_queued();
        ++waiting;
        break;
      case 2:
        m.request_started(0.01);
        --waiting, ++running;
        break;
      case 3:
        m.request_dequeued_without_start();
        --waiting;
        break;
      case 4:
        m.request_finished("stop", 1, 1, 0, 0.1);
        --running;
        break;
    }
    ASSERT_EQ(m.waiting(), waiting);
    ASSERT_EQ(m.running(), running);
    ASSERT_GE(m.waiting(), 0);
    ASSERT_GE(m.running(), 0);
  }
  // Unmatched decrements are dropped rather than going negative.
  Metrics fresh;
  fresh.request_dequeued_without_start();
  fresh.request_finished("cancelled", 0, 0, 0, 0);
  fresh.request_started(0);  // running +1 even without a matching queued
  EXPECT_EQ(fresh.waiting(), 0);
  EXPECT_EQ(fresh.running(), 1);
  Exposition e = parse(fresh.render());
  EXPECT_EQ(e.at("dsv4:num_requests_waiting"), 0);
  EXPECT_EQ(e.at("dsv4:num_requests_running"), 1);
  EXPECT_EQ(e.at("dsv4:request_success_total", {{"finish_reason", "cancelled"}}), 1);
}

TEST(Metrics, StatePoolAndLoadingGauges) {
  Metrics m;
  m.set_state_pool(3, 8, uint64_t{123456789012});
  m.set_loading(true);
  Exposition e = parse(m.render());
  EXPECT_EQ(e.at("dsv4:state_pool_used_slots"), 3);
  EXPECT_EQ(e.at("dsv4:state_pool_total_slots"), 8);
  EXPECT_DOUBLE_EQ(e.at("dsv4:state_pool_usage_ratio"), 0.375);
  EXPECT_EQ(e.at("dsv4:state_pool_bytes_per_slot"), 123456789012.0);
  EXPECT_EQ(e.at("dsv4:model_loading"), 1);
  m.set_loading(false);
  m.set_state_pool(0, 0, 0);
  e = parse(m.render());
  EXPECT_EQ(e.at("dsv4:model_loading"), 0);
  EXPECT_EQ(e.at("dsv4:state_pool_usage_ratio"), 0);
}

TEST(MetricsHistogram, BucketsAreCumulativeWithSumAndCount) {
  Metrics m;
  auto bounds = Metrics::inter_token_buckets();
  ASSERT_GE(bounds.size(), 2u);
  EXPECT_LE(bounds.front(), 0.001);
  EXPECT_GE(bounds.back(), 10);
  EXPECT_GE(Metrics::ttft_buckets().back(), 60);
  EXPECT_GE(Metrics::queue_time_buckets().back(), 60);
  EXPECT_GE(Metrics::e2e_buckets().back(), 600);
  // le is inclusive: a value equal to a bound lands in that bound's bucket.
  const std::vector<double> values = {0.0, bounds[0],     bounds[1],         bounds[1] * 1.0001,
                                      0.3, bounds.back(), bounds.back() * 2, 1e9};
  double sum = 0;
  for (double v : values) {
    m.observe_inter_token(v);
    sum += v;
  }
  Exposition e = parse(m.render());
  const std::string name = "dsv4:inter_token_latency_seconds";
  EXPECT_EQ(e.at(name + "_count"), values.size());
  EXPECT_DOUBLE_EQ(e.at(name + "_sum"), sum);
  EXPECT_EQ(e.at(name + "_bucket", {{"le", "+Inf"}}), values.size());
  for (double b : bounds) {
    double expected = 0;
    for (double v : values) expected += v <= b ? 1 : 0;
    // The le label is the bound's shortest round-trip spelling.
    double got = NAN;
    for (const auto& s : e.samples) {
      if (s.name != name + "_bucket" || s.labels.at("le") == "+Inf") continue;
      if (std::stod(s.labels.at("le")) == b) got = s.value;
    }
    EXPECT_EQ(got, expected) << "le=" << b;
  }
  // The other histograms are untouched.
  EXPECT_EQ(e.at("dsv4:time_to_first_token_seconds_count"), 0);
  EXPECT_EQ(e.at("dsv4:time_to_first_token_seconds_bucket", {{"le", "+Inf"}}), 0);
}

TEST(MetricsHistogram, EveryHistogramAndBadObservations) {
  Metrics m;
  m.observe_ttft(0.2);
  m.observe_ttft(45);
  m.observe_ttft(NAN);  // ignored
  m.observe_ttft(-1);   // a clock step: observed as 0
  m.request_queued();
  m.request_started(61);
  m.request_finished("stop", -5, 3, -1, 1800);  // negative token counts count as 0
  Exposition e = parse(m.render());
  EXPECT_EQ(e.at("dsv4:time_to_first_token_seconds_count"), 3);
  EXPECT_DOUBLE_EQ(e.at("dsv4:time_to_first_token_seconds_sum"), 45.2);
  EXPECT_EQ(e.at("dsv4:time_to_first_token_seconds_bucket", {{"le", "0.001"}}), 1);
  EXPECT_EQ(e.at("dsv4:time_to_first_token_seconds_bucket", {{"le", "60"}}), 3);
  EXPECT_EQ(e.at("dsv4:request_queue_time_seconds_bucket", {{"le", "60"}}), 0);
  EXPECT_EQ(e.at("dsv4:request_queue_time_seconds_bucket", {{"le", "+Inf"}}), 1);
  EXPECT_EQ(e.at("dsv4:e2e_request_latency_seconds_bucket", {{"le", "1920"}}), 1);
  EXPECT_EQ(e.at("dsv4:prompt_tokens_total"), 0);
  EXPECT_EQ(e.at("dsv4:generation_tokens_total"), 3);
  EXPECT_EQ(e.at("dsv4:reasoning_tokens_total"), 0);
}

TEST(MetricsExposition, LabelValuesAreEscaped) {
  EXPECT_EQ(Metrics::escape_label_value("plain/route"), "plain/route");
  EXPECT_EQ(Metrics::escape_label_value("a\\b\"c\nd"), "a\\\\b\\\"c\\nd");
  EXPECT_EQ(Metrics::escape_help("a\\b\"c\nd"), "a\\\\b\"c\\nd");

  Metrics m;
  const std::string nasty = "/x\\\"y\"\n}{,=z";
  m.http_request(nasty, 404);
  m.request_queued();
  m.request_started(0);
  m.request_finished("we\"ird\\\n", 0, 0, 0, 0);
  const std::string text = m.render();
  EXPECT_NE(text.find(R"(route="/x\\\"y\"\n}{,=z")"), std::string::npos) << text;
  Exposition e = parse(text);
  EXPECT_EQ(e.at("dsv4:http_requests_total", {{"route", nasty}, {"status", "404"}}), 1);
  EXPECT_EQ(e.at("dsv4:request_success_total", {{"finish_reason", "we\"ird\\\n"}}), 1);
}

TEST(MetricsExposition, ParserRejectsBrokenText) {
  // The validating parser itself must catch what it claims to.
  auto failures = [](const std::string& text) {
    ::testing::TestPartResultArray results;
    {
      ::testing::ScopedFakeTestPartResultReporter reporter(
          ::testing::ScopedFakeTestPartResultReporter::INTERCEPT_ONLY_CURRENT_THREAD, &results);
      parse(text);
    }
    return results.size();
  };
  EXPECT_EQ(failures("# HELP a_total x\n# TYPE a_total counter\na_total 1\n"), 0);
  EXPECT_GT(failures("a_total 1\n"), 0);                          // no HELP/TYPE
  EXPECT_GT(failures("# TYPE a_total counter\na_total 1\n"), 0);  // no HELP
  EXPECT_GT(failures("# HELP a_total x\n# TYPE a_total counter\na_total{l=\"x} 1\n"), 0);
  EXPECT_GT(failures("# HELP a_total x\n# TYPE a_total counter\na_total one\n"), 0);
  EXPECT_GT(failures("# HELP h x\n# TYPE h histogram\nh_bucket{le=\"1\"} 2\n"
                     "h_bucket{le=\"+Inf\"} 1\nh_sum 1\nh_count 1\n"),
            0);  // not cumulative
  EXPECT_GT(failures("# HELP h x\n# TYPE h histogram\nh_bucket{le=\"1\"} 1\n"
                     "h_bucket{le=\"+Inf\"} 2\nh_sum 1\nh_count 3\n"),
            0);  // +Inf != count
}

TEST(MetricsConcurrency, TotalsExactUnderContention) {
  Metrics m;
  constexpr int kThreads = 8;
  constexpr int kRequests = 500;
  constexpr int kTokens = 20;
  std::atomic<bool> stop{false};
  std::atomic<int> renders{0};
  // A scraper renders and validates while the workers run.
  std::thread scraper([&] {
    while (!stop.load()) {
      Exposition e = parse(m.render());
      EXPECT_GE(e.at("dsv4:num_requests_waiting"), 0);
      EXPECT_GE(e.at("dsv4:num_requests_running"), 0);
      renders.fetch_add(1);
    }
  });
  std::vector<std::thread> workers;
  for (int t = 0; t < kThreads; ++t) {
    workers.emplace_back([&m, t] {
      for (int r = 0; r < kRequests; ++r) {
        m.request_queued();
        if (r % 10 == 9) {
          m.request_dequeued_without_start();
          m.request_rejected(503);
          m.http_request("/v1/chat/completions", 503);
          continue;
        }
        m.request_started(0.001 * t);
        m.observe_ttft(0.05);
        for (int k = 1; k < kTokens; ++k) m.observe_inter_token(0.125);
        m.request_finished(r % 2 ? "stop" : "length", 7, kTokens, 2, 1.5);
        m.http_request("/v1/chat/completions", 200);
      }
    });
  }
  for (auto& w : workers) w.join();
  stop = true;
  scraper.join();
  EXPECT_GT(renders.load(), 0);

  const int started_per_thread = kRequests - kRequests / 10;  // 450
  const int64_t started = int64_t{kThreads} * started_per_thread;
  const int64_t refused = int64_t{kThreads} * (kRequests / 10);
  EXPECT_EQ(m.running(), 0);
  EXPECT_EQ(m.waiting(), 0);
  EXPECT_EQ(m.finished("stop") + m.finished("length"), started);
  EXPECT_EQ(m.finished("stop"), int64_t{kThreads} * 200);  // odd r, less r % 10 == 9
  Exposition e = parse(m.render());
  EXPECT_EQ(e.at("dsv4:prompt_tokens_total"), 7 * started);
  EXPECT_EQ(e.at("dsv4:generation_tokens_total"), kTokens * started);
  EXPECT_EQ(e.at("dsv4:reasoning_tokens_total"), 2 * started);
  EXPECT_EQ(e.at("dsv4:request_rejected_total", {{"status", "503"}}), refused);
  EXPECT_EQ(
      e.at("dsv4:http_requests_total", {{"route", "/v1/chat/completions"}, {"status", "200"}}),
      started);
  EXPECT_EQ(
      e.at("dsv4:http_requests_total", {{"route", "/v1/chat/completions"}, {"status", "503"}}),
      refused);
  EXPECT_EQ(e.at("dsv4:time_to_first_token_seconds_count"), started);
  EXPECT_EQ(e.at("dsv4:inter_token_latency_seconds_count"), (kTokens - 1) * started);
  // 0.125 is exact in binary, so the sum is exact too.
  EXPECT_EQ(e.at("dsv4:inter_token_latency_seconds_sum"), 0.125 * (kTokens - 1) * started);
  EXPECT_EQ(e.at("dsv4:inter_token_latency_seconds_bucket", {{"le", "0.1"}}), 0);
  EXPECT_EQ(e.at("dsv4:inter_token_latency_seconds_bucket", {{"le", "0.15"}}),
            (kTokens - 1) * started);
  EXPECT_EQ(e.at("dsv4:e2e_request_latency_seconds_count"), started);
  EXPECT_EQ(e.at("dsv4:request_queue_time_seconds_count"), started);
}

}  // namespace
}  // namespace dsv4::server
