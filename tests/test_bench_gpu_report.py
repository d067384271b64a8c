"""The GPU report's verdicts (bench/gpu_report.py, used by bench/kernels_gpu.py), from hand-made results:
no GPU needed."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path


_spec = importlib.util.spec_from_file_location(
    "gpu_report", Path(__file__).resolve().parents[1] / "bench" / "gpu_report.py")
gpu_report = importlib.util.module_from_spec(_spec)
sys.modules.setdefault("gpu_report", gpu_report)  # dataclasses look their module up
_spec.loader.exec_module(gpu_report)

MB = 2**20


def result(kernel_us: float, eager_us: float, compiled_us: float, copy_us: float,
           moved: int = 1024 * MB, check: bool = True):
    return gpu_report.Result(label=f"case {kernel_us}", kernel="gelu_tanh", shape=(1, 1), dtype="fp16",
                               bytes_moved=moved, kernel_ms=kernel_us / 1e3, eager_ms=eager_us / 1e3,
                               compiled_ms=compiled_us / 1e3, copy_ms=copy_us / 1e3, compile_s=0.1,
                               max_abs_err=0.0, check=check)


def test_a_kernel_faster_than_both_at_copy_bandwidth_meets_every_target():
    r = result(kernel_us=300, eager_us=900, compiled_us=310, copy_us=300)
    assert r.targets() == []
    assert gpu_report.summary([r])[-1] == "- Every target is met."


def test_below_the_bandwidth_target_is_a_miss_and_not_a_tie():
    r = result(kernel_us=400, eager_us=390, compiled_us=420, copy_us=300)
    assert r.targets() == ["75.0% of copy", "not faster than eager"]
    assert not r.tied_at_copy_bandwidth()
    assert not any("ties at the memory limit" in line for line in gpu_report.summary([r]))


def test_equal_to_eager_at_the_copy_bandwidth_is_reported_as_a_tie():
    r = result(kernel_us=301, eager_us=300, compiled_us=320, copy_us=300)
    assert r.targets() == ["not faster than eager"]
    assert r.tied_at_copy_bandwidth()
    lines = gpu_report.summary([r])
    assert "1/1 are ties at the memory limit" in lines[-1]


def test_a_slower_competitor_far_below_copy_is_not_a_tie_and_wrong_results_never_are():
    slow_eager_but_tie_with_compile = result(kernel_us=301, eager_us=300, compiled_us=600, copy_us=300)
    assert slow_eager_but_tie_with_compile.tied_at_copy_bandwidth()
    beaten_by_far = result(kernel_us=305, eager_us=250, compiled_us=320, copy_us=300)
    assert not beaten_by_far.tied_at_copy_bandwidth()  # 18% slower than eager is no tie
    assert beaten_by_far.targets() == ["not faster than eager"]
    wrong = result(kernel_us=301, eager_us=300, compiled_us=320, copy_us=300, check=False)
    assert not wrong.tied_at_copy_bandwidth()
