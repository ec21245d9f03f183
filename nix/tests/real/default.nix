# Real software through the split: five upstream projects from their Debian source
# packages, each built by its own build system with the host toolchain (no nixpkgs), and a
# small third-party program on top. Library dependencies, three levels deep:
#
#   zlib <- libpng, libxml2;  libxml2 <- libxslt;  all five <- xmlpng (fixtures/xmlpng)
#   expat (alone)
#
# and one build tool: xmlpng's build runs libxslt's xsltproc.
#
# Every package declares its test suite (check/NAME.sh): its test programs are built with
# it, into its `tests` output, and run after its final build, against the real libraries.
#
#   sh nix/tests/real/sources.sh /var/tmp/abicut-real     (as root: Debian's sources)
#   nix-build nix/tests/real --arg abicut DIR --arg sources /var/tmp/abicut-real -A checks
#   nix-build ... -A classic.checks                       (the same set without abicut)
{
  abicut,
  # A directory made by sources.sh: NAME/ (unpacked, Debian's patches applied) and
  # NAME.version for each source package.
  sources,
  # Written into every output, so a test run's builds are its own (see build/common.sh).
  salt ? "",
  # Per pname, an update to apply: { version ? <bumped>, patches ? [ file names in ./patches ] }.
  updates ? { },
  # The pinned tool runtime (nix/lib.nix): the same set evaluated at the pin, say with the
  # updates of an earlier state (`import ./. { inherit abicut sources salt; }`).
  toolRuntime ? null,
  # Where relinks are made (nix/lib.nix; examples/bench_cache.rs measures both).
  relinkLocally ? false,
}:
let
  # `abicut verify` resolves libraries from outside the set in these directories, searched
  # before RUNPATH: so only the host's C and C++ runtime, never its own zlib or libxml2.
  hostRuntime = derivation {
    name = "host-c-runtime";
    system = builtins.currentSystem;
    builder = "/bin/sh";
    args = [ "-euc" ''
      /bin/mkdir -p $out
      for f in ld-linux-x86-64.so.2 libc.so.6 libm.so.6 libpthread.so.0 libdl.so.2 librt.so.1 \
          libstdc++.so.6 libgcc_s.so.1; do
        /bin/ln -s /lib/x86_64-linux-gnu/$f $out/$f
      done
    '' ];
  };
  lib = import ../../lib.nix { inherit abicut toolRuntime relinkLocally; systemLibDirs = [ hostRuntime ]; };

  # Debian's source tree of `dir`, without what no build or test reads (expat's 80 MB of
  # fuzzing corpora).
  source = dir: builtins.path {
    path = sources + "/${dir}";
    name = "${dir}-source";
    filter = path: type: !(type == "directory" && baseNameOf path == "testdata");
  };
  versionOf = dir: builtins.head (builtins.match "([^\n]*)\n?" (builtins.readFile (sources + "/${dir}.version")));

  # One package: its sources (Debian's, or a fixture), its build script, its test script;
  # `updates` may bump its version and add patches.
  describe = { pname, srcDir ? pname, src ? source srcDir, version ? versionOf srcDir, libs ? { }, tools ? { }, outputs ? [ "out" "tests" ] }:
    let update = updates.${pname} or { }; in
    {
      inherit pname src libs outputs;
      version = update.version or version;
      build = ./build + "/${pname}.sh";
      tools = {
        realCommon = ./build/common.sh;
        abicutSalt = salt;
        patches = map (p: ./patches + "/${p}") (update.patches or [ ]);
      } // tools;
    };

  set = f: rec {
    zlib = f (describe { pname = "zlib"; });
    libpng = f (describe { pname = "libpng"; srcDir = "libpng1.6"; libs = { inherit zlib; }; });
    expat = f (describe { pname = "expat"; });
    libxml2 = f (describe { pname = "libxml2"; libs = { inherit zlib; }; });
    libxslt = f (describe { pname = "libxslt"; libs = { inherit libxml2; }; outputs = [ "out" ]; });
    # Runs libxslt's xsltproc at build time (its Makefile renders the built-in picture).
    xmlpng = f (describe {
      pname = "xmlpng";
      version = "1.0";
      src = ./fixtures/xmlpng;
      libs = { inherit zlib libpng expat libxml2 libxslt; };
      tools = { xsltproc = libxslt; };
      outputs = [ "out" ];
    });
  };

  # Every package's test derivation.
  checksOf = packages: builtins.mapAttrs
    (pname: pkg: lib.test pkg {
      check = ./check + "/${pname}.sh";
      tools = { checkCommon = ./check/common.sh; src = pkg.src or pkg.compile.src; };
    })
    packages;

  split = set lib.package;
  classic = set lib.classic;
in
split // {
  checks = checksOf split;
  classic = classic // { checks = checksOf classic; };
}
