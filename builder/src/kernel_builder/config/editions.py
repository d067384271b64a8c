"""``build.toml`` editions: which one a file is written in and what each allows.

* **5** (current): ``[general] edition = 5``; exactly one framework section.
* **4** (legacy, no ``edition``): ``license``, ``version`` and one framework
  section; read as edition 5 with a warning.
* **3** (legacy, no ``edition``): what this builder used to call current;
  no framework section means Python-only. Still built, with a deprecation
  warning (upstream refuses it until migrated).
* v1/v2 (older still) are refused; ``kernel-builder update-build`` converts
  every legacy file to edition 5.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Optional

from ..errors import ConfigError
from .model import FRAMEWORKS
from .table import Table, is_integer, short, type_name

CURRENT_EDITION = 5
UPDATE_HINT = "run `kernel-builder update-build` to migrate it to edition 5"

_COMMON_GENERAL = frozenset(
    {"name", "version", "license", "upstream", "backends", "hub", "python-depends", "cuda", "neuron", "xpu"}
)
_GENERAL_KEYS = {
    5: _COMMON_GENERAL | {"edition", "source", "kernel-depends", "tpu"},
    4: _COMMON_GENERAL | {"source"},
    3: _COMMON_GENERAL,
}
_BACKEND_KEYS_V5 = {
    "cuda": frozenset({"minver", "maxver", "kernel-depends", "python-depends"}),
    "neuron": frozenset({"kernel-depends", "python-depends"}),
    "tpu": frozenset({"python-depends"}),
    "xpu": frozenset({"kernel-depends", "python-depends"}),
}


@dataclass(frozen=True)
class Edition:
    """The rules of one edition."""

    number: int

    @property
    def general_keys(self) -> frozenset[str]:
        return _GENERAL_KEYS[self.number]

    def backend_keys(self, backend: str) -> frozenset[str]:
        keys = _BACKEND_KEYS_V5[backend]
        return keys if self.number == 5 else keys - {"kernel-depends"}

    @property
    def required_general(self) -> tuple[str, ...]:
        return ("version", "license") if self.number >= 4 else ()

    @property
    def strict_name(self) -> bool:
        """Edition 4+ names: ``^[a-z][-a-z0-9]*[a-z0-9]$``."""
        return self.number >= 4

    @property
    def frameworks(self) -> tuple[str, ...]:
        return FRAMEWORKS if self.number >= 4 else ("torch", "tvm-ffi")

    @property
    def warning(self) -> Optional[str]:
        if self.number == 4:
            return f"uses the legacy v4 format; read as edition 5 in memory ({UPDATE_HINT})"
        if self.number == 3:
            return f"uses the deprecated v3 format (no general.edition); {UPDATE_HINT}"
        return None


def detect_edition(root: Table) -> Edition:
    """The edition of the parsed file ``root``; refuses unknown and pre-v3 formats."""
    if "general" not in root.data:
        raise ConfigError(root.file, "general", "missing required table [general]")
    general = root.data["general"]
    if not isinstance(general, dict):
        raise root.error("general", f"expected a table, got {type_name(general)}")
    if "edition" in general:
        return Edition(_edition_number(root, general["edition"]))
    _reject_pre_v3(root)
    frameworks = [name for name in FRAMEWORKS if name in root.data]
    if "license" in general and "version" in general and len(frameworks) == 1:
        return Edition(4)
    return Edition(3)


def _edition_number(root: Table, value: Any) -> int:
    if not is_integer(value):
        raise root.error("general.edition", f"expected an integer such as 5, got {type_name(value)} {short(value)}")
    if value != CURRENT_EDITION:
        raise root.error("general.edition", f"unsupported build edition {value}; upgrade kernel-builder")
    return value


def _reject_pre_v3(root: Table) -> None:
    from .formats import old_format_evidence

    found = old_format_evidence(root.data)
    if found is not None:
        raise ConfigError(
            root.file,
            "",
            f"this build.toml uses the older v{found} format (current: edition {CURRENT_EDITION}); "
            "run `kernel-builder update-build` to convert it",
        )
    general = root.data["general"]
    for key in ("universal", "cuda-minver", "cuda-maxver"):
        if key in general:
            raise root.error(
                f"general.{key}",
                "this key belongs to an older build.toml format; run `kernel-builder update-build` to convert it",
            )
