"""Per-instance kernels for extensible functions reached through ``use_kernelized_func``.

An extensible function is one module object shared by every model that calls
it. So that ``kernelize`` can give two models different kernels for it (say one
kernelized for training, one left as is), each instance of a class decorated
with ``use_kernelized_func`` gets private copies of the function modules; while
that instance's ``forward`` runs, a call of the shared function goes to the
instance's copy. This is upstream's (0.18+) behaviour.

Under ``torch.compile`` the routing table lives in a plain attribute rather
than a context variable, which Dynamo does not trace on every Torch version.
"""

from __future__ import annotations

import contextvars
import copy as _copy
import functools
import importlib
import sys
from types import MethodType
from typing import Any, Callable, Optional

# Instance attribute holding an instance's copies: {function name: module}.
COPIES_ATTR = "_kernel_funcs"

# What kernelize puts on a module: not pickled (kernels are imported under
# names a fresh process cannot import); deep copies keep it.
_KERNEL_STATE = ("forward", "_kernelize_forward_func", "_kernel_repo")


def _compiling() -> bool:
    import torch

    return bool(torch.compiler.is_compiling())


class _ActiveCopies:
    """``{id(shared function module): private copy}`` for the forwards running now (innermost wins)."""

    def __init__(self) -> None:
        self._var: contextvars.ContextVar[Optional[dict[int, Any]]] = contextvars.ContextVar(
            "kernels_active_function_copies", default=None
        )
        self._traced: Optional[dict[int, Any]] = None
        self._tracing = False

    def get(self) -> Optional[dict[int, Any]]:
        if self._tracing or _compiling():
            return self._traced
        return self._var.get()

    def push(self, table: dict[int, Any]) -> Any:
        if self._tracing or _compiling():
            previous, self._traced, self._tracing = self._traced, table, True
            return ("traced", previous)
        return ("context", self._var.set(table))

    def pop(self, token: Any) -> None:
        kind, value = token
        if kind == "traced":
            self._traced = value
            self._tracing = value is not None
        else:
            self._var.reset(value)


_active = _ActiveCopies()


def private_copy(shared: Any) -> Optional[Any]:
    """The copy that a call of ``shared`` goes to right now, or ``None`` to run the function itself."""
    table = _active.get()
    if not table:
        return None
    copy = table.get(id(shared))
    return None if copy is shared else copy


def call_routed(shared: Any, func: Callable, args: tuple, kwargs: dict) -> Any:
    """Run a call of the extensible function ``shared``: through the running instance's copy if there is one."""
    copy = private_copy(shared)
    if copy is None:
        return func(*args, **kwargs)
    if _compiling():
        return copy.forward(*args, **kwargs)  # Skips module hooks, as Dynamo prefers.
    return copy(*args, **kwargs)


def function_name(func_module: Any) -> str:
    """The key of a function's copy: the function's name, else its kernel layer name."""
    return getattr(func_module, "__name__", None) or type(func_module).kernel_layer_name


def attach_copies(cls: type, shared_modules: list[Any]) -> None:
    """Wrap ``cls.__init__`` to give each instance copies of ``shared_modules`` and ``cls.forward`` to route to them."""
    original_init = cls.__init__
    original_forward = cls.forward

    @functools.wraps(original_init)
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        original_init(self, *args, **kwargs)
        copies = self.__dict__.setdefault(COPIES_ATTR, {})  # Not a submodule: state dict and modules unchanged.
        for shared in shared_modules:
            copies[function_name(shared)] = type(shared)()

    @functools.wraps(original_forward)
    def forward(self, *args: Any, **kwargs: Any) -> Any:
        copies = self.__dict__.get(COPIES_ATTR)
        if not copies:
            return original_forward(self, *args, **kwargs)
        table = dict(_active.get() or {})
        for shared in shared_modules:
            copy = copies.get(function_name(shared))
            if copy is not None:
                table[id(shared)] = copy
        token = _active.push(table)
        try:
            return original_forward(self, *args, **kwargs)
        finally:
            _active.pop(token)

    cls.__init__ = __init__  # type: ignore[misc]
    cls.forward = forward  # type: ignore[attr-defined]


# --- Copying and pickling function modules ------------------------------------------------------------


def _rebuild_copy(module_name: str, name: str, state: dict) -> Any:
    shared = getattr(importlib.import_module(module_name), name)
    rebuilt = type(shared)()
    rebuilt.__dict__.update(state)
    return rebuilt


def reduce_function_module(module: Any) -> Any:
    """Pickle the module-level function by reference and a copy as "a fresh copy of it" (kernelize again after loading)."""
    cls = type(module)
    name = getattr(module, "__name__", None) or cls.__name__
    owner = sys.modules.get(cls.__module__)
    if owner is not None and getattr(owner, name, None) is module:
        return name
    state = {k: v for k, v in module.__dict__.items() if k not in _KERNEL_STATE}
    return (_rebuild_copy, (cls.__module__, name, state))


def deepcopy_function_module(module: Any, memo: dict) -> Any:
    """A full copy, installed kernel included (``copy.deepcopy`` of a kernelized model keeps its kernels)."""
    new = type(module).__new__(type(module))
    memo[id(module)] = new
    for key, value in module.__dict__.items():
        new.__dict__[key] = _copy.deepcopy(value, memo)
    return new


def copy_function_module(module: Any) -> Any:
    """A shallow copy whose installed ``forward``, if any, is bound to the copy."""
    new = type(module).__new__(type(module))
    new.__dict__.update(module.__dict__)
    forward = module.__dict__.get("forward")
    if isinstance(forward, MethodType) and forward.__self__ is module:
        new.__dict__["forward"] = MethodType(forward.__func__, new)
    return new
