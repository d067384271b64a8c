"""``kernels benchmark`` and ``kernels.benchmark``: targets, discovery, running, report and JSON.

The kernel under test is a pure-Python fake build (see conftest.py), so these
tests compile nothing; tests/test_benchmark_e2e.py runs the real examples/relu.
"""

from __future__ import annotations

import hashlib
import io
import json
import re
import subprocess
import sys
import textwrap
import time
from pathlib import Path
from typing import Any, Callable

import pytest
import torch
from click.testing import CliRunner

import kernels
from kernels.benchmark import Benchmark, BenchmarkError, parse_target, run_benchmark
from kernels.benchmark.report import TABLE_HEADERS
from kernels.benchmark.runner import _Timer, output_mismatch, workload_names
from kernels.cli import main

KERNEL_CODE = """
import torch


def relu(x, out=None):
    if out is None:
        out = torch.empty_like(x)
    torch.clamp(x, min=0, out=out)
    return out


def wrong_relu(x, out=None):
    if out is None:
        out = torch.empty_like(x)
    out.copy_(x)
    return out
"""

GOOD_SCRIPT = """
import torch

from kernels.benchmark import Benchmark


class ReluBench(Benchmark):
    seed = 7

    def setup(self):
        self.x = torch.randn(64, 64, device=self.device)
        self.out = torch.empty_like(self.x)

    def benchmark_plain(self):
        self.kernel.relu(self.x, out=self.out)

    def verify_plain(self):
        return torch.relu(self.x)

    def setup_sized(self):
        assert torch.initial_seed() == 7, torch.initial_seed()
        self.x = torch.randn(8, device=self.device, dtype=torch.float16)
        self.out = torch.empty_like(self.x)

    def benchmark_sized(self):
        self.kernel.relu(self.x, out=self.out)

    def verify_sized(self):
        # Computed in float32: compared in the promoted dtype.
        return torch.relu(self.x.float())

    def benchmark_unverified(self):
        self.kernel.relu(self.x)
"""

MISMATCH_SCRIPT = """
import torch

from kernels.benchmark import Benchmark


class Bad(Benchmark):
    seed = 0

    def setup(self):
        self.x = torch.randn(16, 4)
        self.out = torch.empty_like(self.x)

    def benchmark_right(self):
        self.kernel.relu(self.x, out=self.out)

    def verify_right(self):
        return torch.relu(self.x)

    def benchmark_wrong(self):
        self.kernel.wrong_relu(self.x, out=self.out)

    def verify_wrong(self):
        return torch.relu(self.x)
"""

FAST = ["--warmup", "1", "--iterations", "4"]


@pytest.fixture
def make_project(tmp_path: Path, arch_variant: str, fake_variant: Callable[..., Path]) -> Callable[..., Path]:
    """``make_project({"benchmark.py": source, ...})``: a fake built kernel project with benchmarks/."""

    def make(scripts: dict[str, str] | None = None, root: Path | None = None) -> Path:
        project = root or tmp_path / "kernel"
        fake_variant(arch_variant, root=project, init_extra=KERNEL_CODE)
        if scripts is not None:
            (project / "benchmarks").mkdir(parents=True, exist_ok=True)
            for name, source in scripts.items():
                (project / "benchmarks" / name).write_text(textwrap.dedent(source))
        return project

    return make


def invoke(*args: str) -> Any:
    return CliRunner().invoke(main, ["benchmark", *args])


def table_rows(stdout: str) -> dict[str, list[str]]:
    """Workload -> cells of the printed table."""
    rows = {}
    for line in stdout.splitlines():
        if line.startswith("│") and not line.startswith("│ Benchmark"):
            cells = [c.strip() for c in line.strip("│").split("│")]
            rows[cells[1]] = cells
    return rows


# --- targets and revisions --------------------------------------------------


