"""``get_kernelized_layers``: which kernel each layer and function of a kernelized model uses now."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from ._kernelize import REPO_ATTR

if TYPE_CHECKING:
    from torch import nn


@dataclass(frozen=True)
class KernelizedLayer:
    """A module whose forward ``kernelize`` replaced, and the repository the kernel came from."""

    module: "nn.Module"
    repo: Any


@dataclass(frozen=True)
class KernelizedFunc:
    """An instance's copy of an extensible function (``use_kernelized_func``) that has a kernel, and its repository."""

    module: "nn.Module"
    repo: Any


@dataclass(frozen=True)
class KernelizedLayers:
    """The kernels a model uses, as upstream reports them.

    ``layers`` is keyed by the module's name in ``model.named_modules()``;
    ``funcs`` by ``(name of the module the function is attached to, function name)``.
    """

    layers: dict[str, KernelizedLayer] = field(default_factory=dict)
    funcs: dict[tuple[str, str], KernelizedFunc] = field(default_factory=dict)


def get_kernelized_layers(model: "nn.Module") -> KernelizedLayers:
    """The layers and functions of ``model`` that run a kernel installed by ``kernelize``, with its repository.

    Modules that kept (or went back to) their original forward are left out.
    """
    result = KernelizedLayers()
    for name, module in model.named_modules():
        repo = module.__dict__.get(REPO_ATTR)
        if repo is not None:
            result.layers[name] = KernelizedLayer(module, repo)
        funcs = getattr(module, "_kernel_funcs", None)
        if isinstance(funcs, dict):
            for func_name, func_module in funcs.items():
                func_repo = getattr(func_module, "__dict__", {}).get(REPO_ATTR)
                if func_repo is not None:
                    result.funcs[(name, func_name)] = KernelizedFunc(func_module, func_repo)
    return result
