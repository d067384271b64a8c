"""The ``build.toml`` model: parse, validate and describe a kernel project.

Every problem is reported as a :class:`ConfigError` naming the file, the
dotted key and what was expected, so ``kernel-builder check-config`` can print
one clear line per mistake.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Optional

from kernels._data import load_lib_json
from kernels.backends import registry
from kernels.metadata import is_module_name
from packaging.version import InvalidVersion, Version

from .._toml import tomllib
from ..errors import ConfigError

BUILD_TOML = "build.toml"

#: Keys each ``[kernel.<name>]`` may have, besides the shared ones, per backend.
BACKEND_KERNEL_KEYS: dict[str, frozenset[str]] = {
    "cpu": frozenset({"cxx-flags"}),
    "cuda": frozenset({"cuda-capabilities", "cuda-flags", "cuda-minver", "cxx-flags"}),
    "metal": frozenset({"cxx-flags"}),
    "neuron": frozenset({"cxx-flags"}),
    "rocm": frozenset({"rocm-archs", "hip-flags", "cxx-flags"}),
    "xpu": frozenset({"sycl-flags", "cxx-flags"}),
}
SHARED_KERNEL_KEYS = frozenset({"backend", "depends", "src", "include"})
_REPO_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*/[A-Za-z0-9][A-Za-z0-9._-]*$")
_ROCM_ARCH = re.compile(r"^gfx[0-9a-f]{3,4}[a-z0-9:+-]*$")


def buildable_backends() -> tuple[str, ...]:
    """Backends build.toml may list (the registry's ``build-toml`` records)."""
    return registry().build_toml_names()


def known_dependencies() -> dict[str, tuple[str, ...]]:
    """Build dependency name -> backends it is available for."""
    data = load_lib_json("dependencies")
    return {k: tuple(v["backends"]) for k, v in data.items() if not k.startswith("_")}


def supported_cuda_capabilities() -> list[str]:
    """Every capability some supported CUDA toolkit can build for."""
    toolkits = load_lib_json("cuda")["toolkits"]
    caps = {cap for toolkit in toolkits.values() for cap in toolkit["supported"]}
    return sorted(caps, key=_capability_sort_key)


def _capability_sort_key(cap: str) -> tuple[int, int, str]:
    match = re.match(r"^(\d+)\.(\d+)(.*)$", cap)
    if not match:
        return (0, 0, cap)
    return (int(match[1]), int(match[2]), match[3])


@dataclass(frozen=True)
class Hub:
    repo_id: Optional[str] = None
    branch: Optional[str] = None


@dataclass(frozen=True)
class CudaGeneral:
    minver: Optional[Version] = None
    maxver: Optional[Version] = None
    python_depends: tuple[str, ...] = ()


@dataclass(frozen=True)
class General:
    name: str
    backends: tuple[str, ...]
    version: int = 1
    license: str = "Apache-2.0"
    upstream: Optional[str] = None
    python_depends: tuple[str, ...] = ()
    hub: Hub = field(default_factory=Hub)
    cuda: CudaGeneral = field(default_factory=CudaGeneral)
    #: Backend-specific python dependencies (``[general.<backend>] python-depends``).
    backend_python_depends: dict[str, tuple[str, ...]] = field(default_factory=dict)

    @property
    def module_name(self) -> str:
        """The kernel's Python module name (dashes become underscores)."""
        return self.name.replace("-", "_")


@dataclass(frozen=True)
class Torch:
    src: tuple[str, ...] = ()
    pyext: tuple[str, ...] = ("py", "pyi")
    include: tuple[str, ...] = ()
    minver: Optional[Version] = None
    maxver: Optional[Version] = None
    stable_abi: Optional[Version] = None


@dataclass(frozen=True)
class Kernel:
    name: str
    backend: str
    depends: tuple[str, ...]
    src: tuple[str, ...]
    include: tuple[str, ...] = ()
    cxx_flags: tuple[str, ...] = ()
    cuda_capabilities: Optional[tuple[str, ...]] = None
    cuda_flags: tuple[str, ...] = ()
    cuda_minver: Optional[Version] = None
    rocm_archs: tuple[str, ...] = ()
    hip_flags: tuple[str, ...] = ()
    sycl_flags: tuple[str, ...] = ()


@dataclass(frozen=True)
class BuildConfig:
    """A validated ``build.toml`` together with the project directory it lives in."""

    kernel_dir: Path
    general: General
    torch: Optional[Torch]
    kernels: dict[str, Kernel]

    @property
    def is_noarch(self) -> bool:
        """Python-only kernel (no ``[torch]`` section): builds ``torch-<backend>`` variants."""
        return self.torch is None

    def kernels_for(self, backend: str) -> list[Kernel]:
        return [k for k in self.kernels.values() if k.backend == backend]

    @property
    def python_package_dir(self) -> Path:
        return self.kernel_dir / "torch-ext" / self.general.module_name


class _Table:
    """Typed, key-tracking access to one TOML table; unknown keys are errors."""

    def __init__(self, data: Any, key: str, file: str):
        if not isinstance(data, dict):
            raise ConfigError(file, key, f"expected a table, got {_type_name(data)}")
        self.data = data
        self.key = key
        self.file = file
        self.seen: set[str] = set()

    def path(self, key: str) -> str:
        return f"{self.key}.{key}" if self.key else key

    def error(self, key: str, message: str) -> ConfigError:
        return ConfigError(self.file, self.path(key), message)

    def has(self, key: str) -> bool:
        return key in self.data

    def get(self, key: str, expected: str, check: Callable[[Any], bool], required: bool) -> Any:
        self.seen.add(key)
        if key not in self.data:
            if required:
                raise self.error(key, f"missing required key (expected {expected})")
            return None
        value = self.data[key]
        if not check(value):
            raise self.error(key, f"expected {expected}, got {_type_name(value)} {_short(value)}")
        return value

    def string(self, key: str, required: bool = False) -> Optional[str]:
        return self.get(key, "a string", lambda v: isinstance(v, str), required)

    def integer(self, key: str, required: bool = False) -> Optional[int]:
        return self.get(
            key, "an integer", lambda v: isinstance(v, int) and not isinstance(v, bool), required
        )

    def strings(self, key: str, required: bool = False) -> Optional[tuple[str, ...]]:
        value = self.get(
            key,
            "a list of strings",
            lambda v: isinstance(v, list) and all(isinstance(i, str) for i in v),
            required,
        )
        return None if value is None else tuple(value)

    def version(self, key: str) -> Optional[Version]:
        text = self.get(key, 'a version string such as "12.8"', lambda v: isinstance(v, str), False)
        if text is None:
            return None
        try:
            return Version(text)
        except InvalidVersion:
            raise self.error(key, f'expected a version string such as "12.8", got {text!r}') from None

    def table(self, key: str) -> Optional["_Table"]:
        self.seen.add(key)
        if key not in self.data:
            return None
        return _Table(self.data[key], self.path(key), self.file)

    def reject_unknown(self, allowed: Optional[set[str]] = None) -> None:
        allowed = self.seen if allowed is None else allowed
        for key in self.data:
            if key not in allowed:
                expected = ", ".join(sorted(allowed)) or "no keys"
                raise self.error(key, f"unknown key (expected one of: {expected})")


def _type_name(value: Any) -> str:
    return {
        str: "a string",
        int: "an integer",
        float: "a float",
        bool: "a boolean",
        list: "a list",
        dict: "a table",
    }.get(type(value), type(value).__name__)


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


def load_config(kernel_dir: Path | str) -> BuildConfig:
    """Read and validate ``<kernel_dir>/build.toml``."""
    kernel_dir = Path(kernel_dir)
    path = kernel_dir / BUILD_TOML
    file = str(path)
    if not kernel_dir.is_dir():
        raise ConfigError(str(kernel_dir), "", "kernel directory does not exist")
    if not path.is_file():
        raise ConfigError(file, "", "file not found (expected a kernel project with build.toml)")
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as e:
        raise ConfigError(file, "", f"invalid TOML: {e}") from None
    except UnicodeDecodeError:
        raise ConfigError(file, "", "invalid TOML: file is not UTF-8 text") from None
    return parse_config(data, kernel_dir.resolve(), file)


def parse_config(data: dict[str, Any], kernel_dir: Path, file: str = BUILD_TOML) -> BuildConfig:
    root = _Table(data, "", file)
    _reject_old_format(root)
    general_table = root.table("general")
    if general_table is None:
        raise ConfigError(file, "general", "missing required table [general]")
    general = _parse_general(general_table)
    torch_table = root.table("torch")
    torch = _parse_torch(torch_table, kernel_dir) if torch_table is not None else None
    kernels_table = root.table("kernel")
    kernels: dict[str, Kernel] = {}
    if kernels_table is not None:
        for name in kernels_table.data:
            kernel_table = kernels_table.table(name)
            assert kernel_table is not None
            kernels[name] = _parse_kernel(name, kernel_table, general, kernel_dir)
    root.reject_unknown({"general", "torch", "kernel"})
    if torch is None and kernels:
        raise ConfigError(
            file, "torch", "missing [torch] section: kernels with [kernel.*] sections need Torch bindings"
        )
    config = BuildConfig(kernel_dir=kernel_dir, general=general, torch=torch, kernels=kernels)
    _check_python_package(config, file)
    return config


def _reject_old_format(root: _Table) -> None:
    from .formats import CURRENT_FORMAT, old_format_evidence

    found = old_format_evidence(root.data)
    if found is not None:
        raise ConfigError(
            root.file,
            "",
            f"this build.toml uses the older v{found} format (current: v{CURRENT_FORMAT}); "
            "run `kernel-builder update-build` to convert it",
        )
    general = root.data.get("general")
    for key in ("universal", "cuda-minver", "cuda-maxver"):
        if isinstance(general, dict) and key in general:
            raise root.error(
                f"general.{key}",
                "this key belongs to an older build.toml format; run `kernel-builder update-build` to convert it",
            )


def _parse_general(table: _Table) -> General:
    name = table.string("name", required=True)
    assert name is not None
    if not is_module_name(name.replace("-", "_")):
        raise table.error(
            "name",
            f"expected a valid Python module name once '-' become '_', got {name!r}",
        )
    version = table.integer("version")
    if version is not None and version < 0:
        raise table.error("version", f"expected a non-negative integer, got {version}")
    license = table.string("license")
    upstream = table.string("upstream")
    if not table.has("backends"):
        raise table.error(
            "backends",
            "missing required key (expected a list of backends such as [\"cpu\", \"cuda\"]; "
            "for an older build.toml run `kernel-builder update-build`)",
        )
    backends = table.strings("backends", required=True)
    assert backends is not None
    if not backends:
        raise table.error("backends", "expected at least one backend")
    allowed_backends = buildable_backends()
    for backend in backends:
        if backend not in allowed_backends:
            raise table.error(
                "backends",
                f"unknown backend {backend!r} (expected one of: {', '.join(allowed_backends)})",
            )
    if len(set(backends)) != len(backends):
        raise table.error("backends", "backends are listed more than once")

    allowed = load_lib_json("python-depends")
    python_depends = table.strings("python-depends") or ()
    _check_python_depends(table, "python-depends", python_depends, allowed["general"], "")

    hub = Hub()
    hub_table = table.table("hub")
    if hub_table is not None:
        repo_id = hub_table.string("repo-id")
        if repo_id is not None and not _REPO_ID.fullmatch(repo_id):
            raise hub_table.error("repo-id", f"expected a Hub repository id like 'org/name', got {repo_id!r}")
        hub = Hub(repo_id=repo_id, branch=hub_table.string("branch"))
        hub_table.reject_unknown()

    backend_depends: dict[str, tuple[str, ...]] = {}
    cuda = CudaGeneral()
    for backend in ("cuda", "neuron", "xpu"):
        sub = table.table(backend)
        if sub is None:
            continue
        depends = sub.strings("python-depends") or ()
        backend_allowed = allowed["backends"].get(backend, {})
        _check_python_depends(sub, "python-depends", depends, backend_allowed, backend)
        if depends:
            backend_depends[backend] = depends
        if backend == "cuda":
            cuda = CudaGeneral(minver=sub.version("minver"), maxver=sub.version("maxver"), python_depends=depends)
            if cuda.minver and cuda.maxver and cuda.minver > cuda.maxver:
                raise sub.error("minver", f"minver {cuda.minver} is above maxver {cuda.maxver}")
        sub.reject_unknown()
    table.reject_unknown()
    return General(
        name=name,
        backends=backends,
        version=1 if version is None else version,
        license=license or "Apache-2.0",
        upstream=upstream,
        python_depends=python_depends,
        hub=hub,
        cuda=cuda,
        backend_python_depends=backend_depends,
    )


def _check_python_depends(
    table: _Table, key: str, depends: tuple[str, ...], allowed: dict[str, Any], backend: str
) -> None:
    for dep in depends:
        if dep not in allowed:
            scope = f"for backend {backend!r}" if backend else "for all backends"
            names = ", ".join(sorted(allowed)) or "none"
            raise table.error(key, f"Python dependency {dep!r} is not allowed {scope} (allowed: {names})")


def _parse_torch(table: _Table, kernel_dir: Path) -> Torch:
    src = table.strings("src") or ()
    include = table.strings("include") or ()
    pyext = table.strings("pyext")
    for i, path in enumerate(src):
        _check_project_path(table, "src", path, kernel_dir, want_dir=False)
    for path in include:
        _check_project_path(table, "include", path, kernel_dir, want_dir=True)
    torch = Torch(
        src=src,
        pyext=pyext if pyext is not None else ("py", "pyi"),
        include=include,
        minver=table.version("minver"),
        maxver=table.version("maxver"),
        stable_abi=table.version("stable-abi"),
    )
    if torch.minver and torch.maxver and torch.minver > torch.maxver:
        raise table.error("minver", f"minver {torch.minver} is above maxver {torch.maxver}")
    for ext in torch.pyext:
        if not re.fullmatch(r"[A-Za-z0-9]+", ext):
            raise table.error("pyext", f"expected file extensions without a dot such as 'py', got {ext!r}")
    table.reject_unknown()
    return torch


def _parse_kernel(name: str, table: _Table, general: General, kernel_dir: Path) -> Kernel:
    if not re.fullmatch(r"[A-Za-z0-9_-]+", name):
        raise ConfigError(table.file, table.key, "kernel names may only use letters, digits, '_' and '-'")
    backend = table.string("backend", required=True)
    allowed_backends = buildable_backends()
    if backend not in allowed_backends:
        raise table.error("backend", f"unknown backend {backend!r} (expected one of: {', '.join(allowed_backends)})")
    if backend not in general.backends:
        raise table.error(
            "backend", f"backend {backend!r} is not listed in general.backends ({', '.join(general.backends)})"
        )
    allowed_keys = SHARED_KERNEL_KEYS | BACKEND_KERNEL_KEYS[backend]
    for key in table.data:
        if key not in allowed_keys:
            other = [b for b, keys in BACKEND_KERNEL_KEYS.items() if key in keys]
            if other:
                raise table.error(key, f"not valid for backend {backend!r} (only for: {', '.join(other)})")
            raise table.error(key, f"unknown key (expected one of: {', '.join(sorted(allowed_keys))})")

    depends = table.strings("depends", required=True) or ()
    deps = known_dependencies()
    for dep in depends:
        if dep not in deps:
            raise table.error("depends", f"unknown dependency {dep!r} (expected one of: {', '.join(sorted(deps))})")
        if backend not in deps[dep]:
            raise table.error("depends", f"dependency {dep!r} is not available for backend {backend!r}")
    src = table.strings("src", required=True) or ()
    if not src:
        raise table.error("src", "expected at least one source file")
    for path in src:
        _check_project_path(table, "src", path, kernel_dir, want_dir=False)
    include = table.strings("include") or ()
    for path in include:
        _check_project_path(table, "include", path, kernel_dir, want_dir=True)

    capabilities = table.strings("cuda-capabilities")
    if capabilities is not None:
        supported = supported_cuda_capabilities()
        if not capabilities:
            raise table.error("cuda-capabilities", "expected at least one capability (or leave it out)")
        for cap in capabilities:
            if cap not in supported:
                raise table.error(
                    "cuda-capabilities",
                    f"unsupported CUDA capability {cap!r} (expected one of: {', '.join(supported)})",
                )
    rocm_archs = table.strings("rocm-archs") or ()
    for arch in rocm_archs:
        if not _ROCM_ARCH.fullmatch(arch):
            raise table.error("rocm-archs", f"expected ROCm architectures such as 'gfx942', got {arch!r}")
    return Kernel(
        name=name,
        backend=backend,
        depends=depends,
        src=src,
        include=include,
        cxx_flags=table.strings("cxx-flags") or (),
        cuda_capabilities=capabilities,
        cuda_flags=table.strings("cuda-flags") or (),
        cuda_minver=table.version("cuda-minver") if backend == "cuda" else None,
        rocm_archs=rocm_archs,
        hip_flags=table.strings("hip-flags") or (),
        sycl_flags=table.strings("sycl-flags") or (),
    )


def _check_project_path(table: _Table, key: str, rel: str, kernel_dir: Path, want_dir: bool) -> None:
    """Source paths are relative, stay inside the project and exist."""
    what = "directory" if want_dir else "file"
    if not rel:
        raise table.error(key, f"expected a {what} path relative to the kernel directory, got an empty string")
    if os.path.isabs(rel) or rel.startswith("~"):
        raise table.error(key, f"expected a path relative to the kernel directory, got absolute path {rel!r}")
    parts = Path(rel).parts
    if ".." in parts:
        raise table.error(key, f"path {rel!r} leaves the kernel directory (no '..' allowed)")
    full = kernel_dir / rel
    try:
        resolved = full.resolve()
    except (OSError, RuntimeError):
        raise table.error(key, f"path {rel!r} cannot be resolved (symlink loop?)") from None
    root = kernel_dir.resolve()
    if resolved != root and root not in resolved.parents:
        raise table.error(key, f"path {rel!r} resolves outside the kernel directory (symlink to {resolved})")
    if want_dir and not full.is_dir():
        raise table.error(key, f"directory {rel!r} does not exist in the kernel directory")
    if not want_dir and not full.is_file():
        raise table.error(key, f"file {rel!r} does not exist in the kernel directory")


def _check_python_package(config: BuildConfig, file: str) -> None:
    package = config.python_package_dir
    rel = package.relative_to(config.kernel_dir)
    init = package / "__init__.py"
    if not init.is_file():
        raise ConfigError(
            file, "general.name", f"the kernel's Python package must exist: {rel}/__init__.py not found"
        )
    root = config.kernel_dir.resolve()
    if root not in package.resolve().parents:
        raise ConfigError(file, "general.name", f"{rel} resolves outside the kernel directory")
