// The forward pass is a function of (tokens, positions) only: prefill, decode, chunked prefill,
// multi-token chunks and batches of sequences at different positions give the same logits (spec
// §5.9), on generated models of several shapes. Also the corner cases of spec §10, one named test
// each (C01..C17); those covered elsewhere say where.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>

#include "forward_util.h"
#include "kernels/ops.h"
#include "kernels/parallel.h"
#include "model/layers.h"
#include "numeric/formats.h"

namespace dsv4 {
namespace {

using test::generated_model;
using test::max_row_error;
using test::random_tokens;
using test::run_chunked;

// Same arithmetic per token on every path, so agreement is to float32 noise at most.
constexpr double kSamePath = 1e-5;

ModelConfig small(std::vector<int> ratios, int64_t mtp, int64_t hash) {
  ModelConfig c = preset_config("ci");
  c.num_hidden_layers = static_cast<int64_t>(ratios.size()) - mtp;
  c.num_nextn_predict_layers = mtp;
  c.num_hash_layers = hash;
  c.compress_ratios = std::move(ratios);
  return c;
}

struct Shape {
  const char* name;
  ModelConfig config;
};

std::vector<Shape> shapes() {
  ModelConfig hd = small({128, 4, 0, 0}, 1, 2);                // HCA at layer 0, two hash layers
  hd.head_dim = 192;                                           // head_dim != 512 (nope 128)
  ModelConfig flash = small({0, 0, 4, 128, 4, 128, 0}, 1, 3);  // Flash's layer mix
  flash.sliding_window = 8;
  flash.index_topk = 4;  // selection matters from position 19 on
  return {{"ci", preset_config("ci")}, {"hd192_hca0", hd}, {"flashlike", flash}};
}

// gtest prints a parameter's bytes unless told how to print it.
void PrintTo(const Shape& s, std::ostream* os) {
  *os << s.name;
}

class Paths : public ::testing::TestWithParam<Shape> {};

TEST_P(Paths, PrefillDecodeAndChunkedAgree) {
  const Shape& s = GetParam();
  const Model& m = generated_model(s.name, s.config);
  Transformer tf(m);
  const int64_t V = m.config.vocab_size;
  // 140 tokens: past the window, several ratio-4 blocks and the first ratio-128 block (p=127).
  const auto tokens = random_tokens(140, V, 5);
  const auto prefill = run_chunked(tf, tokens, {140});
  EXPECT_LE(max_row_error(run_chunked(tf, tokens, {1}), prefill, V), kSamePath) << "decode";
  // Chunk sizes 1, 3, 4, 5, 127, 128, 129 at odd starts (C14).
  for (std::vector<int64_t> sizes : std::vector<std::vector<int64_t>>{
           {3}, {5, 4}, {1, 127, 12}, {7, 128, 5}, {2, 129, 9}, {17}, {9, 1, 16}})
    EXPECT_LE(max_row_error(run_chunked(tf, tokens, sizes), prefill, V), kSamePath)
        << "chunks of " << sizes[0];
}

// The compute threads split rows, heads and indexer entries, never a sum: the logits are the
// same bits for any thread count, in prefill and decode.
TEST_P(Paths, ThreadCountGivesTheSameBits) {
  const Shape& s = GetParam();
  const Model& m = generated_model(s.name, s.config);
  Transformer tf(m);
  const auto tokens = random_tokens(40, m.config.vocab_size, 9);
  const auto one = run_chunked(tf, tokens, {30, 1});
  for (int threads : {2, 3}) {
    set_compute_threads(threads);
    const auto many = run_chunked(tf, tokens, {30, 1});
    set_compute_threads(1);
    ASSERT_EQ(many.size(), one.size());
    EXPECT_EQ(std::memcmp(many.data(), one.data(), one.size() * sizeof(float)), 0)
        << threads << " threads";
  }
}

TEST_P(Paths, BatchOfSequencesMatchesEachAlone) {
  const Shape& s = GetParam();
  const Model& m = generated_model(s.name, s.config);
  Transformer tf(m);
  const int64_t V = m.config.vocab_size;
  std::vector<std::vector<int32_t>> seqs = {random_tokens(40, V, 1), random_tokens(70, V, 2),
                                            random_tokens(133, V, 3)};
  // Alone.
  std::vector<std::vector<float>> alone;
  for (auto& t : seqs) alone.push_back(run_chunked(tf, t, {static_cast<int64_t>(t.size())}));
  // Together: each step, every unfinished sequence advances by its own chunk size, so the
  // sequences sit at different positions in the same call.
  StatePool pool(m.config, 200, 3);
  std::vector<SequenceState*> st = {pool.acquire(), pool.acquire(), pool.acquire()};
  std::vector<std::vector<float>> got(3);
  std::vector<int64_t> pos = {0, 0, 0}, step = {7, 1, 13};
  while (pos[0] < 40 || pos[1] < 70 || pos[2] < 133) {
    std::vector<Chunk> chunks;
    std::vector<size_t> who;
    for (size_t i = 0; i < 3; ++i) {
      const int64_t n = static_cast<int64_t>(seqs[i].size());
      if (pos[i] >= n) continue;
      const int64_t len = std::min(step[i], n - pos[i]);
      chunks.push_back(
          {st[i], pos[i], std::span<const int32_t>(seqs[i].data() + pos[i], len), true, false});
      who.push_back(i);
      pos[i] += len;
    }
    auto r = tf.forward(chunks);
    for (size_t j = 0; j < who.size(); ++j)
      got[who[j]].insert(got[who[j]].end(), r[j].logits.begin(), r[j].logits.end());
  }
  for (size_t i = 0; i < 3; ++i) EXPECT_LE(max_row_error(got[i], alone[i], V), kSamePath) << i;
}

INSTANTIATE_TEST_SUITE_P(Shapes, Paths, ::testing::ValuesIn(shapes()),
                         [](const auto& i) { return std::string(i.param.name); });

// ---- spec §10 corner cases ---------------------------------------------------------------------

class CornerCases : public ::testing::Test {
 protected:
  const Model& ci() { return generated_model("ci", preset_config("ci")); }
};

// C01: prompts of 1, 2, 3 (partial CSA block, previous-block rows -inf), 4 (first CSA entry),
// 5, 7, 8 (second entry), 15..17 (window 16), 127..129 (first HCA entry, ring wrap in prefill):
// the last logits of a single prefill equal the same position of a token-by-token run.
TEST_F(CornerCases, C01_PromptLengthsAroundRatios) {
  Transformer tf(ci());
  const int64_t V = ci().config.vocab_size;
  const auto tokens = random_tokens(130, V, 9);
  const auto decode = run_chunked(tf, tokens, {1});
  for (int64_t S : {1, 2, 3, 4, 5, 7, 8, 15, 16, 17, 127, 128, 129}) {
    std::vector<int32_t> prompt(tokens.begin(), tokens.begin() + S);
    auto all = run_chunked(tf, prompt, {S});
    std::vector<float> last(all.end() - V, all.end());
    std::vector<float> want(decode.begin() + (S - 1) * V, decode.begin() + S * V);
    EXPECT_LE(max_row_error(last, want, V), kSamePath) << "S=" << S;
  }
}

// C02: prefill S, decode the rest == one prefill, for S mod 4 in {0,1,2,3}, S mod 128 in
// {0, 1, 127}, S below and above the window.
TEST_F(CornerCases, C02_PrefillDecodeHandoff) {
  Transformer tf(ci());
  const int64_t V = ci().config.vocab_size;
  const auto tokens = random_tokens(140, V, 10);
  const auto full = run_chunked(tf, tokens, {140});
  for (int64_t S : {4, 5, 6, 7, 12, 20, 127, 128, 129}) {
    std::vector<int64_t> sizes = {S};
    sizes.insert(sizes.end(), 200, 1);
    EXPECT_LE(max_row_error(run_chunked(tf, tokens, sizes), full, V), kSamePath) << "S=" << S;
  }
}

// C03: decoding across block boundaries creates entries exactly at (p+1) mod r == 0.
TEST_F(CornerCases, C03_DecodeAcrossBoundaries) {
  Transformer tf(ci());
  const ModelConfig& c = ci().config;
  StatePool pool(c, 300, 1);
  SequenceState* st = pool.acquire();
  const auto tokens = random_tokens(258, c.vocab_size, 11);
  for (int64_t p = 0; p < 258; ++p) {
    Chunk ch{st, p, std::span<const int32_t>(&tokens[p], 1), false, false};
    tf.forward(std::span<const Chunk>(&ch, 1));
    for (int64_t l = 0; l < c.num_hidden_layers; ++l) {
      const int r = c.compress_ratio(l);
      if (r == 0) continue;
      ASSERT_EQ(st->layers[l].n_entries, (p + 1) / r) << "layer " << l << " p " << p;
      if (r == 4) {
        ASSERT_EQ(st->layers[l].n_ikeys, (p + 1) / 4);
      }
    }
  }
}

// C04: while every visible entry fits in index_topk the indexer selects all of them, so the
// output equals that of an unbounded top-k; past that, selection matters.
TEST_F(CornerCases, C04_IndexerSaturation) {
  ModelConfig narrow = preset_config("ci"), wide = narrow;
  narrow.index_topk = 4;
  wide.index_topk = 1000;  // same tensors (same seed, same shapes)
  Transformer a(generated_model("ci_topk4", narrow)), b(generated_model("ci_topk1000", wide));
  const int64_t V = narrow.vocab_size;
  const auto tokens = random_tokens(60, V, 12);
  const auto ra = run_chunked(a, tokens, {60}), rb = run_chunked(b, tokens, {60});
  // Visible entries (p+1) div 4 <= 4 up to p = 18; p = 19 is the first selective position.
  std::vector<float> a_low(ra.begin(), ra.begin() + 19 * V), b_low(rb.begin(), rb.begin() + 19 * V);
  EXPECT_EQ(max_row_error(a_low, b_low, V), 0.0);
  std::vector<float> a_hi(ra.begin() + 19 * V, ra.end()), b_hi(rb.begin() + 19 * V, rb.end());
  EXPECT_GT(max_row_error(a_hi, b_hi, V), 1e-4);
}

// C05: indexer keys are Hadamard-rotated and FP4-simulated: every 32-block of a stored key lies on
// the e2m1 grid times one power of two. (Hadamard and FP4 themselves: tests/test_ops.cpp.)
TEST_F(CornerCases, C05_IndexerNumerics) {
  Transformer tf(ci());
  const ModelConfig& c = ci().config;
  StatePool pool(c, 64, 1);
  SequenceState* st = pool.acquire();
  const auto tokens = random_tokens(40, c.vocab_size, 13);
  Chunk ch{st, 0, tokens, false, false};
  tf.forward(std::span<const Chunk>(&ch, 1));
  const LayerState& ls = st->layers[1];  // CSA
  ASSERT_EQ(ls.n_ikeys, 10);
  for (int64_t e = 0; e < ls.n_ikeys; ++e)
    for (int64_t b = 0; b < c.index_head_dim / 32; ++b) {
      const float* v = ls.ikeys + e * c.index_head_dim + b * 32;
      float amax = 0;
      for (int i = 0; i < 32; ++i) amax = std::max(amax, std::fabs(v[i]));
      // The block's scale: the smallest power of two with amax / scale <= 6.
      const float unit = exp2_int(fp4_scale_exponent(amax));
      for (int i = 0; i < 32; ++i)
        EXPECT_EQ(fp4_e2m1_to_f32(f32_to_fp4_e2m1(v[i] / unit)) * unit, v[i]);
    }
}

// C06: hash-routed layers take expert ids from tid2eid for any token id up to the vocabulary's
// end; ids outside the vocabulary are refused.
TEST_F(CornerCases, C06_HashRoutedLayers) {
  Transformer tf(ci());
  const int64_t V = ci().config.vocab_size;
  std::vector<int32_t> tokens = {static_cast<int32_t>(V - 1), 0, static_cast<int32_t>(V - 2), 5};
  EXPECT_LE(max_row_error(run_chunked(tf, tokens, {1}), run_chunked(tf, tokens, {4}), V),
            kSamePath);
  StatePool pool(ci().config, 8, 1);
  std::vector<int32_t> bad = {static_cast<int32_t>(V)};
  Chunk ch{pool.acquire(), 0, bad, false, false};
  EXPECT_THROW(tf.forward(std::span<const Chunk>(&ch, 1)), Error);
}

// C07: compressed layers use base compress_rope_theta with YaRN, SWA layers (and MTP) base
// rope_theta without; the two tables differ exactly in the YaRN-ramped dims. (Table values and
// interleaving: tests/test_ops.cpp.)
TEST_F(CornerCases, C07_RopeVariants) {
  const ModelConfig c = preset_config("flash");
  const auto& rs = c.rope_scaling;
  RopeFreqs swa = rope_freqs(64, c.rope_theta, false, rs.factor,
                             rs.original_max_position_embeddings, rs.beta_fast, rs.beta_slow);
  RopeFreqs csa = rope_freqs(64, c.compress_rope_theta, true, rs.factor,
                             rs.original_max_position_embeddings, rs.beta_fast, rs.beta_slow);
  RopeFreqs plain160k = rope_freqs(64, c.compress_rope_theta, false, 1, 1, 32, 1);
  EXPECT_EQ(swa.freq[0], 1.0f);
  EXPECT_EQ(swa.freq[1], 1.0f / std::pow(10000.0f, 2.0f / 64));
  for (int i = 0; i <= 15; ++i) EXPECT_EQ(csa.freq[i], plain160k.freq[i]) << i;
  for (int i = 25; i < 32; ++i) EXPECT_FLOAT_EQ(csa.freq[i], plain160k.freq[i] / 16) << i;
  // Positions near 2^20 keep a finite, unit-modulus rotation.
  float v[2] = {1, 0};
  apply_rope(v, 2, (1 << 20) - 1, csa);
  EXPECT_NEAR(v[0] * v[0] + v[1] * v[1], 1.0, 1e-6);
}

// C08: a model of SWA layers only: no compressor state, window-only attention, same paths agree.
TEST_F(CornerCases, C08_SwaOnlyLayers) {
  const ModelConfig c = small({0, 0, 0}, 1, 1);
  EXPECT_EQ(StatePool::bytes_per_sequence(c, 1000),
            3ull * c.sliding_window * c.head_dim * sizeof(float));
  Transformer tf(generated_model("swa_only", c));
  const auto tokens = random_tokens(40, c.vocab_size, 14);
  EXPECT_LE(
      max_row_error(run_chunked(tf, tokens, {1}), run_chunked(tf, tokens, {40}), c.vocab_size),
      kSamePath);
}

// C09-C10: attention sink and FP8/FP4 simulation edges are unit-tested in tests/test_ops.cpp
// (Ops.AttendWithSink, Ops.ActQuantSimFp8Block64, Ops.Fp4SimBlock32, Ops.Pow2ScaleBitRecipe).
TEST_F(CornerCases, C09_AttentionSinkOnlyEnlargesTheDenominator) {
  const float k0[2] = {1, 0}, k1[2] = {0, 1};
  const float* keys[2] = {k0, k1};
  const float q[2] = {2, 0};
  float o[2];
  attend_with_sink(q, keys, 2, 2, 0.5f, 1.0f, o);  // logits 1, 0; sink 1 (unscaled)
  const double e = std::exp(1.0), d = e + 1 + e;
  EXPECT_NEAR(o[0], e / d, 1e-6);
  EXPECT_NEAR(o[1], 1 / d, 1e-6);
}

// C10: FP8/FP4 simulation edges as the forward pass meets them: an all-zero block stays zero (the
// amax floor keeps the scale finite), a block whose amax is 448 * 2^k keeps its amax exactly, and
// tiny values become e4m3 subnormals of the block's scale. (Exhaustive: tests/test_ops.cpp.)
TEST_F(CornerCases, C10_QuantSimEdges) {
  std::vector<float> zeros(64, 0.0f);
  act_quant_sim(zeros.data(), 64, 64);
  for (float v : zeros) EXPECT_EQ(v, 0.0f);
  std::vector<float> b(64, 0.0f);
  b[0] = 448.0f * 8;      // scale 8
  b[1] = 3.0f * 8 / 512;  // 3 * 2^-9 * scale: an e4m3 subnormal
  b[2] = 8.0f / 1024;     // 2^-10 * scale: halfway to the smallest subnormal, ties to 0
  act_quant_sim(b.data(), 64, 64);
  EXPECT_EQ(b[0], 448.0f * 8);
  EXPECT_EQ(b[1], 3.0f * 8 / 512);
  EXPECT_EQ(b[2], 0.0f);
  std::vector<float> f(32, 0.0f);
  f[0] = 6.0f * 0.25f;
  f[1] = 0.25f * 0.25f;  // tie between 0 and 0.5: to the even code, 0
  f[2] = 0.75f * 0.25f;  // tie between 0.5 and 1: to 1
  fp4_act_quant_sim(f.data(), 32, 32);
  EXPECT_EQ(f[0], 1.5f);
  EXPECT_EQ(f[1], 0.0f);
  EXPECT_EQ(f[2], 0.25f);
}

// C11: hc_post takes column k of the Sinkhorn matrix for output stream k (the transpose).
TEST_F(CornerCases, C11_MhcPostUsesTheTranspose) {
  ModelConfig c = preset_config("ci");
  c.hidden_size = 1;
  const float x[1] = {10};
  const float post[4] = {1, 2, 3, 4};
  float comb[16] = {0};
  comb[0 * 4 + 1] = 1;  // C[0][1]: stream 0 feeds output stream 1
  float X[4] = {100, 200, 300, 400};
  hc_post(c, x, post, comb, X);
  EXPECT_EQ(X[0], 10);        // post_0 * x, column 0 of C empty
  EXPECT_EQ(X[1], 20 + 100);  // post_1 * x + C[0][1] * X_0
  EXPECT_EQ(X[2], 30);
  EXPECT_EQ(X[3], 40);
}

// C12: SwiGLU clamps the gate from above only and the up projection on both sides; the routing
// weight multiplies before w2.
TEST_F(CornerCases, C12_SwigluClamp) {
  EXPECT_FLOAT_EQ(swiglu(20, 3, 10, 1), silu(10) * 3);    // gate clamped above
  EXPECT_FLOAT_EQ(swiglu(-20, 3, 10, 1), silu(-20) * 3);  // not below
  EXPECT_FLOAT_EQ(swiglu(1, 50, 10, 1), silu(1) * 10);    // up clamped above
  EXPECT_FLOAT_EQ(swiglu(1, -50, 10, 1), silu(1) * -10);  // and below
  EXPECT_FLOAT_EQ(swiglu(1, 2, 10, 0.25f), 0.25f * (silu(1) * 2));
}

// C13: a released slot carries nothing into the next sequence (compressor buffers are reset even
// after a partial block), and sequences in one batch do not see each other.
TEST_F(CornerCases, C13_SlotReuseAndIsolation) {
  Transformer tf(ci());
  const int64_t V = ci().config.vocab_size;
  StatePool pool(ci().config, 64, 1);
  SequenceState* st = pool.acquire();
  const auto first = random_tokens(6, V, 15);  // leaves a partial CSA block and filled buffers
  Chunk a{st, 0, first, false, false};
  tf.forward(std::span<const Chunk>(&a, 1));
  pool.release(st);
  SequenceState* again = pool.acquire();
  ASSERT_EQ(again, st);
  const auto second = random_tokens(9, V, 16);
  Chunk b{again, 0, second, true, false};
  auto reused = tf.forward(std::span<const Chunk>(&b, 1));
  EXPECT_LE(max_row_error(reused[0].logits, run_chunked(tf, second, {9}), V), 0.0);
}

// C14: chunked prefill at odd starts with chunks of 1, 3, 4, 5, 127, 128, 129 (and every shape
// in Paths.PrefillDecodeAndChunkedAgree); entries completed inside a chunk are visible to the
// chunk's later queries only.
TEST_F(CornerCases, C14_ChunkedPrefill) {
  Transformer tf(ci());
  const int64_t V = ci().config.vocab_size;
  const auto tokens = random_tokens(300, V, 20);
  const auto full = run_chunked(tf, tokens, {300});
  EXPECT_LE(max_row_error(run_chunked(tf, tokens, {1, 3, 4, 5, 127, 128, 129}), full, V),
            kSamePath);
  EXPECT_LE(max_row_error(run_chunked(tf, tokens, {129, 128, 43}), full, V), kSamePath);
}

// C15: the MTP block: chunked and token-by-token MTP runs agree; its window ring is filled for
// every position it attends to.
TEST_F(CornerCases, C15_Mtp) {
  Transformer tf(ci());
  const ModelConfig& c = ci().config;
  const int64_t n = 30, D = c.hidden_size, hc = c.hc_mult, V = c.vocab_size;
  const auto tokens = random_tokens(n + 1, V, 17);
  StatePool pool(c, 64, 2);
  // Main model once, keeping the pre-head streams.
  SequenceState* s1 = pool.acquire();
  Chunk ch{s1, 0, std::span<const int32_t>(tokens.data(), n), false, true};
  auto main = tf.forward(std::span<const Chunk>(&ch, 1));
  ASSERT_EQ(static_cast<int64_t>(main[0].streams.size()), n * hc * D);
  std::span<const int32_t> next(tokens.data() + 1, n);
  // All at once.
  MtpChunk m1{s1, 0, main[0].streams, next, true};
  auto once = tf.forward_mtp(std::span<const MtpChunk>(&m1, 1));
  // Token by token on a second state (its MTP position advances independently).
  SequenceState* s2 = pool.acquire();
  std::vector<float> stepwise;
  for (int64_t t = 0; t < n; ++t) {
    MtpChunk mt{
        s2, t,
        std::span<const float>(main[0].streams.data() + t * hc * D, static_cast<size_t>(hc * D)),
        next.subspan(t, 1), true};
    auto r = tf.forward_mtp(std::span<const MtpChunk>(&mt, 1));
    stepwise.insert(stepwise.end(), r[0].logits.begin(), r[0].logits.end());
  }
  EXPECT_LE(max_row_error(stepwise, once[0].logits, V), kSamePath);
  EXPECT_EQ(s1->mtp_pos, n);
  EXPECT_EQ(s1->pos, n);
}

// C16: last-position logits equal the last row of all-position logits.
TEST_F(CornerCases, C16_LastVsAllLogits) {
  Transformer tf(ci());
  const int64_t V = ci().config.vocab_size;
  const auto tokens = random_tokens(21, V, 18);
  StatePool pool(ci().config, 32, 1);
  Chunk ch{pool.acquire(), 0, tokens, false, false};
  auto last = tf.forward(std::span<const Chunk>(&ch, 1));
  ASSERT_EQ(last[0].rows, 1);
  auto all = run_chunked(tf, tokens, {21});
  EXPECT_EQ(std::vector<float>(all.end() - V, all.end()), last[0].logits);
}

// C17: compressed cache sizes at longer contexts: floor(p/4) and floor(p/128) entries; a full
// state refuses more tokens with a clear error.
TEST_F(CornerCases, C17_LongContextCounts) {
  Transformer tf(ci());
  const ModelConfig& c = ci().config;
  StatePool pool(c, 600, 1);
  SequenceState* st = pool.acquire();
  const auto tokens = random_tokens(600, c.vocab_size, 19);
  for (int64_t pos = 0; pos < 600; pos += 150) {
    Chunk ch{st, pos, std::span<const int32_t>(tokens.data() + pos, 150), false, false};
    tf.forward(std::span<const Chunk>(&ch, 1));
  }
  EXPECT_EQ(st->layers[1].n_entries, 150);
  EXPECT_EQ(st->layers[1].n_ikeys, 150);
  EXPECT_EQ(st->layers[2].n_entries, 4);
  std::vector<int32_t> one = {1};
  Chunk full{st, 600, one, false, false};
  try {
    tf.forward(std::span<const Chunk>(&full, 1));
    FAIL() << "expected a full-state error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("sequence is full"), std::string::npos);
  }
}

TEST(StateSize, IsExactAndBudgeted) {
  const ModelConfig c = preset_config("ci");  // SWA, CSA, HCA, CSA + MTP SWA; window 16
  const int64_t ctx = 1000, dh = c.head_dim, ih = c.index_head_dim, W = c.sliding_window;
  const uint64_t rings = 5 * W * dh;
  const uint64_t csa = ctx / 4 * dh + 2 * (8 * 2 * dh) + ctx / 4 * ih + 2 * (8 * 2 * ih);
  const uint64_t hca = ctx / 128 * dh + 2 * (128 * dh);
  EXPECT_EQ(StatePool::bytes_per_sequence(c, ctx), (rings + 2 * csa + hca) * sizeof(float));
  StatePool pool(c, ctx, 3);
  EXPECT_EQ(pool.bytes(), 3 * StatePool::bytes_per_sequence(c, ctx));
  SequenceState* a = pool.acquire();
  EXPECT_NE(pool.acquire(), nullptr);
  EXPECT_NE(pool.acquire(), nullptr);
  EXPECT_EQ(pool.acquire(), nullptr);  // the budget is the budget
  pool.release(a);
  EXPECT_EQ(pool.free_slots(), 1);
}

TEST(ForwardErrors, ChunkMustStartWhereItsSequenceIs) {
  const Model& m = generated_model("ci", preset_config("ci"));
  Transformer tf(m);
  StatePool pool(m.config, 16, 1);
  std::vector<int32_t> t = {1, 2};
  Chunk ch{pool.acquire(), 3, t, false, false};
  EXPECT_THROW(tf.forward(std::span<const Chunk>(&ch, 1)), Error);
  Chunk empty{ch.state, 0, {}, false, false};
  EXPECT_THROW(tf.forward(std::span<const Chunk>(&empty, 1)), Error);
}

}  // namespace
}  // namespace dsv4
