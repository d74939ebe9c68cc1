#include "generate/sampler.h"

#include <algorithm>
#include <bit>
#include <cmath>
#include <cstring>
#include <limits>
#include <random>

#include "util/error.h"

namespace dsv4 {

namespace {

constexpr float kNegInf = -std::numeric_limits<float>::infinity();

// top-p buckets weights by their float exponent and top kWeightBinBits of mantissa: a bucket spans
// a ratio of at most 1 + 2^-kWeightBinBits, and weights <= 1 fit in kWeightBins buckets.
constexpr int kWeightBinBits = 4;
constexpr int kWeightBinShift = 23 - kWeightBinBits;
constexpr size_t kWeightBins = (0x3F800000u >> kWeightBinShift) + 1;

uint64_t splitmix64(uint64_t x) {
  x += 0x9E3779B97F4A7C15ull;
  x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ull;
  x = (x ^ (x >> 27)) * 0x94D049BB133111EBull;
  return x ^ (x >> 31);
}

struct Cand {
  float logit;
  int32_t id;
  float w = 0;  // exp((logit - max) / T), where needed
};

// Likelier first, then the lower id, so that every ordering (and so every choice) is deterministic.
bool better(const Cand& a, const Cand& b) {
  return a.logit > b.logit || (a.logit == b.logit && a.id < b.id);
}

// NaN and -inf are never candidates.
bool usable(float l) {
  return l > kNegInf;
}

// Per-thread scratch, so that a Sampler per sequence costs no vocabulary-sized memory and rows of
// a batch can be sampled on several threads.
struct Scratch {
  std::vector<uint32_t> stamp;  // stamp[id] == epoch: id was seen in the current pass
  std::vector<int32_t> count;   // valid where stamped
  std::vector<int32_t> seen;
  uint32_t epoch = 0;
  std::vector<float> raw;
  std::vector<Cand> cands;
  std::vector<float> weights;  // one per vocabulary entry

