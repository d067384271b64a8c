"""The ABI data in ``lib/``: manylinux policies, Python and Torch stable ABIs.

The facts live in JSON data files (see their ``_source``); this module only
loads them and answers questions about versions.
"""

from __future__ import annotations

import fnmatch
import re
from dataclasses import dataclass
from functools import lru_cache
from typing import Optional, Union

from kernels._data import load_lib_json

from ...errors import KernelBuilderError

_NUMERIC = re.compile(r"^\d+(\.\d+)*$")


def version_key(text: str) -> tuple[int, ...]:
    """``"3.4.21"`` -> ``(3, 4, 21)``; callers check :func:`is_numeric_version` first."""
    return tuple(int(part) for part in text.split("."))


def is_numeric_version(text: str) -> bool:
    return bool(_NUMERIC.match(text))


def parse_version_option(option: str, text: str, example: str, parts: int = 2) -> tuple[int, ...]:
    """Parse a ``MAJOR.MINOR[.PATCH]`` option value, or raise a one-line error."""
    text = text.strip()
    if not _NUMERIC.match(text) or not 1 <= len(text.split(".")) <= 3:
        raise KernelBuilderError(f"{option}: expected a version such as {example}, got {text!r}")
    key = version_key(text)
    return key + (0,) * (parts - len(key)) if len(key) < parts else key


@dataclass(frozen=True)
class ArchPolicy:
    #: Symbol-version family -> highest allowed version (``None``: none allowed).
    maxima: dict[str, Optional[str]]
    #: Family -> non-numeric versions that are allowed too (``CXXABI_TM_1``).
    also: dict[str, tuple[str, ...]]


@dataclass(frozen=True)
class ManylinuxPolicy:
    name: str
    aliases: tuple[str, ...]
    glibc: str
    archs: dict[str, ArchPolicy]
    libraries: frozenset[str]

    def version_allowed(self, arch: str, family: str, version: str) -> Optional[bool]:
        """Whether ``FAMILY_version`` is allowed; ``None`` for a family the policy does not govern."""
        policy = self.archs[arch]
        if family not in policy.maxima:
            return None
        if version in policy.also.get(family, ()):
            return True
        top = policy.maxima[family]
        if top is None or not is_numeric_version(version):
            return False
        return version_key(version) <= version_key(top)


@lru_cache(maxsize=None)
def manylinux_policies() -> dict[str, ManylinuxPolicy]:
    data = load_lib_json("manylinux-policies")["policies"]
    policies = {}
    for name, entry in data.items():
        archs = {
            arch: ArchPolicy(
                maxima=dict(spec["max"]),
                also={family: tuple(v) for family, v in spec.get("also", {}).items()},
            )
            for arch, spec in entry["symbol_versions"].items()
        }
        policies[name] = ManylinuxPolicy(
            name=name,
            aliases=tuple(entry.get("aliases", ())),
            glibc=entry["glibc"],
            archs=archs,
            libraries=frozenset(entry["libraries"]),
        )
    return policies


def manylinux_policy(name: str) -> ManylinuxPolicy:
    """The policy called ``name`` (``manylinux_2_28``, ``2_28``, ``manylinux2014``, ...)."""
    wanted = name.strip().lower().replace("-", "_").replace(".", "_")
    if re.fullmatch(r"\d+_\d+", wanted):
        wanted = f"manylinux_{wanted}"
    policies = manylinux_policies()
    for policy in policies.values():
        if wanted == policy.name or wanted in policy.aliases:
            return policy
    known = ", ".join(policies)
    raise KernelBuilderError(f"--manylinux: unknown policy {name!r} (known: {known})")


def policies_in_order() -> list[ManylinuxPolicy]:
    """All policies, oldest glibc first."""
    return sorted(manylinux_policies().values(), key=lambda p: version_key(p.glibc))


@lru_cache(maxsize=None)
def kernel_library_patterns() -> dict[str, tuple[str, ...]]:
    data = load_lib_json("kernel-libraries")
    return {k: tuple(v) for k, v in data.items() if not k.startswith("_")}


def kernel_library_groups(platform: str) -> tuple[str, ...]:
    """The groups of lib/kernel-libraries.json a kernel may link on ``platform`` ("linux", "macos")."""
    return tuple(load_lib_json("kernel-libraries")["_groups"][platform])


def is_kernel_library(name: str, groups: tuple[str, ...]) -> bool:
    """Whether library file name ``name`` matches one of the ``groups`` in lib/kernel-libraries.json."""
    patterns = kernel_library_patterns()
    return any(fnmatch.fnmatchcase(name, p) for g in groups for p in patterns.get(g, ()))


@dataclass(frozen=True)
class StableAbiEntry:
    added: str
    ifdef: Optional[str] = None


@lru_cache(maxsize=None)
def python_stable_abi() -> tuple[dict[str, StableAbiEntry], str]:
    """(symbol -> entry, newest Python version the data covers)."""
    data = load_lib_json("python-stable-abi")
    symbols: dict[str, StableAbiEntry] = {}
    raw: dict[str, Union[str, dict[str, str]]] = data["symbols"]
    for name, value in raw.items():
        if isinstance(value, str):
            symbols[name] = StableAbiEntry(added=value)
        else:
            symbols[name] = StableAbiEntry(added=value["added"], ifdef=value.get("ifdef"))
    return symbols, data["covers"][1]


@lru_cache(maxsize=None)
def torch_stable_abi() -> tuple[dict[str, str], str, str]:
    """(shim function -> Torch release that introduced it, oldest, newest release covered)."""
    data = load_lib_json("torch-stable-abi")
    return dict(data["functions"]), data["covers"][0], data["covers"][1]
