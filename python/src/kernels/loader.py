"""Pick a build variant on disk and import it as a uniquely named package.

Every variant directory is imported under a module name derived from its
resolved path, so several builds of the same kernel (different versions,
revisions or local builds) can live side by side in one process. Kernels must
therefore only use relative imports of their own modules.
"""

from __future__ import annotations

import hashlib
import importlib.util
import sys
import threading
from dataclasses import dataclass, replace
from pathlib import Path
from types import ModuleType
from typing import Optional

from .deps import check_python_depends
from .integrity import check_variant
from .kernel_deps import use_kernel_deps
from .environment import current_environment, variant_candidates
from .metadata import Metadata, MetadataError
from .selection import accepted_variants
from .source_import import register_kernel_package, source_spec
from .variants import is_valid_variant_name


class VariantNotFoundError(FileNotFoundError):
    """A build directory has no variant that this environment can load."""


@dataclass(frozen=True)
class RepoInfo:
    """Where a kernel came from on the Hub."""

    repo_id: str
    revision: str


@dataclass(frozen=True)
class LoadedKernel:
    """A kernel imported into this process.

    ``repo_info`` is set for kernels loaded from the Hub and ``None`` for
    kernels loaded from a local path.
    """

    metadata: Metadata
    module: ModuleType
    repo_info: Optional[RepoInfo] = None

    @property
    def package_name(self) -> str:
        """The kernel's Python package name (its ``name`` with ``-`` as ``_``)."""
        return self.metadata.python_module_name

    @property
    def repo_infos(self) -> tuple[RepoInfo, ...]:
        """Every Hub origin known for this kernel (empty for a local load)."""
        return () if self.repo_info is None else (self.repo_info,)


_lock = threading.RLock()
_loaded: dict[Path, LoadedKernel] = {}
#: The registry itself (variant directory -> :class:`LoadedKernel`); upstream's ``importer._loaded_kernels``.
loaded_registry = _loaded


def get_loaded_kernels() -> list[LoadedKernel]:
    """A snapshot of the kernels loaded so far, one per variant directory.

    The list is new on every call; changing it does not affect the registry.
    """
    with _lock:
        return list(_loaded.values())


def select_variant(build_dir: Path, backend: Optional[str] = None) -> Path:
    """The most preferred variant directory in ``build_dir`` that this environment accepts.

    ``backend`` may be ``cpu`` or the backend Torch was built for; by default
    it is detected from Torch. The choice follows :mod:`kernels.selection_rules`.
    """
    build_dir = Path(build_dir)
    candidates = variant_candidates(backend)
    if build_dir.is_dir():
        found = sorted(p.name for p in build_dir.iterdir() if p.is_dir() and is_valid_variant_name(p.name))
    else:
        found = []
    accepted = accepted_variants(found, backend)
    if accepted:
        return build_dir / accepted[0].variant_str
    raise VariantNotFoundError(
        f"no build variant for this environment in {build_dir}: "
        f"accepted variants are {', '.join(candidates)}; "
        f"found {', '.join(found) if found else 'none'}"
    )


def module_name_for(metadata: Metadata, variant_dir: Path) -> str:
    """The ``sys.modules`` name of the variant at ``variant_dir`` (unique per resolved path)."""
    digest = hashlib.sha256(str(Path(variant_dir).resolve()).encode("utf-8")).hexdigest()[:12]
    return f"{metadata.python_module_name}_{digest}"


def _exec_package(name: str, variant_dir: Path) -> ModuleType:
    init = variant_dir / "__init__.py"
    if not init.is_file():
        raise FileNotFoundError(f"{variant_dir}: not a kernel build variant (no __init__.py)")
    # Only sources run, never bytecode found next to them (see kernels.source_import).
    register_kernel_package(name)
    spec = source_spec(name, init, variant_dir)
    if spec is None or spec.loader is None:
        raise ImportError(f"cannot import kernel from {init}", name=name)
    module = importlib.util.module_from_spec(spec)
    # Registered before execution so that the kernel's relative imports resolve.
    sys.modules[name] = module
    try:
        spec.loader.exec_module(module)
    except BaseException:
        for key in [k for k in sys.modules if k == name or k.startswith(f"{name}.")]:
            del sys.modules[key]
        raise
    return module


def read_metadata(path: Path) -> Metadata:
    """``Metadata.load``, with every corruption (bad UTF-8, deep nesting, huge numbers) as one ``MetadataError``."""
    try:
        return Metadata.load(path)
    except MetadataError:
        raise
    except RecursionError:
        raise MetadataError(f"{path}: invalid JSON (nested too deeply)") from None
    except UnicodeDecodeError as e:
        raise MetadataError(f"{path}: not UTF-8 text (invalid byte at offset {e.start})") from None
    except ValueError as e:  # e.g. an integer beyond Python's digit limit
        raise MetadataError(f"{path}: invalid JSON ({' '.join(str(e).split())[:200]})") from None


def import_variant(
    variant_dir: Path, repo_info: Optional[RepoInfo] = None, *, backend: Optional[str] = None
) -> ModuleType:
    """Import the build variant at ``variant_dir`` and record it as loaded.

    The Python dependencies are checked for ``backend`` (default: the
    variant's own backend). Importing the same directory again returns the
    module loaded the first time.
    """
    variant_dir = Path(variant_dir).resolve()
    with _lock:
        loaded = _loaded.get(variant_dir)
        if loaded is not None:
            if repo_info is not None and loaded.repo_info is None:
                _loaded[variant_dir] = replace(loaded, repo_info=repo_info)
            return loaded.module

        metadata = read_metadata(variant_dir / "metadata.json")
        check_variant(variant_dir, metadata)
        check_python_depends(metadata, backend or metadata.backend.type)
        # The loader does not load kernel dependencies yet: the kernel sees an empty set of them.
        with use_kernel_deps({}):
            module = _exec_package(module_name_for(metadata, variant_dir), variant_dir)
        _loaded[variant_dir] = LoadedKernel(metadata=metadata, module=module, repo_info=repo_info)
        return module


def _is_variant_dir(path: Path) -> bool:
    return (path / "metadata.json").is_file() and (path / "__init__.py").is_file()


def find_local_variant(repo_path: Path, backend: Optional[str] = None) -> Path:
    """The variant directory to load for a local path.

    ``repo_path`` may be a kernel project (with ``build/``), a ``build/``
    directory holding variant directories, or a variant directory itself.
    """
    repo_path = Path(repo_path)
    if not repo_path.is_dir():
        raise FileNotFoundError(f"kernel path {repo_path} does not exist or is not a directory")
    if _is_variant_dir(repo_path):
        current_environment(backend)  # Validates the backend argument.
        return repo_path
    build_dir = repo_path / "build"
    return select_variant(build_dir if build_dir.is_dir() else repo_path, backend)


def get_local_kernel(repo_path: Path, backend: Optional[str] = None, *, trust_remote_code: object = False,
                     user_agent: object = None, check_arch: bool = True) -> ModuleType:
    """Import a kernel from a local project, ``build/`` or variant directory.

    ``trust_remote_code``, ``user_agent`` and ``check_arch`` are accepted as
    upstream's signature has them: a local path is the user's own choice, so
    no publisher is checked and nothing is requested.
    """
    if not isinstance(trust_remote_code, (bool, list, tuple)):
        raise TypeError(f"trust_remote_code must be True, False or a list of strings, got {trust_remote_code!r}")
    variant_dir = find_local_variant(repo_path, backend)
    return import_variant(variant_dir, backend=current_environment(backend).backend)
