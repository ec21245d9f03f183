# libxslt: upstream's regression tests (tests/REC and tests/general), run as their
# Makefiles run them: from the suite's directory, xsltproc over each stylesheet, its
# output and its messages compared with the expected ones.
source "$checkCommon"
xsltcase() {
    local name=$1
    "$package/bin/xsltproc" "./$name.xsl" "./$name.xml" > "$name.res" 2> "$name.bad" || true
    diff "$name.out" "$name.res" || return 1
    if [ -s "$name.err" ]; then diff "$name.err" "$name.bad"; else diff /dev/null "$name.bad"; fi
}
for suite in REC general; do
    cp -r "$src/tests/$suite" "$suite"
    chmod -R u+w "$suite"
    pushd "$suite" >/dev/null
    for xsl in *.xsl; do
        n=${xsl%.xsl}
        [ -f "$n.xml" ] && [ -f "$n.out" ] || continue
        check "$suite/$n" xsltcase "$n"
    done
    popd >/dev/null
done
finish
