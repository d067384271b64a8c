"""kernel-builder init end to end: scaffold -> build -> load -> the scaffold's own tests.

The CPU scaffold is built once per session. The CUDA scaffold is compiled too
when KB_TEST_CUDA_COMPILE=1 and /work/venv-cu (a CUDA build of Torch with
kernel-builder installed) exists; nvcc is taken from /usr/local/cuda/bin.
"""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
import types
from dataclasses import dataclass
from pathlib import Path

import pytest
import torch

import kernels
from e2e_support import run_kernel_builder
from kernel_builder.build.local import make_import_root

NAME = "sq-kernel"
MODULE = "sq_kernel"


@dataclass(frozen=True)
class InitBuild:
    kernel_dir: Path
    variant_dir: Path
    init_output: str
    build_output: str


@pytest.fixture(scope="session")
def init_build(tmp_path_factory: pytest.TempPathFactory, build_cache: dict[str, str]) -> InitBuild:
    """`kernel-builder init --backends cpu` in an empty directory, then `kernel-builder build`."""
    workdir = tmp_path_factory.mktemp("init-e2e")
    init = run_kernel_builder("init", "--name", f"e2e-org/{NAME}", "--backends", "cpu", cwd=workdir, env=build_cache)
    kernel_dir = workdir / NAME
    build = run_kernel_builder("build", "--local", str(kernel_dir), env=build_cache)
    variants = sorted(p for p in (kernel_dir / "build").iterdir() if p.is_dir())
    assert len(variants) == 1, variants
    return InitBuild(kernel_dir, variants[0], init.stdout, build.stdout + build.stderr)


def test_init_reports_the_project(init_build: InitBuild) -> None:
    assert f"Initialized `e2e-org/{NAME}` at {init_build.kernel_dir}" in init_build.init_output
    assert "(backends: cpu)" in init_build.init_output


def test_build_produces_the_cpu_variant(init_build: InitBuild) -> None:
    variant = init_build.variant_dir
    assert variant.name.startswith("torch") and "-cpu-" in variant.name
    assert f"Built variant {variant.name}" in init_build.build_output
    names = {p.name for p in variant.iterdir()}
    assert {"__init__.py", "_ops.py", "layers.py", "metadata.json"} <= names
    assert MODULE not in names  # issue 16: no re-export package inside the variant
    assert any(n.startswith(f"_{MODULE}_cpu_") and n.endswith(".so") for n in names)
    metadata = json.loads((variant / "metadata.json").read_text())
    assert metadata["name"] == NAME
    assert metadata["backend"] == {"type": "cpu"}
    assert metadata["license"] == "Apache-2.0"


def test_card_is_filled(init_build: InitBuild) -> None:
    card = (init_build.kernel_dir / "build" / "CARD.md").read_text()
    assert "{{" not in card
    assert f'get_kernel("e2e-org/{NAME}", version=1)' in card
    assert f"- `{MODULE}`" in card and "- `SqKernel`" in card


def test_loaded_kernel_matches_reference(init_build: InitBuild) -> None:
    kernel = kernels.get_local_kernel(init_build.kernel_dir)
    fn = getattr(kernel, MODULE)
    for dtype in (torch.float32, torch.float64, torch.float16, torch.bfloat16):
        x = torch.randn(1031, 7, dtype=dtype)
        torch.testing.assert_close(fn(x), x * x)
    x = torch.randn(100)
    out = torch.empty_like(x)
    assert fn(x, out=out) is out
    torch.testing.assert_close(out, x * x)
    torch.testing.assert_close(kernel.layers.SqKernel()(x), x * x)
    y = torch.randn(8, 9).t()  # non-contiguous input
    torch.testing.assert_close(fn(y), y * y)
    with pytest.raises(RuntimeError, match="same shape"):
        fn(torch.randn(4), out=torch.empty(5))
    assert kernel.ops is getattr(torch.ops, json.loads((init_build.variant_dir / "metadata.json").read_text())["id"])


