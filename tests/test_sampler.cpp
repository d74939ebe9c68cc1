// The Sampler: greedy and its ties, the seeded per-sequence streams, top-k / top-p / min-p on
// hand-built distributions (including exact top-p boundaries), the penalty arithmetic, logit_bias,
// the EOS and stop-token masks, raw logprobs, a frequency test against softmax(logits / T), and
// SamplingParams::validate.
#include <algorithm>
#include <cmath>
#include <limits>
#include <map>
#include <random>
#include <set>

#include "generate/sampler.h"
#include "generate/sampling_params.h"
#include "test_util.h"

namespace dsv4 {
namespace {

constexpr float kInf = std::numeric_limits<float>::infinity();

SamplingParams seeded(uint64_t seed = 7) {
  SamplingParams p;
  p.seed = seed;
  return p;
}

// `n` draws of one Sampler over the same row, at positions 0..n-1 (a fresh copy each time).
std::vector<int32_t> draws(const Sampler& s, const std::vector<float>& row, int n) {
  std::vector<int32_t> out;
  std::vector<int32_t> gen;
  for (int i = 0; i < n; ++i) {
    std::vector<float> l = row;
    gen.resize(static_cast<size_t>(i));  // the position is generated.size()
    out.push_back(s.sample(l, {}, gen).token);
  }
  return out;
}

std::set<int32_t> support(const Sampler& s, const std::vector<float>& row, int n = 2000) {
  std::vector<int32_t> d = draws(s, row, n);
  return {d.begin(), d.end()};
}

// Logits whose softmax is exactly proportional to `probs`.
std::vector<float> logits_of(const std::vector<double>& probs) {
  std::vector<float> l;
  for (double p : probs) l.push_back(p > 0 ? static_cast<float>(std::log(p)) : -kInf);
  return l;
}

std::vector<float> gaussian_row(size_t n, float sd, uint32_t seed) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> d(0, sd);
  std::vector<float> l(n);
  for (float& x : l) x = d(rng);
  return l;
}

TEST(Sampler, GreedyPicksArgmaxLowestIdOnTies) {
  SamplingParams p = seeded();
  p.temperature = 0;
  Sampler s(p, {}, 0);
  std::vector<float> l = {1, 3, -2, 3, 0};
  EXPECT_EQ(s.sample(l, {}, {}).token, 1);
  l = {-kInf, std::numeric_limits<float>::quiet_NaN(), -5, -5};
  EXPECT_EQ(s.sample(l, {}, {}).token, 2);
}

TEST(Sampler, TemperatureZeroIgnoresSeed) {
  std::vector<float> row = gaussian_row(1000, 0.1f, 1);  // nearly flat: sampling would wander
  std::vector<int32_t> ref;
  for (uint64_t seed : {1, 2, 3}) {
    SamplingParams p = seeded(seed);
    p.temperature = 0;
    std::vector<int32_t> d = draws(Sampler(p, {}, seed), row, 20);
    if (ref.empty()) ref = d;
    EXPECT_EQ(d, ref);
  }
  EXPECT_EQ(ref[0], std::max_element(row.begin(), row.end()) - row.begin());
}

TEST(Sampler, SameSeedSameSequence) {
  std::vector<float> row = gaussian_row(500, 1, 2);
  std::vector<int32_t> a = draws(Sampler(seeded(42), {}, 3), row, 100);
  std::vector<int32_t> b = draws(Sampler(seeded(42), {}, 3), row, 100);
  EXPECT_EQ(a, b);
  std::vector<int32_t> c = draws(Sampler(seeded(43), {}, 3), row, 100);
  EXPECT_NE(a, c);
}

TEST(Sampler, SaltsGiveIndependentStreamsWhateverTheInterleaving) {
  std::vector<float> row = gaussian_row(500, 1, 3);
  Sampler a(seeded(), {}, 0), b(seeded(), {}, 1);
  std::vector<int32_t> alone = draws(Sampler(seeded(), {}, 0), row, 64);
  std::vector<int32_t> ia, ib, gen;
  for (int i = 0; i < 64; ++i) {  // interleaved, as rows of one batch, b sometimes twice
    gen.resize(static_cast<size_t>(i));
    std::vector<float> l = row;
    ib.push_back(b.sample(l, {}, gen).token);
    if (i % 3 == 0) l = row, b.sample(l, {}, gen);
    l = row;
    ia.push_back(a.sample(l, {}, gen).token);
  }
  EXPECT_EQ(ia, alone);
  EXPECT_NE(ia, ib);
  int same = 0;
  for (int i = 0; i < 64; ++i) same += ia[i] == ib[i];
  EXPECT_LT(same, 8);  // 500 near-uniform tokens: coincidences are rare
  // The uniforms of two salts are uncorrelated.
  double sab = 0;
  for (uint64_t i = 0; i < 4000; ++i) sab += (a.uniform(i) - 0.5) * (b.uniform(i) - 0.5);
  EXPECT_LT(std::abs(sab / 4000), 0.01);
}

TEST(Sampler, TopKOneIsGreedy) {
  for (uint32_t seed = 0; seed < 20; ++seed) {
    std::vector<float> row = gaussian_row(3000, 2, seed);
    SamplingParams p = seeded(seed);
    p.top_k = 1;
    p.temperature = 1.5f;
    std::vector<float> l = row;
    EXPECT_EQ(Sampler(p, {}, 0).sample(l, {}, {}).token,
              std::max_element(row.begin(), row.end()) - row.begin());
  }
}

TEST(Sampler, TopKKeepsTheKLikeliest) {
  std::vector<float> row = {0, 5, 1, 5, 4, 3, 5};  // ties at 5 straddle k = 2: lowest ids win
  SamplingParams p = seeded();
  p.top_k = 2;
  EXPECT_EQ(support(Sampler(p, {}, 0), row, 500), (std::set<int32_t>{1, 3}));
  p.top_k = 4;
  EXPECT_EQ(support(Sampler(p, {}, 0), row, 500), (std::set<int32_t>{1, 3, 4, 6}));
}

TEST(Sampler, TopPKeepsTheSmallestSetReachingP) {
  // Ids out of probability order, so the sort matters: p(3)=.5 p(0)=.3 p(2)=.15 p(1)=.05
  std::vector<float> row = logits_of({0.3, 0.05, 0.15, 0.5});
  SamplingParams p = seeded();
  auto with = [&](float top_p) {
    p.top_p = top_p;
    return support(Sampler(p, {}, 0), row);
  };
  EXPECT_EQ(with(0.45f), (std::set<int32_t>{3}));
  EXPECT_EQ(with(0.79f), (std::set<int32_t>{0, 3}));
  EXPECT_EQ(with(0.81f), (std::set<int32_t>{0, 2, 3}));
  EXPECT_EQ(with(0.96f), (std::set<int32_t>{0, 1, 2, 3}));
}

TEST(Sampler, TopPBoundaryExactlyP) {
  // Equal logits make every weight exactly 1, so the cumulative mass hits p exactly: the set that
  // reaches p stops there, ties taken in id order.
  std::vector<float> row(4, 0.f);
  SamplingParams p = seeded();
  p.top_p = 0.5f;
  EXPECT_EQ(support(Sampler(p, {}, 0), row), (std::set<int32_t>{0, 1}));
  p.top_p = 0.75f;
  EXPECT_EQ(support(Sampler(p, {}, 0), row), (std::set<int32_t>{0, 1, 2}));
  p.top_p = std::nextafter(0.5f, 1.f);
  EXPECT_EQ(support(Sampler(p, {}, 0), row), (std::set<int32_t>{0, 1, 2}));
}

TEST(Sampler, TopPOnAFlatFullVocabularyRetriesTheThreshold) {
  // 129,280 equal tokens each hold ~7.7e-6 < the first threshold: the search must widen.
  std::vector<float> row(129280, 0.f);
  SamplingParams p = seeded();
  p.top_p = 0.5f;
  std::vector<int32_t> d = draws(Sampler(p, {}, 0), row, 300);
  EXPECT_LT(*std::max_element(d.begin(), d.end()), 64640);
  EXPECT_GT(*std::max_element(d.begin(), d.end()), 50000);
}

// The nucleus by brute force: softmax(l / T), full sort, smallest prefix reaching p.
std::set<int32_t> reference_nucleus(const std::vector<float>& l, float t, float top_p) {
  std::vector<int32_t> ids(l.size());
  for (size_t i = 0; i < l.size(); ++i) ids[i] = static_cast<int32_t>(i);
  std::sort(ids.begin(), ids.end(), [&](int32_t a, int32_t b) { return l[a] > l[b]; });
  double z = 0;
  for (float x : l) z += std::exp((x - l[ids[0]]) / t);
  std::set<int32_t> out;
  double cum = 0;
  for (int32_t id : ids) {
    out.insert(id);
    cum += std::exp((l[id] - l[ids[0]]) / t) / z;
    if (cum >= top_p) break;
  }
  return out;
}

TEST(Sampler, TopPOnTheFullVocabularyMatchesAFullSort) {
  for (float sd : {1.f, 4.f}) {
    std::vector<float> row = gaussian_row(129280, sd, 5);
    SamplingParams p = seeded();
    p.top_p = 0.9f;
    p.temperature = 0.8f;
    std::set<int32_t> ref = reference_nucleus(row, 0.8f, 0.9f);
    for (int32_t id : support(Sampler(p, {}, 0), row, 300)) EXPECT_TRUE(ref.count(id)) << id;
  }
}

TEST(Sampler, MinPKeepsTokensAboveAFractionOfTheLikeliest) {
  std::vector<float> row = logits_of({0.3, 0.05, 0.15, 0.5});
  SamplingParams p = seeded();
  p.min_p = 0.2f;  // keeps p >= 0.1
  EXPECT_EQ(support(Sampler(p, {}, 0), row), (std::set<int32_t>{0, 2, 3}));
  p.min_p = 0.35f;  // keeps p >= 0.175
  EXPECT_EQ(support(Sampler(p, {}, 0), row), (std::set<int32_t>{0, 3}));
  p.temperature = 2;  // on the tempered distribution: sqrt ratios .77 .55 .32 of the max
  p.min_p = 0.5f;
  EXPECT_EQ(support(Sampler(p, {}, 0), row), (std::set<int32_t>{0, 2, 3}));
}

TEST(Sampler, TopPAndMinPIntersect) {
  std::vector<float> row = logits_of({0.3, 0.05, 0.15, 0.5});
  SamplingParams p = seeded();
  p.min_p = 0.2f;   // keeps p >= 0.1: {0, 2, 3}
  p.top_p = 0.96f;  // all four
  EXPECT_EQ(support(Sampler(p, {}, 0), row), (std::set<int32_t>{0, 2, 3}));
  p.top_p = 0.79f;  // {0, 3}
  EXPECT_EQ(support(Sampler(p, {}, 0), row), (std::set<int32_t>{0, 3}));
  p.top_k = 3;  // the same through the top-k path
  EXPECT_EQ(support(Sampler(p, {}, 0), row), (std::set<int32_t>{0, 3}));
}

TEST(Sampler, PenaltyArithmetic) {
  SamplingParams p = seeded();
  p.temperature = 0;
  p.repetition_penalty = 2;
  p.presence_penalty = 0.5f;
  p.frequency_penalty = 0.25f;
  Sampler s(p, {}, 0);
  std::vector<float> l = {2, -2, 1, 0.5f, 3};
  std::vector<int32_t> prompt = {0, 1, 1}, gen = {2, 2, 3};
  EXPECT_EQ(s.sample(l, prompt, gen).token, 4);
  // repetition over prompt+generated, once per distinct token: 2/2, -2*2, 1/2, 0.5/2;
  // then generated counts: id 2 twice (0.5 - 2*.25 - .5), id 3 once (.25 - .25 - .5).
  EXPECT_EQ(l, (std::vector<float>{1, -4, -0.5f, -0.5f, 3}));

  p.presence_penalty = p.frequency_penalty = 0;
  p.repetition_window = 2;  // the last two tokens of prompt+generated: 2 and 3
  l = {2, -2, 1, 0.5f, 3};
  Sampler(p, {}, 0).sample(l, prompt, gen);
  EXPECT_EQ(l, (std::vector<float>{2, -2, 0.5f, 0.25f, 3}));
  p.repetition_window = 4;  // 1, 2, 2, 3: reaches back into the prompt
  l = {2, -2, 1, 0.5f, 3};
  Sampler(p, {}, 0).sample(l, prompt, gen);
  EXPECT_EQ(l, (std::vector<float>{2, -4, 0.5f, 0.25f, 3}));
}

TEST(Sampler, NegativePenaltiesEncourage) {
  SamplingParams p = seeded();
  p.temperature = 0;
  p.presence_penalty = -2;
  std::vector<float> l = {1, 0};
  std::vector<int32_t> gen = {1};
  EXPECT_EQ(Sampler(p, {}, 0).sample(l, {}, gen).token, 1);
  EXPECT_EQ(l, (std::vector<float>{1, 2}));
}

TEST(Sampler, LogitBias) {
  std::vector<float> row = {5, 0, 0};
  SamplingParams p = seeded();
  p.logit_bias = {{0, -100}};
  EXPECT_EQ(support(Sampler(p, {}, 0), row, 1000), (std::set<int32_t>{1, 2}));
  p.temperature = 0;
  p.logit_bias = {{2, 5.5f}};
  std::vector<float> l = row;
  EXPECT_EQ(Sampler(p, {}, 0).sample(l, {}, {}).token, 2);
  EXPECT_EQ(l[2], 5.5f);
}

TEST(Sampler, MinTokensMasksEosAndStopTokens) {
  SamplingParams p = seeded();
  p.temperature = 0;
  p.min_tokens = 2;
  p.stop_token_ids = {1};
  Sampler s(p, {0}, 0);
  std::vector<int32_t> gen;
  std::vector<float> l = {9, 8, 1};
  EXPECT_EQ(s.sample(l, {}, gen).token, 2);
  EXPECT_EQ(l[0], -kInf);
  EXPECT_EQ(l[1], -kInf);
  gen = {2};
  l = {9, 8, 1};
  EXPECT_EQ(s.sample(l, {}, gen).token, 2);
  gen = {2, 2};
  l = {9, 8, 1};
  EXPECT_EQ(s.sample(l, {}, gen).token, 0);
  l = {7, 8, 1};
  EXPECT_EQ(s.sample(l, {}, gen).token, 1);
}

TEST(Sampler, IgnoreEosMasksEosForever) {
  SamplingParams p = seeded();
  p.ignore_eos = true;
  std::vector<float> row = {0, 0, 5};
  Sampler s(p, {2}, 0);
  EXPECT_EQ(support(s, row, 500), (std::set<int32_t>{0, 1}));
}

TEST(Sampler, NothingLeftToSampleIsAnError) {
  SamplingParams p = seeded();
  p.ignore_eos = true;
  std::vector<float> l = {-kInf, 3};
  EXPECT_NE(test::error_of([&] { Sampler(p, {1}, 0).sample(l, {}, {}); }).find("no token"),
            std::string::npos);
}

TEST(Sampler, IdsOutsideTheRowAreErrors) {
  SamplingParams p = seeded();
  p.logit_bias = {{5, 1}};
  std::vector<float> l = {0, 0};
  EXPECT_NE(test::error_of([&] { Sampler(p, {}, 0).sample(l, {}, {}); }).find("token 5"),
            std::string::npos);
  p.logit_bias.clear();
  p.repetition_penalty = 1.1f;
  std::vector<int32_t> prompt = {0, 7};
  EXPECT_NE(test::error_of([&] { Sampler(p, {}, 0).sample(l, prompt, {}); }).find("prompt"),
            std::string::npos);
  p.repetition_penalty = 1;
  p.frequency_penalty = 1;
  std::vector<int32_t> gen = {-1};
  EXPECT_NE(test::error_of([&] { Sampler(p, {}, 0).sample(l, {}, gen); }).find("token -1"),
            std::string::npos);
}

TEST(Sampler, LogprobsAreTheRawLogSoftmax) {
  std::vector<float> row = {1, 3, -2, 3, 0.5f, -kInf};
  double z = 0;
  for (float x : row) z += std::exp(static_cast<double>(x));
  SamplingParams p = seeded();
  p.logprobs = true;
  p.top_logprobs = 3;
  p.temperature = 0.3f;
  p.presence_penalty = 2;
  p.logit_bias = {{0, 7}};  // makes token 0 the choice; its logprob stays the raw one
  std::vector<float> l = row;
  std::vector<int32_t> gen = {1, 3};
  Sampler::Choice c = Sampler(p, {}, 0).sample(l, {}, gen);
  EXPECT_EQ(c.token, 0);
  EXPECT_NEAR(c.logprob, 1 - std::log(z), 1e-5);
  ASSERT_EQ(c.top.size(), 3u);
  EXPECT_EQ(c.top[0].first, 1);  // tie at 3: lowest id first
  EXPECT_EQ(c.top[1].first, 3);
  EXPECT_EQ(c.top[2].first, 0);
  EXPECT_NEAR(c.top[0].second, 3 - std::log(z), 1e-5);
  EXPECT_NEAR(c.top[2].second, 1 - std::log(z), 1e-5);

  // A wide row: the vectorised exp agrees with a double-precision log-softmax.
  std::vector<float> wide = gaussian_row(10000, 5, 13);
  double wm = *std::max_element(wide.begin(), wide.end()), wz = 0;
  for (float x : wide) wz += std::exp(x - wm);
  SamplingParams q = seeded();
  q.logprobs = true;
  q.top_logprobs = 20;
  l = wide;
  c = Sampler(q, {}, 0).sample(l, {}, {});
  EXPECT_NEAR(c.logprob, wide[c.token] - wm - std::log(wz), 1e-4);
  ASSERT_EQ(c.top.size(), 20u);
  for (size_t i = 0; i < c.top.size(); ++i) {
    EXPECT_NEAR(c.top[i].second, wide[c.top[i].first] - wm - std::log(wz), 1e-4);
    if (i > 0) {
      EXPECT_GE(c.top[i - 1].second, c.top[i].second);
    }
  }

  p.logprobs = false;
  p.top_logprobs = 0;
  l = row;
  c = Sampler(p, {}, 0).sample(l, {}, gen);
  EXPECT_TRUE(std::isnan(c.logprob));
  EXPECT_TRUE(c.top.empty());
}

// Pearson's chi-square of `n` draws against the expected probabilities.
double chi_square(const Sampler& s, const std::vector<float>& row, const std::vector<double>& want,
                  int n) {
  std::vector<int> count(row.size());
  for (int32_t t : draws(s, row, n)) ++count[t];
  double chi = 0;
  for (size_t i = 0; i < row.size(); ++i) {
    if (want[i] == 0) {
      EXPECT_EQ(count[i], 0) << "token " << i << " is outside the distribution";
      continue;
    }
    const double e = want[i] * n;
    chi += (count[i] - e) * (count[i] - e) / e;
  }
  return chi;
}

TEST(Sampler, FrequenciesMatchSoftmaxOverTemperature) {
  std::vector<float> row = gaussian_row(20, 1, 11);
  for (float t : {0.5f, 1.f, 1.7f}) {
    double z = 0;
    std::vector<double> want;
    for (float x : row) want.push_back(std::exp(x / t)), z += want.back();
    for (double& w : want) w /= z;
    SamplingParams p = seeded(99);
    p.temperature = t;
    // 19 degrees of freedom: mean 19, p(chi2 > 60) ~ 3e-6.
    EXPECT_LT(chi_square(Sampler(p, {}, 0), row, want, 40000), 60) << "T = " << t;
  }
}

TEST(Sampler, TruncatedFrequenciesAreRenormalised) {
  std::vector<float> row = gaussian_row(20, 1, 12);
  SamplingParams p = seeded(5);
  p.temperature = 0.7f;
  p.top_k = 8;
  p.top_p = 0.8f;
  // Reference: top 8 by logit, renormalise, smallest prefix reaching 0.8, renormalise again.
  std::vector<int32_t> ids(row.size());
  for (size_t i = 0; i < ids.size(); ++i) ids[i] = static_cast<int32_t>(i);
  std::sort(ids.begin(), ids.end(), [&](int32_t a, int32_t b) { return row[a] > row[b]; });
  ids.resize(8);
  double z = 0;
  for (int32_t id : ids) z += std::exp(row[id] / 0.7);
  std::vector<double> want(row.size(), 0);
  double cum = 0, kept = 0;
  for (int32_t id : ids) {
    want[id] = std::exp(row[id] / 0.7) / z;
    cum += want[id];
    kept += want[id];
    if (cum >= 0.8) break;
  }
  int df = -1;
  for (double& w : want) w /= kept, df += w > 0;
  ASSERT_GE(df, 2);
  EXPECT_LT(chi_square(Sampler(p, {}, 0), row, want, 40000), 10 + 3 * df);
}

TEST(SamplingParams, ValidateNamesTheField) {
  auto err = [](auto edit) {
    SamplingParams p;
    edit(p);
    return test::error_of([&] { p.validate(100); });
  };
  SamplingParams ok;
  EXPECT_NO_THROW(ok.validate(100));
  auto has = [](const std::string& msg, const char* what) {
    return msg.find(what) != std::string::npos;
  };
  EXPECT_TRUE(has(err([](SamplingParams& p) { p.temperature = 2.5f; }), "temperature = 2.5"));
  EXPECT_TRUE(has(err([](SamplingParams& p) { p.temperature = NAN; }), "temperature"));
  EXPECT_TRUE(has(err([](SamplingParams& p) { p.top_p = 0; }), "top_p = 0 is out of range (0, 1]"));
  EXPECT_TRUE(has(err([](SamplingParams& p) { p.min_p = -0.1f; }), "min_p"));
  EXPECT_TRUE(has(err([](SamplingParams& p) { p.top_k = -1; }), "top_k"));
  EXPECT_TRUE(has(err([](SamplingParams& p) { p.presence_penalty = 3; }), "presence_penalty"));
  EXPECT_TRUE(has(err([](SamplingParams& p) { p.frequency_penalty = -3; }), "frequency_penalty"));
  EXPECT_TRUE(has(err([](SamplingParams& p) { p.repetition_penalty = 0; }), "repetition_penalty"));
  EXPECT_TRUE(has(err([](SamplingParams& p) { p.repetition_window = -2; }), "repetition_window"));
  EXPECT_TRUE(has(err([](SamplingParams& p) { p.logit_bias = {{100, 1}}; }), "logit_bias"));
  EXPECT_TRUE(has(err([](SamplingParams& p) { p.logit_bias = {{3, 101}}; }), "[-100, 100]"));
  EXPECT_TRUE(has(err([](SamplingParams& p) { p.logit_bias = {{3, 1}, {3, 2}}; }), "twice"));
  EXPECT_TRUE(has(err([](SamplingParams& p) { p.top_logprobs = 21, p.logprobs = true; }),
                  "top_logprobs = 21"));
  EXPECT_TRUE(has(err([](SamplingParams& p) { p.top_logprobs = 2; }), "needs logprobs"));
  EXPECT_TRUE(has(err([](SamplingParams& p) { p.max_tokens = 0; }), "max_tokens"));
  EXPECT_TRUE(has(err([](SamplingParams& p) { p.min_tokens = -1; }), "min_tokens"));
  EXPECT_TRUE(has(err([](SamplingParams& p) { p.min_tokens = 5, p.max_tokens = 4; }),
                  "exceeds max_tokens"));
  EXPECT_TRUE(has(err([](SamplingParams& p) { p.stop.assign(17, "x"); }), "at most 16"));
  EXPECT_TRUE(has(err([](SamplingParams& p) { p.stop = {"a", ""}; }), "stop[1] is empty"));
  EXPECT_TRUE(has(err([](SamplingParams& p) { p.stop_token_ids = {100}; }), "stop_token_ids"));
}

}  // namespace
}  // namespace dsv4
