"""The errors the Hub client raises: one root type, :class:`KernelsHubError`.

Every error also subclasses the type that client code (written for upstream
``kernels`` and for ``huggingface_hub``) already catches: ``ValueError``,
``FileNotFoundError``, ``OSError``, and for a missing repository or revision
huggingface_hub's ``RepositoryNotFoundError`` / ``RevisionNotFoundError``.

Those last two are built on huggingface_hub's classes, so they are defined in
:mod:`kernels.hub.notfound` and only imported when first used: ``import
kernels`` does not import huggingface_hub.
"""

from __future__ import annotations

from typing import Any


class KernelsHubError(Exception):
    """Root of every error raised while finding, fetching or verifying a kernel from the Hub."""


class UntrustedPublisherError(KernelsHubError, ValueError):
    """The kernel's publisher, or the revision asked for, is not trusted and ``trust_remote_code`` was not given."""


class KernelNotCachedError(KernelsHubError, FileNotFoundError):
    """Offline mode is on and the kernel is not (completely) in the cache."""


class HubRequestError(KernelsHubError, OSError):
    """The Hub could not be reached or answered with an unexpected error."""


class HubTimeoutError(HubRequestError, TimeoutError):
    """The Hub accepted the request but did not answer within the configured timeout."""


class KernelDownloadError(HubRequestError):
    """Downloading the kernel's files failed."""


class CacheDirectoryError(KernelsHubError, OSError):
    """The kernel cache directory (``KERNELS_CACHE`` or the Hugging Face cache) cannot be used."""


class CorruptFileError(KernelsHubError, ValueError):
    """A file read from the Hub or the cache (``metadata.json``, ``kernels.lock``) cannot be parsed."""


#: Errors that subclass huggingface_hub's classes; loaded from :mod:`kernels.hub.notfound` on first use.
HF_BASED_ERRORS = ("KernelNotFoundError", "KernelRevisionNotFoundError")


def __getattr__(name: str) -> Any:
    if name in HF_BASED_ERRORS:
        from . import notfound

        return getattr(notfound, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
