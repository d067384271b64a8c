"""The build matrix: which variants exist, read from ``lib/torch-versions.json``.

The Nix builder (``lib/matrix.nix``) reads the same file, so the variant
names computed here are the attribute names of a kernel flake's
``packages.<system>``; tests compare the two. The variants a compliant kernel
must provide (``lib/build-variants.json``) are the matrix's *bundle* builds.

>>> [b.variant for b in builds(system="x86_64-linux", backend="xpu", bundle_only=True)]
['torch211-cxx11-xpu20253-x86_64-linux', 'torch212-cxx11-xpu20253-x86_64-linux']
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable, Optional

from packaging.version import Version

from ._data import load_lib_json
from .backends import CUDA
from .variants import ArchVariant, arch_variant, noarch_variant


@dataclass(frozen=True)
class TorchBuild:
    """One variant of the matrix: a Torch release, backend and toolkit on one system."""

    torch_version: str  # "2.12.0"
    backend: str  # cpu, cuda, rocm, xpu, metal
    toolkit: Optional[str]  # "12.6", "7.1", "2025.3"; None for cpu and metal
    system: str  # "x86_64-linux"
    bundle: bool
    cxx11_abi: bool = True
    python: str = "3.13"

    @property
    def arch(self) -> str:
        return self.system.split("-", 1)[0]

    @property
    def os(self) -> str:
        return self.system.split("-", 1)[1]

    @property
    def variant_value(self) -> ArchVariant:
        """This build's variant (the one variant type of :mod:`kernels.variants`)."""
        return arch_variant(self.torch_version, self.backend, self.toolkit, self.arch, self.os,
                            cxx11_abi=self.cxx11_abi)

    @property
    def compute(self) -> str:
        """The compute part of the variant name: cpu, metal, cu126, rocm71, xpu20253."""
        return self.variant_value.compute

    @property
    def torch_tag(self) -> str:
        major, minor = self.torch_version.split(".")[:2]
        return f"torch{major}{minor}"

    @property
    def variant(self) -> str:
        return self.variant_value.variant_str


_CUDA = CUDA.BACKEND  # build.toml's cuda-minver/cuda-maxver bound this backend's toolkit


def builds(system: Optional[str] = None, backend: Optional[str] = None, bundle_only: bool = False) -> list[TorchBuild]:
    """Every build of the matrix, optionally limited to a system, a backend or the bundle."""
    data = load_lib_json("torch-versions")
    result = []
    for entry in data["builds"]:
        for entry_system in entry["systems"]:
            build = TorchBuild(
                torch_version=entry["torch"],
                backend=entry["backend"],
                toolkit=entry.get("toolkit"),
                system=entry_system,
                bundle=bool(entry.get("bundle", False)),
                cxx11_abi=bool(data.get("cxx11-abi", True)),
                python=data["python"],
            )
            if system is not None and build.system != system:
                continue
            if backend is not None and build.backend != backend:
                continue
            if bundle_only and not build.bundle:
                continue
            result.append(build)
    return result


def systems() -> list[str]:
    """The Nix systems the matrix builds for."""
    return sorted({b.system for b in builds()})


def _major_minor(version: str | Version) -> tuple[int, int]:
    release = Version(str(version)).release
    return (release[0], release[1] if len(release) > 1 else 0)


def _within(version: str, minver: Optional[str], maxver: Optional[str]) -> bool:
    value = _major_minor(version)
    if minver is not None and value < _major_minor(minver):
        return False
    if maxver is not None and value > _major_minor(maxver):
        return False
    return True


def kernel_builds(backends: Iterable[str], system: str, *, torch_minver: Optional[str] = None,
                  torch_maxver: Optional[str] = None, cuda_minver: Optional[str] = None,
                  cuda_maxver: Optional[str] = None, bundle_only: bool = False) -> list[TorchBuild]:
    """The builds of a kernel with ``backends`` and the given version bounds (inclusive,
    compared on major.minor as in build.toml) on ``system``."""
    wanted = set(backends)
    result = []
    for build in builds(system=system, bundle_only=bundle_only):
        if build.backend not in wanted:
            continue
        if not _within(build.torch_version, torch_minver, torch_maxver):
            continue
        if build.backend == _CUDA and build.toolkit is not None and not _within(build.toolkit, cuda_minver, cuda_maxver):
            continue
        result.append(build)
    return result


def variants_for(backends: Iterable[str], *, system: str, noarch: bool = False, torch_minver: Optional[str] = None,
                 torch_maxver: Optional[str] = None, cuda_minver: Optional[str] = None,
                 cuda_maxver: Optional[str] = None, bundle_only: bool = False) -> list[str]:
    """Sorted variant names of a kernel on ``system`` (what its flake's
    ``variants.<system>`` lists; with ``bundle_only``, ``bundleVariants.<system>``).

    Python-only (``noarch``) kernels have one ``torch-<backend>`` variant per backend.
    """
    if noarch:
        return sorted(noarch_variant(b).variant_str for b in backends)
    found = kernel_builds(backends, system, torch_minver=torch_minver, torch_maxver=torch_maxver,
                          cuda_minver=cuda_minver, cuda_maxver=cuda_maxver, bundle_only=bundle_only)
    return sorted(b.variant for b in found)


def required_variants_from_matrix() -> dict[str, object]:
    """``lib/build-variants.json`` recomputed from the matrix's bundle builds."""
    result: dict[str, object] = {}
    bundle = builds(bundle_only=True)
    for build in bundle:
        per_system = result.setdefault(build.system, {})
        assert isinstance(per_system, dict)
        per_system.setdefault(build.backend, []).append(build.variant)
    for per_system in result.values():
        assert isinstance(per_system, dict)
        for backend in per_system:
            per_system[backend] = sorted(per_system[backend])
    result["noarch"] = sorted({noarch_variant(b.backend).variant_str for b in bundle})
    return result
