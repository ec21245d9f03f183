# libpng on zlib: autotools, regenerated as Debian does (dh_autoreconf). Tests: upstream's
# check programs, built by `make check` with no tests run.
source "$realCommon"
unpack
autoreconf -fi >/dev/null 2>&1
./configure --prefix="$out" --disable-static \
    CPPFLAGS="-I$zlib/include" LDFLAGS="-L$zlib/lib -Wl,-rpath,$zlib/lib"
make -j"$jobs"
make install
make -j"$jobs" check TESTS=
installTests pngtest pngunknown pngstest pngvalid pngimage
salted
