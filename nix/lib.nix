# Turns package descriptions into abicut's derivations. A library package P (name
# "P-V", pname P) becomes four:
#
#   compile      "P-V"  the real build, with every `lib` input replaced by that input's
#                       interface;
#   interface    "P-abi"  the interface tree of the compile output (floating
#                       content-addressed), which is what dependents compile against. Named
#                       from the pname, not the version, so it keeps its store path through a
#                       version bump that keeps the interface, and dependents' compiles stay
#                       cached. Its own paths inside it are its own (abicut interface --self
#                       COMPILE=OUT), so its content holds no version either. The `-abi`
#                       suffix gives `abicut relocate` room: moving a closure to a longer
#                       store directory (/tmp/nix/store, +4) cuts every name by the
#                       difference, which a bare pname such as `cc` or `zlib` cannot give;
#   indirection  "P-abi"  a tiny output mirroring the final output with symlinks: the same name
#                       as the interface, so the relink of a dependent rewrites the interface
#                       path into it by a same-length hash rewrite, and RUNPATH, PT_INTERP,
#                       .pc files and scripts resolve through it to the real files;
#   relink       "P-V"  the final output: the compile output with every interface path
#                       rewritten to its indirection and its own path to the final one, then
#                       verified. Nix refuses it if any interface path is still referenced
#                       (disallowedReferences);
#   tool         "P-V"  with a pinned tool runtime (`toolRuntime`), the build-time copy: the
#                       compile output relinked against the pin's libraries instead of the
#                       current ones, and verified against them. This, not the final output,
#                       is what the compiles of P's users run (see "Build tools" below).
#
# On an ABI-neutral update of P (its version included), P's compile, interface, indirection
# and relink rebuild; the interface comes out byte-identical at the same path, so no
# dependent compiles; dependents relink, and what changes in their outputs is only the
# indirection's store hash. Works with plain `derivation` and no nixpkgs; see overlay.nix
# for nixpkgs' stdenv.
#
# Build tools. A package given in `tools` runs at build time. What it does there is fixed by
# its own code and the ABI of the libraries it runs on, not by which ABI-compatible build of
# them it runs on; so with a pin (`toolRuntime`: the same package set evaluated at the pin,
# say an older revision) a compile runs the tool's build-time copy, relinked against the
# pin's libraries. An ABI-neutral update of a library L then leaves every tool linking L
# uncompiled (its input interface is the same) and its build-time copy at the same path, so
# no compile that runs it reruns; the tool's final output, what users run, relinks to the
# new L. Moving the pin changes the copies of the tools linking a moved library, and their
# users compile once. Without a pin a compile runs the tool's final output, which changes
# with every library the tool links: every user of the tool compiles again.
#
# A wrapper (`wrapper = true`: nixpkgs' cc-wrapper, which passes the target libc's headers,
# crt objects and library directory to every compile) names its `libs` for its users to
# link: a compile runs its compile output, which names those libraries' interfaces, and the
# user's relink maps them like the user's own `libs`.
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
  # The pinned tool runtime: a package set made by this file's `package` (the same set
  # evaluated at the pin), by pname. A tool's build-time copy runs on the pin's build of each
  # library it links that the pin has, and on the current build of the others. null: no pin,
  # compiles run tools' final outputs.
  toolRuntime ? null,
  # Where relinks are made (docs/binary-caches.md). false (the default): by the builder;
  # every derivation is substitutable, and a binary cache serves final outputs, so a user
  # needs neither abicut nor any compile output. true: where they are used; the relink, the
  # indirection and the build-time copy of a tool are never substituted and prefer a local
  # build (Guix computes grafts the same way), while compiles and interfaces are substituted.
  # A cache then gains only what compiled, a user downloads only that and relinks at copy
  # cost; and each final output names the compile outputs it was made from in
  # nix-support/abicut-compile, so they are runtime references that garbage collection keeps
  # as long as the final output is live, ready for the next relink.
  relinkLocally ? false,
}:
let
  contentAddressed = {
    __contentAddressed = true;
    outputHashMode = "recursive";
    outputHashAlgo = "sha256";
  };

  # The roles made where they are used when relinkLocally (see the argument).
  madeLocally = role: relinkLocally && builtins.elem role [ "relink" "indirection" "tool" "keep" ];
  localPolicy = role:
    if !madeLocally role then { }
    else { allowSubstitutes = false; preferLocalBuild = true; }
      // (if role == "relink" then { abicutKeepCompile = true; } else { });

  common = name: role: extra:
    derivation (
      contentAddressed
      // localPolicy role
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
  # One package per pname, in pname order.
  uniqueByPname = l: builtins.attrValues (builtins.listToAttrs (map (p: { name = p.pname; value = p; }) l));
  isPackage = t: builtins.isAttrs t && t ? compile && t ? interface;

  # What a compile runs of a tool: a wrapper's compile output (it names its libraries'
  # interfaces), a split tool's build-time copy, anything else as given.
  toolForCompile = t: if !isPackage t then t else if t.wrapper then t.compile else t.tool;
  # What a classic build runs of a tool: its (only) output.
  toolForClassic = t: if isPackage t then t.out else t;
  # The libraries a package's wrappers name for it to link, with its own.
  linkedLibs = libs: tools:
    uniqueByPname (builtins.attrValues libs
      ++ concatMap (t: t.wrapperLibs) (builtins.filter (t: isPackage t && t.wrapper) (builtins.attrValues tools)));
  # Every tool that is a package puts its bin/ on PATH first, as nativeBuildInputs do.
  toolPath = pick: tools:
    concatMap (t: if isPackage t then [ "${pick t}/bin" ] else [ ]) (builtins.attrValues tools);
  # The indirection a build-time copy runs a library through: the pin's, when it has one.
  pinned = lib:
    if toolRuntime != null && toolRuntime ? ${lib.pname} then toolRuntime.${lib.pname} else lib;

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
  # package { pname, version, src, build, libs ? { }, tools ? { }, outputs ? [ "out" ], wrapper ? false }
  #   name:    "${pname}-${version}", as in nixpkgs: the compile and the final output carry
  #            it; the interface and the indirection carry "${pname}-abi" only.
  #   build:   a bash script run in the compile derivation with $src and one variable per
  #            output set ($out, $dev, ...), and the inputs' variables (see inputEnv).
  #   libs:    packages made by this function that are linked or included: the compile
  #            derivation sees their interfaces, the relink maps those to their
  #            indirections.
  #   tools:   run at build time: packages made by this function (the compile runs a
  #            wrapper's compile output, a tool's build-time copy, and has their bin/ on
  #            PATH), and anything else (derivations or paths), passed through unchanged.
  #   outputs: as in nixpkgs, the first being the default; every derivation of the package
  #            has the same ones, each made from the output of the same name.
  #   wrapper: the package names its `libs` for its users to link (a compiler wrapper).
  # Returns { pname, version, name, outputs, compile, interface, indirection, out, tool }
  # where `out` is the final, relinked derivation (all its outputs: `out.dev`, ...) and `tool`
  # the build-time copy (`out` itself without a pin).
  package = { pname, version, src, build, libs ? { }, tools ? { }, outputs ? [ "out" ], wrapper ? false }:
    let
      name = "${pname}-${version}";
      libList = linkedLibs libs tools;
      compile = common name "compile" (
        { inherit src outputs; buildScript = build; }
        // inputEnv (lib: lib.interface) libs
        // builtins.mapAttrs (_: toolForCompile) tools
        // { PATH = builtins.concatStringsSep ":" (toolPath toolForCompile tools ++ [ "${abicut}/bin" hostPath ]); }
      );
      ofCompile = { inherit outputs; abicutCompile = map (o: "${o}=${compile.${o}}") outputs; };
      # A `static` output's interface is its archives (see nix/hooks/abicut-hooks.sh).
      interface = common "${pname}-abi" "interface" (ofCompile // {
        abicutInterfaceFlags = "--imports ${interfaceImports}";
        abicutStaticOutputs = builtins.filter (o: o == "static") outputs;
      });
      indirection = common "${pname}-abi" "indirection" {
        inherit outputs;
        abicutReal = map (o: "${o}=${out.${o}}") outputs;
      };
      # Every interface output in `outputsOf` becomes `through`'s indirection of it.
      relinkTo = role: outputsOf: through: extra: common name role (ofCompile // {
        abicutMaps = concatMap (lib: map (o: "${lib.interface.${o}}=${(through lib).indirection.${o}}") (outputsOf lib)) libList;
        disallowedReferences = concatMap (lib: map (o: lib.interface.${o}) (outputsOf lib)) libList;
      } // extra);
      # With relinkLocally, what the next local relink reads: the compile outputs and every
      # interface output it maps. The final output names this file (nix-support/abicut-compile),
      # so garbage collection keeps them while it is live; not the interfaces directly, which
      # its disallowedReferences forbid.
      keep = common "${name}-abicut-keep" "keep" {
        abicutKeep = map (o: compile.${o}) outputs ++ concatMap (lib: map (o: lib.interface.${o}) lib.outputs) libList;
      };
      out = relinkTo "relink" (lib: lib.outputs) (lib: lib) (if relinkLocally then { abicutKeepPath = keep; } else { });
      # A build-time copy leaves `static` outputs alone: their interface is the archives,
      # which change with every code change, and would give the copy, and its users' compiles,
      # a new derivation on every update; a dynamically linked tool does not reach them.
      tool =
        if toolRuntime == null then out
        else relinkTo "tool" (lib: builtins.filter (o: o != "static") lib.outputs) pinned {
          # Named in the message when the copy does not run on the pin (abicut-hooks.sh).
          abicutPins = map (lib: "${lib.pname}=${(pinned lib).name}") libList;
        };
    in
    {
      inherit pname version name outputs compile interface indirection out tool wrapper;
      wrapperLibs = libList;
    };

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
      // builtins.mapAttrs (_: toolForClassic) tools
    );

  # The classic build of the same description, for comparison and planning: every input
  # is the real output, one derivation per package. It is returned as the derivation
  # itself, with the same attributes as `package`'s result (every role being itself), so
  # code written against either takes both.
  classic = { pname, version, src, build, libs ? { }, tools ? { }, outputs ? [ "out" ], wrapper ? false }:
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
          PATH = builtins.concatStringsSep ":" (toolPath toolForClassic tools ++ [ hostPath ]);
          buildInputs = builtins.attrValues libs;
        }
        // inputEnv (d: d) libs
        // builtins.mapAttrs (_: toolForClassic) tools
      );
    in
    drv // {
      inherit pname version name outputs wrapper;
      compile = drv;
      interface = drv;
      indirection = drv;
      out = drv;
      tool = drv;
      wrapperLibs = builtins.attrValues libs;
    };
}
