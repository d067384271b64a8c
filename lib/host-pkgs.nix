# A tiny package set made from the host's own toolchain, for building a
# kernel flake where the real nixpkgs is not available (offline machines, CI,
# the Nix tests of this repository).
#
#   nix build --offline --override-input kernel-builder/nixpkgs path:<dir> ...
#
# where <dir> holds a flake whose `legacyPackages.<system>` (and default.nix)
# is `import <this file> { inherit system; host = <description>; }`; see
# tests/test_nix_flake.py for a complete example. `host` describes the host:
#
#   { path = "/usr/bin:/bin";          # PATH of every build (compiler, coreutils, ...)
#     python = "/abs/venv/bin/python"; # Python with torch, kernels and kernel-builder
#     pythonVersion = "3.11";
#     scripts = "/abs/venv/bin";       # console scripts of that environment
#     cmake = "/usr/bin/cmake"; ninja = "/usr/bin/ninja";
#     torch = { version = "2.13.0"; backend = "cpu"; };
#     manylinux = "manylinux_2_36";    # the policy the host's glibc allows (optional)
#   }
#
# This is NOT a Nix-grade package set: derivations call host programs by
# absolute path, so it needs `sandbox = false`, and what it builds is neither
# reproducible nor manylinux_2_28 compliant (host compiler and glibc). Only
# the variant of the host's Torch can be built; every other configuration
# falls back to the pinned wheels (and fails to build offline).
{
  system,
  host,
  config ? { },
  overlays ? [ ],
}:
let
  shell = "/bin/bash";
  isLinux = builtins.match ".*-linux" system != null;

  builderScript = ''
    set -eo pipefail
    PATH="${host.path}"
    for p in $nativeBuildInputs $buildInputs $propagatedBuildInputs; do
      if [ -d "$p/bin" ]; then PATH="$p/bin:$PATH"; fi
    done
    export PATH
    runHook() {
      local hook="$1"
      if [ -n "''${!hook:-}" ]; then eval "''${!hook}"; fi
    }
    export NIX_BUILD_CORES="''${NIX_BUILD_CORES:-1}"
    cd "$NIX_BUILD_TOP"
    if [ -n "''${buildCommand:-}" ]; then
      eval "$buildCommand"
      exit 0
    fi
    if [ -z "''${unpackPhase:-}" ] && [ -n "''${src:-}" ]; then
      unpackPhase='cp -r "$src" source; chmod -R u+w source; cd source'
    fi
    for phase in unpackPhase patchPhase configurePhase buildPhase checkPhase installPhase fixupPhase installCheckPhase; do
      case "$phase" in
        checkPhase) [ -n "''${doCheck:-}" ] || continue ;;
        installCheckPhase) [ -n "''${doInstallCheck:-}" ] || continue ;;
      esac
      if [ -n "''${!phase:-}" ]; then
        eval "''${!phase}"
      fi
    done
    exit 0
  '';

  # Every builder script ends in the `exit` builtin. Nix 2.8 without build
  # users kills a builder whose output pipe closes before it exits, and a
  # coreutils program that bash runs as its last command (bash execs it)
  # closes stdout and stderr before exiting: an intermittent "signal 9".

  # Attributes that cannot become environment variables stay out of the
  # derivation and are added to the result instead.
  mkDerivation =
    args:
    let
      name = args.name or "${args.pname}-${args.version}";
      passthru = args.passthru or { };
      drv = derivation (
        builtins.removeAttrs args [
          "passthru"
          "meta"
          "pname"
          "version"
          "env"
        ]
        // (args.env or { })
        // {
          inherit name system;
          builder = shell;
          args = [
            "-c"
            builderScript
          ];
        }
      );
    in
    drv
    // passthru
    // {
      inherit passthru;
      meta = args.meta or { };
    };

  stdenv = {
    inherit mkDerivation isLinux;
    isDarwin = !isLinux;
    hostPlatform = {
      inherit system;
    };
    cc = null;
  };

  # $out/bin/<name> runs <target>.
  wrapper =
    name: links:
    derivation {
      inherit name system;
      builder = shell;
      PATH = host.path;
      args = [
        "-ec"
        (
          "mkdir -p $out/bin\n"
          + builtins.concatStringsSep "\n" (
            map (l: "printf '#!/bin/sh\\nexec %s \"$@\"\\n' '${l.target}' > $out/bin/${l.name}\nchmod +x $out/bin/${l.name}") links
          )
          + "\nexit 0"
        )
      ];
    };

  python3 =
    wrapper "host-python-${host.pythonVersion}" [
      {
        name = "python";
        target = host.python;
      }
      {
        name = "python3";
        target = host.python;
      }
    ]
    // {
      inherit (host) pythonVersion;
      sitePackages = "lib/python${host.pythonVersion}/site-packages";
      # The host environment already holds everything a build asks for.
      withPackages = f: python3;
      pkgs = pythonPackages;
      interpreter = host.python;
    };

  # Python packages are the host environment's; a "package" is a wrapper
  # around the console script of the same name.
  hostPythonPackage =
    args:
    wrapper "host-${args.pname}" [
      {
        name = args.pname;
        target = "${host.scripts}/${args.pname}";
      }
    ];
  pythonPackages = {
    buildPythonPackage = hostPythonPackage;
    buildPythonApplication = hostPythonPackage;
  };

  writeShellScriptBin =
    name: text:
    derivation {
      inherit name system text;
      builder = shell;
      PATH = host.path;
      args = [
        "-ec"
        ''mkdir -p $out/bin; printf '#!${shell}\n%s\n' "$text" > $out/bin/${name}; chmod +x $out/bin/${name}; exit 0''
      ];
    };

  runCommand =
    name: env: buildCommand:
    mkDerivation (env // { inherit name buildCommand; });

  mkShell =
    args:
    mkDerivation (
      builtins.removeAttrs args [ "packages" ]
      // {
        name = args.name or "shell";
        nativeBuildInputs = (args.packages or [ ]) ++ (args.nativeBuildInputs or [ ]);
        buildCommand = "echo 'a shell; enter it with nix develop' > $out";
      }
    );

  fetchurl =
    {
      url,
      hash ? null,
      sha256 ? null,
      name ? baseNameOf url,
      ...
    }:
    derivation {
      inherit name system url;
      builder = shell;
      PATH = host.path;
      args = [
        "-ec"
        ''curl -fL -o "$out" "$url"; exit 0''
      ];
      outputHashMode = "flat";
      outputHashAlgo = if hash != null then "" else "sha256";
      outputHash = if hash != null then hash else sha256;
    };

  tool =
    name: target:
    derivation {
      inherit name system;
      builder = shell;
      PATH = host.path;
      args = [
        "-ec"
        "mkdir -p $out/bin && ln -s ${target} $out/bin/${name}; exit 0"
      ];
    };

  # An empty package: something the host already has in place.
  hostProvided =
    name:
    derivation {
      name = "host-${name}";
      inherit system;
      builder = shell;
      PATH = host.path;
      args = [
        "-ec"
        "mkdir -p $out; exit 0"
      ];
    };

  majorMinor =
    v:
    let
      parts = builtins.splitVersion v;
    in
    "${builtins.elemAt parts 0}.${builtins.elemAt parts 1}";
