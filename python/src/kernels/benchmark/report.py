"""Results of a benchmark run: machine description, printed report and JSON payload."""

from __future__ import annotations

import math
import os
import platform
import subprocess
import sys
from dataclasses import dataclass, field
from typing import Any, Optional

from .stats import ALPHA, CONFIDENCE, Comparison, Summary

#: Tolerances of the output check (``torch.allclose``).
ATOL = 1e-2
RTOL = 1e-5
#: Version of the JSON payload written by ``--output``.
FORMAT_VERSION = 1

TABLE_HEADERS = (
    "Benchmark", "Workload", "N", "Speedup", "Mean(ms)", "Std(ms)", "Min(ms)", "Max(ms)",
    "IQR(ms)", "Outliers", "Ref(ms)", "Match",
)
_RIGHT_ALIGNED = {"N", "Mean(ms)", "Std(ms)", "Min(ms)", "Max(ms)", "IQR(ms)", "Outliers", "Ref(ms)"}


# ---------------------------------------------------------------------------
# Data
# ---------------------------------------------------------------------------


@dataclass(frozen=True)
class MachineInfo:
    gpu: str
    cpu: str
    os: str
    pytorch: str
    #: What Torch computes with: ``CUDA 12.8``, ``ROCm 6.4``, ``XPU``, ``MPS`` or ``CPU``.
    backend: str
    #: Torch device the workloads ran on.
    device: str
    python: str

    def to_dict(self) -> dict[str, str]:
        return {
            "gpu": self.gpu, "cpu": self.cpu, "os": self.os, "pytorch": self.pytorch,
            "backend": self.backend, "device": self.device, "python": self.python,
        }


@dataclass(frozen=True)
class KernelInfo:
    """Which kernel was benchmarked."""

    source: str  # "local" or "hub"
    name: Optional[str]
    #: Commit sha: the resolved Hub commit, or the git ``HEAD`` of a local project.
    sha: Optional[str]
    #: Local projects only: tracked files differ from ``HEAD`` (``None``: not a git checkout).
    dirty: Optional[bool]
    build_id: Optional[str]
    variant: Optional[str]
    repo_id: Optional[str] = None
    revision: Optional[str] = None
    path: Optional[str] = None

    @property
    def short_id(self) -> str:
        """What the report's ``Kernel:`` line shows."""
        if self.sha:
            return self.sha[:7] + ("-dirty" if self.dirty else "")
        return f"{self.build_id or 'unknown'} (build id)"

    def to_dict(self) -> dict[str, Any]:
        return {
            "source": self.source, "name": self.name, "repo_id": self.repo_id, "revision": self.revision,
            "path": self.path, "sha": self.sha, "dirty": self.dirty, "build_id": self.build_id,
            "variant": self.variant,
        }


@dataclass(frozen=True)
class ScriptInfo:
    #: Path relative to the kernel root, e.g. ``benchmarks/benchmark.py``.
    path: str
    sha256: str


@dataclass(frozen=True)
class WorkloadResult:
    """Outcome of one ``benchmark_<workload>`` method."""

    benchmark: str
    workload: str
    script: str
    #: Kernel timings; ``None`` when the output check failed (the workload is then not timed).
    timing: Optional[Summary]
    #: Timings of ``verify_<workload>``; ``None`` without a verify method.
    reference: Optional[Summary] = None
    comparison: Optional[Comparison] = None
    #: ``True``/``False``: output matched/did not match the reference; ``None``: no verify method.
    match: Optional[bool] = None
    mismatch: Optional[str] = None

    @property
    def label(self) -> str:
        return f"{self.benchmark}.{self.workload}"

    def to_dict(self) -> dict[str, Any]:
        return {
            "benchmark": self.benchmark,
            "workload": self.workload,
            "script": self.script,
            "timing": self.timing.to_dict() if self.timing else None,
            "reference": self.reference.to_dict() if self.reference else None,
            "comparison": self.comparison.to_dict() if self.comparison else None,
            "match": self.match,
            "mismatch": self.mismatch,
        }


