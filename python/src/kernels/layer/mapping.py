"""Kernel mappings: which repository provides the kernel for a layer name, device and mode.

The mapping registered outside any ``use_kernel_mapping`` block is global to
the process; ``use_kernel_mapping`` scopes a mapping to a ``with`` block (per
thread / asyncio task, through a context variable) and restores the previous
one on exit, also when the block raises.
"""

from __future__ import annotations

import contextvars
import itertools
import sys
import threading
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any, Mapping, Optional, Union

from ._interval_tree import IntervalTree
from .device import CAPABILITY_DEVICE_TYPES, Device, as_device
from .mode import MODE_FALLBACK_ORDER, Mode, check_registered_mode, describe_mode
from .repos import is_repository

# {Device | device type: repository | {Mode: repository}} per layer name.
KernelMapping = Mapping[str, Mapping[Union[Device, str], Any]]


@dataclass(frozen=True)
class MappingEntry:
    """Repositories registered for one device type and capability range, by mode."""

    device: Device
    repos: Mapping[Mode, Any]
    order: int  # registration order, to prefer the most recent of equally specific entries

    @property
    def min_capability(self) -> int:
        return self.device.capability_range[0]

    @property
    def max_capability(self) -> int:
        return self.device.capability_range[1]

    def covers(self, capability: Optional[int]) -> bool:
        if capability is None:
            return self.device.properties is None or self.device.capability_range == (0, sys.maxsize)
        return self.min_capability <= capability <= self.max_capability


# {layer name: {device type: (entries...)}}; treated as immutable once published.
_Registry = dict[str, dict[str, tuple[MappingEntry, ...]]]

_order = itertools.count()
_global_lock = threading.Lock()
_global: _Registry = {}
_scoped: contextvars.ContextVar[Optional[_Registry]] = contextvars.ContextVar("kernels_layer_mapping", default=None)


def _normalize(mapping: Any, where: str) -> list[tuple[str, MappingEntry]]:
    """Validate a user mapping and turn it into ``(layer name, entry)`` pairs, in order."""
    if not isinstance(mapping, Mapping):
        raise TypeError(f"{where}: the mapping must be a dict of layer names to {{device: repository}} dicts, "
                        f"got {type(mapping).__name__}")
    entries = []
    for layer_name, per_device in mapping.items():
        if not isinstance(layer_name, str) or not layer_name:
            raise TypeError(f"{where}: layer names must be non-empty strings, got {layer_name!r}")
        if not isinstance(per_device, Mapping):
            raise TypeError(f"{where}: the kernels of layer `{layer_name}` must be a dict of devices to repositories, "
                            f"got {type(per_device).__name__}")
        for device_key, value in per_device.items():
            device = as_device(device_key, f"{where} (layer `{layer_name}`)")
            if isinstance(value, Mapping):
                repos = {}
                for mode, repo in value.items():
                    mode = check_registered_mode(mode, f"{where} (layer `{layer_name}`, device {device})")
                    if not is_repository(repo):
                        raise TypeError(f"{where}: the kernel of layer `{layer_name}` for device {device} and mode "
                                        f"{describe_mode(mode)} must be a repository, got {repo!r}")
                    repos[mode] = repo
            elif is_repository(value):
                repos = {Mode.FALLBACK: value}
            else:
                raise TypeError(f"{where}: the kernel of layer `{layer_name}` for device {device} must be a repository "
                                f"or a {{Mode: repository}} dict, got {value!r}")
            entries.append((layer_name, MappingEntry(device=device, repos=MappingProxyType(repos), order=next(_order))))
    return entries


def _merge(base: _Registry, entries: list[tuple[str, MappingEntry]]) -> _Registry:
    """``base`` extended by ``entries``: an entry replaces one with the same device type and capability range."""
    merged = dict(base)
    for layer_name, entry in entries:
        per_device = dict(merged.get(layer_name, {}))
        kept = tuple(
            e for e in per_device.get(entry.device.type, ())
            if e.device.capability_range != entry.device.capability_range
        )
        per_device[entry.device.type] = kept + (entry,)
        merged[layer_name] = per_device
    return merged


def current_mapping() -> _Registry:
    """The mapping in effect here: the innermost ``use_kernel_mapping`` scope, else the global one."""
    scoped = _scoped.get()
    return _global if scoped is None else scoped


