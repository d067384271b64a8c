# Compute toolkits per build configuration: the packages a build needs
# besides the compiler, and the CMake flags that point at them.
#
# CUDA comes from nixpkgs (`cudaPackages_<major>_<minor>`). ROCm and XPU are
# repackaged vendor package sets (AMD's and Intel's RPM repositories) that the
# package set must provide as `rocmPackages_<major>_<minor>` and
# `xpuPackages_<year>_<minor>` (for instance through an overlay on nixpkgs);
# they are not part of nixpkgs itself. Missing ones are evaluation errors that
# name the attribute, raised only when such a variant is actually built.
{ pkgs }:
let
  util = import ./util.nix;

  packageSet =
    attr: what:
    pkgs.${attr}
      or (throw "kernel-builder: the package set (the flake's nixpkgs input) has no '${attr}', needed for ${what}");

  cudaComponents = [
    "cuda_cudart"
    "cuda_cccl"
    "cuda_nvrtc"
    "cuda_nvtx"
    "cuda_profiler_api"
    "libcublas"
    "libcufft"
    "libcurand"
    "libcusolver"
    "libcusparse"
  ];
in
{
  # { nativeBuildInputs, buildInputs, cmakeFlags, env } for a configuration.
  toolchainFor =
    cfg:
    if cfg.backend == "cuda" then
      let
        cp = packageSet "cudaPackages_${util.underscoreDots cfg.toolkit}" "CUDA ${cfg.toolkit} (${cfg.variant})";
      in
      {
        nativeBuildInputs = [ cp.cuda_nvcc ];
        buildInputs = map (name: cp.${name}) cudaComponents;
        cmakeFlags = [ "-DCUDAToolkit_ROOT=${cp.cuda_nvcc}" ];
        env = { };
      }
    else if cfg.backend == "rocm" then
      let
        rp = packageSet "rocmPackages_${util.underscoreDots cfg.toolkit}" "ROCm ${cfg.toolkit} (${cfg.variant})";
      in
      {
        nativeBuildInputs = [ rp.clr rp.hipcc ];
        buildInputs = [ rp.rocm-core rp.hipblas rp.hipsparse rp.rocrand rp.hiprand rp.rocthrust rp.hipcub ];
        cmakeFlags = [ "-DROCM_PATH=${rp.clr}" ];
        env = { };
      }
    else if cfg.backend == "xpu" then
      let
        xp = packageSet "xpuPackages_${util.underscoreDots cfg.toolkit}" "XPU (oneAPI ${cfg.toolkit}, ${cfg.variant})";
      in
      {
        nativeBuildInputs = [ xp.oneapi-dpcpp-cpp ];
        buildInputs = [ xp.oneapi-mkl ];
        cmakeFlags = [ ];
        env = { };
      }
    else
      # cpu, metal (Metal builds use the Xcode toolchain of the macOS stdenv).
      {
        nativeBuildInputs = [ ];
        buildInputs = [ ];
        cmakeFlags = [ ];
        env = { };
      };
}
