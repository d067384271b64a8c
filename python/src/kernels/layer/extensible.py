"""Making layers and functions extensible: they record the name ``kernelize`` looks kernels up by."""

from __future__ import annotations

import inspect
from typing import Any, Callable, Optional, TypeVar

from .kernel_funcs import (
    attach_copies,
    call_routed,
    copy_function_module,
    deepcopy_function_module,
    reduce_function_module,
)
from .repos import forward_signature, function_layer

T = TypeVar("T")

#: ``condition(module) -> bool`` decides per instance whether ``kernelize`` touches it.
Condition = Callable[[Any], bool]


class KernelFunctionError(TypeError, ValueError):
    """``use_kernelized_func`` got a function that was not made extensible.

    A ``TypeError`` (the wrong kind of argument) and, as upstream raises it,
    a ``ValueError``.
    """


def _check_condition(condition: Any, where: str) -> Optional[Condition]:
    if condition is not None and not callable(condition):
        raise TypeError(f"{where}: 'condition' must be a callable taking the module, got {condition!r}")
    return condition


def _check_layer_name(value: Any, where: str) -> str:
    if not isinstance(value, str) or not value:
        raise TypeError(f"{where}: the kernel layer name must be a non-empty string, got {value!r}")
    return value


def replace_kernel_forward_from_hub(cls: type, layer_name: str, condition: Optional[Condition] = None) -> None:
    """Make an existing layer class extensible under ``layer_name`` (sets ``cls.kernel_layer_name``).

    With ``condition``, ``kernelize`` only touches instances for which
    ``condition(module)`` is true; the others keep the forward they have.
    Prefer ``use_kernel_forward_from_hub`` on classes you maintain: it states
    that their ``forward`` signature is meant to stay compatible with Hub
    layers.
    """
    _check_layer_name(layer_name, "replace_kernel_forward_from_hub")
    _check_condition(condition, "replace_kernel_forward_from_hub")
    if not isinstance(cls, type):
        raise TypeError(f"replace_kernel_forward_from_hub: expected a layer class, got {cls!r}")
    cls.kernel_layer_name = layer_name  # type: ignore[attr-defined]
    if condition is not None:
        # A staticmethod, so that reading it through an instance does not bind the module.
        cls.kernel_condition = staticmethod(condition)  # type: ignore[attr-defined]
    elif "kernel_condition" in vars(cls):
        del cls.kernel_condition  # Made extensible again, now without a condition.


def _routing_forward(func: Callable) -> Callable:
    """``forward`` of an extensible function: the running instance's copy if any (``use_kernelized_func``), else ``func``."""

    def forward(self, *args, **kwargs):  # noqa: ANN001 - signature is set below
        return call_routed(self, func, args, kwargs)

    signature = forward_signature(func)
    if signature is not None:
        forward.__signature__ = signature  # type: ignore[attr-defined]
    forward.__doc__ = getattr(func, "__doc__", None)
    return forward


def _function_module(func: Callable, layer_name: str, where: str, condition: Optional[Condition] = None) -> Any:
    """A singleton ``nn.Module`` whose ``forward`` calls ``func``; its class is extensible under ``layer_name``."""
    if isinstance(func, type) or not callable(func):
        raise TypeError(f"{where}: expected a function, got {func!r}")
    name = getattr(func, "__name__", None) or "kernel_function"
    attrs: dict[str, Any] = {
        "kernel_layer_name": layer_name,
        "forward": _routing_forward(func),
        "__reduce__": reduce_function_module,
        "__deepcopy__": deepcopy_function_module,
        "__copy__": copy_function_module,
    }
    if condition is not None:
        attrs["kernel_condition"] = staticmethod(condition)
    cls = function_layer(func, name=name, attrs=attrs)
    cls.forward.__qualname__ = f"{cls.__name__}.forward"
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


def use_kernel_forward_from_hub(layer_name: str, condition: Optional[Condition] = None) -> Callable[[T], T]:
    """Decorator: make a layer class extensible with kernels registered for ``layer_name``.

    The class is only annotated (``kernel_layer_name``, ``kernel_condition``);
    its behaviour does not change until ``kernelize`` is called on a model that
    contains it. With ``condition``, ``kernelize`` skips the instances for
    which ``condition(module)`` is false. Applied to a function, it acts as
    ``use_kernel_func_from_hub``.
    """
    _check_layer_name(layer_name, "use_kernel_forward_from_hub")
    _check_condition(condition, "use_kernel_forward_from_hub")

    def decorator(obj: T) -> T:
        if isinstance(obj, type):
            replace_kernel_forward_from_hub(obj, layer_name, condition)
            return obj
        if not callable(obj):
            raise TypeError("@use_kernel_forward_from_hub can only be applied to classes or functions "
                            f"(use_kernel_forward_from_hub: expected a function, got {obj!r})")
        return _function_module(  # type: ignore[return-value]
            obj, layer_name, "use_kernel_forward_from_hub", condition
        )

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

    Each argument is a function made extensible with ``use_kernel_forward_from_hub``
    (or ``use_kernel_func_from_hub``), or a list of them. The class attribute
    ``_kernel_funcs`` lists them (``{kernel layer name: module}``). Each
    instance gets private copies (instance attribute ``_kernel_funcs``,
    ``{function name: module}``), which ``kernelize`` kernelizes, and while the
    instance's ``forward`` runs, calls of the shared functions go to its
    copies: models kernelized differently do not affect each other. Neither is
    a submodule, so the model's structure and state dict do not change.
    Anything else raises ``KernelFunctionError`` (a ``TypeError`` and ``ValueError``).
    """
    flat: list[Any] = []
    for item in funcs:
        flat.extend(item if isinstance(item, (list, tuple)) else [item])
    for func in flat:
        if not isinstance(getattr(type(func), "kernel_layer_name", None), str) or not callable(
            getattr(func, "forward", None)
        ):
            name = getattr(func, "__name__", None) or repr(func)
            raise KernelFunctionError(
                f"use_kernelized_func: Function `{name}` is not decorated with @use_kernel_forward_from_hub and "
                f"cannot be used with @use_kernelized_func ({func!r} is not an extensible function; decorate it "
                "with use_kernel_forward_from_hub(name) first)"
            )

    def decorator(cls: T) -> T:
        if not isinstance(cls, type):
            raise TypeError(f"use_kernelized_func: expected a layer class, got {cls!r}")
        registered = dict(getattr(cls, "_kernel_funcs", None) or {})
        for func in flat:
            registered[type(func).kernel_layer_name] = func
        cls._kernel_funcs = registered  # type: ignore[attr-defined]
        attach_copies(cls, flat)
        return cls

    return decorator
