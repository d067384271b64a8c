# The Nix library of kernel-builder, as exposed by the root flake's `lib`.
#
# `nixpkgs` is the package set input (the real nixpkgs, or any flake that
# provides the attributes listed in docs/nix.md); `builderSrc` is this
# repository (for the kernels and kernel-builder Python packages).
{
  nixpkgs,
  builderSrc,
}:
let
  util = import ./util.nix;
  matrix = import ./matrix.nix;

  pkgsFor =
    system:
    import nixpkgs {
      inherit system;
      config = {
        allowUnfree = true;
      };
    };
in
{
  genKernelFlakeOutputs = import ./gen-flake-outputs.nix { inherit nixpkgs builderSrc; };

  inherit (matrix) systems buildConfigs requiredVariants;

  # Variant names of a kernel directory (with build.toml) on a system.
  kernelVariants = path: system: matrix.kernelVariants (import ./kernel-config.nix path) system;

  forAllSystems = util.genAttrs matrix.systems;

  # kernels + kernel-builder for a system.
  builderPackages =
    system:
    import ./packages.nix {
      pkgs = pkgsFor system;
      src = builderSrc;
    };

  # The manylinux_2_28 toolchain of a Linux system (see lib/manylinux.nix).
  manylinux =
    system:
    import ./manylinux.nix {
      pkgs = pkgsFor system;
      inherit system;
    };

  # The pinned ROCm and XPU vendor package sets of a system (see
  # lib/vendor-packages.nix): { rocm."7.2" = { hipblas = ...; ... }; xpu = ...; }.
  vendorPackages =
    system:
    import ./vendor-packages.nix {
      pkgs = pkgsFor system;
      inherit system;
    };

  # Torch helpers of a system (wheel pins, expected URLs).
  torch = system: import ./torch.nix { pkgs = pkgsFor system; };

  inherit pkgsFor;
}
