"""The Nix builder, evaluated and built offline (skipped where Nix is not installed).

The real nixpkgs is not available offline, so each flake is evaluated with its
``nixpkgs`` input replaced by a package set made from the host toolchain
(lib/host-pkgs.nix): ``--override-input kernel-builder/nixpkgs path:<dir>``.
The kernel-builder input itself is replaced by a copy of this repository's
flake, lib/ and Python sources (the examples point at it with a relative
``path:../..``, which older Nix cannot resolve from a copy).

What is checked:

* pure evaluation of every example: the variant names of the flake equal
  ``kernels.matrix`` and ``kernel-builder list-variants``, per system, limited
  by backends and version bounds; the outputs (packages, shells, CI tests,
  apps) exist for exactly those variants; each variant derivation carries its
  Torch, toolkit, CUDA capabilities and CMake flags;
* pinned Torch wheels are fixed-output derivations with the pinned hash, and
  unpinned ones are evaluation errors; the manylinux_2_28 toolchain evaluates
  and refuses to fetch what has no hash; the ROCm and XPU vendor packages of
  a variant are fixed-output RPM downloads with the hashes of
  lib/{rocm,xpu}-packages.json, a toolkit without pins (ROCm 7.1) is an
  evaluation error that says so, and a package set's own toolkit set wins;
* a real ``nix build`` of examples/relu's CPU variant, driven by
  ``kernel-builder build``, gives the same build/<variant>/ as the local
  build, which ``get_local_kernel`` then runs.
"""

from __future__ import annotations

import json
import os
import platform
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any, Optional

import pytest

from e2e_support import EXAMPLES, REPO_ROOT, BuiltKernel, copy_example, run_kernel_builder

NIX = shutil.which("nix")
pytestmark = pytest.mark.skipif(NIX is None, reason="Nix is not installed (apt-get install nix-bin)")

NIX_CONFIG = "\n".join([
    "experimental-features = nix-command flakes",
    "build-users-group =",
    "sandbox = false",
    "substituters =",
])
SYSTEMS = ["aarch64-darwin", "aarch64-linux", "x86_64-linux"]
APPS = ["build-and-copy", "build-and-upload", "ci-test"]

HOST_FLAKE = """\
{
  description = "The host toolchain as a package set (kernel-builder tests)";
  outputs = { self }: {
    legacyPackages = builtins.listToAttrs (map (system: {
      name = system;
      value = import ./default.nix { inherit system; };
    }) [ "x86_64-linux" "aarch64-linux" "aarch64-darwin" ]);
  };
}
"""
HOST_DEFAULT = """\
{ system, config ? { }, overlays ? [ ] }:
import ./host-pkgs.nix {
  inherit system config overlays;
  host = builtins.fromJSON (builtins.readFile ./host.json);
}
"""


def _nix_env() -> dict[str, str]:
    env = dict(os.environ)
    env["NIX_CONFIG"] = NIX_CONFIG
    env.pop("KERNEL_BUILDER_NIX_ARGS", None)
    return env


@pytest.fixture(scope="module")
def nix_env() -> dict[str, str]:
    env = _nix_env()
    probe = subprocess.run([NIX, "eval", "--expr", "builtins ? getFlake"], env=env, capture_output=True, text=True)
    if probe.returncode != 0 or probe.stdout.strip() != "true":
        pytest.skip(f"nix cannot evaluate flakes here: {probe.stderr.strip()[:300]}")
    return env


def _copy_builder_flake(destination: Path) -> Path:
    """The kernel-builder flake: flake.nix, flake.lock, lib/ and the two Python packages."""
    destination.mkdir(parents=True)
    for name in ("flake.nix", "flake.lock"):
        shutil.copy2(REPO_ROOT / name, destination / name)
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc", "tests", "*.egg-info")
    shutil.copytree(REPO_ROOT / "lib", destination / "lib", ignore=ignore)
    for package in ("python", "builder"):
        (destination / package).mkdir()
        for name in ("pyproject.toml", "README.md"):
            if (REPO_ROOT / package / name).is_file():
                shutil.copy2(REPO_ROOT / package / name, destination / package / name)
        shutil.copytree(REPO_ROOT / package / "src", destination / package / "src", ignore=ignore)
    return destination


