"""The public surface of ``import kernels``."""

from __future__ import annotations

import subprocess
import sys

import kernels


def test_public_api() -> None:
    assert sorted(kernels.__all__) == sorted([
        "LoadedKernel", "Metadata", "RepoInfo", "__version__", "get_kernel", "get_loaded_kernels",
        "get_local_kernel", "has_kernel",
    ])
    assert kernels.__version__ == "0.17.0"


def test_import_does_not_import_torch() -> None:
    code = "import sys, kernels; print('torch' in sys.modules)"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.split() == ["False"]
