# A self-contained package set for abicut's end-to-end tests: no nixpkgs, no network, the
# host's gcc (sandbox off). `base` plays libc (versioned symbols, a linker script, a
# crt-like object), `cc` is a compiler wrapper passing base as the target libc (as
# nixpkgs' cc-wrapper passes glibc) that every compile but base's uses, `gen` is a
# build-time tool linked against base that mid's build runs (a code generator), `mid` is a
# library on top of base with headers and a pkg-config file, split into outputs out, lib
# and dev the way nixpkgs splits libraries; `prog1` links both and `prog2` finds mid
# through pkg-config.
#
#   nix-build nix/tests -A prog1.out --arg abicut /path/to/dir-with-bin/abicut
#   nix-build nix/tests -A classic.prog1 ...       (the same set without abicut)
#
# toolRuntime pins the tools' runtime (nix/lib.nix): the same set evaluated at the pin,
# for instance an earlier copy of this directory:
#
#   nix-build nix/tests -A prog1.out --arg abicut DIR \
#     --arg toolRuntime 'import /path/to/pinned/nix/tests { abicut = DIR; }'
#
# relinkLocally: where relinks are made (nix/lib.nix; tests/cache.rs builds both ways).
{ abicut, src ? ./src, interfaceImports ? "owed", toolRuntime ? null, relinkLocally ? false }:
let
  lib = import ../lib.nix { inherit abicut interfaceImports toolRuntime relinkLocally; };
  describe = f: rec {
    base = f {
      pname = "base";
      version = "1.0";
      src = src + "/base";
      build = src + "/base/build.sh";
    };
    cc = f {
      pname = "cc";
      version = "1.0";
      src = src + "/cc";
      build = src + "/cc/build.sh";
      libs = { inherit base; };
      wrapper = true;
    };
    gen = f {
      pname = "gen";
      version = "1.0";
      src = src + "/gen";
      build = src + "/gen/build.sh";
      libs = { inherit base; };
      tools = { inherit cc; };
    };
    mid = f {
      pname = "mid";
      version = "1.0";
      src = src + "/mid";
      build = src + "/mid/build.sh";
      libs = { inherit base; };
      tools = { inherit cc gen; };
      outputs = [ "out" "lib" "dev" ];
    };
    prog1 = f {
      pname = "prog1";
      version = "1.0";
      src = src + "/prog1";
      build = src + "/prog1/build.sh";
      libs = { inherit base mid; };
      tools = { inherit cc; };
    };
    prog2 = f {
      pname = "prog2";
      version = "1.0";
      src = src + "/prog2";
      build = src + "/prog2/build.sh";
      libs = { inherit base mid; };
      tools = { inherit cc; };
    };
  };
in
describe lib.package // { classic = describe lib.classic; }
