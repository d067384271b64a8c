"""The build matrix (lib/torch-versions.json) as the Python side reads it (kernels.matrix).

lib/matrix.nix reads the same file; tests/test_nix_flake.py checks that both
come to the same variant names. These tests need no Nix.
"""

from __future__ import annotations

import json
import re

import pytest

from kernels import matrix
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
        assert (parsed.backend, parsed.arch, parsed.os) == (build.backend, build.arch, build.os)
        assert parsed.torch_version == build.torch_tag[len("torch"):]


def test_toolkits_are_described() -> None:
    cuda = load_lib_json("cuda")["toolkits"]
    for build in matrix.builds(backend="cuda"):
        assert build.toolkit in cuda, f"{build.variant}: CUDA {build.toolkit} is not in lib/cuda.json"
    buildable = load_lib_json("backends")["buildable"]
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


@pytest.mark.parametrize("system", ["x86_64-linux", "aarch64-linux", "aarch64-darwin"])
def test_bundle_is_a_subset_of_all_variants(system: str) -> None:
    backends = ["cpu", "cuda", "metal", "rocm", "xpu"]
    assert set(matrix.variants_for(backends, system=system, bundle_only=True)) <= set(
        matrix.variants_for(backends, system=system))
