"""Fill the kernel card template (``CARD.md``) for the Hub's ``README.md``.

Placeholders are ``{{repo_id}}``, ``{{name}}``, ``{{license}}``,
``{{version}}``, ``{{functions}}``, ``{{layers}}`` and ``{{benchmarks}}``.
Function and layer names are read from the kernel's Python sources (without
importing them, so the card can be filled for any backend).
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

from ..config import BuildConfig

_PLACEHOLDER = re.compile(r"\{\{\s*([a-z_]+)\s*\}\}")


def _module_tree(path: Path) -> ast.Module | None:
    try:
        return ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    except (OSError, SyntaxError, UnicodeDecodeError):
        return None


def exported_functions(package_dir: Path) -> list[str]:
    """Names in ``__all__`` of the package's ``__init__.py`` that are not modules or classes."""
    tree = _module_tree(package_dir / "__init__.py")
    if tree is None:
        return []
    exported: list[str] = []
    classes = {n.name for n in tree.body if isinstance(n, ast.ClassDef)}
    for node in tree.body:
        if isinstance(node, ast.Assign) and any(isinstance(t, ast.Name) and t.id == "__all__" for t in node.targets):
            try:
                exported = [str(v) for v in ast.literal_eval(node.value)]
            except ValueError:
                exported = []
    if not exported:
        exported = [n.name for n in tree.body if isinstance(n, ast.FunctionDef) and not n.name.startswith("_")]
    submodules = {p.stem for p in package_dir.glob("*.py")} | {p.name for p in package_dir.iterdir() if p.is_dir()}
    return [name for name in exported if name not in classes and name not in submodules]


def exported_layers(package_dir: Path) -> list[str]:
    """Classes defined in the package's ``layers`` module (``layers.py`` or ``layers/__init__.py``)."""
    for candidate in (package_dir / "layers.py", package_dir / "layers" / "__init__.py"):
        tree = _module_tree(candidate)
        if tree is not None:
            return [n.name for n in tree.body if isinstance(n, ast.ClassDef) and not n.name.startswith("_")]
    return []


def _bullets(names: list[str], missing: str) -> str:
    return "\n".join(f"- `{n}`" for n in names) if names else missing


def fill_card(config: BuildConfig, template: str) -> str:
    general = config.general
    package = config.python_package_dir
    repo_id = general.hub.repo_id or f"<your-org>/{general.name}"
    has_benchmark = any((config.kernel_dir / "benchmarks").glob("benchmark*.py"))
    values = {
        "repo_id": repo_id,
        "name": general.name,
        "license": general.license.lower(),
        "version": str(general.version),
        "functions": _bullets(exported_functions(package), "No functions are exported."),
        "layers": _bullets(exported_layers(package), "No layers are exported."),
        "benchmarks": (
            f"Benchmarks are included: run `kernels benchmark {repo_id}`."
            if has_benchmark
            else "No benchmark available yet."
        ),
    }
    return _PLACEHOLDER.sub(lambda m: values.get(m.group(1), m.group(0)), template)
