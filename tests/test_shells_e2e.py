"""kernel-builder devshell / testshell without Nix: a .venv with the kernel, and a clear statement of what it is."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from e2e_support import copy_example, run_kernel_builder

PROBE = 'python -c "import os, sys, torch, relu; print(sys.prefix); print(os.path.realpath(relu.__file__)); print(relu.relu(torch.tensor([-1.0, 2.0])).tolist())"\n'


def _shell(kind: str, kernel_dir: Path, env: dict[str, str], *args: str):
    import subprocess
    import sys

    return subprocess.run(
        [sys.executable, "-m", "kernel_builder", kind, "--local", str(kernel_dir), *args],
        input=PROBE, env=dict(env, SHELL="/bin/sh"), capture_output=True, text=True,
    )


@pytest.fixture(scope="module")
def shell_kernel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return copy_example("relu", tmp_path_factory.mktemp("shells"))


def test_testshell_puts_the_built_variant_on_the_path(shell_kernel: Path, build_cache: dict[str, str]) -> None:
    result = _shell("testshell", shell_kernel, build_cache)
    assert result.returncode == 0, result.stderr
    assert "testshell: no Nix shell; host-toolchain virtual environment" in result.stderr
    prefix, module_file, values = result.stdout.strip().splitlines()
    assert Path(prefix) == shell_kernel / ".venv"
    assert Path(module_file).is_relative_to(shell_kernel / "build")
    assert values == "[0.0, 2.0]"


def test_devshell_installs_the_kernel_editable(shell_kernel: Path, build_cache: dict[str, str]) -> None:
    result = _shell("devshell", shell_kernel, build_cache)
    assert result.returncode == 0, result.stderr
    assert "devshell: no Nix shell" in result.stderr and "installed editable" in result.stderr
    prefix, module_file, values = result.stdout.strip().splitlines()
    assert Path(prefix) == shell_kernel / ".venv"
    # Python sources are the project's own files, so edits take effect at once.
    assert Path(module_file) == (shell_kernel / "torch-ext" / "relu" / "__init__.py").resolve()
    assert values == "[0.0, 2.0]"


def test_shell_rejects_a_variant_it_cannot_provide(shell_kernel: Path, build_cache: dict[str, str]) -> None:
    for kind in ("devshell", "testshell"):
        result = run_kernel_builder(kind, "--local", str(shell_kernel), "--variant", "torch211-cxx11-rocm71-x86_64-linux",
                                    env=build_cache, check=False)
        assert result.returncode == 1
        assert result.stderr.strip().splitlines()[-1].startswith("error: --variant:")
        assert "Traceback" not in result.stderr
