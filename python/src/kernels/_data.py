"""Access to the shared data files in the repository's ``lib/`` directory.

The same JSON files are read by the Nix library and by both Python packages, so
there is a single source of truth for variants, versions and allowed
dependencies. Wheels carry a copy under ``kernels/_lib``; source checkouts and
editable installs read ``lib/`` directly.
"""

from __future__ import annotations

import json
from functools import lru_cache
from pathlib import Path
from typing import Any


def lib_dir() -> Path:
    """Directory that holds the shared ``*.json`` data files."""
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
