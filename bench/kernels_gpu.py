"""Memory-bandwidth benchmark of the CUDA example kernels on whatever GPU this is (issues 9 and 18).

For each op, shape and dtype it times, in one process and interleaved:

* ours (`examples/activation`, `examples/rmsnorm`, loaded with
  `kernels.get_local_kernel` from their `build/` directories),
* the eager PyTorch reference (the expression models use),
* `torch.compile` of that reference (compiled and warmed up before timing),
* the community kernel users load today, when built (bench/community.py:
  kernels-community `activation`, and liger-kernels' Triton RMSNorm, which
  transformers maps `RMSNorm` to on CUDA),
* a device-to-device copy that reads and writes as many bytes as the op must,

with CUDA events, the median of several samples; decode shapes are replayed
from CUDA graphs. It writes a Markdown report named after the GPU
(docs/kernel-performance-<slug>.md) and prints the table. Nothing is tuned by
device name: the GPU only names the report.

    python bench/kernels_gpu.py [--output FILE] [--community-dir DIR]

Build the kernels first; bench/run_gpu.sh does everything.
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
import types
import zlib
from pathlib import Path
from typing import Callable, Optional

sys.path.insert(0, str(Path(__file__).resolve().parent))
from gpu_report import Result, markdown_table, render_report, report_name, summary  # noqa: E402

REPO = Path(__file__).resolve().parents[1]

# The device of every tensor.
DEVICE = "cuda"
# Cases with at most this many elements are timed from CUDA graphs (decode shapes).
GRAPH_MAX_ELEMENTS = 64 * 4096
GRAPH_CALLS = 20

DTYPE_NAMES = {"float32": "fp32", "float16": "fp16", "bfloat16": "bf16"}
GATED_OPS = ("silu_and_mul", "gelu_and_mul")
UNARY_OPS = ("gelu_fast", "gelu_tanh")
ACTIVATION_OPS = GATED_OPS + UNARY_OPS
ALL_OPS = ACTIVATION_OPS + ("rms_norm",)
ALL_DTYPES = ("bf16", "fp16", "fp32")


@dataclasses.dataclass(frozen=True)
class Case:
    kernel: str  # op name
    shape: tuple[int, int]  # (tokens, d) of the output / normalised tensor
    dtype: str  # fp32, fp16 or bf16

    @property
    def label(self) -> str:
        return f"{self.kernel} {self.shape[0]}x{self.shape[1]} {self.dtype}"

    @property
    def graphed(self) -> bool:
        return self.shape[0] * self.shape[1] <= GRAPH_MAX_ELEMENTS


def default_cases() -> list[Case]:
    """The cases, most important first (a time budget may cut the tail)."""
    def every_op(shape: tuple[int, int], dtypes=ALL_DTYPES) -> list[Case]:
        return [Case(op, shape, dt) for dt in dtypes for op in ALL_OPS]

    cases = every_op((8192, 8192)) + every_op((1, 4096)) + every_op((64, 4096)) + every_op((16384, 4096))
    # Llama-3-8B's MLP intermediate size (activations) and other hidden sizes (rms_norm).
    cases += [Case(op, (16384, 14336), "bf16") for op in ACTIVATION_OPS]
    cases += [Case("rms_norm", (16384, h), "bf16") for h in (5120, 14336)]
    return cases


def quick_cases() -> list[Case]:
    return [Case("silu_and_mul", (4096, 4096), "bf16"), Case("gelu_tanh", (4096, 4096), "fp16"),
            Case("rms_norm", (4096, 4096), "bf16"), Case("silu_and_mul", (64, 4096), "bf16")]


def select_cases(quick: bool, only: Optional[str]) -> list[Case]:
    cases = quick_cases() if quick else default_cases()
    return [c for c in cases if only in c.label] if only else cases


def parse_args(argv: Optional[list[str]]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--output", type=Path, default=None,
                        help="Markdown report (default: docs/kernel-performance-<gpu>.md)")
    parser.add_argument("--json", type=Path, default=None, help="also write the raw results as JSON")
    parser.add_argument("--activation", type=Path, default=REPO / "examples" / "activation")
    parser.add_argument("--rmsnorm", type=Path, default=REPO / "examples" / "rmsnorm")
    parser.add_argument("--community-dir", type=Path, default=None,
                        help="build directory of bench/community.py build (default: no community column)")
    parser.add_argument("--reps", type=int, default=7, help="samples per candidate (median is reported)")
    parser.add_argument("--target-ms", type=float, default=5.0, help="approximate duration of one sample")
    parser.add_argument("--quick", action="store_true", help="four small cases (smoke test)")
    parser.add_argument("--only", default=None, help="run only cases whose label contains this text")
    parser.add_argument("--budget-s", type=float, default=330.0,
                        help="skip the remaining cases once this many seconds have passed (0: no limit)")
    parser.add_argument("--resume", type=Path, default=None,
                        help="a --json file of an earlier run on this GPU: skip the cases it has")
    parser.add_argument("--profile-run", action="store_true",
                        help="only run ours (and the community kernel) a few times, untimed: for ncu")
    args = parser.parse_args(argv)
    if args.reps < 1:
        parser.error(f"--reps must be at least 1, got {args.reps}")
    if args.target_ms <= 0:
        parser.error(f"--target-ms must be positive, got {args.target_ms}")
    if args.budget_s < 0:
        parser.error(f"--budget-s must be 0 (no limit) or more, got {args.budget_s}")
    if not select_cases(args.quick, args.only):
        parser.error(f"--only {args.only!r}: no case label contains it")
    if args.community_dir is not None and not (args.community_dir / "BUILD.json").is_file():
        parser.error(f"--community-dir {args.community_dir}: no BUILD.json "
                     "(build it with `python bench/community.py build --build-dir DIR`)")
    args.done = set()
    if args.resume is not None:
        try:
            args.done = {r["label"] for r in json.loads(args.resume.read_text(encoding="utf-8"))["results"]}
        except (OSError, ValueError, KeyError, TypeError) as e:
            parser.error(f"--resume {args.resume}: not a kernels_gpu.py --json file ({e})")
    return args


# --------------------------------------------------------------------------
# Candidates (torch from here on).

def _references():
    import torch
    import torch.nn.functional as F

    def silu_and_mul(x):
        d = x.shape[-1] // 2
        return F.silu(x[..., :d]) * x[..., d:]

    def gelu_and_mul(x):
        d = x.shape[-1] // 2
        return F.gelu(x[..., :d]) * x[..., d:]

    def gelu_fast(x):  # transformers' FastGELUActivation
        return 0.5 * x * (1.0 + torch.tanh(x * 0.7978845608 * (1.0 + 0.044715 * x * x)))

    def gelu_tanh(x):
        return F.gelu(x, approximate="tanh")

    def rms_norm(x, weight, eps):  # transformers' LlamaRMSNorm.forward
        h = x.to(torch.float32)
        h = h * torch.rsqrt(h.pow(2).mean(-1, keepdim=True) + eps)
        return weight * h.to(x.dtype)

    return {"silu_and_mul": silu_and_mul, "gelu_and_mul": gelu_and_mul, "gelu_fast": gelu_fast,
            "gelu_tanh": gelu_tanh, "rms_norm": rms_norm}


TOLERANCES = {"fp32": dict(rtol=1e-5, atol=1e-5), "fp16": dict(rtol=2e-3, atol=1e-3),
              "bf16": dict(rtol=1.6e-2, atol=1e-2)}


@dataclasses.dataclass(frozen=True)
class Candidate:
    run: Callable[[], object]
    output: Callable[[], object]  # the tensor the last run wrote (or returned)


@dataclasses.dataclass(frozen=True)
class Prepared:
    candidates: dict  # name -> Candidate: ours, eager, compiled, community (optional)
    reference64: Callable[[], object]
    bytes_moved: int


def prepare(case: Case, ours, community) -> Prepared:
    """Inputs, outputs and the candidates of one case."""
    import torch

    dt = getattr(torch, {v: k for k, v in DTYPE_NAMES.items()}[case.dtype])
    tokens, d = case.shape
    esize = torch.empty((), dtype=dt).element_size()
    gen = torch.Generator(device=DEVICE).manual_seed(zlib.crc32(case.label.encode()))
    ref = _references()[case.kernel]
    compiled = torch.compile(ref, dynamic=False, fullgraph=True)
    gated = case.kernel in GATED_OPS
    if case.kernel == "rms_norm":
        eps = 1e-6
        x = torch.randn(tokens, d, device=DEVICE, dtype=dt, generator=gen)
        w = (1 + 0.1 * torch.randn(d, device=DEVICE, generator=gen)).to(dt)
        out = torch.empty_like(x)
        args = (x, w, eps)
        run_ours = lambda: ours.rms_norm(x, w, eps, out=out)  # noqa: E731
        x64 = x.double()
        # float64 statistics, rounded like LlamaRMSNorm (to the dtype, then times the weight).
        reference64 = lambda: w.double() * (x64 * torch.rsqrt(x64.pow(2).mean(-1, keepdim=True) + eps)).to(dt).double()  # noqa: E731,E501
        moved = 2 * tokens * d * esize + d * esize
    else:
        x = torch.randn(tokens, 2 * d if gated else d, device=DEVICE, dtype=dt, generator=gen)
        out = torch.empty(tokens, d, device=DEVICE, dtype=dt)
        args = (x,)
        op = getattr(ours, case.kernel)
        run_ours = lambda: op(out, x)  # noqa: E731
        reference64 = lambda: ref(x.double())  # noqa: E731
        moved = (3 if gated else 2) * tokens * d * esize
    candidates = {"ours": Candidate(run_ours, lambda: out)}
    for name, fn in (("eager", ref), ("compiled", compiled)):
        last = {}
        candidates[name] = Candidate(lambda fn=fn, last=last: last.__setitem__("y", fn(*args)),
                                     lambda last=last: last["y"])
    if community is not None and community.supports(case.kernel):
        candidates["community"] = community.candidate(case.kernel, args, Candidate)
    return Prepared(candidates, reference64, moved)


# --------------------------------------------------------------------------
# Timing.

def _time_block(fn: Callable[[], object], iters: int) -> float:
    """Milliseconds per call of `iters` back-to-back calls."""
    import torch

    start = torch.cuda.Event(enable_timing=True)
    end = torch.cuda.Event(enable_timing=True)
    start.record()
    for _ in range(iters):
        fn()
    end.record()
    end.synchronize()
    return start.elapsed_time(end) / iters


def graphed(fn: Callable[[], object], calls: int) -> Callable[[], object]:
    """A function that replays `calls` calls of `fn` captured in one CUDA graph."""
    import torch

    stream = torch.cuda.Stream()
    stream.wait_stream(torch.cuda.current_stream())
    with torch.cuda.stream(stream):
        for _ in range(3):
            fn()
    torch.cuda.current_stream().wait_stream(stream)
    graph = torch.cuda.CUDAGraph()
    with torch.cuda.graph(graph):
        for _ in range(calls):
            fn()
    return graph.replay


def time_interleaved(fns: dict[str, Callable[[], object]], reps: int, target_ms: float,
                     calls_per_fn: int = 1) -> dict[str, float]:
    """Median milliseconds per call of each function, measured round-robin."""
    import torch

    iters = {}
    for name, fn in fns.items():
        fn()
        torch.cuda.synchronize()
        once = _time_block(fn, 3)
        iters[name] = max(3, min(200, int(math.ceil(target_ms / max(once, 1e-3)))))
    samples: dict[str, list[float]] = {name: [] for name in fns}
    for _ in range(reps):
        for name, fn in fns.items():
            samples[name].append(_time_block(fn, iters[name]) / calls_per_fn)
    return {name: statistics.median(values) for name, values in samples.items()}


def check_candidate(candidate: Candidate, reference64, dtype: str) -> tuple[float, bool]:
    """Largest absolute error against float64, and whether it is within the dtype's tolerance."""
    import torch

    out = candidate.output()
    err = (out.double() - reference64).abs()
    max_err = float(err.nan_to_num(float("inf")).max()) if err.numel() else 0.0
    ok = bool(torch.allclose(out.double(), reference64.to(out.dtype).double(), **TOLERANCES[dtype]))
    return max_err, ok


