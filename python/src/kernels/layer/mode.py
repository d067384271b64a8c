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
    """

    INFERENCE = 1
    TRAINING = 2
    TORCH_COMPILE = 4
    FALLBACK = 8

    def __str__(self) -> str:
        return describe_mode(self)


def describe_mode(mode: Mode) -> str:
    """``INFERENCE | TORCH_COMPILE`` style text for ``mode``."""
    names = [m.name for m in (Mode.INFERENCE, Mode.TRAINING, Mode.TORCH_COMPILE, Mode.FALLBACK) if m in mode]
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
        raise ValueError("kernelize: Mode.FALLBACK can only be used as a key of a kernel mapping, not as a kernelize mode")
    if mode not in MODE_FALLBACK_ORDER:
        raise ValueError(
            f"kernelize: mode {describe_mode(mode)} is not valid: use Mode.INFERENCE or Mode.TRAINING "
            "(exactly one), optionally combined with Mode.TORCH_COMPILE"
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
    ``DEFAULT`` and ``False`` is ``NONE``.

    * ``NO_MAPPING``: no kernel is registered for the layer name, device,
      device capability or mode.
    * ``UNSUPPORTED_MODE``: the selected kernel does not support the mode
      (no ``has_backward`` for training, no ``can_torch_compile`` with
      ``TORCH_COMPILE``).
    * ``LOAD_ERROR``: the selected kernel cannot be loaded or is not a valid
      layer (download or import failure, no build for this environment,
      layer not found, validation failure); a warning is logged.
    """

    NONE = 0
    NO_MAPPING = 1
    UNSUPPORTED_MODE = 2
    LOAD_ERROR = 4
    DEFAULT = NO_MAPPING | UNSUPPORTED_MODE
    ALL = NO_MAPPING | UNSUPPORTED_MODE | LOAD_ERROR


def as_fallback(use_fallback: Union[bool, KernelizeFallback]) -> KernelizeFallback:
    if isinstance(use_fallback, KernelizeFallback):
        return use_fallback
    if isinstance(use_fallback, bool):
        return KernelizeFallback.DEFAULT if use_fallback else KernelizeFallback.NONE
    raise TypeError(f"kernelize: 'use_fallback' must be a bool or a KernelizeFallback, got {use_fallback!r}")
