"""Check a kernel's declared Python dependencies before it is imported.

Kernels may only depend on the curated packages in ``lib/python-depends.json``:
a ``general`` set usable by every backend and a per-backend set. Only the
dependencies relevant to the backend being loaded are checked.
"""

from __future__ import annotations

import importlib.util
import sys
from dataclasses import dataclass

from ._data import load_lib_json
from .metadata import Metadata


class PythonDependencyError(Exception):
    """A kernel's Python dependencies cannot be satisfied."""


class DisallowedDependencyError(PythonDependencyError, ValueError):
    """A kernel declares a dependency that is not on the allowed list."""


class MissingDependencyError(PythonDependencyError, ImportError):
    """An allowed dependency of a kernel is not installed."""


@dataclass(frozen=True)
class AllowedDependency:
    """One entry of ``lib/python-depends.json``."""

    name: str
    python_packages: tuple[str, ...]
    imports: tuple[str, ...]


def allowed_dependencies(backend: str | None = None) -> dict[str, AllowedDependency]:
    """Dependencies allowed in ``python-depends`` (``backend=None``) or for ``backend``."""
    data = load_lib_json("python-depends")
    entries = data["general"] if backend is None else data["backends"].get(backend, {})
    return {
        name: AllowedDependency(
            name=name,
            python_packages=tuple(entry.get("python-packages", [name])),
            imports=tuple(entry["imports"]),
        )
        for name, entry in entries.items()
    }


def _module_installed(module: str) -> bool:
    if module in sys.modules:
        return True
    try:
        return importlib.util.find_spec(module) is not None
    except (ImportError, ValueError):
        return False


def _check(metadata: Metadata, depends: tuple[str, ...], backend: str | None) -> None:
    allowed = allowed_dependencies(backend)
    scope = "for all backends" if backend is None else f"for backend {backend!r}"
    for name in depends:
        dependency = allowed.get(name)
        if dependency is None:
            names = ", ".join(sorted(allowed)) or "none"
            raise DisallowedDependencyError(
                f"kernel {metadata.name!r} depends on {name!r}, which is not an allowed "
                f"Python dependency {scope} (allowed: {names})"
            )
        missing = [module for module in dependency.imports if not _module_installed(module)]
        if missing:
            raise MissingDependencyError(
                f"kernel {metadata.name!r} needs the Python package {name!r} "
                f"(module {missing[0]!r} is not installed); "
                f"install it with: pip install {' '.join(dependency.python_packages)}",
                name=missing[0],
            )


def check_python_depends(metadata: Metadata, backend: str) -> None:
    """Raise if ``metadata``'s dependencies for ``backend`` are disallowed or missing."""
    _check(metadata, metadata.python_depends, None)
    _check(metadata, metadata.python_depends_backends.get(backend, ()), backend)