@dataclass
class BenchmarkReport:
    kernel: KernelInfo
    machine: MachineInfo
    scripts: list[ScriptInfo]
    #: sha256 of the benchmark script, or of the manifest of all scripts (see :func:`combined_sha256`).
    benchmark_sha256: str
    warmup: int
    iterations: int
    results: list[WorkloadResult] = field(default_factory=list)

    @property
    def failures(self) -> list[WorkloadResult]:
        return [r for r in self.results if r.match is False]

    def to_dict(self) -> dict[str, Any]:
        from .. import __version__

        return {
            "format": "kernels-benchmark",
            "format_version": FORMAT_VERSION,
            "kernels_version": __version__,
            "kernel": self.kernel.to_dict(),
            "benchmark": {
                "sha256": self.benchmark_sha256,
                "scripts": [{"path": s.path, "sha256": s.sha256} for s in self.scripts],
            },
            "machine": self.machine.to_dict(),
            "settings": {
                "warmup": self.warmup,
                "iterations": self.iterations,
                "confidence": CONFIDENCE,
                "alpha": ALPHA,
                "atol": ATOL,
                "rtol": RTOL,
            },
            "results": [r.to_dict() for r in self.results],
        }


def _finite(value: Any) -> Any:
    """``value`` with infinite and NaN floats replaced by ``None`` (strict JSON has neither)."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_finite(v) for v in value]
    return value


def to_json(report: BenchmarkReport) -> str:
    """The ``--output`` payload (infinities, e.g. a zero-variance t statistic, become ``null``)."""
    import json

    return json.dumps(_finite(report.to_dict()), indent=2, allow_nan=False) + "\n"


def combined_sha256(scripts: list[ScriptInfo]) -> str:
    """One script: its sha256. Several: sha256 of ``"<sha256>  <path>\\n"`` lines sorted by path."""
    import hashlib

    if len(scripts) == 1:
        return scripts[0].sha256
    manifest = "".join(f"{s.sha256}  {s.path}\n" for s in sorted(scripts, key=lambda s: s.path))
    return hashlib.sha256(manifest.encode("utf-8")).hexdigest()


# ---------------------------------------------------------------------------
# Machine description
# ---------------------------------------------------------------------------


def _run_quiet(*args: str) -> Optional[str]:
    try:
        result = subprocess.run(args, capture_output=True, text=True, timeout=5)
    except (OSError, subprocess.SubprocessError):
        return None
    return result.stdout.strip() if result.returncode == 0 and result.stdout.strip() else None


def cpu_name() -> str:
    name: Optional[str] = None
    if sys.platform.startswith("linux"):
        try:
            with open("/proc/cpuinfo", encoding="utf-8", errors="replace") as f:
                for line in f:
                    key, _, value = line.partition(":")
                    if key.strip() in ("model name", "Model", "cpu model") and value.strip():
                        name = value.strip()
                        break
        except OSError:
            pass
    elif sys.platform == "darwin":
        name = _run_quiet("sysctl", "-n", "machdep.cpu.brand_string")
    name = name or platform.processor() or platform.machine() or "unknown"
    count = os.cpu_count()
    return f"{name} ({count} logical cores)" if count else name


def _gpu_name(torch: Any) -> str:
    try:
        if torch.cuda.is_available():
            index = torch.cuda.current_device()
            name = torch.cuda.get_device_name(index)
            count = torch.cuda.device_count()
            return f"{name} (device {index} of {count})" if count > 1 else name
        xpu = getattr(torch, "xpu", None)
        if xpu is not None and xpu.is_available():
            return str(xpu.get_device_name(xpu.current_device()))
        mps = getattr(torch.backends, "mps", None)
        if mps is not None and mps.is_available():
            chip = _run_quiet("sysctl", "-n", "machdep.cpu.brand_string")
            return f"{chip} GPU (MPS)" if chip else "Apple GPU (MPS)"
    except Exception:  # noqa: BLE001 - a description must never fail the run
        return "unknown"
    return "none"


def _torch_backend(torch: Any) -> str:
    if getattr(torch.version, "hip", None):
        return f"ROCm {torch.version.hip}"
    if torch.version.cuda:
        return f"CUDA {torch.version.cuda}"
    if getattr(torch.version, "xpu", None):
        return f"XPU {torch.version.xpu}"
    mps = getattr(torch.backends, "mps", None)
    if mps is not None and mps.is_built() and sys.platform == "darwin":
        return "MPS"
    return "CPU"


def collect_machine_info(device: str) -> MachineInfo:
    import torch

    return MachineInfo(
        gpu=_gpu_name(torch),
        cpu=cpu_name(),
        os=f"{platform.system()} {platform.release()}",
        pytorch=torch.__version__,
        backend=_torch_backend(torch),
        device=device,
        python=platform.python_version(),
    )


# ---------------------------------------------------------------------------
# Printed report
# ---------------------------------------------------------------------------


def format_header(machine: MachineInfo, warmup: int, iterations: int) -> str:
    lines = [
        "",
        f"  GPU      {machine.gpu}",
        f"  CPU      {machine.cpu}",
        f"  OS       {machine.os}",
        f"  PyTorch  {machine.pytorch} ({machine.backend})",
        f"  Device   {machine.device} (warmup {warmup}, {iterations} timed iterations per workload)",
        "",
    ]
    return "\n".join(lines)


def _ms(value: Optional[float]) -> str:
    return "" if value is None else f"{value:.4f}"


def render_table(headers: tuple[str, ...], rows: list[list[str]]) -> str:
    """A box-drawn table; numeric columns are right-aligned."""
    widths = [len(h) for h in headers]
    for row in rows:
        for i, cell in enumerate(row):
            widths[i] = max(widths[i], len(cell))

    def line(left: str, middle: str, right: str) -> str:
        return left + middle.join("─" * (w + 2) for w in widths) + right

    def cells(values: list[str] | tuple[str, ...], header: bool = False) -> str:
        parts = []
        for name, value, width in zip(headers, values, widths):
            text = value.rjust(width) if (name in _RIGHT_ALIGNED and not header) else value.ljust(width)
            if header and name in _RIGHT_ALIGNED:
                text = value.rjust(width)
            parts.append(f" {text} ")
        return "│" + "│".join(parts) + "│"

    out = [line("┌", "┬", "┐"), cells(headers, header=True), line("├", "┼", "┤")]
    out += [cells(row) for row in rows]
    out.append(line("└", "┴", "┘"))
    return "\n".join(out)


def table_rows(results: list[WorkloadResult]) -> list[list[str]]:
    rows = []
    for r in results:
        t = r.timing
        speedup = f"{r.comparison.speedup:.2f}x" if r.comparison else ""
        match = {True: "✓", False: "✗", None: "·"}[r.match]
        if t is None:
            rows.append([r.benchmark, r.workload, "", "", "", "", "", "", "", "", "", match])
            continue
        rows.append([
            r.benchmark, r.workload, str(t.n), speedup, _ms(t.mean), _ms(t.std), _ms(t.min), _ms(t.max),
            _ms(t.iqr), str(t.outliers), _ms(r.reference.mean if r.reference else None), match,
        ])
    return rows


def _p_text(p: float) -> str:
    return "p≈0" if p == 0.0 else f"p={p:.2g}"


def _ci_text(summary: Summary) -> str:
    if summary.ci_low is None or summary.ci_high is None:
        return f"{summary.mean:.4f}ms"
    return f"{summary.ci_low:.4f}-{summary.ci_high:.4f}ms"


def significance_line(r: WorkloadResult, name: str) -> str:
    """One line per workload: 95% CI of the kernel's mean and the verdict against the reference."""
    if r.timing is None:
        return f"  {name}: ✗ output does not match verify_{r.workload}(): {r.mismatch}"
    level = f"{round(r.timing.confidence * 100)}% CI"
    if r.reference is None or r.comparison is None:
        return f"  {name}: mean {r.timing.mean:.4f}ms ({level}: {_ci_text(r.timing)}), no reference (no verify_{r.workload})"
    c = r.comparison
    if math.isinf(c.speedup):
        ratio = "∞x faster"
    elif c.speedup >= 1.0:
        ratio = f"{c.speedup:.2f}x faster"
    else:
        ratio = f"{1.0 / c.speedup:.2f}x slower" if c.speedup > 0 else "slower"
    body = f"{ratio} ({level}: {_ci_text(r.timing)} vs ref {_ci_text(r.reference)}"
    if c.p_value is None:
        return f"  {name}: {body}) n/a: significance needs at least 2 iterations"
    body += f", Welch {_p_text(c.p_value)})"
    verdict = {
        "faster": "✓ significant",
        "slower": "✗ significantly slower",
        "not significant": "~ not significant",
    }[c.verdict]
    return f"  {name}: {body} {verdict}"


def format_report(report: BenchmarkReport) -> str:
    """The table, one significance line per workload, and the kernel/benchmark ids."""
    classes = {r.benchmark for r in report.results}
    names = [r.label if len(classes) > 1 else r.workload for r in report.results]
    parts = [render_table(TABLE_HEADERS, table_rows(report.results)), ""]
    parts += [significance_line(r, name) for r, name in zip(report.results, names)]
    parts += ["", f"Kernel: {report.kernel.short_id}  Benchmark: {report.benchmark_sha256[:7]}"]
    return "\n".join(parts)
