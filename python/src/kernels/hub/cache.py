"""The kernel cache: where it is, downloading a variant into it, and checking what was downloaded."""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING, Optional

from ..metadata import Metadata, MetadataError
from .client import network_errors, one_line
from .errors import KernelDownloadError, KernelNotCachedError

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
        Metadata.load(variant_dir / "metadata.json")
    except MetadataError as e:
        detail = str(e).split(": ", 1)[-1]
        raise MetadataError(f"{target.label}: {rel}/metadata.json: {detail}") from None
    return variant_dir
