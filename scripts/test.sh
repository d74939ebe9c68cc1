#!/usr/bin/env bash
# Sets up, builds and runs every test: formatting, the -Werror build and its tests, the same tests
# under ASan+UBSan, and a short libFuzzer run of every parser of outside input.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh

echo "== clang-format"
files=$(git ls-files 'src/*.cpp' 'src/*.h' 'tests/*.cpp' 'tests/*.h' 'fuzz/*.cpp' 'bench/*.cpp' 2>/dev/null ||
        find src tests fuzz bench -name '*.cpp' -o -name '*.h')
clang-format --dry-run --Werror $files

echo "== release build (-Werror) + tests"
scripts/build.sh release
(cd build && ctest --output-on-failure -j "$(nproc)")

echo "== ASan + UBSan build + tests"
scripts/build.sh asan
# The longest runs (300-token conformance cases, all-chunkings sweeps, the long corner cases, the
# CLI script, which generates and loads models through the binary, and the full HTTP end-to-end
# suite, ~11 min here) are left to the release build: the same library code runs here on shorter
# inputs, and the server's abuse cases run as e2e_server_abuse.
(cd build-asan && ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1 \
  ctest --output-on-failure -j "$(nproc)" \
    -E 'prompt_3_decode_to_300|prefill_300|prefill_131_decode_to_270|PrefillDecodeAndChunkedAgree|C0[1-3]_|C1[47]_|cli_tests|e2e_tests')

echo "== fuzz (short runs)"
scripts/build.sh fuzz
for bin in build-fuzz/fuzz_*; do
  f=${bin#build-fuzz/fuzz_}
  echo "-- fuzz_$f"
  corpus=$(mktemp -d)
  cp fuzz/corpus/$f/* "$corpus"/ 2>/dev/null || true
  "$bin" -max_total_time="${FUZZ_SECONDS:-15}" -max_len=65536 -print_final_stats=0 \
    "$corpus" 2>&1 | tail -n 1
  rm -rf "$corpus"
done
echo "== all tests passed"
