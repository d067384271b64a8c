"""The manylinux check: symbol versions and linked libraries of an ELF library.

A versioned symbol such as ``memcpy@GLIBC_2.14`` belongs to the family
``GLIBC`` at version ``2.14``; the policy allows each family up to a maximum
(``GLIBC_2.28`` for manylinux_2_28). Families the policy does not govern (for
example the version nodes of CUDA libraries) are not restricted. Every
``DT_NEEDED`` library must be one the policy allows, Torch, or one of the
CUDA/ROCm/XPU libraries Torch depends on.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Optional

from .binary import BinaryInfo, Violation
from .policies import ManylinuxPolicy, is_kernel_library, kernel_library_groups, is_numeric_version, policies_in_order, version_key

#: The families that come with the compiler toolchain (glibc, libstdc++, libgcc).
TOOLCHAIN_FAMILIES = ("GLIBC", "GLIBCXX", "CXXABI", "GCC")


@dataclass
class ManylinuxResult:
    violations: list[Violation] = field(default_factory=list)
    #: Family -> highest numeric version the file requires.
    highest: dict[str, str] = field(default_factory=dict)
    #: The oldest policy whose symbol versions the file satisfies (libraries aside).
    satisfied_by: Optional[str] = None


def split_version(name: str) -> tuple[str, str]:
    """``GLIBCXX_3.4.21`` -> ``("GLIBCXX", "3.4.21")``; ``CXXABI_TM_1`` -> ``("CXXABI", "TM_1")``."""
    family, _, version = name.partition("_")
    return family, version


def check_manylinux(info: BinaryInfo, policy: ManylinuxPolicy) -> ManylinuxResult:
    result = ManylinuxResult()
    check = policy.name
    versions = sorted({v for vs in info.required_versions.values() for v in vs})
    for name in versions:
        family, version = split_version(name)
        if is_numeric_version(version):
            best = result.highest.get(family)
            if best is None or version_key(version) > version_key(best):
                result.highest[family] = version

    if info.arch not in policy.archs:
        known = ", ".join(policy.archs)
        result.violations.append(Violation(check, "architecture", info.arch, f"one of {known}"))
    else:
        users: dict[str, list[str]] = {}
        for symbol in info.undefined:
            if symbol.version:
                users.setdefault(symbol.version, []).append(symbol.name)
        for name in versions:
            family, version = split_version(name)
            if policy.version_allowed(info.arch, family, version) is not False:
                continue
            top = policy.archs[info.arch].maxima.get(family)
            expected = f"at most {family}_{top}" if top else f"no {family} symbol versions"
            if not is_numeric_version(version):
                expected += f" ({name} is not a public version)"
            for symbol in sorted(set(users.get(name, ()))) or ["(required version)"]:
                result.violations.append(Violation(check, symbol, name, expected))
        result.satisfied_by = _oldest_policy(info)

    for library in info.needed:
        if library in policy.libraries or is_kernel_library(library, kernel_library_groups("linux")):
            continue
        result.violations.append(
            Violation(check, library, "linked library",
                      f"a {policy.name} system library, Torch or a CUDA/ROCm/XPU library Torch depends on")
        )
    return result


def _oldest_policy(info: BinaryInfo) -> Optional[str]:
    versions = {v for vs in info.required_versions.values() for v in vs}
    for policy in policies_in_order():
        if info.arch not in policy.archs:
            continue
        if all(policy.version_allowed(info.arch, *split_version(v)) is not False for v in versions):
            return policy.name
    return None
