"""Torch op registrations in a kernel's Python code must use the kernel's own namespace.

Two builds of one kernel (or two kernels) loaded in one process must not
register ``torch.library`` ops under the same name. The generated ``_ops.py``
provides ``add_op_namespace_prefix``, which yields the build's unique
namespace; a ``custom_op``/``register_fake``/... decorator whose first
argument is anything else (a literal ``"ns::op"``, a helper that wraps the
prefix) is refused before building. The scan is syntactic (``ast``): it
catches direct use of the decorators, not every indirection.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass
from pathlib import Path
from typing import Optional

from ..errors import KernelBuilderError

REGISTRATION_DECORATORS = frozenset(
    {"custom_op", "triton_op", "register_kernel", "register_fake", "register_vmap", "register_torch_dispatch"}
)
PREFIX_FUNCTION = "add_op_namespace_prefix"
HEADER = "Found Torch library registrations that do not use add_op_namespace_prefix:"
_KINDS = {ast.FunctionDef: "function", ast.AsyncFunctionDef: "async function", ast.ClassDef: "class"}


@dataclass(frozen=True)
class Violation:
    file: str
    line: int
    kind: str
    name: str

    def __str__(self) -> str:
        return f"{self.file}:{self.line} {self.kind} {self.name}"


def _called_name(call: ast.Call) -> Optional[str]:
    if isinstance(call.func, ast.Name):
        return call.func.id
    if isinstance(call.func, ast.Attribute):
        return call.func.attr
    return None


def _is_unprefixed_registration(decorator: ast.expr) -> bool:
    if not isinstance(decorator, ast.Call) or not decorator.args:
        return False
    if _called_name(decorator) not in REGISTRATION_DECORATORS:
        return False
    first = decorator.args[0]
    return not (isinstance(first, ast.Call) and _called_name(first) == PREFIX_FUNCTION)


def find_violations(source: str, file: str) -> list[Violation]:
    """Decorated definitions in ``source`` that register ops outside the kernel's namespace."""
    try:
        tree = ast.parse(source, filename=file)
    except SyntaxError as e:
        raise KernelBuilderError(f"{file}:{e.lineno}: invalid Python ({e.msg})") from None
    found = []
    for node in ast.walk(tree):
        kind = _KINDS.get(type(node))
        if kind is None:
            continue
        for decorator in node.decorator_list:  # type: ignore[attr-defined]
            if _is_unprefixed_registration(decorator):
                found.append(Violation(file, node.lineno, kind, node.name))  # type: ignore[attr-defined]
    return sorted(found, key=lambda v: (v.file, v.line))


def check_registrations(package_dir: Path, relative_to: Path) -> None:
    """Raise listing every unprefixed registration in the Python files under ``package_dir``."""
    violations: list[Violation] = []
    for path in sorted(package_dir.rglob("*.py")):
        if not path.is_file():
            continue
        rel = path.relative_to(relative_to).as_posix()
        try:
            source = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as e:
            raise KernelBuilderError(f"{rel}: cannot read ({e})") from None
        violations.extend(find_violations(source, rel))
    if violations:
        raise KernelBuilderError("\n".join([HEADER, *(str(v) for v in violations)]))