def run_case(case: Case, ours, community, reps: int, target_ms: float) -> Result:
    import torch
    import torch._dynamo

    torch._dynamo.reset()
    p = prepare(case, ours, community)
    # Correctness first: poison our output, run every kernel, compare in float64.
    p.candidates["ours"].output().fill_(float("nan"))
    for name in ("ours", "community"):
        if name in p.candidates:
            p.candidates[name].run()
    ref = p.reference64()
    checks = {name: check_candidate(p.candidates[name], ref, case.dtype)
              for name in ("ours", "community") if name in p.candidates}
    del ref

    t0 = time.perf_counter()
    p.candidates["compiled"].run()
    torch.cuda.synchronize()
    compile_s = time.perf_counter() - t0

    half = p.bytes_moved // 2
    src = torch.empty(half, dtype=torch.uint8, device=DEVICE)
    src.random_(0, 255)
    dst = torch.empty_like(src)
    fns = {name: c.run for name, c in p.candidates.items()} | {"copy": lambda: dst.copy_(src)}
    calls = GRAPH_CALLS if case.graphed else 1
    if case.graphed:
        fns = {name: graphed(fn, calls) for name, fn in fns.items()}
    times = time_interleaved(fns, reps=reps, target_ms=target_ms, calls_per_fn=calls)
    community_err, community_ok = checks.get("community", (None, None))
    result = Result(
        label=case.label, kernel=case.kernel, shape=case.shape, dtype=case.dtype, bytes_moved=p.bytes_moved,
        kernel_ms=times["ours"], eager_ms=times["eager"], compiled_ms=times["compiled"],
        # The copy moved 2 * half bytes (one fewer when bytes_moved is odd).
        copy_ms=times["copy"] * p.bytes_moved / (2 * half), compile_s=compile_s,
        max_abs_err=checks["ours"][0], check=checks["ours"][1],
        community_ms=times.get("community"), community_max_abs_err=community_err,
        community_check=community_ok, graphed=case.graphed,
    )
    del p, src, dst, fns
    torch.cuda.empty_cache()
    return result


