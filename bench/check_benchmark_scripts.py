"""Run every workload of a kernel's benchmarks/benchmark*.py and verify it.

    python bench/check_benchmark_scripts.py examples/activation examples/rmsnorm

With a `kernels` that has the benchmark runner (`kernels benchmark`), this
runs `kernels benchmark <dir> --warmup 2 --iterations 10` for each project
(the runner checks every output). Otherwise it does what the runner does
before timing: for each
`kernels.benchmark.Benchmark` subclass and each `benchmark_<w>` method, it
seeds, calls `setup_<w>()` (or `setup()`), runs `benchmark_<w>()` and
compares `self.out` with `verify_<w>()` using `torch.allclose(..., atol=1e-2)`.
The kernel is loaded with `kernels.get_local_kernel` from the project's
`build/` directory. When the installed `kernels` has no `kernels.benchmark`
module, a minimal `Benchmark` base class stands in for it.
"""

from __future__ import annotations

import importlib.util
import inspect
import random
import sys
import types
from pathlib import Path

import torch


def _ensure_benchmark_module() -> type:
    try:
        from kernels.benchmark import Benchmark  # type: ignore[import-not-found]

        return Benchmark
    except ImportError:
        pass

    class Benchmark:  # noqa: D401 - stand-in with the upstream interface
        """Stand-in for kernels.benchmark.Benchmark."""

        seed = None
        kernel = None
        device = "cuda" if torch.cuda.is_available() else "cpu"

        def setup(self) -> None:
            pass

    module = types.ModuleType("kernels.benchmark")
    module.Benchmark = Benchmark
    sys.modules["kernels.benchmark"] = module
    import kernels

    kernels.benchmark = module  # type: ignore[attr-defined]
    return Benchmark


def check(kernel_dir: Path, device: str) -> list[str]:
    from kernels import get_local_kernel

    base = _ensure_benchmark_module()
    kernel = get_local_kernel(kernel_dir)
    failures = []
    scripts = sorted((kernel_dir / "benchmarks").glob("benchmark*.py"))
    if not scripts:
        return [f"{kernel_dir}: no benchmarks/benchmark*.py"]
    for script in scripts:
        spec = importlib.util.spec_from_file_location(f"_bench_{kernel_dir.name}_{script.stem}", script)
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        classes = [c for _, c in inspect.getmembers(module, inspect.isclass)
                   if issubclass(c, base) and c is not base and c.__module__ == module.__name__
                   and any(n.startswith("benchmark_") for n in dir(c))]
        if not classes:
            failures.append(f"{script}: no Benchmark subclass with workloads")
        for cls in classes:
            for method in sorted(n for n in dir(cls) if n.startswith("benchmark_")):
                workload = method[len("benchmark_"):]
                instance = cls()
                instance.kernel = kernel
                instance.device = device
                if instance.seed is not None:
                    torch.manual_seed(instance.seed)
                    random.seed(instance.seed)
                (getattr(instance, f"setup_{workload}", None) or instance.setup)()
                getattr(instance, method)()
                if device == "cuda":
                    torch.cuda.synchronize()
                verify = getattr(instance, f"verify_{workload}", None)
                name = f"{kernel_dir.name}: {cls.__name__}.{workload}"
                if verify is None:
                    print(f"{name}: ran (no verify)")
                    continue
                ref = verify()
                ok = bool(torch.allclose(instance.out, ref, atol=1e-2))
                diff = (instance.out.double() - ref.double()).abs().max().item() if ref.numel() else 0.0
                print(f"{name}: {'ok' if ok else 'MISMATCH'} (max abs diff {diff:.3g}, "
                      f"{tuple(instance.out.shape)} {instance.out.dtype})")
                if not ok:
                    failures.append(name)
    return failures


def run_with_kernels_benchmark(kernel_dir: Path) -> list[str]:
    from kernels.benchmark import run_benchmark  # type: ignore[import-not-found]

    try:
        run_benchmark(str(kernel_dir), warmup=2, iterations=10, progress=False)
    except Exception as e:  # noqa: BLE001 - report and go on with the next project
        print(f"{kernel_dir.name}: kernels benchmark failed: {type(e).__name__}: {e}")
        return [kernel_dir.name]
    return []


def main(argv: list[str]) -> int:
    if not argv:
        print(__doc__)
        return 2
    device = "cuda" if torch.cuda.is_available() else "cpu"
    try:
        from kernels.benchmark import run_benchmark  # type: ignore[import-not-found]  # noqa: F401

        have_runner = True
    except ImportError:
        have_runner = False
    failures = []
    for arg in argv:
        if have_runner:
            failures += run_with_kernels_benchmark(Path(arg).resolve())
        else:
            failures += check(Path(arg).resolve(), device)
    if failures:
        print("failed: " + ", ".join(failures))
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
