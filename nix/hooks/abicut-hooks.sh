# shellcheck shell=bash
# abicut setup hook: the shell functions that run abicut inside derivations.
#
# nix/lib.nix's builders source this file and call the functions directly. In a nixpkgs
# stdenv build, adding abicut to nativeBuildInputs sources it as a setupHook, and the
# functions register themselves the way nixpkgs hooks do: `abicutInterfaceHook`,
# `abicutIndirectionHook` and `abicutRelinkHook` run from postFixupHooks when `abicutRole`
# says so (the relink hook also makes build-time copies of tools, role `tool`).
#
# The derivations of a package (nix/lib.nix explains them): compile (the real build, named
# NAME), interface and indirection (both named PNAME, stable across versions), relink (the
# final output, NAME). Every derivation has the package's outputs, each made from the
# compile output (or, for the indirection, the final output) of the same name.

# $abicutCompile names the compile derivation's outputs as "NAME=PATH ...", NAME being an
# output of this derivation too. Prints, one per line, NAME PATH.
abicutCompileOutputs() {
    abicutPairs "${abicutCompile[*]:?abicutCompile is not set}"
}

# Prints "NAME PATH" for each "NAME=PATH" word of $1. With structured attributes a list
# attribute is a bash array, so callers pass "${array[*]}" (its words, not its first one).
abicutPairs() {
    local pair
    for pair in $1; do
        printf '%s %s\n' "${pair%%=*}" "${pair#*=}"
    done
}

# The path of this derivation's output NAME: a variable of that name, or, with structured
# attributes, the `outputs` associative array.
abicutOutput() {
    if [ "$(declare -p outputs 2>/dev/null | cut -c1-11)" = "declare -A " ]; then
        printf '%s\n' "${outputs[$1]:?no output named $1}"
    else
        printf '%s\n' "${!1:?no output named $1}"
    fi
}

# The --map arguments that turn each compile output's path into this derivation's output
# of the same name, so references between a package's outputs (a .pc in `dev` naming
# `lib`) follow the package. Same name, same length: a pure hash rewrite.
abicutSelfMaps() {
    local name path
    while read -r name path; do
        printf -- '--map\n%s=%s\n' "$path" "$(abicutOutput "$name")"
    done < <(abicutCompileOutputs)
}

