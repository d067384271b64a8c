"""The ``kernels.lock`` file: the Hub revisions a project pinned with ``kernels lock``.

The file is a JSON list with one entry per kernel::

    [{"repo_id": "org/name", "sha": "<commit>", "variants": {"<variant>": {"hash": ..., "hash_type": ...}}}]

``hash_type`` is ``git_lfs_concat`` (see ``docs/locking.md`` and
:func:`kernels.locking.git_lfs_concat`). :func:`dump_lockfile` writes the
canonical (sorted, stable) text that ``kernels lock`` produces.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Optional, Union

from .hub.errors import CorruptFileError

LOCKFILE_NAME = "kernels.lock"


class LockfileError(CorruptFileError):
    """A ``kernels.lock`` that is not a list of ``{repo_id, sha, variants}`` entries (a ``ValueError``)."""


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
    except RecursionError:
        raise LockfileError(f"{source}: invalid JSON (nested too deeply)") from None
    except ValueError as e:  # e.g. an integer beyond Python's digit limit
        raise LockfileError(f"{source}: invalid JSON ({' '.join(str(e).split())[:200]})") from None
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
        for name, lock in variants.items():
            if not isinstance(lock, dict) or not all(isinstance(lock.get(k), str) for k in ("hash", "hash_type")):
                raise LockfileError(
                    f"{source}: variant {name!r} of entry {i} ({entry['repo_id']}) needs string 'hash' and 'hash_type'"
                )
        locks.append(KernelLock(repo_id=entry["repo_id"], sha=entry["sha"], variants=variants))
    return locks


def decode_lockfile(data: bytes, source: str) -> str:
    """The text of a lock file's bytes; ``LockfileError`` naming ``source`` when they are not UTF-8."""
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as e:
        raise LockfileError(f"{source}: not UTF-8 text (invalid byte at offset {e.start})") from None


def read_lockfile(path: Union[str, Path]) -> list[KernelLock]:
    """The entries of the lock file at ``path`` (``OSError`` when it cannot be read)."""
    return parse_lockfile(decode_lockfile(Path(path).read_bytes(), str(path)), str(path))


def find_lock(locks: list[KernelLock], repo_id: str) -> Optional[KernelLock]:
    """The entry of ``repo_id`` in ``locks``, or ``None``."""
    for lock in locks:
        if lock.repo_id == repo_id:
            return lock
    return None


def dump_lockfile(locks: list[KernelLock]) -> str:
    """The canonical text of a lock file: entries sorted by repository, variants by name, two-space indent."""
    data = [
        {
            "repo_id": lock.repo_id,
            "sha": lock.sha,
            "variants": {
                name: {"hash": lock.variants[name]["hash"], "hash_type": lock.variants[name]["hash_type"]}
                for name in sorted(lock.variants)
            },
        }
        for lock in sorted(locks, key=lambda lock: lock.repo_id)
    ]
    return json.dumps(data, indent=2) + "\n"
