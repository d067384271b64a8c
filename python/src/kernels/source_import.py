"""Import kernel packages from their source files only: bytecode is never read or written.

A ``__pycache__/*.pyc`` next to a kernel's sources would otherwise be run by
Python's default import machinery instead of the ``.py`` file (an
"unchecked" hash-based ``.pyc`` is used without even looking at the source),
and a ``.pyc`` is not what the lock hash or a reviewer vouches for. Kernel
packages, and every module imported from inside them, are therefore found
by :class:`KernelSourceFinder` and compiled from source by
:class:`SourceOnlyLoader`; nothing is written next to them (the cache stays
exactly the hashed files).
"""

from __future__ import annotations

import importlib.machinery
import importlib.util
import sys
import threading
from pathlib import Path
from types import ModuleType
from typing import Any, Optional, Sequence


class SourceOnlyLoader(importlib.machinery.SourceFileLoader):
    """Compiles the ``.py`` file on every import: never reads or writes ``__pycache__``."""

    def get_code(self, fullname: str) -> Any:
        path = self.get_filename(fullname)
        return self.source_to_code(self.get_data(path), path)

    def set_data(self, path: str, data: bytes, *, _mode: int = 0o666) -> None:  # noqa: ARG002
        """Bytecode is never written into the kernel cache."""


class KernelSourceFinder:
    """Meta path finder for the modules inside registered kernel packages.

    ``<pkg>.<name>`` is ``<name>.py``, a ``<name>/`` package (with or
    without ``__init__.py``) or a ``<name>`` extension module in the parent
    package's directory; a module that exists only as bytecode is not found.
    """

    def __init__(self) -> None:
        self._packages: set[str] = set()
        self._lock = threading.Lock()

    def register(self, package: str) -> None:
        with self._lock:
            self._packages.add(package)

    def find_spec(self, fullname: str, path: Optional[Sequence[str]] = None,
                  target: Optional[ModuleType] = None) -> Optional[importlib.machinery.ModuleSpec]:
        top, dot, _ = fullname.partition(".")
        if not dot or top not in self._packages or not path:
            return None
        name = fullname.rsplit(".", 1)[1]
        for directory in map(Path, path):
            spec = _spec_in(fullname, directory, name)
            if spec is not None:
                return spec
        raise ModuleNotFoundError(f"No module named {fullname!r} (kernels import only source and extension "
                                  "modules, never bytecode)", name=fullname)


def _spec_in(fullname: str, directory: Path, name: str) -> Optional[importlib.machinery.ModuleSpec]:
    package = directory / name
    if package.is_dir():
        init = package / "__init__.py"
        if init.is_file():
            return source_spec(fullname, init, package)
        spec = importlib.machinery.ModuleSpec(fullname, None, is_package=True)
        spec.submodule_search_locations = [str(package)]
        return spec
    source = directory / f"{name}.py"
    if source.is_file():
        return source_spec(fullname, source)
    for suffix in importlib.machinery.EXTENSION_SUFFIXES:
        extension = directory / f"{name}{suffix}"
        if extension.is_file():
            loader = importlib.machinery.ExtensionFileLoader(fullname, str(extension))
            return importlib.util.spec_from_file_location(fullname, extension, loader=loader)
    return None


def source_spec(fullname: str, source: Path, package_dir: Optional[Path] = None
                ) -> Optional[importlib.machinery.ModuleSpec]:
    """A spec that imports ``source`` with :class:`SourceOnlyLoader` (a package when ``package_dir`` is given)."""
    locations = [str(package_dir)] if package_dir is not None else None
    return importlib.util.spec_from_file_location(fullname, source, loader=SourceOnlyLoader(fullname, str(source)),
                                                  submodule_search_locations=locations)


_finder = KernelSourceFinder()


def register_kernel_package(name: str) -> None:
    """Route every import below package ``name`` through :class:`KernelSourceFinder`."""
    _finder.register(name)
    if _finder not in sys.meta_path:
        sys.meta_path.insert(0, _finder)
