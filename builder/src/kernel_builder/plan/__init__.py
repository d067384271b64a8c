"""The variants a kernel builds: the shared matrix (``lib/torch-versions.json``)
intersected with the kernel's backends and Torch / CUDA bounds."""

from __future__ import annotations

from kernels import matrix
from kernels.variants import current_environment, system_name

from ..config import BuildConfig


def _text(version: object) -> str | None:
    return None if version is None else str(version)


def kernel_variants(config: BuildConfig, arch_only: bool = False) -> list[str]:
    """Variant names of ``config``, for every system or (``arch_only``) this machine's."""
    if arch_only:
        try:
            systems = [system_name(current_environment())]
        except ImportError:  # no Torch installed: fall back to the interpreter's platform
            import platform
            import sys

            arch = {"amd64": "x86_64", "arm64": "aarch64"}.get(platform.machine().lower(), platform.machine().lower())
            systems = [f"{arch}-{'darwin' if sys.platform == 'darwin' else 'linux'}"]
    else:
        systems = matrix.systems()
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
