# A program linking mid and base directly.
mkdir -p "$out/bin"
cc -O2 -I"$base/include" -I"$mid_dev/include" "$src/prog1.c" \
    -L"$mid_dev/lib" -L"$base/lib" -lmid -lbase \
    -Wl,-rpath,"$mid_lib/lib" -Wl,-rpath,"$base/lib" \
    -Wl,--dynamic-linker="$base/lib/ld-base.so.2" -o "$out/bin/prog1"
# A script holding a path into base: after the relink it names base's indirection.
printf '#!/bin/sh\necho %s/lib\n' "$base" > "$out/bin/prog1-base-libdir"
chmod +x "$out/bin/prog1-base-libdir"
