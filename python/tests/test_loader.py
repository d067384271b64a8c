"""Variant selection and importing variant directories."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Callable

import pytest
import torch

import kernels
from kernels.loader import (
    LoadedKernel,
    RepoInfo,
    VariantNotFoundError,
    get_loaded_kernels,
    get_local_kernel,
    import_variant,
    select_variant,
)
from kernels.metadata import MetadataError
from kernels.variants import current_variant

FakeVariant = Callable[..., Path]

CUDA_VARIANT = "torch211-cxx11-cu126-x86_64-linux"


def executions(variant_dir: Path) -> int:
    return len((variant_dir / "executions.log").read_text().splitlines())


# --- select_variant ---------------------------------------------------------


@pytest.mark.parametrize(
    ("present", "expected"),
    [
        (["ARCH", "torch-cpu", "torch-universal"], "ARCH"),
        (["torch-cpu", "torch-universal"], "torch-cpu"),
        (["torch-universal", CUDA_VARIANT], "torch-universal"),
    ],
)
def test_select_variant_prefers_arch_then_backend_then_universal(
    tmp_path: Path, arch_variant: str, present: list[str], expected: str
) -> None:
    for name in present:
        (tmp_path / name.replace("ARCH", arch_variant)).mkdir()
    chosen = select_variant(tmp_path, backend="cpu")
    assert chosen == tmp_path / expected.replace("ARCH", arch_variant)


def test_select_variant_default_backend_is_torchs(tmp_path: Path) -> None:
    (tmp_path / current_variant()).mkdir()
    (tmp_path / "torch-universal").mkdir()
    assert select_variant(tmp_path) == tmp_path / current_variant()


def test_select_variant_ignores_files_named_like_variants(tmp_path: Path) -> None:
    (tmp_path / "torch-cpu").write_text("not a directory")
    (tmp_path / "torch-universal").mkdir()
    assert select_variant(tmp_path, backend="cpu").name == "torch-universal"


def test_missing_variant_lists_accepted_and_found(tmp_path: Path, arch_variant: str) -> None:
    (tmp_path / CUDA_VARIANT).mkdir()
    (tmp_path / "torch-xpu").mkdir()
    (tmp_path / "not-a-variant").mkdir()
    with pytest.raises(VariantNotFoundError) as info:
        select_variant(tmp_path, backend="cpu")
    assert isinstance(info.value, FileNotFoundError)
    assert str(info.value) == (
        f"no build variant for this environment in {tmp_path}: accepted variants are "
        f"{arch_variant}, torch-cpu, torch-universal; found torch-xpu, {CUDA_VARIANT}"
    )


def test_missing_build_dir_reports_none_found(tmp_path: Path) -> None:
    with pytest.raises(VariantNotFoundError, match=r"; found none$"):
        select_variant(tmp_path / "absent", backend="cpu")


@pytest.mark.skipif(torch.version.cuda is not None, reason="needs a CPU-only Torch")
def test_unavailable_backend_is_rejected(fake_variant: FakeVariant, arch_variant: str) -> None:
    variant = fake_variant(arch_variant)
    for call in (lambda: select_variant(variant.parent, backend="cuda"),
                 lambda: get_local_kernel(variant.parent.parent, backend="cuda"),
                 lambda: get_local_kernel(variant, backend="cuda")):
        with pytest.raises(ValueError, match=r"^backend 'cuda' is not available: Torch .* built for 'cpu'; use 'cpu'$"):
            call()
    assert get_loaded_kernels() == []


# --- import_variant and get_local_kernel -------------------------------------


def test_local_kernel_relative_imports_and_registry(fake_variant: FakeVariant, arch_variant: str) -> None:
    variant = fake_variant(arch_variant)
    module = get_local_kernel(variant.parent.parent, backend="cpu")
    assert module.double(21) == 42
    assert module.VARIANT == arch_variant
    assert module._impl.__name__ == f"{module.__name__}._impl"
    assert sys.modules[module.__name__] is module
    assert module.__name__.startswith("fake_kernel_") and module.__name__ != "fake_kernel"
    [loaded] = get_loaded_kernels()
    assert loaded == LoadedKernel(metadata=kernels.Metadata.load(variant / "metadata.json"), module=module,
                                  repo_info=None)


def test_project_build_and_variant_paths_load_one_module(fake_variant: FakeVariant, arch_variant: str) -> None:
    variant = fake_variant(arch_variant)
    fake_variant("torch-universal")
    from_project = get_local_kernel(variant.parent.parent, backend="cpu")
    from_build = get_local_kernel(variant.parent, backend="cpu")
    from_variant = get_local_kernel(variant, backend="cpu")
    assert from_project is from_build is from_variant
    assert from_project.VARIANT == arch_variant
    assert executions(variant) == 1
    assert len(get_loaded_kernels()) == 1


def test_variant_dir_is_loaded_even_if_not_preferred(fake_variant: FakeVariant, arch_variant: str) -> None:
    fake_variant(arch_variant)
    universal = fake_variant("torch-universal")
    assert get_local_kernel(universal, backend="cpu").VARIANT == "torch-universal"


def test_same_path_is_imported_once(fake_variant: FakeVariant, arch_variant: str, tmp_path: Path) -> None:
    variant = fake_variant(arch_variant)
    first = import_variant(variant)
    # A different spelling of the same directory resolves to the same module.
    again = import_variant(tmp_path / "kernel" / "build" / ".." / "build" / arch_variant)
    assert first is again
    assert executions(variant) == 1
    assert len(get_loaded_kernels()) == 1


def test_two_builds_load_side_by_side(fake_variant: FakeVariant, arch_variant: str, tmp_path: Path) -> None:
    first_dir = fake_variant(arch_variant, root=tmp_path / "one")
    second_dir = fake_variant(arch_variant, root=tmp_path / "two")
    (second_dir / "_helpers.py").write_text("FACTOR = 3\n")
    first = get_local_kernel(tmp_path / "one", backend="cpu")
    second = get_local_kernel(tmp_path / "two", backend="cpu")
    assert first is not second
    assert first.__name__ != second.__name__
    assert first._impl is not second._impl
    assert (first.double(10), second.double(10)) == (20, 30)
    assert executions(first_dir) == executions(second_dir) == 1
    assert {k.module for k in get_loaded_kernels()} == {first, second}


def test_loaded_kernels_is_a_snapshot(fake_variant: FakeVariant, arch_variant: str, tmp_path: Path) -> None:
    before = get_loaded_kernels()
    first = import_variant(fake_variant(arch_variant, root=tmp_path / "one"))
    snapshot = get_loaded_kernels()
    snapshot.clear()
    second = import_variant(fake_variant(arch_variant, root=tmp_path / "two"))
    assert before == [] and snapshot == []
    assert [k.module for k in get_loaded_kernels()] == [first, second]
    assert get_loaded_kernels() is not get_loaded_kernels()


def test_repo_info_is_recorded(fake_variant: FakeVariant, arch_variant: str) -> None:
    variant = fake_variant(arch_variant)
    info = RepoInfo(repo_id="kernels-test/fake", revision="0123abcd")
    module = import_variant(variant, info)
    [loaded] = get_loaded_kernels()
    assert loaded.module is module and loaded.repo_info == info
    with pytest.raises(AttributeError):
        loaded.repo_info = None  # type: ignore[misc]


def test_failed_import_leaves_nothing_behind(fake_variant: FakeVariant, arch_variant: str) -> None:
    variant = fake_variant(arch_variant, init_extra="raise RuntimeError('kernel init failed')\n")
    before = set(sys.modules)
    with pytest.raises(RuntimeError, match="kernel init failed"):
        get_local_kernel(variant, backend="cpu")
    # Neither the package nor its already-imported submodules stay registered.
    assert set(sys.modules) == before
    assert get_loaded_kernels() == []
    # Once fixed, the same directory loads.
    fake_variant(arch_variant)
    assert get_local_kernel(variant, backend="cpu").double(1) == 2


def test_variant_without_init_is_rejected(fake_variant: FakeVariant) -> None:
    variant = fake_variant("torch-universal")
    (variant / "__init__.py").unlink()
    with pytest.raises(FileNotFoundError, match=r"no __init__\.py"):
        import_variant(variant)


def test_missing_kernel_path(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="does not exist"):
        get_local_kernel(tmp_path / "nowhere", backend="cpu")


# --- metadata errors ---------------------------------------------------------


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("{not json", "invalid JSON (Expecting property name enclosed in double quotes at line 1)"),
        (json.dumps({"id": "_x", "name": "x", "version": 1, "backend": {"type": "cpu"}}),
         "missing required key 'license'"),
        (json.dumps({"id": "not-a-module", "name": "x", "version": 1, "license": "MIT", "backend": {"type": "cpu"}}),
         "'id' must be a valid Python module name, got 'not-a-module'"),
    ],
)
def test_metadata_errors_name_the_file(
    fake_variant: FakeVariant, arch_variant: str, content: str, message: str
) -> None:
    variant = fake_variant(arch_variant)
    metadata = variant / "metadata.json"
    metadata.write_text(content)
    with pytest.raises(MetadataError) as info:
        get_local_kernel(variant.parent.parent, backend="cpu")
    assert str(info.value) == f"{metadata.resolve()}: {message}"
    assert not (variant / "executions.log").exists()
    assert get_loaded_kernels() == []


def test_missing_metadata_file(fake_variant: FakeVariant, arch_variant: str) -> None:
    variant = fake_variant(arch_variant)
    (variant / "metadata.json").unlink()
    # Without metadata.json the directory is not a variant; the build dir lookup still finds it.
    with pytest.raises(MetadataError, match=r"metadata\.json: cannot read metadata \(No such file or directory\)"):
        get_local_kernel(variant.parent, backend="cpu")
