"""Making layers and functions extensible: they record the name ``kernelize`` looks kernels up by."""

from __future__ import annotations

import inspect
from typing import Any, Callable, TypeVar

from .repos import function_layer

T = TypeVar("T")


def _check_layer_name(value: Any, where: str) -> str:
    if not isinstance(value, str) or not value:
        raise TypeError(f"{where}: the kernel layer name must be a non-empty string, got {value!r}")
    return value


def replace_kernel_forward_from_hub(cls: type, layer_name: str) -> None:
    """Make an existing layer class extensible under ``layer_name`` (sets ``cls.kernel_layer_name``).

    Prefer ``use_kernel_forward_from_hub`` on classes you maintain: it states
    that their ``forward`` signature is meant to stay compatible with Hub
    layers.
    """
    _check_layer_name(layer_name, "replace_kernel_forward_from_hub")
    if not isinstance(cls, type):
        raise TypeError(f"replace_kernel_forward_from_hub: expected a layer class, got {cls!r}")
    cls.kernel_layer_name = layer_name  # type: ignore[attr-defined]


def _function_module(func: Callable, layer_name: str, where: str) -> Any:
    """A singleton ``nn.Module`` whose ``forward`` calls ``func``; its class is extensible under ``layer_name``."""
    if isinstance(func, type) or not callable(func):
        raise TypeError(f"{where}: expected a function, got {func!r}")
    name = getattr(func, "__name__", None) or "kernel_function"
    cls = function_layer(func, name=name, attrs={"kernel_layer_name": layer_name})
    module = cls()
    # Look like the function for introspection (help(), inspect.signature, ...).
    for attr in ("__name__", "__qualname__", "__doc__"):
        if hasattr(func, attr):
            object.__setattr__(module, attr, getattr(func, attr))
    try:
        object.__setattr__(module, "__signature__", inspect.signature(func))
    except (TypeError, ValueError):
        pass
    return module


def use_kernel_forward_from_hub(layer_name: str) -> Callable[[T], T]:
    """Decorator: make a layer class extensible with kernels registered for ``layer_name``.

    The class is only annotated (``kernel_layer_name``); its behaviour does
    not change until ``kernelize`` is called on a model that contains it.
    Applied to a function, it acts as ``use_kernel_func_from_hub``.
    """
    _check_layer_name(layer_name, "use_kernel_forward_from_hub")

    def decorator(obj: T) -> T:
        if isinstance(obj, type):
            replace_kernel_forward_from_hub(obj, layer_name)
            return obj
        return _function_module(obj, layer_name, "use_kernel_forward_from_hub")  # type: ignore[return-value]

    return decorator


def use_kernel_func_from_hub(func_name: str) -> Callable[[Callable], Any]:
    """Decorator: replace a function by a singleton ``nn.Module`` that calls it, extensible under ``func_name``.

    Calling the module calls the function. ``kernelize`` only sees it when it
    is reachable from the model: as a submodule of a module of the model, or
    listed with ``use_kernelized_func`` on such a module's class.
    """
    _check_layer_name(func_name, "use_kernel_func_from_hub")

    def decorator(func: Callable) -> Any:
        if isinstance(func, type):
            raise TypeError(
                f"use_kernel_func_from_hub: expected a function, got class {func.__qualname__}; "
                "use use_kernel_forward_from_hub for layer classes"
            )
        return _function_module(func, func_name, "use_kernel_func_from_hub")

    return decorator


def use_kernelized_func(*funcs: Any) -> Callable[[T], T]:
    """Class decorator: let ``kernelize`` reach extensible functions that a layer calls.

    Each argument is a function made extensible with ``use_kernel_func_from_hub``
    (or ``use_kernel_forward_from_hub``), or a list of them. They are recorded
    in the class attribute ``_kernel_funcs`` (``{kernel layer name: module}``),
    not as submodules, so the model's structure and state dict do not change.
    """
    flat: list[Any] = []
    for item in funcs:
        flat.extend(item if isinstance(item, (list, tuple)) else [item])
    for func in flat:
        if not isinstance(getattr(type(func), "kernel_layer_name", None), str) or not callable(
            getattr(func, "forward", None)
        ):
            raise TypeError(
                f"use_kernelized_func: {func!r} is not an extensible function; decorate it with "
                "use_kernel_func_from_hub(name) first"
            )

    def decorator(cls: T) -> T:
        if not isinstance(cls, type):
            raise TypeError(f"use_kernelized_func: expected a layer class, got {cls!r}")
        registered = dict(getattr(cls, "_kernel_funcs", None) or {})
        for func in flat:
            registered[type(func).kernel_layer_name] = func
        cls._kernel_funcs = registered  # type: ignore[attr-defined]
        return cls

    return decorator