@pytest.mark.parametrize(
    ("spec", "version", "branch", "revision", "expected_version", "expected_branch"),
    [
        ("org/name@v1", None, None, "v1", 1, None),
        ("org/name@v12", None, None, "v12", 12, None),
        ("org/name@main", None, None, "main", None, "main"),
        ("org/name@feature/x", None, None, "feature/x", None, "feature/x"),
        ("org/name", 3, None, "v3", 3, None),
        ("org/name", 0, None, "v0", 0, None),
        ("org/name", None, "dev", "dev", None, "dev"),
        ("kernels-community/activation.v2", None, "main", "main", None, "main"),
    ],
)
def test_parse_hub_targets(spec: str, version: Any, branch: Any, revision: str,
                           expected_version: Any, expected_branch: Any) -> None:
    target = parse_target(spec, version, branch)
    assert target.source == "hub"
    assert target.repo_id == spec.split("@")[0]
    assert (target.revision, target.version, target.branch) == (revision, expected_version, expected_branch)
    assert target.label == f"{target.repo_id}@{revision}"


@pytest.mark.parametrize(
    ("spec", "version", "branch", "message"),
    [
        ("org/name", 1, "main", "pass either --version or --branch, not both"),
        ("org/name@v1", None, "main", "give the revision either as @v1 or with --branch, not both"),
        ("org/name@main", 2, None, "give the revision either as @main or with --version, not both"),
        ("org/name@v1", 1, None, "give the revision either as @v1 or with --version, not both"),
        ("org/name", None, None, "say which revision of org/name to benchmark"),
        ("org/name@1", None, None, "write the version as org/name@v1"),
        ("org/name@", None, None, "nothing after '@'"),
        ("just-a-name", 1, None, "Hub repository id like 'org/name'"),
        ("org/name/extra", 1, None, "kernel directory org/name/extra does not exist"),
        ("./missing", None, None, "kernel directory ./missing does not exist"),
        ("org/name", -1, None, "--version must be a non-negative integer"),
        ("org/name", None, " ", "--branch must not be empty"),
    ],
)
def test_parse_target_errors(spec: str, version: Any, branch: Any, message: str) -> None:
    with pytest.raises(BenchmarkError, match=re.escape(message)):
        parse_target(spec, version, branch)


def test_existing_directory_is_local_and_takes_no_revision(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "org" / "name").mkdir(parents=True)
    monkeypatch.chdir(tmp_path)
    target = parse_target("org/name")
    assert target.source == "local" and target.path == (tmp_path / "org" / "name").resolve()
    with pytest.raises(BenchmarkError, match="is a local directory: --version only selects a revision"):
        parse_target("org/name", version=1)
    with pytest.raises(BenchmarkError, match="is a local directory: --branch"):
        parse_target(str(tmp_path / "org" / "name"), branch="main")


def test_cli_revision_conflicts_are_one_line_errors() -> None:
    result = invoke("org/name@v1", "--version", "1")
    assert result.exit_code == 1
    assert result.stderr == "error: give the revision either as @v1 or with --version, not both\n"
    result = invoke("org/name", "--version", "1", "--branch", "main")
    assert result.exit_code == 1 and "pass either --version or --branch" in result.stderr
    result = invoke("org/name", "--version", "-2")
    assert result.exit_code == 2  # click's own range check
    result = invoke("org/name", "--iterations", "0")
    assert result.exit_code == 2


# --- a successful run ---------------------------------------------------------


