"""The Hub client of ``kernels``: the one way this package (and the builder) reaches the Hub.

- :mod:`~kernels.hub.client`: :func:`hub_client`, the one place an ``HfApi`` is built
  (user agent, token, bounded request timeouts: ``KERNELS_HUB_TIMEOUT``).
- :mod:`~kernels.hub.errors`: the error hierarchy, rooted at :class:`KernelsHubError`.
- :mod:`~kernels.hub.ids`: validators for repository ids, versions and revisions.
- :mod:`~kernels.hub.trust`: which publishers and revisions may run.
- :mod:`~kernels.hub.resolve`: revision/version resolution and variant choice.
- :mod:`~kernels.hub.cache`: the kernel cache and downloads into it.
- :mod:`~kernels.hub.loading`: :func:`get_kernel` and friends.

Repositories mapped by ``LOCAL_KERNELS`` are loaded from their local path.
huggingface_hub is imported lazily, so ``import kernels`` stays fast; the two
not-found errors (which subclass huggingface_hub's) are loaded on first use.
"""

from __future__ import annotations

from typing import Any

from .cache import (
    KERNELS_CACHE_ENV,
    NEVER_DOWNLOADED,
    cache_dir,
    cache_root,
    download_variant,
    ensure_cache_usable,
    remove_cached_variant,
    validated_variant,
)
from .client import (
    DEFAULT_TIMEOUT_SECONDS,
    TIMEOUT_ENV,
    hub_client,
    hub_timeout,
    install_request_timeouts,
    is_offline,
    is_timeout,
    network_errors,
    one_line,
    request_failed,
    telemetry_disabled,
    user_agent_string,
)
from .errors import (
    HF_BASED_ERRORS,
    CacheDirectoryError,
    CorruptFileError,
    HubRequestError,
    HubTimeoutError,
    KernelDownloadError,
    KernelNotCachedError,
    KernelsHubError,
    UntrustedPublisherError,
)
from .ids import (
    REPO_ID_PATTERN,
    check_revision_args,
    is_commit_sha,
    is_pull_request_ref,
    is_valid_repo_id,
    require_revision,
    validate_repo_id,
    validate_revision,
    version_of_branch,
)
from .loading import KernelVersion, fetch_variant, get_kernel, get_kernel_variants, has_kernel, list_kernel_versions
from .resolve import REPO_TYPES, HubTarget, available_versions, best_variant, judge_variants, locate_revision
from .trust import TRUST_TTL_SECONDS, check_published_revision, check_trusted_publisher


def __getattr__(name: str) -> Any:
    if name in HF_BASED_ERRORS:
        from . import notfound

        return getattr(notfound, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = [
    "CacheDirectoryError", "CorruptFileError", "DEFAULT_TIMEOUT_SECONDS", "HubRequestError", "HubTarget",
    "HubTimeoutError", "KERNELS_CACHE_ENV", "KernelDownloadError", "KernelNotCachedError", "KernelNotFoundError",
    "KernelRevisionNotFoundError", "KernelVersion", "KernelsHubError", "NEVER_DOWNLOADED", "REPO_ID_PATTERN", "REPO_TYPES",
    "TIMEOUT_ENV", "TRUST_TTL_SECONDS", "UntrustedPublisherError", "available_versions", "best_variant",
    "cache_dir", "cache_root", "check_published_revision", "check_revision_args", "ensure_cache_usable", "remove_cached_variant", "check_trusted_publisher", "download_variant", "fetch_variant",
    "get_kernel", "get_kernel_variants", "has_kernel", "hub_client", "hub_timeout", "install_request_timeouts",
    "is_commit_sha", "is_offline", "is_timeout", "is_pull_request_ref", "is_valid_repo_id", "judge_variants",
    "list_kernel_versions", "locate_revision", "network_errors", "one_line", "request_failed", "require_revision",
    "telemetry_disabled", "user_agent_string", "validate_repo_id", "validate_revision", "validated_variant",
    "version_of_branch",
]
