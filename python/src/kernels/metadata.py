"""The ``metadata.json`` of a build variant, as a typed model.

Besides the keys every build has, upstream's current builder records
``source``, ``kernel-depends``, ``kernels-minver``, ``digest`` (a hash of
every file of the variant, see :mod:`kernels.integrity`) and ``provenance``
(the git state of the builder and of the kernel source). Keys this version
does not know are tolerated when loading, so that builds from newer builders
load; ``strict=True`` (used by ``kernel-builder check-builds`` on our own
builds) refuses them. A known key with a malformed value is always one
:class:`MetadataError` naming the file and the key.
"""

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


_COMMIT = re.compile(r"^[0-9a-f]{40}$")
_DIGEST_ALGORITHMS = ("sha256", "sha512")
_KNOWN_KEYS = ("id", "name", "version", "license", "backend", "python-depends", "python-depends-backends",
               "upstream", "source", "kernel-depends", "kernels-minver", "digest", "provenance", "build-layout")


@dataclass(frozen=True)
class Digest:
    """``digest``: the algorithm and, per file path relative to the variant, its base64 hash."""

    algorithm: str
    files: dict[str, str]

    def to_dict(self) -> dict[str, Any]:
        return {"algorithm": self.algorithm, "files": dict(sorted(self.files.items()))}


@dataclass(frozen=True)
class GitStatus:
    commit: str
    dirty: bool


@dataclass(frozen=True)
class Provenance:
    """``provenance``: which builder (and its git state) built which kernel source state."""

    builder_version: str
    builder_git: Optional[GitStatus] = None
    kernel: Optional[GitStatus] = None

    @property
    def dirty(self) -> bool:
        return any(g is not None and g.dirty for g in (self.builder_git, self.kernel))

    def to_dict(self) -> dict[str, Any]:
        builder: dict[str, Any] = {"version": self.builder_version}
        if self.builder_git is not None:
            builder.update(commit=self.builder_git.commit, dirty=self.builder_git.dirty)
        data: dict[str, Any] = {"kernel-builder": builder}
        if self.kernel is not None:
            data["kernel"] = {"commit": self.kernel.commit, "dirty": self.kernel.dirty}
        return data


@dataclass(frozen=True)
class KernelDependency:
    """One ``kernel-depends`` entry: a Hub kernel at a version or a revision."""

    repo_id: str
    version: Optional[int] = None
    revision: Optional[str] = None

    def to_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {"repo-id": self.repo_id}
        if self.version is not None:
            data["version"] = self.version
        if self.revision is not None:
            data["revision"] = self.revision
        return data


def _git_status(value: Any, where: str, fail: Any) -> Optional[GitStatus]:
    if not isinstance(value, dict):
        raise fail(f"'{where}' must be an object")
    commit = value.get("commit", value.get("sha"))  # 'sha' is an early spelling upstream still reads
    dirty = value.get("dirty")
    if commit is None and dirty is None:
        return None
    if not isinstance(commit, str) or not _COMMIT.fullmatch(commit):
        raise fail(f"'{where}.commit' must be a 40-character git commit id")
    if not isinstance(dirty, bool):
        raise fail(f"'{where}.dirty' must be true or false")
    return GitStatus(commit, dirty)


def _provenance(value: Any, fail: Any) -> Optional[Provenance]:
    if value is None:
        return None
    if not isinstance(value, dict) or not isinstance(value.get("kernel-builder"), dict):
        raise fail("'provenance' must be an object with a 'kernel-builder' object")
    builder = value["kernel-builder"]
    if not isinstance(builder.get("version"), str):
        raise fail("'provenance.kernel-builder.version' must be a string")
    kernel = _git_status(value["kernel"], "provenance.kernel", fail) if "kernel" in value else None
    return Provenance(builder["version"], _git_status(builder, "provenance.kernel-builder", fail), kernel)


def _digest(value: Any, fail: Any) -> Optional[Digest]:
    if value is None:
        return None
    if not isinstance(value, dict) or value.get("algorithm") not in _DIGEST_ALGORITHMS:
        raise fail(f"'digest.algorithm' must be one of {', '.join(_DIGEST_ALGORITHMS)}")
    files = value.get("files")
    if not isinstance(files, dict) or not all(isinstance(h, str) for h in files.values()):
        raise fail("'digest.files' must map file paths to base64 hashes")
    return Digest(value["algorithm"], dict(files))


