"""bench/builder_speed.py without building anything: log parsing, phases, verdicts and the report file."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parents[1] / "bench" / "builder_speed.py"


@pytest.fixture(scope="module")
def bench():
    spec = importlib.util.spec_from_file_location("builder_speed", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    sys.modules["builder_speed"] = module  # dataclasses look their module up
    spec.loader.exec_module(module)
    yield module
    del sys.modules["builder_speed"]


NINJA_OUTPUT = """\
*** Building project with Ninja...
[1/3] Building CXX object CMakeFiles/kb_kernel_relu_cpu.dir/tmp/x/relu/relu_cpu/relu_cpu.cpp.o
  [2/3] Building CXX object CMakeFiles/_relu_cpu_bench.dir/tmp/x/relu/torch-ext/torch_binding.cpp.o
[3/3] Linking CXX shared module _relu_cpu_bench.abi3.so
ninja: no work to do.
"""


def test_compile_steps_count_compiles_not_links(bench) -> None:
    steps = bench.COMPILE_STEP.findall(NINJA_OUTPUT)  # pip -v indents the backend's output
    assert [bench.object_name(s) for s in steps] == ["kb_kernel_relu_cpu: relu_cpu.cpp.o",
                                                     "_relu_cpu_bench: torch_binding.cpp.o"]


def test_skbuild_phases_split_at_the_progress_lines(bench) -> None:
    lines = [(0.5, "  *** scikit-build-core 1.1.2 using CMake 4.4.5 (editable)"),
             (1.0, "  *** Configuring CMake..."), (3.0, "  *** Building project with Ninja..."),
             (13.0, "  *** Installing project into wheel..."), (13.5, "  *** Making editable..."),
             (14.0, "  *** Created relu-1-cp39-abi3-linux_x86_64.whl")]
    phases = bench.skbuild_phases(lines, 0.0, 14.25, "start", "end")
    assert phases == {"start": 1.0, "configure": 2.0, "build": 10.0, "install": 0.5, "end": 0.75}


def test_kernel_builder_phases_cover_the_whole_run(bench) -> None:
    marks = [("start", 100.1), ("imports", 100.2), ("create_pyproject:start", 101.0),
             ("create_pyproject:end", 101.01), ("wheel build:start", 101.02),
             ("skbuild:*** Configuring CMake...", 101.2), ("skbuild:*** Building project with Ninja...", 101.3),
             ("skbuild:*** Installing project into wheel...", 111.3), ("skbuild:*** Making wheel...", 111.4),
             ("wheel build:end", 111.5), ("_unpack_package:end", 111.55), ("replace_dir:end", 111.6)]
    phases = bench.kernel_builder_phases(marks, 100.0, 112.0)
    assert sum(phases.values()) == pytest.approx(12.0)
    assert phases["wheel build: Ninja"] == pytest.approx(10.0)
    assert phases["wheel build: CMake configure"] == pytest.approx(0.1)
    assert phases["exit"] == pytest.approx(0.4)


def _runs(bench, ours: float, pip: float, pip_build_dir: float):
    seconds = {"kernel-builder": ours, "pip -e": pip, "pip -e, build-dir": pip_build_dir}
    return [bench.Run(config, state, value, value, [], None, None)
            for config, value in seconds.items() for state in bench.STATES for _ in range(3)]


def test_verdicts_use_a_tie_band(bench) -> None:
    runs = _runs(bench, ours=10.0, pip=12.0, pip_build_dir=10.3)
    by = {(c, s): [r for r in runs if r.config == c and r.state == s] for c in bench.CONFIGS for s in bench.STATES}
    assert bench.verdict(by, "cold", "pip -e", "seconds") == "faster"
    assert bench.verdict(by, "cold", "pip -e, build-dir", "seconds") == "tie"
    runs = _runs(bench, ours=12.0, pip=10.0, pip_build_dir=10.0)
    by = {(c, s): [r for r in runs if r.config == c and r.state == s] for c in bench.CONFIGS for s in bench.STATES}
    assert bench.verdict(by, "no-op", "pip -e", "cpu_seconds") == "**slower**"


def test_report_keeps_hand_written_text(bench, tmp_path: Path) -> None:
    runs = _runs(bench, ours=10.0, pip=20.0, pip_build_dir=11.0)
    profile = [bench.Run("kernel-builder", s, 1.0, 1.0, [], 0, 2, {"phase": 1.0})
               for s in (*bench.STATES, bench.DEFAULT_ID_STATE)]
    meta = {"date": "today", "repeats": 3, "minutes": 1.0, "load_before": "0", "load_after": "0",
            "command": "python bench/builder_speed.py"}
    report = bench.render(runs, profile, [("CPU", "test")], meta)
    assert "| cold (empty cache, nothing built) | 10.0 (10.0–10.0) | 20.0 (20.0–20.0) | **0.50** |" in report
    assert "| no-op | faster / faster | faster / faster |" in report
    out = tmp_path / "report.md"
    bench.write_report(out, report)
    text = out.read_text()
    assert text.startswith("# Builder speed") and bench.BEGIN in text
    out.write_text(text + "\nHand-written analysis.\n")
    bench.write_report(out, report.replace("today", "tomorrow"))
    text = out.read_text()
    assert "tomorrow" in text and "today" not in text and text.endswith("Hand-written analysis.\n")


def test_bad_arguments_are_one_line_errors(tmp_path: Path) -> None:
    import subprocess

    not_a_run = tmp_path / "other.json"
    not_a_run.write_text("{}")
    for args, message in ((["--repeats", "0"], "--repeats must be at least 1"),
                          (["--from-json", str(tmp_path / "missing.json")], "not the JSON of an earlier --json run"),
                          (["--from-json", str(not_a_run)], "not the JSON of an earlier --json run")):
        result = subprocess.run([sys.executable, str(SCRIPT), *args], capture_output=True, text=True, timeout=120)
        assert result.returncode == 2
        assert message in result.stderr and "Traceback" not in result.stderr, result.stderr
