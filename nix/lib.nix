# Turns package descriptions into abicut's derivations. A library package P (name
# "P-V", pname P) becomes four:
#
#   compile      "P-V"  the real build, with every `lib` input replaced by that input's
#                       interface;
#   interface    "P"    the interface tree of the compile output (floating content-addressed),
#                       which is what dependents compile against. Named from the pname, not
#                       the version, so it keeps its store path through a version bump that
#                       keeps the interface, and dependents' compiles stay cached. Its own
#                       paths inside it are its own (abicut interface --self COMPILE=OUT), so
#                       its content holds no version either;
#   indirection  "P"    a tiny output mirroring the final output with symlinks: the same name
#                       as the interface, so the relink of a dependent rewrites the interface
#                       path into it by a same-length hash rewrite, and RUNPATH, PT_INTERP,
#                       .pc files and scripts resolve through it to the real files;
#   relink       "P-V"  the final output: the compile output with every interface path
#                       rewritten to its indirection and its own path to the final one, then
#                       verified. Nix refuses it if any interface path is still referenced
#                       (disallowedReferences).
#
# On an ABI-neutral update of P (its version included), P's compile, interface, indirection
# and relink rebuild; the interface comes out byte-identical at the same path, so no
# dependent compiles; dependents relink, and what changes in their outputs is only the
# indirection's store hash. Works with plain `derivation` and no nixpkgs; see overlay.nix
# for nixpkgs' stdenv.
{
  # abicut: a derivation or directory with bin/abicut (nix/package.nix builds one).
  abicut,
  system ? builtins.currentSystem,
  # Where the builders find bash, coreutils and the compilers. With no nixpkgs this is
  # the host's (sandbox off).
  hostPath ? "/usr/bin:/bin",
  bash ? "/bin/bash",
  # Where `abicut verify` finds libraries that come from outside the package set: with
  # no nixpkgs, the host's C library.
  systemLibDirs ? [ "/lib/x86_64-linux-gnu" "/usr/lib/x86_64-linux-gnu" ],
  # Which imports the interfaces' stubs keep (`abicut interface --imports`): "owed" for
  # GNU ld, gold and lld; "all" when any consumer links with mold, which exports a
  # program's definition of a name only when a library in the link references it.
  interfaceImports ? "owed",
}:
let
  contentAddressed = {
    __contentAddressed = true;
    outputHashMode = "recursive";
    outputHashAlgo = "sha256";
  };

  common = name: role: extra:
    derivation (
      contentAddressed
      // {
        inherit name system;
        builder = bash;
        args = [ ./hooks/builder.sh ];
        abicutHooks = ./hooks;
        abicutRole = role;
        PATH = "${abicut}/bin:${hostPath}";
        abicutLibPath = builtins.concatStringsSep " " (map (d: "--lib-path ${d}") systemLibDirs);
      }
      // extra
    );
  concatMap = f: l: builtins.concatLists (map f l);

  # The environment a build script sees for its inputs: per input `n`, `$n` is its default
  # (first) output and `$n_<output>` each of its outputs (`$zlib_dev`, `$zlib_out`), taken
  # from the derivation `pick` chooses (the interface, or the classic build).
  inputEnv = pick: libs:
    builtins.listToAttrs (concatMap
      (n:
        let drv = pick libs.${n}; in
        [{ name = n; value = drv; }]
        ++ map (o: { name = "${n}_${o}"; value = drv.${o}; }) drv.outputs)
      (builtins.attrNames libs));
in
rec {
  # package { pname, version, src, build, libs ? { }, tools ? { }, outputs ? [ "out" ] }
  #   name:    "${pname}-${version}", as in nixpkgs: the compile and the final output carry
  #            it; the interface and the indirection carry pname only.
  #   build:   a bash script run in the compile derivation with $src and one variable per
  #            output set ($out, $dev, ...), and the inputs' variables (see inputEnv).
  #   libs:    packages made by this function that are linked or included: the compile
  #            derivation sees their interfaces, the relink maps those to their
  #            indirections.
  #   tools:   anything else (derivations or paths), passed through unchanged.
  #   outputs: as in nixpkgs, the first being the default; every derivation of the package
  #            has the same ones, each made from the output of the same name.
  # Returns { pname, version, name, outputs, compile, interface, indirection, out } where
  # `out` is the final, relinked derivation (all its outputs: `out.dev`, ...).
  package = { pname, version, src, build, libs ? { }, tools ? { }, outputs ? [ "out" ] }:
    let
      name = "${pname}-${version}";
      libList = builtins.attrValues libs;
      compile = common name "compile" (
        { inherit src outputs; buildScript = build; }
        // inputEnv (lib: lib.interface) libs
        // tools
      );
      ofCompile = { inherit outputs; abicutCompile = map (o: "${o}=${compile.${o}}") outputs; };
      # A `static` output's interface is its archives (see nix/hooks/abicut-hooks.sh).
      interface = common pname "interface" (ofCompile // {
        abicutInterfaceFlags = "--imports ${interfaceImports}";
        abicutStaticOutputs = builtins.filter (o: o == "static") outputs;
      });
      indirection = common pname "indirection" {
        inherit outputs;
        abicutReal = map (o: "${o}=${out.${o}}") outputs;
      };
      out = common name "relink" (ofCompile // {
        abicutMaps = concatMap (lib: map (o: "${lib.interface.${o}}=${lib.indirection.${o}}") lib.outputs) libList;
        disallowedReferences = concatMap (lib: map (o: lib.interface.${o}) lib.outputs) libList;
      });
    in
    { inherit pname version name outputs compile interface indirection out; };

  # test PACKAGE { check, tools ? { } }: runs the package's test suite after its final
  # build, against the real libraries: a derivation (role "test") that sees the final
  # outputs as $package and $package_<output> (the `out` of a split package, the classic
  # build itself), and runs the bash script `check`; its output holds the results. Test
  # programs are built by the compile step into an output of their own (say `tests`), so
  # they are relinked like everything else and never run against an interface.
  test = pkg: { check, tools ? { } }:
    common "${pkg.name}-test" "test" (
      { checkScript = check; }
      // inputEnv (p: p.out) { package = pkg; }
      // tools
    );

  # The classic build of the same description, for comparison and planning: every input
  # is the real output, one derivation per package. It is returned as the derivation
  # itself, with the same attributes as `package`'s result (every role being itself), so
  # code written against either takes both.
  classic = { pname, version, src, build, libs ? { }, tools ? { }, outputs ? [ "out" ] }:
    let
      name = "${pname}-${version}";
      drv = derivation (
        {
          inherit name pname version system src outputs;
          builder = bash;
          args = [ ./hooks/builder.sh ];
          abicutHooks = ./hooks;
          abicutRole = "classic";
          buildScript = build;
          PATH = hostPath;
          buildInputs = builtins.attrValues libs;
        }
        // inputEnv (d: d) libs
        // tools
      );
    in
    drv // {
      inherit pname version name outputs;
      compile = drv;
      interface = drv;
      indirection = drv;
      out = drv;
    };
}
