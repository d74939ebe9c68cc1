// Reference ids from the npm package's own JavaScript tokenizer (@lenml/tokenizers), for
// test_tokenizer.cpp to compare the C++ tokenizer against.
// Usage: node tests/tokenizer_ref.js TOKENIZER_JSON CONFIG_JSON INPUT...
// Prints one line per input file: its comma-separated ids (no BOS: add_special_tokens false).
"use strict";
const fs = require("fs");
const path = require("path");
const { TokenizerLoader } = require(path.join(__dirname, "../node_modules/@lenml/tokenizers"));

const [tokPath, cfgPath, ...inputs] = process.argv.slice(2);
const tok = TokenizerLoader.fromPreTrained({
  tokenizerJSON: JSON.parse(fs.readFileSync(tokPath, "utf8")),
  tokenizerConfig: JSON.parse(fs.readFileSync(cfgPath, "utf8")),
});
const lines = [];
for (const f of inputs) {
  // The README's encode(text, null, {...}) throws; the options object is the second argument.
  lines.push(tok.encode(fs.readFileSync(f, "utf8"), { add_special_tokens: false }).join(","));
}
process.stdout.write(lines.join("\n") + "\n");
