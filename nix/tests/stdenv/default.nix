# A stand-in for the parts of nixpkgs that nix/overlay.nix relies on, so the overlay can be
# evaluated and built with a real Nix where nixpkgs cannot be fetched: `lib` (the few
# functions used), `stdenv.mkDerivation`/`stdenvNoCC.mkDerivation` with `overrideAttrs`,
# multiple outputs whose attributes carry `passthru` and `outputName` (as
# lib.extendDerivation makes them), `setupHook`, setup hooks of nativeBuildInputs sourced
# and postFixupHooks run (./setup.sh), and buildInputs reaching the compiler the way
# cc-wrapper passes them (NIX_CFLAGS_COMPILE, NIX_LDFLAGS, PKG_CONFIG_PATH). Overlays are
# applied as nixpkgs applies them (fix point of `final: prev:` functions).
#
#   nix-build nix/tests/stdenv --arg abicut DIR --arg packages '[ "base" "mid" "prog" ]' -A prog
{ abicut, src ? ../src, packages ? [ ], optOut ? [ ], hostPath ? "/usr/bin:/bin" }:
let
  lib = {
    inherit (builtins) elem filter concatMap;
    unique = builtins.foldl' (acc: x: if builtins.elem x acc then acc else acc ++ [ x ]) [ ];
    genAttrs = names: f: builtins.listToAttrs (map (name: { inherit name; value = f name; }) names);
  };

  mkDerivation = attrs:
    let
      outputs = attrs.outputs or [ "out" ];
      passthru = attrs.passthru or { };
      drv = derivation (removeAttrs attrs [ "passthru" ] // {
        inherit outputs;
        system = builtins.currentSystem;
        builder = "/bin/bash";
        args = [ ./setup.sh ];
        PATH = hostPath;
        # nixpkgs' glibc is in the store, on every RUNPATH; the host's is not.
        abicutLibPath = "--lib-path /lib/x86_64-linux-gnu --lib-path /usr/lib/x86_64-linux-gnu";
      });
      common = drv // passthru // {
        overrideAttrs = f: mkDerivation (attrs // f attrs);
        inherit outputs;
      };
      output = o: common // { inherit (drv.${o}) type outputName drvPath outPath; };
      withOutputs = common // lib.genAttrs outputs output;
    in
    withOutputs // { inherit (drv.${builtins.head outputs}) outputName outPath; };

  stdenv = { inherit mkDerivation; };

  base = final: {
    inherit lib stdenv;
    stdenvNoCC = stdenv;
    callPackage = _: _: throw "the stand-in nixpkgs builds abicut from the given binary";
    abicut = mkDerivation {
      name = "abicut";
      setupHook = ../../hooks/abicut-hooks.sh;
      installPhase = "mkdir -p $out/bin && cp ${abicut}/bin/abicut $out/bin/";
    };
    base = mkDerivation {
      name = "base-1.0";
      src = src + "/base";
      buildScript = src + "/base/build.sh";
    };
    mid = mkDerivation {
      name = "mid-1.0";
      outputs = [ "out" "lib" "dev" ];
      src = src + "/mid";
      buildScript = src + "/mid/build.sh";
      buildInputs = [ final.base ];
    };
    prog = mkDerivation {
      name = "prog-1.0";
      src = src + "/prog1";
      buildScript = src + "/prog1/build.sh";
      buildInputs = [ final.base final.mid.dev final.mid.lib ];
    };
  };

  overlay = import ../../overlay.nix { inherit packages optOut; };
  fix = f: let x = f x; in x;
in
fix (final: let prev = base final; in prev // overlay final prev)