def test_run_prints_header_table_intervals_and_ids(make_project: Callable[..., Path]) -> None:
    project = make_project({"benchmark.py": GOOD_SCRIPT})
    result = invoke(str(project), *FAST)
    assert result.exit_code == 0, result.output
    out = result.stdout
    for label in ("GPU", "CPU", "OS", "PyTorch"):
        assert re.search(rf"^  {label} +\S", out, re.MULTILINE), label
    assert f"  PyTorch  {torch.__version__}" in out
    header = next(line for line in out.splitlines() if line.startswith("│ Benchmark"))
    assert [c.strip() for c in header.strip("│").split("│")] == list(TABLE_HEADERS)

    rows = table_rows(out)
    assert list(rows) == ["plain", "sized", "unverified"]  # definition order
    for name in ("plain", "sized"):
        cells = rows[name]
        assert cells[0] == "ReluBench" and cells[2] == "4" and cells[11] == "✓"
        assert re.fullmatch(r"\d+\.\d\dx", cells[3]) and re.fullmatch(r"\d+\.\d{4}", cells[10])
    assert rows["unverified"][3] == "" and rows["unverified"][10] == "" and rows["unverified"][11] == "·"

    assert re.search(r"^  plain: \d+\.\d\dx (faster|slower) \(95% CI: [\d.]+-[\d.]+ms vs ref [\d.]+-[\d.]+ms, "
                     r"Welch p(=|≈)\S+\) (✓ significant|✗ significantly slower|~ not significant)$", out, re.MULTILINE)
    assert re.search(r"^  unverified: mean [\d.]+ms \(95% CI: [\d.]+-[\d.]+ms\), no reference \(no verify_unverified\)$",
                     out, re.MULTILINE)
    script_sha = hashlib.sha256((project / "benchmarks" / "benchmark.py").read_bytes()).hexdigest()
    assert out.rstrip().splitlines()[-1] == f"Kernel: _fake_kernel_cpu_0123abc (build id)  Benchmark: {script_sha[:7]}"
    assert "Traceback" not in result.output


def test_json_output_schema_and_same_content_as_table(make_project: Callable[..., Path], tmp_path: Path) -> None:
    project = make_project({"benchmark.py": GOOD_SCRIPT})
    output = tmp_path / "results.json"
    result = invoke(str(project), *FAST, "--output", str(output))
    assert result.exit_code == 0, result.output
    assert f"Results saved to {output}" in result.stderr
    data = json.loads(output.read_text())

    assert set(data) == {"format", "format_version", "kernels_version", "kernel", "benchmark", "machine",
                         "settings", "results"}
    assert (data["format"], data["format_version"], data["kernels_version"]) == ("kernels-benchmark", 1,
                                                                                 kernels.__version__)
    assert data["kernel"] == {
        "source": "local", "name": "fake-kernel", "repo_id": None, "revision": None, "path": str(project),
        "sha": None, "dirty": None, "build_id": "_fake_kernel_cpu_0123abc", "variant": kernels.variants.current_variant("cpu"),
    }
    script_sha = hashlib.sha256((project / "benchmarks" / "benchmark.py").read_bytes()).hexdigest()
    assert data["benchmark"] == {"sha256": script_sha, "scripts": [{"path": "benchmarks/benchmark.py", "sha256": script_sha}]}
    assert set(data["machine"]) == {"gpu", "cpu", "os", "pytorch", "backend", "device", "python"}
    assert data["machine"]["device"] == "cpu" and data["machine"]["pytorch"] == torch.__version__
    assert all(isinstance(v, str) and v for v in data["machine"].values())
    assert data["settings"] == {"warmup": 1, "iterations": 4, "confidence": 0.95, "alpha": 0.05, "atol": 0.01,
                                "rtol": 1e-05}

    summary_keys = {"n", "mean_ms", "std_ms", "min_ms", "max_ms", "q1_ms", "median_ms", "q3_ms", "iqr_ms",
                    "outliers", "ci_low_ms", "ci_high_ms", "confidence"}
    rows = table_rows(result.stdout)
    assert [r["workload"] for r in data["results"]] == ["plain", "sized", "unverified"]
    for entry in data["results"]:
        assert set(entry) == {"benchmark", "workload", "script", "timing", "reference", "comparison", "match",
                              "mismatch"}
        assert entry["benchmark"] == "ReluBench" and entry["script"] == "benchmarks/benchmark.py"
        timing = entry["timing"]
        assert set(timing) == summary_keys and timing["n"] == 4
        assert timing["min_ms"] <= timing["q1_ms"] <= timing["median_ms"] <= timing["q3_ms"] <= timing["max_ms"]
        assert timing["ci_low_ms"] <= timing["mean_ms"] <= timing["ci_high_ms"]
        cells = rows[entry["workload"]]
        # The table shows exactly the JSON's numbers, rounded to 4 decimals.
        assert cells[4:10] == [f"{timing[k]:.4f}" for k in ("mean_ms", "std_ms", "min_ms", "max_ms", "iqr_ms")] + [
            str(timing["outliers"])]
        if entry["workload"] == "unverified":
            assert entry["reference"] is None and entry["comparison"] is None and entry["match"] is None
            continue
        assert entry["match"] is True and entry["mismatch"] is None
        assert set(entry["reference"]) == summary_keys and entry["reference"]["n"] == 4
        comparison = entry["comparison"]
        assert set(comparison) == {"speedup", "test", "t", "df", "p_value", "alpha", "significant", "verdict"}
        assert comparison["test"] == "welch"
        assert comparison["speedup"] == pytest.approx(entry["reference"]["mean_ms"] / timing["mean_ms"])
        assert cells[3] == f"{comparison['speedup']:.2f}x"
        assert cells[10] == f"{entry['reference']['mean_ms']:.4f}"
        assert comparison["verdict"] in ("faster", "slower", "not significant")
        assert comparison["significant"] == (comparison["p_value"] < 0.05)


