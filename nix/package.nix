# abicut built the nixpkgs way: `pkgs.callPackage ./nix/package.nix { }`.
{ lib, rustPlatform }:

rustPlatform.buildRustPackage {
  pname = "abicut";
  version = "0.1.0";

  src = lib.cleanSourceWith {
    src = ../.;
    filter = path: type: !(lib.hasInfix "/target" path);
  };
  cargoLock.lockFile = ../Cargo.lock;

  # The test suite drives GNU ld, gold, lld, mold, Debian's cross libcs and a real Nix.
  doCheck = false;

  # Adding abicut to nativeBuildInputs brings the hook functions (abicutInterface,
  # abicutRelink) and their postFixupHooks registration.
  setupHook = ./hooks/abicut-hooks.sh;

  postInstall = ''
    ln -s abicut $out/bin/stubgen
    ln -s abicut $out/bin/relink-plan
  '';

  meta = {
    description = "Make a shared-library update cost a relink instead of a rebuild";
    license = lib.licenses.mit;
    mainProgram = "abicut";
    platforms = lib.platforms.linux;
  };
}
