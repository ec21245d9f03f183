# shellcheck shell=bash
# abicut setup hook: the shell functions that run abicut inside derivations.
#
# nix/lib.nix's builders source this file and call the functions directly. In a nixpkgs
# stdenv build, adding abicut to nativeBuildInputs sources it as a setupHook, and the
# functions register themselves the way nixpkgs hooks do: `abicutInterfaceHook` and
# `abicutRelinkHook` run from postFixupHooks when `abicutRole` says so.

# $abicutCompile names the compile derivation's outputs as "NAME=PATH ...", NAME being an
# output of this derivation too (the three derivations of a package share their outputs).
# Prints, one per line, NAME PATH.
abicutCompileOutputs() {
    local pair
    for pair in ${abicutCompile:?abicutCompile is not set}; do
        printf '%s %s\n' "${pair%%=*}" "${pair#*=}"
    done
}

# The --map arguments that turn each compile output's path into this derivation's output
# of the same name (same length: same name, same output suffix), so references between a
# package's outputs (a .pc in `dev` naming `lib`) follow the package.
abicutSelfMaps() {
    local name path
    while read -r name path; do
        printf -- '--map\n%s=%s\n' "$path" "${!name:?no output named $name}"
    done < <(abicutCompileOutputs)
}

# Builds the interface tree of every compile output into the output of the same name. The
# outputs are read together, so a symlink from one into another (dev's lib/libz.so into
# out) stays inside the package; their paths then become this derivation's, and a
# content-addressed interface does not change when only the compile paths do.
abicutInterface() {
    local tmp name path from maps=() paths=()
    mapfile -t maps < <(abicutSelfMaps)
    while read -r name path; do paths+=("$path"); done < <(abicutCompileOutputs)
    tmp=$(mktemp -d "${TMPDIR:-/tmp}/abicut-interface.XXXXXX")
    abicut interface "${paths[@]}" -o "$tmp/tree" ${abicutInterfaceFlags:-}
    while read -r name path; do
        from=$tmp/tree
        ((${#paths[@]} == 1)) || from=$tmp/tree/${path##*/}
        # An output with no interface (only programs, say) has no directory in the tree.
        [ -d "$from" ] || mkdir -p "$from"
        abicut relink "${maps[@]}" "$from" "${!name}"
    done < <(abicutCompileOutputs)
    rm -rf "$tmp"
}

# Relinks every compile output into the output of the same name: every interface path in
# $abicutMaps ("IFACE=REAL ...") becomes its real library, the compile paths become this
# derivation's; then verifies each output (every library and symbol resolves, no
# interface is referenced) once all exist, since one may load libraries from another.
abicutRelink() {
    local map name path args=() forbid=() selfs=()
    for map in ${abicutMaps:-}; do
        args+=(--map "$map")
        forbid+=(--forbid "${map%%=*}")
    done
    mapfile -t selfs < <(abicutSelfMaps)
    while read -r name path; do
        abicut relink "${args[@]}" "${forbid[@]}" "${selfs[@]}" "$path" "${!name}"
    done < <(abicutCompileOutputs)
    while read -r name path; do
        abicut verify "${!name}" "${forbid[@]}" ${abicutLibPath:-}
    done < <(abicutCompileOutputs)
}

abicutInterfaceHook() {
    [ "${abicutRole:-}" = interface ] || return 0
    abicutInterface
}

abicutRelinkHook() {
    [ "${abicutRole:-}" = relink ] || return 0
    abicutRelink
}

if declare -p postFixupHooks >/dev/null 2>&1; then
    postFixupHooks+=(abicutInterfaceHook abicutRelinkHook)
fi
