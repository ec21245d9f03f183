# prog1 with base linked in from its static archive (base's `static` output) and mid as a
# shared library.
mkdir -p "$out/bin"
cc -O2 -I"$base/include" -I"$mid_dev/include" "$src/prog1.c" \
    -L"$mid_dev/lib" -lmid "$base_static/lib/libbase.a" \
    -Wl,-rpath,"$mid_lib/lib" -Wl,-rpath,"$base/lib" -o "$out/bin/progstatic"
