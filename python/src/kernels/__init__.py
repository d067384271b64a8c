"""Load compute kernels built with ``kernel-builder`` from the Hub or a local build.

Importing this package is cheap: Torch is only imported when a kernel is
resolved or loaded.
"""

from importlib import metadata as _importlib_metadata

from .hub import (
    UntrustedPublisherError,
    get_kernel,
    get_kernel_variants,
    has_kernel,
)
from .layer import (
    CUDAProperties,
    Device,
    FuncRepository,
    KernelizeFallback,
    KernelizedFunc,
    KernelizedLayer,
    KernelizedLayers,
    LayerRepository,
    LocalFuncRepository,
    LocalLayerRepository,
    LockedFuncRepository,
    LockedLayerRepository,
    Mode,
    ROCMProperties,
    get_kernelized_layers,
    kernelize,
    register_kernel_mapping,
    replace_kernel_forward_from_hub,
    use_kernel_forward_from_hub,
    use_kernel_func_from_hub,
    use_kernel_mapping,
    use_kernelized_func,
)
from .loader import LoadedKernel, RepoInfo, get_loaded_kernels, get_local_kernel
from .locking import get_locked_kernel, load_kernel
from .metadata import Metadata
from .selection import Decision, VariantAccepted, VariantRejected

try:
    __version__ = _importlib_metadata.version("kernels")
except _importlib_metadata.PackageNotFoundError:  # Running from a source checkout.
    __version__ = "0.17.2"



#: Public names imported on first use, so that ``import kernels`` stays cheap.
_LAZY = {
    "Benchmark": "kernels.benchmark",
    "get_kernel_dep": "kernels.kernel_deps",
    "install_kernel": "kernels.install",
    # The not-found errors subclass huggingface_hub's: `import kernels` does not import huggingface_hub.
    "KernelNotFoundError": "kernels.hub.notfound",
    "KernelRevisionNotFoundError": "kernels.hub.notfound",
}


def __getattr__(name: str):
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    import importlib

    return getattr(importlib.import_module(module), name)


__all__ = [
    "Benchmark",
    "CUDAProperties",
    "Decision",
    "Device",
    "FuncRepository",
    "KernelNotFoundError",
    "KernelRevisionNotFoundError",
    "KernelizeFallback",
    "KernelizedFunc",
    "KernelizedLayer",
    "KernelizedLayers",
    "LayerRepository",
    "LoadedKernel",
    "LocalFuncRepository",
    "LocalLayerRepository",
    "LockedFuncRepository",
    "LockedLayerRepository",
    "Metadata",
    "Mode",
    "ROCMProperties",
    "RepoInfo",
    "UntrustedPublisherError",
    "VariantAccepted",
    "VariantRejected",
    "__version__",
    "get_kernel",
    "get_kernel_dep",
    "get_kernel_variants",
    "get_kernelized_layers",
    "get_loaded_kernels",
    "get_local_kernel",
    "get_locked_kernel",
    "has_kernel",
    "install_kernel",
    "kernelize",
    "load_kernel",
    "register_kernel_mapping",
    "replace_kernel_forward_from_hub",
    "use_kernel_forward_from_hub",
    "use_kernel_func_from_hub",
    "use_kernel_mapping",
    "use_kernelized_func",
]
