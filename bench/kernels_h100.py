"""Memory-bandwidth benchmark of the CUDA example kernels (issue 9, item 1).

For each kernel and shape it times, in one process and interleaved:

* the kernel (`examples/activation`, `examples/rmsnorm`, loaded with
  `kernels.get_local_kernel` from their `build/` directories),
* the eager PyTorch reference (the expression models use),
* `torch.compile` of that reference (default mode, static shapes, compiled
  and warmed up before timing),
* a device-to-device copy (`dst.copy_(src)`) that reads and writes as many
  bytes as the kernel must (each input read once, each output written once),

with CUDA events: back-to-back calls between two events, the median of
several repetitions, the four candidates interleaved in every repetition.
Achieved bandwidth is (bytes read + bytes written) / time; "% copy" is the
kernel's bandwidth over the copy's. It writes a Markdown report (table, GPU,
date, versions) to --output and prints the table.

    python bench/kernels_h100.py --output docs/kernel-performance.md

Build the kernels first (`kernel-builder build examples/activation` and
`examples/rmsnorm`); bench/run_h100.sh does everything.
"""

from __future__ import annotations

import argparse
import dataclasses
import datetime
import json
import math
import platform
import statistics
import sys
import time
import zlib
from pathlib import Path
from typing import Callable, Optional

import torch
import torch._dynamo
import torch.nn.functional as F

REPO = Path(__file__).resolve().parents[1]

# The device of every tensor (tests of this script substitute "cpu").
DEVICE = "cuda"

# Cases whose bytes exceed this are "large": the 90%-of-copy target applies.
LARGE_BYTES = 256 * 2**20
BANDWIDTH_TARGET = 0.90
# A case that is not faster than eager or torch.compile, where both it and
# that candidate reach this % of the copy bandwidth, is reported as a tie.
TIE_PCT_COPY = 97.0


# --------------------------------------------------------------------------
# References (what models run eagerly).

def silu_and_mul_ref(x: torch.Tensor) -> torch.Tensor:
    d = x.shape[-1] // 2
    return F.silu(x[..., :d]) * x[..., d:]


def gelu_and_mul_ref(x: torch.Tensor) -> torch.Tensor:
    d = x.shape[-1] // 2
    return F.gelu(x[..., :d]) * x[..., d:]


def gelu_fast_ref(x: torch.Tensor) -> torch.Tensor:
    # transformers' FastGELUActivation.
    return 0.5 * x * (1.0 + torch.tanh(x * 0.7978845608 * (1.0 + 0.044715 * x * x)))


def gelu_tanh_ref(x: torch.Tensor) -> torch.Tensor:
    return F.gelu(x, approximate="tanh")


def rms_norm_ref(x: torch.Tensor, weight: torch.Tensor, eps: float) -> torch.Tensor:
    # transformers' LlamaRMSNorm.forward.
    input_dtype = x.dtype
    h = x.to(torch.float32)
    variance = h.pow(2).mean(-1, keepdim=True)
    h = h * torch.rsqrt(variance + eps)
    return weight * h.to(input_dtype)


# --------------------------------------------------------------------------
# Cases.

DTYPE_NAMES = {torch.float32: "fp32", torch.float16: "fp16", torch.bfloat16: "bf16"}
DTYPES = {v: k for k, v in DTYPE_NAMES.items()}


@dataclasses.dataclass
class Case:
    kernel: str  # op name
    shape: tuple[int, int]  # (tokens, d) of the output / normalised tensor
    dtype: torch.dtype

    @property
    def label(self) -> str:
        return f"{self.kernel} {self.shape[0]}x{self.shape[1]} {DTYPE_NAMES[self.dtype]}"


GATED = {"silu_and_mul": silu_and_mul_ref, "gelu_and_mul": gelu_and_mul_ref}
UNARY = {"gelu_fast": gelu_fast_ref, "gelu_tanh": gelu_tanh_ref}
ALL_DTYPES = (torch.bfloat16, torch.float16, torch.float32)


