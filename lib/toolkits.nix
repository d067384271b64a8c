# Compute toolkits per build configuration: the packages a build needs
# besides the compiler, and the CMake flags that point at them.
#
# CUDA comes from nixpkgs (`cudaPackages_<major>_<minor>`). ROCm and XPU are
# repackaged vendor package sets (AMD's and Intel's RPMs, lib/vendor-packages.nix)
# pinned in lib/rocm-packages.json and lib/xpu-packages.json. A package set
# that provides `rocmPackages_<major>_<minor>` or `xpuPackages_<year>_<minor>`
# itself (for instance through an overlay on nixpkgs) is used instead. Missing
# sets and toolkits without pinned packages are evaluation errors that say
# what is missing, raised only when such a variant is actually built.
{ pkgs, system }:
let
  util = import ./util.nix;
  vendor = import ./vendor-packages.nix { inherit pkgs system; };

  packageSet =
    attr: what:
    pkgs.${attr}
      or (throw "kernel-builder: the package set (the flake's nixpkgs input) has no '${attr}', needed for ${what}");

  # The package set's own toolkit set wins over the pinned vendor packages.
  vendorSet =
    attr: pinned: cfg:
    if pkgs ? ${attr} then pkgs.${attr} else pinned cfg.toolkit cfg.variant;

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
  # { nativeBuildInputs, buildInputs, cmakeFlags, env, packages } for a
  # configuration; `packages` is the toolkit's package set.
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
        packages = cp;
      }
    else if cfg.backend == "rocm" then
      let
        rp = vendorSet "rocmPackages_${util.underscoreDots cfg.toolkit}" vendor.rocmFor cfg;
      in
      {
        nativeBuildInputs = [ rp.clr rp.hipcc ];
        buildInputs = [ rp.rocm-core rp.hipblas rp.hipsparse rp.rocrand rp.hiprand rp.rocthrust rp.hipcub ];
        cmakeFlags = [ "-DROCM_PATH=${rp.clr}" ];
        # Torch's CMake files (LoadHIP.cmake) read the ROCm root from the environment.
        env = {
          ROCM_PATH = "${rp.clr}";
        };
        packages = rp;
      }
    else if cfg.backend == "xpu" then
      let
        xp = vendorSet "xpuPackages_${util.underscoreDots cfg.toolkit}" vendor.xpuFor cfg;
      in
      {
        nativeBuildInputs = [ xp.oneapi-dpcpp-cpp ];
        buildInputs = [ xp.oneapi-mkl ];
        cmakeFlags = [ ];
        env = { };
        packages = xp;
      }
    else
      # cpu, metal (Metal builds use the Xcode toolchain of the macOS stdenv).
      {
        nativeBuildInputs = [ ];
        buildInputs = [ ];
        cmakeFlags = [ ];
        env = { };
        packages = { };
      };
}
