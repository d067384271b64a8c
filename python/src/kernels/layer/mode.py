"""``Mode``: what a model is kernelized for, and ``KernelizeFallback``: when to keep the original forward."""

from __future__ import annotations

import enum
from typing import Union


class Mode(enum.Flag):
    """How a kernelized model will be used; members combine with ``|``.

    ``kernelize`` takes ``INFERENCE`` or ``TRAINING``, optionally combined with
    ``TORCH_COMPILE``. In a kernel mapping, a repository can be registered for
    such a combination or for ``FALLBACK``, the entry used when no other
    registered mode matches (a repository registered without a mode is
    registered for ``FALLBACK``).

    Values, ``str()`` and the errors of ``|`` are upstream's: combining
    ``INFERENCE`` with ``TRAINING``, or ``FALLBACK`` with anything, raises
    ``ValueError`` at once.
    """

    _NONE = 0
    FALLBACK = 1
    TRAINING = 2
    INFERENCE = 4
    TORCH_COMPILE = 8

    def __or__(self, other: object) -> "Mode":
        combined = super().__or__(other)
        if combined is NotImplemented:
            return combined
        if Mode.INFERENCE in combined and Mode.TRAINING in combined:
            raise ValueError(
                "Mode.INFERENCE and Mode.TRAINING are mutually exclusive: a mode has exactly one of them"
            )
        if Mode.FALLBACK in combined and combined is not Mode.FALLBACK:
            raise ValueError("Mode.FALLBACK cannot be combined with other modes")
        return combined

    __ror__ = __or__


def describe_mode(mode: Mode) -> str:
    """``INFERENCE | TORCH_COMPILE`` style text for ``mode``."""
    names = [m.name for m in (Mode.INFERENCE, Mode.TRAINING, Mode.TORCH_COMPILE, Mode.FALLBACK) if m in mode]
    # (`m in mode` is false for every member when mode is Mode._NONE)
    return " | ".join(names) if names else "none"


_I, _T, _C, _F = Mode.INFERENCE, Mode.TRAINING, Mode.TORCH_COMPILE, Mode.FALLBACK

# For each mode that kernelize accepts: the registered modes to try, in order.
MODE_FALLBACK_ORDER: dict[Mode, tuple[Mode, ...]] = {
    _I: (_I, _I | _C, _T, _T | _C, _F),
    _I | _C: (_I | _C, _T | _C, _F),
    _T: (_T, _T | _C, _F),
    _T | _C: (_T | _C, _F),
}

#: Modes a repository can be registered for in a mapping.
REGISTRABLE_MODES: tuple[Mode, ...] = (_I, _I | _C, _T, _T | _C, _F)


def check_kernelize_mode(mode: object) -> Mode:
    """``mode`` if ``kernelize`` accepts it, else a ``ValueError``/``TypeError`` saying why."""
    if not isinstance(mode, Mode):
        raise TypeError(f"kernelize: 'mode' must be a kernels.Mode, got {mode!r}")
    if _F in mode:
        raise ValueError(
            "kernelize: Mode.FALLBACK can only be used to register kernel mappings "
            "(Mode.FALLBACK can only be used as a key of a mapping's {Mode: repository} dict)"
        )
    if mode not in MODE_FALLBACK_ORDER:
        raise ValueError(
            f"kernelize mode must contain Mode.INFERENCE or Mode.TRAINING (exactly one), optionally combined "
            f"with Mode.TORCH_COMPILE; got {describe_mode(mode)}"
        )
    return mode


def check_registered_mode(mode: object, where: str) -> Mode:
    """``mode`` if a repository can be registered for it in a mapping."""
    if not isinstance(mode, Mode):
        raise TypeError(f"{where}: mode keys must be kernels.Mode values, got {mode!r}")
    if mode not in REGISTRABLE_MODES:
        choices = ", ".join(describe_mode(m) for m in REGISTRABLE_MODES)
        raise ValueError(f"{where}: a repository cannot be registered for mode {describe_mode(mode)} (use one of: {choices})")
    return mode


class KernelizeFallback(enum.Flag):
    """Situations in which ``kernelize`` keeps a layer's original ``forward`` instead of raising.

    ``kernelize(use_fallback=...)`` takes these flags or a bool: ``True`` is
    ``DEFAULT`` and ``False`` is ``NONE``. Member names and values are
    upstream's:

    * ``NO_LAYER``: nothing is registered for the layer name.
    * ``NO_DEVICE``: nothing is registered for the layer on this device type.
    * ``NO_COMPATIBLE_PROPERTIES``: no registered capability range covers the device.
    * ``NO_COMPATIBLE_MODE``: no repository is registered for the mode, or the
      selected kernel does not support it (no ``has_backward`` for training,
      no ``can_torch_compile`` with ``TORCH_COMPILE``).
    * ``CANNOT_LOAD``: the selected kernel cannot be loaded or is not a valid
      layer (download or import failure, no build for this environment,
      layer not found, validation failure); a warning is logged.

    Earlier names of ours remain as aliases: ``NO_MAPPING`` (the first three),
    ``UNSUPPORTED_MODE`` (``NO_COMPATIBLE_MODE``) and ``LOAD_ERROR``
    (``CANNOT_LOAD``).
    """

    NONE = 0
    NO_LAYER = 1
    NO_DEVICE = 2
    NO_COMPATIBLE_PROPERTIES = 4
    NO_COMPATIBLE_MODE = 8
    CANNOT_LOAD = 16
    DEFAULT = NO_LAYER | NO_DEVICE | NO_COMPATIBLE_PROPERTIES | NO_COMPATIBLE_MODE
    ALL = DEFAULT | CANNOT_LOAD
    NO_MAPPING = NO_LAYER | NO_DEVICE | NO_COMPATIBLE_PROPERTIES
    UNSUPPORTED_MODE = NO_COMPATIBLE_MODE
    LOAD_ERROR = CANNOT_LOAD


def as_fallback(use_fallback: Union[bool, KernelizeFallback]) -> KernelizeFallback:
    if isinstance(use_fallback, KernelizeFallback):
        return use_fallback
    if isinstance(use_fallback, bool):
        return KernelizeFallback.DEFAULT if use_fallback else KernelizeFallback.NONE
    raise TypeError(f"kernelize: 'use_fallback' must be a bool or a KernelizeFallback, got {use_fallback!r}")
