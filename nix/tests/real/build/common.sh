# shellcheck shell=bash
# Helpers for the build scripts of the real package set, sourced first by each (in the
# compile derivation of the split, and in the classic build). The package's own build
# system does the work; these only unpack, patch and install the test programs.

# Parallel jobs: Nix's cores setting (0 means every core).
jobs=${NIX_BUILD_CORES:-1}
[ "$jobs" -gt 0 ] || jobs=$(nproc)
export CFLAGS="-O1 -g0"

# Libraries come from the package's inputs only: pkg-config reads their .pc files
# (PKG_CONFIG_LIBDIR, set by the scripts), never the host's, and each library or program
# gets a RUNPATH entry for every library input it links (-Wl,-rpath), as nixpkgs' linker
# wrapper does, so the loader never falls back to the host's copy of zlib or libxml2.

# Copies the Debian source tree (Debian's patches already applied by dpkg-source) to a
# writable directory, enters it and applies this build's own patches ($patches: the
# update being tested).
unpack() {
    cp -r "$src" source
    chmod -R u+w source
    cd source
    local p
    for p in ${patches:-}; do
        echo "applying $p"
        patch -p1 --no-backup-if-mismatch < "$p"
    done
}

# Installs test programs into the `tests` output: libtool's real binaries when libtool
# built them (the wrapper scripts only work inside the build tree).
installTests() {
    mkdir -p "$tests/bin"
    local t
    for t in "$@"; do
        if [ -x "$(dirname "$t")/.libs/$(basename "$t")" ]; then
            t="$(dirname "$t")/.libs/$(basename "$t")"
        fi
        cp "$t" "$tests/bin/"
    done
}

# Leaves this run's nonce in the output, so a test's builds are new to the store even when
# an earlier run built the same sources (content-addressed outputs would be found built).
salted() {
    mkdir -p "$out/share/abicut-run"
    printf '%s\n' "${abicutSalt:-}" > "$out/share/abicut-run/$name"
}
