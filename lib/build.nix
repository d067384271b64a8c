# Derivations of one kernel on one system: per-variant builds, the bundle,
# development and test shells and CI tests.
#
# A variant build runs, in order:
#   configure     kernel-builder create-pyproject, then CMake (Ninja generator)
#   build         Ninja, through `cmake --build`
#   install       `cmake --install`, then `python -m kernel_builder.build.nix_sandbox assemble`:
#                 metadata.json, the compatibility package, runpaths stripped,
#                 bytecode removed -> $out is exactly build/<variant>/
#   installCheck  `python -m kernel_builder.build.nix_sandbox check`: ABI (check-abi), layout
#                 (check-builds) and importing the variant through `kernels`
{
  pkgs,
  system,
  kernel, # lib/kernel-config.nix
  src, # the kernel's sources (filtered)
  uniqueId, # suffix of the ops namespace
  builderPackages, # lib/packages.nix: { kernels, kernel-builder }
  doGetKernelCheck ? true,
  doAbiCheck ? true,
  pythonCheckInputs ? (ps: [ ]),
  pythonNativeCheckInputs ? (ps: [ ]),
}:
let
  util = import ./util.nix;
  matrix = import ./matrix.nix;
  torch = import ./torch.nix { inherit pkgs; };
  toolkits = import ./toolkits.nix { inherit pkgs system; };
  overrides = pkgs.kernelBuilderOverrides or { };
  inherit (util) optional optionals optionalString unique;

  isLinux = builtins.match ".*-linux" system != null;

  # The compiler environment: the manylinux_2_28 stdenv on Linux, the package
  # set's stdenv elsewhere; a package set can substitute its own.
  stdenvFor =
    cfg:
    if overrides ? stdenv then
      overrides.stdenv
    else if cfg.os == "linux" then
      (import ./manylinux.nix { inherit pkgs system; }).stdenv
    else
      pkgs.stdenv;

  pythonFor =
    cfg: extra:
    pkgs.python3.withPackages (
      ps:
      [
        (torch.torchFor cfg)
        builderPackages.kernels
        builderPackages.kernel-builder
      ]
      ++ extra ps
    );

  testPythonFor = cfg: pythonFor cfg (ps: [ ps.pytest ] ++ pythonCheckInputs ps ++ pythonNativeCheckInputs ps);

  # CUDA capabilities of the whole extension for a toolkit: the union over its
  # CUDA kernel sections (each: its cuda-capabilities or the toolkit's
  # defaults, limited to what the toolkit supports), plus the defaults that
  # the [torch] sources are compiled for.
  cudaCapabilitiesFor =
    cfg:
    let
      sections = kernel.kernelsFor "cuda";
      perSection = map (k: matrix.cudaCapabilities cfg.toolkit k.capabilities) sections;
    in
    unique (matrix.cudaCapabilities cfg.toolkit null ++ builtins.concatLists perSection);

  rocmArchsFor =
    cfg:
    unique (
      builtins.concatMap (k: if k.rocmArchs == null then matrix.rocmDefaultArchs else k.rocmArchs) (
        kernel.kernelsFor "rocm"
      )
    );

  # CMake flags that depend only on the configuration (toolkit paths are kept
  # apart in toolkitCmakeFlags, so these stay inspectable without a toolkit).
  # The CUDA capabilities of each kernel section are part of the generated
  # CMakeLists.txt (from lib/cuda.json), so they need no flag here.
  cmakeFlagsFor =
    cfg:
    [
      "-GNinja"
      "-DCMAKE_BUILD_TYPE=Release"
      "-DKERNEL_BACKEND=${cfg.backend}"
    ]
    ;

  opsName = backend: "_${kernel.moduleName}_${backend}_${uniqueId}";

  # A package set whose compiler is not the manylinux_2_28 one (lib/host-pkgs.nix)
  # names the policy its builds can meet, e.g. [ "--manylinux" "manylinux_2_36" ].
  checkAbiArgs = overrides.checkAbiArgs or [ ];

  checkFlags =
    variant:
    util.escapeShellArgs (
      [
        "--variant"
        variant
      ]
      ++ builtins.concatMap (arg: [ "--abi-arg=${arg}" ]) checkAbiArgs
      ++ optional (!doAbiCheck) "--no-abi"
      ++ optional (!doGetKernelCheck) "--no-import"
    );

  mkVariant =
    cfg:
    let
      stdenv = stdenvFor cfg;
      toolchain = toolkits.toolchainFor cfg;
      python = pythonFor cfg (ps: [ ]);
    in
    stdenv.mkDerivation (
      toolchain.env
      // {
        name = "${kernel.name}-${cfg.variant}";
        inherit src;
        nativeBuildInputs = [
          pkgs.cmake
          pkgs.ninja
          python
        ]
        ++ toolchain.nativeBuildInputs;
        buildInputs = toolchain.buildInputs;

        # What this derivation is (also inspected by tests).
        kernelName = kernel.name;
        inherit (cfg)
          variant
          torchVersion
          backend
          toolkit
          system
          ;
        cudaVersion = cfg.cudaVersion;
        rocmVersion = cfg.rocmVersion;
        xpuVersion = cfg.xpuVersion;
        cudaCapabilities = if cfg.backend == "cuda" then cudaCapabilitiesFor cfg else [ ];
        rocmArchs = if cfg.backend == "rocm" then rocmArchsFor cfg else [ ];
        cmakeFlags = cmakeFlagsFor cfg;
        toolkitCmakeFlags = toolchain.cmakeFlags;
        inherit uniqueId;
        opsName = opsName cfg.backend;

        # The phases below do everything explicitly: CMake's and Ninja's
        # setup hooks must not replace them.
        dontUseCmakeConfigure = true;
        dontUseNinjaBuild = true;
        dontUseNinjaInstall = true;
        dontUseNinjaCheck = true;
        dontPatchELF = true;
        doInstallCheck = true;

        unpackPhase = ''
          runHook preUnpack
          cp -r "$src" source
          chmod -R u+w source
          cd source
          runHook postUnpack
        '';

        configurePhase = ''
          runHook preConfigure
          export HOME="$NIX_BUILD_TOP/home"
          mkdir -p "$HOME"
          python -m kernel_builder create-pyproject --force --unique-id ${uniqueId} . "$NIX_BUILD_TOP/kb-project"
          cmake -S "$NIX_BUILD_TOP/kb-project" -B "$NIX_BUILD_TOP/kb-build" \
            -DPython_EXECUTABLE="$(command -v python)" \
            -DCMAKE_INSTALL_PREFIX="$NIX_BUILD_TOP/kb-install" \
            $cmakeFlags $toolkitCmakeFlags
          runHook postConfigure
        '';

        buildPhase = ''
          runHook preBuild
          jobs="''${NIX_BUILD_CORES:-1}"
          if [ "$jobs" = 0 ]; then jobs="$(nproc 2>/dev/null || echo 1)"; fi
          cmake --build "$NIX_BUILD_TOP/kb-build" --parallel "$jobs"
          runHook postBuild
        '';

        installPhase = ''
          runHook preInstall
          cmake --install "$NIX_BUILD_TOP/kb-build"
          python -m kernel_builder.build.nix_sandbox assemble --kernel-dir . --backend ${cfg.backend} \
            --install-dir "$NIX_BUILD_TOP/kb-install" --cmake-build "$NIX_BUILD_TOP/kb-build" --out "$out"
          runHook postInstall
        '';

        # The digest covers the files as fixup (stripping) left them.
        postFixup = ''
          PYTHONDONTWRITEBYTECODE=1 python -m kernel_builder.build.nix_sandbox digest --variant-dir "$out"
        '';

        installCheckPhase = ''
          runHook preInstallCheck
          PYTHONDONTWRITEBYTECODE=1 python -m kernel_builder.build.nix_sandbox check --variant-dir "$out" ${checkFlags cfg.variant}
          runHook postInstallCheck
        '';

        passthru = {
          buildConfig = cfg;
          torch = torch.torchFor cfg;
          torchWheel = torch.wheelFor cfg;
          # The toolkit's package set (CUDA, ROCm, XPU; empty for CPU and Metal).
          toolkitPackages = toolchain.packages;
          inherit python stdenv;
        };
      }
    );

  # Python-only kernels: the package, a generated _ops.py and metadata.json.
  # The Torch used for the import check is the newest CPU build of the system.
  noarchCheckConfig =
    let
      cpu = builtins.filter (c: c.backend == "cpu") (matrix.configsForSystem system);
      sorted = builtins.sort (a: b: builtins.compareVersions a.torchVersion b.torchVersion > 0) cpu;
    in
    if sorted == [ ] then
      throw "kernel-builder: no CPU Torch build for ${system} in lib/torch-versions.json"
    else
      builtins.head sorted;

  mkNoarchVariant =
    backend:
    let
      variant = matrix.noarchVariant backend;
      python = pythonFor noarchCheckConfig (ps: [ ]);
    in
    pkgs.stdenv.mkDerivation {
      name = "${kernel.name}-${variant}";
      inherit src variant backend uniqueId;
      kernelName = kernel.name;
      opsName = opsName backend;
      nativeBuildInputs = [ python ];
      dontConfigure = true;
      dontBuild = true;
      doInstallCheck = true;
      unpackPhase = ''
        cp -r "$src" source
        chmod -R u+w source
        cd source
      '';
      configurePhase = "true";
      buildPhase = "true";
      installPhase = ''
        export HOME="$NIX_BUILD_TOP/home"
        python -m kernel_builder.build.nix_sandbox assemble-noarch --kernel-dir . --backend ${backend} \
          --unique-id ${uniqueId} --out "$out"
      '';
      postFixup = ''
        PYTHONDONTWRITEBYTECODE=1 python -m kernel_builder.build.nix_sandbox digest --variant-dir "$out"
      '';
      installCheckPhase = ''
        PYTHONDONTWRITEBYTECODE=1 python -m kernel_builder.build.nix_sandbox check --variant-dir "$out" --variant ${variant} --no-abi ${
          optionalString (!doGetKernelCheck) "--no-import"
        }
      '';
    };

  configs = matrix.kernelConfigs kernel system;

  variants =
    if kernel.noarch then
      builtins.listToAttrs (
        map (b: {
          name = matrix.noarchVariant b;
          value = mkNoarchVariant b;
        }) kernel.backends
      )
    else
      util.attrsFromList (c: c.variant) mkVariant configs;

  bundleNames = matrix.kernelBundleVariants kernel system;

  # build/<variant>/ for every bundle variant, as links to the variant outputs.
  mkBundle =
    names:
    pkgs.runCommand "${kernel.name}-bundle" { } ''
      mkdir -p $out
      ${builtins.concatStringsSep "\n" (map (name: "ln -s ${variants.${name}} $out/${name}") names)}
    '';

  # Preference for the default shell and CI variant: bundle builds, then
  # CUDA, ROCm, XPU, Metal, CPU; then the newest Torch; then the oldest
  # toolkit (best compatibility).
  backendOrder = [
    "cuda"
    "rocm"
    "xpu"
    "metal"
    "cpu"
  ];
  indexOf =
    x: list:
    let
      go = i: if i >= builtins.length list then i else if builtins.elemAt list i == x then i else go (i + 1);
    in
    go 0;
  better =
    a: b:
    if a.bundle != b.bundle then
      a.bundle
    else if a.backend != b.backend then
      indexOf a.backend backendOrder < indexOf b.backend backendOrder
    else if a.torchVersion != b.torchVersion then
      builtins.compareVersions a.torchVersion b.torchVersion > 0
    else
      builtins.compareVersions (if a.toolkit == null then "0" else a.toolkit) (
        if b.toolkit == null then "0" else b.toolkit
      ) < 0;

  preferredVariant =
    if kernel.noarch then
      matrix.noarchVariant (if builtins.elem "cpu" kernel.backends then "cpu" else builtins.head kernel.backends)
    else if configs == [ ] then
      null
    else
      (builtins.head (builtins.sort better configs)).variant;

  configOf =
    name:
    if kernel.noarch then noarchCheckConfig else builtins.head (builtins.filter (c: c.variant == name) configs);

  shellFor =
    name: mkShellArgs:
    let
      cfg = configOf name;
      stdenv = stdenvFor cfg;
      mkShell = if pkgs.mkShell ? override then pkgs.mkShell.override { inherit stdenv; } else pkgs.mkShell;
    in
    mkShell mkShellArgs;

  mkDevShell =
    name:
    let
      cfg = configOf name;
      toolchain = if kernel.noarch then toolkits.toolchainFor (cfg // { backend = "cpu"; }) else toolkits.toolchainFor cfg;
    in
    shellFor name {
      name = "${kernel.name}-${name}-devshell";
      packages = [
        (testPythonFor cfg)
        pkgs.cmake
        pkgs.ninja
      ]
      ++ toolchain.nativeBuildInputs
      ++ toolchain.buildInputs;
      KERNEL_BUILDER_VARIANT = name;
      shellHook = ''
        # A virtual environment on top of the shell's Python (with Torch):
        # `pip install --no-build-isolation -e .` installs the kernel into it.
        if [ ! -d .venv ]; then
          python -m venv --system-site-packages .venv
        fi
        . .venv/bin/activate
        echo "kernel-builder devshell for ${name}: run kernel-builder create-pyproject, then build with CMake or pip"
      '';
    };

  # A directory in which `<module>` links to a variant: on PYTHONPATH, the kernel's
  # tests `import <module>` (the variant itself holds no re-export package).
  importRoot =
    variantDrv:
    pkgs.runCommand "${kernel.name}-import-root" { } ''
      mkdir -p $out
      ln -s ${variantDrv} $out/${kernel.moduleName}
    '';

  mkTestShell =
    name:
    shellFor name {
      name = "${kernel.name}-${name}-testshell";
      packages = [ (testPythonFor (configOf name)) ];
      KERNEL_BUILDER_VARIANT = name;
      shellHook = ''
        export PYTHONPATH="${importRoot variants.${name}}''${PYTHONPATH:+:$PYTHONPATH}"
        echo "kernel-builder testshell: ${name} is importable as '${kernel.moduleName}' (try: python -m pytest tests)"
      '';
    };

  testsDir = src + "/tests";
  hasTests = builtins.pathExists testsDir;

  pytestCommand = python: variantDrv: ''
    PYTHONPATH="${importRoot variantDrv}''${PYTHONPATH:+:$PYTHONPATH}" PYTHONDONTWRITEBYTECODE=1 \
      ${python}/bin/python -m pytest -p no:cacheprovider -m kernels_ci ${testsDir}'';

  # The kernel's CI tests (pytest -m kernels_ci) against a variant, in the
  # build sandbox (no GPU: GPU tests skip themselves).
  mkCiTest =
    name:
    let
      python = testPythonFor (configOf name);
    in
    pkgs.runCommand "${kernel.name}-${name}-ci-test" { } (
      if hasTests then
        ''
          export HOME="$NIX_BUILD_TOP/home"
          mkdir -p "$HOME"
          cd "$NIX_BUILD_TOP"
          set -o pipefail
          # The test report is the output.
          ${pytestCommand python variants.${name}} 2>&1 | tee "$out"
        ''
      else
        ''
          echo "${kernel.name} has no tests/ directory" > $out
        ''
    );

  bundle = mkBundle bundleNames;
  variantNames = builtins.attrNames variants;

  apps =
    let
      app = drv: name: {
        type = "app";
        program = "${drv}/bin/${name}";
      };
      buildAndCopy = pkgs.writeShellScriptBin "build-and-copy" ''
        set -euo pipefail
        mkdir -p build
        for variant in ${bundle}/*; do
          [ -e "$variant" ] || continue
          name="$(basename "$variant")"
          rm -rf "build/.$name.tmp"
          cp -rL "$variant" "build/.$name.tmp"
          chmod -R u+w "build/.$name.tmp"
          rm -rf "build/$name"
          mv "build/.$name.tmp" "build/$name"
          echo "build/$name"
        done
      '';
      buildAndUpload = pkgs.writeShellScriptBin "build-and-upload" (
        if kernel.repoId == null then
          ''
            echo "build-and-upload: build.toml has no [general.hub] repo-id" >&2
            exit 1
          ''
        else
          ''
            set -euo pipefail
            exec ${builderPackages.kernel-builder}/bin/kernel-builder upload --repo-id ${util.escapeShellArg kernel.repoId} ${
              optionalString (kernel.branch != null) "--branch ${util.escapeShellArg kernel.branch}"
            } "$@" ${bundle}
          ''
      );
      ciTest = pkgs.writeShellScriptBin "ci-test" (
        if preferredVariant == null || !hasTests then
          ''
            echo "ci-test: nothing to test for ${system}" >&2
          ''
        else
          ''
            set -euo pipefail
            ${pytestCommand (testPythonFor (configOf preferredVariant)) variants.${preferredVariant}} "$@"
          ''
      );
    in
    {
      build-and-copy = app buildAndCopy "build-and-copy";
      build-and-upload = app buildAndUpload "build-and-upload";
      ci-test = app ciTest "ci-test";
    };
in
{
  inherit
    variants
    bundle
    apps
    preferredVariant
    bundleNames
    ;
  variantNames = util.sortStrings variantNames;
  packages = variants // {
    inherit bundle;
    default = bundle;
  };
  devShells =
    util.genAttrs variantNames mkDevShell
    // util.optionalAttrs (preferredVariant != null) { default = mkDevShell preferredVariant; };
  testShells =
    util.genAttrs variantNames mkTestShell
    // util.optionalAttrs (preferredVariant != null) { default = mkTestShell preferredVariant; };
  ciTests = util.genAttrs variantNames mkCiTest;
}
