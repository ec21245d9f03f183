# Builds libmid against base (its interface, in a compile derivation).
mkdir -p "$out/lib/pkgconfig" "$out/include"
gcc -O2 -fPIC -shared -Wl,-soname,libmid.so.1 -I"$base/include" "$src/mid.c" \
    -L"$base/lib" -lbase -Wl,-rpath,"$base/lib" -o "$out/lib/libmid.so.1"
ln -s libmid.so.1 "$out/lib/libmid.so"
cp "$src/mid.h" "$out/include/"
sed "s|@out@|$out|" "$src/mid.pc.in" > "$out/lib/pkgconfig/mid.pc"
