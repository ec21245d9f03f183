# libxslt (libxslt, libexslt, xsltproc) on libxml2: autotools, regenerated as Debian does.
# Tests: xsltproc itself, over upstream's regression data (check/libxslt.sh).
source "$realCommon"
unpack
autoreconf -fi >/dev/null 2>&1
PKG_CONFIG_LIBDIR="$libxml2/lib/pkgconfig" ./configure --prefix="$out" --disable-static \
    --without-python --without-crypto LDFLAGS="-Wl,-rpath,$libxml2/lib"
make -j"$jobs"
make install
salted
