"""The public surface of ``import kernels``."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import kernels


def test_public_api() -> None:
    assert sorted(kernels.__all__) == sorted([
        "LoadedKernel", "Metadata", "RepoInfo", "__version__", "get_kernel", "get_loaded_kernels",
        "get_local_kernel", "has_kernel",
        # Hub loading (kernels.hub, kernels.selection).
        "Decision", "KernelNotFoundError", "KernelRevisionNotFoundError", "UntrustedPublisherError",
        "VariantAccepted", "VariantRejected", "get_kernel_variants",
        # Layers (kernels.layer).
        "CUDAProperties", "Device", "FuncRepository", "KernelizeFallback", "LayerRepository",
        "LocalFuncRepository", "LocalLayerRepository", "LockedFuncRepository", "LockedLayerRepository", "Mode",
        "ROCMProperties", "kernelize", "register_kernel_mapping", "replace_kernel_forward_from_hub",
        "use_kernel_forward_from_hub", "use_kernel_func_from_hub", "use_kernel_mapping", "use_kernelized_func",
        "KernelizedFunc", "KernelizedLayer", "KernelizedLayers", "get_kernelized_layers",  # upstream 0.19
        # Locked kernels (kernels.locking).
        "get_locked_kernel", "load_kernel",
        # Upstream 0.17.2's remaining exports (kernels.benchmark, kernels.kernel_deps, kernels.install).
        "Benchmark", "get_kernel_dep", "install_kernel",
    ])
    # The upstream API level we implement: clients such as transformers gate on it.
    pyproject = (Path(__file__).resolve().parents[1] / "pyproject.toml").read_text()
    assert f'\nversion = "{kernels.__version__}"\n' in pyproject
    assert kernels.__version__.startswith("0.17.")


def test_import_does_not_import_torch() -> None:
    code = "import sys, kernels; print('torch' in sys.modules)"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.split() == ["False"]
