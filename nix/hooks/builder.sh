# shellcheck shell=bash
# The builder of nix/lib.nix's derivations (plain `derivation`, no stdenv): one script,
# four roles. PATH comes from the derivation.
set -euo pipefail
source "$abicutHooks/abicut-hooks.sh"
start=$(date +%s%N)
case "$abicutRole" in
    compile) source "$buildScript" ;;
    interface) abicutInterface ;;
    indirection) abicutIndirection ;;
    relink) abicutRelink ;;
    *) echo "abicut builder: unknown role '$abicutRole'" >&2; exit 1 ;;
esac
# One line per build in Nix's log, for `nix log`: what ran and how long it took.
echo "abicut-builder: $abicutRole $name $(( ($(date +%s%N) - start) / 1000000 )) ms"
