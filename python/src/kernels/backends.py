"""The backend registry (``lib/backends.json``) and backend values.

Everything the project knows about a compute backend lives in one record of
``lib/backends.json``; Nix and both Python packages read it. This module
loads it into :class:`BackendSpec` records (a :class:`BackendRegistry`) and
provides the backend *values* that variant names carry: ``CPU()``,
``CUDA(Version("12.8"))`` and so on, each with ``.name`` and ``.variant_str``
(``cu128``), as upstream ``kernels.backends`` has them.

Adding a backend is one data entry. Tests (and the builder) can swap the
registry for one built from other data with :func:`use_registry`.
"""

from __future__ import annotations

import re
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, Callable, ClassVar, Iterator, Mapping, Optional, Union

from packaging.version import Version

from ._data import load_lib_json, on_lib_change

_SPEC_KEYS = {
    "label": "label", "compute-tag": "compute_tag", "toolkit": "toolkit", "cmake": "cmake",
    "abi-policy": "abi_policy", "torch-device": "torch_device", "noarch": "noarch",
    "build-toml": "build_toml", "kernel-sections": "kernel_sections", "archs": "archs",
    "metadata": "metadata", "layer-device": "layer_device", "kernel-keys": "kernel_keys",
    "older-minor-loads": "older_minor_loads",
}
_OPTIONAL_KEYS = {"layer-device", "kernel-keys", "older-minor-loads"}  # default: the name; no keys; false
_TEXT, _FLAG, _OPTIONAL_TEXT = (str,), (bool,), (str, type(None))
_SPEC_TYPES = {key: _FLAG if key in ("build-toml", "kernel-sections", "archs", "metadata", "older-minor-loads")
               else _OPTIONAL_TEXT if key in ("toolkit", "cmake") else _TEXT for key in _SPEC_KEYS}
_SPEC_TYPES["kernel-keys"] = (list,)
_TYPE_WORDS = {_TEXT: "a string", _FLAG: "true or false", _OPTIONAL_TEXT: "a string or null", (list,): "a list"}
_VERSION_FIELD = re.compile(r"\{(major|minor)\}")


class RegistryError(ValueError):
    """The backend registry data is malformed."""


@dataclass(frozen=True)
class BackendSpec:
    """One backend of the registry: how it is named, built and run."""

    name: str
    label: str  # for messages: "CUDA"
    compute_tag: str  # legacy tag template: "cpu", "cu{major}{minor}"
    toolkit: Optional[str]  # lib/<toolkit>.json with its toolkit versions
    cmake: Optional[str]  # CMake language/template name; None: Python-only
    abi_policy: str
    torch_device: str  # torch device type the backend runs on (rocm: "cuda")
    noarch: str  # Python-only variant name is torch-<noarch>
    build_toml: bool  # may appear in build.toml general.backends
    kernel_sections: bool  # takes [kernel.*] sections
    archs: bool  # metadata.json must name the GPU archs of the build
    metadata: bool  # metadata.json (and the loader's backend argument) may name it
    layer_device: str = ""  # the device type kernel mappings use for it (metal: "mps"); "" = its name
    kernel_keys: tuple[str, ...] = ()  # build.toml keys its [kernel.*] sections take besides the shared ones
    older_minor_loads: bool = False  # a build for an older toolkit minor (same major) loads on a newer one

    def __post_init__(self) -> None:
        if not self.layer_device:
            object.__setattr__(self, "layer_device", self.name)
        if not all(isinstance(key, str) for key in self.kernel_keys):
            raise RegistryError(f"backends.{self.name}.kernel-keys must be a list of strings")
        object.__setattr__(self, "kernel_keys", tuple(self.kernel_keys))

    @property
    def versioned(self) -> bool:
        return _VERSION_FIELD.search(self.compute_tag) is not None

    @property
    def noarch_variant(self) -> str:
        return f"torch-{self.noarch}"

    def format_tag(self, version: Optional[Union[str, Version]] = None, *, legacy: bool = True) -> str:
        """The backend's part of a variant name: ``cu128`` (legacy) or ``cuda-12.8``."""
        if not self.versioned:
            return self.compute_tag if legacy else self.name
        if version is None:
            raise ValueError(f"backend {self.name} needs a toolkit version")
        major, minor = _major_minor(version)
        if not legacy:
            return f"{self.name}-{major}.{minor}"
        return self.compute_tag.replace("{major}", str(major)).replace("{minor}", str(minor))

    def parse_tag(self, tag: str) -> Optional[Version]:
        """The toolkit version in a legacy tag (``cu128`` -> 12.8); raises ValueError if ``tag`` is not ours."""
        match = self._tag_pattern().fullmatch(tag)
        if match is None:
            raise ValueError(f"{tag!r} is not a {self.label} compute tag")
        if not self.versioned:
            return None
        return Version(f"{int(match['major'])}.{int(match['minor'])}")

    def describe(self, version: Optional[Version] = None) -> str:
        """``CUDA 12.6``, ``CPU``."""
        return self.label if version is None else f"{self.label} {version}"

    def _tag_pattern(self) -> "re.Pattern[str]":
        # The minor version is the last digit of a legacy tag (cu128 is 12.8).
        pieces = _VERSION_FIELD.split(self.compute_tag)
        regex = "".join(
            {"major": r"(?P<major>\d+)", "minor": r"(?P<minor>\d)"}[p] if i % 2 else re.escape(p)
            for i, p in enumerate(pieces)
        )
        return re.compile(regex)


