"""Access to the shared data files in the repository's ``lib/`` directory.

The same JSON files are read by the Nix library and by both Python packages, so
there is a single source of truth for variants, versions and allowed
dependencies. Wheels carry a copy under ``kernels/_lib``; source checkouts and
editable installs read ``lib/`` directly.
"""

from __future__ import annotations

import json
from contextlib import contextmanager
from functools import lru_cache
from pathlib import Path
from typing import Any, Callable, Iterator, Union

_lib_overrides: list[Path] = []
_on_change: list[Callable[[], None]] = []


def lib_dir() -> Path:
    """Directory that holds the shared ``*.json`` data files (see :func:`use_lib_dir`)."""
    if _lib_overrides:
        return _lib_overrides[-1]
    packaged = Path(__file__).parent / "_lib"
    if packaged.is_dir():
        return packaged
    checkout = Path(__file__).resolve().parents[3] / "lib"
    if checkout.is_dir():
        return checkout
    raise FileNotFoundError(
        f"kernels data files not found in {packaged} or {checkout}; reinstall kernels"
    )


@lru_cache(maxsize=None)
def load_lib_json(name: str) -> Any:
    """Load ``lib/<name>.json`` (cached; callers must not mutate the result)."""
    with open(lib_dir() / f"{name}.json", encoding="utf-8") as f:
        return json.load(f)


def on_lib_change(callback: Callable[[], None]) -> None:
    """Call ``callback`` when :func:`use_lib_dir` switches the data (caches built from it clear themselves)."""
    _on_change.append(callback)


@contextmanager
def use_lib_dir(path: Union[str, Path]) -> Iterator[Path]:
    """Read the shared data from ``path`` inside the ``with`` block.

    For tests and tools that try data changes, such as a new backend in a
    copy of ``lib/``; every cache derived from the data is cleared on entry
    and exit.
    """
    _lib_overrides.append(Path(path))
    _data_changed()
    try:
        yield Path(path)
    finally:
        _lib_overrides.pop()
        _data_changed()


def _data_changed() -> None:
    load_lib_json.cache_clear()
    for callback in _on_change:
        callback()