# Builds the interface tree of every compile output into the output of the same name. The
# outputs are read together, so a symlink from one into another (dev's lib/libz.so into
# out) stays inside the package. Their own paths become this derivation's outputs
# (`--self COMPILE=OUTPUT`): the interface is named from the package's pname, not its
# name, so no version is left in its content either, and a content-addressed interface
# keeps its path through a version bump. That rewrite changes length (`-base-1.0.1` ->
# `-base-abi`): abicut does it in text files (.pc, headers, linker scripts, symlinks) and
# refuses loudly a binary file that holds the path; the rewrite back (interface ->
# indirection in dependents) is same-length, since both derivations share the name.
#
# An output listed in $abicutStaticOutputs (nixpkgs' `static`) holds archives a consumer
# links into itself: its interface is taken alone with --with-static, so it is the
# archives, and a consumer compiles again whenever one changes (never an empty directory).
abicutInterface() {
    local tmp name path own from selfs=() paths=()
    while read -r name path; do
        selfs+=(--self "$path=$(abicutOutput "$name")")
        abicutIsStatic "$name" || paths+=("$path")
    done < <(abicutCompileOutputs)
    tmp=$(mktemp -d "${TMPDIR:-/tmp}/abicut-interface.XXXXXX")
    if ((${#paths[@]})); then
        abicut interface "${paths[@]}" -o "$tmp/tree" "${selfs[@]}" ${abicutInterfaceFlags:-}
    fi
    while read -r name path; do
        own=$(abicutOutput "$name")
        rm -rf "$own"
        if abicutIsStatic "$name"; then
            abicut interface "$path" -o "$own" "${selfs[@]}" --with-static ${abicutInterfaceFlags:-}
            continue
        fi
        from=$tmp/tree
        ((${#paths[@]} == 1)) || from=$tmp/tree/${own##*/}
        # An output with no interface (only programs, say) has no directory in the tree.
        [ -d "$from" ] || mkdir -p "$from"
        cp -a "$from" "$own"
    done < <(abicutCompileOutputs)
    rm -rf "$tmp"
}

abicutIsStatic() {
    local static
    for static in ${abicutStaticOutputs[*]:-}; do
        [ "$static" = "$1" ] && return 0
    done
    return 1
}

# The indirection: each output mirrors the final output of the same name ($abicutReal,
# "NAME=PATH ...") with one symlink per top-level entry, so every path a dependent holds
# into the interface (RUNPATH, PT_INTERP, a .pc, a script) resolves to the real files once
# the relink rewrote the interface's hash into this derivation's (same name, same length).
abicutIndirection() {
    local name path own entry
    while read -r name path; do
        own=$(abicutOutput "$name")
        if [ -d "$path" ]; then
            mkdir -p "$own"
            for entry in "$path"/* "$path"/.[!.]*; do
                [ -e "$entry" ] || [ -L "$entry" ] || continue
                ln -s "$entry" "$own/${entry##*/}"
            done
        else
            ln -s "$path" "$own"
        fi
    done < <(abicutPairs "${abicutReal[*]:?abicutReal is not set}")
}

# Relinks every compile output into the output of the same name: every interface path in
# $abicutMaps ("IFACE=INDIRECTION ...", same name on both sides) becomes the indirection,
# the compile paths become this derivation's; then verifies each output (every library and
# symbol resolves, no interface is referenced) once all exist, since one may load
# libraries from another.
#
# The build-time copy of a tool (abicutRole "tool") is the same relink with every interface
# mapped to the pinned tool runtime's indirection instead: it is verified against the pin,
# and a tool compiled against a newer interface than the pinned library provides fails
# here, with the tool, the missing symbol (abicut verify's message) and the pins named.
abicutRelink() {
    local map output path args=() forbid=() selfs=()
    for map in ${abicutMaps[*]:-}; do
        args+=(--map "$map")
        forbid+=(--forbid "${map%%=*}")
    done
    mapfile -t selfs < <(abicutSelfMaps)
    while read -r output path; do
        abicut relink "${args[@]}" "${forbid[@]}" "${selfs[@]}" "$path" "$(abicutOutput "$output")"
    done < <(abicutCompileOutputs)
    while read -r output path; do
        abicut verify "$(abicutOutput "$output")" "${forbid[@]}" ${abicutLibPath:-} || abicutVerifyFailed
    done < <(abicutCompileOutputs)
    [ -z "${abicutKeepCompile:-}" ] || abicutKeepCompileOutputs
}

# With relinks made where they are used (nix/lib.nix's relinkLocally), every final output
# names all the compile outputs it was made from in nix-support/abicut-compile: runtime
# references, so garbage collection keeps them while the final output is live, and the next
# relink of this package (any library update) needs nothing downloaded but what compiled.
abicutKeepCompileOutputs() {
    local output path own
    while read -r output path; do
        own=$(abicutOutput "$output")
        mkdir -p "$own/nix-support"
        {
            abicutCompileOutputs | cut -d' ' -f2
            # nix/lib.nix: a file naming the interfaces the relink reads, too.
            [ -z "${abicutKeepPath:-}" ] || echo "$abicutKeepPath"
        } > "$own/nix-support/abicut-compile"
    done < <(abicutCompileOutputs)
}

abicutVerifyFailed() {
    if [ "${abicutRole:-}" = tool ]; then
        echo "abicut: the build-time copy of $name does not run on the pinned tool runtime" \
            "(${abicutPins[*]:-no library pinned}): $name was compiled against a newer interface" \
            "than the pinned library provides (above: the symbol and the file)." \
            "Move the pin (toolRuntime) of that library to a build that has it." >&2
    fi
    return 1
}

abicutInterfaceHook() {
    [ "${abicutRole:-}" = interface ] || return 0
    abicutInterface
}

abicutIndirectionHook() {
    [ "${abicutRole:-}" = indirection ] || return 0
    abicutIndirection
}

abicutRelinkHook() {
    case "${abicutRole:-}" in
        relink | tool) abicutRelink ;;
    esac
}

if declare -p postFixupHooks >/dev/null 2>&1; then
    postFixupHooks+=(abicutInterfaceHook abicutIndirectionHook abicutRelinkHook)
fi