def _host_description() -> dict[str, Any]:
    import torch

    bindir = Path(sys.executable).parent
    def tool(name: str) -> Optional[str]:
        found = shutil.which(name, path=str(bindir)) or shutil.which(name)
        return str(Path(found).absolute()) if found else None

    path = [d for d in os.environ.get("PATH", "").split(os.pathsep) if d and Path(d).is_dir()]
    host: dict[str, Any] = {
        "path": os.pathsep.join(path),
        "python": sys.executable,
        "pythonVersion": f"{sys.version_info.major}.{sys.version_info.minor}",
        "scripts": str(bindir),
        "cmake": tool("cmake"),
        "ninja": tool("ninja"),
        "torch": {"version": torch.__version__.split("+")[0], "backend": "cpu"},
    }
    libc, version = platform.libc_ver()
    if libc == "glibc" and version:
        from kernels._data import load_lib_json

        policy = f"manylinux_{version.replace('.', '_')}"
        if policy in load_lib_json("manylinux-policies")["policies"]:
            host["manylinux"] = policy
    return host


@pytest.fixture(scope="module")
def flakes(tmp_path_factory: pytest.TempPathFactory, nix_env: dict[str, str]) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("nix-flakes")
    builder = _copy_builder_flake(root / "kernel-builder")
    host = root / "host-pkgs"
    host.mkdir()
    shutil.copy2(REPO_ROOT / "lib" / "host-pkgs.nix", host / "host-pkgs.nix")
    (host / "flake.nix").write_text(HOST_FLAKE)
    (host / "default.nix").write_text(HOST_DEFAULT)
    (host / "host.json").write_text(json.dumps(_host_description(), indent=2))
    return {"root": root, "builder": builder, "host": host}


def _overrides(flakes: dict[str, Path], nested: bool = True) -> list[str]:
    args = ["--offline", "--no-write-lock-file"]
    if nested:
        args += ["--override-input", "kernel-builder", f"path:{flakes['builder']}",
                 "--override-input", "kernel-builder/nixpkgs", f"path:{flakes['host']}"]
    else:
        args += ["--override-input", "nixpkgs", f"path:{flakes['host']}"]
    return args


def nix_eval(flakes: dict[str, Path], env: dict[str, str], flake: Path, attr: str, apply: Optional[str] = None,
             nested: bool = True, check: bool = True) -> Any:
    command = [NIX, "eval", "--json", *_overrides(flakes, nested), f"path:{flake}#{attr}"]
    if apply is not None:
        command += ["--apply", apply]
    result = subprocess.run(command, env=env, capture_output=True, text=True)
    if not check:
        return result
    assert result.returncode == 0, f"{' '.join(command)}\n{result.stderr}"
    return json.loads(result.stdout)


