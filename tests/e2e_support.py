"""Helpers shared by the cross-package tests (importable: pytest.ini puts tests/ on sys.path)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = REPO_ROOT / "examples"


@dataclass(frozen=True)
class BuiltKernel:
    kernel_dir: Path
    variant_dir: Path
    unique_id: str
    output: str


def copy_example(name: str, destination: Path) -> Path:
    """A clean copy of ``examples/<name>`` (no earlier build outputs)."""
    target = destination / name
    shutil.copytree(
        EXAMPLES / name, target, ignore=shutil.ignore_patterns("build", "result", "__pycache__", "*.pyc")
    )
    return target


def run_kernel_builder(*args: str, cwd: Path | None = None, env: dict[str, str] | None = None,
                       check: bool = True) -> subprocess.CompletedProcess[str]:
    """Run the real ``kernel-builder`` command line in a subprocess."""
    result = subprocess.run(
        [sys.executable, "-m", "kernel_builder", *args],
        cwd=cwd, env=env, capture_output=True, text=True,
    )
    if check and result.returncode != 0:
        raise AssertionError(f"kernel-builder {' '.join(args)} failed:\n{result.stdout}\n{result.stderr}")
    return result


def build_relu(destination: Path, env: dict[str, str], unique_id: str) -> BuiltKernel:
    return build_example("relu", destination, env, unique_id)


def build_example(name: str, destination: Path, env: dict[str, str], unique_id: str) -> BuiltKernel:
    """A clean copy of ``examples/<name>`` built for this environment (its preferred variant)."""
    from kernel_builder.config import load_config
    from kernel_builder.build.local import choose_backend

    kernel_dir = copy_example(name, destination)
    result = run_kernel_builder("build", "--local", str(kernel_dir), "--unique-id", unique_id, env=env)
    _, variant = choose_backend(load_config(kernel_dir))
    variant_dir = kernel_dir / "build" / variant
    return BuiltKernel(kernel_dir, variant_dir, unique_id, result.stdout + result.stderr)
