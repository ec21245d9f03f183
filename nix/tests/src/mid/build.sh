# Builds libmid against base (its interface, in a compile derivation), split the way
# nixpkgs splits a library: the shared object in `lib`; headers, the pkg-config file and a
# second libmid.so symlink (by absolute path, into `lib`) in `dev`; a program using the
# library in `out`. `cc` is the set's compiler wrapper where the package set gives one (it
# adds base's crt-like object), else the host's; `basegen`, a build-time tool linked
# against base, generates mid-gen.h, which midtool prints.
mkdir -p "$lib/lib" "$dev/lib/pkgconfig" "$dev/include" "$out/bin"
cc -O2 -fPIC -shared -Wl,-soname,libmid.so.1 -I"$base/include" "$src/mid.c" \
    -L"$base/lib" -lbase -Wl,-rpath,"$base/lib" -o "$lib/lib/libmid.so.1"
ln -s libmid.so.1 "$lib/lib/libmid.so"
ln -s "$lib/lib/libmid.so.1" "$dev/lib/libmid.so"
cp "$src/mid.h" "$dev/include/"
if command -v basegen >/dev/null; then
    basegen > "$dev/include/mid-gen.h"
else
    echo '#define MID_GEN "none" /* built without basegen */' > "$dev/include/mid-gen.h"
fi
sed -e "s|@dev@|$dev|" -e "s|@lib@|$lib|" "$src/mid.pc.in" > "$dev/lib/pkgconfig/mid.pc"
cc -O2 -I"$dev/include" -I"$base/include" "$src/midtool.c" -L"$dev/lib" -lmid \
    -L"$base/lib" -lbase -Wl,-rpath,"$lib/lib" -Wl,-rpath,"$base/lib" -o "$out/bin/midtool"
