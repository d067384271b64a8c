"""Verdicts and the Markdown report of the GPU kernel benchmark (bench/kernels_gpu.py).

Pure Python (no torch), so that the report can be rendered and tested on a
machine without a GPU, from results loaded from JSON or made by hand.
"""

from __future__ import annotations

import dataclasses
import re
from typing import Iterable, Optional

# Cases that move at least this many bytes are "large": the bandwidth target applies.
LARGE_BYTES = 256 * 2**20
BANDWIDTH_TARGET = 0.95
# A case that is not faster than a candidate, where both reach this % of the
# copy bandwidth, is reported as a tie at the memory limit.
TIE_PCT_COPY = 97.0

#: Kernel functions of each op, for the ncu command of a row that misses a target.
OUR_KERNEL_FUNCTIONS = {
    "silu_and_mul": "gated_kernel", "gelu_and_mul": "gated_kernel", "gelu_tanh_and_mul": "gated_kernel",
    "gelu_fast": "unary_kernel", "gelu_tanh": "unary_kernel", "rms_norm": "rms_norm",
}
NCU_SECTIONS = ("SpeedOfLight", "MemoryWorkloadAnalysis", "Occupancy", "LaunchStats", "WarpStateStats")


@dataclasses.dataclass(frozen=True)
class Result:
    """One case: times in milliseconds per call, the bytes one call must move, float64 checks."""

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
    community_ms: Optional[float] = None
    community_max_abs_err: Optional[float] = None
    community_check: Optional[bool] = None
    graphed: bool = False

    @classmethod
    def from_dict(cls, data: dict) -> "Result":
        names = {f.name for f in dataclasses.fields(cls)}
        values = {k: v for k, v in data.items() if k in names}
        values["shape"] = tuple(values["shape"])
        return cls(**values)

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
    def vs_community(self) -> Optional[float]:
        return None if self.community_ms is None else self.community_ms / self.kernel_ms

    @property
    def large(self) -> bool:
        return self.bytes_moved >= LARGE_BYTES

    def competitors(self) -> list[tuple[str, float]]:
        """(name, milliseconds) of every candidate ours must beat."""
        found = [("eager", self.eager_ms), ("torch.compile", self.compiled_ms)]
        if self.community_ms is not None:
            found.append(("the community kernel", self.community_ms))
        return found

    def targets(self) -> list[str]:
        """The targets this case misses, in a fixed order (empty: all met)."""
        missed = []
        if self.large and self.pct_copy < 100 * BANDWIDTH_TARGET:
            missed.append(f"{self.pct_copy:.1f}% of copy")
        missed += [f"not faster than {name}" for name, ms in self.competitors() if ms / self.kernel_ms <= 1.0]
        if not self.check:
            missed.append("wrong result")
        return missed

    def tied_at_copy_bandwidth(self) -> bool:
        """Large, correct, at the copy bandwidth, and within 3% of every candidate it did not beat,
        each of which runs at the copy bandwidth too."""
        if not (self.large and self.check and self.pct_copy >= TIE_PCT_COPY):
            return False
        not_beaten = [ms for _, ms in self.competitors() if ms / self.kernel_ms <= 1.0]
        return all(ms / self.kernel_ms >= TIE_PCT_COPY / 100 and 100.0 * self.copy_ms / ms >= TIE_PCT_COPY
                   for ms in not_beaten)

    def verdict(self) -> str:
        if not self.targets():
            return "ok"
        if self.tied_at_copy_bandwidth():
            return "tie at copy"
        return "MISS"


def device_slug(gpu_name: str) -> str:
    """A file-name slug for a GPU: its model number ("NVIDIA H100 80GB HBM3" -> "h100",
    "NVIDIA H200" -> "h200"), else the name's words, else "gpu"."""
    words = re.findall(r"[a-z0-9]+", gpu_name.lower())
    vendor_words = {"nvidia", "amd", "tesla", "geforce", "quadro", "radeon", "instinct", "graphics"}
    words = [w for w in words if w not in vendor_words]
    memory_words = re.compile(r"^(\d+gb|hbm\d*e?|gddr\d*x?|pcie|sxm\d*|nvl|mig.*)$")
    model = [w for w in words if re.fullmatch(r"[a-z]{1,3}\d{2,4}[a-z]?", w) and not memory_words.match(w)]
    if model:
        return model[0]
    kept = [w for w in words if not memory_words.match(w)]
    return "-".join(kept)[:40].strip("-") or "gpu"


def report_name(gpu_name: str) -> str:
    return f"kernel-performance-{device_slug(gpu_name)}.md"


