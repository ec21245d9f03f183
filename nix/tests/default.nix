# A self-contained package set for abicut's end-to-end tests: no nixpkgs, no network, the
# host's gcc (sandbox off). `base` plays libc (versioned symbols, a linker script), `mid`
# is a library on top of it with headers and a pkg-config file, split into outputs out, lib
# and dev the way nixpkgs splits libraries; `prog1` links both and `prog2` finds mid
# through pkg-config.
#
#   nix-build nix/tests -A prog1.out --arg abicut /path/to/dir-with-bin/abicut
#   nix-build nix/tests -A classic.prog1 ...       (the same set without abicut)
{ abicut, src ? ./src, interfaceImports ? "owed" }:
let
  lib = import ../lib.nix { inherit abicut interfaceImports; };
  describe = f: rec {
    base = f {
      pname = "base";
      version = "1.0";
      src = src + "/base";
      build = src + "/base/build.sh";
    };
    mid = f {
      pname = "mid";
      version = "1.0";
      src = src + "/mid";
      build = src + "/mid/build.sh";
      libs = { inherit base; };
      outputs = [ "out" "lib" "dev" ];
    };
    prog1 = f {
      pname = "prog1";
      version = "1.0";
      src = src + "/prog1";
      build = src + "/prog1/build.sh";
      libs = { inherit base mid; };
    };
    prog2 = f {
      pname = "prog2";
      version = "1.0";
      src = src + "/prog2";
      build = src + "/prog2/build.sh";
      libs = { inherit base mid; };
    };
  };
in
describe lib.package // { classic = describe lib.classic; }
