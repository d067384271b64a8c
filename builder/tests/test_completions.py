"""kernel-builder completions, the completion protocol, and --help on every command."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from kernel_builder.cli import main
from kernel_builder.cli.completions import SHELLS

BIN_DIR = Path(sys.executable).parent
HAS_SCRIPT = (BIN_DIR / "kernel-builder").exists()


def complete(shell: str, words: str, cword: str, cwd: Path) -> list[str]:
    """Ask the program for completions the way ``shell``'s script does."""
    env = dict(os.environ, _KERNEL_BUILDER_COMPLETE=f"{shell}_complete", COMP_WORDS=words, COMP_CWORD=cword)
    code = "from kernel_builder.cli import main; main(prog_name='kernel-builder')"
    result = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, cwd=cwd)
    assert result.returncode == 0, result.stderr
    return result.stdout.splitlines()


@pytest.mark.parametrize("shell", SHELLS)
def test_each_shell_has_a_script(cli, shell: str) -> None:
    result = cli("completions", shell)
    assert result.exit_code == 0, result.output
    script = result.stdout
    assert "kernel-builder" in script
    assert "_KERNEL_BUILDER_COMPLETE" in script
    assert f"{shell}_complete" in script or (shell == "fish" and "fish_complete" in script)


def test_unknown_shell(cli) -> None:
    result = cli("completions", "tcsh")
    assert result.exit_code == 2
    assert "'tcsh' is not one of 'bash', 'elvish', 'fish', 'powershell', 'zsh'" in result.stderr


def test_missing_shell(cli) -> None:
    result = cli("completions")
    assert result.exit_code == 2
    assert "Missing argument 'SHELL'" in result.stderr


def test_elvish_script_registers_an_arg_completer(cli) -> None:
    script = cli("completions", "elvish").stdout
    assert "set edit:completion:arg-completer[kernel-builder] = {|@words|" in script
    assert "tmp E:_KERNEL_BUILDER_COMPLETE = elvish_complete" in script
    assert "edit:complex-candidate" in script and "edit:complete-filename" in script


def test_bash_protocol(tmp_path: Path) -> None:
    assert "plain,init" in complete("bash", "kernel-builder in", "1", tmp_path)
    commands = {line.split(",", 1)[1] for line in complete("bash", "kernel-builder ", "1", tmp_path)}
    assert {"build", "check-config", "completions", "init", "skills", "update-build"} <= commands


def test_zsh_protocol_includes_help(tmp_path: Path) -> None:
    lines = complete("zsh", "kernel-builder skills add --skill ", "4", tmp_path)
    values = lines[1::3]
    assert values == ["cuda-kernels", "rocm-kernels", "xpu-kernels"]


def test_fish_protocol(tmp_path: Path) -> None:
    lines = complete("fish", "kernel-builder completions b", "b", tmp_path)
    assert lines == ["plain,bash"]


def test_elvish_protocol(tmp_path: Path) -> None:
    lines = complete("elvish", "kernel-builder skills add --c", "3", tmp_path)
    parsed = [line.split("\t") for line in lines]
    assert [p[1] for p in parsed] == ["--claude", "--codex"]
    assert all(p[0] == "plain" and len(p) == 3 for p in parsed)
    assert parsed[0][2] == "Install for Claude (.claude/skills)."
    # Paths are left to the shell.
    assert complete("elvish", "kernel-builder check-config ", "2", tmp_path) == ["dir\t\t"]


def test_powershell_protocol(tmp_path: Path) -> None:
    lines = complete("powershell", "kernel-builder completions p", "2", tmp_path)
    assert "powershell" in lines


@pytest.mark.skipif(shutil.which("bash") is None or not HAS_SCRIPT,
                    reason="needs bash and the kernel-builder script")
def test_bash_script_completes_in_bash(tmp_path: Path) -> None:
    """Source the generated script in a real bash and run its completion function."""
    script = tmp_path / "kb.bash"
    script.write_text(subprocess.run([str(BIN_DIR / "kernel-builder"), "completions", "bash"],
                                     capture_output=True, text=True, check=True).stdout)
    probe = (
        f"source {script}; COMP_WORDS=(kernel-builder init --backends x); COMP_CWORD=3; "
        "_kernel_builder_completion kernel-builder; printf '%s\\n' \"${COMPREPLY[@]}\""
    )
    env = dict(os.environ, PATH=f"{BIN_DIR}{os.pathsep}{os.environ.get('PATH', '')}")
    result = subprocess.run(["bash", "--norc", "-c", probe], capture_output=True, text=True, env=env, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["xpu"]


# --------------------------------------------------------------------------
# --help on every command.

#: Summaries of the reference CLI page, for the commands this CLI has.
REFERENCE_SUMMARIES = {
    "completions": "Generate shell completions.",
    "init": "Initialize a new kernel project from template.",
    "build": "Build the kernel locally (alias for build-and-copy).",
    "build-and-copy": "Build the kernel and copy artifacts locally",
    "check-config": "Validate the build.toml file.",
    "check-abi": "Check the ABI compatibility of a kernel",
    "check-builds": "Validate kernel builds.",
    "create-pyproject": "Generate CMake files for a kernel extension build.",
    "devshell": "Spawn a kernel development shell.",
    "list-variants": "List build variants.",
    "testshell": "Spawn a kernel test shell.",
    "update-build": "Update a `build.toml` to the current format.",
    "skills": "Install skills for AI coding assistants",  # then "(Claude, Codex, OpenCode)."
    "clean-pyproject": "Clean generated artifacts.",
}


def _all_commands() -> list[list[str]]:
    paths: list[list[str]] = []
    for name, command in main.commands.items():
        paths.append([name])
        for sub in getattr(command, "commands", {}):
            paths.append([name, sub])
    return paths


def test_root_help_lists_reference_summaries(cli) -> None:
    result = cli("--help")
    assert result.exit_code == 0
    text = " ".join(result.stdout.split())
    assert "Build Hugging Face Hub kernels." in text
    for name, summary in REFERENCE_SUMMARIES.items():
        if name in main.commands:
            assert f"{name} {summary}" in text, name


@pytest.mark.parametrize("path", _all_commands(), ids=lambda p: " ".join(p))
def test_every_command_has_help(cli, path: list[str]) -> None:
    result = cli(*path, "--help")
    assert result.exit_code == 0, result.output
    lines = [line for line in result.stdout.splitlines() if line.strip()]
    assert lines[0].startswith("Usage: ")
    assert lines[1].strip(), "a one-line summary follows the usage line"
    assert "-h, --help" in result.stdout
    summary = REFERENCE_SUMMARIES.get(path[-1]) if len(path) == 1 else None
    if summary is not None:
        assert summary.rstrip(".") in " ".join(result.stdout.split())