def ncu_command(result: Result) -> str:
    """The profile to take for a row that misses a target (hardware counters of our kernel only)."""
    sections = " ".join(f"--section {s}" for s in NCU_SECTIONS)
    function = OUR_KERNEL_FUNCTIONS.get(result.kernel, result.kernel)
    return (f"ncu --clock-control none {sections} -k regex:{function} -c 1 "
            f"python bench/kernels_gpu.py --profile-run --only '{result.label}'")


def _mb(size: int) -> str:
    return f"{size / 1e6:.1f}" if size >= 1e6 else f"{size / 1e6:.3f}"


def _us(ms: Optional[float]) -> str:
    return "—" if ms is None else f"{ms * 1e3:.1f}"


def _ratio(value: Optional[float]) -> str:
    return "—" if value is None else f"{value:.2f}"


def _check(ok: Optional[bool], err: Optional[float]) -> str:
    if ok is None:
        return "—"
    return f"{'ok' if ok else 'FAIL'} ({err:.1e})"


def markdown_table(results: Iterable[Result]) -> str:
    lines = [
        "| kernel | shape | dtype | MB moved | ours µs | % copy | copy GB/s | eager µs | compile µs "
        "| community µs | × eager | × compile | × community | ours vs fp64 | community vs fp64 | verdict |",
        "|---|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|---|---|",
    ]
    for r in results:
        pct = f"{r.pct_copy:.1f}" if r.large else f"({r.pct_copy:.1f})"
        graph = " (graph)" if r.graphed else ""
        lines.append(
            f"| {r.kernel} | {r.shape[0]}×{r.shape[1]}{graph} | {r.dtype} | {_mb(r.bytes_moved)} "
            f"| {_us(r.kernel_ms)} | {pct} | {r.copy_gbps:.0f} | {_us(r.eager_ms)} | {_us(r.compiled_ms)} "
            f"| {_us(r.community_ms)} | {_ratio(r.vs_eager)} | {_ratio(r.vs_compiled)} | {_ratio(r.vs_community)} "
            f"| {_check(r.check, r.max_abs_err)} | {_check(r.community_check, r.community_max_abs_err)} "
            f"| {r.verdict()} |"
        )
    return "\n".join(lines)


