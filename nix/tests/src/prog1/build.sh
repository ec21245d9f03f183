# A program linking mid and base directly.
mkdir -p "$out/bin"
gcc -O2 -I"$base/include" -I"$mid_dev/include" "$src/prog1.c" \
    -L"$mid_dev/lib" -L"$base/lib" -lmid -lbase \
    -Wl,-rpath,"$mid_lib/lib" -Wl,-rpath,"$base/lib" -o "$out/bin/prog1"
