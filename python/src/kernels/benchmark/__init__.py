"""Benchmark kernels with the scripts they ship in ``benchmarks/``.

A kernel repository (or local kernel project) carries benchmark scripts in
``benchmarks/benchmark*.py``. Each script defines one or more subclasses of
:class:`Benchmark`; ``kernels benchmark`` (or :func:`run_benchmark`) loads
the kernel, runs every ``benchmark_<workload>`` method with device-synchronised
timers, checks the kernel's output against ``verify_<workload>`` and reports
the timings with confidence intervals. See ``docs/benchmark.md``.

Importing this module is cheap: Torch is only imported when benchmarks run.
"""

from __future__ import annotations

from typing import Any, Optional


class Benchmark:
    """Base class of benchmark scripts.

    For every method ``benchmark_<workload>`` of a subclass, the runner

    1. creates a fresh instance and sets :attr:`kernel` (the loaded kernel
       module) and :attr:`device` (``"cuda"``, ``"cpu"``, ``"mps"``, ...),
    2. seeds Python's and Torch's random number generators with :attr:`seed`
       (unless it is ``None``),
    3. calls ``setup_<workload>()`` if the class has it, else :meth:`setup`,
    4. if ``verify_<workload>()`` exists: runs the workload once, compares
       :attr:`out` with the tensor ``verify_<workload>()`` returns
       (``torch.allclose(out, ref, atol=1e-2)``) and times the reference like
       the kernel to report a speedup,
    5. warms up and times ``benchmark_<workload>()``.

    Example::

        class ActivationBenchmark(Benchmark):
            seed = 0

            def setup(self):
                self.x = torch.randn(128, 1024, device=self.device, dtype=torch.float16)
                self.out = torch.empty(128, 512, device=self.device, dtype=torch.float16)

            def benchmark_silu_and_mul(self):
                self.kernel.silu_and_mul(self.out, self.x)

            def verify_silu_and_mul(self):
                return torch.nn.functional.silu(self.x[..., :512]) * self.x[..., 512:]
    """

    #: Seed for ``random`` and ``torch`` before each workload's setup; ``None`` leaves them alone.
    seed: Optional[int] = None
    #: Torch device of the loaded kernel; set by the runner.
    device: str = "cpu"

    def __init__(self) -> None:
        #: The kernel module under test; set by the runner.
        self.kernel: Any = None
        #: Output of the workload that ``verify_<workload>`` is compared with.
        self.out: Any = None

    def setup(self) -> None:
        """Prepare inputs (as attributes) for workloads without their own ``setup_<workload>``."""


from .runner import (  # noqa: E402 - Benchmark must exist before the runner imports it
    BenchmarkError,
    BenchmarkReport,
    BenchmarkTarget,
    WorkloadResult,
    parse_target,
    run_benchmark,
)

__all__ = [
    "Benchmark",
    "BenchmarkError",
    "BenchmarkReport",
    "BenchmarkTarget",
    "WorkloadResult",
    "parse_target",
    "run_benchmark",
]
