"""Kernel layers: make model layers extensible and let ``kernelize`` swap in Hub kernels.

Importing this package does not import Torch; Torch is needed when a kernel
is loaded, a function is made extensible, or a model is kernelized.
"""

from .device import CUDAProperties, Device, ROCMProperties
from .extensible import (
    KernelFunctionError,
    replace_kernel_forward_from_hub,
    use_kernel_forward_from_hub,
    use_kernel_func_from_hub,
    use_kernelized_func,
)
from ._kernelize import DISABLE_KERNEL_MAPPING_ENV, KernelizeError, kernel_mapping_disabled, kernelize
from .kernelized import KernelizedFunc, KernelizedLayer, KernelizedLayers, get_kernelized_layers
from .mapping import register_kernel_mapping, use_kernel_mapping
from .mode import KernelizeFallback, Mode
from .repos import (
    FuncRepository,
    KernelLayerNotFoundError,
    LayerRepository,
    LocalFuncRepository,
    LocalLayerRepository,
    LockedFuncRepository,
    LockedLayerRepository,
)
from .validation import LayerValidationError

__all__ = [
    "CUDAProperties",
    "DISABLE_KERNEL_MAPPING_ENV",
    "Device",
    "FuncRepository",
    "KernelFunctionError",
    "KernelLayerNotFoundError",
    "KernelizeError",
    "KernelizeFallback",
    "KernelizedFunc",
    "KernelizedLayer",
    "KernelizedLayers",
    "LayerRepository",
    "LayerValidationError",
    "LocalFuncRepository",
    "LocalLayerRepository",
    "LockedFuncRepository",
    "LockedLayerRepository",
    "Mode",
    "ROCMProperties",
    "get_kernelized_layers",
    "kernel_mapping_disabled",
    "kernelize",
    "register_kernel_mapping",
    "replace_kernel_forward_from_hub",
    "use_kernel_forward_from_hub",
    "use_kernel_func_from_hub",
    "use_kernel_mapping",
    "use_kernelized_func",
]
