"""Benchmarks for the activation kernels, run with `kernels benchmark <kernel>`.

For each workload `<w>` the runner calls `setup_<w>()`, times
`benchmark_<w>()`, and compares `self.out` with the reference that
`verify_<w>()` returns (`torch.allclose(..., atol=1e-2)`, timing the
reference too to report a speedup).

The references are the eager PyTorch expressions models use. The gated
kernels reproduce them (same float32 formulas and rounding steps), so their
workloads use bfloat16. For 16-bit dtypes, `gelu_fast` and `gelu_tanh`
evaluate the tanh through the exponential (see the CUDA source), which can
move a result by one unit in the last place: their 16-bit workloads use
float16, whose last place stays below the runner's 1e-2 tolerance for
these output magnitudes.
"""

import torch
import torch.nn.functional as F

from kernels.benchmark import Benchmark

# (tokens, d, dtype) of the workloads shared by all classes: a decode batch,
# a prefill of 4K tokens with Llama-3-8B's intermediate size, and the same
# in float32.
SMALL = (64, 4096)
LARGE = (4096, 14336)


# The workloads are shared through mixins that do not derive from Benchmark,
# so that the runner only collects the concrete classes below.
class _GatedWorkloads:
    seed = 0
    device = "cuda" if torch.cuda.is_available() else "cpu"
    op = ""

    def _prepare(self, shape, dtype) -> None:
        tokens, d = shape
        self.x = torch.randn(tokens, 2 * d, device=self.device, dtype=dtype)
        self.out = torch.empty(tokens, d, device=self.device, dtype=dtype)

    def _run(self) -> None:
        getattr(self.kernel, self.op)(self.out, self.x)

    def _reference(self) -> torch.Tensor:
        raise NotImplementedError

    def setup_small(self) -> None:
        self._prepare(SMALL, torch.bfloat16)

    def benchmark_small(self) -> None:
        self._run()

    def verify_small(self) -> torch.Tensor:
        return self._reference()

    def setup_large(self) -> None:
        self._prepare(LARGE, torch.bfloat16)

    def benchmark_large(self) -> None:
        self._run()

    def verify_large(self) -> torch.Tensor:
        return self._reference()

    def setup_large_fp32(self) -> None:
        self._prepare(LARGE, torch.float32)

    def benchmark_large_fp32(self) -> None:
        self._run()

    def verify_large_fp32(self) -> torch.Tensor:
        return self._reference()


class SiluAndMulBenchmark(_GatedWorkloads, Benchmark):
    op = "silu_and_mul"

    def _reference(self) -> torch.Tensor:
        d = self.x.shape[-1] // 2
        return F.silu(self.x[..., :d]) * self.x[..., d:]


class GeluAndMulBenchmark(_GatedWorkloads, Benchmark):
    op = "gelu_and_mul"

    def _reference(self) -> torch.Tensor:
        d = self.x.shape[-1] // 2
        return F.gelu(self.x[..., :d]) * self.x[..., d:]


class _UnaryWorkloads:
    seed = 0
    device = "cuda" if torch.cuda.is_available() else "cpu"
    op = ""

    def _prepare(self, shape, dtype) -> None:
        self.x = torch.randn(shape, device=self.device, dtype=dtype)
        self.out = torch.empty_like(self.x)

    def _run(self) -> None:
        getattr(self.kernel, self.op)(self.out, self.x)

    def _reference(self) -> torch.Tensor:
        raise NotImplementedError

    def setup_small(self) -> None:
        self._prepare(SMALL, torch.float16)

    def benchmark_small(self) -> None:
        self._run()

    def verify_small(self) -> torch.Tensor:
        return self._reference()

    def setup_large(self) -> None:
        self._prepare(LARGE, torch.float16)

    def benchmark_large(self) -> None:
        self._run()

    def verify_large(self) -> torch.Tensor:
        return self._reference()

    def setup_large_fp32(self) -> None:
        self._prepare(LARGE, torch.float32)

    def benchmark_large_fp32(self) -> None:
        self._run()

    def verify_large_fp32(self) -> torch.Tensor:
        return self._reference()


class GeluFastBenchmark(_UnaryWorkloads, Benchmark):
    op = "gelu_fast"

    def _reference(self) -> torch.Tensor:
        # transformers' FastGELUActivation, evaluated in float32.
        x = self.x.float()
        y = 0.5 * x * (1.0 + torch.tanh(x * 0.7978845608 * (1.0 + 0.044715 * x * x)))
        return y.to(self.x.dtype)


class GeluTanhBenchmark(_UnaryWorkloads, Benchmark):
    op = "gelu_tanh"

    def _reference(self) -> torch.Tensor:
        return F.gelu(self.x, approximate="tanh")
