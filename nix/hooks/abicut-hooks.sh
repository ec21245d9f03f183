# shellcheck shell=bash
# abicut setup hook: the shell functions that run abicut inside derivations.
#
# nix/lib.nix's builders source this file and call the functions directly. In a nixpkgs
# stdenv build, adding abicut to nativeBuildInputs sources it as a setupHook, and the
# functions register themselves the way nixpkgs hooks do: `abicutInterfaceHook` and
# `abicutRelinkHook` run from postFixupHooks when `abicutRole` says so.

# Builds the interface tree of the compile output $1 into $out. The compile output's own
# path becomes $out (same length: both derivations carry the package's name), so a
# content-addressed interface does not change when only the compile output's path does.
abicutInterface() {
    local compile=$1 tmp
    tmp=$(mktemp -d "${TMPDIR:-/tmp}/abicut-interface.XXXXXX")
    abicut interface "$compile" -o "$tmp/tree" ${abicutInterfaceFlags:-}
    abicut relink --map "$compile=$out" "$tmp/tree" "$out"
    rm -rf "$tmp"
}

# Relinks the compile output $1 into $out: every interface path in $abicutMaps
# ("IFACE=REAL ...") becomes its real library, the compile output's path becomes $out;
# then verifies that every library and symbol resolves and no interface is referenced.
abicutRelink() {
    local compile=$1 map args=() forbid=()
    for map in ${abicutMaps:-}; do
        args+=(--map "$map")
        forbid+=(--forbid "${map%%=*}")
    done
    abicut relink "${args[@]}" "${forbid[@]}" --map "$compile=$out" "$compile" "$out"
    abicut verify "$out" "${forbid[@]}" ${abicutLibPath:-}
}

abicutInterfaceHook() {
    [ "${abicutRole:-}" = interface ] || return 0
    abicutInterface "$abicutCompile"
}

abicutRelinkHook() {
    [ "${abicutRole:-}" = relink ] || return 0
    abicutRelink "$abicutCompile"
}

if declare -p postFixupHooks >/dev/null 2>&1; then
    postFixupHooks+=(abicutInterfaceHook abicutRelinkHook)
fi
