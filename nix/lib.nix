# Turns package descriptions into abicut's three derivations per package:
#
#   compile    the real build, with every `lib` input replaced by that input's interface;
#   interface  the interface tree of the compile output (floating content-addressed), which
#              is what dependents compile against: it changes only when the ABI does;
#   relink     the final output: the compile output with every interface path rewritten to
#              the real library and its own path to the final one, then verified. Nix refuses
#              it if any interface path is still referenced (disallowedReferences).
#
# All three carry the package's name, so their store paths have one length and relinking
# is a same-length rewrite. Works with plain `derivation` and no nixpkgs; see overlay.nix
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
  # package { name, src, build, libs ? { }, tools ? { }, outputs ? [ "out" ] }
  #   build:   a bash script run in the compile derivation with $src and one variable per
  #            output set ($out, $dev, ...), and the inputs' variables (see inputEnv).
  #   libs:    packages made by this function that are linked or included: the compile
  #            derivation sees their interfaces, the relink maps those to the real outputs.
  #   tools:   anything else (derivations or paths), passed through unchanged.
  #   outputs: as in nixpkgs, the first being the default; the interface and the relink
  #            have the same ones, each made from the compile output of the same name.
  # Returns { name, outputs, compile, interface, out } where `out` is the final, relinked
  # derivation (all its outputs: `out.dev`, ...).
  package = { name, src, build, libs ? { }, tools ? { }, outputs ? [ "out" ] }:
    let
      libList = builtins.attrValues libs;
      compile = common name "compile" (
        { inherit src outputs; buildScript = build; }
        // inputEnv (lib: lib.interface) libs
        // tools
      );
      ofCompile = { inherit outputs; abicutCompile = map (o: "${o}=${compile.${o}}") outputs; };
      interface = common name "interface" ofCompile;
      out = common name "relink" (ofCompile // {
        abicutMaps = concatMap (lib: map (o: "${lib.interface.${o}}=${lib.out.${o}}") lib.outputs) libList;
        disallowedReferences = concatMap (lib: map (o: lib.interface.${o}) lib.outputs) libList;
      });
    in
    { inherit name outputs compile interface out; };

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
  # is the real output, one derivation per package.
  classic = { name, src, build, libs ? { }, tools ? { }, outputs ? [ "out" ] }:
    derivation (
      {
        inherit name system src outputs;
        builder = bash;
        args = [ ./hooks/builder.sh ];
        abicutHooks = ./hooks;
        abicutRole = "classic";
        buildScript = build;
        PATH = hostPath;
        buildInputs = builtins.attrValues libs;
      }
      // inputEnv (drv: drv) libs
      // tools
    );
}