def test_single_iteration_reports_without_intervals(make_project: Callable[..., Path], tmp_path: Path) -> None:
    project = make_project({"benchmark.py": GOOD_SCRIPT})
    output = tmp_path / "one.json"
    result = invoke(str(project), "--warmup", "0", "--iterations", "1", "--output", str(output))
    assert result.exit_code == 0, result.output
    assert "n/a: significance needs at least 2 iterations" in result.stdout
    data = json.loads(output.read_text())
    assert data["results"][0]["timing"]["ci_low_ms"] is None
    assert data["results"][0]["comparison"]["p_value"] is None


def test_progress_bar_and_status_lines(make_project: Callable[..., Path]) -> None:
    project = make_project({"benchmark.py": GOOD_SCRIPT})
    stdout, stderr = io.StringIO(), io.StringIO()
    run_benchmark(str(project), warmup=1, iterations=3, progress=True, stdout=stdout, stderr=stderr)
    # 2 verified workloads: 1 check + (1 + 3) reference + (1 + 3) kernel calls; 1 unverified: 4 calls.
    assert re.search(r"ReluBench\.\w+: +\d+%\|.*\| \d+/22 ", stderr.getvalue())
    assert "│ Benchmark" in stdout.getvalue() and "call" not in stdout.getvalue()

    stdout, stderr = io.StringIO(), io.StringIO()  # not a terminal: no bar by default
    run_benchmark(str(project), warmup=1, iterations=3, stdout=stdout, stderr=stderr)
    assert "%|" not in stderr.getvalue()
    assert "Running benchmarks/benchmark.py..." in stderr.getvalue()


def test_helpers_next_to_scripts_and_several_scripts(make_project: Callable[..., Path]) -> None:
    second = """
    import torch
    from bench_helpers import SIZE
    from kernels.benchmark import Benchmark


    class Other(Benchmark):
        def setup(self):
            self.x = torch.ones(SIZE)
            self.out = torch.empty_like(self.x)

        def benchmark_ones(self):
            self.kernel.relu(self.x, out=self.out)

        def verify_ones(self):
            return self.x
    """
    project = make_project({"benchmark_a.py": GOOD_SCRIPT, "benchmark_b.py": second, "bench_helpers.py": "SIZE = 5\n",
                            "not_a_benchmark.py": "raise RuntimeError('must not be imported')\n"})
    report = run_benchmark(str(project), warmup=0, iterations=2, stdout=io.StringIO(), stderr=io.StringIO())
    assert [r.label for r in report.results] == ["ReluBench.plain", "ReluBench.sized", "ReluBench.unverified",
                                                 "Other.ones"]
    assert [s.path for s in report.scripts] == ["benchmarks/benchmark_a.py", "benchmarks/benchmark_b.py"]
    manifest = "".join(f"{s.sha256}  {s.path}\n" for s in report.scripts)
    assert report.benchmark_sha256 == hashlib.sha256(manifest.encode()).hexdigest()
    # Scripts and their helpers are not left behind in sys.modules.
    assert "bench_helpers" not in sys.modules
    assert not [m for m in sys.modules if m.startswith("_kernels_benchmark_")]


