"""Older ``build.toml`` formats: recognise them and rewrite them in the current one.

Three formats exist:

* **v1**: ``[general]`` holds only ``name``; kernels have a ``language``
  (``cuda``, ``cuda-hipify`` or ``metal``) instead of a ``backend``;
  ``[torch] universal = true`` marks a Python-only kernel.
* **v2**: kernels have a ``backend``; ``[general]`` may hold ``universal``,
  ``cuda-minver`` / ``cuda-maxver``, ``hub`` and ``python-depends``, but no
  ``backends`` list (it follows from the kernels).
* **v3** (current): ``[general] backends`` lists the backends; CUDA bounds live
  in ``[general.cuda]``; a Python-only kernel simply has no ``[torch]``.

The rewrite works on a :mod:`tomlkit` document so comments and layout of the
untouched parts survive.
"""

from __future__ import annotations

from typing import Any

import tomlkit
from tomlkit.items import Table

CURRENT_FORMAT = 3
ALL_BACKENDS = ("cpu", "cuda", "metal", "neuron", "rocm", "xpu")


def detect_format(data: dict[str, Any]) -> int:
    """Which ``build.toml`` format ``data`` (parsed TOML) is written in."""
    general = data.get("general") if isinstance(data.get("general"), dict) else {}
    torch = data.get("torch") if isinstance(data.get("torch"), dict) else {}
    kernels = data.get("kernel") if isinstance(data.get("kernel"), dict) else {}
    if "backends" in general:
        return 3
    kernel_tables = [k for k in kernels.values() if isinstance(k, dict)]
    if "universal" in torch or any("language" in k or "backend" not in k for k in kernel_tables):
        return 1
    if kernel_tables or any(k in general for k in ("universal", "cuda-minver", "cuda-maxver", "hub", "python-depends")):
        return 2
    return 1 if set(general) <= {"name"} else 3


def old_format_evidence(data: dict[str, Any]) -> int | None:
    """The older format ``data`` is unmistakably written in, if any.

    Unlike :func:`detect_format` this only answers when keys that exist in an
    older format alone are present, so a current file with a mistake in it is
    reported as that mistake.
    """
    general = data.get("general") if isinstance(data.get("general"), dict) else {}
    torch = data.get("torch") if isinstance(data.get("torch"), dict) else {}
    kernels = data.get("kernel") if isinstance(data.get("kernel"), dict) else {}
    if "backends" in general:
        return None
    if "universal" in torch or any(isinstance(k, dict) and "language" in k for k in kernels.values()):
        return 1
    if any(k in general for k in ("universal", "cuda-minver", "cuda-maxver")):
        return 2
    return None


def _backends_from_kernels(kernels: dict[str, Any]) -> list[str]:
    found = {k.get("backend") for k in kernels.values() if isinstance(k, dict)}
    return [b for b in ALL_BACKENDS if b in found]


def _convert_v1_kernels(doc: Any) -> None:
    kernels = doc.get("kernel")
    if kernels is None:
        return
    for name in list(kernels.keys()):
        kernel = kernels[name]
        language = str(kernel.get("language", "cuda"))
        if "language" in kernel:
            del kernel["language"]
        if language == "metal":
            kernel["backend"] = "metal"
            if "cuda-capabilities" in kernel:
                del kernel["cuda-capabilities"]
            if "rocm-archs" in kernel:
                del kernel["rocm-archs"]
            continue
        rocm_archs = kernel.get("rocm-archs")
        if "rocm-archs" in kernel:
            del kernel["rocm-archs"]
        kernel["backend"] = "cuda"
        if language == "cuda-hipify":
            rocm_name = f"{name}_rocm"
            if rocm_name in kernels:
                raise ValueError(f"kernel.{name}: cannot add '{rocm_name}' for its ROCm build, the name is taken")
            rocm = tomlkit.table()
            rocm["backend"] = "rocm"
            for key in ("depends", "include", "src"):
                if key in kernel:
                    rocm[key] = kernel[key]
            if rocm_archs is not None:
                rocm["rocm-archs"] = rocm_archs
            kernels[rocm_name] = rocm


def upgrade(text: str) -> tuple[str, int]:
    """Rewrite ``build.toml`` text in the current format; returns ``(text, old format)``."""
    doc = tomlkit.parse(text)
    found = detect_format(doc.unwrap())
    if found == CURRENT_FORMAT:
        return text, found
    general = doc.get("general")
    if general is None:
        raise ValueError("[general] is missing")
    universal = False
    if found == 1:
        torch = doc.get("torch")
        if torch is not None and "universal" in torch:
            universal = bool(torch["universal"])
            del torch["universal"]
        _convert_v1_kernels(doc)
    else:
        if "universal" in general:
            universal = bool(general["universal"])
            del general["universal"]
        cuda = {}
        for old, new in (("cuda-minver", "minver"), ("cuda-maxver", "maxver")):
            if old in general:
                cuda[new] = general[old]
                del general[old]
        if cuda:
            table = tomlkit.table()
            table.update(cuda)
            table.add(tomlkit.nl())
            general["cuda"] = table

    kernels = doc.get("kernel") or {}
    backends = list(ALL_BACKENDS) if universal else _backends_from_kernels(kernels)
    if not backends:
        backends = ["cpu"]
    _insert_after_name(general, "backends", backends)
    if "version" not in general:
        _insert_after_name(general, "version", 1)
    torch = doc.get("torch")
    if universal and torch is not None and not torch.get("src"):
        # A Python-only kernel has no [torch] section in the current format.
        del doc["torch"]
    return tomlkit.dumps(doc), found


def _insert_after_name(general: Table, key: str, value: Any) -> None:
    """Add ``key`` right after ``name`` so the [general] table reads naturally."""
    items = list(general.items())
    if key in general:
        return
    for existing, _ in items:
        del general[existing]
    for existing, item in items:
        general[existing] = item
        if existing == "name":
            general[key] = value
    if key not in general:
        general[key] = value
