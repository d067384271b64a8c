"""Judge the build variants of a kernel against this environment.

Every variant of a repository gets a decision: :class:`VariantAccepted`
(with its rank, 0 being the most preferred) when this environment can load
it, or :class:`VariantRejected` with a human-readable reason that names what
does not match (Torch version, C++ ABI, backend and its version, Python, CPU
architecture or operating system). The rules themselves are the pure
function :func:`kernels.selection_rules.resolve_for_system`; this module
applies them to an :class:`~kernels.environment.Environment`.
"""

from __future__ import annotations

from typing import Iterable, Mapping, Optional

from packaging.version import Version

from .backends import registry
from .environment import Environment, current_environment
from .selection_rules import (Decided, Decision, SystemSpec, VariantAccepted, VariantRejected, preference_sorted,
                              rejection, resolve_for_system)
from .variants import Variant, abi_tag, as_variant

__all__ = ["Decided", "Decision", "VariantAccepted", "VariantRejected", "decide", "describe_compute",
           "environment_summary", "rejection_reason", "system_spec"]


def describe_compute(compute: str) -> str:
    """``cu126`` -> ``CUDA 12.6``, ``rocm71`` -> ``ROCm 7.1``, ``xpu20253`` -> ``XPU 2025.3``."""
    try:
        spec, version = registry().parse_tag(compute)
    except ValueError:
        return compute
    return spec.describe(version)


def _environment_abi(env: Environment) -> Optional[str]:
    return abi_tag(env.cxx11_abi) if env.os == "linux" else None


def system_spec(env: Environment) -> SystemSpec:
    """What the selection rules need to know about ``env``."""
    return SystemSpec(
        backend=env.backend_value, cpu=env.arch, os=env.os, torch_version=Version(env.torch_version),
        torch_cxx11_abi=env.cxx11_abi if env.os == "linux" else None, tvm_ffi_version=env.tvm_ffi_version,
        macos_version=env.macos_version, python_version=env.python_version, free_threaded=env.free_threaded,
        has_mlx=env.has_mlx,
    )


def rejection_reason(variant: Decided, env: Environment, name: str = "") -> str:
    """Why ``variant`` cannot be loaded in ``env`` (every mismatch, in one sentence)."""
    return rejection(as_variant(variant), system_spec(env)) or "not accepted by this environment"


def _ranks(accepted: list[Decided], env: Environment) -> dict[str, int]:
    """Ranks: positions in preference order among the accepted variants *and* the environment's
    standard candidates (its exact build, ``torch-<backend>``, ``torch-universal``), so that a
    variant's rank does not depend on which of those a repository happens to ship."""
    pool = {str(v): v for v in (*accepted, *env.candidates())}
    return {str(v): i for i, v in enumerate(preference_sorted(pool.values()))}


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
    Names that are not variant names are rejected as such.
    """
    env = environment if environment is not None else current_environment(backend)
    problems = problems or {}
    spec = system_spec(env)
    accepted, trace = resolve_for_system(
        [as_variant(str(v)) for v in variants], spec.backend, spec.cpu, spec.os, spec.torch_version,
        spec.torch_cxx11_abi, spec.tvm_ffi_version, spec.macos_version, spec.python_version, spec.free_threaded,
        spec.has_mlx)
    usable = [v for v in accepted if str(v) not in problems]
    ranks = _ranks(usable, env)
    rejected = [VariantRejected(v, problems[str(v)]) for v in accepted if str(v) in problems]
    rejected += [d for d in trace if isinstance(d, VariantRejected)]
    rejected.sort(key=lambda d: str(d.variant))
    return [*(VariantAccepted(v, ranks[str(v)]) for v in usable), *rejected]


def accepted_variants(variants: Iterable[str], backend: Optional[str] = None) -> list[Variant]:
    """The variants of ``variants`` this environment loads, most preferred first."""
    return [d.variant for d in decide(variants, backend) if isinstance(d, VariantAccepted)]


def environment_summary(backend: Optional[str] = None) -> str:
    """``Torch 2.13.0, backend cpu (CPU), x86_64-linux`` for error messages."""
    env = current_environment(backend)
    abi = _environment_abi(env)
    abi_part = f", C++ ABI {abi}" if abi else ""
    return (f"Torch {env.torch_version}{abi_part}, backend {env.backend} ({describe_compute(env.compute)}), "
            f"{env.arch}-{env.os}")
