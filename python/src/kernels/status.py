"""Kernel status: a ``kernel-status.toml`` at a repository's revision that says the kernel moved.

A publisher who renames or moves a kernel leaves this file in the old
repository, so code that still names the old id keeps working::

    kind = "redirect"
    destination = "org/new-name"
    revision = "v2"        # optional, default "main"

Loading follows one redirect (with a warning) before the variants are
resolved; a redirect's destination is not itself checked for a status, so a
loop cannot form. A missing file, revision or repository means "no status".
"""

from __future__ import annotations

import logging
import sys
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Optional, Union

if TYPE_CHECKING:  # pragma: no cover
    from huggingface_hub import HfApi

from .hub.ids import is_valid_repo_id

logger = logging.getLogger(__name__)

STATUS_FILE = "kernel-status.toml"
DEFAULT_REDIRECT_REVISION = "main"


def _parse_toml(content: str) -> dict[str, Any]:
    if sys.version_info >= (3, 11):
        import tomllib

        try:
            return tomllib.loads(content)
        except (tomllib.TOMLDecodeError, ValueError, RecursionError) as e:
            # RecursionError: absurdly deep nesting; ValueError: e.g. an integer of thousands of digits.
            raise ValueError(f"{STATUS_FILE} is not valid TOML: {' '.join(str(e).split())[:200]}") from None
    import tomlkit
    from tomlkit.exceptions import ParseError

    try:
        return tomlkit.parse(content).unwrap()
    except ParseError as e:
        raise ValueError(f"{STATUS_FILE} is not valid TOML: {e}") from None


@dataclass(frozen=True)
class Redirect:
    """The kernel now lives at ``destination`` (at ``revision``)."""

    destination: str
    revision: str = DEFAULT_REDIRECT_REVISION
    kind: str = "redirect"

    @staticmethod
    def from_dict(data: dict[str, Any]) -> "Redirect":
        destination = data.get("destination")
        if not destination:
            raise ValueError(f"{STATUS_FILE} must contain a 'destination' field for kind 'redirect'")
        if not isinstance(destination, str):
            raise ValueError(f"{STATUS_FILE}: 'destination' must be a string, got {destination!r:.200}")
        if not is_valid_repo_id(destination):
            raise ValueError(f"{STATUS_FILE}: 'destination' must be a repository id (owner/name), "
                             f"got {destination!r:.200}")
        revision = data.get("revision", DEFAULT_REDIRECT_REVISION)
        if not isinstance(revision, str) or not revision:
            raise ValueError(f"{STATUS_FILE}: 'revision' must be a non-empty string, got {revision!r:.200}")
        return Redirect(destination=destination, revision=revision)


#: Every kind of status a repository can declare (only redirects so far).
KernelStatusKind = Union[Redirect]
_KINDS = {"redirect": Redirect.from_dict}


class KernelStatus:
    """Parsing and fetching of ``kernel-status.toml``."""

    @staticmethod
    def from_toml(content: str) -> KernelStatusKind:
        """The status ``content`` declares; ``ValueError`` naming a missing field or an unknown kind."""
        data = _parse_toml(content)
        kind = data.get("kind")
        if not kind:
            raise ValueError(f"{STATUS_FILE} must contain a 'kind' field")
        parse = _KINDS.get(kind) if isinstance(kind, str) else None
        if parse is None:
            raise ValueError(f"Unknown kernel status kind: {kind!r:.200} in {STATUS_FILE} (known: {', '.join(_KINDS)})")
        return parse(data)

    @staticmethod
    def check_status(api: "HfApi", repo_id: str, revision: str) -> Optional[KernelStatusKind]:
        """The status of ``repo_id@revision``, or ``None`` when it declares none (or does not exist)."""
        path = _download_status_file(api, repo_id, revision)
        if path is None:
            return None
        with open(path, encoding="utf-8") as f:
            return KernelStatus.from_toml(f.read())


def _download_status_file(api: "HfApi", repo_id: str, revision: str) -> Optional[str]:
    from huggingface_hub.errors import EntryNotFoundError, RepositoryNotFoundError, RevisionNotFoundError

    from .hub.cache import cache_dir
    from .hub.resolve import REPO_TYPES

    from .hub.ids import is_commit_sha

    extra = {"cache_dir": cache_dir()} if cache_dir() is not None else {}
    for repo_type in REPO_TYPES:
        if is_commit_sha(revision):
            # A commit never changes: a cached answer (file or "no such file") needs no request.
            from huggingface_hub import try_to_load_from_cache
            from huggingface_hub.file_download import _CACHED_NO_EXIST

            cached = try_to_load_from_cache(repo_id, STATUS_FILE, revision=revision, repo_type=repo_type, **extra)
            if isinstance(cached, str):
                return cached
            if cached is _CACHED_NO_EXIST:
                return None
        try:
            return api.hf_hub_download(repo_id=repo_id, filename=STATUS_FILE, revision=revision,
                                       repo_type=repo_type, **extra)
        except RepositoryNotFoundError:
            continue  # Not a repository of this type: try the next one.
        except (EntryNotFoundError, RevisionNotFoundError):
            return None  # No status (or no such revision: resolving it reports that).
    return None


def resolve_status(api: "HfApi", repo_id: str, revision: str) -> tuple[str, str]:
    """``(repo_id, revision)`` to load instead of the one asked for: followed once, with a warning."""
    status = KernelStatus.check_status(api, repo_id, revision)
    if isinstance(status, Redirect):
        logger.warning("'%s' redirected to '%s' (revision %s)", repo_id, status.destination, status.revision)
        return status.destination, status.revision
    return repo_id, revision


__all__ = ["KernelStatus", "KernelStatusKind", "Redirect", "resolve_status"]