def _major_minor(version: Union[str, Version]) -> tuple[int, int]:
    release = Version(str(version)).release
    return release[0], release[1] if len(release) > 1 else 0


@dataclass(frozen=True)
class BackendRegistry:
    """Every known backend, by name (sorted)."""

    specs: tuple[BackendSpec, ...]

    def __iter__(self) -> Iterator[BackendSpec]:
        return iter(self.specs)

    def __contains__(self, name: object) -> bool:
        return any(s.name == name for s in self.specs)

    def names(self) -> tuple[str, ...]:
        return tuple(s.name for s in self.specs)

    def get(self, name: str) -> BackendSpec:
        for spec in self.specs:
            if spec.name == name:
                return spec
        raise ValueError(f"unknown backend {name!r} (known: {', '.join(self.names())})")

    def build_toml_names(self) -> tuple[str, ...]:
        """Backends that build.toml may list."""
        return tuple(s.name for s in self.specs if s.build_toml)

    def metadata_names(self) -> tuple[str, ...]:
        """Backends a metadata.json may name."""
        return tuple(s.name for s in self.specs if s.metadata)

    def layer_device_types(self) -> tuple[str, ...]:
        """The device types kernel mappings and ``kernelize`` understand, sorted."""
        return tuple(sorted({spec.layer_device for spec in self}))

    def kernel_section_names(self) -> tuple[str, ...]:
        """Backends that take ``[kernel.*]`` sections (compiled code)."""
        return tuple(s.name for s in self.specs if s.kernel_sections)

    def by_noarch(self, noarch: str) -> Optional[BackendSpec]:
        """The backend whose Python-only variant is ``torch-<noarch>``."""
        return next((s for s in self.specs if s.noarch == noarch), None)

    def parse_tag(self, tag: str) -> tuple[BackendSpec, Optional[Version]]:
        """The backend and toolkit version of a legacy compute tag (``rocm71``)."""
        for spec in self.specs:
            try:
                return spec, spec.parse_tag(tag)
            except ValueError:
                continue
        raise ValueError(f"unknown backend compute tag {tag!r}")


def registry_from_data(data: Mapping[str, Any], source: str = "backends.json") -> BackendRegistry:
    """Build a registry from the parsed JSON of ``lib/backends.json``."""
    records = data.get("backends") if isinstance(data, Mapping) else None
    if not isinstance(records, Mapping) or not records:
        raise RegistryError(f"{source}: 'backends' must be a non-empty object")
    specs = []
    for name, record in sorted(records.items()):
        if not isinstance(record, Mapping):
            raise RegistryError(f"{source}: backends.{name} must be an object")
        missing = sorted(set(_SPEC_KEYS) - _OPTIONAL_KEYS - set(record))
        unknown = sorted(set(record) - set(_SPEC_KEYS))
        if missing or unknown:
            what = f"missing key {missing[0]!r}" if missing else f"unknown key {unknown[0]!r}"
            raise RegistryError(f"{source}: backends.{name}: {what}")
        for key, value in record.items():
            if not isinstance(value, _SPEC_TYPES[key]):
                raise RegistryError(f"{source}: backends.{name}.{key} must be {_TYPE_WORDS[_SPEC_TYPES[key]]}")
        specs.append(BackendSpec(name=name, **{_SPEC_KEYS[k]: v for k, v in record.items()}))
    return BackendRegistry(tuple(specs))


_override: list[BackendRegistry] = []
_listeners: list[Callable[[], None]] = []


def registry() -> BackendRegistry:
    """The active registry: ``lib/backends.json``, unless :func:`use_registry` replaced it."""
    if _override:
        return _override[-1]
    return _default_registry()


_default_cache: list[BackendRegistry] = []


def _default_registry() -> BackendRegistry:
    if not _default_cache:
        _default_cache.append(registry_from_data(load_lib_json("backends")))
    return _default_cache[0]


def on_registry_change(callback: Callable[[], None]) -> None:
    """Call ``callback`` whenever the active registry changes (to clear caches derived from it)."""
    _listeners.append(callback)


def _lib_changed() -> None:
    _default_cache.clear()
    _notify()


on_lib_change(_lib_changed)


@contextmanager
def use_registry(replacement: BackendRegistry) -> Iterator[BackendRegistry]:
    """Make ``replacement`` the active registry inside the ``with`` block (tests, tools)."""
    _override.append(replacement)
    _notify()
    try:
        yield replacement
    finally:
        _override.pop()
        _notify()


