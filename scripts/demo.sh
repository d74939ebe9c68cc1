#!/usr/bin/env bash
# The main job: set up, build, generate a demo model (unless --model DIR is given) and serve it
# with `dsv4 serve` on http://127.0.0.1:8000 (the OpenAI API; Ctrl-C or SIGTERM stops it). A random
# demo model answers gibberish; everything around it (tokenizer, encoder, parser, API) is real.
# Arguments after the optional `--model DIR` go to `dsv4 serve` (e.g. --port 9000 --api-key K).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
scripts/build.sh release
model=""
if [ "${1:-}" = "--model" ] && [ -n "${2:-}" ]; then
  model=$2
  shift 2
else
  model=demo-model
  if [ ! -f "$model/config.json" ]; then
    build/dsv4 make-model --preset text --out "$model" --seed 1 --tokenizer --force
  fi
fi
build/dsv4 inspect --model "$model"
exec build/dsv4 serve --model "$model" --served-model-name deepseek-v4 "$@"
