#!/usr/bin/env bash
# Builds the fuzz targets (cargo-fuzz, libFuzzer, nightly Rust; release with debug
# assertions and overflow checks) and runs each for SECONDS, one after another, one fuzzer
# process at a time (libFuzzer's default in-process mode: `-jobs=1` would run it as a
# child writing fuzz-0.log instead), then prints per target: executions, coverage, corpus size, CPU time
# and crashes.
#   bash fuzz/run.sh SECONDS [TARGET...]     (every target when none is named)
# Needs `cargo install cargo-fuzz` and a nightly toolchain (`rustup toolchain install
# nightly`). The corpus grows in fuzz/corpus/TARGET, seeded by fuzz/seed.sh (run once, into
# fuzz/seeds); crashes land in fuzz/artifacts/TARGET; each run's log is
# fuzz/logs/TARGET.log (or $FUZZ_LOGS/fuzz-TARGET.log). All of these are ignored by git.
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
summary=()
for t in "${targets[@]}"; do
  log="$logs/fuzz-$t.log"
  mkdir -p "corpus/$t" "artifacts/$t"
  # CPU time (user + system) of the fuzzer, from bash's `time`.
  TIMEFORMAT='%U %S'
  set +e
  { time ABICUT_FUZZ_SCRATCH="$fuzz/scratch" \
    cargo +nightly fuzz run -O -a "$t" "corpus/$t" "seeds/$t" -- \
    -max_total_time="$seconds" -rss_limit_mb=4096 -timeout=20 \
    -print_final_stats=1 >"$log" 2>&1; } 2>"$logs/fuzz-$t.time"
  status=$?
  set -e
  execs="$(grep -o 'stat::number_of_executed_units: *[0-9]*' "$log" | grep -o '[0-9]*$' | tail -1)"
  cov="$(grep -oE '(cov|DONE +cov): [0-9]+' "$log" | tail -1 | grep -o '[0-9]*$')"
  ft="$(grep -oE ' ft: [0-9]+' "$log" | tail -1 | grep -o '[0-9]*$')"
  corpus="$(find "corpus/$t" -type f | wc -l)"
  cpu="$(awk '{printf "%.0f", $1 + $2}' "$logs/fuzz-$t.time" 2>/dev/null || echo '?')"
  crashes="$(find "artifacts/$t" -type f | wc -l)"
  summary+=("$(printf '%-12s exit %-3s %12s execs  cov %6s  ft %6s  corpus %6s  cpu %6ss  crashes %s' \
    "$t" "$status" "${execs:-?}" "${cov:-?}" "${ft:-?}" "$corpus" "$cpu" "$crashes")")
  echo "${summary[-1]}"
done
echo "== summary ($seconds s each)"
printf '%s\n' "${summary[@]}"
