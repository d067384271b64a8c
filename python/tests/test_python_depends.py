"""Checking metadata.json python-depends against lib/python-depends.json."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any, Callable

import pytest

from kernels import deps
from kernels.deps import DisallowedDependencyError, MissingDependencyError, check_python_depends
from kernels.loader import get_loaded_kernels, get_local_kernel
from kernels.metadata import Metadata


def metadata(**extra: Any) -> Metadata:
    base = {"id": "_fake_kernel_cpu_0123abc", "name": "fake-kernel", "version": 1, "license": "Apache-2.0",
            "backend": {"type": "cpu"}}
    return Metadata.from_dict({**base, **extra})


@pytest.fixture
def installed(monkeypatch: pytest.MonkeyPatch) -> set[str]:
    """Pretend exactly the modules in the returned set are installed."""
    modules: set[str] = set()

    def find_spec(name: str, package: str | None = None) -> object | None:
        return object() if name in modules else None

    monkeypatch.setattr(deps.importlib.util, "find_spec", find_spec)
    return modules


def test_no_dependencies_pass() -> None:
    check_python_depends(metadata(), "cpu")


def test_allowed_and_installed_dependencies_pass(installed: set[str]) -> None:
    installed.update({"einops", "cutlass"})
    meta = metadata(**{"python-depends": ["einops"],
                       "python-depends-backends": {"cuda": ["nvidia-cutlass-dsl"]}})
    check_python_depends(meta, "cuda")
    check_python_depends(meta, "cpu")


def test_disallowed_general_dependency() -> None:
    meta = metadata(**{"python-depends": ["numpy"]})
    with pytest.raises(DisallowedDependencyError) as info:
        check_python_depends(meta, "cpu")
    assert isinstance(info.value, ValueError)
    assert str(info.value) == (
        "kernel 'fake-kernel' depends on 'numpy', which is not an allowed Python dependency "
        "for all backends (allowed: einops, helion, tvm-ffi)"
    )


def test_disallowed_backend_dependency() -> None:
    meta = metadata(**{"python-depends-backends": {"cuda": ["onednn"]}})
    with pytest.raises(DisallowedDependencyError) as info:
        check_python_depends(meta, "cuda")
    assert str(info.value) == (
        "kernel 'fake-kernel' depends on 'onednn', which is not an allowed Python dependency "
        "for backend 'cuda' (allowed: nvidia-cutlass-dsl)"
    )


def test_backend_without_allowed_dependencies() -> None:
    meta = metadata(**{"python-depends-backends": {"cpu": ["einops"]}})
    with pytest.raises(DisallowedDependencyError, match=r"for backend 'cpu' \(allowed: none\)$"):
        check_python_depends(meta, "cpu")


def test_only_the_active_backend_is_checked(installed: set[str]) -> None:
    meta = metadata(**{"python-depends-backends": {"cuda": ["nvidia-cutlass-dsl"], "xpu": ["not-allowed"]}})
    check_python_depends(meta, "cpu")
    with pytest.raises(MissingDependencyError):
        check_python_depends(meta, "cuda")
    with pytest.raises(DisallowedDependencyError):
        check_python_depends(meta, "xpu")


def test_missing_general_dependency(installed: set[str]) -> None:
    meta = metadata(**{"python-depends": ["einops"]})
    with pytest.raises(MissingDependencyError) as info:
        check_python_depends(meta, "cpu")
    assert isinstance(info.value, ImportError) and info.value.name == "einops"
    assert str(info.value) == (
        "kernel 'fake-kernel' needs the Python package 'einops' (module 'einops' is not installed); "
        "install it with: pip install einops"
    )


def test_missing_backend_dependency_names_the_distribution(installed: set[str]) -> None:
    meta = metadata(**{"python-depends-backends": {"cuda": ["nvidia-cutlass-dsl"]}})
    with pytest.raises(MissingDependencyError, match=r"module 'cutlass' is not installed\); "
                                                     r"install it with: pip install nvidia-cutlass-dsl$"):
        check_python_depends(meta, "cuda")


def test_module_check_does_not_import() -> None:
    sys.modules.pop("this", None)  # `import this` prints the Zen of Python when executed.
    assert deps._module_installed("this")
    assert "this" not in sys.modules
    assert not deps._module_installed("surely_not_an_installed_module_4b1d")


def test_kernel_with_missing_dependency_is_not_imported(
    fake_variant: Callable[..., Path], arch_variant: str, installed: set[str]
) -> None:
    variant = fake_variant(arch_variant, metadata={
        "id": "_fake_kernel_cpu_0123abc", "name": "fake-kernel", "version": 1, "license": "Apache-2.0",
        "backend": {"type": "cpu"}, "python-depends": ["einops"],
    })
    with pytest.raises(MissingDependencyError, match="pip install einops"):
        get_local_kernel(variant.parent.parent, backend="cpu")
    assert not (variant / "executions.log").exists()
    assert get_loaded_kernels() == []
    installed.add("einops")
    assert get_local_kernel(variant.parent.parent, backend="cpu").double(4) == 8



def test_metadata_always_carries_python_depends() -> None:
    """kernels 0.17.x (upstream) refuses a metadata.json without the field, so an empty list is written too."""
    meta = Metadata.from_dict({"id": "_relu_cpu_0", "name": "relu", "version": 1, "license": "Apache-2.0",
                               "backend": {"type": "cpu"}})
    assert meta.to_dict()["python-depends"] == []
    assert Metadata.from_dict(meta.to_dict()) == meta