def default_cases() -> list[Case]:
    """The cases, most important first (a time budget may cut the tail)."""
    ops = list(GATED) + list(UNARY)
    cases: list[Case] = []
    # A prefill of 16K tokens with Llama-3-8B's MLP intermediate size (the
    # activations) and Llama-3-70B's hidden size (rms_norm), in every dtype.
    for dt in ALL_DTYPES:
        cases += [Case(op, (16384, 14336), dt) for op in ops]
        cases.append(Case("rms_norm", (16384, 8192), dt))
    # Other model sizes in bfloat16.
    cases += [Case(op, (16384, 8192), torch.bfloat16) for op in ops]
    cases += [Case("rms_norm", (16384, h), torch.bfloat16) for h in (4096, 5120, 14336)]
    # A decode batch (L2-resident, launch-bound).
    cases += [Case(op, (64, 4096), torch.bfloat16) for op in ops + ["rms_norm"]]
    return cases


def quick_cases() -> list[Case]:
    return [
        Case("silu_and_mul", (4096, 4096), torch.bfloat16),
        Case("gelu_tanh", (4096, 4096), torch.float16),
        Case("rms_norm", (4096, 4096), torch.bfloat16),
    ]


@dataclasses.dataclass
class Prepared:
    run_kernel: Callable[[], object]
    run_eager: Callable[[], object]
    run_compiled: Callable[[], object]
    kernel_out: Callable[[], torch.Tensor]
    reference64: Callable[[], torch.Tensor]
    bytes_moved: int
    tolerance: dict


TOLERANCES = {
    torch.float32: dict(rtol=1e-5, atol=1e-5),
    torch.float16: dict(rtol=2e-3, atol=1e-3),
    torch.bfloat16: dict(rtol=1.6e-2, atol=1e-2),
}


def prepare(case: Case, activation, rmsnorm) -> Prepared:
    tokens, d = case.shape
    dt = case.dtype
    esize = torch.empty((), dtype=dt).element_size()
    gen = torch.Generator(device=DEVICE).manual_seed(zlib.crc32(case.label.encode()))
    compile_kwargs = dict(dynamic=False, fullgraph=True)

    if case.kernel in GATED:
        ref = GATED[case.kernel]
        x = torch.randn(tokens, 2 * d, device=DEVICE, dtype=dt, generator=gen)
        out = torch.empty(tokens, d, device=DEVICE, dtype=dt)
        op = getattr(activation, case.kernel)
        compiled = torch.compile(ref, **compile_kwargs)
        return Prepared(
            run_kernel=lambda: op(out, x),
            run_eager=lambda: ref(x),
            run_compiled=lambda: compiled(x),
            kernel_out=lambda: out,
            reference64=lambda: ref(x.double()),
            bytes_moved=3 * tokens * d * esize,
            tolerance=TOLERANCES[dt],
        )
    if case.kernel in UNARY:
        ref = UNARY[case.kernel]
        x = torch.randn(tokens, d, device=DEVICE, dtype=dt, generator=gen)
        out = torch.empty_like(x)
        op = getattr(activation, case.kernel)
        compiled = torch.compile(ref, **compile_kwargs)
        return Prepared(
            run_kernel=lambda: op(out, x),
            run_eager=lambda: ref(x),
            run_compiled=lambda: compiled(x),
            kernel_out=lambda: out,
            reference64=lambda: ref(x.double()),
            bytes_moved=2 * tokens * d * esize,
            tolerance=TOLERANCES[dt],
        )
    if case.kernel == "rms_norm":
        eps = 1e-6
        x = torch.randn(tokens, d, device=DEVICE, dtype=dt, generator=gen)
        w = (1 + 0.1 * torch.randn(d, device=DEVICE, generator=gen)).to(dt)
        out = torch.empty_like(x)
        compiled = torch.compile(rms_norm_ref, **compile_kwargs)
        return Prepared(
            run_kernel=lambda: rmsnorm.rms_norm(x, w, eps, out=out),
            run_eager=lambda: rms_norm_ref(x, w, eps),
            run_compiled=lambda: compiled(x, w, eps),
            kernel_out=lambda: out,
            # float64 statistics, rounded like the kernel (to the dtype, then
            # times the weight).
            reference64=lambda: (
                w.double() * (x.double() * torch.rsqrt(x.double().pow(2).mean(-1, keepdim=True) + eps)).to(dt).double()
            ),
            bytes_moved=2 * tokens * d * esize + d * esize,
            tolerance=TOLERANCES[dt],
        )
    raise ValueError(case.kernel)


