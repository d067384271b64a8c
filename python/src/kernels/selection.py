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

from .variants import Environment, ParsedVariant, current_environment, parse_variant, variant_candidates


@dataclass(frozen=True)
class VariantAccepted:
    """A build variant this environment can load; ``rank`` 0 is the most preferred."""

    variant: str
    rank: int = 0

    @property
    def variant_str(self) -> str:
        return self.variant


@dataclass(frozen=True)
class VariantRejected:
    """A build variant this environment cannot load, and why."""

    variant: str
    reason: str

    @property
    def variant_str(self) -> str:
        return self.variant


Decision = Union[VariantAccepted, VariantRejected]


def _torch_version(tag: str) -> str:
    """``"213"`` -> ``"2.13"``."""
    return f"{tag[0]}.{tag[1:]}" if len(tag) > 1 else tag


def describe_compute(compute: str) -> str:
    """``cu126`` -> ``CUDA 12.6``, ``rocm71`` -> ``ROCm 7.1``, ``xpu20253`` -> ``XPU 2025.3``."""
    if compute.startswith("cu") and compute[2:].isdigit():
        digits = compute[2:]
        return f"CUDA {digits[:-1]}.{digits[-1]}"
    if compute.startswith("rocm") and compute[4:].isdigit():
        digits = compute[4:]
        return f"ROCm {digits[:-1]}.{digits[-1]}"
    if compute.startswith("xpu") and compute[3:].isdigit():
        digits = compute[3:]
        return f"XPU {digits[:4]}.{digits[4:]}"
    return {"cpu": "CPU", "metal": "Metal", "neuron": "Neuron", "cann": "CANN"}.get(compute, compute)


def _environment_abi(env: Environment) -> Optional[str]:
    if env.os != "linux":
        return None
    return "cxx11" if env.cxx11_abi else "cxx98"


def rejection_reason(parsed: Optional[ParsedVariant], env: Environment, name: str = "") -> str:
    """Why ``parsed`` cannot be loaded in ``env`` (every mismatch, in one sentence)."""
    if parsed is None:
        return f"{name!r} is not a build variant name"
    if parsed.noarch:
        if parsed.backend not in ("universal", env.backend):
            return f"Python-only build for backend {parsed.backend}, but this environment uses backend {env.backend}"
        return "not accepted by this environment"
    problems = []
    if parsed.backend != env.backend:
        problems.append(
            f"backend {parsed.backend} ({describe_compute(parsed.compute or '')}) instead of "
            f"{env.backend} ({describe_compute(env.compute)})"
        )
    elif parsed.compute != env.compute:
        problems.append(f"{describe_compute(parsed.compute or '')} instead of {describe_compute(env.compute)}")
    build_torch = _torch_version(parsed.torch_version or "")
    if f"torch{parsed.torch_version}" != env.torch_tag:
        problems.append(f"Torch {build_torch} instead of {env.torch_version}")
    if parsed.cxx_abi == "stable":
        problems.append("the Torch stable ABI, which this loader does not support yet")
    elif parsed.os == env.os and parsed.cxx_abi != _environment_abi(env):
        problems.append(f"C++ ABI {parsed.cxx_abi or 'none'} instead of {_environment_abi(env) or 'none'}")
    if parsed.arch != env.arch:
        problems.append(f"CPU architecture {parsed.arch} instead of {env.arch}")
    if parsed.os != env.os:
        problems.append(f"OS {parsed.os} instead of {env.os}")
    if not problems:
        return "not accepted by this environment"
    return "built for " + ", ".join(problems)


def decide(
    variants: Iterable[str],
    backend: Optional[str] = None,
    problems: Optional[Mapping[str, str]] = None,
) -> list[Decision]:
    """One decision per variant name: accepted first (most preferred leading), then rejected by name.

    ``problems`` maps variant names to a reason that rejects them regardless
    of the environment (for example a variant without ``__init__.py``).
    """
    env = current_environment(backend)
    candidates = variant_candidates(backend)
    problems = problems or {}
    accepted: list[VariantAccepted] = []
    rejected: list[VariantRejected] = []
    for name in sorted(set(variants)):
        if name in candidates:
            if name in problems:
                rejected.append(VariantRejected(name, problems[name]))
            else:
                accepted.append(VariantAccepted(name, candidates.index(name)))
            continue
        rejected.append(VariantRejected(name, rejection_reason(parse_variant(name), env, name)))
    accepted.sort(key=lambda d: d.rank)
    return [*accepted, *rejected]


def environment_summary(backend: Optional[str] = None) -> str:
    """``Torch 2.13.0, backend cpu (CPU), x86_64-linux`` for error messages."""
    env = current_environment(backend)
    abi = _environment_abi(env)
    abi_part = f", C++ ABI {abi}" if abi else ""
    return (f"Torch {env.torch_version}{abi_part}, backend {env.backend} ({describe_compute(env.compute)}), "
            f"{env.arch}-{env.os}")
