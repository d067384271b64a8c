"""``kernelize``: install the registered kernels' ``forward`` in a model's extensible layers."""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass, field
from types import MethodType
from typing import TYPE_CHECKING, Any, Optional, Union

from . import device as layer_device
from .device import Device, device_types
from .mapping import current_mapping, needs_capability, select_entry, select_repository
from .mode import KernelizeFallback, Mode, as_fallback, check_kernelize_mode, describe_mode
from .validation import validate_layer

if TYPE_CHECKING:
    import torch
    from torch import nn

logger = logging.getLogger("kernels.layer.kernelize")

DISABLE_KERNEL_MAPPING_ENV = "DISABLE_KERNEL_MAPPING"

# Instance attributes recording the forward function kernelize installed and
# the repository it came from (upstream's name, read by get_kernelized_layers).
_INSTALLED_ATTR = "_kernelize_forward_func"
REPO_ATTR = "_kernel_repo"


class KernelizeError(ValueError):
    """``kernelize`` found no usable kernel for a layer and may not keep its original forward."""


def kernel_mapping_disabled() -> bool:
    """Whether ``DISABLE_KERNEL_MAPPING`` is set (``1``/``true``/``yes``/``on``; ``0``/``false``/``no``/``off``/empty)."""
    value = os.environ.get(DISABLE_KERNEL_MAPPING_ENV, "").strip().lower()
    if value in ("", "0", "false", "no", "off"):
        return False
    if value in ("1", "true", "yes", "on"):
        return True
    raise ValueError(f"{DISABLE_KERNEL_MAPPING_ENV}: expected 1 or 0 (or true/false), got {value!r}")


@dataclass
class _Target:
    device_type: str
    index: Optional[int] = None
    _capability: Any = field(default=..., repr=False)

    @property
    def capability(self) -> Optional[int]:
        if self._capability is ...:
            self._capability = layer_device.device_capability(self.device_type, self.index)
        return self._capability


_device_type_of = layer_device.device_type_of


def _check_device_type(device_type: str) -> str:
    if device_type not in device_types():
        raise ValueError(
            f"kernelize: unsupported device type {device_type!r} (supported: {', '.join(device_types())})"
        )
    return device_type


def _resolve_target(model: "nn.Module", device: Union[None, str, "torch.device", Device]) -> _Target:
    import torch

    if device is None:
        tensor = next(model.parameters(), None)
        if tensor is None:
            tensor = next(model.buffers(), None)
        if tensor is None:
            raise ValueError(
                "kernelize: cannot infer the device of a model without parameters or buffers; pass device=..."
            )
        dev = tensor.device
    elif isinstance(device, Device):
        return _Target(device.type)
    elif isinstance(device, str):
        if device in device_types():
            return _Target(device)
        try:
            dev = torch.device(device)
        except RuntimeError:
            raise ValueError(
                f"kernelize: unsupported device {device!r} (supported device types: {', '.join(device_types())})"
            ) from None
        if dev.type == "cuda":  # An explicit "cuda:N" string names CUDA, even on ROCm Torch.
            return _Target("cuda", dev.index)
    elif isinstance(device, torch.device):
        dev = device
    else:
        raise TypeError(f"kernelize: 'device' must be a string, torch.device or kernels.Device, got {device!r}")
    return _Target(_check_device_type(_device_type_of(dev)), dev.index)


@dataclass
class _Decision:
    layer: Optional[type]  # None: keep the original forward
    message: str
    level: int = logging.INFO
    repo: Any = None