def test_scaffold_tests_pass_against_the_build(init_build: InitBuild) -> None:
    root = make_import_root(init_build.variant_dir, MODULE, init_build.kernel_dir.parent / "import-root")
    env = dict(os.environ, PYTHONPATH=str(root))
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-m", "kernels_ci", "-p", "no:cacheprovider", "tests"],
        cwd=init_build.kernel_dir, env=env, capture_output=True, text=True,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    summary = result.stdout.strip().splitlines()[-1]
    assert " passed" in summary and "failed" not in summary and "error" not in summary, summary


def test_example_runs(init_build: InitBuild) -> None:
    result = subprocess.run([sys.executable, "example.py"], cwd=init_build.kernel_dir, capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert f"{NAME} on cpu: output matches the reference" in result.stdout


def test_benchmark_workloads_verify(init_build: InitBuild, monkeypatch: pytest.MonkeyPatch) -> None:
    """Run each benchmark workload once by hand: setup, benchmark, compare with verify."""
    try:
        from kernels.benchmark import Benchmark  # noqa: F401
    except ImportError:  # the runner is not part of this checkout yet: a stand-in base class
        stub = types.ModuleType("kernels.benchmark")
        stub.Benchmark = type("Benchmark", (), {})  # type: ignore[attr-defined]
        monkeypatch.setitem(sys.modules, "kernels.benchmark", stub)
    path = init_build.kernel_dir / "benchmarks" / "benchmark.py"
    spec = importlib.util.spec_from_file_location("init_e2e_benchmark", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    cls = module.SqKernelBenchmark
    bench = cls.__new__(cls)
    bench.kernel = kernels.get_local_kernel(init_build.kernel_dir)
    bench.device = "cpu"
    workloads = sorted(n[len("benchmark_"):] for n in dir(cls) if n.startswith("benchmark_"))
    assert workloads == ["large", "medium_half", "small"]
    for workload in workloads:
        torch.manual_seed(cls.seed)
        getattr(bench, f"setup_{workload}")()
        getattr(bench, f"benchmark_{workload}")()
        torch.testing.assert_close(bench.out, getattr(bench, f"verify_{workload}")())


def test_check_config_accepts_the_scaffold(init_build: InitBuild, build_cache: dict[str, str]) -> None:
    result = run_kernel_builder("check-config", str(init_build.kernel_dir), env=build_cache)
    assert "OK" in result.stdout and "1 kernel section(s)" in result.stdout


# --------------------------------------------------------------------------
# The CUDA scaffold, compiled with a CUDA build of Torch (opt-in).

VENV_CU = Path("/work/venv-cu")


@pytest.mark.cuda
@pytest.mark.skipif(not ((VENV_CU / "bin" / "python").exists() and os.environ.get("KB_TEST_CUDA_COMPILE") == "1"),
                    reason="set KB_TEST_CUDA_COMPILE=1 with /work/venv-cu present to compile the CUDA scaffold")
def test_cuda_scaffold_compiles(tmp_path: Path, build_cache: dict[str, str]) -> None:
    env = dict(build_cache, PATH=f"/usr/local/cuda/bin{os.pathsep}{os.environ.get('PATH', '')}")
    python = str(VENV_CU / "bin" / "python")
    subprocess.run([python, "-m", "kernel_builder", "init", "--name", "e2e-org/cu-kernel", "--backends", "cuda"],
                   cwd=tmp_path, env=env, check=True, capture_output=True, text=True)
    kernel_dir = tmp_path / "cu-kernel"
    result = subprocess.run([python, "-m", "kernel_builder", "build", "--local", str(kernel_dir)],
                            env=env, capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr
    (variant,) = [p for p in (kernel_dir / "build").iterdir() if p.is_dir()]
    assert "-cu" in variant.name
    metadata = json.loads((variant / "metadata.json").read_text())
    assert metadata["backend"]["type"] == "cuda" and metadata["backend"]["archs"]
    assert any(p.name.startswith("_cu_kernel_cuda_") and p.suffix == ".so" for p in variant.iterdir())
