# expat: autotools, as Debian builds it (./buildconf.sh, then configure in expat/).
# Tests: upstream's runtests (C) and runtestspp (C++), built by `make check` with no
# tests run.
source "$realCommon"
unpack
cd expat
./buildconf.sh >/dev/null 2>&1
./configure --prefix="$out" --disable-static --without-docbook --without-examples
make -j"$jobs"
make install
make -j"$jobs" check TESTS=
installTests tests/runtests tests/runtestspp
salted
