# shellcheck shell=bash
# The builder of nix/lib.nix's derivations (plain `derivation`, no stdenv): one script,
# three roles. PATH comes from the derivation.
set -euo pipefail
source "$abicutHooks/abicut-hooks.sh"
case "$abicutRole" in
    compile) source "$buildScript" ;;
    interface) abicutInterface "$abicutCompile" ;;
    relink) abicutRelink "$abicutCompile" ;;
    *) echo "abicut builder: unknown role '$abicutRole'" >&2; exit 1 ;;
esac
