"""Benchmarks for the rms_norm kernel, run with `kernels benchmark <kernel>`.

For each workload `<w>` the runner calls `setup_<w>()`, times
`benchmark_<w>()`, and compares `self.out` with the reference that
`verify_<w>()` returns (`torch.allclose(..., atol=1e-2)`, timing the
reference too to report a speedup).

The reference is transformers' LlamaRMSNorm. The kernel sums the squares in
another order than torch.mean, so a 16-bit result can differ from it by one
unit in the last place; the workloads use float16 and float32, whose last
place stays below the runner's 1e-2 tolerance for these output magnitudes.
"""

import torch

from kernels.benchmark import Benchmark


class RMSNormBenchmark(Benchmark):
    seed = 0
    device = "cuda" if torch.cuda.is_available() else "cpu"
    eps = 1e-6

    def _prepare(self, tokens: int, hidden: int, dtype: torch.dtype) -> None:
        self.x = torch.randn(tokens, hidden, device=self.device, dtype=dtype)
        self.weight = (1 + 0.1 * torch.randn(hidden, device=self.device)).to(dtype)
        self.out = torch.empty_like(self.x)

    def _run(self) -> None:
        self.kernel.rms_norm(self.x, self.weight, self.eps, out=self.out)

    def _reference(self) -> torch.Tensor:
        h = self.x.to(torch.float32)
        variance = h.pow(2).mean(-1, keepdim=True)
        h = h * torch.rsqrt(variance + self.eps)
        return self.weight * h.to(self.x.dtype)

    # A decode batch with Llama-3-8B's hidden size.
    def setup_small(self) -> None:
        self._prepare(64, 4096, torch.float16)

    def benchmark_small(self) -> None:
        self._run()

    def verify_small(self) -> torch.Tensor:
        return self._reference()

    # A prefill of 8K tokens with Llama-3-70B's hidden size.
    def setup_large(self) -> None:
        self._prepare(8192, 8192, torch.float16)

    def benchmark_large(self) -> None:
        self._run()

    def verify_large(self) -> torch.Tensor:
        return self._reference()

    def setup_large_fp32(self) -> None:
        self._prepare(8192, 8192, torch.float32)

    def benchmark_large_fp32(self) -> None:
        self._run()

    def verify_large_fp32(self) -> torch.Tensor:
        return self._reference()

    # A hidden size that is not a multiple of the vector width (scalar path).
    def setup_odd_hidden(self) -> None:
        self._prepare(1024, 5000 + 3, torch.float16)

    def benchmark_odd_hidden(self) -> None:
        self._run()

    def verify_odd_hidden(self) -> torch.Tensor:
        return self._reference()