def profile_run(cases: list[Case], ours, community) -> None:
    """Run ours and the community kernel three times per case, untimed (for ncu -k ...)."""
    import torch

    for case in cases:
        p = prepare(case, ours, community)
        for name in ("ours", "community"):
            for _ in range(3 if name in p.candidates else 0):
                p.candidates[name].run()
        torch.cuda.synchronize()
        print(f"ran {case.label}", flush=True)


def environment() -> dict[str, str]:
    import torch

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


def print_result(r: Result) -> None:
    community = "" if r.vs_community is None else f" x{r.vs_community:5.2f} community"
    print(f"{r.label:34s} {r.kernel_ms * 1e3:9.1f} us {r.kernel_gbps:7.0f} GB/s {r.pct_copy:6.1f}% copy "
          f"x{r.vs_eager:5.2f} eager x{r.vs_compiled:5.2f} compile{community} (compile {r.compile_s:.1f}s, "
          f"err {r.max_abs_err:.2e}, {'ok' if r.check else 'FAIL'}) {r.verdict()}", flush=True)


def load_kernels(args: argparse.Namespace, cases: list[Case]):
    """Ours (one object with the activation and rms_norm ops) and the community kernels (or None)."""
    from kernels import get_local_kernel

    activation = get_local_kernel(args.activation) if any(c.kernel != "rms_norm" for c in cases) else None
    rmsnorm = get_local_kernel(args.rmsnorm) if any(c.kernel == "rms_norm" for c in cases) else None
    ours = types.SimpleNamespace(rms_norm=getattr(rmsnorm, "rms_norm", None),
                                 **{op: getattr(activation, op, None) for op in ACTIVATION_OPS})
    community = None
    if args.community_dir is not None:
        import community as community_module

        community = community_module.load(args.community_dir)
    return ours, community


