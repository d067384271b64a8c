"""``kernel-builder`` reports user mistakes as one ``error: `` line, exit != 0, no traceback.

Every command that reads build.toml (check-config, create-pyproject,
clean-pyproject) is run on every broken project of conftest.CONFIG_ERROR_CASES.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from kernel_builder import __version__


# --------------------------------------------------------------------------
# The valid project.


def test_check_config_ok(project, cli) -> None:
    result = cli("check-config", project.root)
    assert result.exit_code == 0, result.output
    # The fixture is a legacy v3 file: one deprecation warning naming the migration command.
    assert result.stderr.count("\n") == 1 and "kernel-builder update-build" in result.stderr
    line = result.stdout.strip()
    assert "\n" not in line
    assert line.startswith(str(project.build_toml))
    assert "OK" in line
    assert project.name in line
    assert "v1" in line
    assert "cpu, cuda" in line
    assert "2 kernel section(s)" in line


def test_check_config_defaults_to_cwd(project, cli, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(project.root)
    result = cli("check-config")
    assert result.exit_code == 0, result.output
    assert "OK" in result.stdout


def test_check_config_defaults_to_cwd_error(tmp_path: Path, cli, expect_error, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    expect_error(cli("check-config"), "build.toml", "not found")


def test_check_config_noarch(project, cli) -> None:
    del project.data["torch"]
    del project.data["kernel"]
    project.write()
    result = cli("check-config", project.root)
    assert result.exit_code == 0, result.output
    assert "noarch" in result.stdout


def test_check_config_dashed_name(project, cli) -> None:
    project.rename_package("my-kernel")
    project.write()
    result = cli("check-config", project.root)
    assert result.exit_code == 0, result.output
    assert "my-kernel" in result.stdout


def test_check_config_cuda_capabilities_subset(project, cli) -> None:
    project.kernel()["cuda-capabilities"] = ["8.0", "9.0"]
    project.write()
    assert cli("check-config", project.root).exit_code == 0


def test_check_config_does_not_modify_project(project, cli) -> None:
    before = project.snapshot()
    assert cli("check-config", project.root).exit_code == 0
    assert project.snapshot() == before


def test_version_and_help(cli) -> None:
    result = cli("--version")
    assert result.exit_code == 0
    assert __version__ in result.output
    result = cli("--help")
    assert result.exit_code == 0
    for command in ("check-config", "create-pyproject", "clean-pyproject"):
        assert command in result.output
    result = cli("create-pyproject", "-h")
    assert result.exit_code == 0
    assert "--unique-id" in result.output and "--force" in result.output
    result = cli("clean-pyproject", "--help")
    assert result.exit_code == 0
    for option in ("--dry-run", "--force", "--ops-id"):
        assert option in result.output


# --------------------------------------------------------------------------
# Broken projects: one line naming the file and the key.


def _check(result, project, case, expect_error) -> None:
    line = expect_error(result, str(project.build_toml), *case.hints)
    # "<file>: <dotted key>: <what is expected>"
    assert line.startswith(f"error: {project.build_toml}: {case.key}: "), line
    assert result.stdout == ""


def test_check_config_error(bad_project, config_error_case, cli, expect_error) -> None:
    _check(cli("check-config", bad_project.root), bad_project, config_error_case, expect_error)


def test_create_pyproject_config_error(bad_project, config_error_case, cli, expect_error) -> None:
    before = bad_project.snapshot()
    result = cli("create-pyproject", "--unique-id", "abc", bad_project.root)
    _check(result, bad_project, config_error_case, expect_error)
    assert bad_project.snapshot() == before, "create-pyproject wrote files for a broken project"


def test_clean_pyproject_config_error(bad_project, config_error_case, cli, expect_error) -> None:
    before = bad_project.snapshot()
    result = cli("clean-pyproject", "-f", bad_project.root)
    _check(result, bad_project, config_error_case, expect_error)
    assert bad_project.snapshot() == before


def test_check_config_relative_kernel_dir(project, cli, expect_error, monkeypatch) -> None:
    """The error names build.toml as the user wrote the path."""
    project.kernel()["cuda-capabilities"] = ["4.0"]
    project.write()
    monkeypatch.chdir(project.root.parent)
    line = expect_error(cli("check-config", project.root.name), "kernel.x.cuda-capabilities", "'4.0'")
    assert line.startswith(f"error: {Path(project.root.name) / 'build.toml'}: kernel.x.cuda-capabilities: ")


# --------------------------------------------------------------------------
# Errors without a dotted key: the file itself.


def test_missing_build_toml(project, cli, expect_error) -> None:
    project.build_toml.unlink()
    line = expect_error(cli("check-config", project.root), str(project.build_toml), "not found")
    assert "build.toml" in line


def test_missing_kernel_dir(tmp_path: Path, cli, expect_error) -> None:
    expect_error(cli("check-config", tmp_path / "nope"), str(tmp_path / "nope"), "does not exist")


@pytest.mark.parametrize(
    "text",
    ["[general\nname = 'x'\n", "[general]\nname = \n", "[general]\nname = 'a'\nname = 'b'\n",
     "[general]\nbackends = ['cpu'\n"],
    ids=["unclosed-table", "missing-value", "duplicate-key", "unclosed-array"],
)
def test_invalid_toml(project, cli, expect_error, text: str) -> None:
    project.write_text(text)
    for command in ("check-config", "create-pyproject", "clean-pyproject"):
        # tomllib says where: "(at line 2, column 8)" or "(at end of document)".
        expect_error(cli(command, project.root), str(project.build_toml), "invalid TOML: ", "(at ")


def test_not_utf8(project, cli, expect_error) -> None:
    project.build_toml.write_bytes(b"\xff\xfe[general]\n")
    expect_error(cli("check-config", project.root), str(project.build_toml), "UTF-8")


def test_empty_build_toml(project, cli, expect_error) -> None:
    project.write_text("")
    expect_error(cli("check-config", project.root), str(project.build_toml), "general", "missing")


def test_toml_error_position_is_on_the_same_line(project, cli, expect_error) -> None:
    project.write_text('[general]\nname = "mykernel"\nbackends = ["cpu"]\n\n[torch]\nsrc = [1 2]\n')
    expect_error(cli("check-config", project.root), "invalid TOML", "line 6")


# --------------------------------------------------------------------------
# create-pyproject / clean-pyproject argument errors.


@pytest.mark.parametrize(
    "unique_id",
    ["has-dash", "has space", "a/b", "../x", "a.b", "", "ü", "x;y"],
)
def test_create_pyproject_invalid_unique_id(project, cli, expect_error, unique_id: str) -> None:
    before = project.snapshot()
    line = expect_error(cli("create-pyproject", "--unique-id", unique_id, project.root), "--unique-id")
    assert "letters, digits and '_'" in line
    assert project.snapshot() == before


def test_create_pyproject_unique_id_trailing_newline(project, cli, expect_error) -> None:
    before = project.snapshot()
    expect_error(cli("create-pyproject", "--unique-id", "abc\n", project.root), "--unique-id")
    assert project.snapshot() == before


@pytest.mark.parametrize("ops_id", ["has-dash", "../x", "*", "a.b"])
def test_clean_pyproject_invalid_ops_id(project, cli, expect_error, ops_id: str) -> None:
    assert cli("create-pyproject", "--unique-id", "abc", project.root).exit_code == 0
    before = project.snapshot()
    expect_error(cli("clean-pyproject", "-f", "--ops-id", ops_id, project.root), "--ops-id")
    assert project.snapshot() == before


def test_create_pyproject_target_is_a_file(project, cli, tmp_path: Path) -> None:
    target = tmp_path / "a-file"
    target.write_text("x")
    result = cli("create-pyproject", "--unique-id", "abc", project.root, target)
    assert result.exit_code != 0
    assert isinstance(result.exception, SystemExit)
    assert "Traceback" not in result.output
    assert target.read_text() == "x"
    assert not (project.root / "CMakeLists.txt").exists()


def test_create_pyproject_noarch(project, cli) -> None:
    """A Python-only kernel gets a project that only installs its package (see test_cmake_backends)."""
    del project.data["torch"]
    del project.data["kernel"]
    project.write()
    before = project.snapshot()
    result = cli("create-pyproject", "--unique-id", "abc", project.root)
    assert result.exit_code == 0, result.output
    assert result.stderr == ""
    written = {"pyproject.toml", "CMakeLists.txt", "cmake/_ops.py.in"}
    assert set(project.snapshot()) - set(before) == written | {"cmake"}


def test_create_pyproject_unsupported_backend(project, cli, expect_error) -> None:
    """Neuron is not a CMake backend: a neuron-only kernel with a [torch] extension is refused."""
    project.general["backends"] = ["neuron"]
    project.add_file("x_neuron/x.cpp")
    project.data["kernel"] = {"n": {"backend": "neuron", "depends": ["torch"], "src": ["x_neuron/x.cpp"]}}
    project.write()
    before = project.snapshot()
    # Issue 16: neuron takes no [kernel.*] sections; the error names that section's backend key.
    line = expect_error(cli("create-pyproject", "--unique-id", "abc", project.root),
                        str(project.build_toml), "kernel.n.backend", "neuron")
    for backend in ("cpu", "cuda", "metal", "rocm", "xpu"):
        assert backend in line
    assert project.snapshot() == before


@pytest.mark.parametrize("backend", ["metal", "rocm", "xpu"])
def test_create_pyproject_single_gpu_backend(project, cli, backend: str) -> None:
    """Kernels for one non-CUDA backend only used to be refused; they are generated now."""
    source = {"metal": "x_metal/x.mm", "rocm": "x_rocm/x.cu", "xpu": "x_xpu/x.cpp"}[backend]
    project.general["backends"] = [backend]
    project.add_file(source)
    project.data["kernel"] = {"k": {"backend": backend, "depends": ["torch"], "src": [source]}}
    project.write()
    result = cli("create-pyproject", "--unique-id", "abc", project.root)
    assert result.exit_code == 0, result.output
    text = (project.root / "CMakeLists.txt").read_text()
    assert f'set(KERNEL_SUPPORTED_BACKENDS "{backend}")' in text
    assert f'if(KERNEL_BACKEND STREQUAL "{backend}")\n  ' in text


def test_unknown_command_is_a_usage_error(cli) -> None:
    result = cli("no-such-command")
    assert result.exit_code == 2
    assert isinstance(result.exception, SystemExit)
    assert "Traceback" not in result.output


def test_kernel_error_exit_code_is_1(project, cli) -> None:
    project.general["version"] = "1"
    project.write()
    assert cli("check-config", project.root).exit_code == 1


def test_subprocess_error_has_no_traceback(project) -> None:
    """The real entry point (python -m kernel_builder) prints one line too."""
    import subprocess
    import sys

    project.kernel()["rocm-archs"] = ["gfx942"]
    project.write()
    result = subprocess.run(
        [sys.executable, "-m", "kernel_builder", "check-config", str(project.root)],
        capture_output=True, text=True, env={**os.environ, "PYTHONWARNINGS": "ignore"},
    )
    assert result.returncode == 1
    assert result.stdout == ""
    assert result.stderr.splitlines() == [
        f"error: {project.build_toml}: kernel.x.rocm-archs: not valid for backend 'cuda' (only for: rocm)"
    ]