# --------------------------------------------------------------------------
# Timing.

def _time_block(fn: Callable[[], object], iters: int) -> float:
    """Milliseconds per call of `iters` back-to-back calls."""
    start = torch.cuda.Event(enable_timing=True)
    end = torch.cuda.Event(enable_timing=True)
    start.record()
    for _ in range(iters):
        fn()
    end.record()
    end.synchronize()
    return start.elapsed_time(end) / iters


def time_interleaved(fns: dict[str, Callable[[], object]], reps: int, target_ms: float) -> dict[str, float]:
    """Median milliseconds per call of each function, measured round-robin."""
    iters = {}
    for name, fn in fns.items():
        fn()
        torch.cuda.synchronize()
        once = _time_block(fn, 3)
        iters[name] = max(3, min(200, int(math.ceil(target_ms / max(once, 1e-3)))))
    samples: dict[str, list[float]] = {name: [] for name in fns}
    for _ in range(reps):
        for name, fn in fns.items():
            samples[name].append(_time_block(fn, iters[name]))
    return {name: statistics.median(values) for name, values in samples.items()}


# --------------------------------------------------------------------------

@dataclasses.dataclass
class Result:
    label: str
    kernel: str
    shape: tuple[int, int]
    dtype: str
    bytes_moved: int
    kernel_ms: float
    eager_ms: float
    compiled_ms: float
    copy_ms: float
    compile_s: float
    max_abs_err: float
    check: bool

    @property
    def kernel_gbps(self) -> float:
        return self.bytes_moved / self.kernel_ms / 1e6

    @property
    def copy_gbps(self) -> float:
        return self.bytes_moved / self.copy_ms / 1e6

    @property
    def pct_copy(self) -> float:
        return 100.0 * self.kernel_gbps / self.copy_gbps

    @property
    def vs_eager(self) -> float:
        return self.eager_ms / self.kernel_ms

    @property
    def vs_compiled(self) -> float:
        return self.compiled_ms / self.kernel_ms

    @property
    def large(self) -> bool:
        return self.bytes_moved >= LARGE_BYTES

    def targets(self) -> list[str]:
        missed = []
        if self.large and self.pct_copy < 100 * BANDWIDTH_TARGET:
            missed.append(f"{self.pct_copy:.1f}% of copy")
        if self.vs_eager <= 1.0:
            missed.append("not faster than eager")
        if self.vs_compiled <= 1.0:
            missed.append("not faster than torch.compile")
        if not self.check:
            missed.append("wrong result")
        return missed

    def tied_at_copy_bandwidth(self) -> bool:
        """Large, correct, at the copy bandwidth, and within 3% of every candidate it did not beat,
        each of which runs at the copy bandwidth too."""
        if not (self.large and self.check and self.pct_copy >= TIE_PCT_COPY):
            return False
        not_beaten = [(ms, speedup) for ms, speedup in ((self.eager_ms, self.vs_eager),
                                                        (self.compiled_ms, self.vs_compiled)) if speedup <= 1.0]
        return all(speedup >= TIE_PCT_COPY / 100 and 100.0 * self.copy_ms / ms >= TIE_PCT_COPY
                   for ms, speedup in not_beaten)


