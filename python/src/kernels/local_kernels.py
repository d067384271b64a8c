"""The ``LOCAL_KERNELS`` variable: use local builds in place of Hub repositories.

``LOCAL_KERNELS="org/name=path/to/kernel:org/other=path/to/other"`` maps each
repository id to a local kernel project, ``build/`` or variant directory.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Optional

LOCAL_KERNELS_ENV = "LOCAL_KERNELS"

_REPO_ID = re.compile(r"[A-Za-z0-9][\w.-]*/[A-Za-z0-9][\w.-]*")


def parse_local_kernels(value: str) -> dict[str, Path]:
    """Parse a ``LOCAL_KERNELS`` value into ``{repo_id: path}``.

    Empty entries are ignored; anything else that is not ``org/name=path``
    raises ``ValueError``.
    """
    mapping: dict[str, Path] = {}
    for entry in value.split(":"):
        entry = entry.strip()
        if not entry:
            continue
        repo_id, sep, path = (part.strip() for part in entry.partition("="))
        if not sep or not path or not _REPO_ID.fullmatch(repo_id):
            raise ValueError(
                f"{LOCAL_KERNELS_ENV}: malformed entry {entry!r} "
                "(expected org/name=path, entries separated by ':')"
            )
        if repo_id in mapping:
            raise ValueError(f"{LOCAL_KERNELS_ENV}: repository {repo_id!r} is mapped more than once")
        mapping[repo_id] = Path(path)
    return mapping


def local_kernel_path(repo_id: str) -> Optional[Path]:
    """The local path ``LOCAL_KERNELS`` maps ``repo_id`` to, if any."""
    return parse_local_kernels(os.environ.get(LOCAL_KERNELS_ENV, "")).get(repo_id)
