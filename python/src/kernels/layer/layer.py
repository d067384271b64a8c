"""Upstream's ``kernels.layer.layer`` import path, for code written against upstream ``kernels``.

Our layer code lives in small modules (``repos``, ``extensible``, ``mode``,
``mapping``, ``validation``, ``_kernelize``); this module gathers the names that
upstream defines in ``kernels/layer/layer.py``, including the two private ones
that upstream's tests and some clients import:

* ``_KERNEL_MAPPING``: the mapping in effect; ``_KERNEL_MAPPING.get()`` returns
  ``{layer name: {device type: DeviceKernels}}`` (read-only here).
* ``_validate_layer(check_cls=..., cls=..., repo=...)``: raises
  ``LayerValidationError`` (a ``TypeError``) if ``cls`` cannot replace the
  forward of ``check_cls``.
"""

from __future__ import annotations

from typing import Any

from ._kernelize import kernelize
from .extensible import replace_kernel_forward_from_hub, use_kernel_forward_from_hub, use_kernelized_func
from .mapping import MappingView, register_kernel_mapping, use_kernel_mapping
from .mode import KernelizeFallback, Mode
from .repos import LayerRepository, LocalLayerRepository, LockedLayerRepository
from .validation import LayerValidationError, validate_layer

_KERNEL_MAPPING = MappingView()


def _validate_layer(*, check_cls: type, cls: Any, repo: Any) -> None:
    """Upstream's signature for ``validation.validate_layer``."""
    layer_name = getattr(check_cls, "kernel_layer_name", None) or check_cls.__name__
    validate_layer(cls, replaces=check_cls, layer_name=str(layer_name), repo=repo)


__all__ = [
    "KernelizeFallback",
    "LayerRepository",
    "LayerValidationError",
    "LocalLayerRepository",
    "LockedLayerRepository",
    "Mode",
    "kernelize",
    "register_kernel_mapping",
    "replace_kernel_forward_from_hub",
    "use_kernel_forward_from_hub",
    "use_kernel_mapping",
    "use_kernelized_func",
]
