# Torch for a build configuration: the official wheel, unpacked as a Python
# package, downloaded as a fixed-output derivation pinned by the hash in
# lib/torch-wheels.json.
#
# A package set may provide Torch itself through
# `kernelBuilderOverrides.torch = cfg: <python package or null>` (null: use the
# wheel); lib/host-pkgs.nix uses that to build with the host's Torch.
{ pkgs }:
let
  util = import ./util.nix;
  wheels = (util.readJSON "torch-wheels").wheels;
  overrides = pkgs.kernelBuilderOverrides or { };
  py = pkgs.python3.pkgs;

  cpTag = cfg: "cp${util.stripDots cfg.python}";

  # Where the wheel of a configuration is normally published; shown in the
  # error for a missing pin so that it can be prefetched (and checked).
  expectedUrl =
    cfg:
    let
      version = cfg.torchVersion;
      tag = cfg.computeTag;
      index =
        if cfg.backend == "rocm" then
          "rocm${cfg.toolkit}"
        else if cfg.backend == "xpu" then
          "xpu"
        else if cfg.backend == "metal" then
          "cpu"
        else
          tag;
      localVersion = if cfg.backend == "rocm" then "rocm${cfg.toolkit}" else if cfg.backend == "xpu" then "xpu" else tag;
      platform =
        if cfg.os == "darwin" then
          "macosx_11_0_arm64"
        else if cfg.backend == "xpu" then
          "linux_${cfg.arch}"
        else
          "manylinux_2_28_${cfg.arch}";
      versionPart = if cfg.os == "darwin" then version else "${version}%2B${localVersion}";
    in
    "https://download.pytorch.org/whl/${index}/torch-${versionPart}-${cpTag cfg}-${cpTag cfg}-${platform}.whl";

  wheelEntry = cfg: util.attrByPath [ cfg.torchVersion cfg.system cfg.computeTag ] null wheels;

  # The wheel's file name, as pip needs it ("%2B" is "+").
  wheelName = url: builtins.replaceStrings [ "%2B" ] [ "+" ] (baseNameOf url);
in
rec {
  inherit expectedUrl;

  # Is a wheel pinned for this configuration?
  hasWheel = cfg: (wheelEntry cfg) != null && (wheelEntry cfg) ? hash;

  # The fixed-output download of the wheel. Without a pinned hash this is an
  # evaluation error, never a download with a made-up hash.
  wheelFor =
    cfg:
    let
      entry = wheelEntry cfg;
    in
    if entry == null || !(entry ? hash) then
      throw ''
        kernel-builder: no Torch wheel is pinned for ${cfg.variant}: lib/torch-wheels.json has no hash for
        Torch ${cfg.torchVersion}, '${cfg.computeTag}', ${cfg.system}. Add an entry with the wheel's URL and hash, e.g.
          nix store prefetch-file ${expectedUrl cfg}''
    else
      pkgs.fetchurl {
        inherit (entry) url hash;
        name = wheelName entry.url;
      };

  # Torch as a Python package, from the pinned wheel.
  torchFromWheel =
    cfg:
    if pkgs.python3.pythonVersion != cfg.python then
      throw "kernel-builder: the Torch wheels are built for Python ${cfg.python}, but the package set's python3 is ${pkgs.python3.pythonVersion}"
    else
      py.buildPythonPackage {
        pname = "torch";
        version = cfg.torchVersion;
        format = "wheel";
        src = wheelFor cfg;
        nativeBuildInputs = util.optional (cfg.os == "linux") pkgs.autoPatchelfHook;
        dependencies = with py; [
          filelock
          fsspec
          jinja2
          networkx
          sympy
          typing-extensions
          setuptools
        ];
        # The CUDA/ROCm/XPU runtime libraries come from the toolkit (or, on the
        # user's machine, from the vendor wheels Torch depends on).
        autoPatchelfIgnoreMissingDeps = true;
        dontStrip = true;
        pythonImportsCheck = [ ];
        passthru = {
          inherit (cfg) variant backend toolkit;
          torchVersion = cfg.torchVersion;
        };
      };

  torchFor =
    cfg:
    let
      provided = if overrides ? torch then overrides.torch cfg else null;
    in
    if provided != null then provided else torchFromWheel cfg;
}
