"""The ``build.toml`` model: parse, validate and describe a kernel project.

Every edition (5, and the legacy 4 and 3) parses into the same frozen
values (:mod:`.model`). Every problem is reported as a :class:`ConfigError`
naming the file, the dotted key and what was expected, so
``kernel-builder check-config`` can print one clear line per mistake.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from .._toml import load_toml
from ..errors import ConfigError
from .capabilities import capability_sort_key
from .capabilities import effective_cuda_capabilities, effective_rocm_archs
from .editions import CURRENT_EDITION, Edition, detect_edition
from .frameworks import parse_torch, parse_torch_noarch, parse_tvm_ffi
from .general import buildable_backends, is_repo_id, parse_general
from .kernels import SHARED_KERNEL_KEYS, backend_kernel_keys, known_dependencies, parse_kernel
from .model import (
    FRAMEWORKS,
    BuildConfig,
    CudaGeneral,
    General,
    Hub,
    Kernel,
    KernelDependency,
    Torch,
    TorchNoarch,
    TvmFfi,
)
from .table import Table

BUILD_TOML = "build.toml"

__all__ = [
    "BUILD_TOML", "CURRENT_EDITION", "FRAMEWORKS", "SHARED_KERNEL_KEYS",
    "BuildConfig", "ConfigError", "CudaGeneral", "General", "Hub", "Kernel", "KernelDependency",
    "Torch", "TorchNoarch", "TvmFfi", "backend_kernel_keys", "buildable_backends", "effective_cuda_capabilities",
    "effective_rocm_archs", "is_repo_id", "known_dependencies", "load_config", "parse_config", "supported_cuda_capabilities",
]


def supported_cuda_capabilities() -> list[str]:
    """Every capability some supported CUDA toolkit can build for."""
    from kernels._data import load_lib_json

    toolkits = load_lib_json("cuda")["toolkits"]
    caps = {cap for toolkit in toolkits.values() for cap in toolkit["supported"]}
    return sorted(caps, key=capability_sort_key)


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
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        raise ConfigError(file, "", "invalid TOML: file is not UTF-8 text") from None
    except OSError as e:
        raise ConfigError(file, "", f"cannot read ({e.strerror or e})") from None
    data = load_toml(text, file)
    return parse_config(data, kernel_dir.resolve(), file)


def parse_config(data: dict[str, Any], kernel_dir: Path, file: str = BUILD_TOML) -> BuildConfig:
    root = Table(data, "", file)
    edition = detect_edition(root)
    general_table = root.table("general")
    assert general_table is not None  # detect_edition checked it
    general = parse_general(general_table, edition)
    sections = _framework_sections(root, edition)
    torch = noarch = tvm_ffi = None
    if "torch" in sections:
        torch = parse_torch(sections["torch"], kernel_dir, general)
    elif "torch-noarch" in sections:
        noarch = parse_torch_noarch(sections["torch-noarch"])
    elif "tvm-ffi" in sections:
        tvm_ffi = parse_tvm_ffi(sections["tvm-ffi"], kernel_dir)
    kernels = _parse_kernels(root, general, kernel_dir)
    root.reject_unknown({"general", "kernel", *edition.frameworks})
    if kernels and torch is None and tvm_ffi is None:
        if edition.number == 3:
            raise ConfigError(
                file, "torch", "missing [torch] section: kernels with [kernel.*] sections need Torch bindings"
            )
        raise ConfigError(
            file, "torch-noarch", "a Python-only kernel takes no [kernel.*] sections (use [torch] or [tvm-ffi])"
        )
    warning = edition.warning
    config = BuildConfig(
        kernel_dir=kernel_dir,
        general=general,
        torch=torch,
        kernels=kernels,
        noarch=noarch if noarch is not None or torch or tvm_ffi else TorchNoarch(),
        tvm_ffi=tvm_ffi,
        edition=edition.number,
        warnings=(f"{file}: {warning}",) if warning else (),
    )
    _check_python_package(config, file)
    return config


def _framework_sections(root: Table, edition: Edition) -> dict[str, Table]:
    sections = {}
    for name in edition.frameworks:
        table = root.table(name)
        if table is not None:
            sections[name] = table
    if len(sections) > 1:
        names = " and ".join(f"[{n}]" for n in sections)
        raise ConfigError(root.file, list(sections)[1], f"{names} both present: expected exactly one framework section")
    if not sections and edition.number >= 4:
        raise ConfigError(
            root.file, "", "missing framework section: expected exactly one of [torch], [torch-noarch], [tvm-ffi]"
        )
    return sections


def _parse_kernels(root: Table, general: General, kernel_dir: Path) -> dict[str, Kernel]:
    kernels_table = root.table("kernel")
    kernels: dict[str, Kernel] = {}
    if kernels_table is not None:
        for name in kernels_table.data:
            kernel_table = kernels_table.table(name)
            assert kernel_table is not None
            kernels[name] = parse_kernel(name, kernel_table, general, kernel_dir)
    return kernels


def _check_python_package(config: BuildConfig, file: str) -> None:
    package = config.python_package_dir
    rel = package.relative_to(config.kernel_dir)
    init = package / "__init__.py"
    try:
        found = init.is_file()
    except (OSError, ValueError) as e:  # a name too long for the file system, for one
        reason = getattr(e, "strerror", None) or str(e)
        raise ConfigError(file, "general.name", f"cannot be used as the package directory name ({reason})") from None
    if not found:
        raise ConfigError(
            file, "general.name", f"the kernel's Python package must exist: {rel}/__init__.py not found"
        )
    root = config.kernel_dir.resolve()
    if root not in package.resolve().parents:
        raise ConfigError(file, "general.name", f"{rel} resolves outside the kernel directory")
