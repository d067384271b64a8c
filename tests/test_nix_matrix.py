"""The build matrix (lib/torch-versions.json) as the Python side reads it (kernels.matrix).

lib/matrix.nix reads the same file; tests/test_nix_flake.py checks that both
come to the same variant names. These tests need no Nix.
"""

from __future__ import annotations

import json
import re

import pytest

from kernels import matrix
from kernels.backends import registry
from kernels._data import lib_dir, load_lib_json
from kernels.variants import parse_variant, required_variants


def test_bundle_builds_are_the_required_variants() -> None:
    expected = {k: v for k, v in load_lib_json("build-variants").items() if not k.startswith("_")}
    assert matrix.required_variants_from_matrix() == expected
    # The loader's list (kernels check) is the same.
    assert {k: v for k, v in expected.items() if k != "noarch"} == required_variants()


def test_every_variant_name_parses_back() -> None:
    builds = matrix.builds()
    assert len({b.variant for b in builds}) == len(builds), "variant names must be unique"
    for build in builds:
        parsed = parse_variant(build.variant)
        assert parsed is not None, build.variant
        assert (parsed.backend_name, parsed.arch, parsed.os) == (build.backend, build.arch, build.os)
        torch = parsed.framework.version
        assert f"{torch.major}{torch.minor}" == build.torch_tag[len("torch"):]


def test_toolkits_are_described() -> None:
    cuda = load_lib_json("cuda")["toolkits"]
    for build in matrix.builds(backend="cuda"):
        assert build.toolkit in cuda, f"{build.variant}: CUDA {build.toolkit} is not in lib/cuda.json"
    buildable = registry().build_toml_names()
    assert {b.backend for b in matrix.builds()} <= set(buildable)
    for build in matrix.builds():
        assert (build.toolkit is None) == (build.backend in ("cpu", "metal")), build


def test_systems() -> None:
    assert matrix.systems() == ["aarch64-darwin", "aarch64-linux", "x86_64-linux"]


def test_compute_tags() -> None:
    tags = {(b.backend, b.toolkit): b.compute for b in matrix.builds(system="x86_64-linux")}
    assert tags[("cuda", "12.6")] == "cu126"
    assert tags[("rocm", "7.1")] == "rocm71"
    assert tags[("xpu", "2025.3")] == "xpu20253"
    assert tags[("cpu", None)] == "cpu"
    assert {b.variant for b in matrix.builds(system="aarch64-darwin", bundle_only=True)} == {
        "torch211-cpu-aarch64-darwin", "torch212-cpu-aarch64-darwin",
        "torch211-metal-aarch64-darwin", "torch212-metal-aarch64-darwin",
    }


def test_variants_for_backends_and_bounds() -> None:
    all_linux = matrix.variants_for(["cpu", "cuda"], system="x86_64-linux")
    assert "torch212-cxx11-cu132-x86_64-linux" in all_linux
    assert not [v for v in all_linux if "rocm" in v or "xpu" in v]
    bounded = matrix.variants_for(["cpu", "cuda"], system="x86_64-linux", torch_minver="2.12",
                                  cuda_minver="12.8", cuda_maxver="13.0")
    assert bounded == [
        "torch212-cxx11-cpu-x86_64-linux",
        "torch212-cxx11-cu130-x86_64-linux",
        "torch213-cxx11-cpu-x86_64-linux",
        "torch213-cxx11-cu130-x86_64-linux",
    ]
    # Bounds compare major.minor: 2.12.1 as maxver still includes 2.12.0.
    assert matrix.variants_for(["cpu"], system="x86_64-linux", torch_maxver="2.12.1") == [
        "torch211-cxx11-cpu-x86_64-linux", "torch212-cxx11-cpu-x86_64-linux",
    ]
    assert matrix.variants_for(["cpu"], system="x86_64-linux", bundle_only=True) == [
        "torch211-cxx11-cpu-x86_64-linux", "torch212-cxx11-cpu-x86_64-linux",
    ]
    assert matrix.variants_for(["metal"], system="x86_64-linux") == []
    assert matrix.variants_for(["cuda", "cpu"], system="aarch64-linux", noarch=True) == ["torch-cpu", "torch-cuda"]


def test_wheel_pins_belong_to_matrix_builds() -> None:
    data = load_lib_json("torch-wheels")
    assert "_source" in data, "say where the pinned hashes come from"
    keys = {(b.torch_version, b.system, b.compute) for b in matrix.builds()}
    pins = 0
    for version, systems in data["wheels"].items():
        for system, tags in systems.items():
            for tag, wheel in tags.items():
                assert (version, system, tag) in keys, f"wheel pin for a build that is not in the matrix: {version} {system} {tag}"
                assert re.fullmatch(r"sha256-[A-Za-z0-9+/]{43}=", wheel["hash"]), wheel
                assert wheel["url"].startswith("https://") and wheel["url"].endswith(".whl")
                assert f"torch-{version}" in wheel["url"]
                assert f"cp{load_lib_json('torch-versions')['python'].replace('.', '')}" in wheel["url"]
                pins += 1
    assert pins > 0


