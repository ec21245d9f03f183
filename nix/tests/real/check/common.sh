# shellcheck shell=bash
# Helpers for the test scripts of the real package set, sourced first by each. A test
# derivation runs after the package's final build (the relink, or the classic build):
# $package (and $package_<output>) are the package's real outputs, $src its sources (the
# test data). Every case's output goes to $out/log, its verdict to $out/results; any
# failure fails the derivation, after all cases ran.
mkdir -p "$out"
: > "$out/results"
failed=0

# check NAME COMMAND...: runs one test case.
check() {
    local name=$1
    shift
    echo "== $name" >> "$out/log"
    if "$@" >> "$out/log" 2>&1; then
        echo "PASS $name" >> "$out/results"
    else
        echo "FAIL $name" >> "$out/results"
        echo "test failed: $name" >&2
        failed=1
    fi
}

# Ends the script: the verdict, in Nix's build log too.
finish() {
    echo "tests: $(grep -c '^PASS' "$out/results") passed, $(grep -c '^FAIL' "$out/results") failed ($name)"
    if ((failed)); then
        tail -n 50 "$out/log" >&2
        exit 1
    fi
}
