"""kernel-builder skills add: skill files for Claude, Codex and OpenCode."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from kernel_builder.cli.skills import SKILLS, skill_files


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A private HOME (and project directory as cwd) so nothing touches the real one."""
    home = tmp_path / "home"
    home.mkdir()
    project = tmp_path / "project"
    project.mkdir()
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.delenv("CODEX_HOME", raising=False)
    monkeypatch.delenv("XDG_CONFIG_HOME", raising=False)
    monkeypatch.chdir(project)
    return home


def files_under(root: Path) -> set[str]:
    return {p.relative_to(root).as_posix() for p in root.rglob("*") if p.is_file()}


def front_matter(text: str) -> dict[str, str]:
    match = re.match(r"^---\n(.*?)\n---\n", text, re.S)
    assert match, "SKILL.md must start with YAML front matter"
    fields = {}
    for line in match.group(1).splitlines():
        key, _, value = line.partition(":")
        fields[key.strip()] = value.strip()
    return fields


@pytest.mark.parametrize("skill", SKILLS)
def test_skill_content(skill: str) -> None:
    files = skill_files(skill)
    assert "SKILL.md" in files
    meta = front_matter(files["SKILL.md"])
    assert set(meta) == {"name", "description"}
    assert meta["name"] == skill
    assert 50 < len(meta["description"]) <= 1024
    references = sorted(f for f in files if f.startswith("references/"))
    assert len(references) >= 3
    for ref in references:
        assert ref in files["SKILL.md"] or ref.split("/", 1)[1] in files["SKILL.md"], f"{ref} not referenced"
    text = "\n".join(files.values())
    # Facts about our builder the skill must teach.
    for needle in ("build.toml", "kernel-builder init", "kernel-builder build", "check-config",
                   "add_op_namespace_prefix", "TORCH_LIBRARY_EXPAND", "REGISTER_EXTENSION",
                   "kernels_ci", "from ._ops import", "has_backward", "get_kernel", "get_local_kernel"):
        assert needle in text, f"{skill}: {needle!r} missing"


def test_unknown_skill_is_rejected(home: Path, cli, expect_error) -> None:
    result = cli("skills", "add", "--skill", "tpu-kernels", "--claude")
    assert result.exit_code == 2
    assert "tpu-kernels" in result.stderr
    assert not (Path.cwd() / ".claude").exists()


def test_default_skill_for_claude_in_project(home: Path, cli) -> None:
    result = cli("skills", "add", "--claude")
    assert result.exit_code == 0, result.output
    installed = Path.cwd() / ".claude" / "skills" / "cuda-kernels"
    assert files_under(installed) == set(skill_files("cuda-kernels"))
    assert (installed / "SKILL.md").read_text() == skill_files("cuda-kernels")["SKILL.md"]
    assert f"Installed 'cuda-kernels' for Claude in {installed}" in result.stdout
    assert not any(home.iterdir())


def test_every_assistant_in_project(home: Path, cli) -> None:
    result = cli("skills", "add", "--skill", "rocm-kernels", "--claude", "--codex", "--opencode")
    assert result.exit_code == 0, result.output
    for directory in (".claude/skills", ".codex/skills", ".opencode/skills"):
        installed = Path.cwd() / directory / "rocm-kernels"
        assert files_under(installed) == set(skill_files("rocm-kernels")), directory
    assert result.stdout.count("Installed 'rocm-kernels'") == 3


def test_global_install(home: Path, cli) -> None:
    result = cli("skills", "add", "--skill", "xpu-kernels", "-g", "--claude", "--codex", "--opencode")
    assert result.exit_code == 0, result.output
    for directory in (".claude/skills", ".codex/skills", ".config/opencode/skills"):
        assert (home / directory / "xpu-kernels" / "SKILL.md").is_file(), directory
    assert not (Path.cwd() / ".claude").exists()


def test_global_install_respects_codex_home_and_xdg(home: Path, cli, monkeypatch, tmp_path: Path) -> None:
    monkeypatch.setenv("CODEX_HOME", str(tmp_path / "codex"))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    result = cli("skills", "add", "--global", "--codex", "--opencode")
    assert result.exit_code == 0, result.output
    assert (tmp_path / "codex" / "skills" / "cuda-kernels" / "SKILL.md").is_file()
    assert (tmp_path / "config" / "opencode" / "skills" / "cuda-kernels" / "SKILL.md").is_file()


def test_dest(home: Path, cli, tmp_path: Path) -> None:
    result = cli("skills", "add", "--dest", tmp_path / "my-skills")
    assert result.exit_code == 0, result.output
    assert (tmp_path / "my-skills" / "cuda-kernels" / "SKILL.md").is_file()


