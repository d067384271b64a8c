"""The kernel cache: where it is, downloading a variant into it, and checking what was downloaded."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Optional

from ..loader import read_metadata
from ..metadata import MetadataError
from .client import network_errors, one_line
from .errors import CacheDirectoryError, KernelDownloadError, KernelNotCachedError

if TYPE_CHECKING:  # pragma: no cover
    from huggingface_hub import HfApi

    from .resolve import HubTarget

KERNELS_CACHE_ENV = "KERNELS_CACHE"
#: Never downloaded from the Hub: bytecode would run instead of the (hashed, reviewed) sources.
NEVER_DOWNLOADED = ("*.pyc", "*.pyo", "*__pycache__*")


def cache_dir() -> Optional[str]:
    """The kernel cache: ``KERNELS_CACHE`` if set, else ``None`` (the Hugging Face cache)."""
    return os.environ.get(KERNELS_CACHE_ENV) or None


def download_variant(api: "HfApi", target: "HubTarget", variant: str, offline: bool) -> tuple[Path, str]:
    """Fetch ``build/<variant>/*`` (from the cache when complete); returns the snapshot and its sha."""
    from huggingface_hub.errors import LocalEntryNotFoundError

    try:
        snapshot = api.snapshot_download(
            target.repo_id,
            repo_type=target.repo_type,
            # Online, a ResolvedRevision: pinned to the sha already listed, and not resolved again
            # (locate_revision recorded the branch or tag in the cache for offline use).
            revision=target.revision,
            allow_patterns=[f"build/{variant}/*"],
            ignore_patterns=list(NEVER_DOWNLOADED),
            cache_dir=cache_dir(),
            local_files_only=offline,
        )
    except LocalEntryNotFoundError as e:
        raise KernelNotCachedError(f"{target.label}: build/{variant} is not completely cached and "
                                   f"HF_HUB_OFFLINE is set ({one_line(e)})") from None
    except network_errors() as e:
        raise KernelDownloadError(f"{target.label}: downloading build/{variant} failed: {one_line(e)}") from None
    path = Path(str(snapshot))
    return path, path.name


def validated_variant(target: "HubTarget", variant_dir: Path) -> Path:
    """``variant_dir`` once it has an ``__init__.py`` and a valid ``metadata.json``."""
    rel = f"build/{variant_dir.name}"
    if not (variant_dir / "metadata.json").is_file():
        raise MetadataError(f"{target.label}: {rel}/metadata.json is missing")
    if not (variant_dir / "__init__.py").is_file():
        raise FileNotFoundError(f"{target.label}: {rel}/__init__.py is missing")
    try:
        read_metadata(variant_dir / "metadata.json")
    except MetadataError as e:
        detail = str(e).split(": ", 1)[-1]
        raise MetadataError(f"{target.label}: {rel}/metadata.json: {detail}") from None
    return variant_dir


def cache_root() -> Path:
    """The directory the kernel cache lives in (``KERNELS_CACHE``, else huggingface_hub's cache)."""
    configured = cache_dir()
    if configured is not None:
        return Path(configured)
    from huggingface_hub import constants

    return Path(constants.HF_HUB_CACHE)


def ensure_cache_usable(writable: bool = True) -> Path:
    """The cache root, created if needed; ``CacheDirectoryError`` naming it when it cannot hold the cache."""
    root = cache_root()
    what = f"the kernel cache directory {root}" + (f" ({KERNELS_CACHE_ENV})" if cache_dir() else "")
    existing = next((p for p in (root, *root.parents) if p.exists()), None)
    if existing is not None and not existing.is_dir():
        where = "it is not a directory" if existing == root else f"{existing} is not a directory"
        raise CacheDirectoryError(f"{what} is unusable: {where}")
    if not writable:
        return root
    try:
        root.mkdir(parents=True, exist_ok=True)
        fd, probe = tempfile.mkstemp(prefix=".kernels-write-check-", dir=root)
        os.close(fd)
        os.unlink(probe)
    except OSError as e:
        raise CacheDirectoryError(f"{what} is unusable: {e.strerror or one_line(e)}") from None
    return root


def _inside(path: Path, directory: Path) -> bool:
    try:
        path.relative_to(directory)
    except ValueError:
        return False
    return True


def remove_cached_variant(variant_dir: Path) -> None:
    """Delete ``snapshots/<sha>/build/<variant>`` and the blobs its links point to, never leaving the cache.

    A link is removed as a link; what it points to is deleted only when it is
    a blob of the same cached repository (``<repo>/blobs/``). Nothing is done
    when ``variant_dir`` is not a cached snapshot's variant directory.
    """
    variant_dir = Path(variant_dir)
    if len(variant_dir.parents) < 4 or variant_dir.parents[1].parent.name != "snapshots" \
            or not variant_dir.is_dir() or variant_dir.is_symlink():
        return
    blobs = (variant_dir.parents[3] / "blobs").resolve()
    for top, dirs, files in os.walk(variant_dir, topdown=False, followlinks=False):
        for name in files + [d for d in dirs if os.path.islink(os.path.join(top, d))]:
            path = Path(top, name)
            if path.is_symlink():
                target = path.resolve()
                if _inside(target, blobs) and target.is_file() and not target.is_symlink():
                    target.unlink()
            path.unlink()
        for name in dirs:
            path = Path(top, name)
            if path.is_dir() and not path.is_symlink():  # (links to directories were unlinked above)
                path.rmdir()
    variant_dir.rmdir()
