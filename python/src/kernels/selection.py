"""Judge the build variants of a kernel against this environment.

Every variant of a repository gets a decision: :class:`VariantAccepted`
(with its rank, 0 being the most preferred) when this environment can load
it, or :class:`VariantRejected` with a human-readable reason that names what
does not match (Torch version, C++ ABI, backend and its version, CPU
architecture or operating system).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable, Mapping, Optional, Union

from packaging.version import Version

from .backends import registry
from .environment import Environment, current_environment
from .variants import ArchVariant, Torch, TorchStableAbi, UnknownVariant, Variant, abi_tag, as_variant

Decided = Union[Variant, UnknownVariant]


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


def describe_compute(compute: str) -> str:
    """``cu126`` -> ``CUDA 12.6``, ``rocm71`` -> ``ROCm 7.1``, ``xpu20253`` -> ``XPU 2025.3``."""
    try:
        spec, version = registry().parse_tag(compute)
    except ValueError:
        return compute
    return spec.describe(version)


def _environment_abi(env: Environment) -> Optional[str]:
    return abi_tag(env.cxx11_abi) if env.os == "linux" else None


def _variant_abi(variant: ArchVariant) -> Optional[str]:
    framework = variant.framework
    return abi_tag(framework.cxx11_abi) if isinstance(framework, Torch) else None


def _framework_problems(variant: ArchVariant, env: Environment) -> list[str]:
    framework = variant.framework
    problems = []
    version = getattr(framework, "version", None)
    if isinstance(framework, Torch) and version is not None \
            and f"torch{version.major}{version.minor}" != env.torch_tag:
        problems.append(f"Torch {version.major}.{version.minor} instead of {env.torch_version}")
    if isinstance(framework, TorchStableAbi):
        if framework.tagged:  # the early torch<M><m>-stable spelling: not a name upstream loaders know
            problems.append("the Torch stable ABI, which this loader does not support yet")
        elif version is not None and version > Version(env.torch_version):
            problems.append(f"the Torch {version.major}.{version.minor} stable ABI, newer than the installed "
                            f"Torch {env.torch_version}")
    elif not isinstance(framework, Torch):
        problems.append("tvm-ffi, which this loader does not support yet")
    elif variant.os == env.os and _variant_abi(variant) != _environment_abi(env):
        problems.append(f"C++ ABI {_variant_abi(variant) or 'none'} instead of {_environment_abi(env) or 'none'}")
    return problems


def rejection_reason(variant: Decided, env: Environment, name: str = "") -> str:
    """Why ``variant`` cannot be loaded in ``env`` (every mismatch, in one sentence)."""
    if isinstance(variant, UnknownVariant):
        return f"{variant.variant_str!r} is not a build variant name"
    if variant.noarch:
        if variant.backend_name not in ("universal", env.backend):
            return (f"Python-only build for backend {variant.backend_name}, "
                    f"but this environment uses backend {env.backend}")
        return "not accepted by this environment"
    assert isinstance(variant, ArchVariant)
    problems = []
    if variant.backend_name != env.backend:
        problems.append(
            f"backend {variant.backend_name} ({describe_compute(variant.compute)}) instead of "
            f"{env.backend} ({describe_compute(env.compute)})"
        )
    elif variant.compute != env.compute:
        problems.append(f"{describe_compute(variant.compute)} instead of {describe_compute(env.compute)}")
    problems += _framework_problems(variant, env)
    if variant.arch != env.arch:
        problems.append(f"CPU architecture {variant.arch} instead of {env.arch}")
    if variant.os != env.os:
        problems.append(f"OS {variant.os} instead of {env.os}")
    if not problems:
        return "not accepted by this environment"
    return "built for " + ", ".join(problems)


def decide(
    variants: Iterable[str],
    backend: Optional[str] = None,
    problems: Optional[Mapping[str, str]] = None,
    *,
    environment: Optional[Environment] = None,
) -> list[Decision]:
    """One decision per variant name: accepted first (most preferred leading), then rejected by name.

    ``problems`` maps variant names to a reason that rejects them regardless
    of the environment (for example a variant without ``__init__.py``).
    ``environment`` decides for another environment than this process's.
    """
    env = environment if environment is not None else current_environment(backend)
    candidates = [v.variant_str for v in env.candidates()]
    problems = problems or {}
    accepted: list[VariantAccepted] = []
    rejected: list[VariantRejected] = []
    for name in sorted({str(v) for v in variants}):
        if name in candidates:
            if name in problems:
                rejected.append(VariantRejected(name, problems[name]))
            else:
                accepted.append(VariantAccepted(name, candidates.index(name)))
            continue
        variant = as_variant(name)
        stable = _stable_abi_rank(variant, env, len(candidates))
        if stable is None:
            rejected.append(VariantRejected(variant, rejection_reason(variant, env)))
        elif name in problems:
            rejected.append(VariantRejected(variant, problems[name]))
        else:
            accepted.append(VariantAccepted(variant, stable))
    accepted.sort(key=lambda d: d.rank)
    return [*accepted, *rejected]


def _stable_abi_rank(variant: Decided, env: Environment, after: int) -> Optional[int]:
    """The rank of a Torch stable ABI build this environment loads (its version at most the
    installed Torch's, newest first, after the other candidates), or None."""
    if not isinstance(variant, ArchVariant) or not isinstance(variant.framework, TorchStableAbi):
        return None
    framework = variant.framework
    installed = Version(env.torch_version)
    if framework.tagged or framework.version.release[:2] > installed.release[:2]:
        return None
    if (variant.backend_name, variant.compute, variant.arch, variant.os) != (env.backend, env.compute, env.arch, env.os):
        return None
    def number(release: tuple[int, ...]) -> int:
        return release[0] * 1000 + (release[1] if len(release) > 1 else 0)

    return after + number(installed.release) - number(framework.version.release)


def environment_summary(backend: Optional[str] = None) -> str:
    """``Torch 2.13.0, backend cpu (CPU), x86_64-linux`` for error messages."""
    env = current_environment(backend)
    abi = _environment_abi(env)
    abi_part = f", C++ ABI {abi}" if abi else ""
    return (f"Torch {env.torch_version}{abi_part}, backend {env.backend} ({describe_compute(env.compute)}), "
            f"{env.arch}-{env.os}")
