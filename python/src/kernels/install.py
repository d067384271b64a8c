"""``install_kernel``: put a kernel's variant for this machine in the cache without importing it.

Upstream ``kernels`` has this at ``kernels.install``; tools use it to fetch a
kernel ahead of time and then load it with :func:`kernels.get_local_kernel`.
It goes through the same resolution, trust check and download as
:func:`kernels.get_kernel`.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Optional, Union

from ._versions import resolve_version_spec_as_ref, revision_or_version

logger = logging.getLogger(__name__)


def install_kernel(
    repo_id: str,
    *,
    revision: Optional[str] = None,
    version: Optional[int] = None,
    backend: Optional[str] = None,
    local_files_only: bool = False,
    user_agent: Union[str, dict, None] = None,
    trust_remote_code: Union[bool, list] = False,
) -> Path:
    """Download the variant of ``repo_id`` this environment loads; returns its directory.

    Exactly one of ``version`` and ``revision``. ``local_files_only`` (or
    ``HF_HUB_OFFLINE``) uses the cache only: a kernel that is not there is a
    ``FileNotFoundError``.
    """
    from .hub.client import is_offline
    from .hub.errors import KernelNotCachedError
    from .hub.ids import validate_repo_id
    from .hub.loading import fetch_variant

    rev = revision_or_version(revision=revision, version=version)
    validate_repo_id(repo_id)
    offline = local_files_only or is_offline()
    if version is not None:
        resolve_version_spec_as_ref(repo_id, version, local_files_only=offline)
    try:
        _, variant_dir = fetch_variant(repo_id, rev, backend, user_agent,
                                       False if trust_remote_code is None else trust_remote_code, offline=offline)
    except KernelNotCachedError as e:
        raise KernelNotCachedError(f"Cannot find a local snapshot of {repo_id}@{rev} for this environment: {e}") \
            from None
    return variant_dir


__all__ = ["install_kernel"]
