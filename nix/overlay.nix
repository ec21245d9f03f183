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
#
# Build tools (see lib.nix): a compile runs each split tool it names in nativeBuildInputs,
# and stdenv's own (`stdenv.cc`, `stdenv.initialPath`), through
#
#   P.abicutTool         P's build-time copy: P's compile output relinked against the pinned
#                        tool runtime `toolRuntime` (the package set evaluated at the pin,
#                        say an older nixpkgs with this overlay, looked up by attribute
#                        name), verified there; P's final output when there is no pin;
#
# and a package listed in `wrappers` (a compiler wrapper: its content names the libc it
# passes) through its compile output, which names its inputs' interfaces; its users'
# relinks then map those interfaces too. stdenv's tools are replaced by compiling with
# `P.override { stdenv = stdenv.override { cc = ...; initialPath = ...; }; }`, so only for
# packages that take `stdenv` from callPackage (nearly all of nixpkgs; the others keep
# stdenv's tools as they are, and compile again when those change).
#
# relinkLocally (see lib.nix and docs/binary-caches.md): false, the default, makes every
# derivation substitutable (a cache serves final outputs); true never substitutes P,
# P.abicutIndirection and P.abicutTool and prefers building them locally, while
# P.abicutCompile and P.abicutInterface are substituted, and P's outputs name the compile
# outputs in nix-support/abicut-compile, so that garbage collection keeps them.
{ packages ? [ ], optOut ? [ ], staticOutputs ? [ "static" ], systemLibDirs ? [ ]
, interfaceImports ? "owed", wrappers ? [ ], toolRuntime ? null, relinkLocally ? false }:
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

  # The roles made where they are used when relinkLocally (see the header).
  localPolicy = role:
    if !(relinkLocally && lib.elem role [ "relink" "indirection" "tool" ]) then { }
    else { allowSubstitutes = false; preferLocalBuild = true; }
      // (if role == "relink" then { abicutKeepCompile = true; } else { });

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

  isWrapper = drv: isSplit drv && drv.abicutWrapper;
  # What a compile runs of a build tool (see the header).
  toTool = drv:
    if !isSplit drv then drv
    else if drv.abicutWrapper then drv.abicutCompile
    else drv.abicutTool;
  # The interfaces the wrappers among `tools` name for their users.
  wrapped = tools: lib.unique (lib.concatMap (w: w.abicutWrapperInterfaces) (lib.filter isWrapper tools));
  # The indirection a build-time copy runs an interface's library through: the pin's build
  # of that attribute, when the pin has it split.
  pinOf = interface: let pin = toolRuntime.${interface.abicutAttr} or null; in
    if pin != null && isSplit pin then pin else null;
  pinnedIndirection = interface:
    let pin = pinOf interface; in if pin == null then interface.abicutIndirection else pin.abicutIndirection;

  splitOne = attr: pkg:
    let
      outputs = pkg.outputs or [ "out" ];
      stable = pkg.pname or (builtins.parseDrvName pkg.name).name;
      structured = pkg.__structuredAttrs or false;
      # stdenv's tools, as a compile runs them: only reachable through `override`.
      takesStdenv = pkg ? override && (lib.functionArgs pkg.override) ? stdenv;
      stdenvTools = if takesStdenv then lib.filter (t: t != null) ([ prev.stdenv.cc ] ++ prev.stdenv.initialPath) else [ ];
      withToolStdenv =
        if takesStdenv
        then pkg.override { stdenv = prev.stdenv.override { cc = toTool prev.stdenv.cc; initialPath = map toTool prev.stdenv.initialPath; }; }
        else pkg;
      compile = withToolStdenv.overrideAttrs (old: contentAddressed // {
        buildInputs = map toInterface (old.buildInputs or [ ]);
        propagatedBuildInputs = map toInterface (old.propagatedBuildInputs or [ ]);
        nativeBuildInputs = map toTool (old.nativeBuildInputs or [ ]);
      });
      ownInterfaces = reachable ((pkg.buildInputs or [ ]) ++ (pkg.propagatedBuildInputs or [ ]));
      interfaces = lib.unique (ownInterfaces ++ wrapped ((pkg.nativeBuildInputs or [ ]) ++ stdenvTools));
      propagated = reachable (pkg.propagatedBuildInputs or [ ]);
      # Nix checks `disallowedReferences` only without structured attributes; with them it
      # reads `outputChecks` alone. mkDerivation passes the paths without their context
      # (a placeholder for a content-addressed input), which Nix replaces because the same
      # interfaces are inputs through abicutMaps.
      forbid = outputsOf:
        let forbidden = lib.concatMap (i: map (o: i.${o}) (outputsOf i)) interfaces; in
        if structured
        then { outputChecks = lib.genAttrs outputs (_: { disallowedReferences = forbidden; }); }
        else { disallowedReferences = forbidden; };
      # Every interface output in `outputsOf` becomes `through`'s indirection of it.
      mapsThrough = outputsOf: through: lib.concatMap
        (i: map (o: "${i.${o}}=${(through i).${o}}") (outputsOf i))
        interfaces;
      allOutputs = i: i.outputs or [ "out" ];
      # A build-time copy leaves static outputs alone: their interface is the archives,
      # which change with every code change, and a dynamically linked tool reaches them only
      # when its compile names them (then it compiles again anyway). Mapping them would give
      # the copy a new derivation, and its users a compile, on every update.
      dynamicOutputs = i: lib.filter (o: !(lib.elem o staticOutputs)) (allOutputs i);
      derived = role: contentAddressed // localPolicy role // {
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
        name = "${stable}-abi";
        abicutInterfaceFlags = "--imports ${interfaceImports}";
        passthru = { abicutPropagated = propagated; abicutIndirection = indirection; abicutAttr = attr; };
      });
      indirection = prev.stdenvNoCC.mkDerivation (derived "indirection" // {
        name = "${stable}-abi";
        abicutReal = map (o: "${o}=${relinked.${o}}") outputs;
      });
      relinkAttrs = role: outputsOf: ofCompile role // forbid outputsOf // {
        abicutMaps = mapsThrough outputsOf (if role == "tool" then pinnedIndirection else (i: i.abicutIndirection));
        inherit (pkg) name;
        ${if systemLibDirs != [ ] then "abicutLibPath" else null} =
          toString (map (d: "--lib-path ${d}") systemLibDirs);
      };
      # The build-time copy (see the header); named as the package, so that the compile's
      # path becomes the copy's by a hash rewrite.
      tool =
        if toolRuntime == null then relinked
        else prev.stdenvNoCC.mkDerivation (relinkAttrs "tool" dynamicOutputs // {
          # Named in the message when the copy does not run on the pin (abicut-hooks.sh).
          abicutPins = map (i: "${i.abicutAttr}=${(pinOf i).name or "not pinned"}") interfaces;
        });
      relinked = prev.stdenvNoCC.mkDerivation (relinkAttrs "relink" allOutputs // {
        ${if pkg ? pname then "pname" else null} = pkg.pname;
        ${if pkg ? version then "version" else null} = pkg.version;
        meta = pkg.meta or { };
        passthru = (pkg.passthru or { }) // {
          abicutCompile = compile;
          abicutInterface = interface;
          abicutIndirection = indirection;
          abicutTool = tool;
          abicutWrapper = lib.elem attr wrappers;
          abicutWrapperInterfaces = interfaces;
          # Change the package, then split it again.
          overrideAttrs = f: splitOne attr (pkg.overrideAttrs f);
          ${if pkg ? override then "override" else null} = args: splitOne attr (pkg.override args);
        };
      });
    in
    relinked;
in
lib.genAttrs (lib.filter (n: prev ? ${n} && split n) packages) (n: splitOne n prev.${n})
