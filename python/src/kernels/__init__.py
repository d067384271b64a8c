"""Load compute kernels built with ``kernel-builder`` from the Hub or a local build.

Importing this package is cheap: Torch is only imported when a kernel is
resolved or loaded.
"""

from importlib import metadata as _importlib_metadata

from .hub import get_kernel, has_kernel
from .loader import LoadedKernel, RepoInfo, get_loaded_kernels, get_local_kernel
from .metadata import Metadata

try:
    __version__ = _importlib_metadata.version("kernels")
except _importlib_metadata.PackageNotFoundError:  # Running from a source checkout.
    __version__ = "0.17.0"

__all__ = [
    "LoadedKernel",
    "Metadata",
    "RepoInfo",
    "__version__",
    "get_kernel",
    "get_loaded_kernels",
    "get_local_kernel",
    "has_kernel",
]
