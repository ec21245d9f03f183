#!/usr/bin/env bash
# Builds the seed corpus of the fuzz targets in DIR (default: fuzz/seeds), one directory per
# target, from real files found on this machine at run time; nothing binary is committed.
#   ELF:      small libraries of /usr/lib/x86_64-linux-gnu, the cross libcs' small libraries
#             (other machines, classes and byte orders) where installed, /bin/true, copies
#             grown by patchelf (new RUNPATH, DT_NEEDED, interpreter, soname), an object file
#             and a static program when gcc is there, and, with ABICUT=path/to/abicut set,
#             abicut's own stubs of them.
#   text:     llvm-ifs text (by llvm-ifs where installed, and by hand), canonical JSON (the
#             repo's interface snapshot; abicut's with ABICUT), graph JSON and Nix derivation
#             JSON by hand, narinfo files by hand, NAR files by `nix-store --dump` where
#             installed and by hand (including ones that try to escape their destination).
# Usage: bash fuzz/seed.sh [DIR]
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
out="${1:-$root/fuzz/seeds}"
mkdir -p "$out"
out="$(cd "$out" && pwd)"
work="$out/.work"
rm -rf "$work"
mkdir -p "$work"
for t in elf_read stubgen verify_read elf_edit ifs_read json_read narinfo nar_unpack; do
  mkdir -p "$out/$t"
done

# Copies FILE into the corpus of each TARGET under NAME.
put() {
  local file="$1" name="$2"
  shift 2
  for t in "$@"; do cp "$file" "$out/$t/$name"; chmod 644 "$out/$t/$name"; done
}
elf_targets=(elf_read stubgen verify_read elf_edit)

# --- ELF ---------------------------------------------------------------------------------
n=0
for f in /usr/lib/x86_64-linux-gnu/{libz.so.1,libdl.so.2,librt.so.1,libanl.so.1} \
  /usr/{aarch64-linux-gnu,s390x-linux-gnu,mips-linux-gnu,i686-linux-gnu,arm-linux-gnueabihf}/lib/{libdl.so.2,libutil.so.1} \
  /bin/true; do
  [ -f "$f" ] || continue
  n=$((n + 1))
  base="$(basename "$(dirname "$(dirname "$f")")")-$(basename "$f")"
  put "$f" "$base" "${elf_targets[@]}"
done
if [ "$n" = 0 ]; then
  echo "fuzz/seed.sh: no ELF file found" >&2
  exit 1
fi
if command -v patchelf >/dev/null; then
  cp /bin/true "$work/true"
  patchelf --set-rpath '/nix/store/0123456789abcdfghijklmnpqrsvwxyz-grown-1.0/lib:$ORIGIN/../lib' \
    --add-needed libgrown.so.1 --set-interpreter /nix/store/0123456789abcdfghijklmnpqrsvwxyz-glibc/lib/ld-linux-x86-64.so.2 \
    "$work/true"
  put "$work/true" true-patchelf "${elf_targets[@]}"
  cp /usr/lib/x86_64-linux-gnu/libdl.so.2 "$work/libdl"
  patchelf --set-soname libgrown-soname.so.9 --force-rpath --set-rpath /opt/grown/lib \
    --replace-needed libc.so.6 libc-grown.so.6 "$work/libdl"
  put "$work/libdl" libdl-patchelf "${elf_targets[@]}"
fi
if command -v gcc >/dev/null; then
  cat >"$work/seed.c" <<'EOF'
#include <stdio.h>
__thread int tls_counter = 3;
const char *greeting = "hello";
int seed_data[4] = {1, 2, 3, 4};
__attribute__((weak)) void seed_weak(void) {}
int seed_function(int x) { return x + tls_counter; }
int main(void) { printf("%s %d\n", greeting, seed_function(seed_data[1])); return 0; }
EOF
  cat >"$work/seed.map" <<'EOF'
SEED_1.0 { global: seed_function; greeting; local: *; };
SEED_2.0 { global: seed_data; tls_counter; seed_weak; } SEED_1.0;
EOF
  gcc -O1 -c -fPIC "$work/seed.c" -o "$work/seed.o"
  put "$work/seed.o" object.o "${elf_targets[@]}"
  if gcc -shared -Wl,--version-script="$work/seed.map" -Wl,-soname,libseed.so.1 \
    "$work/seed.o" -o "$work/libseed.so.1" 2>/dev/null; then
    put "$work/libseed.so.1" libseed-versioned.so.1 "${elf_targets[@]}"
  fi
  if gcc -static -O1 "$work/seed.c" -o "$work/static" 2>/dev/null && [ "$(stat -c %s "$work/static")" -lt 1200000 ]; then
    put "$work/static" static-program elf_read verify_read
  fi
