"""Devices that kernels are registered for, and the capability of the device a model runs on."""

from __future__ import annotations

import sys
from dataclasses import dataclass
from typing import Any, Optional, Union

from ..backends import registry


def device_types() -> tuple[str, ...]:
    """Device types that kernel mappings and ``kernelize`` understand: one per registry backend."""
    return registry().layer_device_types()


def __getattr__(attribute: str) -> Any:
    if attribute == "DEVICE_TYPES":  # follows the active backend registry
        return device_types()
    raise AttributeError(f"module {__name__!r} has no attribute {attribute!r}")


#: Device types whose kernels can be restricted to a range of capabilities.
CAPABILITY_DEVICE_TYPES = ("cuda", "rocm")


def _check_capability_range(cls_name: str, min_capability: Any, max_capability: Any) -> None:
    for name, value in (("min_capability", min_capability), ("max_capability", max_capability)):
        if not isinstance(value, int) or isinstance(value, bool) or value < 0:
            raise ValueError(f"{cls_name}: '{name}' must be a non-negative integer, got {value!r}")
    if min_capability > max_capability:
        raise ValueError(
            f"{cls_name}: 'min_capability' ({min_capability}) is larger than 'max_capability' ({max_capability})"
        )


@dataclass(frozen=True)
class CUDAProperties:
    """A range of CUDA compute capabilities, both ends included.

    Capabilities are written ``major * 10 + minor``: 75 for Turing (7.5),
    90 for Hopper (9.0). Use ``sys.maxsize`` for "no upper bound".
    """

    min_capability: int = 0
    max_capability: int = sys.maxsize

    def __post_init__(self) -> None:
        _check_capability_range(type(self).__name__, self.min_capability, self.max_capability)


@dataclass(frozen=True)
class ROCMProperties:
    """A range of ROCm (AMD GPU) capabilities, both ends included, e.g. 115 for gfx1151 (11.5)."""

    min_capability: int = 0
    max_capability: int = sys.maxsize

    def __post_init__(self) -> None:
        _check_capability_range(type(self).__name__, self.min_capability, self.max_capability)


_PROPERTIES_FOR = {"cuda": CUDAProperties, "rocm": ROCMProperties}


@dataclass(frozen=True)
class Device:
    """A device type, optionally restricted by properties (``CUDAProperties`` or ``ROCMProperties``)."""

    type: str
    properties: Optional[Union[CUDAProperties, ROCMProperties]] = None

    def __post_init__(self) -> None:
        if self.type not in device_types():
            raise ValueError(
                f"Device: unsupported device type {self.type!r} (supported: {', '.join(device_types())})"
            )
        if self.properties is not None:
            expected = _PROPERTIES_FOR.get(self.type)
            # Upstream's sentence first ("CUDAProperties is only supported for 'cuda' devices.").
            owner = next((t for t, cls in _PROPERTIES_FOR.items() if isinstance(self.properties, cls)), None)
            upstream = f"{type(self.properties).__name__} is only supported for {owner!r} devices. " if owner else ""
            if expected is None:
                raise ValueError(f"Device: {upstream}Device type {self.type!r} takes no properties, "
                                 f"got {self.properties!r}")
            if not isinstance(self.properties, expected):
                raise ValueError(
                    f"Device: {upstream}The properties of a {self.type!r} device must be {expected.__name__}, "
                    f"got {type(self.properties).__name__}"
                )

    @property
    def capability_range(self) -> tuple[int, int]:
        """Inclusive ``(min, max)`` capabilities; the full range without properties."""
        if self.properties is None:
            return (0, sys.maxsize)
        return (self.properties.min_capability, self.properties.max_capability)

    def __str__(self) -> str:
        if self.properties is None:
            return self.type
        low, high = self.capability_range
        high_text = "" if high == sys.maxsize else str(high)
        return f"{self.type} (capability {low}..{high_text})"


def as_device(value: Any, where: str) -> Device:
    """A ``Device`` from a device-type string or a ``Device``."""
    if isinstance(value, Device):
        return value
    if isinstance(value, str):
        if value not in device_types():
            raise ValueError(f"{where}: unsupported device type {value!r} (supported: {', '.join(device_types())})")
        return Device(type=value)
    raise TypeError(f"{where}: devices must be device-type strings or kernels.Device, got {value!r}")


def device_type_of(dev: Any) -> str:
    """The mapping device type of a ``torch.device``: a "cuda" device of a ROCm build of Torch is "rocm"."""
    import torch

    if dev.type == "cuda" and getattr(torch.version, "hip", None):
        return "rocm"
    return dev.type


def device_capability(device_type: str, index: Optional[int] = None) -> Optional[int]:
    """Capability (``major * 10 + minor``) of the GPU ``kernelize`` targets; ``None`` if unknown.

    ``index`` is the GPU index (``None``: the current device). Tests replace
    this function to simulate GPUs.
    """
    if device_type not in CAPABILITY_DEVICE_TYPES:
        return None
    import torch

    try:
        if not torch.cuda.is_available():
            return None
        major, minor = torch.cuda.get_device_capability(index)
    except (RuntimeError, AssertionError):
        return None
    return major * 10 + minor
