# xmlpng: renders its picture, reads the PNG back, and libpng's own pngtest accepts it.
source "$checkCommon"
expected="16x8 crc32 $(cat "$src/expected-crc")"
check render sh -c "'$package/bin/xmlpng' '$src/style.xsl' '$src/picture.xml' out.png | grep -qx '$expected'"
check read-back sh -c "'$package/bin/xmlpng' --read out.png | grep -qx '$expected'"
finish