def _notify() -> None:
    for callback in _listeners:
        callback()


def backend_names() -> tuple[str, ...]:
    """Names of every registered backend, sorted."""
    return registry().names()


# Upstream-style backend values ---------------------------------------------------------


class _BackendBase:
    """What every backend value offers: ``.name``, ``.spec`` and ``.variant_str``."""

    version: Optional[Version]
    legacy: bool

    @property
    def name(self) -> str:
        raise NotImplementedError

    @property
    def spec(self) -> BackendSpec:
        return registry().get(self.name)

    @property
    def variant_str(self) -> str:
        return self.spec.format_tag(self.version, legacy=self.legacy)


@dataclass(frozen=True)
class _Unversioned(_BackendBase):
    BACKEND: ClassVar[str] = ""
    version: ClassVar[None] = None
    legacy: ClassVar[bool] = True

    @property
    def name(self) -> str:
        return self.BACKEND


@dataclass(frozen=True)
class _Versioned(_BackendBase):
    BACKEND: ClassVar[str] = ""
    version: Version
    legacy: bool = field(default=True, compare=False)

    def __post_init__(self) -> None:
        if not isinstance(self.version, Version):
            object.__setattr__(self, "version", Version(str(self.version)))

    @property
    def name(self) -> str:
        return self.BACKEND


@dataclass(frozen=True)
class CPU(_Unversioned):
    BACKEND: ClassVar[str] = "cpu"


@dataclass(frozen=True)
class Metal(_Unversioned):
    BACKEND: ClassVar[str] = "metal"


@dataclass(frozen=True)
class Neuron(_Unversioned):
    BACKEND: ClassVar[str] = "neuron"


@dataclass(frozen=True)
class TPU(_Unversioned):
    BACKEND: ClassVar[str] = "tpu"


@dataclass(frozen=True)
class CUDA(_Versioned):
    BACKEND: ClassVar[str] = "cuda"


@dataclass(frozen=True)
class ROCm(_Versioned):
    BACKEND: ClassVar[str] = "rocm"


@dataclass(frozen=True)
class XPU(_Versioned):
    BACKEND: ClassVar[str] = "xpu"


@dataclass(frozen=True)
class CANN(_Versioned):
    BACKEND: ClassVar[str] = "cann"


@dataclass(frozen=True)
class OtherBackend(_BackendBase):
    """A backend known only from registry data (no class of its own)."""

    backend_name: str
    version: Optional[Version] = None
    legacy: bool = field(default=True, compare=False)

    @property
    def name(self) -> str:
        return self.backend_name


Backend = Union[CPU, Metal, Neuron, TPU, CUDA, ROCm, XPU, CANN, OtherBackend]
_BUILTIN: dict[str, type] = {c.BACKEND: c for c in (CPU, Metal, Neuron, TPU, CUDA, ROCm, XPU, CANN)}


def backend_value(name: str, version: Optional[Union[str, Version]] = None, *, legacy: bool = True) -> Backend:
    """The value of backend ``name`` (its own class where there is one); versioned backends need ``version``."""
    spec = registry().get(name)
    if spec.versioned and version is None:
        raise ValueError(f"backend {name} needs a toolkit version")
    parsed = Version(str(version)) if spec.versioned and version is not None else None
    cls = _BUILTIN.get(name)
    if cls is None:
        return OtherBackend(name, parsed, legacy)
    if spec.versioned:
        return cls(parsed, legacy)
    return cls()


def parse_backend(parts: list[str], *, legacy: bool = True) -> Backend:
    """The backend of a variant name's parts: ``["cu128"]`` (legacy) or ``["cuda", "12.8"]``."""
    reg = registry()
    if legacy:
        if len(parts) != 1:
            raise ValueError(f"expected one backend part, got {parts!r}")
        spec, version = reg.parse_tag(parts[0])
        return backend_value(spec.name, version)
    if not parts or parts[0] not in reg:
        raise ValueError(f"unknown backend in {parts!r}")
    spec = reg.get(parts[0])
    if spec.versioned:
        match = re.fullmatch(r"(\d+)\.(\d+)", parts[1]) if len(parts) == 2 else None
        if match is None:
            raise ValueError(f"backend {spec.name} needs a <major>.<minor> version, got {parts!r}")
        return backend_value(spec.name, f"{match[1]}.{match[2]}", legacy=False)
    if len(parts) != 1:
        raise ValueError(f"backend {spec.name} takes no version, got {parts!r}")
    return backend_value(spec.name, legacy=False)


def _get_torch_privateuse_backend_name() -> Optional[str]:
    """The name Torch gives its ``privateuse1`` device (``npu`` with torch_npu), or None.

    Upstream's module has this helper and code (its test suite's conftest among
    them) imports it from here to detect out-of-tree devices such as Ascend NPUs.
    """
    import torch

    getter = getattr(torch._C, "_get_privateuse1_backend_name", None)
    return getter() if getter is not None else None
