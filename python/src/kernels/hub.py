"""Load kernels by Hub repository id.

Repositories mapped by ``LOCAL_KERNELS`` are loaded from their local path;
all others come from the Hub.
"""

from __future__ import annotations

from types import ModuleType
from typing import Optional, Union

from .loader import VariantNotFoundError, find_local_variant, get_local_kernel
from .local_kernels import local_kernel_path


def _check_revision_args(revision: Optional[str], version: Optional[int]) -> None:
    if revision is not None and version is not None:
        raise ValueError("pass either 'revision' or 'version', not both")
    if version is not None and (not isinstance(version, int) or isinstance(version, bool) or version < 0):
        raise ValueError(f"'version' must be a non-negative integer, got {version!r}")


def _require_revision(repo_id: str, revision: Optional[str], version: Optional[int]) -> None:
    if revision is None and version is None:
        raise ValueError(f"loading {repo_id!r} from the Hub needs a 'version' or a 'revision'")


def get_kernel(
    repo_id: str,
    revision: Optional[str] = None,
    version: Optional[int] = None,
    backend: Optional[str] = None,
    user_agent: Union[str, dict, None] = None,
    trust_remote_code: Union[bool, list[str]] = False,
) -> ModuleType:
    """Load the kernel in ``repo_id`` for this environment.

    Exactly one of ``version`` (a major version, i.e. the ``v<version>``
    branch) and ``revision`` selects what to load from the Hub. ``backend``
    may be ``cpu`` or the backend Torch was built for.
    """
    _check_revision_args(revision, version)
    local_path = local_kernel_path(repo_id)
    if local_path is not None:
        return get_local_kernel(local_path, backend)
    _require_revision(repo_id, revision, version)
    raise NotImplementedError(f"Hub download: {repo_id!r} is not mapped by LOCAL_KERNELS")


def has_kernel(
    repo_id: str,
    revision: Optional[str] = None,
    version: Optional[int] = None,
    backend: Optional[str] = None,
    user_agent: Union[str, dict, None] = None,
) -> bool:
    """Whether ``repo_id`` has a build variant this environment can load."""
    _check_revision_args(revision, version)
    local_path = local_kernel_path(repo_id)
    if local_path is not None:
        try:
            find_local_variant(local_path, backend)
        except (FileNotFoundError, VariantNotFoundError):
            return False
        return True
    _require_revision(repo_id, revision, version)
    raise NotImplementedError(f"Hub download: {repo_id!r} is not mapped by LOCAL_KERNELS")
