"""``kernel-builder skills add``: install kernel-writing skills for AI coding assistants.

The skills ship with this package (``kernel_builder/skills/``): each has a
``SKILL.md`` (front matter ``name`` and ``description``) and reference files;
the references in ``skills/common/`` are installed with every skill. A skill
is installed as ``<skills dir>/<skill>/`` into the project directory of each
chosen assistant (``.claude/skills``, ``.codex/skills``, ``.opencode/skills``),
into its user-level directory with ``--global``, or into ``--dest``.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from dataclasses import dataclass
from importlib import resources
from importlib.abc import Traversable
from pathlib import Path
from typing import Optional

import click

from ..errors import KernelBuilderError

SKILLS = ("cuda-kernels", "rocm-kernels", "xpu-kernels")
DEFAULT_SKILL = "cuda-kernels"
_COMMON = "common"

#: Assistant -> its skills directory inside a project.
PROJECT_DIRS = {
    "claude": Path(".claude") / "skills",
    "codex": Path(".codex") / "skills",
    "opencode": Path(".opencode") / "skills",
}
ASSISTANT_NAMES = {"claude": "Claude", "codex": "Codex", "opencode": "OpenCode"}


def global_dirs() -> dict[str, Path]:
    """Assistant -> its user-level skills directory."""
    home = Path.home()
    codex_home = os.environ.get("CODEX_HOME")
    config_home = os.environ.get("XDG_CONFIG_HOME")
    return {
        "claude": home / ".claude" / "skills",
        "codex": (Path(codex_home) if codex_home else home / ".codex") / "skills",
        "opencode": (Path(config_home) if config_home else home / ".config") / "opencode" / "skills",
    }


def _walk(node: Traversable, prefix: str = "") -> dict[str, str]:
    files: dict[str, str] = {}
    for child in sorted(node.iterdir(), key=lambda c: c.name):
        if child.name.startswith((".", "__")):
            continue
        rel = f"{prefix}{child.name}"
        if child.is_dir():
            files.update(_walk(child, rel + "/"))
        else:
            files[rel] = child.read_text(encoding="utf-8")
    return files


def skill_files(skill: str) -> dict[str, str]:
    """Relative path -> content of the files installed for ``skill``."""
    if skill not in SKILLS:
        raise KernelBuilderError(f"--skill: unknown skill {skill!r} (expected one of: {', '.join(SKILLS)})")
    root = resources.files("kernel_builder").joinpath("skills")
    files = _walk(root.joinpath(_COMMON))
    files.update(_walk(root.joinpath(skill)))
    return files


@dataclass(frozen=True)
class Target:
    """A skills directory to install into, and for whom."""

    skills_dir: Path
    label: str  # "Claude", "Codex", "OpenCode" or "--dest"


def plan_targets(claude: bool, codex: bool, opencode: bool, global_: bool, dest: Optional[Path],
                 cwd: Optional[Path] = None) -> list[Target]:
    chosen = [name for name, wanted in (("claude", claude), ("codex", codex), ("opencode", opencode)) if wanted]
    if not chosen and dest is None:
        raise KernelBuilderError("pick a destination: --claude, --codex, --opencode and/or --dest DIR")
    if global_ and not chosen:
        raise KernelBuilderError(
            "-g/--global installs for --claude, --codex or --opencode; --dest DIR is used as given"
        )
    cwd = Path.cwd() if cwd is None else cwd
    dirs = global_dirs() if global_ else {name: cwd / rel for name, rel in PROJECT_DIRS.items()}
    targets = [Target(dirs[name], ASSISTANT_NAMES[name]) for name in chosen]
    if dest is not None:
        targets.append(Target(dest if dest.is_absolute() else cwd / dest, "--dest"))
    unique: list[Target] = []
    seen: set[Path] = set()
    for target in targets:
        key = Path(os.path.abspath(target.skills_dir))
        if key not in seen:
            seen.add(key)
            unique.append(target)
    return unique


def _check_target(skills_dir: Path, skill: str, force: bool) -> None:
    if (skills_dir.exists() or skills_dir.is_symlink()) and not skills_dir.is_dir():
        raise KernelBuilderError(f"{skills_dir} exists and is not a directory")
    installed = skills_dir / skill
    if installed.exists() or installed.is_symlink():
        if not force:
            raise KernelBuilderError(f"{installed} already exists: use --force to replace it")
        if not installed.is_dir() and not installed.is_symlink():
            raise KernelBuilderError(f"{installed} exists and is not a directory; remove it first")


def _install(skills_dir: Path, skill: str, files: dict[str, str]) -> Path:
    """Write the skill into a temporary directory next to it, then move it into place."""
    skills_dir.mkdir(parents=True, exist_ok=True)
    installed = skills_dir / skill
    staging = Path(tempfile.mkdtemp(prefix=f".{skill}.", dir=skills_dir))
    try:
        for rel, content in files.items():
            path = staging / rel
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(content, encoding="utf-8")
        staging.chmod(0o755)
        if installed.is_symlink():
            installed.unlink()  # the link only, never what it points to
        elif installed.exists():
            shutil.rmtree(installed)
        staging.rename(installed)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return installed


def add_skill(skill: str, targets: list[Target], force: bool = False) -> list[tuple[Target, Path]]:
    """Install ``skill`` into every target; checks all targets before writing any."""
    files = skill_files(skill)
    for target in targets:
        _check_target(target.skills_dir, skill, force)
    done = []
    for target in targets:
        try:
            done.append((target, _install(target.skills_dir, skill, files)))
        except OSError as e:
            raise KernelBuilderError(f"cannot install into {target.skills_dir}: {e.strerror or e}") from None
    return done


# --------------------------------------------------------------------------
# Command line.


@click.group("skills", short_help="Install skills for AI coding assistants.")
def skills_group() -> None:
    """Install skills for AI coding assistants (Claude, Codex, OpenCode)."""


@skills_group.command("add")
@click.option("--skill", type=click.Choice(SKILLS), default=DEFAULT_SKILL, show_default=True,
              help="Skill to install.")
@click.option("--claude", is_flag=True, help="Install for Claude (.claude/skills).")
@click.option("--codex", is_flag=True, help="Install for Codex (.codex/skills).")
@click.option("--opencode", is_flag=True, help="Install for OpenCode (.opencode/skills).")
@click.option("-g", "--global", "global_", is_flag=True,
              help="Install globally (user-level) instead of in the current project directory.")
@click.option("--dest", type=click.Path(path_type=Path), metavar="DEST",
              help="Install into a custom destination (path to skills directory).")
@click.option("--force", is_flag=True, help="Overwrite existing skills in the destination.")
def add_command(skill: str, claude: bool, codex: bool, opencode: bool, global_: bool, dest: Optional[Path],
                force: bool) -> None:
    """Install a kernels skill for an AI assistant.

    The skill is written to <skills dir>/<skill>/ for each assistant chosen:
    .claude/skills, .codex/skills and .opencode/skills in the current
    directory, or with --global ~/.claude/skills, ~/.codex/skills and
    ~/.config/opencode/skills.
    """
    targets = plan_targets(claude, codex, opencode, global_, dest)
    for target, installed in add_skill(skill, targets, force):
        count = sum(1 for p in installed.rglob("*") if p.is_file())
        who = "" if target.label == "--dest" else f" for {target.label}"
        click.echo(f"Installed '{skill}'{who} in {installed} ({count} files)")
