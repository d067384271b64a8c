# What the Nix builder needs from a kernel's build.toml.
#
# `kernel-builder` validates build.toml in full (check-config, and again when
# create-pyproject runs inside each build); here we only read the parts that
# decide which variants exist and how they are configured.
path:
let
  util = import ./util.nix;
  inherit (util) attrByPath;
  file = path + "/build.toml";
  toml =
    if builtins.pathExists file then
      builtins.fromTOML (builtins.readFile file)
    else
      throw "kernel-builder: ${toString file} not found (the `path` given to genKernelFlakeOutputs must be a kernel project)";
  general =
    toml.general or (throw "kernel-builder: build.toml has no [general] table (run `kernel-builder check-config`)");
  backends =
    general.backends
      or (throw "kernel-builder: build.toml: general.backends is missing (run `kernel-builder update-build` for an older build.toml)");
  kernels = toml.kernel or { };
  kernelNames = builtins.attrNames kernels;
  # Edition 5 is current; no edition is a legacy file (v4/v3) that kernel-builder reads too.
  edition = general.edition or null;
  checkedEdition =
    if edition == null || edition == 5 then
      edition
    else
      throw "kernel-builder: build.toml: general.edition: unsupported build edition ${toString edition}; upgrade kernel-builder";
in
{
  inherit toml backends;
  name = general.name or (throw "kernel-builder: build.toml: general.name is missing");
  moduleName = builtins.replaceStrings [ "-" ] [ "_" ] general.name;
  version = general.version or 1;
  edition = checkedEdition;
  # Python-only: [torch-noarch] (edition 4+), or no framework section at all (v3).
  noarch = (toml ? "torch-noarch") || !((toml ? torch) || (toml ? "tvm-ffi"));
  torchMinver = attrByPath [ "torch" "minver" ] null toml;
  torchMaxver = attrByPath [ "torch" "maxver" ] null toml;
  cudaMinver = attrByPath [ "cuda" "minver" ] null general;
  cudaMaxver = attrByPath [ "cuda" "maxver" ] null general;
  repoId = attrByPath [ "hub" "repo-id" ] null general;
  branch = attrByPath [ "hub" "branch" ] null general;

  # [kernel.<name>] sections of a backend, as { name, capabilities, archs }.
  kernelsFor =
    backend:
    map (name: {
      inherit name;
      capabilities = kernels.${name}.cuda-capabilities or null;
      rocmArchs = kernels.${name}.rocm-archs or null;
    }) (builtins.filter (name: (kernels.${name}.backend or null) == backend) kernelNames);
}
