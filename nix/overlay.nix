# Applies abicut's split to nixpkgs packages built with stdenv.mkDerivation:
#
#   import <nixpkgs> { overlays = [ (import ./nix/overlay.nix { packages = [ "zlib" "curl" ]; }) ]; }
#
# For each listed package P (see lib.nix for the roles):
#
#   P.abicutCompile      P itself (P.overrideAttrs), content-addressed, every split input in
#                        buildInputs/propagatedBuildInputs replaced by that input's interface;
#   P.abicutInterface    its interface, named from P's pname (stable across versions);
#   P.abicutIndirection  symlinks to P's final outputs, of the interface's name;
#   P                    the relink: the final outputs, each made from the compile output of
#                        the same name, every interface of an input rewritten to its
#                        indirection (same name, so a pure hash rewrite).
#
# P keeps what nixpkgs users rely on: name, pname, version, meta, passthru, outputs (P.dev,
# P.all, outputName, outputSpecified), and `override`/`overrideAttrs`, which change the
# package and split the result again (so `overrideAttrs` reaches the compile, not the
# relink). Packages in `optOut` (or not listed) are left as they are.
#
# Static outputs: an output named in `staticOutputs` holds archives that a consumer links
# into itself, so its interface is the archives themselves (abicut interface --with-static):
# a consumer of `P.static` compiles again whenever an archive changes, and never gets an
# empty directory in its place (nix/hooks/abicut-hooks.sh).
#
# systemLibDirs: where `abicut verify` finds libraries from outside the store (a native
# stdenv, built with the host's C library); nixpkgs' own glibc is on every RUNPATH.
#
# interfaceImports: which imports the interfaces' stubs keep (`abicut interface --imports`):
# "owed" for GNU ld, gold and lld; "all" when the package set links with mold, which
# exports a program's definition only when a library in the link references the name.
{ packages ? [ ], optOut ? [ ], staticOutputs ? [ "static" ], systemLibDirs ? [ ]
, interfaceImports ? "owed" }:
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
  # What a compile sees of an input. stdenv.mkDerivation passes every input through
  # lib.getDev, which picks `dev` for a package (`buildInputs = [ zlib ]`) but keeps an
  # output named explicitly (`zlib.out`, `zlib.static`: outputSpecified). The interface
  # must be chosen the same way: the whole interface for a package, so that getDev picks
  # its `dev`, and the output of the same name for an output.
  toInterface = drv:
    if !isSplit drv then drv
    else if drv.outputSpecified or false then drv.abicutInterface.${drv.outputName}
    else drv.abicutInterface;
  # The interfaces a compile can reach from these inputs: theirs, and those they propagate
  # (a consumer of `mid` also compiles against the `base` interface that mid's dev output
  # lists in nix-support), since each must be relinked to its indirection.
  reachable = inputs: lib.unique (lib.concatMap
    (d: [ d.abicutInterface ] ++ d.abicutInterface.abicutPropagated)
    (lib.filter isSplit inputs));
  everyOutput = drv: map (o: drv.${o}) (drv.outputs or [ "out" ]);

  splitOne = pkg:
    let
      outputs = pkg.outputs or [ "out" ];
      stable = pkg.pname or (builtins.parseDrvName pkg.name).name;
      structured = pkg.__structuredAttrs or false;
      compile = pkg.overrideAttrs (old: contentAddressed // {
        buildInputs = map toInterface (old.buildInputs or [ ]);
        propagatedBuildInputs = map toInterface (old.propagatedBuildInputs or [ ]);
      });
      interfaces = reachable ((pkg.buildInputs or [ ]) ++ (pkg.propagatedBuildInputs or [ ]));
      propagated = reachable (pkg.propagatedBuildInputs or [ ]);
      # Nix checks `disallowedReferences` only without structured attributes; with them it
      # reads `outputChecks` alone. mkDerivation passes the paths without their context
      # (a placeholder for a content-addressed input), which Nix replaces because the same
      # interfaces are inputs through abicutMaps.
      forbidden = lib.concatMap everyOutput interfaces;
      forbid =
        if structured
        then { outputChecks = lib.genAttrs outputs (_: { disallowedReferences = forbidden; }); }
        else { disallowedReferences = forbidden; };
      derived = role: contentAddressed // {
        inherit outputs;
        __structuredAttrs = structured;
        nativeBuildInputs = [ abicut ];
        dontUnpack = true;
        abicutRole = role;
        abicutStaticOutputs = lib.filter (o: lib.elem o staticOutputs) outputs;
        # The interface and the relink copy the compile outputs whole, nix-support
        # included: the propagation stdenv's _multioutPropagateDev wrote there in the
        # compile is already in it. That hook runs again here, after abicut's (stdenv's own
        # setup hooks are sourced after those of nativeBuildInputs), and would append the
        # outputs a second time. A string, not [ ]: with structured attributes an empty
        # list is an empty bash array, which the hook's `${propagatedBuildOutputs+1}` takes
        # for unset.
        propagatedBuildOutputs = "";
        installPhase = "runHook preInstall; runHook postInstall";
      };
      ofCompile = role: derived role // {
        abicutCompile = map (o: "${o}=${compile.${o}}") outputs;
      };
      # Named from the pname: keeps its path through a version bump (see lib.nix).
      interface = prev.stdenvNoCC.mkDerivation (ofCompile "interface" // {
        name = stable;
        abicutInterfaceFlags = "--imports ${interfaceImports}";
        passthru = { abicutPropagated = propagated; abicutIndirection = indirection; };
      });
      indirection = prev.stdenvNoCC.mkDerivation (derived "indirection" // {
        name = stable;
        abicutReal = map (o: "${o}=${relinked.${o}}") outputs;
      });
      relinked = prev.stdenvNoCC.mkDerivation (ofCompile "relink" // forbid // {
        inherit (pkg) name;
        ${if pkg ? pname then "pname" else null} = pkg.pname;
        ${if pkg ? version then "version" else null} = pkg.version;
        meta = pkg.meta or { };
        ${if systemLibDirs != [ ] then "abicutLibPath" else null} =
          toString (map (d: "--lib-path ${d}") systemLibDirs);
        abicutMaps = lib.concatMap
          (i: map (o: "${i.${o}}=${i.abicutIndirection.${o}}") (i.outputs or [ "out" ]))
          interfaces;
        passthru = (pkg.passthru or { }) // {
          abicutCompile = compile;
          abicutInterface = interface;
          abicutIndirection = indirection;
          # Change the package, then split it again.
          overrideAttrs = f: splitOne (pkg.overrideAttrs f);
          ${if pkg ? override then "override" else null} = args: splitOne (pkg.override args);
        };
      });
    in
    relinked;
in
lib.genAttrs (lib.filter (n: prev ? ${n} && split n) packages) (n: splitOne prev.${n})