def main(argv: Optional[list[str]] = None) -> int:
    args = parse_args(argv)
    import torch

    if not torch.cuda.is_available():
        print("kernels_gpu.py: CUDA is not available", file=sys.stderr)
        return 2
    cases = [c for c in select_cases(args.quick, args.only) if c.label not in args.done]
    if not cases:
        print(f"kernels_gpu.py: every selected case is in {args.resume} already", file=sys.stderr)
        return 0
    ours, community = load_kernels(args, cases)
    if args.profile_run:
        profile_run(cases, ours, community)
        return 0
    for name in ("cache_size_limit", "recompile_limit", "accumulated_cache_size_limit",
                 "accumulated_recompile_limit"):
        if hasattr(torch._dynamo.config, name):
            setattr(torch._dynamo.config, name, 1024)

    env = environment()
    output = args.output or REPO / "docs" / report_name(env["gpu"])
    print(f"{env['gpu']}, torch {env['torch']}, CUDA {env['cuda']}: {len(cases)} cases -> {output}", flush=True)
    command = "python bench/kernels_gpu.py --community-dir DIR"
    description = community.description if community is not None else "not built in this run"
    output.parent.mkdir(parents=True, exist_ok=True)

    results: list[Result] = []
    skipped: list[str] = []
    started = time.perf_counter()
    for case in cases:
        if args.budget_s and time.perf_counter() - started > args.budget_s:
            skipped.append(case.label)
            continue
        results.append(run_case(case, ours, community, args.reps, args.target_ms))
        print_result(results[-1])
        # Written after every case, so that an interrupted run leaves a report.
        output.write_text(render_report(results, env, command, args.reps, args.target_ms, skipped, description),
                          encoding="utf-8")
    print(f"total {time.perf_counter() - started:.0f} s\n")
    if not results:
        print("no case ran", file=sys.stderr)
        return 1
    print(markdown_table(results) + "\n\n" + "\n".join(summary(results)) + f"\n\nwrote {output}")
    if args.json:
        payload = {"environment": env, "community": description, "skipped": skipped,
                   "settings": {"command": command, "reps": args.reps, "target_ms": args.target_ms},
                   "results": [dataclasses.asdict(r) for r in results]}
        args.json.write_text(json.dumps(payload, indent=2), encoding="utf-8")
    return 0 if all(r.check for r in results) else 1


if __name__ == "__main__":
    sys.exit(main())
