"""Build variant names: one type that formats and parses every form.

A variant is an :class:`ArchVariant` (compiled code for one framework,
backend, Python ABI and system) or a :class:`NoarchVariant` (Python-only,
``torch-<backend>``/``torch-universal``). Both are frozen, hashable values
whose ``.variant_str`` is the directory name. Names, legacy form first:

- ``torch213-cxx11-cu130-x86_64-linux``, ``torch213-metal-aarch64-darwin`` (tagless)
- ``torch-stable-abi211-cpu-x86_64-linux``, ``tvm-ffi01-cu128-x86_64-linux``
- ``torch-2.13-cxx11-cuda-13.0-cpython-3.9-abi3-x86_64-linux`` (new format),
  ``torch-stable-abi-2.11-...``, ``tvm-ffi-0.1-...``
- ``torch-cpu``, ``torch-npu``, ``torch-universal``, ``mlx-metal``

Backend parts come from the backend registry (:mod:`kernels.backends`). A
variant value is also a ``str`` equal to its name, so code that holds names
(paths, joins, JSON) keeps working with it.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field, fields
from typing import Optional, Union

from packaging.version import Version

from ._data import load_lib_json
from .backends import Backend, backend_value, parse_backend, registry

__all__ = [
    "ArchVariant", "MlxNoarch", "Noarch", "NoarchVariant", "Python", "System", "Torch", "TorchNoarch",
    "TorchStableAbi", "TvmFfi", "UnknownVariant", "Variant", "arch_variant", "noarch_variant",
    "parse_variant", "parse_variant_or_none", "is_valid_variant_name", "abi_tag",
]

_CXX_TAGS = {"cxx11": True, "cxx98": False}
_DOTTED = re.compile(r"(\d+)\.(\d+)")
_PYTHON_MARKER = "cpython"
_PYTHON_ABIS = ("abi3", "abi3t")
_LEGACY_PYTHON = Version("3.9")


def abi_tag(cxx11_abi: Optional[bool]) -> Optional[str]:
    """The C++ ABI tag of a name: ``cxx11``, ``cxx98`` or None (tagless)."""
    if cxx11_abi is None:
        return None
    return next(tag for tag, flag in _CXX_TAGS.items() if flag == cxx11_abi)


def _dotted(version: Version) -> str:
    return f"{version.major}.{version.minor}"


def _joined(version: Version) -> str:
    return f"{version.major}{version.minor}"


class _NamedValue(str):
    """Base of the variant values: a variant *is* its name.

    Each value is a ``str`` holding its ``variant_str``, so it hashes, sorts,
    joins, formats, prints (``repr`` too) and builds paths like the name
    callers held before; the parsed parts are attributes. Subclasses compose the name from their
    fields in ``_compose`` (called with the constructor's arguments).
    """

    __slots__ = ()

    def __new__(cls, *args: object, **kwargs: object) -> "_NamedValue":
        return str.__new__(cls, cls._compose(*args, **kwargs))

    @classmethod
    def _compose(cls, *args: object, **kwargs: object) -> str:
        raise NotImplementedError

    def __getnewargs__(self) -> tuple[object, ...]:  # copy and pickle rebuild from the fields
        return tuple(getattr(self, f.name) for f in fields(self))  # type: ignore[arg-type]

    @property
    def variant_str(self) -> str:
        return str.__str__(self)

    @property
    def name(self) -> str:
        return self.variant_str


# Frameworks -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Torch:
    """Versioned Torch (arch variants); ``cxx11_abi`` None is the tagless form."""

    version: Version
    cxx11_abi: Optional[bool] = None
    legacy: bool = field(default=True, compare=False)

    @property
    def variant_str(self) -> str:
        base = f"torch{_joined(self.version)}" if self.legacy else f"torch-{_dotted(self.version)}"
        tag = abi_tag(self.cxx11_abi)
        return base if tag is None else f"{base}-{tag}"


@dataclass(frozen=True)
class TorchStableAbi:
    """Torch's stable ABI at a version. ``tagged`` is this project's early spelling ``torch211-stable``."""

    version: Version
    legacy: bool = field(default=True, compare=False)
    tagged: bool = field(default=False, compare=False)

    @property
    def variant_str(self) -> str:
        if self.tagged:
            return f"torch{_joined(self.version)}-stable"
        if self.legacy:
            return f"torch-stable-abi{_joined(self.version)}"
        return f"torch-stable-abi-{_dotted(self.version)}"


@dataclass(frozen=True)
class TvmFfi:
    """Versioned tvm-ffi (arch variants)."""

    version: Version
    legacy: bool = field(default=True, compare=False)

    @property
    def variant_str(self) -> str:
        return f"tvm-ffi{_joined(self.version)}" if self.legacy else f"tvm-ffi-{_dotted(self.version)}"


@dataclass(frozen=True)
class TorchNoarch:
    """Version-less Torch (Python-only variants)."""

    @property
    def variant_str(self) -> str:
        return "torch"


@dataclass(frozen=True)
class MlxNoarch:
    """Version-less MLX (Python-only variants)."""

    @property
    def variant_str(self) -> str:
        return "mlx"


# Other parts ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Python:
    """Minimum CPython and its ABI; legacy names imply ``cpython-3.9-abi3`` and do not spell it."""

    version: Version = _LEGACY_PYTHON
    abi: str = "abi3"
    legacy: bool = field(default=True, compare=False)

    def __post_init__(self) -> None:
        if self.abi not in _PYTHON_ABIS:
            raise ValueError(f"Python ABI must be one of {', '.join(_PYTHON_ABIS)}, got {self.abi!r}")
        if self.legacy and (self.abi, self.version) != ("abi3", _LEGACY_PYTHON):
            raise ValueError(f"legacy variant names imply Python {_LEGACY_PYTHON} abi3, not {self.version} {self.abi}")
        if self.abi == "abi3t" and self.version < Version("3.15"):
            raise ValueError(f"abi3t needs Python 3.15 or later, not {self.version}")

    @property
    def variant_str(self) -> str:
        return "" if self.legacy else f"{_PYTHON_MARKER}-{_dotted(self.version)}-{self.abi}"


@dataclass(frozen=True)
class System:
    """CPU architecture and OS of a compiled variant."""

    platform: str
    os: str

    @property
    def variant_str(self) -> str:
        return f"{self.platform}-{self.os}"


@dataclass(frozen=True)
class Noarch:
    """The backend part of a Python-only variant (``cpu``, ``npu``, ``universal``)."""

    backend_name: str

    @property
    def variant_str(self) -> str:
        return self.backend_name


# Variants -------------------------------------------------------------------------------

Framework = Union[Torch, TorchStableAbi, TvmFfi]


@dataclass(frozen=True, eq=False, repr=False)
class ArchVariant(_NamedValue):
    """A compiled build variant."""

    framework: Framework
    backend: Backend
    python: Python
    system: System

    noarch = False

    @classmethod
    def _compose(cls, framework: Framework, backend: Backend, python: Python, system: System) -> str:  # type: ignore[override]
        parts = [framework.variant_str, backend.variant_str, python.variant_str, system.variant_str]
        return "-".join(p for p in parts if p)

    @property
    def backend_name(self) -> str:
        return self.backend.name

    @property
    def compute(self) -> str:
        """The backend part of the name: ``cu130``, ``cpu``."""
        return self.backend.variant_str

    @property
    def arch(self) -> str:
        return self.system.platform

    @property
    def os(self) -> str:
        return self.system.os


@dataclass(frozen=True, eq=False, repr=False)
class NoarchVariant(_NamedValue):
    """A Python-only build variant."""

    framework: Union[TorchNoarch, MlxNoarch]
    backend: Noarch

    noarch = True
    arch = None
    os = None

    @classmethod
    def _compose(cls, framework: Union[TorchNoarch, MlxNoarch], backend: Noarch) -> str:  # type: ignore[override]
        return f"{framework.variant_str}-{backend.variant_str}"

    @property
    def backend_name(self) -> str:
        """The registry backend (``torch-npu`` is cann); ``universal`` or the raw name otherwise."""
        spec = registry().by_noarch(self.backend.backend_name)
        return spec.name if spec is not None else self.backend.backend_name


@dataclass(frozen=True, eq=False, repr=False)
class UnknownVariant(_NamedValue):
    """A directory name that is not a variant; kept so decisions can say why it was rejected."""

    text: str
    noarch = False

    @classmethod
    def _compose(cls, text: str) -> str:  # type: ignore[override]
        return text


Variant = Union[ArchVariant, NoarchVariant]


# Parsing --------------------------------------------------------------------------------


def _framework(parts: list[str], name: str) -> tuple[Optional[Framework], int, bool]:
    """The framework at the start of ``parts``, how many parts it takes and whether the name is legacy."""
    head = parts[0]
    second = parts[1] if len(parts) > 1 else ""
    if name.startswith("torch-stable-abi"):
        if second == "stable" and len(parts) > 3 and parts[2] == "abi" and _DOTTED.fullmatch(parts[3]):
            return TorchStableAbi(Version(parts[3]), legacy=False), 4, False
        match = re.fullmatch(r"abi(\d)(\d+)", parts[2]) if len(parts) > 2 else None
        if match:
            return TorchStableAbi(Version(f"{match[1]}.{match[2]}")), 3, True
        raise ValueError(f"invalid Torch stable ABI version in variant name {name!r}")
    if head == "torch" and _DOTTED.fullmatch(second):
        cxx = _CXX_TAGS.get(parts[2]) if len(parts) > 2 else None
        return Torch(Version(second), cxx, legacy=False), 2 if cxx is None else 3, False
    if head == "tvm" and second == "ffi" and len(parts) > 2 and _DOTTED.fullmatch(parts[2]):
        return TvmFfi(Version(parts[2]), legacy=False), 3, False
    if head == "tvm" and (match := re.fullmatch(r"ffi(\d+?)(\d+)", second)):
        return TvmFfi(Version(f"{match[1]}.{match[2]}")), 2, True
    if match := re.fullmatch(r"torch(\d)(\d+)", head):
        version = Version(f"{match[1]}.{match[2]}")
        if second == "stable":
            return TorchStableAbi(version, tagged=True), 2, True
        cxx = _CXX_TAGS.get(second)
        return Torch(version, cxx), 1 if cxx is None else 2, True
    return None, 0, True


def _python(parts: list[str], legacy: bool, name: str) -> tuple[list[str], Python]:
    """Split the ``cpython-<M.m>-<abi>`` part off the backend parts (implicit in legacy names)."""
    if legacy:
        return parts, Python()
    if _PYTHON_MARKER not in parts:
        raise ValueError(f"variant name {name!r} lacks its cpython-<version>-<abi> part")
    at = parts.index(_PYTHON_MARKER)
    rest = parts[at + 1:]
    if len(rest) != 2 or not _DOTTED.fullmatch(rest[0]):
        raise ValueError(f"variant name {name!r}: expected cpython-<major>.<minor>-<abi>")
    return parts[:at], Python(Version(rest[0]), rest[1], legacy=False)


def parse_variant(name: str) -> Variant:
    """Parse a variant name; raises ValueError for an unknown framework or a malformed name."""
    parts = name.split("-")
    if len(parts) >= 2 and parts[0] in ("torch", "mlx") and not parts[1][:1].isdigit() \
            and not name.startswith("torch-stable-abi") and all(parts[1:]):
        framework = TorchNoarch() if parts[0] == "torch" else MlxNoarch()
        return NoarchVariant(framework, Noarch("-".join(parts[1:])))
    framework, used, legacy = _framework(parts, name)
    if framework is None:
        raise ValueError(f"unknown framework in variant name {name!r}")
    rest = parts[used:]
    if len(rest) < 3 or not all(rest):
        raise ValueError(f"variant name {name!r} needs <backend>-<cpu>-<os> after the framework")
    backend_parts, python = _python(rest[:-2], legacy, name)
    backend = parse_backend(backend_parts, legacy=legacy)
    return ArchVariant(framework, backend, python, System(rest[-2], rest[-1]))


def parse_variant_or_none(name: str) -> Optional[Variant]:
    """The non-raising form for callers that sort directory names into variants and others.

    None when :func:`parse_variant` refuses ``name`` and also for Python-only
    names of no registered backend (``torch-ext`` is a source folder, not a variant).
    """
    try:
        variant = parse_variant(name)
    except ValueError:
        return None
    if isinstance(variant, NoarchVariant) and not _known_noarch(variant.backend.backend_name):
        return None
    return variant


def _known_noarch(backend: str) -> bool:
    return backend == "universal" or registry().by_noarch(backend) is not None


def is_valid_variant_name(name: str) -> bool:
    return parse_variant_or_none(name) is not None


def as_variant(value: Union[str, Variant, UnknownVariant]) -> Union[Variant, UnknownVariant]:
    """``value`` as a variant object: parsed from a name, or an :class:`UnknownVariant`."""
    if not isinstance(value, str):
        return value
    return parse_variant_or_none(value) or UnknownVariant(value)


# Formatting -----------------------------------------------------------------------------


def arch_variant(torch_version: Union[str, Version], backend: str, toolkit: Optional[Union[str, Version]],
                 arch: str, os: str, *, cxx11_abi: Optional[bool] = True, legacy: bool = True,
                 python: Optional[Python] = None) -> ArchVariant:
    """The variant of a Torch build: (torch version, backend, toolkit version, arch, os).

    Legacy names carry a C++ ABI tag on Linux only (``cxx11_abi`` is ignored
    elsewhere); pass ``cxx11_abi=None`` for the tagless Linux form.
    """
    release = Version(str(torch_version)).release
    version = Version(f"{release[0]}.{release[1] if len(release) > 1 else 0}")
    tag = cxx11_abi if os == "linux" else None
    if python is None:
        python = Python() if legacy else Python(legacy=False)
    return ArchVariant(Torch(version, tag, legacy=legacy), backend_value(backend, toolkit, legacy=legacy),
                       python, System(arch, os))


def noarch_variant(backend: str) -> NoarchVariant:
    """``torch-<noarch name>`` of a registry backend; ``universal`` gives ``torch-universal``."""
    name = "universal" if backend == "universal" else registry().get(backend).noarch
    return NoarchVariant(TorchNoarch(), Noarch(name))


# The running environment lives in kernels.environment (which builds on this module); its
# names are also reachable here, where callers have always imported them from.

_FROM_ENVIRONMENT = ("Environment", "current_environment", "current_variant", "machine_arch", "os_name",
                     "system_name", "torch_compute_backend", "variant_candidates", "build_variant_name")


def required_variants() -> dict[str, dict[str, list[str]]]:
    """The build variants a compliant kernel provides, by system and backend."""
    data = load_lib_json("build-variants")
    return {k: v for k, v in data.items() if not k.startswith("_") and k != "noarch"}


def get_variants_local(path: Union[str, "os.PathLike[str]"]) -> list[Variant]:
    """The variants among the directories in ``path`` (names that are not variants are left out)."""
    from pathlib import Path

    try:
        entries = [entry for entry in Path(path).iterdir() if entry.is_dir()]
    except OSError:
        return []
    return sorted(v for v in (parse_variant_or_none(e.name) for e in entries) if v is not None)


def get_variants(api: object, *, repo_id: str, revision: str) -> list[Variant]:
    """The variants among the ``build/`` directories of a kernel repository revision (one request)."""
    from huggingface_hub import RepoFolder

    tree = api.list_repo_tree(repo_id, path_in_repo="build", revision=revision, repo_type="kernel")  # type: ignore[attr-defined]
    names = {item.path.split("/")[-1] for item in tree if isinstance(item, RepoFolder)}
    return sorted(v for v in (parse_variant_or_none(name) for name in names) if v is not None)


# Upstream's names for the selection rules, which live in kernels.selection_rules (built on this module).
_FROM_SELECTION_RULES = {"VariantAccepted": "VariantAccepted", "VariantRejected": "VariantRejected",
                         "Decision": "Decision", "_resolve_variant_for_system": "resolve_for_system"}


def resolve_variants(variants: list[Variant], backend: Optional[str] = None) -> tuple[list[Variant], list[object]]:
    """The variants this environment loads (most preferred first) and one decision per variant."""
    from .selection import system_spec
    from .selection_rules import resolve_for_system
    from .environment import current_environment

    spec = system_spec(current_environment(backend))
    return resolve_for_system(variants, spec.backend, spec.cpu, spec.os, spec.torch_version,  # type: ignore[return-value]
                              spec.torch_cxx11_abi, spec.tvm_ffi_version, spec.macos_version,
                              spec.python_version, spec.free_threaded, spec.has_mlx)


def resolve_variant(variants: list[Variant], backend: Optional[str] = None) -> tuple[Optional[Variant], list[object]]:
    """The most preferred variant this environment loads (None if none) and the decisions."""
    accepted, trace = resolve_variants(variants, backend)
    return (accepted[0] if accepted else None), trace


def __getattr__(attribute: str) -> object:
    if attribute in _FROM_SELECTION_RULES:
        from . import selection_rules

        return getattr(selection_rules, _FROM_SELECTION_RULES[attribute])
    if attribute == "BACKENDS":  # backends a metadata.json may name; follows the active registry
        return registry().metadata_names()
    if attribute in _FROM_ENVIRONMENT:
        from . import environment

        return getattr(environment, attribute)
    raise AttributeError(f"module {__name__!r} has no attribute {attribute!r}")
