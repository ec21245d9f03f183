#!/usr/bin/env bash
# The naive relocation docs/relocate.md's figures compare `abicut relocate` with: copy each path of a
# closure, then `patchelf` every ELF file (interpreter, RUNPATH) and `sed` every other
# file and every symlink target. Same-length store directories only (names unchanged), as
# that is all sed and patchelf do without a plan. Strings inside ELF files are left as
# they are: the naive way's blind spot.
#   bash examples/relocate-naive.sh NEWDIR PATH...
set -euo pipefail
new=$1
shift
old=$(dirname "$1")
mkdir -p "$new"
for p in "$@"; do cp -a "$p" "$new/"; done
chmod -R u+w "$new"
find "$new" -type f | while read -r f; do
    if [ "$(head -c 4 "$f" | od -An -c | tr -d ' ')" = '177ELF' ]; then
        interp=$(patchelf --print-interpreter "$f" 2>/dev/null || true)
        if [ -n "$interp" ]; then patchelf --set-interpreter "${interp//$old/$new}" "$f"; fi
        rpath=$(patchelf --print-rpath "$f" 2>/dev/null || true)
        if [ -n "$rpath" ]; then patchelf --set-rpath "${rpath//$old/$new}" "$f"; fi
    else
        sed -i "s|$old/|$new/|g" "$f"
    fi
done
find "$new" -type l | while read -r l; do
    target=$(readlink "$l")
    ln -sfn "${target//$old/$new}" "$l"
done
