"""Which build variants a system can load, and in which order it prefers them.

:func:`resolve_for_system` is a pure function of the variants and a
description of the system (backend, CPU, OS, Torch version and C++ ABI,
tvm-ffi version, macOS version, Python version and ABI); it returns the
accepted variants, most preferred first, and a trace with one decision per
input. The rules follow upstream ``kernels`` 0.19:

- CPU and OS must match; so must the Python part of new-format names
  (``abi3`` is never loaded by free-threaded Python, which needs ``abi3t``;
  the interpreter must be at least the variant's minimum Python).
- CUDA and ROCm builds load on the same major version with a minor version up
  to the system's (CUDA 12.9 loads ``cu128``); other backends match exactly.
  Metal arch builds need macOS 26.0 or later.
- Versioned Torch builds need the same Torch major.minor; a C++ ABI tag must
  match Torch's, a tagless name matches any. Stable-ABI builds load on any
  Torch at least their ABI version. tvm-ffi builds need the installed tvm-ffi
  major.minor exactly.
- Python-only builds: ``torch-<backend>`` of the system's backend and
  ``torch-universal``; ``mlx-<backend>`` only with MLX installed.
- Preference: stable ABI (newest first), versioned Torch (tagless first),
  tvm-ffi, ``torch-<backend>``, ``torch-universal``; within each, the highest
  toolkit minor version, then ``abi3`` before ``abi3t`` and the highest
  minimum Python.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable, Optional, Union

from packaging.version import Version

from .backends import Backend, registry
from .variants import (ArchVariant, MlxNoarch, NoarchVariant, Torch, TorchStableAbi, TvmFfi, UnknownVariant,
                       Variant, abi_tag, as_variant)

Decided = Union[Variant, UnknownVariant]

#: Metal arch builds are compiled for Metal 4, which macOS 26 introduced.
METAL_MIN_MACOS = Version("26.0")
#: Upstream's default interpreter for the pure rules: a GIL-enabled Python 3.15 (loads abi3 and abi3t).
DEFAULT_PYTHON = Version("3.15")
_PYTHON_ABI_ORDER = ("abi3", "abi3t")


def _older_minor_loads(backend: str) -> bool:
    """Whether the registry lets an older toolkit minor of ``backend`` load (CUDA, ROCm)."""
    return backend in registry() and registry().get(backend).older_minor_loads


@dataclass(frozen=True)
class VariantAccepted:
    """A build variant this environment can load; ``rank`` 0 is the most preferred.

    ``variant`` is the variant object (a name given here is parsed); it
    compares equal to its name.
    """

    variant: Decided
    rank: int = 0

    def __post_init__(self) -> None:
        object.__setattr__(self, "variant", as_variant(self.variant))

    @property
    def variant_str(self) -> str:
        return self.variant.variant_str


@dataclass(frozen=True)
class VariantRejected:
    """A build variant this environment cannot load, and why."""

    variant: Decided
    reason: str

    def __post_init__(self) -> None:
        object.__setattr__(self, "variant", as_variant(self.variant))

    @property
    def variant_str(self) -> str:
        return self.variant.variant_str


Decision = Union[VariantAccepted, VariantRejected]


@dataclass(frozen=True)
class SystemSpec:
    """Everything the rules look at about a system."""

    backend: Backend
    cpu: str
    os: str
    torch_version: Optional[Version]
    torch_cxx11_abi: Optional[bool]
    tvm_ffi_version: Optional[Version] = None
    macos_version: Optional[Version] = None
    python_version: Version = DEFAULT_PYTHON
    free_threaded: bool = False
    has_mlx: bool = True


def _describe(backend: Backend) -> str:
    return backend.spec.describe(backend.version)


def _major_minor(version: Version) -> tuple[int, int]:
    return version.major, version.minor


def _version_text(version: Optional[Version], missing: str) -> str:
    return str(version) if version is not None else missing


def _backend_problems(variant: ArchVariant, system: SystemSpec) -> list[str]:
    mine, theirs = variant.backend, system.backend
    if mine.name != theirs.name:
        return [f"backend {mine.name} ({_describe(mine)}) instead of {theirs.name} ({_describe(theirs)})"]
    if mine.version is not None and theirs.version is not None \
            and _major_minor(mine.version) != _major_minor(theirs.version):
        if not _older_minor_loads(mine.name) or mine.version.major != theirs.version.major:
            return [f"{_describe(mine)} instead of {_describe(theirs)}"]
        if mine.version.minor > theirs.version.minor:
            return [f"{_describe(mine)}, newer than this system's {_describe(theirs)}"]
    if mine.name == "metal" and (system.macos_version is None or system.macos_version < METAL_MIN_MACOS):
        found = f"macOS {system.macos_version}" if system.macos_version is not None else "not macOS 26"
        return [f"Metal, whose arch builds require macOS {METAL_MIN_MACOS} or later ({found})"]
    return []


def _framework_problems(variant: ArchVariant, system: SystemSpec) -> list[str]:
    framework, torch = variant.framework, system.torch_version
    torch_text = _version_text(torch, "none (Torch is not installed)")
    if isinstance(framework, TorchStableAbi):
        if framework.tagged:  # this project's early spelling ``torch211-stable``
            return ["the Torch stable ABI, which this loader does not support yet"]
        if torch is None or _major_minor(framework.version) > _major_minor(torch):
            return [f"Torch stable ABI {framework.version}, newer than Torch {torch_text}"]
        return []
    if isinstance(framework, TvmFfi):
        if system.tvm_ffi_version is None or \
                _major_minor(framework.version) != _major_minor(system.tvm_ffi_version):
            return [f"tvm-ffi {framework.version} instead of "
                    f"{_version_text(system.tvm_ffi_version, 'none (tvm-ffi is not installed)')}"]
        return []
    assert isinstance(framework, Torch)
    if torch is None or _major_minor(framework.version) != _major_minor(torch):
        return [f"Torch {framework.version} instead of {torch_text}"]
    if framework.cxx11_abi is not None and variant.os == system.os and framework.cxx11_abi != system.torch_cxx11_abi:
        return [f"C++ ABI {abi_tag(framework.cxx11_abi)} instead of {abi_tag(system.torch_cxx11_abi) or 'none'}"]
    return []


def _python_problems(variant: ArchVariant, system: SystemSpec) -> list[str]:
    python = variant.python
    if python.abi == "abi3" and system.free_threaded:
        return ["Python ABI abi3, which free-threaded Python cannot load (it needs abi3t)"]
    if system.python_version < python.version:
        return [f"Python {python.version} or later instead of {system.python_version}"]
    return []


def _noarch_problem(variant: NoarchVariant, system: SystemSpec) -> Optional[str]:
    if isinstance(variant.framework, MlxNoarch) and not system.has_mlx:
        return "MLX build, but MLX is not installed"
    wanted = registry().get(system.backend.name).noarch if system.backend.name in registry() else system.backend.name
    if variant.backend.backend_name not in ("universal", wanted):
        return (f"Python-only build for backend {variant.backend_name}, "
                f"but this environment uses backend {system.backend.name}")
    return None


def rejection(variant: Decided, system: SystemSpec) -> Optional[str]:
    """Why ``system`` cannot load ``variant`` (every mismatch, in one sentence), or None if it can."""
    if isinstance(variant, UnknownVariant):
        return f"{variant.variant_str!r} is not a build variant name"
    if isinstance(variant, NoarchVariant):
        return _noarch_problem(variant, system)
    problems = _backend_problems(variant, system) + _framework_problems(variant, system) \
        + _python_problems(variant, system)
    if variant.arch != system.cpu:
        problems.append(f"CPU architecture {variant.arch} instead of {system.cpu}")
    if variant.os != system.os:
        problems.append(f"OS {variant.os} instead of {system.os}")
    return "built for " + ", ".join(problems) if problems else None


def preference_key(variant: Decided) -> tuple:
    """Sort key: smaller is preferred (see the module docstring); ties broken by name."""
    if isinstance(variant, ArchVariant):
        framework = variant.framework
        if isinstance(framework, TorchStableAbi):
            group = (0, -framework.version.major, -framework.version.minor)
        elif isinstance(framework, Torch):
            group = (1, 0, 0 if framework.cxx11_abi is None else 1)
        else:
            group = (2, 0, 0)
        toolkit = -variant.backend.version.minor if variant.backend.version is not None else 0
        python = (_PYTHON_ABI_ORDER.index(variant.python.abi), -variant.python.version.major,
                  -variant.python.version.minor)
        return (*group, toolkit, *python, str(variant))
    if isinstance(variant, NoarchVariant):
        return (4, 0, 1 if variant.backend.backend_name == "universal" else 0, 0, 0, 0, 0, str(variant))
    return (5, 0, 0, 0, 0, 0, 0, str(variant))


def preference_sorted(variants: Iterable[Decided]) -> list[Decided]:
    return sorted(variants, key=preference_key)


def resolve_for_system(
    variants: Iterable[Union[str, Decided]],
    selected_backend: Backend,
    cpu: str,
    os: str,
    torch_version: Optional[Version],
    torch_cxx11_abi: Optional[bool],
    tvm_ffi_version: Optional[Version] = None,
    macos_version: Optional[Version] = None,
    python_version: Version = DEFAULT_PYTHON,
    free_threaded: bool = False,
    has_mlx: bool = True,
) -> tuple[list[Decided], list[Decision]]:
    """The variants this system loads, most preferred first, and one decision per input.

    The trace lists the accepted variants first (in preference order, ``rank``
    their position), then the rejected ones in the same order.
    """
    system = SystemSpec(selected_backend, cpu, os, torch_version, torch_cxx11_abi, tvm_ffi_version,
                        macos_version, python_version, free_threaded, has_mlx)
    judged = [(v, rejection(v, system)) for v in preference_sorted({as_variant(v) for v in variants})]
    accepted = [v for v, reason in judged if reason is None]
    trace: list[Decision] = [VariantAccepted(v, i) for i, v in enumerate(accepted)]
    trace += [VariantRejected(v, reason) for v, reason in judged if reason is not None]
    return accepted, trace
