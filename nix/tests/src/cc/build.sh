# The set's compiler wrapper, in the way of nixpkgs' cc-wrapper: the host's gcc with base as
# the target libc: base's headers, its crt-like object and its library directory (searched,
# and on RUNPATH). Its content names base for its users to link (a compile sees base's
# interface here), so nix/lib.nix declares it a wrapper.
mkdir -p "$out/bin"
cat > "$out/bin/cc" <<WRAPPER
#!/bin/bash
link=1
for arg; do case \$arg in -c | -E | -S | -M | -MM) link= ;; esac; done
if [ -n "\$link" ]; then
    exec gcc -isystem $base/include "\$@" $base/lib/crtbase.o -L$base/lib -Wl,-rpath,$base/lib
fi
exec gcc -isystem $base/include "\$@"
WRAPPER
chmod +x "$out/bin/cc"