def test_manylinux_data() -> None:
    data = json.loads((lib_dir() / "manylinux-2.28.json").read_text())
    assert data["glibc"]["version"] == "2.28"
    for arch in ("x86_64", "aarch64"):
        names = [r["name"] for r in data["rpms"][arch]]
        toolset = f"gcc-toolset-{data['gcc-toolset']}"
        assert {f"{toolset}-gcc", f"{toolset}-gcc-c++", f"{toolset}-binutils", "libstdc++"} <= set(names)
        for rpm in data["rpms"][arch]:
            assert "sha256" not in rpm or re.fullmatch(r"[0-9a-f]{64}", rpm["sha256"])


# What lib/toolkits.nix takes from a toolkit's package set, per backend.
TOOLKIT_ATTRIBUTES = {
    "rocm": {"clr", "hipcc", "rocm-core", "hipblas", "hipsparse", "rocrand", "hiprand", "rocthrust", "hipcub"},
    "xpu": {"oneapi-dpcpp-cpp", "oneapi-mkl"},
}
# Package-set attributes the vendor packages may ask for (see docs/nix.md).
SYSTEM_LIBRARIES = {"elfutils", "libdrm", "libffi", "libxml2", "ncurses", "numactl", "python3", "zlib", "zstd"}
VENDOR_URLS = {"rocm": "https://repo.radeon.com/rocm/rhel8/", "xpu": "https://yum.repos.intel.com/oneapi/"}


@pytest.mark.parametrize("backend", ["rocm", "xpu"])
def test_vendor_package_data(backend: str) -> None:
    data = load_lib_json(f"{backend}-packages")
    assert "_source" in data, "say where the pinned hashes come from"
    pinned, unpinned = data["toolkits"], data["unpinned"]
    # Every toolkit of the matrix is pinned or explicitly not (an evaluation error then).
    matrix_toolkits = {b.toolkit for b in matrix.builds(backend=backend)}
    assert matrix_toolkits == set(pinned) | set(unpinned)
    assert not set(pinned) & set(unpinned)
    assert all(isinstance(reason, str) and reason for reason in unpinned.values())
    for version, toolkit in pinned.items():
        assert {b.system for b in matrix.builds(backend=backend) if b.toolkit == version} == {toolkit["system"]}
        assert toolkit["release"].startswith(version + ".")
        packages, omitted = toolkit["packages"], toolkit["omitted"]
        assert packages and not set(packages) & set(omitted)
        assert all(isinstance(reason, str) and reason for reason in omitted.values())
        assert set(toolkit["libraries"]) <= SYSTEM_LIBRARIES
        urls = set()
        for name, package in packages.items():
            assert set(package) <= {"version", "deps", "needs", "libraries", "ignoreMissing", "rpms"}, name
            # Every requirement is pinned too, or deliberately left out.
            for dep in package["deps"]:
                assert dep in packages or dep in omitted, f"{version} {name}: dependency {dep} is not listed"
            for need in package.get("needs", []):
                assert need in packages and need != name, f"{version} {name}: needs {need}, which is not listed"
            assert set(package.get("libraries", [])) <= SYSTEM_LIBRARIES, name
            assert package["rpms"], name
            for rpm in package["rpms"]:
                assert set(rpm) == {"url", "sha256"}
                assert re.fullmatch(r"[0-9a-f]{64}", rpm["sha256"]), rpm
                assert rpm["url"].startswith(VENDOR_URLS[backend]) and rpm["url"].endswith(".rpm"), rpm
                assert package["version"] in rpm["url"] and rpm["url"] not in urls, rpm
                if backend == "rocm":
                    assert f"/{toolkit['release']}/" in rpm["url"] and "-rpath" not in rpm["url"], rpm
                urls.add(rpm["url"])
        # The names lib/toolkits.nix uses: packages or merged trees of packages.
        attributes = toolkit["attributes"]
        assert not set(attributes) & set(packages)
        assert TOOLKIT_ATTRIBUTES[backend] <= set(packages) | set(attributes)
        for name, members in attributes.items():
            assert members and set(members) <= set(packages), name

        # The link inputs form no cycle (derivations cannot depend on each other).
        edges = {name: set(p.get("needs", [])) | (set(p["deps"]) - set(omitted) if backend == "rocm" else set())
                 for name, p in packages.items()}
        state: dict[str, str] = {}

        def visit(name: str, path: tuple[str, ...]) -> None:
            assert state.get(name) != "open", f"{version}: dependency cycle {' -> '.join(path + (name,))}"
            if state.get(name) == "done":
                return
            state[name] = "open"
            for nxt in sorted(edges[name]):
                visit(nxt, path + (name,))
            state[name] = "done"

        for name in sorted(packages):
            visit(name, ())


@pytest.mark.parametrize("system", ["x86_64-linux", "aarch64-linux", "aarch64-darwin"])
def test_bundle_is_a_subset_of_all_variants(system: str) -> None:
    backends = ["cpu", "cuda", "metal", "rocm", "xpu"]
    assert set(matrix.variants_for(backends, system=system, bundle_only=True)) <= set(
        matrix.variants_for(backends, system=system))
