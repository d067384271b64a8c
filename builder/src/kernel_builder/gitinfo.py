"""Where the kernel source comes from: git revision and dirtiness.

The ops namespace of a build must be unique per source revision so that two
builds of one kernel can be loaded into the same process. We use the git short
sha of the kernel's repository, marked ``_dirty`` when tracked files changed.
"""

from __future__ import annotations

import secrets
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Optional


@dataclass(frozen=True)
class GitStatus:
    commit: str
    dirty: bool

    @property
    def short(self) -> str:
        return self.commit[:7]


def _git(args: list[str], cwd: Path) -> Optional[str]:
    try:
        result = subprocess.run(
            ["git", *args], cwd=cwd, capture_output=True, text=True, check=False
        )
    except OSError:
        return None
    if result.returncode != 0:
        return None
    return result.stdout


def git_status(kernel_dir: Path) -> Optional[GitStatus]:
    """Commit and dirtiness of the repository holding ``kernel_dir``; None outside git."""
    commit = _git(["rev-parse", "HEAD"], kernel_dir)
    if commit is None:
        return None
    # Untracked files (such as generated CMake files) do not make a tree dirty.
    status = _git(["status", "--porcelain", "--untracked-files=no", "--ignore-submodules", "--", "."], kernel_dir)
    return GitStatus(commit=commit.strip(), dirty=bool(status and status.strip()))


def unique_id(kernel_dir: Path, given: Optional[str] = None) -> str:
    """The suffix that makes this build's ops namespace unique."""
    if given is not None:
        return given
    status = git_status(kernel_dir)
    if status is None:
        return secrets.token_hex(4)
    return f"{status.short}_dirty" if status.dirty else status.short
