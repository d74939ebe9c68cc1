#!/usr/bin/env bash
# The main job, until the server exists: set up, build, generate a demo model (unless --model DIR
# is given), check + describe it with `dsv4 inspect`, and answer one prompt with `dsv4 run` (a
# random demo model answers gibberish; the pipeline is the real one).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
scripts/build.sh release
model=""
if [ "${1:-}" = "--model" ] && [ -n "${2:-}" ]; then
  model=$2
else
  model=demo-model
  build/dsv4 make-model --preset text --out "$model" --seed 1 --tokenizer --force
fi
build/dsv4 inspect --model "$model"
build/dsv4 run --model "$model" -p "Hello! Who are you?" --max-tokens 24 --seed 1
