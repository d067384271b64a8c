"""Source paths in build.toml: relative, inside the project, existing."""

from __future__ import annotations

import os
from pathlib import Path

from .table import Table


def check_project_path(table: Table, key: str, rel: str, kernel_dir: Path, want_dir: bool) -> None:
    what = "directory" if want_dir else "file"
    if "\0" in rel:
        raise table.error(key, f"path {_shown(rel)} contains a NUL byte")
    if len(os.fsencode(rel)) > _MAX_PATH_BYTES or any(len(os.fsencode(p)) > _MAX_NAME_BYTES for p in Path(rel).parts):
        raise table.error(key, f"path {_shown(rel)} is too long ({len(rel)} characters; at most {_MAX_NAME_BYTES} "
                               f"bytes per name and {_MAX_PATH_BYTES} in all)")
    if not rel:
        raise table.error(key, f"expected a {what} path relative to the kernel directory, got an empty string")
    if os.path.isabs(rel) or rel.startswith("~"):
        raise table.error(key, f"expected a path relative to the kernel directory, got absolute path {rel!r}")
    if ".." in Path(rel).parts:
        raise table.error(key, f"path {rel!r} leaves the kernel directory (no '..' allowed)")
    full = kernel_dir / rel
    try:
        resolved = full.resolve()
        root = kernel_dir.resolve()
        if resolved != root and root not in resolved.parents:
            raise table.error(key, f"path {_shown(rel)} resolves outside the kernel directory (symlink to {resolved})")
        exists = full.is_dir() if want_dir else full.is_file()
    except (OSError, RuntimeError, ValueError) as e:
        reason = getattr(e, "strerror", None) or "symlink loop?"
        raise table.error(key, f"path {_shown(rel)} cannot be resolved ({reason})") from None
    if not exists:
        raise table.error(key, f"{what} {_shown(rel)} does not exist in the kernel directory")


#: Linux's NAME_MAX and PATH_MAX: longer paths cannot name a file.
_MAX_NAME_BYTES = 255
_MAX_PATH_BYTES = 4096


def _shown(rel: str) -> str:
    """``rel`` quoted for an error line, shortened when it is long."""
    text = repr(rel)
    return text if len(text) <= 80 else f"{text[:60]}...{text[-12:]}"
