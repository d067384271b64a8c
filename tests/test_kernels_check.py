"""``kernels check <repo_id> --version N`` against the test Hub."""

from __future__ import annotations

import subprocess
import sys

import pytest
from hub_server.helpers import hub_api, push, variant_files

from kernels.check import KernelCheckError, check_repo, format_check
from kernels.variants import required_variants

NAME = "checkme"
CPU = required_variants()["x86_64-linux"]["cpu"]
CUDA = required_variants()["x86_64-linux"]["cuda"]


def publish(hub_server, repo: str, variants: dict[str, dict], branch: str = "v1", repo_type: str = "kernel",
            drop: tuple[str, ...] = ()) -> None:
    files: dict[str, bytes] = {}
    for variant, options in variants.items():
        backend = options.pop("backend", "cuda" if "-cu" in variant else "cpu")
        files.update(variant_files(variant, name=NAME, backend=backend, **options))
    for path in drop:
        del files[path]
    push(hub_server, repo, files, branch=branch, repo_type=repo_type)


def test_complete_backend_is_compliant(hub_server) -> None:
    repo = "kernels-test/check-complete"
    publish(hub_server, repo, {name: {} for name in CPU})
    report = check_repo(repo, 1, api=hub_api(hub_server))
    assert report.problem_count == 0, format_check(report)
    lines = format_check(report)
    assert lines[0].startswith(f"Checking {repo} version 1 (kernel repository, branch v1 at ")
    assert f"✅ x86_64-linux cpu: all {len(CPU)} required variants" in lines
    assert all(f"✅ {name}: metadata OK" in lines for name in CPU)
    assert lines[-1] == "✅ Compliant"


def test_missing_variants_of_a_covered_backend_are_listed(hub_server) -> None:
    repo = "kernels-test/check-missing"
    publish(hub_server, repo, {**{name: {} for name in CPU}, CUDA[0]: {}, "torch213-cxx11-cpu-x86_64-linux": {}})
    report = check_repo(repo, 1, api=hub_api(hub_server))
    lines = format_check(report)
    assert f"❌ x86_64-linux cuda: 1 of {len(CUDA)} required variants; missing: {', '.join(CUDA[1:])}" in lines
    assert f"✅ x86_64-linux cpu: all {len(CPU)} required variants" in lines
    assert "   variants beyond the required list: torch213-cxx11-cpu-x86_64-linux" in lines
    # aarch64 and ROCm are not covered at all, so nothing is missing there.
    assert not any("aarch64" in line or "rocm" in line for line in lines)
    assert lines[-1] == "❌ Not compliant: 1 problem"


def test_each_variant_needs_valid_metadata_init_and_compat(hub_server) -> None:
    repo = "kernels-test/check-metadata"
    a, b = CPU
    publish(hub_server, repo, {
        a: {"metadata": "{not json"},
        b: {"version": 2},
        "torch-universal": {"metadata": {"id": "not-a-module", "name": NAME, "version": 1,
                                         "license": "Apache-2.0", "backend": {"type": "cpu"}}},
        "torch-cuda": {"backend": "cuda"},
        "torch-cpu": {},
    }, drop=("build/torch-cuda/checkme/__init__.py", "build/torch-cpu/__init__.py"))
    lines = format_check(check_repo(repo, 1, api=hub_api(hub_server)))
    assert f"❌ {a}: metadata.json: invalid JSON (Expecting property name enclosed in double quotes at line 1)" in lines
    assert f"❌ {b}: metadata.json: version 2 on branch v1" in lines
    assert ("❌ torch-universal: metadata.json: 'id' must be a valid Python module name, got 'not-a-module'"
            in lines)
    assert "❌ torch-cpu: missing __init__.py" in lines
    assert lines[-1] == "❌ Not compliant: 4 problems"


def test_model_repository_is_not_compliant(hub_server) -> None:
    repo = "kernels-test/check-model-type"
    publish(hub_server, repo, {"torch-universal": {}}, repo_type="model")
    report = check_repo(repo, 1, api=hub_api(hub_server))
    assert report.repo_type == "model"
    assert report.problems == [f"{repo} is a model repository; compliant kernels are kernel-type repositories "
                               "(re-upload it with kernel-builder upload)"]


def test_missing_version_and_repository(hub_server) -> None:
    repo = "kernels-test/check-versions"
    publish(hub_server, repo, {"torch-universal": {}}, branch="v2")
    with pytest.raises(KernelCheckError, match=r"has no version 1 \(no branch 'v1'\); available versions: 2"):
        check_repo(repo, 1, api=hub_api(hub_server))
    with pytest.raises(KernelCheckError, match="not found"):
        check_repo("kernels-test/no-such-kernel", 1, api=hub_api(hub_server))


def test_command_line(hub_server, hub_env: dict[str, str]) -> None:
    repo = "kernels-test/check-cli"
    publish(hub_server, repo, {name: {} for name in CPU})

    def kernels(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "kernels.cli", *args], env=hub_env, capture_output=True,
                              text=True, timeout=300)

    good = kernels("check", repo, "--version", "1")
    assert good.returncode == 0, good.stdout + good.stderr
    assert good.stdout.splitlines()[-1] == "✅ Compliant"
    publish(hub_server, repo, {CUDA[0]: {}})
    bad = kernels("check", repo, "--version", "1")
    assert bad.returncode == 1 and "missing: " in bad.stdout
    missing = kernels("check", repo, "--version", "7")
    assert missing.returncode == 1 and "Traceback" not in missing.stderr
    assert missing.stderr.strip() == f"error: {repo} has no version 7 (no branch 'v7'); available versions: 1"
