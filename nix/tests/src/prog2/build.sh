# A program that finds mid through pkg-config.
mkdir -p "$out/bin"
export PKG_CONFIG_PATH="$mid_dev/lib/pkgconfig"
cc -O2 $(pkg-config --cflags mid) "$src/prog2.c" $(pkg-config --libs mid) \
    -Wl,-rpath-link,"$base/lib" -o "$out/bin/prog2"