def test_local_git_checkout_gives_kernel_sha(make_project: Callable[..., Path], tmp_path: Path) -> None:
    project = make_project({"benchmark.py": GOOD_SCRIPT})

    def git(*args: str) -> str:
        return subprocess.run(["git", "-C", str(project), "-c", "user.name=t", "-c", "user.email=t@t", *args],
                              check=True, capture_output=True, text=True).stdout.strip()

    git("init", "-q")
    git("add", "benchmarks")
    git("commit", "-q", "-m", "benchmarks")
    head = git("rev-parse", "HEAD")
    stdout = io.StringIO()
    report = run_benchmark(str(project), warmup=0, iterations=2, stdout=stdout, stderr=io.StringIO())
    assert (report.kernel.sha, report.kernel.dirty) == (head, False)
    assert f"Kernel: {head[:7]}  Benchmark: " in stdout.getvalue()

    (project / "benchmarks" / "benchmark.py").write_text(GOOD_SCRIPT + "\n# changed\n")
    stdout = io.StringIO()
    report = run_benchmark(str(project), warmup=0, iterations=2, stdout=stdout, stderr=io.StringIO())
    assert (report.kernel.sha, report.kernel.dirty) == (head, True)
    assert f"Kernel: {head[:7]}-dirty  Benchmark: " in stdout.getvalue()


# --- errors -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("scripts", "message"),
    [
        (None, "has no benchmarks/ directory: benchmark scripts go in benchmarks/benchmark*.py"),
        ({"helpers.py": "X = 1\n"}, "has no benchmark scripts: benchmarks/ contains no benchmark*.py files"),
        ({"benchmark.py": "import torch\nclass NotABenchmark:\n    def benchmark_x(self):\n        pass\n"},
         "benchmarks/benchmark.py defines no Benchmark subclass: define a class deriving from "
         "kernels.benchmark.Benchmark"),
        ({"benchmark.py": "from kernels.benchmark import Benchmark\n"},
         "benchmarks/benchmark.py defines no Benchmark subclass"),
        ({"benchmark.py": "from kernels.benchmark import Benchmark\nclass B(Benchmark):\n    def run(self):\n"
                          "        pass\n"},
         "benchmarks/benchmark.py: B define no benchmark_<workload> methods"),
        ({"benchmark.py": "x = 1\ndef broken(:\n"}, "importing benchmarks/benchmark.py failed: SyntaxError:"),
        ({"benchmark.py": "import torch\n\nraise RuntimeError('no GPU here')\n"},
         "importing benchmarks/benchmark.py failed: RuntimeError: no GPU here (benchmark.py:3)"),
        ({"benchmark.py": "from kernels.benchmark import Benchmark\n\nclass B(Benchmark):\n    def setup(self):\n"
                          "        1 / 0\n\n    def benchmark_x(self):\n        pass\n"},
         "B.x: setup() raised ZeroDivisionError: division by zero (benchmark.py:5)"),
        ({"benchmark.py": "from kernels.benchmark import Benchmark\n\nclass B(Benchmark):\n"
                          "    def benchmark_x(self):\n        self.kernel.missing()\n"},
         "B.x: benchmark_x() raised AttributeError:"),
        ({"benchmark.py": "from kernels.benchmark import Benchmark\n\nclass B(Benchmark):\n"
                          "    def benchmark_x(self):\n        pass\n\n    def verify_x(self):\n        return 1\n"},
         "B.x: self.out is not set; setup_x()/benchmark_x() must store the output"),
        ({"benchmark.py": "import torch\nfrom kernels.benchmark import Benchmark\n\nclass B(Benchmark):\n"
                          "    def setup(self):\n        self.out = torch.zeros(2)\n\n"
                          "    def benchmark_x(self):\n        pass\n\n    def verify_x(self):\n        return 'x'\n"},
         "B.x: verify_x() returned the reference is a str, expected a tensor"),
    ],
)
def test_discovery_and_script_errors(make_project: Callable[..., Path], scripts: Any, message: str) -> None:
    project = make_project(scripts)
    result = invoke(str(project), *FAST)
    assert result.exit_code == 1, result.output
    errors = [line for line in result.stderr.splitlines() if line.startswith("error: ")]
    assert len(errors) == 1 and result.stderr.splitlines()[-1] == errors[0]
    assert message in errors[0]
    assert "Traceback" not in result.output


