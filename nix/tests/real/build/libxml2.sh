# libxml2 on zlib: autotools, regenerated as Debian does. Tests: upstream's runtest (over
# the test data Debian's source keeps), testchar and testdict.
source "$realCommon"
unpack
autoreconf -fi >/dev/null 2>&1
./configure --prefix="$out" --disable-static --without-python --without-lzma --without-icu \
    --with-zlib="$zlib" LDFLAGS="-Wl,-rpath,$zlib/lib"
make -j"$jobs"
make install
make -j"$jobs" runtest testchar testdict
installTests runtest testchar testdict
salted
