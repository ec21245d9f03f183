# Checks that the stand-in (./default.nix, ./setup.sh) behaves as nixpkgs' stdenv does
# where the overlay touches it, and that the overlay keeps what nixpkgs users rely on.
# tests/nix.rs evaluates `facts` (each { got, want }) and builds the derivations, with
# structured attributes off and on.
{ abicut, structured ? false }:
let
  pkgs = import ./. {
    inherit abicut;
    packages = [ "base" "mid" "prog" "progstatic" ];
    config.structuredAttrsByDefault = structured;
  };
  inherit (pkgs) lib stdenv base mid prog;
  outPaths = map (d: d.outPath);

  # A setup hook registering a postFixupHooks function, as abicut's does.
  orderHook = stdenv.mkDerivation {
    name = "order-hook";
    setupHook = builtins.toFile "order-hook.sh" ''
      orderArray() {
          echo array >> "$out/order"
          echo -n " hook" >> "$dev/nix-support/propagated-build-inputs"
      }
      postFixupHooks+=(orderArray)
    '';
    installPhase = "mkdir -p $out";
  };
  ordered = extra: stdenv.mkDerivation ({
    name = "hook-order";
    outputs = [ "out" "dev" ];
    nativeBuildInputs = [ orderHook ];
    installPhase = "mkdir -p $out $dev/nix-support";
    postFixup = "echo string >> $out/order";
  } // extra);
in
{
  # nixpkgs' runHook: the postFixup string, then the hook array; _multioutPropagateDev,
  # registered by stdenv's own hooks, after the array, appending `out` to dev's list.
  hookOrder = ordered { };
  # propagatedBuildOutputs = "" stops _multioutPropagateDev in both attribute modes; [ ]
  # only without structured attributes (an empty bash array reads as unset).
  emptyString = ordered { propagatedBuildOutputs = ""; };
  emptyList = ordered { propagatedBuildOutputs = [ ]; };

  facts = {
    # lib.getDev: a package gives its dev output, an output named explicitly is kept.
    getDevOfPackage = { got = (lib.getDev mid).outputName; want = "dev"; };
    getDevOfOutput = { got = (lib.getDev mid.lib).outputName; want = "lib"; };
    # `buildInputs = [ mid ]` compiles against the dev output of mid's interface.
    progSeesInterfaceDev = {
      got = outPaths prog.abicutCompile.drvAttrs.buildInputs;
      want = [ mid.abicutInterface.dev.outPath ];
    };
    # `base.static` compiles against the interface's static output, which is the archive.
    staticOutput = {
      got = outPaths pkgs.progstatic.abicutCompile.drvAttrs.buildInputs;
      want = outPaths [ mid.abicutInterface.dev base.abicutInterface.static ];
    };
    structured = { got = prog.drvAttrs.__structuredAttrs; want = structured; };
    # What nixpkgs users rely on.
    pname = { got = base.pname; want = "base"; };
    version = { got = base.version; want = "1.0"; };
    name = { got = base.name; want = "base-1.0"; };
    description = { got = base.meta.description; want = "a libc-like library"; };
    passthru = { got = [ base.tests base.passthru.tests ]; want = [ "base's tests" "base's tests" ]; };
    outputs = { got = [ mid.outputName mid.dev.outputName mid.dev.outputSpecified (map (o: o.outputName) mid.all) ]; want = [ "out" "dev" true [ "out" "lib" "dev" ] ]; };
    # overrideAttrs changes the package (its compile) and splits the result again, also
    # from an output.
    overrideAttrs =
      let o = base.overrideAttrs (old: { marker = "overridden"; }); in {
        got = [ o.abicutCompile.drvAttrs.marker (o ? abicutInterface) (o.abicutCompile.drvPath != base.abicutCompile.drvPath) ];
        want = [ "overridden" true true ];
      };
    overrideAttrsOfOutput =
      let o = mid.dev.overrideAttrs (old: { marker = "overridden"; }); in {
        got = [ o.outputName o.abicutCompile.drvAttrs.marker ];
        want = [ "dev" "overridden" ];
      };
    # override (callPackage) calls the package again and splits the result.
    override = {
      got = [
        ((prog.override { }).drvPath == prog.drvPath)
        ((prog.override { mid = base; }).drvPath != prog.drvPath)
        ((prog.override { mid = base; }) ? abicutInterface)
      ];
      want = [ true true true ];
    };
  };
}
