"""examples/relu end to end: build.toml -> kernel-builder build -> build/<variant> -> kernels loader."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

import kernels
import kernels.integrity
from kernel_builder.build import local as local_build
from kernel_builder.config import load_config
from kernel_builder.errors import KernelBuilderError
from kernel_builder.build.local import BuildOptions, build_local, make_import_root

from e2e_support import BuiltKernel, copy_example, run_kernel_builder


def test_build_reports_variant_and_that_the_matrix_needs_nix(relu_build: BuiltKernel) -> None:
    assert f"Built variant {relu_build.variant_dir.name}" in relu_build.output
    assert "full variant matrix needs Nix" in relu_build.output
    assert "host toolchain" in relu_build.output


def test_variant_directory_layout(relu_build: BuiltKernel) -> None:
    variant = relu_build.variant_dir
    names = sorted(p.name for p in variant.iterdir())
    extension = f"_relu_cpu_{relu_build.unique_id}.abi3.so"
    # Issue 16: no relu/ re-export package.
    assert names == sorted(["__init__.py", "_ops.py", "layers.py", "metadata.json", extension])
    assert not list(variant.rglob("__pycache__")) and not list(variant.rglob("*.pyc"))
    # Only the finished variant and the card are in build/: no temporary directories.
    assert sorted(p.name for p in variant.parent.iterdir()) == ["CARD.md", variant.name]
    ops = (variant / "_ops.py").read_text()
    assert f"torch.ops._relu_cpu_{relu_build.unique_id}" in ops
    assert "def add_op_namespace_prefix" in ops


def test_metadata_json(relu_build: BuiltKernel) -> None:
    metadata = json.loads((relu_build.variant_dir / "metadata.json").read_text())
    # The digest of every file of the variant, as upstream's current builder records it (issue 17).
    digest = metadata.pop("digest")
    assert digest == kernels.integrity.hash_variant(relu_build.variant_dir).to_dict()
    assert digest["algorithm"] == "sha256" and "__init__.py" in digest["files"]
    assert metadata == {
        "id": f"_relu_cpu_{relu_build.unique_id}",
        "name": "relu",
        "version": 1,
        "license": "Apache-2.0",
        "backend": {"type": "cpu"},
        "python-depends": [],  # Always written: kernels 0.17.x (upstream) requires it.
    }
    assert kernels.Metadata.load(relu_build.variant_dir / "metadata.json").id == metadata["id"]


def test_card_is_filled_from_card_md(relu_build: BuiltKernel) -> None:
    card = (relu_build.kernel_dir / "build" / "CARD.md").read_text()
    assert "{{" not in card
    assert "kernels-test/relu" in card
    assert "`relu`" in card and "`ReLU`" in card


def test_get_local_kernel_matches_torch_relu(relu_build: BuiltKernel) -> None:
    relu = kernels.get_local_kernel(relu_build.kernel_dir)
    for dtype in (torch.float32, torch.float16, torch.bfloat16):
        x = torch.randn(1031, 7, dtype=dtype)
        torch.testing.assert_close(relu.relu(x), torch.relu(x), rtol=0, atol=0)
    x = torch.randn(64)
    assert torch.equal(relu.layers.ReLU()(x), torch.relu(x))
    loaded = [k for k in kernels.get_loaded_kernels() if k.module is relu]
    assert len(loaded) == 1 and loaded[0].repo_info is None
    assert loaded[0].metadata.id == f"_relu_cpu_{relu_build.unique_id}"


def test_two_builds_load_side_by_side(relu_build: BuiltKernel, relu_build_other: BuiltKernel) -> None:
    first = kernels.get_local_kernel(relu_build.kernel_dir)
    second = kernels.get_local_kernel(relu_build_other.kernel_dir)
    assert first is not second
    assert first.__name__ != second.__name__
    assert hasattr(torch.ops, "_relu_cpu_first") and hasattr(torch.ops, "_relu_cpu_second")
    assert first.ops is torch.ops._relu_cpu_first
    assert second.ops is torch.ops._relu_cpu_second
    x = torch.randn(100)
    assert torch.equal(first.relu(x), second.relu(x))


def test_compat_package_exports_the_same_symbols(relu_build: BuiltKernel) -> None:
    code = (
        "import sys, torch; sys.path.insert(0, sys.argv[1]); import relu; "
        "x = torch.randn(10); assert torch.equal(relu.relu(x), torch.relu(x)); "
        "print(sorted(relu.__all__))"
    )
    # Issue 16: no re-export package in the variant; a directory linking relu -> the variant imports it.
    root = make_import_root(relu_build.variant_dir, "relu", relu_build.kernel_dir.parent / "relu-import-root")
    result = subprocess.run([sys.executable, "-c", code, str(root)],
                            capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "['layers', 'relu']"


def test_local_kernels_variable_maps_repo_to_build(relu_build: BuiltKernel) -> None:
    code = (
        "import torch, kernels; k = kernels.get_kernel('kernels-test/relu', version=1); "
        "x = torch.randn(8); assert torch.equal(k.relu(x), torch.relu(x)); print('ok')"
    )
    env = dict(os.environ, LOCAL_KERNELS=f"kernels-test/relu={relu_build.kernel_dir}")
    result = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "ok"


def test_example_kernel_tests_pass_against_the_build(relu_build: BuiltKernel) -> None:
    """The kernel's own kernels_ci tests run with the variant on sys.path."""
    root = make_import_root(relu_build.variant_dir, "relu", relu_build.kernel_dir.parent / "relu-import-root")
    env = dict(os.environ, PYTHONPATH=str(root))
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-m", "kernels_ci", "-p", "no:cacheprovider",
         str(relu_build.kernel_dir / "tests")],
        cwd=relu_build.kernel_dir, env=env, capture_output=True, text=True,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert " passed" in result.stdout


