"""The Torch stable ABI check: a kernel built against the Torch stable ABI may
only import the C shim functions that exist in the Torch release it targets,
and no C++ symbols of Torch's unstable API (``c10::``, ``at::``, ``torch::``).
"""

from __future__ import annotations

import re
from typing import Optional

from .binary import BinaryInfo, Violation
from .policies import torch_stable_abi, version_key

_SHIM_PREFIXES = ("aoti_torch_", "torch_")
#: Itanium-mangled names: optional special-name prefix, optional nested-name
#: marker with qualifiers, then the first <length><identifier> component.
_MANGLED = re.compile(r"^_Z(?:T[VTIS]|GV|TH|TW|Z)?(N)?[rVKRO]*(\d+)")
_UNSTABLE_NAMESPACES = {"c10", "at", "torch", "caffe2"}
_STABLE_SUBNAMESPACES = {("torch", "stable"), ("torch", "headeronly")}


def mangled_namespace(name: str) -> Optional[tuple[str, str]]:
    """``_ZN3c1010TensorImplD1Ev`` -> ``("c10", "TensorImpl")``; None for other names."""
    match = _MANGLED.match(name)
    if not match:
        return None
    pos = match.end(2)
    length = int(match[2])
    first = name[pos: pos + length]
    pos += length
    second = ""
    tail = re.match(r"(\d+)", name[pos:])
    if match[1] and tail:
        n = int(tail[1])
        start = pos + len(tail[1])
        second = name[start: start + n]
    return first, second


def check_torch_stable_abi(info: BinaryInfo, target: str) -> list[Violation]:
    functions, _oldest, newest = torch_stable_abi()
    check = f"Torch stable ABI {target}"
    violations: list[Violation] = []
    for symbol in sorted({s.name for s in info.undefined}):
        added = functions.get(symbol)
        if added is not None:
            if version_key(added) > version_key(target):
                violations.append(Violation(check, symbol, f"shim function added in Torch {added}",
                                            f"available in Torch {target}"))
            continue
        if symbol.startswith(_SHIM_PREFIXES):
            violations.append(Violation(check, symbol, "unknown shim function",
                                        f"a stable-ABI shim function (the data covers Torch up to {newest})"))
            continue
        namespace = mangled_namespace(symbol)
        if namespace and namespace[0] in _UNSTABLE_NAMESPACES and namespace not in _STABLE_SUBNAMESPACES:
            violations.append(Violation(check, symbol, f"C++ symbol of {namespace[0]}::",
                                        "only stable-ABI shim functions and torch::stable:: symbols"))
    return violations
