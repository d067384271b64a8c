"""The ``metadata.json`` of a build variant, as a typed model."""

from __future__ import annotations

import json
import keyword
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Optional

from .backends import registry

_MODULE_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


class MetadataError(ValueError):
    """A ``metadata.json`` that does not follow the kernel metadata schema."""


def is_module_name(name: str) -> bool:
    """Whether ``name`` can be a Python module name."""
    return bool(_MODULE_NAME.fullmatch(name)) and not keyword.iskeyword(name)


@dataclass(frozen=True)
class Backend:
    type: str
    archs: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {"type": self.type}
        if (self.type in registry() and registry().get(self.type).archs) or self.archs:
            data["archs"] = list(self.archs)
        return data


@dataclass(frozen=True)
class Metadata:
    id: str
    name: str
    version: int
    license: str
    backend: Backend
    python_depends: tuple[str, ...] = ()
    python_depends_backends: dict[str, tuple[str, ...]] = field(default_factory=dict)
    upstream: Optional[str] = None

    @classmethod
    def from_dict(cls, data: Any, source: str = "metadata.json") -> "Metadata":
        def fail(message: str) -> MetadataError:
            return MetadataError(f"{source}: {message}")

        if not isinstance(data, dict):
            raise fail("expected a JSON object")
        known = {"id", "name", "version", "license", "backend", "python-depends",
                 "python-depends-backends", "upstream"}
        unknown = sorted(set(data) - known)
        if unknown:
            raise fail(f"unknown key '{unknown[0]}' (expected one of {', '.join(sorted(known))})")
        for key in ("id", "name", "version", "license", "backend"):
            if key not in data:
                raise fail(f"missing required key '{key}'")
        for key in ("id", "name", "license"):
            if not isinstance(data[key], str) or not data[key]:
                raise fail(f"'{key}' must be a non-empty string")
        if not is_module_name(data["id"]):
            raise fail(f"'id' must be a valid Python module name, got {data['id']!r}")
        if not is_module_name(data["name"].replace("-", "_")):
            raise fail(f"'name' must be a valid module name once '-' become '_', got {data['name']!r}")
        version = data["version"]
        if not isinstance(version, int) or isinstance(version, bool) or version < 0:
            raise fail(f"'version' must be a non-negative integer, got {version!r}")
        backend = data["backend"]
        if not isinstance(backend, dict) or not isinstance(backend.get("type"), str):
            raise fail("'backend' must be an object with a string 'type'")
        backends = registry()
        if backend["type"] not in backends.metadata_names():
            raise fail(f"'backend.type' must be one of {', '.join(backends.metadata_names())}, got {backend['type']!r}")
        archs = backend.get("archs", [])
        if backends.get(backend["type"]).archs and "archs" not in backend:
            raise fail(f"'backend.archs' is required for backend {backend['type']!r}")
        if not isinstance(archs, list) or not all(isinstance(a, str) for a in archs):
            raise fail("'backend.archs' must be a list of strings")
        extra = sorted(set(backend) - {"type", "archs"})
        if extra:
            raise fail(f"unknown key 'backend.{extra[0]}'")
        depends = data.get("python-depends", [])
        if not isinstance(depends, list) or not all(isinstance(d, str) for d in depends):
            raise fail("'python-depends' must be a list of strings")
        per_backend = data.get("python-depends-backends", {})
        if not isinstance(per_backend, dict) or not all(
            isinstance(v, list) and all(isinstance(d, str) for d in v) for v in per_backend.values()
        ):
            raise fail("'python-depends-backends' must map backend names to lists of strings")
        upstream = data.get("upstream")
        if upstream is not None and not isinstance(upstream, str):
            raise fail("'upstream' must be a string")
        return cls(
            id=data["id"],
            name=data["name"],
            version=version,
            license=data["license"],
            backend=Backend(type=backend["type"], archs=tuple(archs)),
            python_depends=tuple(depends),
            python_depends_backends={k: tuple(v) for k, v in per_backend.items()},
            upstream=upstream,
        )

    @classmethod
    def load(cls, path: Path) -> "Metadata":
        try:
            text = Path(path).read_text(encoding="utf-8")
        except OSError as e:
            raise MetadataError(f"{path}: cannot read metadata ({e.strerror})") from None
        try:
            data = json.loads(text)
        except json.JSONDecodeError as e:
            raise MetadataError(f"{path}: invalid JSON ({e.msg} at line {e.lineno})") from None
        return cls.from_dict(data, source=str(path))

    def to_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "id": self.id,
            "name": self.name,
            "version": self.version,
            "license": self.license,
            "backend": self.backend.to_dict(),
        }
        # Always written, even empty: kernels 0.17.x (upstream) refuses metadata without it.
        data["python-depends"] = list(self.python_depends)
        if self.python_depends_backends:
            data["python-depends-backends"] = {k: list(v) for k, v in self.python_depends_backends.items()}
        if self.upstream:
            data["upstream"] = self.upstream
        return data

    @property
    def python_module_name(self) -> str:
        return self.name.replace("-", "_")
