"""The Python limited API check: every Python C-API symbol a library imports
must be part of the stable ABI of the target Python version.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Optional

from .binary import BinaryInfo, Violation
from .policies import python_stable_abi, version_key

#: Extension file names tagged for one CPython version (not abi3).
_VERSION_TAGGED = re.compile(r"\.cpython-(\d)(\d+)[^.]*\.so$")


def is_python_symbol(name: str) -> bool:
    return name.startswith(("Py", "_Py"))


@dataclass
class PythonAbiResult:
    violations: list[Violation] = field(default_factory=list)
    #: Python C-API symbols the file imports.
    used: int = 0
    #: The oldest Python whose stable ABI has every symbol used (None: some are not stable at all).
    minimum: Optional[str] = None
    minimum_symbol: Optional[str] = None


def check_python_abi(info: BinaryInfo, target: str) -> PythonAbiResult:
    symbols, covered = python_stable_abi()
    check = f"Python ABI {target}"
    result = PythonAbiResult()
    minimum = "3.2"
    minimum_symbol: Optional[str] = None
    stable = True
    for symbol in sorted({s.name for s in info.undefined if is_python_symbol(s.name)}):
        result.used += 1
        entry = symbols.get(symbol)
        if entry is None:
            stable = False
            result.violations.append(
                Violation(check, symbol, "not in the stable ABI",
                          f"a stable-ABI (limited API) function of Python {target}; "
                          f"the data covers Python 3.2 to {covered}")
            )
            continue
        if entry.ifdef == "MS_WINDOWS":
            stable = False
            result.violations.append(Violation(check, symbol, "Windows-only stable-ABI symbol",
                                               "a symbol available on this platform"))
            continue
        if version_key(entry.added) > version_key(minimum):
            minimum, minimum_symbol = entry.added, symbol
        if version_key(entry.added) > version_key(target):
            result.violations.append(
                Violation(check, symbol, f"in the stable ABI since Python {entry.added}",
                          f"available in Python {target}")
            )
    if stable and result.used:
        result.minimum, result.minimum_symbol = minimum, minimum_symbol
    match = _VERSION_TAGGED.search(info.path.name)
    if match:
        tag = f"{match[1]}.{match[2]}"
        result.violations.append(
            Violation(check, info.path.name, f"file name tagged for CPython {tag} only",
                      "a stable-ABI module name ending in .abi3.so")
        )
    return result
