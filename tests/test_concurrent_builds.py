"""Issue 15 item 6 and its concurrency test: builds and loads of one kernel at the same time.

All tests reuse the session's examples/relu build (``relu_build``) and its warm
CMake tree, rebuilding it with the same unique id so that the other tests of
the session see the same kernel. Builds of one kernel variant are serialised
by a file lock; the output directory is swapped in atomically, so loaders that
start meanwhile always find a complete build.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from kernel_builder.build import local as local_build
from kernel_builder.config import load_config

from e2e_support import BuiltKernel

BUILDERS = 8
LOADERS = 32
TIME_LIMIT = 300  # seconds for one group of processes (a cold rebuild takes about a minute here)

#: A fresh process loads the build, runs the op and checks it against Torch.
LOAD_AND_CHECK = """
import sys, torch, kernels
relu = kernels.get_local_kernel(sys.argv[1])
x = torch.randn(1031, 7)
assert torch.equal(relu.relu(x), torch.relu(x)), "wrong result"
print("ok", relu.ops.__name__ if hasattr(relu.ops, "__name__") else "")
"""


def _build(relu_build: BuiltKernel, env: dict[str, str], *extra: str) -> subprocess.Popen[str]:
    command = [sys.executable, "-m", "kernel_builder", "build", "--local", str(relu_build.kernel_dir),
               "--unique-id", relu_build.unique_id, *extra]
    return subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            start_new_session=True)


def _load(relu_build: BuiltKernel, env: dict[str, str]) -> subprocess.Popen[str]:
    return subprocess.Popen([sys.executable, "-c", LOAD_AND_CHECK, str(relu_build.kernel_dir)], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def _wait_all(processes: list[subprocess.Popen[str]]) -> list[tuple[int, str]]:
    deadline = time.monotonic() + TIME_LIMIT
    results = []
    for process in processes:
        try:
            out, err = process.communicate(timeout=max(1.0, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            for other in processes:
                other.kill()
            pytest.fail(f"processes still running after {TIME_LIMIT} s")
        results.append((process.returncode, out + err))
    return results


def _assert_all_succeeded(results: list[tuple[int, str]], what: str) -> None:
    failed = [output for code, output in results if code != 0 or "Traceback" in output]
    assert not failed, f"{len(failed)} of {len(results)} {what} failed; the first:\n{failed[0][-3000:]}"


def _assert_complete_build(relu_build: BuiltKernel) -> None:
    variant = relu_build.variant_dir
    metadata = json.loads((variant / "metadata.json").read_text())
    assert metadata["id"] == f"_relu_cpu_{relu_build.unique_id}"
    assert (variant / f"_relu_cpu_{relu_build.unique_id}.abi3.so").is_file()
    leftovers = [p.name for p in variant.parent.iterdir() if p.name.startswith(".")]
    assert leftovers == [], f"staging directories left in build/: {leftovers}"


def _work_dir(relu_build: BuiltKernel, build_cache: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("KERNEL_BUILDER_CACHE", build_cache["KERNEL_BUILDER_CACHE"])
    return local_build.work_dir(load_config(relu_build.kernel_dir), relu_build.variant_dir.name)


def test_burst_of_parallel_builds_with_changing_settings_all_succeed(relu_build: BuiltKernel,
                                                                     build_cache: dict[str, str]) -> None:
    # --cores changes a CMake cache variable: every second build reconfigures the shared tree.
    builds = [_build(relu_build, build_cache, "--cores", str(1 + i % 2)) for i in range(BUILDERS)]
    _assert_all_succeeded(_wait_all(builds), "parallel builds")
    _assert_complete_build(relu_build)
    _assert_all_succeeded(_wait_all([_load(relu_build, build_cache)]), "loads after the burst")


def test_32_cold_loads_while_8_builds_of_the_same_kernel_run(relu_build: BuiltKernel,
                                                             build_cache: dict[str, str]) -> None:
    processes = [_build(relu_build, build_cache) for _ in range(BUILDERS)]
    processes += [_load(relu_build, build_cache) for _ in range(LOADERS)]
    results = _wait_all(processes)
    _assert_all_succeeded(results[:BUILDERS], "builds")
    _assert_all_succeeded(results[BUILDERS:], "cold loads")
    assert sum(output.startswith("ok") for _, output in results[BUILDERS:]) == LOADERS
    _assert_complete_build(relu_build)


def test_killed_build_does_not_poison_the_next_build(relu_build: BuiltKernel, build_cache: dict[str, str],
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    marker = _work_dir(relu_build, build_cache, monkeypatch) / local_build.IN_PROGRESS_MARKER
    victim = _build(relu_build, build_cache, "--cores", "3")  # a changed setting: CMake reconfigures
    deadline = time.monotonic() + 120
    while not marker.exists() and victim.poll() is None and time.monotonic() < deadline:
        time.sleep(0.02)
    assert marker.exists(), "the build never started CMake"
    time.sleep(0.3)
    os.killpg(victim.pid, signal.SIGKILL)  # kernel-builder, scikit-build-core, CMake and Ninja at once
    victim.communicate()
    assert marker.exists()

    [(code, output)] = _wait_all([_build(relu_build, build_cache)])
    assert code == 0 and "Traceback" not in output, output[-3000:]
    assert "interrupted; starting from a fresh CMake tree" in output
    assert not marker.exists()
    _assert_complete_build(relu_build)
    _assert_all_succeeded(_wait_all([_load(relu_build, build_cache)]), "loads after the rebuild")
