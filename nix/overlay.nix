# Applies abicut's compile/interface/relink split to nixpkgs packages built with
# stdenv.mkDerivation:
#
#   import <nixpkgs> { overlays = [ (import ./nix/overlay.nix { packages = [ "zlib" "curl" ]; }) ]; }
#
# For each listed package P: `P` becomes the relink of `P.abicutCompile`, which is P
# built with each of its buildInputs/propagatedBuildInputs that is itself split replaced by
# that input's interface; `P.abicutInterface` is the content-addressed interface of the
# compile output. All three have P's outputs (out, dev, lib, ...), each made from the
# compile output of the same name. Packages in `optOut` (or not listed) are left as they are.
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
  # `zlib.dev` (the relinked dev output) compiles against the interface's dev output.
  toInterface = drv:
    if isSplit drv then drv.abicutInterface.${drv.outputName or "out"} else drv;
  splitInputs = inputs: lib.unique (map (d: d.abicutInterface) (lib.filter isSplit inputs));
  everyOutput = drv: map (o: drv.${o}) (drv.outputs or [ "out" ]);

  splitOne = pkg:
    let
      outputs = pkg.outputs or [ "out" ];
      compile = pkg.overrideAttrs (old: contentAddressed // {
        buildInputs = map toInterface (old.buildInputs or [ ]);
        propagatedBuildInputs = map toInterface (old.propagatedBuildInputs or [ ]);
      });
      interfaces = splitInputs ((pkg.buildInputs or [ ]) ++ (pkg.propagatedBuildInputs or [ ]));
      # The interface and the relink copy the compile outputs whole, nix-support included;
      # stdenv must not write its own propagation into them first.
      fromCompile = role: contentAddressed // {
        # The compile's name, so relinking the compile output is a same-length rewrite.
        inherit (pkg) name;
        inherit outputs;
        nativeBuildInputs = [ abicut ];
        dontUnpack = true;
        propagatedBuildOutputs = [ ];
        abicutRole = role;
        abicutCompile = map (o: "${o}=${compile.${o}}") outputs;
        installPhase = "runHook preInstall; runHook postInstall";
      };
      stable = pkg.pname or (builtins.parseDrvName pkg.name).name;
      # Named from the pname: keeps its path through a version bump (see lib.nix).
      interface = prev.stdenvNoCC.mkDerivation (fromCompile "interface" // { name = stable; });
      indirection = prev.stdenvNoCC.mkDerivation (removeAttrs (fromCompile "indirection") [ "abicutCompile" ] // {
        name = stable;
        abicutReal = map (o: "${o}=${relinked.${o}}") outputs;
      });
      relinked = prev.stdenvNoCC.mkDerivation (fromCompile "relink" // {
        abicutMaps = lib.concatMap
          (i: map (o: "${i.${o}}=${i.abicutIndirection.${o}}") (i.outputs or [ "out" ]))
          interfaces;
        disallowedReferences = lib.concatMap everyOutput interfaces;
        passthru = (pkg.passthru or { }) // {
          abicutCompile = compile;
          abicutInterface = interface // { abicutIndirection = indirection; };
        };
      });
    in
    relinked;
in
lib.genAttrs (lib.filter (n: prev ? ${n} && split n) packages) (n: splitOne prev.${n})
