# genKernelFlakeOutputs: the outputs of a kernel's flake.
#
#   outputs = { self, kernel-builder }:
#     kernel-builder.lib.genKernelFlakeOutputs { inherit self; path = ./.; };
#
# gives, for every system of the build matrix:
#   packages.<system>.<variant>     one build variant (its output is build/<variant>/)
#   packages.<system>.bundle        all bundle variants, as <variant>/ directories
#   packages.<system>.default       the bundle
#   devShells.<system>.<variant>    development shell (Torch, toolkit, CMake, Ninja, kernel-builder)
#   devShells.<system>.default      the preferred variant's development shell
#   testShells.<system>.<variant>   Python with the variant importable and pytest
#   testShells.<system>.default
#   ciTests.<system>.<variant>      the kernel's `kernels_ci` tests, run in the build sandbox
#   apps.<system>.build-and-copy    copy the bundle into ./build
#   apps.<system>.build-and-upload  upload the bundle to the Hub repository of build.toml
#   apps.<system>.ci-test           run the `kernels_ci` tests on this machine
#   variants.<system>               names of all variants (bundle and on-request)
#   bundleVariants.<system>         names of the bundle variants
#
# Only variants of the kernel's backends within its Torch and CUDA version
# bounds exist.
{
  nixpkgs,
  builderSrc,
}:
{
  self ? null,
  path,
  pythonCheckInputs ? (ps: [ ]),
  pythonNativeCheckInputs ? (ps: [ ]),
  doGetKernelCheck ? true,
  doAbiCheck ? true,
  systems ? null,
}:
let
  util = import ./util.nix;
  matrix = import ./matrix.nix;
  kernel = import ./kernel-config.nix path;

  usage = ''
    outputs = { self, kernel-builder }:
      kernel-builder.lib.genKernelFlakeOutputs { inherit self; path = ./.; };'';

  # The ops namespace suffix: the git revision of the kernel flake (like a
  # local build), else a hash of its (filtered) sources.
  uniqueId =
    if self == null then
      throw "kernel-builder: pass the kernel flake's `self` to genKernelFlakeOutputs:\n${usage}"
    else if self ? shortRev then
      self.shortRev
    else if self ? dirtyShortRev then
      util.sanitizeId (builtins.replaceStrings [ "-dirty" ] [ "_dirty" ] self.dirtyShortRev)
    else
      # The filtered sources' store path: build/ and result links do not count.
      "src${builtins.substring 0 8 (builtins.hashString "sha256" (builtins.unsafeDiscardStringContext (toString src)))}";

  # The kernel sources without build outputs and caches.
  src = builtins.path {
    inherit path;
    name = "${kernel.moduleName}-source";
    filter =
      p: type:
      let
        full = toString p;
        rel = builtins.substring (builtins.stringLength (toString path) + 1) (builtins.stringLength full) full;
        base = baseNameOf full;
      in
      !(builtins.elem rel [
        "build"
        ".venv"
        ".git"
      ])
      && builtins.match "result(-.*)?" rel == null
      && base != "__pycache__"
      && base != ".pytest_cache"
      && builtins.match ".*\\.py[co]" base == null;
  };

  allSystems = if systems == null then matrix.systems else systems;

  pkgsFor =
    system:
    import nixpkgs {
      inherit system;
      config = {
        allowUnfree = true;
      };
    };

  perSystem = util.genAttrs allSystems (
    system:
    let
      pkgs = pkgsFor system;
    in
    import ./build.nix {
      inherit
        pkgs
        system
        kernel
        src
        uniqueId
        doGetKernelCheck
        doAbiCheck
        pythonCheckInputs
        pythonNativeCheckInputs
        ;
      builderPackages = import ./packages.nix {
        inherit pkgs;
        src = builderSrc;
      };
    }
  );

  each = f: builtins.mapAttrs (_: f) perSystem;
in
assert matrix.checkMatrix;
{
  packages = each (s: s.packages);
  devShells = each (s: s.devShells);
  testShells = each (s: s.testShells);
  ciTests = each (s: s.ciTests);
  apps = each (s: s.apps);
  variants = builtins.mapAttrs (system: _: matrix.kernelVariants kernel system) perSystem;
  bundleVariants = builtins.mapAttrs (system: _: matrix.kernelBundleVariants kernel system) perSystem;
}
