# libpng: a sample of upstream's `make check` scripts (tests/*), run as the Makefile runs
# them (from a directory holding the check programs, srcdir the sources).
source "$checkCommon"
for p in "$package_tests"/bin/*; do ln -s "$p" .; done
export srcdir=$src
for t in pngtest-all pngunknown-discard pngunknown-IDAT pngunknown-if-safe pngunknown-sAPI \
    pngunknown-sTER pngunknown-save pngunknown-vpAg pngstest-1.8 pngstest-sRGB \
    pngimage-quick pngvalid-standard; do
    check "$t" sh "$src/tests/$t"
done
finish
