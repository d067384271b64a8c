"""Plan stage: the variants a kernel builds.

The shared matrix (``lib/torch-versions.json``, read through
:mod:`kernels.matrix`) intersected with the kernel's backends and its Torch /
CUDA version bounds. Every bound check of the builder goes through
:class:`VersionBounds`. Names come from :mod:`kernels.variants` (the one
variant type).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Optional

from kernels import matrix
from kernels.environment import host_system
from kernels.variants import ArchVariant, Torch, TorchStableAbi, parse_variant_or_none
from packaging.version import Version

from ..config import BuildConfig
from ..errors import KernelBuilderError


def _text(version: object) -> Optional[str]:
    return None if version is None else str(version)


@dataclass(frozen=True)
class VersionBounds:
    """The inclusive Torch and CUDA bounds of build.toml (compared on major.minor)."""

    torch_minver: Optional[str] = None
    torch_maxver: Optional[str] = None
    cuda_minver: Optional[str] = None
    cuda_maxver: Optional[str] = None

    @classmethod
    def of(cls, config: BuildConfig) -> "VersionBounds":
        torch = config.torch
        cuda = config.general.cuda
        return cls(
            torch_minver=_text(torch.minver) if torch else None,
            torch_maxver=_text(torch.maxver) if torch else None,
            cuda_minver=_text(cuda.minver),
            cuda_maxver=_text(cuda.maxver),
        )


def variants_on(config: BuildConfig, system: str) -> list[str]:
    """Sorted variant names of ``config`` on ``system`` (what its flake lists)."""
    names = matrix.variants_for(config.general.backends, system=system, noarch=config.is_noarch,
                                **asdict(VersionBounds.of(config)))
    return _with_stable_abi(config, names)


def _with_stable_abi(config: BuildConfig, names: list[str]) -> list[str]:
    """A stable-ABI backend builds one ``torch-stable-abi<M><m>`` variant per compute and system
    (from any Torch at least that version) instead of one per Torch version."""
    torch = config.torch
    if torch is None or not torch.stable_abi_backends:
        return names
    result: set[str] = set()
    for name in names:
        variant = parse_variant_or_none(name)
        stable = torch.stable_abi_for(variant.backend_name) if isinstance(variant, ArchVariant) else None
        if stable is None or not isinstance(variant.framework, Torch):
            result.add(name)
            continue
        major, minor = (stable.release + (0,))[:2]
        if variant.framework.version.release[:2] < (major, minor):
            continue  # this Torch is older than the stable ABI the backend targets
        framework = TorchStableAbi(Version(f"{major}.{minor}"))
        result.add(ArchVariant(framework, variant.backend, variant.python, variant.system).variant_str)
    return sorted(result)


def kernel_variants(config: BuildConfig, arch_only: bool = False) -> list[str]:
    """Variant names of ``config``, for every system or (``arch_only``) this machine's."""
    systems = [host_system()] if arch_only else matrix.systems()
    names: set[str] = set()
    for system in systems:
        names.update(variants_on(config, system))
    return sorted(names)


def check_installed_versions(config: BuildConfig, torch_version: str, cuda_version: Optional[str]) -> None:
    """Refuse to build for an installed Torch (or its CUDA) that build.toml's bounds exclude.

    The question :func:`kernels.matrix.kernel_builds` answers for the matrix,
    asked of this environment, with a message naming the bound.
    """
    file = config.kernel_dir / "build.toml"
    bounds = VersionBounds.of(config)
    checks = [("torch", "the installed Torch", torch_version, bounds.torch_minver, bounds.torch_maxver)]
    if cuda_version is not None:
        checks.append(("general.cuda", "Torch's CUDA", cuda_version, bounds.cuda_minver, bounds.cuda_maxver))
    for key, what, version, minver, maxver in checks:
        installed = Version(version)
        if minver is not None and installed.release[:2] < Version(minver).release[:2]:
            raise KernelBuilderError(f"{file}: {key}.minver: {what} {installed} is older than {minver}")
        if maxver is not None and installed.release[:2] > Version(maxver).release[:2]:
            raise KernelBuilderError(f"{file}: {key}.maxver: {what} {installed} is newer than {maxver}")
