"""Publisher trust: which kernels may run without ``trust_remote_code=True``.

A kernel runs when its publisher (the repository's owner) is an organization
the Hub marks ``trustedKernelPublisher``, or when the caller passed
``trust_remote_code=True``. A positive answer is remembered per endpoint for
:data:`TRUST_TTL_SECONDS` (and used offline).
"""

from __future__ import annotations

import json
import os
import tempfile
import time
import warnings
from pathlib import Path
from typing import TYPE_CHECKING, Any, Union

from .client import network_errors, one_line
from .errors import UntrustedPublisherError

if TYPE_CHECKING:  # pragma: no cover
    from huggingface_hub import HfApi

#: How long a positive publisher-trust answer from the Hub is reused without asking again.
TRUST_TTL_SECONDS = 24 * 60 * 60

TrustRemoteCode = Union[bool, list, tuple]
_HOW = "pass trust_remote_code=True to load it anyway"


def trust_file() -> Path:
    from huggingface_hub import constants

    return Path(constants.HF_HOME) / "kernels" / "trusted-publishers.json"


def _read_trust() -> dict[str, Any]:
    try:
        data = json.loads(trust_file().read_text(encoding="utf-8"))
    except (OSError, ValueError, RecursionError):
        return {}
    return data if isinstance(data, dict) else {}


def _remember_trust(endpoint: str, org: str) -> None:
    path = trust_file()
    data = _read_trust()
    entry = data.get(endpoint)
    data[endpoint] = {**(entry if isinstance(entry, dict) else {}), org: time.time()}
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=".trusted-publishers-", dir=path.parent)
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            json.dump(data, f)
        os.replace(tmp, path)
    except OSError:
        pass  # The record only saves a request next time.


def _checked_trust_argument(trust_remote_code: TrustRemoteCode) -> None:
    if isinstance(trust_remote_code, (list, tuple)):
        warnings.warn(
            "trust_remote_code as a list of signing identities is not supported yet; "
            "falling back to the trusted-publisher check",
            UserWarning,
            stacklevel=4,
        )
    elif trust_remote_code is not False:
        raise TypeError(f"trust_remote_code must be True, False or a list of strings, got {trust_remote_code!r}")


def _recorded_trust(endpoint: str, org: str, offline: bool) -> bool:
    entry = _read_trust().get(endpoint)
    checked_at = entry.get(org) if isinstance(entry, dict) else None
    return isinstance(checked_at, (int, float)) and (offline or time.time() - checked_at < TRUST_TTL_SECONDS)


def check_trusted_publisher(api: "HfApi", repo_id: str, trust_remote_code: TrustRemoteCode,
                            offline: bool = False) -> None:
    """Raise :class:`UntrustedPublisherError` unless the publisher of ``repo_id`` may be loaded.

    ``trust_remote_code=True`` allows any publisher. Otherwise the Hub's
    organization overview must carry ``trustedKernelPublisher: true``. A list
    is reserved for signing identities: for now it warns and falls back to
    the publisher check.
    """
    if trust_remote_code is True:
        return
    _checked_trust_argument(trust_remote_code)
    org = repo_id.split("/", 1)[0]
    if _recorded_trust(api.endpoint, org, offline):
        return
    if offline:
        raise UntrustedPublisherError(
            f"cannot check whether {org!r} (publisher of {repo_id}) is a trusted kernel publisher while "
            f"HF_HUB_OFFLINE is set; {_HOW}"
        )
    from huggingface_hub.errors import HfHubHTTPError

    try:
        overview = api.get_organization_overview(org)
        trusted = getattr(overview, "trustedKernelPublisher", False) is True
    except network_errors() as e:
        status = e.response.status_code if isinstance(e, HfHubHTTPError) and e.response is not None else None
        if status != 404:
            raise UntrustedPublisherError(
                f"could not check whether {org!r} is a trusted kernel publisher ({one_line(e)}); {_HOW}"
            ) from None
        trusted = False  # Users and unknown organizations are not trusted publishers.
    if not trusted:
        raise UntrustedPublisherError(f"{repo_id} is not from a trusted kernel publisher ({org!r}); {_HOW}")
    _remember_trust(api.endpoint, org)