def test_unbuilt_project_says_to_build(tmp_path: Path) -> None:
    project = tmp_path / "unbuilt"
    (project / "benchmarks").mkdir(parents=True)
    (project / "benchmarks" / "benchmark.py").write_text(GOOD_SCRIPT)
    (project / "build.toml").write_text("[general]\nname = 'x'\n")
    result = invoke(str(project))
    assert result.exit_code == 1
    assert f"has no build/ directory: build the kernel first (kernel-builder build {project})" in result.stderr


def test_verify_mismatch_reports_then_fails(make_project: Callable[..., Path], tmp_path: Path) -> None:
    project = make_project({"benchmark.py": MISMATCH_SCRIPT})
    output = tmp_path / "results.json"
    result = invoke(str(project), *FAST, "--output", str(output))
    assert result.exit_code == 1
    rows = table_rows(result.stdout)
    assert rows["right"][11] == "✓" and rows["right"][2] == "4"
    assert rows["wrong"][11] == "✗" and rows["wrong"][2:11] == [""] * 9  # not timed
    assert re.search(r"^  wrong: ✗ output does not match verify_wrong\(\): \d+ of 64 elements of self.out differ",
                     result.stdout, re.MULTILINE)
    assert re.fullmatch(r"error: verification failed for Bad\.wrong: \d+ of 64 elements of self\.out differ from "
                        r"the reference \(max abs diff [\d.]+; atol=0\.01, rtol=1e-05\)\n", result.stderr.split(
                            "Results saved to")[-1].split("\n", 1)[-1])
    data = json.loads(output.read_text())
    wrong = next(r for r in data["results"] if r["workload"] == "wrong")
    assert wrong["match"] is False and wrong["timing"] is None and "differ from the reference" in wrong["mismatch"]


def test_verify_mismatch_exit_status_without_traceback(make_project: Callable[..., Path]) -> None:
    project = make_project({"benchmark.py": MISMATCH_SCRIPT})
    result = subprocess.run([sys.executable, "-m", "kernels.cli", "benchmark", str(project), *FAST],
                            capture_output=True, text=True)
    assert result.returncode == 1
    assert "│ Bad" in result.stdout
    assert result.stderr.splitlines()[-1].startswith("error: verification failed for Bad.wrong: ")
    assert "Traceback" not in result.stderr


def test_missing_benchmarks_exit_status_without_traceback(tmp_path: Path) -> None:
    result = subprocess.run([sys.executable, "-m", "kernels.cli", "benchmark", str(tmp_path)],
                            capture_output=True, text=True)
    assert result.returncode == 1
    assert result.stdout == ""
    assert result.stderr == f"error: {tmp_path} has no benchmarks/ directory: benchmark scripts go in " \
                            "benchmarks/benchmark*.py\n"


def test_benchmark_error_carries_the_report(make_project: Callable[..., Path]) -> None:
    project = make_project({"benchmark.py": MISMATCH_SCRIPT})
    with pytest.raises(BenchmarkError) as info:
        run_benchmark(str(project), warmup=0, iterations=2, stdout=io.StringIO(), stderr=io.StringIO())
    assert info.value.report is not None
    assert [r.match for r in info.value.report.results] == [True, False]


# --- Hub targets (wiring, with huggingface_hub and get_kernel stubbed) ----------


def hub_error(cls: type, status: int) -> Exception:
    import httpx2

    response = httpx2.Response(status, request=httpx2.Request("GET", "http://hub.invalid/api"))
    return cls(f"{status} error", response=response)


