"""The ``kernels`` command line."""

from __future__ import annotations

import subprocess
import sys

import pytest
import torch
from click.testing import CliRunner

import kernels
from kernels.cli import main
from kernels.variants import current_variant, variant_candidates


def test_version() -> None:
    result = CliRunner().invoke(main, ["--version"])
    assert result.exit_code == 0
    assert result.output == f"kernels, version {kernels.__version__}\n"


def test_current_variant() -> None:
    result = CliRunner().invoke(main, ["current-variant"])
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert lines[0] == current_variant()
    assert lines[1] == "Accepted variants, most preferred first:"
    assert [line.strip() for line in lines[2:]] == variant_candidates()


def test_current_variant_cpu_backend() -> None:
    result = CliRunner().invoke(main, ["current-variant", "--backend", "cpu"])
    assert result.exit_code == 0
    assert result.stdout.splitlines()[-2:] == ["  torch-cpu", "  torch-universal"]


@pytest.mark.skipif(torch.version.cuda is not None, reason="needs a CPU-only Torch")
def test_errors_are_one_line_without_traceback() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "kernels.cli", "current-variant", "--backend", "cuda"],
        capture_output=True, text=True,
    )
    assert result.returncode == 1
    assert result.stdout == ""
    assert result.stderr.startswith("error: backend 'cuda' is not available")
    assert result.stderr.count("\n") == 1 and "Traceback" not in result.stderr
