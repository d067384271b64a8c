# The build matrix (lib/torch-versions.json) as build configurations.
#
# A build configuration describes one variant: which Torch, which backend and
# toolkit, which Nix system. kernels.matrix (Python) reads the same JSON file
# and must come to the same variant names; tests compare the two.
let
  util = import ./util.nix;
  inherit (util)
    optional
    stripDots
    withinBounds
    sortStrings
    unique
    ;
  data = util.readJSON "torch-versions";
  cuda = util.readJSON "cuda";
  rocm = util.readJSON "rocm";
  registry = (util.readJSON "backends").backends;

  backendRecord =
    backend: registry.${backend} or (throw "kernel-builder: backend '${backend}' is not in lib/backends.json");

  versionParts =
    version:
    let
      parts = builtins.splitVersion version;
    in
    {
      major = builtins.elemAt parts 0;
      minor = if builtins.length parts > 1 then builtins.elemAt parts 1 else "0";
    };

  # Python-only variant of a backend: torch-<noarch> (lib/backends.json).
  noarchVariant = backend: if backend == "universal" then "torch-universal" else "torch-${(backendRecord backend).noarch}";

  splitSystem =
    system:
    let
      m = builtins.match "([^-]+)-(.+)" system;
    in
    if m == null then
      throw "kernel-builder: cannot split Nix system '${system}' into architecture and OS"
    else
      {
        arch = builtins.elemAt m 0;
        os = builtins.elemAt m 1;
      };

  # The backend's part of a variant name, from its compute-tag template in
  # lib/backends.json ("cu{major}{minor}" with toolkit 13.0 -> "cu130").
  computeTag =
    backend: toolkit:
    let
      template = (backendRecord backend).compute-tag;
      version = versionParts toolkit;
    in
    if toolkit == null then
      template
    else
      builtins.replaceStrings [ "{major}" "{minor}" ] [ version.major version.minor ] template;

  torchTag =
    torchVersion:
    let
      parts = builtins.splitVersion torchVersion;
    in
    "torch${builtins.elemAt parts 0}${builtins.elemAt parts 1}";

  mkBuildConfig =
    entry: system:
    let
      sys = splitSystem system;
      toolkit = entry.toolkit or null;
      tag = computeTag entry.backend toolkit;
      cxx11Abi = data.cxx11-abi;
      abiPart = if sys.os == "linux" then [ (if cxx11Abi then "cxx11" else "cxx98") ] else [ ];
    in
    {
      torchVersion = entry.torch;
      inherit (entry) backend;
      inherit toolkit system cxx11Abi;
      inherit (sys) arch os;
      bundle = entry.bundle or false;
      python = data.python;
      computeTag = tag;
      torchTag = torchTag entry.torch;
      variant = builtins.concatStringsSep "-" ([ (torchTag entry.torch) ] ++ abiPart ++ [ tag sys.arch sys.os ]);
      cudaVersion = if entry.backend == "cuda" then toolkit else null;
      rocmVersion = if entry.backend == "rocm" then toolkit else null;
      xpuVersion = if entry.backend == "xpu" then toolkit else null;
    };

  # Every build configuration of the matrix, all systems.
  buildConfigs = builtins.concatMap (
    entry: map (mkBuildConfig entry) entry.systems
  ) data.builds;

  systems = sortStrings (unique (builtins.concatMap (entry: entry.systems) data.builds));

  # Checks that keep the JSON files consistent with each other; forced by
  # `checkMatrix` (and by tests).
  problems =
    let
      toolkitsOf = backend: map (c: c.toolkit) (builtins.filter (c: c.backend == backend) buildConfigs);
    in
    builtins.concatMap (
      tk:
      optional (!(cuda.toolkits ? ${tk})) "CUDA toolkit ${tk} is in torch-versions.json but not in cuda.json"
    ) (unique (toolkitsOf "cuda"))
    ++ builtins.concatMap (
      c:
      optional (!((registry.${c.backend} or { build-toml = false; }).build-toml)) "backend ${c.backend} of ${c.variant} is not buildable (backends.json)"
    ) buildConfigs;
in
rec {
  inherit
    buildConfigs
    systems
    splitSystem
    computeTag
    noarchVariant
    mkBuildConfig
    ;

  pythonVersion = data.python;

  checkMatrix =
    if problems == [ ] then true else throw "kernel-builder: inconsistent lib/ data:\n${builtins.concatStringsSep "\n" problems}";

  configsForSystem = system: builtins.filter (c: c.system == system) buildConfigs;

  # Is `cfg` a variant of `kernel` (lib/kernel-config.nix)? Backends and the
  # Torch/CUDA version bounds of build.toml decide.
  applies =
    kernel: cfg:
    builtins.elem cfg.backend kernel.backends
    && withinBounds kernel.torchMinver kernel.torchMaxver cfg.torchVersion
    && (cfg.backend != "cuda" || withinBounds kernel.cudaMinver kernel.cudaMaxver cfg.toolkit);

  # The build configurations of a kernel on one system.
  kernelConfigs = kernel: system: builtins.filter (applies kernel) (configsForSystem system);

  # Variant names of a kernel on a system. Python-only (noarch) kernels have
  # one system-independent variant per backend.
  kernelVariants =
    kernel: system:
    if kernel.noarch then
      sortStrings (map noarchVariant kernel.backends)
    else
      sortStrings (map (c: c.variant) (kernelConfigs kernel system));

  kernelBundleVariants =
    kernel: system:
    if kernel.noarch then
      kernelVariants kernel system
    else
      sortStrings (map (c: c.variant) (builtins.filter (c: c.bundle) (kernelConfigs kernel system)));

  # CUDA capabilities a kernel section is compiled for with a toolkit: its
  # cuda-capabilities (else the toolkit's defaults) that the toolkit supports.
  # Mirrors kernel_builder.cmake.cuda_arch_tables.
  cudaCapabilities =
    toolkit: wanted:
    let
      tk =
        cuda.toolkits.${toolkit}
          or (throw "kernel-builder: CUDA toolkit ${toolkit} is not described in lib/cuda.json");
      requested = if wanted == null then tk.default else wanted;
    in
    builtins.filter (cap: builtins.elem cap tk.supported) requested;

  rocmDefaultArchs = rocm.default-archs;

  # lib/build-variants.json, recomputed from the matrix: the bundle variants
  # by system and backend, plus the Python-only variants.
  requiredVariants =
    let
      bundled = builtins.filter (c: c.bundle) buildConfigs;
      bySystem = builtins.groupBy (c: c.system) bundled;
    in
    builtins.mapAttrs (
      _: cfgs: builtins.mapAttrs (_: cs: sortStrings (map (c: c.variant) cs)) (builtins.groupBy (c: c.backend) cfgs)
    ) bySystem
    // {
      noarch = sortStrings (map noarchVariant (unique (map (c: c.backend) bundled)));
    };
}