class _Kernelizer:
    def __init__(self, mode: Mode, target: _Target, fallback: KernelizeFallback) -> None:
        self.mode = mode
        self.target = target
        self.fallback = fallback
        self.mapping = current_mapping()
        self.disabled = kernel_mapping_disabled()
        self.loaded: dict[Any, Any] = {}  # repository -> layer class or exception
        self.decisions: dict[type, _Decision] = {}

    def decide(self, module_cls: type) -> _Decision:
        decision = self.decisions.get(module_cls)
        if decision is None:
            decision = self.decisions[module_cls] = self._decide(module_cls)
        return decision

    def _keep(self, reason: str, flag: KernelizeFallback, layer_name: str, level: int = logging.INFO,
              upstream: str = "") -> _Decision:
        """Keep the original forward if ``flag`` is allowed, else raise; ``upstream`` is upstream's wording."""
        if flag not in self.fallback:
            ours = (f"kernelize: no usable kernel for layer `{layer_name}`: {reason} (use_fallback does not allow "
                    "keeping the original forward)")
            raise KernelizeError(f"{upstream} ({ours})" if upstream else ours)
        return _Decision(None, f"original forward ({reason})", level)

    def _load(self, repo: Any, module_cls: type, layer_name: str) -> type:
        loaded = self.loaded.get(repo)
        if loaded is None:
            try:
                loaded = repo.load()
            except Exception as e:  # noqa: BLE001 - reported or re-raised below
                loaded = e
            self.loaded[repo] = loaded
        if isinstance(loaded, Exception):
            raise loaded
        validate_layer(loaded, replaces=module_cls, layer_name=layer_name, repo=repo)
        return loaded

    def _decide(self, module_cls: type) -> _Decision:
        layer_name = str(module_cls.kernel_layer_name)  # type: ignore[attr-defined]
        if self.disabled:
            return _Decision(None, f"original forward ({DISABLE_KERNEL_MAPPING_ENV} is set)")

        per_device = self.mapping.get(layer_name)
        if not per_device:
            return self._keep(f"no kernel mapping for `{layer_name}`", KernelizeFallback.NO_LAYER, layer_name,
                              upstream=f"No layer mapping for `{layer_name}`")
        device_type = self.target.device_type
        entries = per_device.get(device_type)
        if not entries:
            registered = ", ".join(sorted(per_device)) or "none"
            return self._keep(f"no kernel for device type `{device_type}` (registered: {registered})",
                              KernelizeFallback.NO_DEVICE, layer_name,
                              upstream=f"No layer mapping for `{layer_name}` with device type `{device_type}`")
        capability = self.target.capability if needs_capability(entries) else None
        entry = select_entry(entries, capability)
        if entry is None:
            ranges = ", ".join(str(e.device) for e in entries)
            what = "an unknown capability" if capability is None else f"capability {capability}"
            return self._keep(f"no {device_type} kernel for {what} (registered: {ranges})",
                              KernelizeFallback.NO_COMPATIBLE_PROPERTIES, layer_name,
                              upstream=f"No layer mapping for `{layer_name}` device `{device_type}` with the right "
                                       "properties")
        selected = select_repository(entry.repos, self.mode)
        if selected is None:
            modes = ", ".join(describe_mode(m) for m in entry.repos) or "none"
            return self._keep(f"no kernel for mode {self.mode} on {entry.device} "
                              f"(registered modes: {modes})", KernelizeFallback.NO_COMPATIBLE_MODE, layer_name,
                              upstream=f"No repository for `{layer_name}` for configuration mode={self.mode}")
        repo, registered_mode = selected

        try:
            layer = self._load(repo, module_cls, layer_name)
        except Exception as e:
            if KernelizeFallback.CANNOT_LOAD not in self.fallback:
                raise
            return self._keep(f"{repo} cannot be used: {type(e).__name__}: {e}", KernelizeFallback.CANNOT_LOAD,
                              layer_name, logging.WARNING)

        has_backward = bool(getattr(layer, "has_backward", True))
        can_compile = bool(getattr(layer, "can_torch_compile", False))
        if (Mode.TRAINING in registered_mode and not has_backward) or (
            Mode.TORCH_COMPILE in registered_mode and not can_compile
        ):
            logger.warning(
                "kernelize: %s is registered for `%s` in mode %s, which it does not support (has_backward=%s, "
                "can_torch_compile=%s)", repo, layer_name, describe_mode(registered_mode), has_backward, can_compile,
            )
        missing = []
        if Mode.TRAINING in self.mode and not has_backward:
            missing.append("backward (has_backward is false)")
        if Mode.TORCH_COMPILE in self.mode and not can_compile:
            missing.append("torch.compile (can_torch_compile is not set)")
        if missing:
            needed = "backward" if missing[0].startswith("backward") else "torch.compile"
            return self._keep(f"{repo} does not support {' and '.join(missing)}",
                              KernelizeFallback.NO_COMPATIBLE_MODE, layer_name,
                              upstream=f"Function/layer from repo {repo} does not support {needed}, needed for "
                                       f"mode `{self.mode}`")
        return _Decision(layer, f"{repo} (registered for {describe_mode(registered_mode)})", repo=repo)


