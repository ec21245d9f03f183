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
      }
      // extra
    );
in
rec {
  # package { name, src, build, libs ? { }, tools ? { } }
  #   build: a bash script run in the compile derivation with $out and $src set, and one
  #          environment variable per input, named as in `libs` and `tools`.
  #   libs:  packages made by this function that are linked or included: the compile
  #          derivation sees their interfaces, the relink maps those to the real outputs.
  #   tools: anything else (derivations or paths), passed through unchanged.
  # Returns { name, compile, interface, out } where `out` is the final, relinked output.
  package = { name, src, build, libs ? { }, tools ? { } }:
    let
      libList = builtins.attrValues libs;
      compile = common name "compile" (
        { inherit src; buildScript = build; }
        // builtins.mapAttrs (_: lib: lib.interface) libs
        // tools
      );
      interface = common name "interface" { abicutCompile = compile; };
      out = common name "relink" {
        abicutCompile = compile;
        abicutMaps = map (lib: "${lib.interface}=${lib.out}") libList;
        disallowedReferences = map (lib: lib.interface) libList;
      };
    in
    { inherit name compile interface out; };

  # The classic build of the same description, for comparison and planning: every input
  # is the real output, one derivation per package.
  classic = { name, src, build, libs ? { }, tools ? { } }:
    derivation (
      {
        inherit name system src;
        builder = bash;
        args = [ "-euc" "source $buildScript" ];
        buildScript = build;
        PATH = hostPath;
        buildInputs = builtins.attrValues libs;
      }
      // libs
      // tools
    );
}