def register_kernel_mapping(mapping: KernelMapping, inherit_mapping: bool = True) -> None:
    """Register kernels for layer names in the current context.

    Outside ``use_kernel_mapping`` the registration is global; inside, it
    lasts until the ``with`` block ends. ``mapping`` maps a layer name to a
    dict whose keys are device types (``cuda``, ``rocm``, ``mps``,
    ``xpu``, ``npu``, ``cpu``, ...: :func:`~kernels.layer.device.device_types`) or ``Device`` objects and whose values are
    repositories or ``{Mode: repository}`` dicts (a bare repository is
    registered for ``Mode.FALLBACK``). An entry replaces an earlier one for
    the same layer name, device type and capability range.
    With ``inherit_mapping=False`` the mapping in effect is cleared first.
    """
    entries = _normalize(mapping, "register_kernel_mapping")
    if _scoped.get() is not None:
        _scoped.set(_merge(current_mapping() if inherit_mapping else {}, entries))
        return
    global _global
    with _global_lock:
        _global = _merge(_global if inherit_mapping else {}, entries)


class _MappingScope:
    """The context manager returned by ``use_kernel_mapping`` (reusable, also nested)."""

    def __init__(self, entries: list[tuple[str, MappingEntry]], inherit_mapping: bool) -> None:
        self._entries = entries
        self._inherit = inherit_mapping
        self._tokens: list[contextvars.Token] = []

    def __enter__(self) -> None:
        base = current_mapping() if self._inherit else {}
        self._tokens.append(_scoped.set(_merge(base, self._entries)))

    def __exit__(self, *exc_info: object) -> None:
        _scoped.reset(self._tokens.pop())


def use_kernel_mapping(mapping: KernelMapping, inherit_mapping: bool = True) -> _MappingScope:
    """Context manager: use ``mapping`` (on top of the current one, or alone with ``inherit_mapping=False``)
    inside a ``with`` block; the previous mapping is restored on exit, also after an exception.

    The mapping has the format of ``register_kernel_mapping`` and is validated
    when ``use_kernel_mapping`` is called.
    """
    return _MappingScope(_normalize(mapping, "use_kernel_mapping"), bool(inherit_mapping))


def select_entry(entries: tuple[MappingEntry, ...], capability: Optional[int]) -> Optional[MappingEntry]:
    """The entry for a device of ``capability``: the smallest covering range, the latest on ties.

    The ranges go into a balanced interval tree (``_interval_tree``). With an
    unknown capability (``None``) only entries without a capability
    restriction qualify.
    """
    if capability is None:
        unrestricted = [e for e in entries if e.covers(None)]
        return max(unrestricted, key=lambda e: e.order) if unrestricted else None
    tree: IntervalTree[MappingEntry] = IntervalTree()
    for entry in sorted(entries, key=lambda e: e.order):
        tree.insert(entry.min_capability, entry.max_capability, entry)
    return tree.find_smallest_interval(capability, tie_break=lambda e: -e.order)


def select_repository(repos: Mapping[Mode, Any], mode: Mode) -> Optional[tuple[Any, Mode]]:
    """``(repository, registered mode)`` for kernelize ``mode``, following the documented fallback order."""
    for candidate in MODE_FALLBACK_ORDER[mode]:
        if candidate in repos:
            return repos[candidate], candidate
    return None


def needs_capability(entries: tuple[MappingEntry, ...]) -> bool:
    return any(e.device.type in CAPABILITY_DEVICE_TYPES and e.device.properties is not None for e in entries)


class DeviceKernels:
    """The repositories registered for one layer name and device type, as upstream's mapping exposes them.

    ``repos`` is the ``{Mode: repository}`` dict used without a known
    capability (the unrestricted entry; else the latest registered one);
    ``repos_for_device`` selects by the capability of a GPU, as ``kernelize`` does.
    """

    def __init__(self, entries: tuple[MappingEntry, ...]) -> None:
        self.entries = entries

    @property
    def repos(self) -> Mapping[Mode, Any]:
        chosen = select_entry(self.entries, None) or max(self.entries, key=lambda e: e.order)
        return chosen.repos

    def repos_for_device(self, device_index: Optional[int] = None) -> Optional[Mapping[Mode, Any]]:
        from . import device as layer_device

        device_type = self.entries[0].device.type
        capability = layer_device.device_capability(device_type, device_index) if needs_capability(self.entries) else None
        chosen = select_entry(self.entries, capability)
        return None if chosen is None else chosen.repos

    def __repr__(self) -> str:
        return f"DeviceKernels({', '.join(str(e.device) for e in self.entries)})"


class MappingView:
    """Read-only access to the mapping in effect, shaped as upstream's ``_KERNEL_MAPPING`` context variable.

    ``get()`` returns ``{layer name: {device type: DeviceKernels}}`` (a
    snapshot); register mappings with ``register_kernel_mapping`` or
    ``use_kernel_mapping``.
    """

    def get(self) -> dict[str, dict[str, DeviceKernels]]:
        return {
            layer_name: {device_type: DeviceKernels(entries) for device_type, entries in per_device.items() if entries}
            for layer_name, per_device in current_mapping().items()
        }
