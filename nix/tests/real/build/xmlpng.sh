# xmlpng, the third-party consumer (fixtures/xmlpng): its own Makefile, every library
# found through pkg-config.
source "$realCommon"
unpack
export PKG_CONFIG_LIBDIR="$zlib/lib/pkgconfig:$libpng/lib/pkgconfig:$expat/lib/pkgconfig:$libxml2/lib/pkgconfig:$libxslt/lib/pkgconfig"
make
make install PREFIX="$out"
salted
