"""Issue 15 item 8: hostile build.toml files give one error line naming file and key, exit 1."""

from __future__ import annotations

import pytest




def _deeply_nested(project) -> str:
    return project.toml_text() + "\n[extra]\nvalue = " + "[" * 5000 + "]" * 5000 + "\n"


def _huge_integer(project) -> str:
    return project.toml_text().replace("version = 1", "version = " + "9" * 5000)


def _long_path(project) -> str:
    project.kernel("x_cpu")["src"] = ["x_cpu/" + "a" * 5000 + ".cpp"]
    return project.toml_text()


def _huge_capability(project) -> str:
    project.kernel("x")["cuda-capabilities"] = ["9" * 5000 + ".0"]
    return project.toml_text()


def _nul_in_path(project) -> str:
    project.kernel("x_cpu")["src"] = ["x_cpu/x\0.cpp"]
    return project.toml_text()


@pytest.mark.parametrize("make_text, key, words", [
    (_deeply_nested, "extra.value", "nested more than"),
    (_huge_integer, "general.version", "5000 digits"),
    (_long_path, "kernel.x_cpu.src", "too long"),
    (_nul_in_path, "kernel.x_cpu.src", "NUL byte"),
    (_huge_capability, "kernel.x.cuda-capabilities", "unsupported CUDA capability"),
], ids=["deep-nesting", "5000-digit-integer", "5000-character-path", "nul-in-path", "5000-digit-capability"])
def test_check_config_reports_hostile_build_toml_in_one_line(project, cli, expect_error, make_text, key, words):
    project.write_text(make_text(project))
    result = cli("check-config", project.root)
    assert result.exit_code == 1
    line = expect_error(result, str(project.build_toml), key, words)
    assert len(line) < 1000  # the hostile value is not echoed whole


def test_deep_nesting_within_the_limit_is_still_valid_toml(project, cli):
    """The nesting guard must not refuse ordinary nesting (arrays of tables, a few levels)."""
    project.write_text(project.toml_text() + "\n")
    text = project.toml_text().replace('backends = ["cpu", "cuda"]', 'backends = [["cpu"]]')
    project.write_text(text)
    result = cli("check-config", project.root)
    # A nested list is the wrong type for backends: the ordinary type error, not the nesting guard.
    assert "nested more than" not in result.output + result.stderr
    assert "general.backends" in result.stderr
