{
  description = "kernel-builder: build Hugging Face Hub kernels for every Torch and toolkit variant";

  inputs = {
    # The package set. Tests and offline builds replace it with
    # `--override-input nixpkgs path:<dir>` (see docs/nix.md).
    nixpkgs.url = "github:NixOS/nixpkgs/nixos-unstable";
  };

  outputs =
    { self, nixpkgs }:
    let
      kb = import ./lib {
        inherit nixpkgs;
        builderSrc = self.outPath;
      };
    in
    {
      # For kernel flakes: kernel-builder.lib.genKernelFlakeOutputs { inherit self; path = ./.; }
      lib = kb;

      packages = kb.forAllSystems (
        system:
        let
          ours = kb.builderPackages system;
        in
        {
          inherit (ours) kernels kernel-builder;
          default = ours.kernel-builder;
        }
      );

      # Working on this repository: Python with both packages' dependencies,
      # pytest, CMake and Ninja.
      devShells = kb.forAllSystems (
        system:
        let
          pkgs = kb.pkgsFor system;
        in
        {
          default = pkgs.mkShell {
            name = "kernel-builder-dev";
            packages = [
              (pkgs.python3.withPackages (
                ps: with ps; [
                  click
                  huggingface-hub
                  packaging
                  pyelftools
                  scikit-build-core
                  tomlkit
                  hatchling
                  pytest
                  numpy
                ]
              ))
              pkgs.cmake
              pkgs.ninja
            ];
            shellHook = ''
              echo "kernel-builder development shell: pip install -e python -e builder into a venv, then pytest"
            '';
          };
        }
      );
    };
}