def run_case(case: Case, activation, rmsnorm, reps: int, target_ms: float) -> Result:
    torch._dynamo.reset()
    p = prepare(case, activation, rmsnorm)
    # Correctness first: poison the output, run, compare in float64.
    out = p.kernel_out()
    out.fill_(float("nan"))
    p.run_kernel()
    ref = p.reference64()
    err = (out.double() - ref).abs()
    max_err = float(err.nan_to_num(float("inf")).max()) if err.numel() else 0.0
    check = bool(torch.allclose(out.double(), ref.to(out.dtype).double(), **p.tolerance))
    del ref, err

    t0 = time.perf_counter()
    p.run_compiled()
    torch.cuda.synchronize()
    compile_s = time.perf_counter() - t0

    half = p.bytes_moved // 2
    src = torch.empty(half, dtype=torch.uint8, device=DEVICE)
    src.random_(0, 255)
    dst = torch.empty_like(src)

    times = time_interleaved(
        {
            "kernel": p.run_kernel,
            "eager": p.run_eager,
            "compiled": p.run_compiled,
            "copy": lambda: dst.copy_(src),
        },
        reps=reps,
        target_ms=target_ms,
    )
    result = Result(
        label=case.label, kernel=case.kernel, shape=case.shape, dtype=DTYPE_NAMES[case.dtype],
        bytes_moved=p.bytes_moved,
        kernel_ms=times["kernel"], eager_ms=times["eager"], compiled_ms=times["compiled"],
        # The copy moved 2 * half bytes (one fewer when bytes_moved is odd).
        copy_ms=times["copy"] * p.bytes_moved / (2 * half), compile_s=compile_s,
        max_abs_err=max_err, check=check,
    )
    del p, src, dst
    torch.cuda.empty_cache()
    return result


# --------------------------------------------------------------------------
# Report.

def markdown_table(results: list[Result]) -> str:
    lines = [
        "| kernel | shape | dtype | MB moved | kernel µs | kernel GB/s | copy GB/s | % copy "
        "| eager µs | compile µs | × eager | × compile | check |",
        "|---|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|",
    ]
    for r in results:
        pct = f"{r.pct_copy:.1f}" if r.large else f"({r.pct_copy:.1f})"
        lines.append(
            f"| {r.kernel} | {r.shape[0]}×{r.shape[1]} | {r.dtype} | {r.bytes_moved / 1e6:.1f} "
            f"| {r.kernel_ms * 1e3:.1f} | {r.kernel_gbps:.0f} | {r.copy_gbps:.0f} | {pct} "
            f"| {r.eager_ms * 1e3:.1f} | {r.compiled_ms * 1e3:.1f} | {r.vs_eager:.2f} | {r.vs_compiled:.2f} "
            f"| {'ok' if r.check else 'FAIL'} |"
        )
    return "\n".join(lines)


def summary(results: list[Result]) -> list[str]:
    large = [r for r in results if r.large]
    lines = []
    if large:
        worst = min(large, key=lambda r: r.pct_copy)
        lines.append(
            f"- Large tensors (≥ {LARGE_BYTES // 2**20} MiB moved): {sum(r.pct_copy >= 100 * BANDWIDTH_TARGET for r in large)}"
            f"/{len(large)} reach {BANDWIDTH_TARGET:.0%} of the copy bandwidth; lowest {worst.pct_copy:.1f}% ({worst.label})."
        )
    lines.append(
        f"- Faster than eager PyTorch: {sum(r.vs_eager > 1 for r in results)}/{len(results)} "
        f"(smallest speedup {min(r.vs_eager for r in results):.2f}×)."
    )
    lines.append(
        f"- Faster than torch.compile: {sum(r.vs_compiled > 1 for r in results)}/{len(results)} "
        f"(smallest speedup {min(r.vs_compiled for r in results):.2f}×)."
    )
    lines.append(f"- Results within tolerance of a float64 reference: {sum(r.check for r in results)}/{len(results)}.")
    missed = [(r.label, r.targets()) for r in results if r.targets()]
    if missed:
        lines.append("- Targets missed: " + "; ".join(f"{label}: {', '.join(m)}" for label, m in missed) + ".")
    else:
        lines.append("- Every target is met.")
    ties = [r for r in results if r.targets() and r.tied_at_copy_bandwidth()]
    if ties:
        lines.append(
            f"- Of the cases that missed, {len(ties)}/{len(missed)} are ties at the memory limit: the kernel and "
            f"the candidate that was as fast both move at least {TIE_PCT_COPY:.0f}% of the copy bandwidth "
            f"({', '.join(r.label for r in ties)}). A kernel that reads each input and writes each output "
            "once cannot beat a copy of the same bytes; what is left between them is measurement noise."
        )
    return lines


