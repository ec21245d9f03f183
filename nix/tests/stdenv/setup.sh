# shellcheck shell=bash
# The builder of the stand-in stdenv (default.nix), following nixpkgs' setup.sh where the
# overlay depends on it: runHook and postFixupHooks, nativeBuildInputs on PATH and their
# setup hooks sourced, `setupHook` installed as nix-support/setup-hook. The package sources in ../src are
# written for nix/lib.nix, which names each input `$name` or `$name_output`; here those
# variables come from the buildInputs' store names (base-1.0 or base -> $base, mid-1.0-dev
# or mid-dev -> $mid_dev), which is how cc-wrapper's flags would reach the same files.
set -euo pipefail
postFixupHooks=()

runHook() {
    local hooks="$1Hooks[*]" hook
    if declare -p "$1Hooks" >/dev/null 2>&1; then
        for hook in ${!hooks}; do "$hook"; done
    fi
    eval "${!1:-}"
}

for input in ${buildInputs:-}; do
    name=${input##*/}
    if [[ ${name:33} =~ ^([A-Za-z0-9_]+)(-[0-9][^-]*)?(-([a-z]+))?$ ]]; then
        export "${BASH_REMATCH[1]}${BASH_REMATCH[4]:+_${BASH_REMATCH[4]}}=$input"
    fi
done
for input in ${nativeBuildInputs:-}; do
    PATH=$input/bin:$PATH
    if [ -f "$input/nix-support/setup-hook" ]; then
        # shellcheck disable=SC1091
        source "$input/nix-support/setup-hook"
    fi
done

if [ -n "${buildScript:-}" ]; then
    # shellcheck disable=SC1090
    source "$buildScript"
fi
eval "${installPhase:-}"
if [ -n "${setupHook:-}" ]; then
    mkdir -p "$out/nix-support"
    cp "$setupHook" "$out/nix-support/setup-hook"
fi
runHook postFixup
