"""``kernels benchmark`` on the real examples/relu build (CPU), as a user runs it."""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
from pathlib import Path

from e2e_support import EXAMPLES, BuiltKernel

WORKLOADS = ["small", "medium", "large", "medium_half"]


def test_kernels_benchmark_relu(relu_build: BuiltKernel, tmp_path: Path) -> None:
    output = tmp_path / "relu.json"
    result = subprocess.run(
        [sys.executable, "-m", "kernels.cli", "benchmark", str(relu_build.kernel_dir),
         "--warmup", "1", "--iterations", "3", "--output", str(output)],
        capture_output=True, text=True,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Traceback" not in result.stderr
    out = result.stdout
    for label in ("GPU", "CPU", "OS", "PyTorch", "Device"):
        assert f"\n  {label} " in out, label

    rows = {}
    for line in out.splitlines():
        if line.startswith("│ ReluBenchmark"):
            cells = [c.strip() for c in line.strip("│").split("│")]
            rows[cells[1]] = cells
    assert list(rows) == WORKLOADS
    for cells in rows.values():
        assert cells[2] == "3" and cells[3].endswith("x") and cells[11] == "✓"
    for name in WORKLOADS:
        assert f"\n  {name}: " in out and "95% CI: " in out

    script = EXAMPLES / "relu" / "benchmarks" / "benchmark.py"
    script_sha = hashlib.sha256(script.read_bytes()).hexdigest()
    build_id = f"_relu_cpu_{relu_build.unique_id}"
    assert out.rstrip().splitlines()[-1] == f"Kernel: {build_id} (build id)  Benchmark: {script_sha[:7]}"

    data = json.loads(output.read_text())
    assert data["kernel"]["build_id"] == build_id
    assert data["kernel"]["variant"] == relu_build.variant_dir.name
    assert data["benchmark"]["scripts"] == [{"path": "benchmarks/benchmark.py", "sha256": script_sha}]
    assert [r["workload"] for r in data["results"]] == WORKLOADS
    assert all(r["match"] is True and r["timing"]["n"] == 3 and r["reference"]["n"] == 3 for r in data["results"])
    assert data["machine"]["device"] == "cpu"


# --- Hub repositories (tests/hub_server) ----------------------------------------------------------

FAKE_KERNEL = """
import torch


def relu(x, out=None):
    if out is None:
        out = torch.empty_like(x)
    torch.clamp(x, min=0, out=out)
    return out
"""

SMALL_BENCHMARK = """
import torch

from kernels.benchmark import Benchmark


class Tiny(Benchmark):
    seed = 0

    def setup(self):
        self.x = torch.randn(256, device=self.device)
        self.out = torch.empty_like(self.x)

    def benchmark_tiny(self):
        self.kernel.relu(self.x, out=self.out)

    def verify_tiny(self):
        return torch.relu(self.x)
"""


def _benchmark(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "kernels.cli", "benchmark", *args], env=env,
                          capture_output=True, text=True, timeout=600)


def test_kernels_benchmark_hub_relu(published_relu, hub_env: dict[str, str], tmp_path: Path) -> None:
    output = tmp_path / "hub.json"
    result = _benchmark(hub_env, f"{published_relu.repo_id}@v1", "--warmup", "1", "--iterations", "3",
                        "--output", str(output))
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"Downloading {published_relu.repo_id}@v1 benchmarks..." in result.stderr
    assert result.stdout.count("│ ReluBenchmark") == len(WORKLOADS)
    script_sha = hashlib.sha256((EXAMPLES / "relu" / "benchmarks" / "benchmark.py").read_bytes()).hexdigest()
    assert result.stdout.rstrip().splitlines()[-1] == (
        f"Kernel: {published_relu.commit[:7]}  Benchmark: {script_sha[:7]}")
    data = json.loads(output.read_text())
    kernel = dict(data["kernel"])
    assert kernel.pop("build_id").startswith("_relu_cpu_")
    assert kernel == {
        "source": "hub", "name": "relu", "repo_id": published_relu.repo_id, "revision": "v1", "path": None,
        "sha": published_relu.commit, "dirty": None, "variant": published_relu.variant,
    }
    assert all(r["match"] is True for r in data["results"])


def test_kernels_benchmark_hub_errors(published_relu, hub_server, hub_env: dict[str, str]) -> None:
    from hub_server.helpers import push, variant_files

    result = _benchmark(hub_env, published_relu.repo_id, "--version", "9")
    assert result.returncode == 1
    assert result.stderr.splitlines()[-1] == f"error: {published_relu.repo_id} has no version 9 (no branch v9)"

    push(hub_server, "kernels-test/no-benchmarks", variant_files("torch-universal", name="nobench"), branch="v1")
    result = _benchmark(hub_env, "kernels-test/no-benchmarks@v1")
    assert result.returncode == 1
    assert result.stderr.splitlines()[-1] == (
        "error: kernels-test/no-benchmarks@v1 has no benchmarks/ directory: benchmark scripts go in "
        "benchmarks/benchmark*.py")

    result = _benchmark(hub_env, "kernels-test/does-not-exist@main")
    assert result.returncode == 1
    assert result.stderr.splitlines()[-1].startswith("error: kernel repository 'kernels-test/does-not-exist' not found")
    assert "Traceback" not in result.stderr


def test_kernels_benchmark_hub_untrusted_publisher(hub_server, hub_env: dict[str, str]) -> None:
    from hub_server.helpers import push, variant_files

    files = variant_files("torch-cpu", name="fake-relu", init=FAKE_KERNEL)
    files["benchmarks/benchmark.py"] = SMALL_BENCHMARK.encode()
    push(hub_server, "untrusted-org/fake-relu", files, branch="v1")

    result = _benchmark(hub_env, "untrusted-org/fake-relu@v1", "--warmup", "0", "--iterations", "2")
    assert result.returncode == 1
    assert result.stderr.splitlines()[-1] == (
        "error: loading the kernel untrusted-org/fake-relu@v1 failed: untrusted-org/fake-relu is not from a trusted "
        "kernel publisher ('untrusted-org'); pass trust_remote_code=True to load it anyway "
        "(kernels benchmark --trust-remote-code; its benchmark scripts run as code too)")
    assert "│" not in result.stdout  # nothing from the repository ran

    result = _benchmark(hub_env, "untrusted-org/fake-relu@v1", "--warmup", "0", "--iterations", "2",
                        "--trust-remote-code")
    assert result.returncode == 0, result.stderr
    assert "│ Tiny " in result.stdout and "✓" in result.stdout