def environment() -> dict[str, str]:
    props = torch.cuda.get_device_properties(0)
    return {
        "gpu": torch.cuda.get_device_name(0),
        "sms": str(props.multi_processor_count),
        "memory": f"{props.total_memory / 2**30:.0f} GiB",
        "torch": torch.__version__,
        "cuda": str(torch.version.cuda),
        "python": platform.python_version(),
        "date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
    }


def render_report(results: list[Result], env: dict[str, str], command: str, reps: int, target_ms: float,
                  skipped: Optional[list[str]] = None) -> str:
    skipped_note = (
        f"\n- Not run (time budget): {', '.join(skipped)}.\n" if skipped else ""
    )
    return f"""# Kernel performance: activation and rms_norm on {env['gpu']}

Generated by `bench/kernels_h100.py` on {env['date']}: {env['gpu']} ({env['sms']} SMs,
{env['memory']}), PyTorch {env['torch']}, CUDA {env['cuda']}, Python {env['python']}.
Regenerate with (on a machine with a CUDA GPU; it builds the kernels, runs
their tests and this benchmark):

```bash
bench/run_h100.sh OUT_DIR   # writes OUT_DIR/kernel-performance.md (copied to docs/) and logs
```

or, with the kernels already built, `{command}`.

## Method

* **kernel**: `examples/activation` and `examples/rmsnorm` loaded with
  `kernels.get_local_kernel` from their CUDA build, writing into a
  preallocated output.
* **eager**: the PyTorch expression models run (`F.silu(x[..., :d]) * x[..., d:]`,
  `F.gelu(...) * ...`, transformers' `FastGELUActivation` formula,
  `F.gelu(x, approximate="tanh")`, transformers' `LlamaRMSNorm.forward`).
* **compile**: `torch.compile` of the same function (default mode,
  `dynamic=False`, `fullgraph=True`), compiled and warmed up before timing.
* **copy**: `dst.copy_(src)` of half the bytes the kernel moves, so that it
  reads and writes as many bytes as the kernel: each input read once and
  each output written once (`MB moved`; for rms_norm the weight is counted
  once).
* Times are CUDA-event times of back-to-back calls (3 to 200 calls, about
  {target_ms:g} ms per sample), median of {reps} samples; the four candidates are
  interleaved in every sample. Bandwidth = bytes moved / time; `% copy` =
  kernel bandwidth / copy bandwidth in the same run; `× eager`, `× compile`
  = their time / kernel time. Small cases (in parentheses) fit in the 50 MB
  L2 cache and are launch-bound, so their bandwidth is not a memory figure.
* `check`: the kernel's output (poisoned with NaN before the run) against a
  float64 evaluation of the reference, within about one unit in the last
  place of the dtype.

## Kernels

* `examples/activation` (`activation_cuda/activation.cu`): 16-byte loads and
  stores; gated ops on a 2-D grid (columns × rows, two rows per thread and
  iteration, so four 16-byte loads are in flight before the first use),
  elementwise ops on a flat grid-stride loop; grids sized from the occupancy
  calculator to exactly the blocks the SMs hold at once. float32 math;
  the gated ops and all float32 ops reproduce the eager formulas and rounding
  steps, the 16-bit `gelu_fast`/`gelu_tanh` use `x / (1 + exp(-2u))` with
  the hardware exponential.
* `examples/rmsnorm` (`rmsnorm_cuda/rms_norm.cu`): a group of threads per
  row (several rows per block for short rows), the row held in registers
  (one read, one write per element), warp-shuffle and shared-memory
  reduction in float32, a persistent grid; rows loaded evict-first, the
  weight through the read-only cache.

## Results

{markdown_table(results)}

## Targets (issue 9)

{chr(10).join(summary(results))}
{skipped_note}"""


