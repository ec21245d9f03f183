# Applies abicut's compile/interface/relink split to nixpkgs packages built with
# stdenv.mkDerivation:
#
#   import <nixpkgs> { overlays = [ (import ./nix/overlay.nix { packages = [ "zlib" "curl" ]; }) ]; }
#
# For each listed package P: `P` becomes the relink of `P.abicutCompile`, which is P
# built with each of its buildInputs/propagatedBuildInputs that is itself split replaced by
# that input's interface; `P.abicutInterface` is the content-addressed interface of the
# compile output. Packages in `optOut` (or not listed) are left as they are.
{ packages ? [ ], optOut ? [ ] }:
final: prev:
let
  inherit (prev) lib;
  split = name: lib.elem name packages && !(lib.elem name optOut);
  abicut = final.abicut or (final.callPackage ./package.nix { });

  contentAddressed = {
    __contentAddressed = true;
    outputHashMode = "recursive";
    outputHashAlgo = "sha256";
  };

  isSplit = drv: drv ? abicutInterface;
  toInterface = drv: if isSplit drv then drv.abicutInterface else drv;
  maps = inputs: map (d: "${d.abicutInterface}=${d}") (lib.filter isSplit inputs);

  splitOne = name: pkg:
    let
      compile = pkg.overrideAttrs (old: contentAddressed // {
        buildInputs = map toInterface (old.buildInputs or [ ]);
        propagatedBuildInputs = map toInterface (old.propagatedBuildInputs or [ ]);
      });
      libInputs = (pkg.buildInputs or [ ]) ++ (pkg.propagatedBuildInputs or [ ]);
      interface = prev.stdenvNoCC.mkDerivation (contentAddressed // {
        name = pkg.name;
        nativeBuildInputs = [ abicut ];
        dontUnpack = true;
        abicutRole = "interface";
        abicutCompile = compile;
        installPhase = "runHook preInstall; runHook postInstall";
      });
      relinked = prev.stdenvNoCC.mkDerivation (contentAddressed // {
        name = pkg.name;
        nativeBuildInputs = [ abicut ];
        dontUnpack = true;
        abicutRole = "relink";
        abicutCompile = compile;
        abicutMaps = maps libInputs;
        disallowedReferences = map toInterface (lib.filter isSplit libInputs);
        installPhase = "runHook preInstall; runHook postInstall";
        passthru = (pkg.passthru or { }) // {
          abicutCompile = compile;
          abicutInterface = interface;
        };
      });
    in
    relinked;
in
lib.genAttrs (lib.filter (n: prev ? ${n} && split n) packages) (n: splitOne n prev.${n})
