# A stand-in for the parts of nixpkgs that nix/overlay.nix touches, so the overlay is built
# and tested with a real Nix where nixpkgs cannot be fetched. Each behaviour follows
# nixpkgs' own code (May 2024: pkgs/stdenv/generic/make-derivation.nix and setup.sh,
# pkgs/build-support/setup-hooks/multiple-outputs.sh, lib/attrsets.nix and
# lib/customisation.nix), and tests/nix.rs checks each:
#
# - every input goes through lib.getDev: a package gives its `dev` output, an output named
#   explicitly (outputSpecified, set by extendDerivation on `pkg.out`, `pkg.dev`, ...) is
#   kept;
# - packages carry pname, version, meta, passthru, `all`, outputName and overrideAttrs
#   (extendDerivation), and `override` (callPackage, lib.makeOverridable);
# - __contentAddressed, and `__structuredAttrs` defaulting to
#   config.structuredAttrsByDefault (then the builder reads .attrs.sh, lists are arrays);
# - disallowedReferences passed as store paths without their string context, as
#   mkDerivation does: for a content-addressed input that is a placeholder, which Nix
#   replaces only because the input is an input through another attribute;
# - runHook, propagated inputs, _multioutPropagateDev and the order of hooks: ./setup.sh.
# Overlays are applied as nixpkgs applies them (fix point of `final: prev:` functions).
#
#   nix-build nix/tests/stdenv --arg abicut DIR --arg packages '[ "base" "mid" "prog" ]' -A prog
{ abicut
, src ? ../src
, packages ? [ ]
, optOut ? [ ]
, hostPath ? "/usr/bin:/bin"
, config ? { }
  # Passed to the overlay: the compiler wrapper, and the pinned tool runtime (the same
  # stand-in set evaluated at the pin).
, wrappers ? [ "cc" ]
, toolRuntime ? null
, relinkLocally ? false
}:
let
  lib = rec {
    inherit (builtins) elem filter concatMap isFunction;
    unique = builtins.foldl' (acc: x: if builtins.elem x acc then acc else acc ++ [ x ]) [ ];
    genAttrs = names: f: builtins.listToAttrs (map (name: { inherit name; value = f name; }) names);
    isDerivation = v: v.type or null == "derivation";

    # lib/attrsets.nix
    getOutput = output: pkg:
      if ! pkg ? outputSpecified || ! pkg.outputSpecified
      then pkg.${output} or pkg.out or pkg
      else pkg;
    getDev = getOutput "dev";

    # lib/customisation.nix, extendDerivation (without its `condition`).
    extendDerivation = passthru: drv:
      let
        commonAttrs = drv
          // builtins.listToAttrs (outputsList ++ [{ name = "all"; value = map (x: x.value) outputsList; }])
          // passthru
          // { inherit (drv) drvPath outPath; };
        outputsList = map
          (outputName: {
            name = outputName;
            value = commonAttrs // {
              inherit (drv.${outputName}) type outputName drvPath outPath;
              outputSpecified = true;
              ${if passthru ? overrideAttrs then "overrideAttrs" else null} =
                f: (passthru.overrideAttrs f).${outputName};
            };
          })
          (drv.outputs or [ "out" ]);
      in
      commonAttrs;

    # lib/trivial.nix: functionArgs reads a functor's __functionArgs, as mirrorFunctionArgs
    # sets it on `override`.
    functionArgs = f: if f ? __functor then f.__functionArgs or (functionArgs (f.__functor f)) else builtins.functionArgs f;
    mirrorFunctionArgs = f: g: { __functor = _: g; __functionArgs = functionArgs f; };

    # lib/customisation.nix, makeOverridable and callPackageWith.
    makeOverridable = f: origArgs:
      let result = f origArgs; in
      result // {
        override = mirrorFunctionArgs f (newArgs: makeOverridable f (origArgs // (if isFunction newArgs then newArgs origArgs else newArgs)));
        overrideAttrs = fdrv: makeOverridable (args: (f args).overrideAttrs fdrv) origArgs;
      };
    callPackageWith = scope: fn: args:
      let f = if isFunction fn then fn else import fn; in
      makeOverridable f (builtins.intersectAttrs (builtins.functionArgs f) scope // args);
  };

  # pkgs/stdenv/generic/make-derivation.nix, the parts the overlay meets. A stdenv's own
  # tools (its `cc` and `initialPath`, which nixpkgs' setup.sh puts on every build's PATH)
  # come before the package's nativeBuildInputs.
  mkDerivationWith = stdenv: attrs:
    let
      outputs = attrs.outputs or [ "out" ];
      structured = attrs.__structuredAttrs or (config.structuredAttrsByDefault or false);
      contentAddressed = attrs.__contentAddressed or false;
      untracked = d: if lib.isDerivation d then builtins.unsafeDiscardStringContext d.outPath else d;
      inputs = n: map lib.getDev (attrs.${n} or [ ]);
      drv = derivation (removeAttrs attrs [ "meta" "passthru" "__contentAddressed" ] // {
        name = attrs.name or "${attrs.pname}-${attrs.version}";
        inherit outputs;
        __structuredAttrs = structured;
        system = builtins.currentSystem;
        builder = "/bin/bash";
        args = [ ./setup.sh ];
        PATH = hostPath;
        nativeBuildInputs = map lib.getDev (stdenv.defaultNativeBuildInputs ++ attrs.nativeBuildInputs or [ ]);
        buildInputs = inputs "buildInputs";
        propagatedBuildInputs = inputs "propagatedBuildInputs";
        # nixpkgs' glibc is in the store, on every RUNPATH; the host's is not.
        abicutLibPath = "--lib-path /lib/x86_64-linux-gnu --lib-path /usr/lib/x86_64-linux-gnu";
      } // (if contentAddressed then {
        __contentAddressed = true;
        outputHashAlgo = attrs.outputHashAlgo or "sha256";
        outputHashMode = attrs.outputHashMode or "recursive";
      } else { }) // (if attrs ? disallowedReferences then {
        disallowedReferences = map untracked attrs.disallowedReferences;
      } else { }));
      # The legacy one-argument form `overrideAttrs (old: { ... })`.
      overrideAttrs = f: mkDerivationWith stdenv (attrs // f attrs);
      passthru = attrs.passthru or { };
    in
    lib.extendDerivation
      ({ inherit passthru overrideAttrs; meta = attrs.meta or { }; } // passthru)
      drv;

  # pkgs/stdenv/generic/default.nix: a stdenv is made from its `cc` and `initialPath`, and
  # `stdenv.override` makes another (nixpkgs' overrideCC does so).
  makeStdenv = args@{ cc ? null, initialPath ? [ ] }: {
    inherit cc initialPath;
    defaultNativeBuildInputs = (if cc == null then [ ] else [ cc ]) ++ initialPath;
    mkDerivation = mkDerivationWith (makeStdenv args);
    override = newArgs: makeStdenv (args // newArgs);
  };
  # The bootstrap's: the host's tools only, as nixpkgs' bootstrap stages start from pinned
  # binaries. It builds what the final stdenv is made of.
  stdenvBoot = makeStdenv { };

  base = final: {
    inherit lib stdenvBoot;
    stdenvNoCC = stdenvBoot;
    # The final stdenv, as nixpkgs': its compiler wrapper and the tools on every build's
    # PATH are packages of the set, built by the bootstrap.
    stdenv = makeStdenv { inherit (final) cc; initialPath = [ final.gen ]; };
    callPackage = lib.callPackageWith final;
    abicut = stdenvBoot.mkDerivation {
      name = "abicut";
      setupHook = ../../hooks/abicut-hooks.sh;
      installPhase = "mkdir -p $out/bin && cp ${abicut}/bin/abicut $out/bin/";
    };
    # `base` plays libc and has a static output, as zlib does.
    base = final.callPackage
      ({ stdenvBoot }: stdenvBoot.mkDerivation {
        pname = "base";
        version = "1.0";
        outputs = [ "out" "static" ];
        src = src + "/base";
        buildScript = src + "/base/build.sh";
        meta.description = "a libc-like library";
        passthru.tests = "base's tests";
      })
      { };
    # The compiler wrapper: passes base as the target libc, as cc-wrapper passes glibc.
    cc = final.callPackage
      ({ stdenvBoot, base }: stdenvBoot.mkDerivation {
        pname = "cc";
        version = "1.0";
        src = src + "/cc";
        buildScript = src + "/cc/build.sh";
        buildInputs = [ base ];
      })
      { };
    # A tool linked against base, on every build's PATH (as coreutils is in nixpkgs) and
    # run by mid's build (basegen, a code generator).
    gen = final.callPackage
      ({ stdenvBoot, cc, base }: stdenvBoot.mkDerivation {
        pname = "gen";
        version = "1.0";
        src = src + "/gen";
        buildScript = src + "/gen/build.sh";
        nativeBuildInputs = [ cc ];
        buildInputs = [ base ];
      })
      { };
    # mid's header includes base's, so mid propagates base, the nixpkgs way; its build runs
    # basegen, named as a build tool too.
    mid = final.callPackage
      ({ stdenv, base, gen }: stdenv.mkDerivation {
        pname = "mid";
        version = "1.0";
        outputs = [ "out" "lib" "dev" ];
        src = src + "/mid";
        buildScript = src + "/mid/build.sh";
        nativeBuildInputs = [ gen ];
        propagatedBuildInputs = [ base ];
      })
      { };
    # The ordinary way of naming a library input: getDev picks mid's dev output, which
    # propagates mid's lib and base.
    prog = final.callPackage
      ({ stdenv, mid }: stdenv.mkDerivation {
        pname = "prog";
        version = "1.0";
        src = src + "/prog1";
        buildScript = src + "/prog1/build.sh";
        buildInputs = [ mid ];
      })
      { };
    # Links base's archive from its static output.
    progstatic = final.callPackage
      ({ stdenv, mid, base }: stdenv.mkDerivation {
        pname = "progstatic";
        version = "1.0";
        src = src + "/prog1";
        buildScript = src + "/prog1/build-static.sh";
        buildInputs = [ mid base.static ];
      })
      { };
    leak = final.callPackage
      ({ stdenv, base }: stdenv.mkDerivation {
        pname = "leak";
        version = "1.0";
        src = src + "/leak";
        buildScript = src + "/leak/build.sh";
        buildInputs = [ base ];
      })
      { };
  };

  overlay = import ../../overlay.nix { inherit packages optOut wrappers toolRuntime relinkLocally; };
  fix = f: let x = f x; in x;
in
fix (final: let prev = base final; in prev // overlay final prev)