def summary(results: list[Result]) -> list[str]:
    large = [r for r in results if r.large]
    lines = []
    if large:
        worst = min(large, key=lambda r: r.pct_copy)
        lines.append(
            f"- Large tensors (≥ {LARGE_BYTES // 2**20} MiB moved): "
            f"{sum(r.pct_copy >= 100 * BANDWIDTH_TARGET for r in large)}/{len(large)} reach "
            f"{BANDWIDTH_TARGET:.0%} of the copy bandwidth; lowest {worst.pct_copy:.1f}% ({worst.label})."
        )
    lines.append(
        f"- Faster than eager PyTorch: {sum(r.vs_eager > 1 for r in results)}/{len(results)} "
        f"(smallest speedup {min(r.vs_eager for r in results):.2f}×)."
    )
    lines.append(
        f"- Faster than torch.compile: {sum(r.vs_compiled > 1 for r in results)}/{len(results)} "
        f"(smallest speedup {min(r.vs_compiled for r in results):.2f}×)."
    )
    with_community = [r for r in results if r.vs_community is not None]
    if with_community:
        lines.append(
            f"- Faster than the community kernel: {sum(r.vs_community > 1 for r in with_community)}"
            f"/{len(with_community)} (smallest speedup {min(r.vs_community for r in with_community):.2f}×)."
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


def why_section(results: list[Result]) -> str:
    """One entry per row that misses (ties excluded): what it missed and the profile that will say why."""
    misses = [r for r in results if r.verdict() == "MISS"]
    if not misses:
        return "Every row meets its targets or ties at the copy bandwidth."
    entries = []
    for r in misses:
        entries.append(
            f"- **{r.label}** ({', '.join(r.targets())}). Why: *not profiled yet* — take\n"
            f"  `{ncu_command(r)}`\n"
            "  and put the limiter it shows (memory throughput, achieved occupancy, registers, stalls) here."
        )
    return "\n".join(entries)


METHOD = """\
* **ours**: `examples/activation` and `examples/rmsnorm` loaded with
  `kernels.get_local_kernel` from their CUDA build, writing into a
  preallocated output.
* **eager**: the PyTorch expression models run (`F.silu(x[..., :d]) * x[..., d:]`,
  `F.gelu(...) * ...`, transformers' `FastGELUActivation` formula,
  `F.gelu(x, approximate="tanh")`, transformers' `LlamaRMSNorm.forward`).
* **compile**: `torch.compile` of the same function (default mode,
  `dynamic=False`, `fullgraph=True`), compiled and warmed up before timing.
* **community**: {community}
* **copy**: `dst.copy_(src)` of half the bytes the kernel moves, so that it
  reads and writes as many bytes as the kernel: each input read once and
  each output written once (`MB moved`; for rms_norm the weight is counted
  once). Measured in the same run, interleaved with the others.
* Times are CUDA-event times of back-to-back calls (about {target_ms:g} ms per
  sample), median of {reps} samples, every candidate interleaved in every sample.
  Rows marked *(graph)* are decode shapes: each candidate's calls are captured
  in a CUDA graph and the graph is replayed, so that launch overhead does not
  hide the kernel. Bandwidth = bytes moved / time; `% copy` = our bandwidth /
  copy bandwidth; `× eager`, `× compile`, `× community` = their time / our
  time. Small cases (in parentheses) fit in L2, so their bandwidth is not a
  memory figure.
* `vs fp64`: the output (poisoned with NaN before the run) against a float64
  evaluation of the reference, within about one unit in the last place of the
  dtype; the largest absolute error in parentheses.
* `verdict`: `ok` when every target is met (≥ {target:.0%} of copy for large
  cases, faster than every other column, correct); `tie at copy` when the
  only misses are ties at the memory limit; `MISS` otherwise (see below)."""


def render_report(results: list[Result], env: dict[str, str], command: str, reps: int, target_ms: float,
                  skipped: Optional[list[str]] = None, community: str = "not built in this run") -> str:
    skipped_note = f"\n- Not run (time budget): {', '.join(skipped)}.\n" if skipped else ""
    method = METHOD.format(community=community, target_ms=target_ms, reps=reps, target=BANDWIDTH_TARGET)
    return f"""# Kernel performance: activation and rms_norm on {env['gpu']}

Generated by `bench/kernels_gpu.py` on {env['date']}: {env['gpu']} ({env['sms']} SMs,
{env['memory']}), PyTorch {env['torch']}, CUDA {env['cuda']}, Python {env['python']}.
Regenerate with (on a machine with a CUDA GPU; it builds our kernels and the
community kernel, runs their tests and this benchmark, and names the report
after the GPU it finds):

```bash
bench/run_gpu.sh OUT_DIR   # writes OUT_DIR/{report_name(env['gpu'])} (copied to docs/) and logs
```

or, with the kernels already built, `{command}`.

## Method

{method}

## Results

{markdown_table(results)}

## Targets (issue 18)

{chr(10).join(summary(results))}
{skipped_note}
## Why rows miss

{why_section(results)}
"""


def load_runs(paths: list) -> tuple[dict, list[Result], dict, list[str], str]:
    """Environment, results, settings, skipped labels and community line of one or more --json files of
    one GPU (a later file's result replaces an earlier one's of the same label)."""
    import json

    env, settings, community, by_label, skipped = None, {}, "not built in this run", {}, []
    for path in paths:
        payload = json.loads(path.read_text(encoding="utf-8"))
        if env is not None and payload["environment"]["gpu"] != env["gpu"]:
            raise ValueError(f"GPU {payload['environment']['gpu']!r}, not {env['gpu']!r} as in {paths[0]}")
        env = payload["environment"]
        settings = payload.get("settings", settings)
        community = payload.get("community", community)
        for data in payload["results"]:
            by_label[data["label"]] = Result.from_dict(data)
        skipped += payload.get("skipped", [])
    return env, list(by_label.values()), settings, [s for s in dict.fromkeys(skipped) if s not in by_label], community


def main(argv: Optional[list[str]] = None) -> int:
    """Render a report from the JSON that `bench/kernels_gpu.py --json` wrote (several runs of one GPU
    merge), without a GPU."""
    import argparse
    import sys
    from pathlib import Path

    parser = argparse.ArgumentParser(description=main.__doc__)
    parser.add_argument("json_files", type=Path, nargs="+")
    parser.add_argument("--output", type=Path, default=None,
                        help="report to write (default: docs/kernel-performance-<gpu>.md of this checkout)")
    args = parser.parse_args(argv)
    try:
        env, results, settings, skipped, community = load_runs(args.json_files)
    except (OSError, ValueError, KeyError, TypeError) as e:
        print(f"gpu_report.py: error: {' '.join(map(str, args.json_files))}: not kernels_gpu.py --json output "
              f"of one GPU ({e})", file=sys.stderr)
        return 2
    if not results:
        print(f"gpu_report.py: error: {' '.join(map(str, args.json_files))}: no results", file=sys.stderr)
        return 2
    output = args.output or Path(__file__).resolve().parents[1] / "docs" / report_name(env["gpu"])
    output.write_text(render_report(results, env, settings.get("command", "python bench/kernels_gpu.py"),
                                    settings.get("reps", 7), settings.get("target_ms", 5.0), skipped, community),
                      encoding="utf-8")
    print(f"wrote {output}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