def test_failed_build_keeps_the_previous_build(relu_build: BuiltKernel, tmp_path: Path,
                                               build_cache: dict[str, str]) -> None:
    kernel_dir = copy_example("relu", tmp_path)
    build_dir = kernel_dir / "build"
    previous = build_dir / relu_build.variant_dir.name
    # Pretend an earlier build exists.
    import shutil

    shutil.copytree(relu_build.variant_dir, previous)
    before = sorted(p.relative_to(build_dir) for p in build_dir.rglob("*"))
    (kernel_dir / "relu_cpu" / "relu_cpu.cpp").write_text("this is not C++;\n")
    result = run_kernel_builder("build", str(kernel_dir), "--unique-id", "broken", env=build_cache, check=False)
    assert result.returncode != 0
    assert "error: building" in result.stderr and "failed" in result.stderr
    assert "Traceback" not in result.stderr
    assert sorted(p.relative_to(build_dir) for p in build_dir.rglob("*")) == before


def test_interrupted_build_leaves_no_half_written_variant(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    kernel_dir = copy_example("relu", tmp_path)
    config = load_config(kernel_dir)

    def interrupted(*args: object, **kwargs: object) -> None:
        staging = args[5]
        (staging / "half-written.py").write_text("")
        raise KeyboardInterrupt

    monkeypatch.setattr(local_build, "_build_extension", interrupted)
    with pytest.raises(KeyboardInterrupt):
        build_local(config, BuildOptions(unique_id="x"))
    assert not (kernel_dir / "build").exists()


def test_build_refuses_a_variant_it_cannot_build(tmp_path: Path) -> None:
    kernel_dir = copy_example("relu", tmp_path)
    result = run_kernel_builder("build", str(kernel_dir), "--variant", "torch211-cxx11-cu126-x86_64-linux",
                                check=False)
    assert result.returncode == 1
    assert result.stderr.strip().splitlines()[-1].startswith("error: --variant:")
    assert not (kernel_dir / "build").exists()


def test_build_with_bad_config_writes_nothing(tmp_path: Path) -> None:
    kernel_dir = copy_example("relu", tmp_path)
    toml = kernel_dir / "build.toml"
    toml.write_text(toml.read_text().replace('backend = "cpu"', 'backend = "cpu"\nfoo = 1', 1))
    result = run_kernel_builder("build", str(kernel_dir), check=False)
    assert result.returncode == 1
    assert result.stderr.strip() == f"error: {toml}: kernel.relu_cpu.foo: unknown key (expected one of: " \
        "backend, cxx-flags, depends, include, src)"
    assert not (kernel_dir / "build").exists()