in
{
  inherit
    stdenv
    mkShell
    runCommand
    writeShellScriptBin
    fetchurl
    python3
    ;
  stdenvNoCC = stdenv;
  cmake = tool "cmake" host.cmake;
  ninja = tool "ninja" host.ninja;
  python3Packages = pythonPackages;

  # For the ROCm and XPU vendor packages (lib/vendor-packages.nix): RPMs are
  # unpacked with the host's rpm2cpio and cpio. ELF files are not patched (the
  # builder runs no setup hooks, and the host's loader finds the host's
  # libraries), so autoPatchelfHook and the system libraries are empty.
  rpmextract = writeShellScriptBin "rpmextract" ''rpm2cpio "$1" | cpio -idm --quiet'';
  autoPatchelfHook = hostProvided "autoPatchelfHook";
  zlib = hostProvided "zlib";
  zstd = hostProvided "zstd";
  ncurses = hostProvided "ncurses";
  libxml2 = hostProvided "libxml2";
  elfutils = hostProvided "elfutils";
  libdrm = hostProvided "libdrm";
  numactl = hostProvided "numactl";
  libffi = hostProvided "libffi";

  # How lib/ learns that this package set brings its own compiler and Torch.
  kernelBuilderOverrides = {
    inherit stdenv;
    # Host builds link against the host's glibc: check them against the
    # policy that glibc allows rather than manylinux_2_28.
    checkAbiArgs = if host ? manylinux then [ "--manylinux" host.manylinux ] else [ ];
    torch =
      cfg:
      if
        cfg.system == system
        && cfg.backend == host.torch.backend
        && majorMinor cfg.torchVersion == majorMinor host.torch.version
      then
        python3
      else
        null;
  };
}
