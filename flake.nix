{
  description = "abicut: make a shared-library update cost a relink instead of a rebuild";

  inputs.nixpkgs.url = "github:NixOS/nixpkgs/nixos-unstable";

  outputs = { self, nixpkgs }:
    let
      systems = [ "x86_64-linux" "aarch64-linux" ];
      forAll = f: nixpkgs.lib.genAttrs systems (system: f nixpkgs.legacyPackages.${system});
    in
    {
      packages = forAll (pkgs: rec {
        abicut = pkgs.callPackage ./nix/package.nix { };
        default = abicut;
      });
      overlays.default = final: prev: { abicut = final.callPackage ./nix/package.nix { }; };
      lib = import ./nix/lib.nix;
    };
}
