#include <fmt/format.h>

#include <cstdio>
#include <fstream>
#include <sstream>

#include "cli/args.h"
#include "cli/commands.h"
#include "tokenizer/tokenizer.h"
#include "util/error.h"

namespace dsv4::cli {

namespace {

// The library decodes unknown ids to nothing (the model's padded vocabulary); a user who typed
// one most likely made a mistake.
std::vector<int32_t> parse_ids(const std::string& s, const Tokenizer& tok) {
  std::vector<int32_t> out = parse_id_list(s, "--decode");
  for (int32_t v : out)
    if (!tok.is_token(v))
      fail("--decode: {} is not a token of this tokenizer (ids 0..{})", v, tok.vocab_size() - 1);
  return out;
}

std::string read_input(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  if (!f) fail("{}: cannot read the file", path);
  std::stringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

}  // namespace

DSV4_COMMAND(tokenize, "tokenize", "Encode text to token ids, or decode ids to text", 40) {
  struct Opts {
    std::string tokenizer, file, text, decode;
    bool skip_special = false;
  };
  auto o = std::make_shared<Opts>();
  app.add_option("--tokenizer", o->tokenizer, "A tokenizer.json or a model directory holding one")
      ->required();
  auto* file = app.add_option("--file", o->file, "Encode the contents of this file");
  auto* text = app.add_option("--text", o->text, "Encode this text");
  auto* decode = app.add_option("--decode", o->decode, "Decode these comma-separated ids");
  file->excludes(text)->excludes(decode);
  text->excludes(decode);
  app.add_flag("--skip-special", o->skip_special, "With --decode: leave special tokens out");
  return [o, file, text, decode] {
    if (!*file && !*text && !*decode) fail("tokenize needs --text T, --file F or --decode IDS");
    const auto tok = Tokenizer::load(o->tokenizer);
    if (*decode) {
      // Exactly the decoded bytes, no newline added, so that the output round-trips.
      const std::string s = tok->decode(parse_ids(o->decode, *tok), o->skip_special);
      std::fwrite(s.data(), 1, s.size(), stdout);
      return 0;
    }
    const std::string input = *file ? read_input(o->file) : o->text;
    std::vector<int32_t> ids;
    try {
      ids = tok->encode(input);
    } catch (const Error& e) {
      fail("{}: {}", *file ? o->file : "--text", e.what());
    }
    fmt::print("{}\n", fmt::join(ids, ","));
    return 0;
  };
}

}  // namespace dsv4::cli
