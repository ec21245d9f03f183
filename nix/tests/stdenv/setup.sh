# shellcheck shell=bash
# The builder of the stand-in stdenv (default.nix). Where the overlay depends on it, it
# follows nixpkgs' pkgs/stdenv/generic/setup.sh and multiple-outputs.sh (May 2024):
#
# - structured attributes: .attrs.sh is read, outputs come from the `outputs` associative
#   array and are exported, list attributes are bash arrays;
# - inputs: buildInputs and propagatedBuildInputs, and transitively what each lists in
#   nix-support/propagated-build-inputs (findInputs); nativeBuildInputs on PATH, their
#   setup hooks sourced, and only then stdenv's own hook registrations (its default native
#   inputs come last), so _multioutPropagateDev follows every hook of nativeBuildInputs in
#   postFixupHooks;
# - runHook: the implicit hook (a function or the string attribute of that name) first,
#   then the hook array;
# - fixup: propagatedBuildInputs recorded in the dev output, `setupHook` installed there,
#   then postFixup; _multioutPropagateDev appends the propagated outputs to the dev
#   output's nix-support/propagated-build-inputs unless propagatedBuildOutputs is set.
#
# The package sources in ../src are written for nix/lib.nix, which names each input `$name`
# or `$name_output`; here those variables come from the inputs' store names (base-1.0 or
# base-abi -> $base, mid-1.0-dev or mid-abi-dev -> $mid_dev), where cc-wrapper's flags
# would reach the same files.
set -euo pipefail

if [ -e "${NIX_ATTRS_SH_FILE:-${NIX_BUILD_TOP:-.}/.attrs.sh}" ]; then
    # shellcheck disable=SC1090
    source "${NIX_ATTRS_SH_FILE:-${NIX_BUILD_TOP:-.}/.attrs.sh}"
    export PATH
    __structuredAttrs=1
    for outputName in "${!outputs[@]}"; do
        export "$outputName=${outputs[$outputName]}"
    done
else
    __structuredAttrs=
    : "${outputs:=out}"
fi

getAllOutputNames() {
    if [ -n "$__structuredAttrs" ]; then
        echo "${!outputs[*]}"
    else
        echo "$outputs"
    fi
}

runHook() {
    local hookName="$1" hook
    local hooksSlice="${hookName%Hook}Hooks[@]"
    for hook in "_callImplicitHook 0 $hookName" ${!hooksSlice+"${!hooksSlice}"}; do
        _eval "$hook"
    done
}

_callImplicitHook() {
    local def="$1" hookName="$2"
    if declare -F "$hookName" >/dev/null; then
        "$hookName"
    elif [ -n "${!hookName:-}" ]; then
        eval "${!hookName}"
    else
        return "$def"
    fi
}

_eval() {
    if declare -F "$1" >/dev/null 2>&1; then
        "$@"
    else
        eval "$1"
    fi
}

# multiple-outputs.sh's defaults.
_overrideFirst() {
    local var
    [ -z "${!1-}" ] || return 0
    for var in "${@:2}"; do
        if [ -n "${!var-}" ]; then eval "$1=$var"; return; fi
    done
}
_overrideFirst outputDev dev out
_overrideFirst outputBin bin out
_overrideFirst outputInclude "$outputDev"
_overrideFirst outputLib lib out

found=()
findInputs() {
    local pkg=$1 seen dep
    for seen in ${found[@]+"${found[@]}"}; do [ "$seen" = "$pkg" ] && return; done
    found+=("$pkg")
    if [ -f "$pkg/nix-support/propagated-build-inputs" ]; then
        for dep in $(< "$pkg/nix-support/propagated-build-inputs"); do findInputs "$dep"; done
    fi
}
# Lists are space-separated strings or (structured) arrays: word splitting serves both.
: "${buildInputs=}" "${propagatedBuildInputs=}" "${nativeBuildInputs=}"
# shellcheck disable=SC2068
for pkg in ${buildInputs[@]} ${propagatedBuildInputs[@]}; do
    findInputs "$pkg"
done
for input in ${found[@]+"${found[@]}"}; do
    name=${input##*/}
    if [[ ${name:33} =~ ^([A-Za-z0-9_]+)(-[0-9][^-]*)?(-abi)?(-([a-z]+))?$ ]]; then
        export "${BASH_REMATCH[1]}${BASH_REMATCH[5]:+_${BASH_REMATCH[5]}}=$input"
    fi
done

postFixupHooks=()
# shellcheck disable=SC2068
for input in ${nativeBuildInputs[@]}; do
    PATH=$input/bin:$PATH
    if [ -f "$input/nix-support/setup-hook" ]; then
        # shellcheck disable=SC1091
        source "$input/nix-support/setup-hook"
    fi
done
# stdenv's own setup hooks are sourced last.
postFixupHooks+=(_multioutPropagateDev)

_multioutPropagateDev() {
    local outputFirst propagaterOutput output
    [ "$(getAllOutputNames)" != out ] || return 0
    for outputFirst in $(getAllOutputNames); do break; done
    propagaterOutput=${outputDev:-$outputFirst}
    if [ -z "${propagatedBuildOutputs+1}" ]; then
        propagatedBuildOutputs=$(echo "$outputBin $outputInclude $outputLib" \
            | tr -s ' ' '\n' | { grep -v -F "$propagaterOutput" || true; } | sort -u | tr '\n' ' ')
    fi
    [ -n "$propagatedBuildOutputs" ] || return 0
    mkdir -p "${!propagaterOutput}/nix-support"
    for output in $propagatedBuildOutputs; do
        echo -n " ${!output}" >> "${!propagaterOutput}/nix-support/propagated-build-inputs"
    done
}

if [ -n "${buildScript:-}" ]; then
    # shellcheck disable=SC1090
    source "$buildScript"
fi
eval "${installPhase:-}"
if [ -n "${propagatedBuildInputs[*]:-}" ]; then
    mkdir -p "${!outputDev}/nix-support"
    echo "${propagatedBuildInputs[*]}" > "${!outputDev}/nix-support/propagated-build-inputs"
fi
if [ -n "${setupHook:-}" ]; then
    mkdir -p "${!outputDev}/nix-support"
    cp "$setupHook" "${!outputDev}/nix-support/setup-hook"
fi
runHook postFixup
