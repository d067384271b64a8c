"""What the ``kernels`` subcommands share: one-line errors and reading a variant's metadata as it is."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any, NoReturn, Optional


def fail(message: str) -> NoReturn:
    """Print ``error: <message>`` (one line) on standard error and exit with status 1."""
    print(f"error: {' '.join(str(message).split())}", file=sys.stderr)
    raise SystemExit(1)


def read_json_object(path: Path) -> dict[str, Any]:
    """A JSON object from ``path`` (``ValueError`` naming the file otherwise)."""
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError) as e:
        raise ValueError(f"{path}: cannot be read ({e})") from None
    except ValueError as e:
        raise ValueError(f"{path}: invalid JSON ({e})") from None
    if not isinstance(data, dict):
        raise ValueError(f"{path}: expected a JSON object")
    return data


def backend_of(variant_name: str) -> Optional[str]:
    """The backend a variant directory name is for (``cuda``, ``cpu``, ``universal``…), ``None`` if unparsable."""
    from ..variants import parse_variant_or_none

    variant = parse_variant_or_none(variant_name)
    return None if variant is None else variant.backend_name


def local_variant_dirs(path: Path) -> list[Path]:
    """The variant directories of a kernel project (``build/``), a ``build/`` directory, or a variant itself."""
    if (path / "metadata.json").is_file():
        return [path]
    build = path / "build" if (path / "build").is_dir() else path
    return sorted(p for p in build.iterdir() if p.is_dir() and backend_of(p.name) is not None) \
        if build.is_dir() else []


def preferred_name(names: list[str], backend: Optional[str] = None) -> Optional[str]:
    """The name this environment loads first among ``names``; ``None`` when it accepts none."""
    from ..selection import VariantAccepted, decide

    try:
        accepted = [d.variant for d in decide(names, backend) if isinstance(d, VariantAccepted)]
    except (ImportError, ValueError):
        return None
    return str(accepted[0]) if accepted else None