def test_hub_target_downloads_benchmarks_and_loads_that_commit(
    make_project: Callable[..., Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import huggingface_hub

    sha = "0123456789abcdef0123456789abcdef01234567"
    snapshot = tmp_path / "snapshots" / sha
    (snapshot / "benchmarks").mkdir(parents=True)
    (snapshot / "benchmarks" / "benchmark.py").write_text(GOOD_SCRIPT)
    project = make_project()
    calls: list[tuple[str, dict]] = []

    def fake_snapshot_download(repo_id: str, **kwargs: Any) -> str:
        calls.append((repo_id, kwargs))
        if kwargs["repo_type"] == "kernel":
            raise hub_error(huggingface_hub.errors.RepositoryNotFoundError, 404)
        return str(snapshot)

    def fake_get_kernel(repo_id: str, revision: Any = None, version: Any = None, **kwargs: Any) -> Any:
        calls.append((repo_id, {"revision": revision, "version": version, **kwargs}))
        return kernels.get_local_kernel(project)

    monkeypatch.setattr(huggingface_hub, "snapshot_download", fake_snapshot_download)
    monkeypatch.setattr(kernels, "get_kernel", fake_get_kernel)
    stdout, stderr = io.StringIO(), io.StringIO()
    report = run_benchmark("org/relu@v2", warmup=0, iterations=2, stdout=stdout, stderr=stderr)

    assert [c[1].get("repo_type") for c in calls[:2]] == ["kernel", "model"]
    assert calls[1] == ("org/relu", {"repo_type": "model", "revision": "v2", "allow_patterns": ["benchmarks/*"],
                                     "cache_dir": kernels.hub.cache_dir()})
    assert calls[2] == ("org/relu", {"revision": sha, "version": None, "trust_remote_code": False})
    assert "Downloading org/relu@v2 benchmarks..." in stderr.getvalue()
    assert (report.kernel.source, report.kernel.repo_id, report.kernel.revision, report.kernel.sha) == (
        "hub", "org/relu", "v2", sha)
    assert f"Kernel: {sha[:7]}  Benchmark: " in stdout.getvalue()


def test_hub_revision_not_found_is_clear(monkeypatch: pytest.MonkeyPatch) -> None:
    import huggingface_hub

    def missing_revision(repo_id: str, **kwargs: Any) -> str:
        raise hub_error(huggingface_hub.errors.RevisionNotFoundError, 404)

    monkeypatch.setattr(huggingface_hub, "snapshot_download", missing_revision)
    result = invoke("org/relu", "--version", "7")
    assert result.exit_code == 1
    assert result.stderr.splitlines()[-1] == "error: org/relu has no version 7 (no branch v7)"


# --- building blocks ----------------------------------------------------------


def test_output_mismatch_rules() -> None:
    x = torch.tensor([1.0, -2.0, float("nan")])
    assert output_mismatch(x, x.clone()) is None  # NaN matches NaN
    assert output_mismatch(x.half(), x) is None  # compared in the promoted dtype
    assert output_mismatch(x + 0.009, x) is None  # within atol=1e-2
    assert "1 of 3 elements of output differ" in output_mismatch(x + torch.tensor([0.0, 0.02, 0.0]), x)
    assert "has shape (3,), the reference (1, 3)" in output_mismatch(x, x[None])
    assert output_mismatch(torch.arange(3), torch.arange(3)) is None
    assert output_mismatch((x, x), [x, x.clone()]) is None
    assert "output[1]" in output_mismatch((x, x), (x, x * 3))
    assert "expected a tensor" in output_mismatch(None, x)


def test_workload_names_follow_definition_order_and_inheritance() -> None:
    class Base(Benchmark):
        def benchmark_b(self) -> None: ...

        def benchmark_a(self) -> None: ...

    class Child(Base):
        def benchmark_c(self) -> None: ...

        def benchmark_a(self) -> None: ...  # override keeps its place

        benchmark_not_callable = 3
        benchmark_ = None

    assert workload_names(Base) == ["b", "a"]
    assert workload_names(Child) == ["b", "a", "c"]


def test_cpu_timer_measures_wall_time() -> None:
    timer = _Timer("cpu")
    elapsed, value = timer(lambda: time.sleep(0.02) or 42)
    assert value == 42
    assert 19.0 <= elapsed < 1000.0
