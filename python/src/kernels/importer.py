"""Upstream's ``kernels.importer`` path: the kernels imported into this process.

A thin re-export for code written against upstream ``kernels``: the
registry, :class:`LoadedKernel` and the import itself live in
:mod:`kernels.loader`. ``_loaded_kernels`` is the registry itself (variant
directory -> :class:`LoadedKernel`), so saving, clearing and restoring it
works as upstream's tests do.
"""

from __future__ import annotations

import logging

from . import loader
from .loader import LoadedKernel, get_loaded_kernels, import_variant

_loaded_kernels = loader.loaded_registry  # upstream's name for the registry

#: Upstream code configures logging per module name; this one is kept for it.
logger = logging.getLogger(__name__)

__all__ = ["LoadedKernel", "_loaded_kernels", "get_loaded_kernels", "import_variant"]