@pytest.fixture(scope="module")
def example_copies(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("nix-examples")
    return {p.name: copy_example(p.name, root) for p in sorted(EXAMPLES.iterdir()) if (p / "flake.nix").is_file()}


def _python_variants(kernel_dir: Path, system: str, bundle_only: bool = False) -> list[str]:
    from kernel_builder.config import load_config
    from kernels.matrix import variants_for

    config = load_config(kernel_dir)
    torch = config.torch
    text = lambda v: None if v is None else str(v)  # noqa: E731
    return variants_for(
        config.general.backends, system=system, noarch=config.is_noarch, bundle_only=bundle_only,
        torch_minver=text(torch.minver) if torch else None, torch_maxver=text(torch.maxver) if torch else None,
        cuda_minver=text(config.general.cuda.minver), cuda_maxver=text(config.general.cuda.maxver),
    )


# --------------------------------------------------------------------------
# Evaluation.

NAMES = "builtins.mapAttrs (_: builtins.attrNames)"


@pytest.mark.parametrize("example", sorted(p.name for p in EXAMPLES.iterdir() if (p / "flake.nix").is_file()))
def test_example_outputs_are_the_kernels_variants(example: str, flakes: dict[str, Path], nix_env: dict[str, str],
                                                 example_copies: dict[str, Path]) -> None:
    kernel = example_copies[example]
    variants = nix_eval(flakes, nix_env, kernel, "variants")
    bundle = nix_eval(flakes, nix_env, kernel, "bundleVariants")
    assert sorted(variants) == SYSTEMS
    for system in SYSTEMS:
        assert variants[system] == _python_variants(kernel, system), system
        assert bundle[system] == _python_variants(kernel, system, bundle_only=True), system

    # `kernel-builder list-variants` lists the same names (all systems together).
    listed = run_kernel_builder("list-variants", str(kernel)).stdout.split()
    assert sorted(listed) == sorted({v for names in variants.values() for v in names})

    packages = nix_eval(flakes, nix_env, kernel, "packages", apply=NAMES)
    dev_shells = nix_eval(flakes, nix_env, kernel, "devShells", apply=NAMES)
    test_shells = nix_eval(flakes, nix_env, kernel, "testShells", apply=NAMES)
    ci_tests = nix_eval(flakes, nix_env, kernel, "ciTests", apply=NAMES)
    apps = nix_eval(flakes, nix_env, kernel, "apps", apply=NAMES)
    for system in SYSTEMS:
        names = variants[system]
        assert packages[system] == sorted(names + ["bundle", "default"])
        shells = sorted(names + (["default"] if names else []))
        assert dev_shells[system] == shells
        assert test_shells[system] == shells
        assert ci_tests[system] == names
        assert apps[system] == APPS


def test_bounds_and_backends_limit_the_variants(flakes: dict[str, Path], nix_env: dict[str, str],
                                              tmp_path: Path) -> None:
    kernel = copy_example("relu", tmp_path)
    toml = (kernel / "build.toml").read_text()
    toml = toml.replace("[general.hub]", '[general.cuda]\nminver = "12.8"\nmaxver = "13.0"\n\n[general.hub]')
    toml = toml.replace("[torch]\n", '[torch]\nminver = "2.12"\n')
    (kernel / "build.toml").write_text(toml)
    variants = nix_eval(flakes, nix_env, kernel, "variants")
    assert variants["x86_64-linux"] == [
        "torch212-cxx11-cpu-x86_64-linux",
        "torch212-cxx11-cu130-x86_64-linux",
        "torch213-cxx11-cpu-x86_64-linux",
        "torch213-cxx11-cu130-x86_64-linux",
    ]
    # relu has no Metal kernel: only CPU variants on macOS.
    assert variants["aarch64-darwin"] == ["torch212-cpu-aarch64-darwin", "torch213-cpu-aarch64-darwin"]
    for system in SYSTEMS:
        assert variants[system] == _python_variants(kernel, system)


DESCRIBE = (
    "d: { inherit (d) name variant torchVersion backend toolkit cudaVersion cudaCapabilities rocmArchs "
    "cmakeFlags opsName uniqueId system; }"
)


def test_variant_derivations_carry_their_configuration(flakes: dict[str, Path], nix_env: dict[str, str],
                                                     example_copies: dict[str, Path], tmp_path: Path) -> None:
    from kernel_builder.generate.cmake import cuda_arch_tables

    kernel = example_copies["relu"]
    cuda = nix_eval(flakes, nix_env, kernel, "packages.x86_64-linux.torch212-cxx11-cu126-x86_64-linux", DESCRIBE)
    assert cuda["name"] == "relu-torch212-cxx11-cu126-x86_64-linux"
    assert (cuda["torchVersion"], cuda["backend"], cuda["toolkit"], cuda["cudaVersion"]) == ("2.12.0", "cuda", "12.6", "12.6")
    assert cuda["system"] == "x86_64-linux"
    assert cuda["cudaCapabilities"] == cuda_arch_tables(None)["12.6"]
    assert cuda["cmakeFlags"] == ["-GNinja", "-DCMAKE_BUILD_TYPE=Release", "-DKERNEL_BACKEND=cuda"]
    assert cuda["opsName"] == f"_relu_cuda_{cuda['uniqueId']}"

    cpu = nix_eval(flakes, nix_env, kernel, "packages.aarch64-linux.torch211-cxx11-cpu-aarch64-linux", DESCRIBE)
    assert (cpu["torchVersion"], cpu["backend"], cpu["toolkit"]) == ("2.11.0", "cpu", None)
    assert cpu["cudaCapabilities"] == [] and "-DKERNEL_BACKEND=cpu" in cpu["cmakeFlags"]
    assert cpu["uniqueId"] == cuda["uniqueId"]

    # A kernel's cuda-capabilities, limited to what each toolkit can build.
    custom = copy_example("relu", tmp_path)
    toml = (custom / "build.toml").read_text().replace(
        'src = ["relu_cuda/relu.cu"]', 'src = ["relu_cuda/relu.cu"]\ncuda-capabilities = ["7.0", "9.0a", "12.0"]')
    (custom / "build.toml").write_text(toml)
    from kernel_builder.config import load_config

    section = load_config(custom).kernels["relu_cuda"]
    for toolkit, tag in (("12.6", "cu126"), ("13.0", "cu130")):
        attrs = nix_eval(flakes, nix_env, custom, f"packages.x86_64-linux.torch212-cxx11-{tag}-x86_64-linux", DESCRIBE)
        # The [torch] sources' defaults plus the section's own capabilities.
        expected = list(dict.fromkeys(cuda_arch_tables(None)[toolkit] + cuda_arch_tables(section)[toolkit]))
        assert attrs["cudaCapabilities"] == expected


def test_torch_wheels_are_pinned_fixed_output_derivations(flakes: dict[str, Path], nix_env: dict[str, str],
                                                          example_copies: dict[str, Path]) -> None:
    from kernels._data import load_lib_json

    kernel = example_copies["relu"]
    pinned = load_lib_json("torch-wheels")["wheels"]["2.11.0"]["x86_64-linux"]["cu126"]
    wheel = nix_eval(flakes, nix_env, kernel, "packages.x86_64-linux.torch211-cxx11-cu126-x86_64-linux.torchWheel",
                     "w: { inherit (w) outputHash name url; }")
    assert wheel["outputHash"] == pinned["hash"]
    assert wheel["url"] == pinned["url"]
    assert wheel["name"] == "torch-2.11.0+cu126-cp313-cp313-manylinux_2_28_x86_64.whl"

    rc = load_lib_json("torch-wheels")["wheels"]["2.12.0"]["x86_64-linux"]["cu130"]
    wheel = nix_eval(flakes, nix_env, kernel, "packages.x86_64-linux.torch212-cxx11-cu130-x86_64-linux.torchWheel",
                     "w: { inherit (w) outputHash name url; }")
    assert (wheel["outputHash"], wheel["url"]) == (rc["hash"], rc["url"])
    assert wheel["name"] == "torch-2.12.0+cu130-cp313-cp313-manylinux_2_28_x86_64.whl"

    missing = nix_eval(flakes, nix_env, kernel, "packages.x86_64-linux.torch213-cxx11-cu130-x86_64-linux.torchWheel.outputHash",
                       check=False)
    assert missing.returncode != 0
    assert "no Torch wheel is pinned for torch213-cxx11-cu130-x86_64-linux" in missing.stderr
    assert "nix store prefetch-file https://download.pytorch.org/whl/cu130/torch-2.13.0%2Bcu130-cp313-cp313-manylinux_2_28_x86_64.whl" in missing.stderr


def test_manylinux_toolchain_evaluates_and_refuses_unpinned_downloads(flakes: dict[str, Path],
                                                                      nix_env: dict[str, str], tmp_path: Path) -> None:
    builder = flakes["builder"]
    described = nix_eval(flakes, nix_env, builder, "lib", nested=False,
                         apply='l: let m = l.manylinux "x86_64-linux"; in { inherit (m) glibcVersion gccToolset rpmNames rpmUrls; }')
    assert described["glibcVersion"] == "2.28"
    assert "gcc-toolset-14-gcc-c++" in described["rpmNames"]
    assert all(u.startswith("https://repo.almalinux.org/almalinux/8/") and u.endswith(".x86_64.rpm")
               for u in described["rpmUrls"])
    # Every RPM is pinned: the first one is a fixed-output download with its recorded hash.
    from kernels._data import load_lib_json

    recorded = load_lib_json("manylinux-2.28")["rpms"]["x86_64"][0]
    fetch = nix_eval(flakes, nix_env, builder, "lib", nested=False,
                     apply='l: let f = builtins.head (l.manylinux "x86_64-linux").rpmSources; '
                           'in { inherit (f) outputHash outputHashAlgo; drv = f.drvPath; }')
    assert fetch["drv"].endswith(".drv")
    assert recorded["sha256"] in fetch["outputHash"] or fetch["outputHash"] == _sri_sha256(recorded["sha256"])

    # An RPM without a hash is an evaluation error that names it, never an unverified download.
    unpinned = _copy_builder_flake(tmp_path / "unpinned")
    data_file = unpinned / "lib" / "manylinux-2.28.json"
    data = json.loads(data_file.read_text())
    del data["rpms"]["x86_64"][0]["sha256"]
    data_file.write_text(json.dumps(data))
    fetch = nix_eval(flakes, nix_env, unpinned, "lib", nested=False, check=False,
                     apply='l: (builtins.head (l.manylinux "x86_64-linux").rpmSources).drvPath')
    assert fetch.returncode != 0 and "no sha256 is recorded for gcc-toolset-14-runtime" in fetch.stderr


def _sri_sha256(hex_digest: str) -> str:
    import base64

    return "sha256-" + base64.b64encode(bytes.fromhex(hex_digest)).decode()


def _gpu_copy_of_relu(tmp_path: Path) -> Path:
    """examples/relu with ROCm and XPU backends (its CUDA source as the ROCm kernel)."""
    kernel = copy_example("relu", tmp_path)
    toml = (kernel / "build.toml").read_text()
    toml = toml.replace('  "cuda",\n]', '  "cuda",\n  "rocm",\n  "xpu",\n]')
    toml += '\n[kernel.relu_rocm]\nbackend = "rocm"\ndepends = ["torch"]\nsrc = ["relu_cuda/relu.cu"]\n'
    (kernel / "build.toml").write_text(toml)
    return kernel


# The toolkit packages of a variant: per package, its fixed-output RPM downloads.
TOOLKIT_RPMS = (
    "d: { drv = d.drvPath; rocmPath = d.ROCM_PATH or null; packages = builtins.mapAttrs (name: p: "
    "{ drv = p.drvPath; rpms = map (f: { inherit (f) url outputHash outputHashAlgo outputHashMode; drv = f.drvPath; }) "
    "(p.rpms or [ ]); members = p.members or null; }) d.toolkitPackages; }"
)


def _pinned_rpms(data: dict[str, Any], toolkit: str, names: list[str]) -> dict[str, str]:
    """url -> sha256 of the given packages and everything they depend on."""
    entry = data["toolkits"][toolkit]
    packages, pending, seen = entry["packages"], list(names), set()
    while pending:
        name = pending.pop()
        if name in seen or name in entry["omitted"]:
            continue
        seen.add(name)
        pending.extend(packages[name]["deps"])
    return {rpm["url"]: rpm["sha256"] for name in seen for rpm in packages[name]["rpms"]}


@pytest.mark.parametrize("backend, toolkit, tag", [("rocm", "7.2", "rocm72"), ("xpu", "2025.3", "xpu20253")])
def test_vendor_toolkits_are_pinned_fixed_output_downloads(backend: str, toolkit: str, tag: str,
                                                           flakes: dict[str, Path], nix_env: dict[str, str],
                                                           tmp_path: Path) -> None:
    from kernels._data import load_lib_json

    data = load_lib_json(f"{backend}-packages")
    entry = data["toolkits"][toolkit]
    kernel = _gpu_copy_of_relu(tmp_path)
    variant = f"torch212-cxx11-{tag}-x86_64-linux"
    assert variant in nix_eval(flakes, nix_env, kernel, "variants.x86_64-linux")
    described = nix_eval(flakes, nix_env, kernel, f"packages.x86_64-linux.{variant}", TOOLKIT_RPMS)

    # The whole variant evaluates to a derivation (toolkit, Torch, compiler).
    assert described["drv"].endswith(".drv")
    packages = described["packages"]
    assert set(packages) == set(entry["packages"]) | set(entry["attributes"])
    for name, package in entry["packages"].items():
        got = packages[name]
        assert got["drv"].endswith(".drv"), name
        assert [r["url"] for r in got["rpms"]] == [r["url"] for r in package["rpms"]], name
        for rpm, pinned in zip(got["rpms"], package["rpms"]):
            # A fixed-output derivation of the file itself, with the recorded hash.
            assert rpm["drv"].endswith(".drv")
            assert rpm["outputHashMode"] == "flat"
            assert pinned["sha256"] in rpm["outputHash"] or rpm["outputHash"] == _sri_sha256(pinned["sha256"]), rpm
    # Merged trees: the listed packages and their dependencies, all pinned.
    for name, members in entry["attributes"].items():
        got = packages[name]
        assert got["drv"].endswith(".drv")
        expected = _pinned_rpms(data, toolkit, members)
        assert set(members) <= set(got["members"])
        assert {r["url"]: r["outputHash"] for r in got["rpms"]}.keys() == expected.keys()
        for rpm in got["rpms"]:
            assert expected[rpm["url"]] in rpm["outputHash"] or rpm["outputHash"] == _sri_sha256(expected[rpm["url"]])
    if backend == "rocm":
        clr = nix_eval(flakes, nix_env, kernel, f"packages.x86_64-linux.{variant}.toolkitCmakeFlags")
        assert clr == [f"-DROCM_PATH={described['rocmPath']}"]
        assert described["rocmPath"].endswith(f"-clr-{entry['release']}")
        assert {"hip-devel", "hipcc", "rocm-llvm", "rocm-device-libs", "hsa-rocr"} <= set(packages["clr"]["members"])


def test_unpinned_vendor_toolkits_are_evaluation_errors(flakes: dict[str, Path], nix_env: dict[str, str],
                                                        tmp_path: Path) -> None:
    kernel = _gpu_copy_of_relu(tmp_path)
    variant = "torch212-cxx11-rocm71-x86_64-linux"
    # The variant exists; only building it needs the (missing) ROCm 7.1 packages.
    assert variant in nix_eval(flakes, nix_env, kernel, "variants.x86_64-linux")
    for attr in (f"{variant}.drvPath", f"{variant}.toolkitPackages.hipblas.drvPath"):
        result = nix_eval(flakes, nix_env, kernel, f"packages.x86_64-linux.{attr}", check=False)
        assert result.returncode != 0, attr
        assert f"{variant} needs ROCm 7.1, but no packages are pinned for it" in result.stderr
        assert "lib/rocm-packages.json: no RPM hashes are recorded for ROCm 7.1" in result.stderr
        assert "pinned ROCm toolkits: 7.2" in result.stderr
        assert "'rocmPackages_7_1'" in result.stderr


def test_package_set_toolkits_win_over_the_pinned_ones(flakes: dict[str, Path], nix_env: dict[str, str],
                                                       tmp_path: Path) -> None:
    """An overlay's rocmPackages_7_1 / xpuPackages_2025_3 is used as it is."""
    host = tmp_path / "host-with-toolkits"
    shutil.copytree(flakes["host"], host)
    stub = (
        '{ name }: derivation { inherit name system; builder = "/bin/sh"; args = [ "-c" "exit 0" ]; }'
    )
    rocm = " ".join(f'{n} = mk {{ name = "overlay-{n}"; }};' for n in
                    ("clr", "hipcc", "rocm-core", "hipblas", "hipsparse", "rocrand", "hiprand", "rocthrust", "hipcub"))
    (host / "default.nix").write_text(f"""\
{{ system, config ? {{ }}, overlays ? [ ] }}:
let
  base = import ./host-pkgs.nix {{
    inherit system config overlays;
    host = builtins.fromJSON (builtins.readFile ./host.json);
  }};
  mk = {stub};
in
base // {{
  rocmPackages_7_1 = {{ {rocm} }};
  xpuPackages_2025_3 = {{ oneapi-dpcpp-cpp = mk {{ name = "overlay-dpcpp"; }}; oneapi-mkl = mk {{ name = "overlay-mkl"; }}; }};
}}
""")
    kernel = _gpu_copy_of_relu(tmp_path)
    command = [NIX, "eval", "--json", "--offline", "--no-write-lock-file",
               "--override-input", "kernel-builder", f"path:{flakes['builder']}",
               "--override-input", "kernel-builder/nixpkgs", f"path:{host}"]
    names = "d: builtins.mapAttrs (_: p: p.name) d.toolkitPackages"
    for variant, expected in (("torch212-cxx11-rocm71-x86_64-linux", "overlay-clr"),
                              ("torch212-cxx11-xpu20253-x86_64-linux", "overlay-dpcpp")):
        result = subprocess.run([*command, f"path:{kernel}#packages.x86_64-linux.{variant}", "--apply", names],
                                env=nix_env, capture_output=True, text=True)
        assert result.returncode == 0, result.stderr
        got = json.loads(result.stdout)
        assert expected in got.values() and all(v.startswith("overlay-") for v in got.values()), got


def test_required_variants_from_nix_match_build_variants_json(flakes: dict[str, Path], nix_env: dict[str, str]) -> None:
    from kernels._data import load_lib_json

    required = nix_eval(flakes, nix_env, flakes["builder"], "lib.requiredVariants", nested=False)
    assert required == {k: v for k, v in load_lib_json("build-variants").items() if not k.startswith("_")}


def test_flake_show_lists_the_outputs(flakes: dict[str, Path], nix_env: dict[str, str],
                                      example_copies: dict[str, Path]) -> None:
    kernel = example_copies["relu"]
    command = [NIX, "flake", "show", "--json", *_overrides(flakes), f"path:{kernel}"]
    result = subprocess.run(command, env=nix_env, capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    shown = json.loads(result.stdout)
    assert {"packages", "devShells", "testShells", "ciTests", "apps", "variants", "bundleVariants"} <= set(shown)
    packages = shown["packages"]["x86_64-linux"]
    assert {"bundle", "default", "torch212-cxx11-cpu-x86_64-linux", "torch212-cxx11-cu126-x86_64-linux"} <= set(packages)
    assert packages["torch212-cxx11-cpu-x86_64-linux"]["name"] == "relu-torch212-cxx11-cpu-x86_64-linux"
    assert set(shown["apps"]["x86_64-linux"]) == set(APPS)
    assert "default" in shown["devShells"]["x86_64-linux"]

    root = subprocess.run([NIX, "flake", "show", "--json", *_overrides(flakes, nested=False), f"path:{flakes['builder']}"],
                          env=nix_env, capture_output=True, text=True)
    assert root.returncode == 0, root.stderr
    ours = json.loads(root.stdout)
    assert {"kernel-builder", "kernels", "default"} <= set(ours["packages"]["x86_64-linux"])
    assert "default" in ours["devShells"]["x86_64-linux"]
    assert "lib" in ours


# --------------------------------------------------------------------------
# A real build.


@pytest.fixture(scope="module")
def nix_can_build(nix_env: dict[str, str]) -> None:
    expr = 'derivation { name = "kernel-builder-probe"; system = builtins.currentSystem; builder = "/bin/sh"; args = [ "-c" "echo ok > $out; exit 0" ]; }'
    probe = subprocess.run([NIX, "build", "--offline", "--impure", "--no-link", "--expr", expr],
                           env=nix_env, capture_output=True, text=True)
    if probe.returncode != 0:
        pytest.skip(f"nix cannot build here: {probe.stderr.strip()[-300:]}")


def _normalized_layout(variant_dir: Path, ops_id: str) -> list[str]:
    """Every path in a variant directory, with the ops namespace (it differs per build) masked."""
    return sorted(p.relative_to(variant_dir).as_posix().replace(ops_id, "<ops>") for p in variant_dir.rglob("*"))


def test_nix_build_of_the_cpu_variant(flakes: dict[str, Path], nix_env: dict[str, str], nix_can_build: None,
                                      relu_build: BuiltKernel, tmp_path: Path) -> None:
    import torch

    import kernels
    from kernels.variants import current_variant, current_environment, system_name

    host = json.loads((flakes["host"] / "host.json").read_text())
    if not host["cmake"] or not host["ninja"]:
        pytest.skip("cmake and ninja are needed for a real build")
    variant = current_variant("cpu")
    system = system_name(current_environment("cpu"))
    kernel = copy_example("relu", tmp_path)
    if variant not in _python_variants(kernel, system):
        pytest.skip(f"this environment's Torch ({variant}) is not in the build matrix")

    env = dict(nix_env, KERNEL_BUILDER_NIX_ARGS=" ".join(_overrides(flakes)))
    result = run_kernel_builder("build", str(kernel), "--variant", variant, "-L", "--max-jobs", "1", env=env,
                                check=False)
    assert result.returncode == 0, result.stdout + result.stderr
    # kernel-builder chose Nix, said what it ran, and copied the result.
    assert f"Running: nix build '{kernel.resolve()}#packages.{system}.{variant}' --out-link" in result.stderr
    assert "--max-jobs 1 -L --offline" in result.stderr
    assert f"Built 1 variant(s) with Nix into" in result.stdout and variant in result.stdout
    assert "host toolchain" not in result.stderr
    # The checks run inside the build (unless Nix had built this variant before).
    if f"-relu-{variant}.drv'..." in result.stderr:
        assert "runpaths: OK" in result.stderr and "check-builds: OK" in result.stderr

    variant_dir = kernel / "build" / variant
    nix_meta = json.loads((variant_dir / "metadata.json").read_text())
    local_meta = json.loads((relu_build.variant_dir / "metadata.json").read_text())
    # Same metadata; the digests differ with the compiled bytes, but each covers its own build's files.
    assert {k: v for k, v in nix_meta.items() if k not in ("id", "digest")} == \
        {k: v for k, v in local_meta.items() if k not in ("id", "digest")}
    from kernels.integrity import hash_variant

    assert nix_meta["digest"] == hash_variant(variant_dir).to_dict()
    assert nix_meta["id"].startswith("_relu_cpu_")
    assert _normalized_layout(variant_dir, nix_meta["id"]) == _normalized_layout(relu_build.variant_dir, local_meta["id"])
    assert (kernel / "build" / "CARD.md").is_file()
    assert os.access(variant_dir / "metadata.json", os.W_OK)

    from kernel_builder.check.abi.elf import runpaths

    [extension] = variant_dir.glob("*.so")
    assert runpaths(extension) == []

    # The kernel's CI tests against the same variant, in the build sandbox
    # (the variant itself is already built).
    report = tmp_path / "ci-test-report"
    ci = subprocess.run([NIX, "build", "-L", "-o", str(report), *_overrides(flakes),
                         f"path:{kernel}#ciTests.{system}.{variant}"], env=nix_env, capture_output=True, text=True)
    assert ci.returncode == 0, ci.stderr[-3000:]
    summary = report.read_text().strip().splitlines()[-1]
    assert " passed" in summary and "failed" not in summary, summary

    relu = kernels.get_local_kernel(kernel)
    x = torch.randn(1031, 7)
    torch.testing.assert_close(relu.relu(x), torch.relu(x), rtol=0, atol=0)
    assert relu.__name__ != kernels.get_local_kernel(relu_build.kernel_dir).__name__
