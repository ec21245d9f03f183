# Builds libmid against base (its interface, in a compile derivation), split the way
# nixpkgs splits a library: the shared object in `lib`; headers, the pkg-config file and a
# second libmid.so symlink (by absolute path, into `lib`) in `dev`; a program using the
# library in `out`.
mkdir -p "$lib/lib" "$dev/lib/pkgconfig" "$dev/include" "$out/bin"
gcc -O2 -fPIC -shared -Wl,-soname,libmid.so.1 -I"$base/include" "$src/mid.c" \
    -L"$base/lib" -lbase -Wl,-rpath,"$base/lib" -o "$lib/lib/libmid.so.1"
ln -s libmid.so.1 "$lib/lib/libmid.so"
ln -s "$lib/lib/libmid.so.1" "$dev/lib/libmid.so"
cp "$src/mid.h" "$dev/include/"
sed -e "s|@dev@|$dev|" -e "s|@lib@|$lib|" "$src/mid.pc.in" > "$dev/lib/pkgconfig/mid.pc"
gcc -O2 -I"$dev/include" -I"$base/include" "$src/midtool.c" -L"$dev/lib" -lmid \
    -L"$base/lib" -lbase -Wl,-rpath,"$lib/lib" -Wl,-rpath,"$base/lib" -o "$out/bin/midtool"
