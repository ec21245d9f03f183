# xmlpng: renders its picture, reads the PNG back, and writes the one rendered at build time.
source "$checkCommon"
expected="16x8 crc32 $(cat "$src/expected-crc")"
check render sh -c "'$package/bin/xmlpng' '$src/style.xsl' '$src/picture.xml' out.png | grep -qx '$expected'"
check read-back sh -c "'$package/bin/xmlpng' --read out.png | grep -qx '$expected'"
# The picture xsltproc rendered when xmlpng was built: the same pixels.
check builtin sh -c "'$package/bin/xmlpng' --builtin builtin.png | grep -qx '$expected'"
finish
