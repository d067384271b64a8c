"""Build stage: one interface over the two ways a kernel is built.

* :mod:`.nix` drives the kernel's flake (the full, reproducible variant
  matrix); :mod:`.nix_sandbox` holds the steps that run inside those builds.
* :mod:`.local` builds this environment's variants with the host toolchain
  (CMake + Ninja through scikit-build-core).

:func:`choose_toolchain` decides between them once per command;
:func:`build` runs the chosen one.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Callable, Optional

from ..config import BuildConfig
from ..errors import KernelBuilderError
from ..options import BuildOptions

if TYPE_CHECKING:
    from .local import BuildResult
    from .nix import NixBuildResult

Log = Callable[[str], None]


@dataclass(frozen=True)
class Toolchain:
    """Where builds of a kernel run: through Nix (``nix`` is its executable) or on the host, and why."""

    nix: Optional[str]
    reason: str

    @property
    def uses_nix(self) -> bool:
        return self.nix is not None


def choose_toolchain(config: BuildConfig, options: BuildOptions) -> Toolchain:
    """Nix when it is usable for this kernel and ``--local`` was not given; the host toolchain otherwise."""
    if options.local:
        return Toolchain(nix=None, reason="--local given")
    from .nix import nix_status

    status = nix_status(config.kernel_dir)
    if status.usable:
        return Toolchain(nix=status.executable or "nix", reason=status.reason)
    return Toolchain(nix=None, reason=status.reason)


@dataclass(frozen=True)
class BuildOutcome:
    """What :func:`build` produced: a Nix result, or the host toolchain's per-variant results."""

    toolchain: Toolchain
    nix_result: Optional["NixBuildResult"] = None
    local_results: tuple["BuildResult", ...] = ()


def build(config: BuildConfig, options: BuildOptions, toolchain: Toolchain, log: Log) -> BuildOutcome:
    """Build ``config`` with ``toolchain`` into ``build/``.

    Op registrations are checked first: a kernel that registers ops outside
    its namespace is refused before anything is compiled.
    """
    from ..check.registrations import check_registrations

    check_registrations(config.python_package_dir, config.kernel_dir)
    if toolchain.uses_nix:
        from .nix import NixOptions, build_with_nix

        if options.unique_id is not None:
            raise KernelBuilderError(
                "--unique-id: Nix builds take the ops namespace from the flake's git revision; "
                "use --local to choose it"
            )
        result = build_with_nix(config, options.variant, NixOptions.for_build(options), log=log,
                                nix=toolchain.nix or "nix")
        return BuildOutcome(toolchain=toolchain, nix_result=result)
    from . import local

    log(f"{toolchain.reason}: building this environment's variant with the host toolchain (CMake + Ninja)")
    return BuildOutcome(toolchain=toolchain, local_results=tuple(local.build_local(config, options, log=log)))
