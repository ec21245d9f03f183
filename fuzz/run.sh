#!/usr/bin/env bash
# Builds the fuzz targets (cargo-fuzz, libFuzzer, nightly Rust; release with debug
# assertions and overflow checks) and runs each for SECONDS, one after another, one fuzzer
# process at a time (libFuzzer's fork mode with one worker, which goes on after a crash),
# then prints per target: executions, coverage, corpus size, CPU time and crash files.
#   bash fuzz/run.sh SECONDS [TARGET...]     (every target when none is named)
# Needs `cargo install cargo-fuzz` and a nightly toolchain (`rustup toolchain install
# nightly`). The corpus grows in fuzz/corpus/TARGET, seeded by fuzz/seed.sh (run once, into
# fuzz/seeds); crashes land in fuzz/artifacts/TARGET; each run's log is
# fuzz/logs/fuzz-TARGET.log (or in $FUZZ_LOGS). All of these are ignored by git.
set -euo pipefail
fuzz="$(cd "$(dirname "$0")" && pwd)"
seconds="${1:?usage: bash fuzz/run.sh SECONDS [TARGET...]}"
shift
targets=("$@")
if ((${#targets[@]} == 0)); then
  targets=(elf_read stubgen verify_read elf_edit ifs_read json_read narinfo nar_unpack)
fi
logs="${FUZZ_LOGS:-$fuzz/logs}"
mkdir -p "$logs" "$fuzz/scratch"
cd "$fuzz"
[ -d seeds ] || bash seed.sh seeds
cargo +nightly fuzz build -O -a
bin="$fuzz/target/x86_64-unknown-linux-gnu/release"
summary=()
for t in "${targets[@]}"; do
  log="$logs/fuzz-$t.log"
  mkdir -p "corpus/$t" "artifacts/$t"
  # CPU time (user + system) of the fuzzer, from bash's `time`. Fork mode with one worker:
  # a crash is saved in artifacts/TARGET and fuzzing goes on, so one run lists them all.
  TIMEFORMAT='%U %S'
  set +e
  { time ABICUT_FUZZ_SCRATCH="$fuzz/scratch" "$bin/$t" -artifact_prefix="artifacts/$t/" \
    "corpus/$t" "seeds/$t" -max_total_time="$seconds" -fork=1 -ignore_crashes=1 \
    -rss_limit_mb=4096 -timeout=20 >"$log" 2>&1; } 2>"$logs/fuzz-$t.time"
  status=$?
  set -e
  # Fork mode's progress lines: `#EXECS: cov: C ft: F corp: N exec/s E oom/timeout/crash: ...`.
  last="$(grep -E '^#[0-9]+: cov:' "$log" | tail -1)"
  execs="$(sed -E 's/^#([0-9]+):.*/\1/' <<<"$last")"
  cov="$(grep -oE 'cov: [0-9]+' <<<"$last" | grep -o '[0-9]*$')"
  ft="$(grep -oE 'ft: [0-9]+' <<<"$last" | grep -o '[0-9]*$')"
  corpus="$(find "corpus/$t" -type f | wc -l)"
  cpu="$(awk '{printf "%.0f", $1 + $2}' "$logs/fuzz-$t.time" 2>/dev/null || echo '?')"
  crashes="$(find "artifacts/$t" -type f | wc -l)"
  summary+=("$(printf '%-12s exit %-3s %12s execs  cov %6s  ft %6s  corpus %6s  cpu %6ss  crashes %s' \
    "$t" "$status" "${execs:-?}" "${cov:-?}" "${ft:-?}" "$corpus" "$cpu" "$crashes")")
  echo "${summary[-1]}"
done
echo "== summary ($seconds s each)"
printf '%s\n' "${summary[@]}"
