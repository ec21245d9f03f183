# libxml2: Debian's source drops upstream's test/ and result/ data but for a few files, so
# of upstream's runtest only the suites that need none run; then testchar and testdict;
# and xmllint itself over the API description libxml2 ships (2 MB of XML): formatted, the
# result parsed again and canonicalized, the same canonical form as the original's.
source "$checkCommon"
t=$package_tests/bin
check "runtest Path URI conversion" "$t/runtest" -quiet "Path URI conversion tests"
check testchar "$t/testchar"
check testdict "$t/testdict"
api=$src/doc/libxml2-api.xml
check xmllint-format sh -c "'$package/bin/xmllint' --format '$api' > formatted.xml && '$package/bin/xmllint' --noout formatted.xml"
check xmllint-c14n sh -c "'$package/bin/xmllint' --noblanks --c14n '$api' > a.c14n && '$package/bin/xmllint' --noblanks --c14n formatted.xml > b.c14n && cmp a.c14n b.c14n"
check xmllint-xpath sh -c "'$package/bin/xmllint' --xpath 'count(//function)' '$api' | grep -qx '[1-9][0-9]*'"
finish
