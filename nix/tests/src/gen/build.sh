# basegen, a build-time tool linked against base, compiled with the set's wrapper alone (it
# passes base's headers and library directory).
mkdir -p "$out/bin"
cc -O2 "$src/gen.c" -lbase -o "$out/bin/basegen"
