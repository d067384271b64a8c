"""Validators for what callers name on the Hub: repository ids, versions and revisions.

The single definition of a valid repository id lives here (the builder's
config and upload use it too): ``<owner>/<name>``, each part ASCII letters,
digits, ``.``, ``_`` or ``-``, starting with a letter or digit.
"""

from __future__ import annotations

import re
from typing import Any, Optional

#: ``<owner>/<name>`` as the Hub accepts it.
REPO_ID_PATTERN = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*/[A-Za-z0-9][A-Za-z0-9._-]*")
#: A full commit sha, as revisions are pinned.
COMMIT_SHA_PATTERN = re.compile(r"[0-9a-f]{40}")
#: A version branch: ``v<N>``.
VERSION_BRANCH_PATTERN = re.compile(r"v(\d+)")
#: Longest revision string accepted (git refs are far shorter in practice).
MAX_REVISION_LENGTH = 255


def is_valid_repo_id(repo_id: Any) -> bool:
    return isinstance(repo_id, str) and REPO_ID_PATTERN.fullmatch(repo_id) is not None


def validate_repo_id(repo_id: Any) -> str:
    """``repo_id`` itself, or ``ValueError`` saying what a repository id looks like."""
    if not is_valid_repo_id(repo_id):
        raise ValueError(f"expected a Hub repository id like 'org/name', got {repo_id!r}")
    return repo_id


def is_commit_sha(revision: str) -> bool:
    return COMMIT_SHA_PATTERN.fullmatch(revision) is not None


def version_of_branch(name: str) -> Optional[int]:
    """``N`` for a version branch ``vN``, else ``None``."""
    match = VERSION_BRANCH_PATTERN.fullmatch(name)
    return int(match.group(1)) if match else None


def is_pull_request_ref(revision: str) -> bool:
    """``refs/pr/<N>``: a pull request's head, which anyone may open on any repository."""
    return revision.startswith("refs/pr/")


def validate_revision(revision: Any) -> str:
    """A revision string as the Hub and the cache can use it, or ``ValueError`` naming the problem."""
    if not isinstance(revision, str) or not revision:
        raise ValueError(f"'revision' must be a non-empty string, got {revision!r}")
    if len(revision) > MAX_REVISION_LENGTH:
        raise ValueError(f"'revision' must be at most {MAX_REVISION_LENGTH} characters, got {len(revision)}")
    if any(ord(c) < 0x20 or c in "\x7f\\" for c in revision) or ".." in revision or revision.startswith("/"):
        raise ValueError(f"'revision' is not a valid branch, tag or commit sha: {revision!r}")
    return revision


def check_revision_args(revision: Optional[str], version: Optional[int]) -> None:
    """``revision`` and ``version`` select what to load: at most one, each well-formed."""
    if revision is not None and version is not None:
        raise ValueError("Only one of `revision` or `version` must be specified: "
                         "pass either 'revision' or 'version', not both")
    if version is not None and (not isinstance(version, int) or isinstance(version, bool) or version < 0):
        raise ValueError(f"'version' must be a non-negative integer, got {version!r}")
    if revision is not None:
        validate_revision(revision)


def require_revision(repo_id: str, revision: Optional[str], version: Optional[int]) -> str:
    """The revision to load: ``revision``, or the branch ``v<version>``."""
    if revision is None and version is None:
        raise ValueError(f"A kernel version or revision must be specified: loading {repo_id!r} from the Hub "
                         "needs a 'version' or a 'revision'")
    return revision if revision is not None else f"v{version}"
