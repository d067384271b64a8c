"""Not-found errors, also huggingface_hub's ``RepositoryNotFoundError`` / ``RevisionNotFoundError``.

Clients written for upstream ``kernels`` catch huggingface_hub's types for a
missing repository or revision (and ``ValueError`` for a missing version), so
ours are both. They need the HTTP response huggingface_hub's base class keeps.
"""

from __future__ import annotations

from typing import Any

from huggingface_hub.errors import RepositoryNotFoundError, RevisionNotFoundError

from .errors import KernelsHubError


class KernelNotFoundError(KernelsHubError, LookupError, RepositoryNotFoundError):
    """The repository does not exist on the Hub (or is private and not accessible)."""

    def __init__(self, message: str, *, response: Any) -> None:
        RepositoryNotFoundError.__init__(self, message, response=response)


class KernelRevisionNotFoundError(KernelsHubError, LookupError, ValueError, RevisionNotFoundError):
    """The repository exists, but not the requested version or revision."""

    def __init__(self, message: str, *, response: Any) -> None:
        RevisionNotFoundError.__init__(self, message, response=response)
