# A program linking mid and base directly.
mkdir -p "$out/bin"
gcc -O2 -I"$base/include" -I"$mid/include" "$src/prog1.c" \
    -L"$mid/lib" -L"$base/lib" -lmid -lbase \
    -Wl,-rpath,"$mid/lib" -Wl,-rpath,"$base/lib" -o "$out/bin/prog1"
