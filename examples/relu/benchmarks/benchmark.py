"""Benchmarks for the relu kernel, run with `kernels benchmark <kernel>`.

Each `benchmark_<workload>` method is timed by the runner. The matching
`setup_<workload>` method prepares the inputs beforehand, and
`verify_<workload>` returns the reference result that the runner compares
with `self.out` (and times to report a speedup).
"""

import torch

from kernels.benchmark import Benchmark


class ReluBenchmark(Benchmark):
    seed = 0
    # The runner sets the device for the backend it selected; this default
    # only matters when the class is used outside of the runner.
    device = "cuda" if torch.cuda.is_available() else "cpu"

    def _prepare(self, rows: int, cols: int, dtype: torch.dtype) -> None:
        self.x = torch.randn(rows, cols, device=self.device, dtype=dtype)
        self.out = torch.empty_like(self.x)

    # small: 64K elements
    def setup_small(self) -> None:
        self._prepare(64, 1024, torch.float32)

    def benchmark_small(self) -> None:
        self.kernel.relu(self.x, out=self.out)

    def verify_small(self) -> torch.Tensor:
        return torch.relu(self.x)

    # medium: 4M elements
    def setup_medium(self) -> None:
        self._prepare(1024, 4096, torch.float32)

    def benchmark_medium(self) -> None:
        self.kernel.relu(self.x, out=self.out)

    def verify_medium(self) -> torch.Tensor:
        return torch.relu(self.x)

    # large: 32M elements
    def setup_large(self) -> None:
        self._prepare(8192, 4096, torch.float32)

    def benchmark_large(self) -> None:
        self.kernel.relu(self.x, out=self.out)

    def verify_large(self) -> torch.Tensor:
        return torch.relu(self.x)

    # half precision, with a row length that is not a multiple of the
    # vector width used by the CUDA kernel.
    def setup_medium_half(self) -> None:
        self._prepare(1023, 4097, torch.float16)

    def benchmark_medium_half(self) -> None:
        self.kernel.relu(self.x, out=self.out)

    def verify_medium_half(self) -> torch.Tensor:
        return torch.relu(self.x)
