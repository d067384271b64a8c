"""Upstream's ``kernels.hf_hub`` path: where a kernel came from and how the Hub is reached.

A thin re-export for code written against upstream ``kernels``; the Hub
client lives in :mod:`kernels.hub.client` and :class:`RepoInfo` in
:mod:`kernels.loader`.
"""

from __future__ import annotations

import logging

from typing import TYPE_CHECKING, Optional, Union

from .loader import RepoInfo

#: Upstream code configures logging per module name; this one is kept for it.
logger = logging.getLogger(__name__)

if TYPE_CHECKING:  # pragma: no cover
    from huggingface_hub import HfApi


def _platform() -> str:
    """``<cpu>-<os>`` as the user agent reports it."""
    from .hub.client import platform_tag

    return platform_tag()


def _get_hf_api(user_agent: Union[str, dict, None] = None, backend: Optional[str] = None) -> "HfApi":
    """The Hub client ``kernels`` uses (:func:`kernels.hub.hub_client`): user agent, token, timeouts."""
    from .hub.client import hub_client

    return hub_client(user_agent, backend)


__all__ = ["RepoInfo", "_get_hf_api", "_platform"]
