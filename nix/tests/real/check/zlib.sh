# zlib: upstream's `make testshared`, with the installed library.
source "$checkCommon"
t=$package_tests/bin
check example "$t/examplesh" "$PWD/foo.gz"
check minigzip-hello sh -c "echo hello world | '$t/minigzipsh' | '$t/minigzipsh' -d | grep -qx 'hello world'"
check minigzip-roundtrip sh -c "'$t/minigzipsh' < '$src/zlib.h' | '$t/minigzipsh' -d | cmp - '$src/zlib.h'"
finish