fi
if [ -n "${ABICUT:-}" ]; then
  for lib in "$out"/stubgen/*; do
    name="$(basename "$lib")"
    "$ABICUT" stubgen "$lib" -o "$work/stub-$name" 2>/dev/null &&
      put "$work/stub-$name" "stub-$name" "${elf_targets[@]}"
    "$ABICUT" stubgen --exact --format json "$lib" -o "$work/$name.json" 2>/dev/null &&
      put "$work/$name.json" "$name.json" stubgen json_read
    "$ABICUT" stubgen --exact --format ifs "$lib" -o "$work/$name.ifs" 2>/dev/null &&
      put "$work/$name.ifs" "$name.ifs" stubgen ifs_read
  done
fi

# --- llvm-ifs text -----------------------------------------------------------------------
ifs_tool="$(command -v llvm-ifs || ls /usr/bin/llvm-ifs-* 2>/dev/null | head -1 || true)"
if [ -n "$ifs_tool" ]; then
  for lib in /usr/lib/x86_64-linux-gnu/libz.so.1 /usr/lib/x86_64-linux-gnu/libdl.so.2; do
    "$ifs_tool" --input-format=ELF --output-ifs="$work/llvm.ifs" "$lib" 2>/dev/null &&
      put "$work/llvm.ifs" "llvm-$(basename "$lib").ifs" ifs_read stubgen
  done
fi
cat >"$out/ifs_read/hand.ifs" <<'EOF'
--- !ifs-v1
IfsVersion:      3.0
SoName:          libhand.so.1
Target:          { ObjectFormat: ELF, Arch: x86_64, Endianness: little, BitWidth: 64 }
NeededLibs:
  - libc.so.6
  - 'lib''quoted''.so'
Symbols:
  - { Name: hand_data, Type: Object, Size: 24 }
  - { Name: hand_fn, Type: Func }
  - { Name: hand_tls, Type: TLS, Size: 8 }
  - { Name: hand_weak, Type: Func, Weak: true }
  - { Name: hand_undef, Type: NoType, Undefined: true }
...
EOF
cat >"$out/ifs_read/big-endian.ifs" <<'EOF'
--- !ifs-v1
IfsVersion: 3.0
Target: { ObjectFormat: ELF, Arch: s390x, Endianness: big, BitWidth: 64 }
Symbols:
  - { Name: "quoted: name", Type: Object, Size: 0 }
  - { Name: f, Type: Func, Undefined: true, Weak: true }
...
EOF
cp "$out/ifs_read/hand.ifs" "$out/stubgen/hand.ifs"

# --- JSON --------------------------------------------------------------------------------
snap="$root/snapshots/fixture_interface.snap"
if [ -f "$snap" ]; then
  # An insta snapshot: a header between `---` lines, then the JSON.
  awk 'n >= 2 {print} /^---$/ {n++}' "$snap" >"$work/fixture.json"
  put "$work/fixture.json" fixture-interface.json json_read stubgen
fi
cat >"$out/json_read/graph.json" <<'EOF'
{"schema": "abicut-graph", "version": 1, "nodes": [
  {"id": "glibc", "name": "glibc-2.36", "pname": "glibc", "version": "2.36", "outputs": ["out", "dev"]},
  {"id": "zlib", "name": "zlib-1.3", "inputs": {"glibc": "lib"}},
  {"id": "gcc", "fixed_output": false, "inputs": {"glibc": "lib"}},
  {"id": "src", "fixed_output": true},
  {"id": "app", "inputs": {"zlib": "lib", "gcc": "tool", "src": "source", "glibc": "lib"}}
]}
EOF
cat >"$out/json_read/nix-derivations.json" <<'EOF'
{
  "/nix/store/0123456789abcdfghijklmnpqrsvwxyz-app-1.0.drv": {
    "outputs": {"out": {"path": "/nix/store/1123456789abcdfghijklmnpqrsvwxyz-app-1.0"}},
    "inputSrcs": ["/nix/store/2123456789abcdfghijklmnpqrsvwxyz-src"],
    "inputDrvs": {
      "/nix/store/3123456789abcdfghijklmnpqrsvwxyz-zlib-1.3.drv": {"dynamicOutputs": {}, "outputs": ["out", "dev"]},
      "/nix/store/4123456789abcdfghijklmnpqrsvwxyz-gcc-12.drv": ["out"]
    },
    "system": "x86_64-linux",
    "builder": "/nix/store/5123456789abcdfghijklmnpqrsvwxyz-bash/bin/bash",
    "args": ["-e", "builder.sh"],
    "env": {"name": "app-1.0", "pname": "app", "version": "1.0", "out": "/nix/store/1123456789abcdfghijklmnpqrsvwxyz-app-1.0",
            "buildInputs": "/nix/store/6123456789abcdfghijklmnpqrsvwxyz-zlib-1.3-dev",
            "nativeBuildInputs": "/nix/store/7123456789abcdfghijklmnpqrsvwxyz-gcc-12"}
  },
  "/nix/store/3123456789abcdfghijklmnpqrsvwxyz-zlib-1.3.drv": {
    "outputs": {"out": {"path": "/nix/store/8123456789abcdfghijklmnpqrsvwxyz-zlib-1.3"},
                "dev": {"path": "/nix/store/6123456789abcdfghijklmnpqrsvwxyz-zlib-1.3-dev"}},
    "inputSrcs": [], "inputDrvs": {}, "system": "x86_64-linux", "builder": "/bin/sh", "args": [],
    "env": {"name": "zlib-1.3", "outputHash": ""}
  },
  "/nix/store/4123456789abcdfghijklmnpqrsvwxyz-gcc-12.drv": {
    "outputs": {"out": {"path": "/nix/store/7123456789abcdfghijklmnpqrsvwxyz-gcc-12"}},
    "inputSrcs": [], "inputDrvs": {}, "system": "x86_64-linux", "builder": "/bin/sh", "args": [],
    "env": {"name": "gcc-12"}
  }
}
EOF
printf '{"schema": 2, "file": {}, "symbols": []}\n' >"$out/json_read/interface-short.json"

# --- narinfo -----------------------------------------------------------------------------
cat >"$out/narinfo/xz.narinfo" <<'EOF'
StorePath: /nix/store/0123456789abcdfghijklmnpqrsvwxyz-zlib-1.3
URL: nar/1w1fff338fvdw53sqgamddn1b2xgds473pv6y13gizdbqjv4i5p3.nar.xz
Compression: xz
FileHash: sha256:1w1fff338fvdw53sqgamddn1b2xgds473pv6y13gizdbqjv4i5p3
FileSize: 41104
NarHash: sha256:1impfw8zdgisxkghq9a3q7cn8jb9zyq4gpbd6qxijc1g1lpglhbc
NarSize: 123080
References: 0123456789abcdfghijklmnpqrsvwxyz-zlib-1.3 zyxwvsrqpnmlkjihgfdcba9876543210-glibc-2.36
Deriver: 3123456789abcdfghijklmnpqrsvwxyz-zlib-1.3.drv
Sig: cache.example.org-1:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA==
EOF
cat >"$out/narinfo/none.narinfo" <<'EOF'
StorePath: /opt/store/abcdfghijklmnpqrsvwxyz012345678-hello-2.12_1
URL: nar/hello.nar
Compression: none
NarHash: sha256:0000000000000000000000000000000000000000000000000000000000000000
NarSize: 0
References:
EOF
printf 'StorePath: /nix/store/0123456789abcdfghijklmnpqrsvwxyz-a\nURL: nar/a.nar.zst\nCompression: zstd\nNarHash: sha256:x\nNarSize: 18446744073709551615\nReferences: 0123456789abcdfghijklmnpqrsvwxyz-a\n' \
  >"$out/narinfo/zstd.narinfo"

# --- NAR -------------------------------------------------------------------------------
# A NAR string: its length as a little-endian u64, the bytes, zeros to a multiple of 8.
nar_str() {
  local s="$1" n=${#1} i
  for i in 0 8 16 24 32 40 48 56; do printf "\\x$(printf %02x $(((n >> i) & 255)))"; done
  printf '%s' "$s"
  head -c $(((8 - n % 8) % 8)) /dev/zero
}
nar() { local s; for s in "$@"; do nar_str "$s"; done; }
file=(node '(' type regular contents 'hello, world' ')')
exe=(node '(' type regular executable '' contents '#!/bin/sh' ')')
link=(node '(' type symlink target /etc ')')
nar nix-archive-1 '(' type directory \
  entry '(' name bin node '(' type directory entry '(' name run "${exe[@]}" ')' ')' ')' \
  entry '(' name lib "${link[@]}" ')' \
  entry '(' name share "${file[@]}" ')' ')' >"$out/nar_unpack/tree.nar"
nar nix-archive-1 '(' type regular contents 'one file' ')' >"$out/nar_unpack/file.nar"
nar nix-archive-1 '(' type directory entry '(' name .. "${file[@]}" ')' ')' >"$out/nar_unpack/dotdot.nar"
nar nix-archive-1 '(' type directory entry '(' name a "${link[@]}" ')' \
  entry '(' name a/b "${file[@]}" ')' ')' >"$out/nar_unpack/through-link.nar"
if command -v nix-store >/dev/null; then
  mkdir -p "$work/tree/sub"
  cp /usr/lib/x86_64-linux-gnu/libdl.so.2 "$work/tree/sub/"
  ln -s sub/libdl.so.2 "$work/tree/link"
  echo text >"$work/tree/readme"
  nix-store --dump "$work/tree" >"$out/nar_unpack/nix-store-dump.nar" 2>/dev/null ||
    rm -f "$out/nar_unpack/nix-store-dump.nar"
fi

rm -rf "$work"
for t in "$out"/*/; do
  printf '%-12s %3d seeds\n' "$(basename "$t")" "$(find "$t" -type f | wc -l)"
done