def test_dest_relative_to_cwd(home: Path, cli) -> None:
    assert cli("skills", "add", "--dest", "skills-here").exit_code == 0
    assert (Path.cwd() / "skills-here" / "cuda-kernels" / "SKILL.md").is_file()


def test_dest_and_assistant_pointing_at_one_directory_install_once(home: Path, cli) -> None:
    result = cli("skills", "add", "--claude", "--dest", ".claude/skills")
    assert result.exit_code == 0, result.output
    assert result.stdout.count("Installed") == 1


def test_no_destination_is_an_error(home: Path, cli, expect_error) -> None:
    expect_error(cli("skills", "add"), "--claude", "--codex", "--opencode", "--dest")
    expect_error(cli("skills", "add", "--skill", "rocm-kernels"), "pick a destination")


def test_global_needs_an_assistant(home: Path, cli, expect_error) -> None:
    expect_error(cli("skills", "add", "--global"), "pick a destination")
    expect_error(cli("skills", "add", "-g", "--dest", "x"), "-g/--global")
    assert not (Path.cwd() / "x").exists()


def test_refuses_to_overwrite_without_force(home: Path, cli, expect_error) -> None:
    assert cli("skills", "add", "--claude").exit_code == 0
    installed = Path.cwd() / ".claude" / "skills" / "cuda-kernels"
    (installed / "SKILL.md").write_text("my edits\n")
    expect_error(cli("skills", "add", "--claude"), str(installed), "already exists", "--force")
    assert (installed / "SKILL.md").read_text() == "my edits\n"


def test_checks_every_destination_before_writing(home: Path, cli, expect_error) -> None:
    assert cli("skills", "add", "--codex").exit_code == 0
    expect_error(cli("skills", "add", "--claude", "--codex"), ".codex", "already exists")
    assert not (Path.cwd() / ".claude").exists()


def test_force_replaces_the_skill(home: Path, cli) -> None:
    assert cli("skills", "add", "--claude").exit_code == 0
    installed = Path.cwd() / ".claude" / "skills" / "cuda-kernels"
    (installed / "SKILL.md").write_text("stale\n")
    (installed / "references" / "old.md").write_text("stale\n")
    other = Path.cwd() / ".claude" / "skills" / "my-own-skill"
    other.mkdir()
    (other / "SKILL.md").write_text("mine\n")

    result = cli("skills", "add", "--claude", "--force")
    assert result.exit_code == 0, result.output
    assert files_under(installed) == set(skill_files("cuda-kernels"))
    assert (installed / "SKILL.md").read_text() == skill_files("cuda-kernels")["SKILL.md"]
    assert (other / "SKILL.md").read_text() == "mine\n"
    # No staging directories are left behind.
    assert sorted(p.name for p in installed.parent.iterdir()) == ["cuda-kernels", "my-own-skill"]


def test_force_replaces_a_symlink_not_its_target(home: Path, cli, tmp_path: Path) -> None:
    real = tmp_path / "real-skill"
    real.mkdir()
    (real / "SKILL.md").write_text("keep\n")
    skills_dir = Path.cwd() / ".claude" / "skills"
    skills_dir.mkdir(parents=True)
    (skills_dir / "cuda-kernels").symlink_to(real, target_is_directory=True)
    assert cli("skills", "add", "--claude", "--force").exit_code == 0
    assert not (skills_dir / "cuda-kernels").is_symlink()
    assert (real / "SKILL.md").read_text() == "keep\n"


def test_skills_dir_is_a_file(home: Path, cli, expect_error) -> None:
    (Path.cwd() / ".claude").mkdir()
    (Path.cwd() / ".claude" / "skills").write_text("x")
    expect_error(cli("skills", "add", "--claude", "--force"), "not a directory")


def test_help_reads_like_the_reference(cli) -> None:
    group = " ".join(cli("skills", "--help").stdout.split())
    assert "Install skills for AI coding assistants (Claude, Codex, OpenCode)." in group
    assert "add Install a kernels skill for an AI assistant." in group
    add = " ".join(cli("skills", "add", "--help").stdout.split())
    for needle in ("[default: cuda-kernels]", "cuda-kernels|rocm-kernels|xpu-kernels", "--claude", "--codex",
                   "--opencode", "-g, --global Install globally (user-level) instead of in the current project "
                   "directory.", "--dest DEST Install into a custom destination (path to skills directory).",
                   "--force Overwrite existing skills in the destination."):
        assert needle in add
