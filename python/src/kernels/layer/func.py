"""Upstream's ``kernels.layer.func`` import path: the function repositories and ``use_kernel_func_from_hub``.

They are defined in ``repos`` and ``extensible``; code written against
upstream (``from kernels.layer.func import LockedFuncRepository``) imports
them from here.
"""

from .extensible import use_kernel_func_from_hub
from .repos import FuncRepository, LocalFuncRepository, LockedFuncRepository

__all__ = ["FuncRepository", "LocalFuncRepository", "LockedFuncRepository", "use_kernel_func_from_hub"]
