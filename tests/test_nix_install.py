"""install.sh: what it does about Nix, checked with --dry-run (nothing is installed or written)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from e2e_support import REPO_ROOT

INSTALL = REPO_ROOT / "install.sh"
TOOLS = ("bash", "sh", "id", "uname", "grep", "sed", "dirname", "mkdir", "cat", "printf")

FAKE_NIX = """#!/bin/sh
case "$1" in
  --version) echo "nix (Nix) 2.99.0" ;;
  eval) if [ "$FAKE_FLAKES" = 1 ]; then echo true; else echo "error: experimental Nix feature 'nix-command' is disabled" >&2; exit 1; fi ;;
  *) echo "fake nix: $*" >&2; exit 1 ;;
esac
"""


@pytest.fixture
def sandbox(tmp_path: Path) -> dict[str, object]:
    """A PATH with basic tools only (no nix, no curl, no apt-get) and a fake venv."""
    bindir = tmp_path / "bin"
    bindir.mkdir()
    for tool in TOOLS:
        found = shutil.which(tool)
        if found is None:
            pytest.skip(f"{tool} is not installed")
        (bindir / tool).symlink_to(found)
    venv = tmp_path / "venv"
    (venv / "bin").mkdir(parents=True)
    (venv / "bin" / "python").symlink_to(sys.executable)
    env = {"PATH": str(bindir), "HOME": str(tmp_path / "home"), "VENV": str(venv)}
    return {"bin": bindir, "env": env}


def _install(sandbox: dict[str, object], *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["bash", str(INSTALL), *args], env={**sandbox["env"], **env},  # type: ignore[dict-item]
                          capture_output=True, text=True, timeout=60)


def _add_fake_nix(sandbox: dict[str, object]) -> None:
    nix = sandbox["bin"] / "nix"  # type: ignore[operator]
    nix.write_text(FAKE_NIX)
    nix.chmod(0o755)


def test_default_install_leaves_nix_alone(sandbox: dict[str, object]) -> None:
    result = _install(sandbox, "--dry-run")
    assert result.returncode == 0, result.stderr
    assert "reusing virtual environment" in result.stdout
    assert "Nix not found" in result.stdout and "./install.sh --nix" in result.stdout
    assert "would run" not in result.stdout


def test_missing_nix_comes_from_the_distribution_when_asked(sandbox: dict[str, object]) -> None:
    result = _install(sandbox, "--nix", "--dry-run", NIX_INSTALLER="distro")
    assert result.returncode == 0, result.stderr
    assert "installing Nix from the distribution" in result.stdout
    assert "apt-get install -y nix-bin" in result.stdout
    assert "would then enable the nix-command and flakes features and the Hugging Face binary cache" in result.stdout


def test_missing_nix_without_any_installer_is_an_error(sandbox: dict[str, object]) -> None:
    result = _install(sandbox, "--nix", "--dry-run")  # no curl, no apt-get
    assert result.returncode != 0
    assert "cannot install Nix" in result.stdout


def test_nix_without_flakes_gets_them_enabled(sandbox: dict[str, object]) -> None:
    _add_fake_nix(sandbox)
    result = _install(sandbox, "--nix", "--dry-run", FAKE_FLAKES="0")
    assert result.returncode == 0, result.stderr
    assert "Nix found: nix (Nix) 2.99.0" in result.stdout
    assert "would add 'experimental-features = nix-command flakes' to" in result.stdout
    assert "cachix" in result.stdout and "use huggingface" in result.stdout


def test_nix_with_flakes_is_left_as_it_is(sandbox: dict[str, object]) -> None:
    _add_fake_nix(sandbox)
    result = _install(sandbox, "--nix", "--dry-run", FAKE_FLAKES="1")
    assert result.returncode == 0, result.stderr
    assert "the nix-command and flakes features are enabled" in result.stdout
    assert "would add" not in result.stdout
    plain = _install(sandbox, "--dry-run", FAKE_FLAKES="1")
    assert "with flakes: kernel-builder build uses Nix" in plain.stdout


def test_unknown_option(sandbox: dict[str, object]) -> None:
    result = _install(sandbox, "--frobnicate")
    assert result.returncode == 2 and "unknown option --frobnicate" in result.stderr
