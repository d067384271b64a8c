"""Kernel versions: which ``vN`` branches a repository has, and which one a ``version=N`` request means.

This is the module path upstream ``kernels`` uses (``kernels._versions``);
the loader itself resolves ``version=N`` to the branch ``vN`` in
:mod:`kernels.hub.resolve`. Here the versions are listed, from the Hub or,
offline, from the branches recorded in the cache.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import TYPE_CHECKING, Optional

if TYPE_CHECKING:  # pragma: no cover
    from huggingface_hub.hf_api import GitRefInfo

logger = logging.getLogger(__name__)


def revision_or_version(*, revision: Optional[str], version: Optional[int]) -> str:
    """The revision a request means: ``revision`` or the branch ``v<version>``; exactly one must be given."""
    from .hub.ids import check_revision_args

    check_revision_args(revision, version)
    if revision is None and version is None:
        raise ValueError(
            "A kernel version or revision must be specified: use version=<major> for a stable kernel API "
            "version or revision=<branch, tag or commit> for an explicit Hub revision"
        )
    return revision if revision is not None else f"v{version}"


def _cached_versions(repo_id: str) -> dict[int, "GitRefInfo"]:
    from huggingface_hub.file_download import repo_folder_name
    from huggingface_hub.hf_api import GitRefInfo

    from .hub.cache import cache_root
    from .hub.ids import version_of_branch
    from .hub.resolve import REPO_TYPES

    versions: dict[int, GitRefInfo] = {}
    for repo_type in REPO_TYPES:
        refs = Path(cache_root()) / repo_folder_name(repo_id=repo_id, repo_type=repo_type) / "refs"
        if not refs.is_dir():
            continue
        for ref in refs.iterdir():
            number = version_of_branch(ref.name)
            if number is None or not ref.is_file() or number in versions:
                continue
            try:
                commit = ref.read_text(encoding="ascii").strip()
            except (OSError, ValueError):
                continue
            versions[number] = GitRefInfo(name=ref.name, ref=f"refs/heads/{ref.name}", target_commit=commit)
    return versions


def available_versions(repo_id: str, *, local_files_only: bool) -> dict[int, "GitRefInfo"]:
    """Version number -> its ``vN`` branch; from the cache when ``local_files_only``."""
    from huggingface_hub.errors import RepositoryNotFoundError

    from .hub.client import hub_client, network_errors, request_failed
    from .hub.ids import validate_repo_id, version_of_branch
    from .hub.resolve import REPO_TYPES

    validate_repo_id(repo_id)
    if local_files_only:
        return _cached_versions(repo_id)
    api = hub_client()
    for repo_type in REPO_TYPES:
        try:
            refs = api.list_repo_refs(repo_id, repo_type=repo_type)
        except RepositoryNotFoundError:
            continue
        except network_errors() as e:
            raise request_failed(f"listing the versions of {repo_id}", api.endpoint, e) from None
        return {n: b for b in refs.branches if (n := version_of_branch(b.name)) is not None}
    from .hub.notfound import KernelNotFoundError

    raise KernelNotFoundError(f"kernel repository {repo_id!r} not found on {api.endpoint}", response=None)


def resolve_version_spec_as_ref(repo_id: str, version_spec: int, local_files_only: bool) -> "GitRefInfo":
    """The ``v<version_spec>`` branch of ``repo_id``; logs when a newer version exists.

    ``ValueError`` when there is no such version (listing those there are, in
    numeric order) or, offline, when no version of the kernel is cached.
    """
    versions = available_versions(repo_id, local_files_only=local_files_only)
    ref = versions.get(version_spec)
    if ref is None:
        if local_files_only and not versions:
            raise ValueError(
                f"Version {version_spec} of '{repo_id}' is not available in the local cache and the Hub is in "
                "offline mode: download the kernel while online first, or pass an explicit revision=<commit>"
            )
        listed = ", ".join(str(v) for v in sorted(versions)) or "none"
        raise ValueError(f"Version {version_spec} not found, available versions: {listed}")
    newest = max(versions)
    if version_spec < newest:
        logger.warning("You are using version %d of '%s', but version %d is available.", version_spec, repo_id, newest)
    return ref


__all__ = ["available_versions", "resolve_version_spec_as_ref", "revision_or_version"]
