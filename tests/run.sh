#!/usr/bin/env bash
# The whole test suite: installs the Debian packages the tests need (idempotent: only
# missing ones, after one `apt-get update`, which also runs when apt has no package index:
# tests/apt-indexes.sh), then runs every test in the `ci` profile
# (Cargo.toml: release speed, with debug assertions and overflow checks on).
# Arguments go to the test harness: `bash tests/run.sh --list` lists every test and runs
# none (the README walk, tests/readme.rs, runs it so), `bash tests/run.sh NAME` filters.
set -euo pipefail
cd "$(dirname "$0")/.."
mapfile -t wanted < <(grep -v '^\s*#' tests/debian-packages.txt | sed '/^\s*$/d')
missing=()
for pkg in "${wanted[@]}"; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q 'install ok installed' || missing+=("$pkg")
done
sudo=""; [ "$(id -u)" = 0 ] || sudo=sudo
# Tests ask the archive too (`apt-get download`, `apt-cache madison`): its indexes must be
# there even when no package is missing.
if ((${#missing[@]})) || ! bash tests/apt-indexes.sh; then
  $sudo apt-get update -qq
fi
if ((${#missing[@]})); then
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi
export CI="${CI:-}"
cargo test --profile ci --all-targets --no-fail-fast -- --test-threads="${TEST_THREADS:-2}" "$@"
