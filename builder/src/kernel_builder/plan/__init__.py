"""The variants a kernel builds: the shared matrix (``lib/torch-versions.json``)
intersected with the kernel's backends and Torch / CUDA bounds.

Names come from :mod:`kernels.variants` (the one variant type); this module
only maps a build config onto :func:`kernels.matrix.variants_for`.
"""

from __future__ import annotations

from kernels import matrix
from kernels.environment import machine_arch, os_name

from ..config import BuildConfig


def _text(version: object) -> str | None:
    return None if version is None else str(version)


def kernel_variants(config: BuildConfig, arch_only: bool = False) -> list[str]:
    """Variant names of ``config``, for every system or (``arch_only``) this machine's."""
    systems = [f"{machine_arch()}-{os_name()}"] if arch_only else matrix.systems()
    torch = config.torch
    general = config.general
    names: set[str] = set()
    for system in systems:
        names.update(
            matrix.variants_for(
                general.backends,
                system=system,
                noarch=config.is_noarch,
                torch_minver=_text(torch.minver) if torch else None,
                torch_maxver=_text(torch.maxver) if torch else None,
                cuda_minver=_text(general.cuda.minver),
                cuda_maxver=_text(general.cuda.maxver),
            )
        )
    return sorted(names)
