"""Helpers to lay out fake, pure-Python kernel builds on disk."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any, Callable

import pytest

from kernels import loader
from kernels.variants import current_variant

def write_variant(
    variant_dir: Path,
    *,
    name: str = "fake-kernel",
    kernel_id: str = "_fake_kernel_cpu_0123abc",
    metadata: dict[str, Any] | None = None,
    init_extra: str = "",
) -> Path:
    """A variant directory whose package uses relative imports of its own modules."""
    variant_dir.mkdir(parents=True, exist_ok=True)
    if metadata is None:
        metadata = {"id": kernel_id, "name": name, "version": 1, "license": "Apache-2.0", "backend": {"type": "cpu"}}
    (variant_dir / "metadata.json").write_text(json.dumps(metadata))
    (variant_dir / "_helpers.py").write_text("FACTOR = 2\n")
    (variant_dir / "_impl.py").write_text(
        "from ._helpers import FACTOR\n\n\ndef double(x):\n    return x * FACTOR\n"
    )
    (variant_dir / "__init__.py").write_text(
        "from pathlib import Path\n"
        "from . import _impl\n"
        "from ._impl import double\n"
        f"VARIANT = {variant_dir.name!r}\n"
        "with open(Path(__file__).with_name('executions.log'), 'a') as _log:\n"
        "    _log.write('exec\\n')\n" + init_extra
    )
    return variant_dir


@pytest.fixture
def arch_variant() -> str:
    """This environment's arch-specific variant name (CPU backend)."""
    return current_variant("cpu")


@pytest.fixture
def fake_variant(tmp_path: Path) -> Callable[..., Path]:
    """``fake_variant(variant_name, root=tmp_path/"kernel", **kwargs)`` -> variant directory."""

    def make(variant: str, root: Path | None = None, **kwargs: Any) -> Path:
        root = tmp_path / "kernel" if root is None else root
        return write_variant(root / "build" / variant, **kwargs)

    return make


@pytest.fixture(autouse=True)
def _isolate_loaded_kernels(monkeypatch: pytest.MonkeyPatch):
    """Each test starts with an empty registry; modules it imported are dropped afterwards."""
    modules_before = set(sys.modules)
    monkeypatch.setattr(loader, "_loaded", {})
    monkeypatch.delenv("LOCAL_KERNELS", raising=False)
    yield
    for name in set(sys.modules) - modules_before:
        if name.startswith("fake_kernel_"):
            del sys.modules[name]