def _kernel_depends(value: Any, fail: Any) -> tuple[KernelDependency, ...]:
    if not isinstance(value, list):
        raise fail("'kernel-depends' must be a list of objects")
    found = []
    for entry in value:
        if not isinstance(entry, dict) or not isinstance(entry.get("repo-id"), str):
            raise fail("'kernel-depends' entries must be objects with a string 'repo-id'")
        version, revision = entry.get("version"), entry.get("revision")
        if (version is None) == (revision is None):
            raise fail("'kernel-depends' entries need either a 'version' or a 'revision', not both")
        if version is not None and (not isinstance(version, int) or isinstance(version, bool)):
            raise fail("'kernel-depends' version must be an integer")
        if revision is not None and not isinstance(revision, str):
            raise fail("'kernel-depends' revision must be a string")
        found.append(KernelDependency(entry["repo-id"], version, revision))
    return tuple(found)


def _kernels_minver(value: Any, fail: Any) -> Optional[str]:
    if value is None:
        return None
    if not isinstance(value, str) or not re.fullmatch(r"\d+(\.\d+)*", value):
        raise fail(f"'kernels-minver' must be a version such as '0.19.0', got {value!r}")
    return value


def _optional_text(data: dict, key: str, fail: Any) -> Optional[str]:
    value = data.get(key)
    if value is not None and not isinstance(value, str):
        raise fail(f"'{key}' must be a string")
    return value


def _newer_format_fields(data: dict, fail: Any) -> dict[str, Any]:
    """The keys upstream's current builder adds, validated."""
    _optional_text(data, "build-layout", fail)
    return dict(
        source=_optional_text(data, "source", fail),
        kernel_depends=_kernel_depends(data.get("kernel-depends", []), fail),
        kernels_minver=_kernels_minver(data.get("kernels-minver"), fail),
        digest=_digest(data.get("digest"), fail),
        provenance=_provenance(data.get("provenance"), fail),
    )


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
    source: Optional[str] = None
    kernel_depends: tuple[KernelDependency, ...] = ()
    kernels_minver: Optional[str] = None
    digest: Optional[Digest] = None
    provenance: Optional[Provenance] = None

    @classmethod
    def from_dict(cls, data: Any, source: str = "metadata.json", *, strict: bool = False) -> "Metadata":
        """Validate ``data``; unknown keys are tolerated unless ``strict``."""
        def fail(message: str) -> MetadataError:
            return MetadataError(f"{source}: {message}")

        if not isinstance(data, dict):
            raise fail("expected a JSON object")
        unknown = sorted(set(data) - set(_KNOWN_KEYS))
        if unknown and strict:
            raise fail(f"unknown key '{unknown[0]}' (expected one of {', '.join(sorted(_KNOWN_KEYS))})")
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
        if strict and backends.get(backend["type"]).archs and "archs" not in backend:
            raise fail(f"'backend.archs' is required for backend {backend['type']!r}")
        if not isinstance(archs, list) or not all(isinstance(a, str) for a in archs):
            raise fail("'backend.archs' must be a list of strings")
        extra = sorted(set(backend) - {"type", "archs"})
        if extra and strict:
            raise fail(f"unknown key 'backend.{extra[0]}'")
        depends = data.get("python-depends", [])
        if not isinstance(depends, list) or not all(isinstance(d, str) for d in depends):
            raise fail("'python-depends' must be a list of strings")
        per_backend = data.get("python-depends-backends", {})
        if not isinstance(per_backend, dict) or not all(
            isinstance(v, list) and all(isinstance(d, str) for d in v) for v in per_backend.values()
        ):
            raise fail("'python-depends-backends' must map backend names to lists of strings")
        upstream = _optional_text(data, "upstream", fail)
        newer = _newer_format_fields(data, fail)
        return cls(
            id=data["id"],
            name=data["name"],
            version=version,
            license=data["license"],
            backend=Backend(type=backend["type"], archs=tuple(archs)),
            python_depends=tuple(depends),
            python_depends_backends={k: tuple(v) for k, v in per_backend.items()},
            upstream=upstream,
            **newer,
        )

    @classmethod
    def load(cls, path: Path, *, strict: bool = False) -> "Metadata":
        try:
            text = Path(path).read_text(encoding="utf-8")
        except OSError as e:
            raise MetadataError(f"{path}: cannot read metadata ({e.strerror})") from None
        try:
            data = json.loads(text)
        except json.JSONDecodeError as e:
            raise MetadataError(f"{path}: invalid JSON ({e.msg} at line {e.lineno})") from None
        return cls.from_dict(data, source=str(path), strict=strict)

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
        if self.source:
            data["source"] = self.source
        if self.kernel_depends:
            data["kernel-depends"] = [d.to_dict() for d in self.kernel_depends]
        if self.kernels_minver:
            data["kernels-minver"] = self.kernels_minver
        if self.digest is not None:
            data["digest"] = self.digest.to_dict()
        if self.provenance is not None:
            data["provenance"] = self.provenance.to_dict()
        return data

    @property
    def python_module_name(self) -> str:
        return self.name.replace("-", "_")