  uint32_t next_epoch(size_t vocab) {
    if (stamp.size() < vocab) {
      stamp.assign(vocab, 0);
      count.resize(vocab);
      epoch = 0;
    }
    if (++epoch == 0) {
      std::fill(stamp.begin(), stamp.end(), 0);
      epoch = 1;
    }
    return epoch;
  }
};

thread_local Scratch t_scratch;

// The k best usable entries of `logits` that are >= cut, best first. A bounded heap keeps this one
// pass over the row with a single comparison for almost every token.
void best_k(std::span<const float> logits, size_t k, float cut, std::vector<Cand>& out) {
  out.clear();
  if (k == 0) return;
  const int32_t n = static_cast<int32_t>(logits.size());
  for (int32_t i = 0; i < n; ++i) {
    const float l = logits[i];
    if (!usable(l) || l < cut) continue;
    if (out.size() < k) {
      out.push_back({l, i});
      std::push_heap(out.begin(), out.end(), better);  // the worst kept sits at the front
    } else if (l > out.front().logit) {
      std::pop_heap(out.begin(), out.end(), better);
      out.back() = {l, i};
      std::push_heap(out.begin(), out.end(), better);
    }
  }
  std::sort_heap(out.begin(), out.end(), better);
}

// w[i] = exp((l[i] - m) * inv_t) for l[i] <= m, 0 for -inf, NaN and arguments below -87 (where
// float underflows). This is most of a sampling pass and libm's expf is a call per element that
// the compiler cannot vectorise, so it is a Cody-Waite reduction and a degree-6 polynomial
// (relative error < 2.5e-7) over GCC/Clang vector extensions: SSE2 at the x86-64 baseline, NEON on
// ARM.
void exp_row(std::span<const float> l, float m, float inv_t, std::span<float> w) {
  using F = float __attribute__((vector_size(16)));
  using I = int32_t __attribute__((vector_size(16)));
  constexpr float kMagic = 12582912.f;  // 1.5 * 2^23: adding it rounds to an integer in low bits
  const F vm = F{} + m, vinv = F{} + inv_t, lo = F{} - 87.f, magic = F{} + kMagic;
  const size_t n = l.size();
  size_t i = 0;
  for (; i + 4 <= n; i += 4) {
    F v;
    std::memcpy(&v, l.data() + i, sizeof v);
    const F x = (v - vm) * vinv;
    const I keep = (v > F{} + kNegInf) & (x > lo);  // all-ones lanes; NaN compares false
    const F xc = (F)(((I)x & keep) | ((I)lo & ~keep));
    const F t = xc * 1.44269504f + magic;
    const F k = t - magic;
    const F r = (xc - k * 0.693145751953125f) - k * 1.42860677e-06f;  // |r| <= ln2 / 2
    F p = F{} + 1.f / 720;
    p = p * r + 1.f / 120;
    p = p * r + 1.f / 24;
    p = p * r + 1.f / 6;
    p = p * r + 0.5f;
    p = p * r + 1.f;
    p = p * r + 1.f;
    const I e = (I)t - (I)magic;
    const F out = (F)((I)(p * (F)((e + 127) << 23)) & keep);
    std::memcpy(w.data() + i, &out, sizeof out);
  }
  for (; i < n; ++i) {
    const float x = (l[i] - m) * inv_t;
    w[i] = l[i] > kNegInf && x > -87.f ? std::exp(x) : 0.f;
  }
}

// The largest entry, ignoring NaN (-inf when there is none). Eight independent lanes let the
// compiler vectorise what is otherwise one long dependency chain.
float row_max(std::span<const float> l) {
  float acc[8];
  std::fill(acc, acc + 8, kNegInf);
  size_t i = 0;
  for (; i + 8 <= l.size(); i += 8) {
    for (size_t j = 0; j < 8; ++j) acc[j] = l[i + j] > acc[j] ? l[i + j] : acc[j];
  }
  for (; i < l.size(); ++i) acc[0] = l[i] > acc[0] ? l[i] : acc[0];
  float m = acc[0];
  for (size_t j = 1; j < 8; ++j) m = acc[j] > m ? acc[j] : m;
  return m;
}

// Eight float lanes, each folded into a double every block, so that the compiler may vectorise and
// 129k terms still sum to double-like accuracy.
double sum(std::span<const float> v) {
  double total = 0;
  constexpr size_t kBlock = 1024;
  for (size_t b = 0; b < v.size(); b += kBlock) {
    const size_t end = std::min(v.size(), b + kBlock);
    float acc[8] = {};
    size_t i = b;
    for (; i + 8 <= end; i += 8) {
      for (size_t j = 0; j < 8; ++j) acc[j] += v[i + j];
    }
    for (; i < end; ++i) acc[0] += v[i];
    for (float a : acc) total += a;
  }
  return total;
}

uint32_t weight_bin(float w) {
  return std::min<uint32_t>(std::bit_cast<uint32_t>(w) >> kWeightBinShift, kWeightBins - 1);
}

// The nucleus of the row whose weights are `w` (0 = excluded): the smallest best-first set whose
// weight reaches `target`, into `out`, returning its size. Sorting 129k weights per token would
// dominate sampling, so one pass buckets the mass by weight (monotone in the logit), a walk down
// the buckets finds the one where the cumulative mass crosses `target`, and only that bucket is
// sorted to place the exact boundary. Linear time whatever the shape of the row.
size_t nucleus(std::span<const float> logits, std::span<const float> w, double target,
               std::vector<Cand>& out) {
  static thread_local std::vector<double> mass;
  mass.assign(kWeightBins, 0);
  for (float x : w) mass[weight_bin(x)] += x;  // x in [0, 1]; bin 0 collects the zeros
  uint32_t edge = 1;  // the bucket where the mass crosses target (the last non-empty one if never)
  double above = 0;   // the mass of the buckets above edge
  for (uint32_t b = kWeightBins - 1; b >= 1; --b) {
    if (mass[b] == 0) continue;
    edge = b;
    if (above + mass[b] >= target) break;
    above += mass[b];
  }
  out.clear();
  for (size_t i = 0; i < w.size(); ++i) {
    if (w[i] > 0 && weight_bin(w[i]) >= edge)
      out.push_back({logits[i], static_cast<int32_t>(i), w[i]});
  }
  auto mid =
      std::partition(out.begin(), out.end(), [&](const Cand& c) { return weight_bin(c.w) > edge; });
  std::sort(mid, out.end(), better);
  double cum = above;
  for (auto it = mid; it != out.end(); ++it) {
    cum += it->w;
    if (cum >= target) return static_cast<size_t>(it - out.begin()) + 1;
  }
  return out.size();  // the whole row falls short of target (by rounding): keep it all
}

}  // namespace

Sampler::Sampler(const SamplingParams& params, std::vector<int32_t> eos_ids, uint64_t sequence_salt)
    : params_(params), eos_ids_(std::move(eos_ids)) {
  uint64_t seed = params.seed ? *params.seed
                              : (uint64_t{std::random_device{}()} << 32) ^ std::random_device{}();
  key_ = splitmix64(splitmix64(seed) + splitmix64(sequence_salt ^ 0x5851F42D4C957F2Dull));
  for (const auto& [id, bias] : params_.logit_bias) max_id_ = std::max(max_id_, id);
  for (int32_t id : params_.stop_token_ids) max_id_ = std::max(max_id_, id);
  for (int32_t id : eos_ids_) max_id_ = std::max(max_id_, id);
}

double Sampler::uniform(uint64_t position) const {
  return static_cast<double>(splitmix64(key_ ^ splitmix64(position)) >> 11) * 0x1.0p-53;
}

void Sampler::apply_penalties(std::span<float> logits, std::span<const int32_t> prompt,
                              std::span<const int32_t> generated) const {
  const size_t vocab = logits.size();
  auto check = [&](int32_t id, const char* where) {
    if (id < 0 || static_cast<size_t>(id) >= vocab) {
      fail("sampling: the {} holds token {}, outside the logits row of {}", where, id, vocab);
    }
  };
  Scratch& s = t_scratch;

  if (params_.repetition_penalty != 1) {
    // Each distinct token is penalised once, as in Hugging Face and llama.cpp.
    const float r = params_.repetition_penalty;
    const uint32_t e = s.next_epoch(vocab);
    auto visit = [&](int32_t id, const char* where) {
      check(id, where);
      if (s.stamp[id] == e) return;
      s.stamp[id] = e;
      float& l = logits[id];
      l = l > 0 ? l / r : l * r;
    };
    const size_t total = prompt.size() + generated.size();
    const size_t window = params_.repetition_window > 0
                              ? std::min(total, static_cast<size_t>(params_.repetition_window))
                              : total;
    const size_t start = total - window;
    for (size_t i = start; i < prompt.size(); ++i) visit(prompt[i], "prompt");
    for (size_t i = start > prompt.size() ? start - prompt.size() : 0; i < generated.size(); ++i) {
      visit(generated[i], "generated tokens");
    }
  }

  if (params_.presence_penalty != 0 || params_.frequency_penalty != 0) {
    const uint32_t e = s.next_epoch(vocab);
    s.seen.clear();
    for (int32_t id : generated) {
      check(id, "generated tokens");
      if (s.stamp[id] != e) {
        s.stamp[id] = e;
        s.count[id] = 0;
        s.seen.push_back(id);
      }
      ++s.count[id];
    }
    for (int32_t id : s.seen) {
      logits[id] -=
          static_cast<float>(s.count[id]) * params_.frequency_penalty + params_.presence_penalty;
    }
  }
}

int32_t Sampler::pick(std::span<const float> logits, double u) const {
  const float m = row_max(logits);
  if (!usable(m)) fail("sampling: no token can be sampled (every logit is -inf or NaN)");
  // A +inf logit would make every weight NaN; it can only be the choice.
  if (params_.temperature == 0 || params_.top_k == 1 || std::isinf(m)) {
    return static_cast<int32_t>(std::find(logits.begin(), logits.end(), m) - logits.begin());
  }

  // Weights relative to the likeliest token (whose weight is 1), so min_p is simply w >= min_p.
  const float inv_t = 1.0f / params_.temperature;
  auto weight = [&](float l) { return usable(l) ? std::exp((l - m) * inv_t) : 0.f; };
  const float min_p = params_.min_p;
  const size_t vocab = logits.size();
  Scratch& s = t_scratch;
  std::vector<Cand>& cands = s.cands;
  cands.clear();
  size_t n = 0;  // cands[0, n) is the distribution to draw from

  const size_t k = static_cast<size_t>(params_.top_k);
  if (k > 0 && k < vocab) {
    best_k(logits, k, kNegInf, cands);  // best first
    double total = 0;
    for (Cand& c : cands) c.w = weight(c.logit), total += c.w;
    // top-p over the top-k renormalised, as in Hugging Face and vLLM; then min_p, a suffix.
    const double target = params_.top_p < 1 ? params_.top_p * total : total;
    double cum = 0;
    while (n < cands.size() && cands[n].w >= min_p) {
      cum += cands[n++].w;
      if (params_.top_p < 1 && cum >= target) break;
    }
  } else {
    std::vector<float>& w = s.weights;
    w.resize(vocab);
    exp_row(logits, m, inv_t, w);
    const double z = sum(w);  // over every token: top-p is a share of the whole distribution
    if (min_p > 0) {
      for (float& x : w) x = x < min_p ? 0.f : x;
    }
    if (params_.top_p == 1) {
      // No candidate list: draw straight from the row in id order.
      const double total = min_p > 0 ? sum(w) : z;
      const double target = u * total;
      double cum = 0;
      int32_t last = -1;
      for (size_t i = 0; i < vocab; ++i) {
        if (w[i] == 0) continue;
        cum += w[i];
        last = static_cast<int32_t>(i);
        if (cum > target) return last;
      }
      return last;  // rounding left the target at the very end
    }
    // min_p's survivors are a best-first prefix, so the nucleus within them is the intersection
    // of both rules.
    n = nucleus(logits, w, params_.top_p * z, cands);
  }

  double total = 0;
  for (size_t i = 0; i < n; ++i) total += cands[i].w;
  const double target = u * total;
  double cum = 0;
  for (size_t i = 0; i < n; ++i) {
    cum += cands[i].w;
    if (cum > target) return cands[i].id;
  }
  return cands[0].id;  // unreachable: the likeliest token is always kept with weight 1
}

Sampler::Choice Sampler::sample(std::span<float> logits, std::span<const int32_t> prompt,
                                std::span<const int32_t> generated) const {
  if (max_id_ >= 0 && static_cast<size_t>(max_id_) >= logits.size()) {
    fail("sampling: token {} (logit_bias, stop_token_ids or EOS) is outside the logits row of {}",
         max_id_, logits.size());
  }
  Scratch& s = t_scratch;
  if (params_.logprobs) s.raw.assign(logits.begin(), logits.end());

  apply_penalties(logits, prompt, generated);
  for (const auto& [id, bias] : params_.logit_bias) logits[id] += bias;
  if (params_.ignore_eos || generated.size() < static_cast<size_t>(params_.min_tokens)) {
    for (int32_t id : eos_ids_) logits[id] = kNegInf;
  }
  if (generated.size() < static_cast<size_t>(params_.min_tokens)) {
    for (int32_t id : params_.stop_token_ids) logits[id] = kNegInf;
  }

  Choice out;
  out.token = pick(logits, uniform(generated.size()));
  out.logprob = std::numeric_limits<float>::quiet_NaN();
  if (params_.logprobs) {
    // OpenAI reports the model's own distribution, before penalties, bias, masks and temperature.
    const float m = row_max(s.raw);
    std::vector<float>& w = s.weights;
    w.resize(s.raw.size());
    exp_row(s.raw, m, 1.f, w);
    const double z = sum(w);
    const double lse = m + std::log(z);
    out.logprob = static_cast<float>(s.raw[out.token] - lse);
    best_k(s.raw, static_cast<size_t>(params_.top_logprobs), kNegInf, s.cands);
    for (const Cand& c : s.cands) out.top.emplace_back(c.id, static_cast<float>(c.logit - lse));
  }
  return out;
}

}  // namespace dsv4
