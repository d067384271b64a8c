"""Older ``build.toml`` formats: recognise them and rewrite them as edition 5.

Besides the current edition 5 (``[general] edition = 5``), these exist:

* **v1**: ``[general]`` holds only ``name``; kernels have a ``language``
  (``cuda``, ``cuda-hipify`` or ``metal``) instead of a ``backend``;
  ``[torch] universal = true`` marks a Python-only kernel.
* **v2**: kernels have a ``backend``; ``[general]`` may hold ``universal``,
  ``cuda-minver`` / ``cuda-maxver``, ``hub`` and ``python-depends``, but no
  ``backends`` list (it follows from the kernels).
* **v3**: ``[general] backends`` lists the backends; CUDA bounds live in
  ``[general.cuda]``; a Python-only kernel simply has no ``[torch]``.
* **v4**: like edition 5 without ``edition``: ``license``, ``version`` and
  exactly one framework section (``[torch]``, ``[torch-noarch]``, ``[tvm-ffi]``).

The rewrite works on a :mod:`tomlkit` document so comments and layout of the
untouched parts survive.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import tomlkit
from kernels.backends import registry
from tomlkit.items import Table

from .general import KERNEL_NAME

CURRENT_FORMAT = 5
DEFAULT_LICENSE = "Apache-2.0"
_FRAMEWORKS = ("torch", "torch-noarch", "tvm-ffi")
#: The backends a legacy ``universal`` kernel ran on: the ones that format knew.
LEGACY_UNIVERSAL_BACKENDS = ("cpu", "cuda", "metal", "neuron", "rocm", "xpu")


def _all_backends() -> tuple[str, ...]:
    """The backends a migrated build.toml may list (the registry's build.toml backends), sorted."""
    return tuple(sorted(registry().build_toml_names()))


def detect_format(data: dict[str, Any]) -> int:
    """Which ``build.toml`` format ``data`` (parsed TOML) is written in."""
    general = data.get("general") if isinstance(data.get("general"), dict) else {}
    torch = data.get("torch") if isinstance(data.get("torch"), dict) else {}
    kernels = data.get("kernel") if isinstance(data.get("kernel"), dict) else {}
    if "edition" in general:
        return general["edition"] if isinstance(general["edition"], int) else CURRENT_FORMAT
    if "backends" in general:
        frameworks = [f for f in _FRAMEWORKS if f in data]
        return 4 if "license" in general and "version" in general and len(frameworks) == 1 else 3
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
    return [b for b in _all_backends() if b in found]


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


@dataclass(frozen=True)
class Migration:
    """The result of migrating one build.toml: new text, the format it was in, what the author should check."""

    text: str
    found: int
    notes: tuple[str, ...] = ()


def upgrade(text: str) -> tuple[str, int]:
    """Rewrite ``build.toml`` text as edition 5; returns ``(text, format it was in)``."""
    migration = migrate(text)
    return migration.text, migration.found


def migrate(text: str) -> Migration:
    """Rewrite ``build.toml`` text as edition 5.

    Comments and the order of untouched keys survive (a :mod:`tomlkit` round trip).
    """
    doc = tomlkit.parse(text)
    found = detect_format(doc.unwrap())
    if found == CURRENT_FORMAT:
        return Migration(text, found)
    if found > CURRENT_FORMAT:
        raise ValueError(f"unsupported build edition {found}; upgrade kernel-builder")
    general = doc.get("general")
    if general is None:
        raise ValueError("[general] is missing")
    if found < 3:
        _upgrade_to_v3(doc, general, found)
    notes: list[str] = []
    if found < 4:
        notes += _upgrade_v3_to_v4(doc, general)
    _insert_after(general, "edition", CURRENT_FORMAT, after="version")
    return Migration(tomlkit.dumps(doc), found, tuple(notes))


def _upgrade_to_v3(doc: Any, general: Table, found: int) -> None:
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
    backends = list(LEGACY_UNIVERSAL_BACKENDS) if universal else _backends_from_kernels(kernels)
    if not backends:
        backends = ["cpu"]
    _insert_after_name(general, "backends", backends)
    torch = doc.get("torch")
    if universal and torch is not None and not torch.get("src"):
        # A Python-only kernel has no [torch] section in v3.
        del doc["torch"]


def _upgrade_v3_to_v4(doc: Any, general: Table) -> list[str]:
    """v3 -> v4: a kernel name without '_', explicit version and license, an explicit ``[torch-noarch]``."""
    notes = []
    name = str(general.get("name", ""))
    if "_" in name and KERNEL_NAME.fullmatch(name.replace("_", "-")):
        general["name"] = name.replace("_", "-")
        notes.append(f"general.name {name!r} became {general['name']!r} (edition 5 names use '-'; "
                     "the Python module keeps its name)")
    _insert_after_name(general, "version", 1)
    if "license" not in general:
        notes.append(f"general.license was not set; wrote {DEFAULT_LICENSE!r} (what builds used until now), check it")
    _insert_after(general, "license", DEFAULT_LICENSE, after="version")
    if not any(name in doc for name in _FRAMEWORKS):
        doc["torch-noarch"] = tomlkit.table()
    return notes


def _insert_after(general: Table, key: str, value: Any, after: str) -> None:
    """Add ``key`` right after ``after`` (or after ``name``) unless it is already there."""
    if key in general:
        return
    anchor = after if after in general else "name"
    items = list(general.items())
    for existing, _ in items:
        del general[existing]
    for existing, item in items:
        general[existing] = item
        if existing == anchor:
            general[key] = value
    if key not in general:
        general[key] = value


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
