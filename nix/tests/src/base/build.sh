# Builds libbase: libbase.so.1 with versioned symbols, and libbase.so, a GNU ld script
# naming the real library by absolute path (as glibc's libc.so does).
mkdir -p "$out/lib" "$out/include"
gcc -O2 -fPIC -shared -Wl,-soname,libbase.so.1 -Wl,--version-script="$src/base.map" \
    "$src/base.c" -I"$src" -o "$out/lib/libbase.so.1"
printf '/* GNU ld script */\nGROUP ( %s/lib/libbase.so.1 )\n' "$out" > "$out/lib/libbase.so"
cp "$src/base.h" "$out/include/"
# A crt-like object: the set's compiler wrapper (../cc) links it into every program and
# library it links, as cc-wrapper passes glibc's crt objects.
gcc -O2 -fPIC -c "$src/crtbase.c" -o "$out/lib/crtbase.o"
# base plays libc to the end: it ships the dynamic linker (the host's), and prog1 names it
# as its interpreter, which it reaches through base's indirection.
interp=$(readelf -l /bin/sh | sed -n 's/.*interpreter: \(.*\)]/\1/p')
cp "$interp" "$out/lib/ld-base.so.2"
# A `static` output, when the derivation has one (nixpkgs' zlib does): the archive.
if [ -n "${static:-}" ]; then
    mkdir -p "$static/lib"
    gcc -O2 -c "$src/base.c" -I"$src" -o base.o
    ar rcs "$static/lib/libbase.a" base.o
fi
