# shellcheck shell=bash
# The builder of nix/lib.nix's derivations (plain `derivation`, no stdenv): one script,
# one per role (the classic build, for comparison, is one too). PATH comes from the
# derivation.
set -euo pipefail
source "$abicutHooks/abicut-hooks.sh"
start=$(date +%s%N)
case "$abicutRole" in
    compile | classic) source "$buildScript" ;;
    interface) abicutInterface ;;
    indirection) abicutIndirection ;;
    relink | tool) abicutRelink ;;
    keep) printf '%s\n' $abicutKeep > "$out" ;;
    test) source "$checkScript" ;;
    *) echo "abicut builder: unknown role '$abicutRole'" >&2; exit 1 ;;
esac
# One line per build in Nix's log, for `nix log`: what ran, how long it took, and the CPU
# time (user + system) of this shell and of every process it waited for, as `times` prints
# them ("0m1.250s 0m0.010s", two lines); `times` runs here, since a subshell's are its own.
times > "${TMPDIR:-/tmp}/abicut-times"
cpuMs() {
    local field min sec total=0
    for field in $(cat "${TMPDIR:-/tmp}/abicut-times"); do
        min=${field%%m*} sec=${field#*m}
        sec=${sec%s}
        total=$((total + min * 60000 + ${sec%.*} * 1000 + 10#${sec#*.}))
    done
    echo "$total"
}
echo "abicut-builder: $abicutRole $name $(( ($(date +%s%N) - start) / 1000000 )) ms $(cpuMs) cpu-ms"
