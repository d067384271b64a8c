"""Which GPU architectures a kernel is really built for.

A kernel's ``cuda-capabilities`` / ``rocm-archs`` may name anything; the
builder intersects them with what each toolkit builds (``lib/cuda.json``
``default``, ``lib/rocm.json`` ``default-archs``) instead of rejecting them,
so one build.toml keeps working as toolkits gain and drop architectures.
"""

from __future__ import annotations

import re
from typing import Iterable, Optional, Sequence

from kernels._data import load_lib_json

_CAPABILITY = re.compile(r"^(\d{1,4})\.(\d{1,4})([af]?)$")  # bounded: int() refuses 4,300+ digits
PTX_SUFFIX = "+PTX"


def cuda_toolkit_targets() -> dict[str, tuple[str, ...]]:
    """CUDA toolkit version -> the capabilities it builds kernels for."""
    return {v: tuple(t["default"]) for v, t in load_lib_json("cuda")["toolkits"].items()}


def rocm_targets() -> tuple[str, ...]:
    return tuple(load_lib_json("rocm")["default-archs"])


def _numeric(cap: str) -> Optional[tuple[int, int]]:
    match = _CAPABILITY.match(cap)
    return (int(match[1]), int(match[2])) if match else None


def capability_sort_key(cap: str) -> tuple[int, int, str]:
    base = cap[: -len(PTX_SUFFIX)] if cap.endswith(PTX_SUFFIX) else cap
    parsed = _numeric(base)
    return (parsed[0], parsed[1], base) if parsed else (0, 0, base)


def loose_cuda_intersection(requested: Iterable[str], targets: Sequence[str]) -> tuple[str, ...]:
    """For each target capability, the highest requested one at or below it with the same major.

    Requested ``x.ya``/``x.yf`` (arch- and family-specific) capabilities are
    kept when ``x.y`` is a target. ``+PTX`` entries also match across majors
    (PTX runs on newer GPUs) and keep their suffix. Unparsable entries match nothing.
    """
    ptx = {c[: -len(PTX_SUFFIX)] for c in requested if c.endswith(PTX_SUFFIX)}
    plain = {c[: -len(PTX_SUFFIX)] if c.endswith(PTX_SUFFIX) else c for c in requested}
    remaining = list(targets)
    result: list[str] = []
    for cap in sorted(c for c in plain if c[-1:] in ("a", "f")):
        if cap[:-1] in remaining:
            remaining.remove(cap[:-1])
            result.append(cap)
    numeric = sorted((_numeric(c), c) for c in plain if c[-1:] not in ("a", "f") and _numeric(c))
    for target in remaining:
        wanted = _numeric(target)
        if wanted is None:
            continue
        best = None
        for version, cap in numeric:
            if version > wanted:
                break
            if cap in ptx or version[0] == wanted[0]:
                best = cap
        if best is not None and best not in result:
            result.append(best)
    return tuple(sorted((c + PTX_SUFFIX if c in ptx else c for c in result), key=capability_sort_key))


def effective_cuda_capabilities(requested: Optional[Sequence[str]], toolkit: str) -> tuple[str, ...]:
    """What a kernel builds for with CUDA ``toolkit`` (its defaults when ``requested`` is None)."""
    targets = cuda_toolkit_targets()[toolkit]
    return tuple(targets) if requested is None else loose_cuda_intersection(requested, targets)


def effective_rocm_archs(requested: Optional[Sequence[str]]) -> tuple[str, ...]:
    """The ROCm architectures a kernel builds for: its list (in its order) intersected with the supported set."""
    targets = rocm_targets()
    if not requested:
        return targets
    return tuple(dict.fromkeys(arch for arch in requested if arch in targets))
