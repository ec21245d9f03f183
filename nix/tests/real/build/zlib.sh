# zlib: its own configure script and Makefile. Tests: upstream's shared-library test
# programs (`make shared`: examplesh, minigzipsh).
source "$realCommon"
unpack
LDFLAGS="-Wl,-rpath,$out/lib" ./configure --prefix="$out" --shared
make -j"$jobs"
make install
make -j"$jobs" examplesh minigzipsh
installTests examplesh minigzipsh
salted
