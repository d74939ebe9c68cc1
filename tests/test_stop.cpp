// Stop rules: StopMatcher over every split of the text into pieces, overlapping and UTF-8 stop
// strings, hold-back that never leaks or loses text, split-independence on random inputs; the
// token-level rules (EOS, stop ids, min_tokens, ignore_eos, max_tokens); the reasoning budget.
#include <random>

#include "generate/reasoning_budget.h"
#include "generate/stop.h"
#include "generate/token_stop.h"
#include "test_util.h"

namespace dsv4 {
namespace {

struct Result {
  std::string text;  // everything emitted, flush included when there was no stop
  bool stopped = false;
  std::string matched;
  bool operator==(const Result&) const = default;
};

Result run(const std::vector<std::string>& stops, const std::vector<std::string>& pieces) {
  StopMatcher m(stops);
  Result r;
  std::string input;
  for (const std::string& p : pieces) {
    StopMatcher::Out o = m.push(p);
    r.text += o.emit;
    input += p;
    if (o.stopped) {
      r.stopped = true;
      r.matched = o.matched;
      break;
    }
    // Nothing is lost or invented: emitted + held is exactly the input so far.
    EXPECT_EQ(r.text + std::string(m.held()), input);
  }
  if (!r.stopped) r.text += m.flush();
  return r;
}

// Every split of `text` into two and into three pieces gives `want`.
void every_split(const std::vector<std::string>& stops, const std::string& text,
                 const Result& want) {
  EXPECT_EQ(run(stops, {text}), want);
  for (size_t i = 0; i <= text.size(); ++i) {
    EXPECT_EQ(run(stops, {text.substr(0, i), text.substr(i)}), want) << "split at " << i;
    for (size_t j = i; j <= text.size(); ++j) {
      EXPECT_EQ(run(stops, {text.substr(0, i), text.substr(i, j - i), text.substr(j)}), want)
          << "splits at " << i << ", " << j;
    }
  }
}

TEST(StopMatcher, StopSplitAcrossPiecesAtEveryPoint) {
  every_split({"STOP"}, "Hello STOP world", {"Hello ", true, "STOP"});
  every_split({"</answer>", "\n\n"}, "x = 1</answer>\n\n", {"x = 1", true, "</answer>"});
}

TEST(StopMatcher, NoStopEmitsEverything) {
  // Near misses are held back, then released, never dropped.
  every_split({"</end>", "abc"}, "a</en b</ c< ab</end", {"a</en b</ c< ab</end", false, ""});
}

TEST(StopMatcher, StopAtTheVeryStart) {
  every_split({"STOP"}, "STOP and more", {"", true, "STOP"});
  Result r = run({"STOP"}, {"STOP"});
  EXPECT_EQ(r, (Result{"", true, "STOP"}));
}

TEST(StopMatcher, OverlappingStopsTheFirstToCompleteWins) {
  every_split({"abcd", "bc"}, "xabcdy", {"xa", true, "bc"});  // "bc" completes first
  every_split({"abc", "bcd"}, "xabcd", {"x", true, "abc"});
  every_split({"d", "abcd"}, "xabcd", {"x", true, "abcd"});  // same end: the longer one
  every_split({"aab"}, "aaab", {"a", true, "aab"});          // self-overlapping prefix
  every_split({"abab"}, "ababab", {"", true, "abab"});
}

TEST(StopMatcher, Utf8StopStrings) {
  every_split({"日本"}, "こんにちは日本語", {"こんにちは", true, "日本"});
  // "日" alone is held until "曜" shows it is not "日本", then released whole.
  every_split({"日本"}, "日曜日", {"日曜日", false, ""});
  every_split({"café", "🙂"}, "un cafe, un café 🙂", {"un cafe, un ", true, "café"});
}

TEST(StopMatcher, HoldsBackOnlyPossibleStopPrefixes) {
  StopMatcher m({"STOP"});
  StopMatcher::Out o = m.push("abcST");
  EXPECT_EQ(o.emit, "abc");
  EXPECT_FALSE(o.stopped);
  EXPECT_EQ(m.held(), "ST");
  o = m.push("x");
  EXPECT_EQ(o.emit, "STx");
  EXPECT_EQ(m.held(), "");
}

TEST(StopMatcher, AfterAStopNothingMoreIsEmitted) {
  StopMatcher m({"\n"});
  EXPECT_EQ(m.push("one\ntwo").emit, "one");
  StopMatcher::Out o = m.push("three");
  EXPECT_TRUE(o.stopped);
  EXPECT_EQ(o.emit, "");
  EXPECT_EQ(o.matched, "\n");
  EXPECT_EQ(m.flush(), "");
}

TEST(StopMatcher, NoStopsPassesTextThrough) {
  StopMatcher m({});
  EXPECT_EQ(m.push("abc").emit, "abc");
  EXPECT_EQ(m.flush(), "");
}

TEST(StopMatcher, EmptyStopIsAnError) {
  EXPECT_NE(test::error_of([] {
              StopMatcher({"a", ""});
            }).find("stop string 1 is empty"),
            std::string::npos);
}

TEST(StopMatcher, ResultIndependentOfTheSplit) {
  std::mt19937 rng(1);
  auto word = [&](size_t lo, size_t hi) {
    std::string s(std::uniform_int_distribution<size_t>(lo, hi)(rng), 'a');
    for (char& c : s) c = static_cast<char>('a' + rng() % 3);
    return s;
  };
  for (int iter = 0; iter < 2000; ++iter) {
    std::vector<std::string> stops;
    for (int i = 0, n = 1 + static_cast<int>(rng() % 3); i < n; ++i) stops.push_back(word(1, 4));
    const std::string text = word(0, 20);
    std::vector<std::string> pieces;
    for (size_t at = 0; at < text.size();) {
      size_t len = std::min<size_t>(text.size() - at, rng() % 4);
      pieces.push_back(text.substr(at, len));
      at += len;
    }
    std::vector<std::string> bytes;
    for (char c : text) bytes.emplace_back(1, c);
    const Result whole = run(stops, {text});
    EXPECT_EQ(run(stops, pieces), whole) << text;
    EXPECT_EQ(run(stops, bytes), whole) << text;
    if (whole.stopped) {
      EXPECT_EQ(text.substr(whole.text.size(), whole.matched.size()), whole.matched);
    } else {
      EXPECT_EQ(whole.text, text);
    }
    for (const std::string& s : stops) EXPECT_EQ(whole.text.find(s), std::string::npos);
  }
}

TEST(TokenStop, EosStopTokensAndLength) {
  SamplingParams p;
  p.stop_token_ids = {7};
  p.max_tokens = 5;
  TokenStop t(p, {2});
  EXPECT_EQ(t.check(3, 1), StopReason::kNone);
  EXPECT_EQ(t.check(2, 1), StopReason::kEos);
  EXPECT_EQ(t.check(7, 2), StopReason::kStopToken);
  EXPECT_EQ(t.check(3, 5), StopReason::kLength);
  EXPECT_EQ(t.check(2, 5), StopReason::kEos);  // a last EOS is a stop, not a length cut
  EXPECT_EQ(finish_reason(StopReason::kEos), "stop");
  EXPECT_EQ(finish_reason(StopReason::kStopString), "stop");
  EXPECT_EQ(finish_reason(StopReason::kLength), "length");
  EXPECT_EQ(finish_reason(StopReason::kNone), "");
}

TEST(TokenStop, MinTokensAndIgnoreEos) {
  SamplingParams p;
  p.min_tokens = 2;
  p.stop_token_ids = {7};
  TokenStop t(p, {2});
  EXPECT_EQ(t.check(2, 1), StopReason::kNone);
  EXPECT_EQ(t.check(7, 2), StopReason::kNone);
  EXPECT_EQ(t.check(7, 3), StopReason::kStopToken);
  EXPECT_EQ(t.check(3, 1000000), StopReason::kNone);  // max_tokens -1: no length limit

  p.min_tokens = 0;
  p.ignore_eos = true;
  TokenStop u(p, {2});
  EXPECT_EQ(u.check(2, 1), StopReason::kNone);
  EXPECT_EQ(u.check(7, 1), StopReason::kStopToken);  // stop ids still count
}

TEST(ReasoningBudget, CountsToTheLimit) {
  ReasoningBudget b(3);
  EXPECT_FALSE(b.exhausted());
  b.add();
  b.add(2);
  EXPECT_TRUE(b.exhausted());
  EXPECT_EQ(b.used(), 3);
  EXPECT_TRUE(ReasoningBudget(0).exhausted());
  ReasoningBudget none;
  none.add(1000000);
  EXPECT_FALSE(none.exhausted());
  EXPECT_NE(test::error_of([] { ReasoningBudget(-2); }).find("reasoning budget"),
            std::string::npos);
}

}  // namespace
}  // namespace dsv4