def main(argv: Optional[list[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--output", type=Path, default=REPO / "docs" / "kernel-performance.md",
                        help="Markdown report to write (default: docs/kernel-performance.md)")
    parser.add_argument("--json", type=Path, default=None, help="also write the raw results as JSON")
    parser.add_argument("--activation", type=Path, default=REPO / "examples" / "activation")
    parser.add_argument("--rmsnorm", type=Path, default=REPO / "examples" / "rmsnorm")
    parser.add_argument("--reps", type=int, default=7, help="samples per candidate (median is reported)")
    parser.add_argument("--target-ms", type=float, default=5.0, help="approximate duration of one sample")
    parser.add_argument("--quick", action="store_true", help="three small cases (smoke test)")
    parser.add_argument("--only", default=None, help="run only cases whose label contains this text")
    parser.add_argument("--budget-s", type=float, default=330.0,
                        help="skip the remaining cases once this many seconds have passed (0: no limit)")
    args = parser.parse_args(argv)

    if not torch.cuda.is_available():
        print("kernels_h100.py: CUDA is not available", file=sys.stderr)
        return 2

    from kernels import get_local_kernel

    cases = quick_cases() if args.quick else default_cases()
    if args.only:
        cases = [c for c in cases if args.only in c.label]
    # Only the kernels the selected cases use need a build.
    activation = get_local_kernel(args.activation) if any(c.kernel != "rms_norm" for c in cases) else None
    rmsnorm = get_local_kernel(args.rmsnorm) if any(c.kernel == "rms_norm" for c in cases) else None

    for name in ("cache_size_limit", "recompile_limit", "accumulated_cache_size_limit",
                 "accumulated_recompile_limit"):
        if hasattr(torch._dynamo.config, name):
            setattr(torch._dynamo.config, name, 1024)

    env = environment()
    print(f"{env['gpu']}, torch {env['torch']}, CUDA {env['cuda']}: {len(cases)} cases", flush=True)

    command = "python bench/kernels_h100.py --output docs/kernel-performance.md"
    args.output.parent.mkdir(parents=True, exist_ok=True)

    results: list[Result] = []
    skipped: list[str] = []
    started = time.perf_counter()
    for case in cases:
        if args.budget_s and time.perf_counter() - started > args.budget_s:
            skipped.append(case.label)
            continue
        r = run_case(case, activation, rmsnorm, args.reps, args.target_ms)
        results.append(r)
        print(
            f"{r.label:38s} {r.kernel_ms * 1e3:9.1f} us {r.kernel_gbps:7.0f} GB/s {r.pct_copy:6.1f}% copy "
            f"x{r.vs_eager:5.2f} eager x{r.vs_compiled:5.2f} compile  (compile {r.compile_s:.1f}s, "
            f"err {r.max_abs_err:.2e}, {'ok' if r.check else 'FAIL'})",
            flush=True,
        )
        # Written after every case, so that an interrupted run leaves a report.
        args.output.write_text(render_report(results, env, command, args.reps, args.target_ms, skipped),
                               encoding="utf-8")
    print(f"total {time.perf_counter() - started:.0f} s\n")
    if not results:
        print("no case ran", file=sys.stderr)
        return 1
    report = render_report(results, env, command, args.reps, args.target_ms, skipped)
    args.output.write_text(report, encoding="utf-8")
    print(markdown_table(results))
    print()
    print("\n".join(summary(results)))
    print(f"\nwrote {args.output}")
    if args.json:
        payload = {"environment": env, "results": [dataclasses.asdict(r) | {
            "kernel_gbps": r.kernel_gbps, "copy_gbps": r.copy_gbps, "pct_copy": r.pct_copy,
            "vs_eager": r.vs_eager, "vs_compiled": r.vs_compiled} for r in results]}
        args.json.write_text(json.dumps(payload, indent=2), encoding="utf-8")
    return 0 if all(r.check for r in results) else 1


if __name__ == "__main__":
    sys.exit(main())
