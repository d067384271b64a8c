"""The ``kernels.lock`` file: the Hub revisions a project pinned with ``kernels lock``.

The file is a JSON list with one entry per kernel::

    [{"repo_id": "org/name", "sha": "<commit>", "variants": {"<variant>": {"hash": ..., "hash_type": ...}}}]

Only what loading needs is modelled here; writing lock files belongs to the CLI.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any, Optional

LOCKFILE_NAME = "kernels.lock"


class LockfileError(ValueError):
    """A ``kernels.lock`` that is not a list of ``{repo_id, sha, variants}`` entries."""


@dataclass(frozen=True)
class KernelLock:
    repo_id: str
    sha: str
    variants: dict[str, Any] = field(default_factory=dict)


def parse_lockfile(text: str, source: str = LOCKFILE_NAME) -> list[KernelLock]:
    """The entries of a ``kernels.lock`` file."""
    try:
        data = json.loads(text)
    except json.JSONDecodeError as e:
        raise LockfileError(f"{source}: invalid JSON ({e.msg} at line {e.lineno})") from None
    if not isinstance(data, list):
        raise LockfileError(f"{source}: expected a JSON list of locked kernels")
    locks = []
    for i, entry in enumerate(data):
        if not isinstance(entry, dict):
            raise LockfileError(f"{source}: entry {i} is not a JSON object")
        for key in ("repo_id", "sha"):
            if not isinstance(entry.get(key), str) or not entry[key]:
                raise LockfileError(f"{source}: entry {i} needs a non-empty string '{key}'")
        variants = entry.get("variants", {})
        if not isinstance(variants, dict):
            raise LockfileError(f"{source}: 'variants' of entry {i} ({entry['repo_id']}) must be an object")
        locks.append(KernelLock(repo_id=entry["repo_id"], sha=entry["sha"], variants=variants))
    return locks


def locked_revision(repo_id: str, text: str, source: str = LOCKFILE_NAME) -> Optional[str]:
    """The commit ``repo_id`` is locked to in the lock file ``text``, or ``None``."""
    for lock in parse_lockfile(text, source):
        if lock.repo_id == repo_id:
            return lock.sha
    return None
