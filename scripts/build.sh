#!/usr/bin/env bash
# Configures and builds one flavour of dsv4 into build/ (or build-<flavour>/).
#   scripts/build.sh            release build with -Werror (the binary people run)
#   scripts/build.sh asan       ASan + UBSan build of everything (unit tests under sanitizers)
#   scripts/build.sh fuzz       clang libFuzzer targets
set -euo pipefail
cd "$(dirname "$0")/.."
flavour=${1:-release}
jobs=$(nproc)
case "$flavour" in
  release) dir=build; args=(-DCMAKE_BUILD_TYPE=RelWithDebInfo -DDSV4_WERROR=ON) ;;
  asan) dir=build-asan; args=(-DCMAKE_BUILD_TYPE=RelWithDebInfo -DDSV4_WERROR=ON -DDSV4_SANITIZE=ON -DDSV4_BENCH=OFF) ;;
  fuzz) dir=build-fuzz; args=(-DCMAKE_BUILD_TYPE=RelWithDebInfo -DDSV4_FUZZ=ON -DDSV4_BENCH=OFF
                              -DCMAKE_CXX_COMPILER=clang++-14) ;;
  *) echo "usage: scripts/build.sh [release|asan|fuzz]" >&2; exit 2 ;;
esac
if [ ! -f "$dir/build.ninja" ]; then
  cmake -S . -B "$dir" -G Ninja "${args[@]}" >/dev/null
fi
targets=()
[ "$flavour" = fuzz ] && targets=(fuzzers)
# Progress lines are dropped; with pipefail the pipeline fails exactly when ninja does.
if ! ninja -C "$dir" -j "$jobs" "${targets[@]}" | { grep -v '^\[' || true; }; then
  echo "build ($flavour) failed" >&2
  exit 1
fi
