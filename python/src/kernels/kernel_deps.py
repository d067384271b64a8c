"""``get_kernel_dep``: how a kernel reaches the other kernels it depends on, while it is imported.

A kernel that uses another kernel asks for it by repository id from its
``__init__.py``; the loader decides which build that is (the exact version
comes from the kernel's metadata, never from the kernel's code). Outside a
kernel import there is nothing to hand out, so the call is refused.
"""

from __future__ import annotations

import contextlib
import contextvars
from types import ModuleType
from typing import Iterator, Mapping, Optional

_KERNEL_DEPS: contextvars.ContextVar[Optional[Mapping[str, ModuleType]]] = contextvars.ContextVar(
    "kernels_kernel_deps", default=None)


@contextlib.contextmanager
def use_kernel_deps(deps: Mapping[str, ModuleType]) -> Iterator[None]:
    """Make ``deps`` (repository id -> loaded kernel) what :func:`get_kernel_dep` returns inside the block."""
    token = _KERNEL_DEPS.set(dict(deps))
    try:
        yield
    finally:
        _KERNEL_DEPS.reset(token)


def get_kernel_dep(repo_id: str) -> ModuleType:
    """The loaded dependency ``repo_id`` of the kernel being imported; ``RuntimeError`` otherwise."""
    deps = _KERNEL_DEPS.get()
    if deps is None:
        raise RuntimeError("`get_kernel_dep` only works during kernel loading.")
    module = deps.get(repo_id)
    if module is None:
        raise RuntimeError(f"Dependency '{repo_id}' not found in kernel dependencies. "
                           "Ensure the dependency is added to `kernel-deps` in build.toml.")
    return module


__all__ = ["get_kernel_dep", "use_kernel_deps"]
