#!/usr/bin/env bash
# End-to-end tests of `dsv4 serve`: a generated model with DeepSeek's real tokenizer, the real
# server, and the real npm `openai` client (node --test).
# Usage: tests/e2e/run.sh path/to/dsv4 [NAME...]   (NAME: run only tests/e2e/NAME.test.mjs)
set -euo pipefail
BIN=$(realpath "$1")
shift
SRC=$(cd "$(dirname "$0")/../.." && pwd)
files=()
for name in "$@"; do files+=("$SRC/tests/e2e/$name.test.mjs"); done
[ ${#files[@]} -gt 0 ] || files=("$SRC"/tests/e2e/*.test.mjs)
TMP=$(mktemp -d)
PID=""
cleanup() {
  if [ -n "$PID" ] && kill -0 "$PID" 2>/dev/null; then kill -KILL "$PID" 2>/dev/null || true; fi
  rm -rf "$TMP"
}
trap cleanup EXIT

MODEL=$TMP/dsv4-e2e
"$BIN" make-model --preset text --out "$MODEL" --seed 7 --tokenizer >/dev/null
KEY="e2e-$RANDOM-$RANDOM"
"$BIN" serve --model "$MODEL" --port 0 --api-key "$KEY" --ctx 512 --max-sequences 8 \
  --max-queue 128 --max-body 1000000 --served-model-name dsv4-e2e --alias deepseek-v4 \
  >"$TMP/server.log" 2>&1 &
PID=$!
port=""
for _ in $(seq 1 600); do
  port=$(grep -o 'listening on http://127.0.0.1:[0-9]*' "$TMP/server.log" | grep -o '[0-9]*$' || true)
  [ -n "$port" ] && break
  kill -0 "$PID" 2>/dev/null || { cat "$TMP/server.log"; exit 1; }
  sleep 0.1
done
[ -n "$port" ] || { echo "the server did not start"; cat "$TMP/server.log"; exit 1; }

# Ready = /health answers 200 (it is 503 while the model loads).
node -e '
const url = process.argv[1] + "/health";
const end = Date.now() + 120000;
(async () => {
  for (;;) {
    try { if ((await fetch(url)).status === 200) return; } catch {}
    if (Date.now() > end) { console.error("the server never became healthy"); process.exit(1); }
    await new Promise((r) => setTimeout(r, 100));
  }
})();' "http://127.0.0.1:$port"

status=0
DSV4_BASE="http://127.0.0.1:$port" DSV4_KEY="$KEY" DSV4_BIN="$BIN" DSV4_MODEL="$MODEL" \
  node --test --test-concurrency=1 "${files[@]}" || status=$?

# SIGTERM: a clean stop with exit status 0.
kill -TERM "$PID"
rc=0
wait "$PID" || rc=$?
PID=""
if [ $rc -ne 0 ] || ! grep -q "dsv4 serve: stopped" "$TMP/server.log"; then
  echo "FAIL: the server exited $rc after SIGTERM"; tail -20 "$TMP/server.log"; status=1
fi
if [ $status -ne 0 ]; then
  echo "--- server log (tail) ---"; tail -40 "$TMP/server.log"
fi
exit $status
