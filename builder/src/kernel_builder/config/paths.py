"""Source paths in build.toml: relative, inside the project, existing."""

from __future__ import annotations

import os
from pathlib import Path

from .table import Table


def check_project_path(table: Table, key: str, rel: str, kernel_dir: Path, want_dir: bool) -> None:
    what = "directory" if want_dir else "file"
    if not rel:
        raise table.error(key, f"expected a {what} path relative to the kernel directory, got an empty string")
    if os.path.isabs(rel) or rel.startswith("~"):
        raise table.error(key, f"expected a path relative to the kernel directory, got absolute path {rel!r}")
    if ".." in Path(rel).parts:
        raise table.error(key, f"path {rel!r} leaves the kernel directory (no '..' allowed)")
    full = kernel_dir / rel
    try:
        resolved = full.resolve()
    except (OSError, RuntimeError):
        raise table.error(key, f"path {rel!r} cannot be resolved (symlink loop?)") from None
    root = kernel_dir.resolve()
    if resolved != root and root not in resolved.parents:
        raise table.error(key, f"path {rel!r} resolves outside the kernel directory (symlink to {resolved})")
    if want_dir and not full.is_dir():
        raise table.error(key, f"directory {rel!r} does not exist in the kernel directory")
    if not want_dir and not full.is_file():
        raise table.error(key, f"file {rel!r} does not exist in the kernel directory")