def _install(module: "nn.Module", decision: _Decision) -> None:
    state = module.__dict__
    if decision.layer is None:
        own = state.get("forward")
        installed = state.pop(_INSTALLED_ATTR, None)
        if own is not None and installed is not None and getattr(own, "__func__", None) is installed:
            del state["forward"]
            state.pop(REPO_ATTR, None)
        return
    module.forward = MethodType(decision.layer.forward, module)  # type: ignore[method-assign]
    state[_INSTALLED_ATTR] = decision.layer.forward
    state[REPO_ATTR] = decision.repo


def _condition_allows(module: "nn.Module") -> bool:
    """Whether the class's ``kernel_condition`` (``use_kernel_forward_from_hub(condition=...)``) admits ``module``."""
    condition = getattr(type(module), "kernel_condition", None)
    return condition is None or bool(condition(module))


def _extensible_modules(model: "nn.Module") -> list[tuple[str, "nn.Module"]]:
    found: list[tuple[str, nn.Module]] = []
    seen: set[int] = set()

    def add(path: str, module: Any) -> None:
        if id(module) not in seen and isinstance(getattr(type(module), "kernel_layer_name", None), str):
            seen.add(id(module))
            found.append((path, module))

    for path, module in model.named_modules():
        add(path, module)
        # An instance's own copies (use_kernelized_func), else the class's shared functions.
        funcs = getattr(module, "_kernel_funcs", None)
        if isinstance(funcs, dict):
            for name, func_module in funcs.items():
                add(f"{path}.{name}" if path else name, func_module)
    return found


def kernelize(
    model: "nn.Module",
    *,
    mode: Mode,
    device: Union[None, str, "torch.device", Device] = None,
    use_fallback: Union[bool, KernelizeFallback] = True,
) -> "nn.Module":
    """Install registered kernels in the extensible layers of ``model``, in place; returns ``model``.

    For every module whose class was made extensible, the kernel registered
    for its layer name, the device type and ``mode`` is looked up in the
    current mapping, loaded, validated, and its ``forward`` replaces the
    module's. ``mode`` is ``Mode.INFERENCE`` or ``Mode.TRAINING``, optionally
    ``| Mode.TORCH_COMPILE``. ``device`` (a device type, ``torch.device`` or
    ``Device``) is inferred from the model's parameters when omitted.

    When no kernel applies (nothing registered, or the kernel lacks
    ``has_backward`` for training or ``can_torch_compile`` for
    ``TORCH_COMPILE``), the module keeps its class's original ``forward``;
    with ``use_fallback=False`` a ``KernelizeError`` is raised instead.
    ``use_fallback`` also takes ``KernelizeFallback`` flags
    (``KernelizeFallback.ALL`` also falls back when a kernel fails to load).

    Every decision starts from the class's ``forward``, so kernelizing again
    with another mode or mapping re-decides from scratch. Decisions are logged
    at INFO level (logger ``kernels.layer.kernelize``).
    """
    from torch import nn

    if not isinstance(model, nn.Module):
        raise TypeError(f"kernelize: 'model' must be a torch.nn.Module, got {type(model).__name__}")
    mode = check_kernelize_mode(mode)
    fallback = as_fallback(use_fallback)
    target = _resolve_target(model, device)
    kernelizer = _Kernelizer(mode, target, fallback)

    by_class: dict[type, list[str]] = {}
    for path, module in _extensible_modules(model):
        if not _condition_allows(module):
            logger.debug("kernelize: %s: left as it is (kernel_condition is false)", path or "<model>")
            continue
        decision = kernelizer.decide(type(module))
        _install(module, decision)
        by_class.setdefault(type(module), []).append(path or "<model>")
        logger.debug("kernelize: %s: %s", path or "<model>", decision.message)

    for module_cls, paths in by_class.items():
        decision = kernelizer.decisions[module_cls]
        shown = ", ".join(paths[:3]) + (f", ... ({len(paths)} modules)" if len(paths) > 3 else "")
        logger.log(
            decision.level, "kernelize(mode=%s, device=%s): `%s` (%s at %s) -> %s",
            describe_mode(mode), target.device_type, module_cls.kernel_layer_name,  # type: ignore[attr-defined]
            module_cls.__qualname__, shown, decision.message,
        )
    return model
