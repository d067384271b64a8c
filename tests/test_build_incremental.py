"""Incremental local builds: the CMake build tree is reused and only touched sources recompile.

Reuses the session's examples/relu build (``relu_build``): rebuilding it with
the same unique id after bumping one source's mtime costs one compile and one
link, not a cold build.
"""

from __future__ import annotations

import os
import re
import time
from pathlib import Path

import pytest

from kernel_builder.build import local as local_build
from kernel_builder.config import load_config

from e2e_support import BuiltKernel, run_kernel_builder

#: A Ninja progress line for a compile step, e.g. ``[1/2] Building CXX object CMakeFiles/...``.
COMPILE_STEP = re.compile(r"^\[\d+/\d+\] Building \S+ object (\S+)$", re.MULTILINE)


def object_mtimes(cmake_dir: Path) -> dict[str, int]:
    return {str(p.relative_to(cmake_dir)): p.stat().st_mtime_ns for p in cmake_dir.rglob("*.o")}


def test_touching_one_source_recompiles_only_that_file(relu_build: BuiltKernel, build_cache: dict[str, str],
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    kernel_dir = relu_build.kernel_dir
    variant = relu_build.variant_dir.name
    monkeypatch.setenv("KERNEL_BUILDER_CACHE", build_cache["KERNEL_BUILDER_CACHE"])
    work = local_build.work_dir(load_config(kernel_dir), variant)
    cmake_dir = work / "cmake"
    cache_file = cmake_dir / "CMakeCache.txt"
    assert cache_file.is_file(), f"the session build left no CMake build tree in {work}"
    # kernel-builder tells CMake where Torch's CMake package is, so configuring imports no Torch.
    assert "KB_TORCH_CMAKE_PREFIX:" in cache_file.read_text()
    before = object_mtimes(cmake_dir)
    assert len(before) == 2, before  # relu_cpu.cpp and torch_binding.cpp

    # Bump the mtime only: the source stays byte-identical for the other tests of this session.
    # (Not into the future: Ninja would find it newer than the rebuilt object again.)
    while time.time_ns() <= max(before.values()):
        time.sleep(0.01)
    source = kernel_dir / "relu_cpu" / "relu_cpu.cpp"
    os.utime(source)
    run_kernel_builder("build", "--local", str(kernel_dir), "--unique-id", relu_build.unique_id, env=build_cache)

    log = (work / "build.log").read_text()
    compiled = COMPILE_STEP.findall(log)
    assert len(compiled) == 1 and compiled[0].endswith("relu_cpu/relu_cpu.cpp.o"), log
    assert "Linking CXX shared module" in log
    after = object_mtimes(cmake_dir)
    assert after.keys() == before.keys()
    changed = sorted(name for name in before if after[name] != before[name])
    assert len(changed) == 1 and changed[0].endswith("relu_cpu.cpp.o"), changed
    assert (relu_build.variant_dir / f"_relu_cpu_{relu_build.unique_id}.abi3.so").is_file()

    # Nothing changed since: Ninja has nothing to do.
    run_kernel_builder("build", "--local", str(kernel_dir), "--unique-id", relu_build.unique_id, env=build_cache)
    log = (work / "build.log").read_text()
    assert COMPILE_STEP.findall(log) == [] and "ninja: no work to do" in log, log
    assert object_mtimes(cmake_dir) == after
