"""Parse the framework section: ``[torch]``, ``[torch-noarch]`` or ``[tvm-ffi]``."""

from __future__ import annotations

import re
from pathlib import Path

from packaging.version import Version

from .model import DEFAULT_PYEXT, General, Torch, TorchNoarch, TvmFfi
from .paths import check_project_path
from .table import Table


def _pyext(table: Table) -> tuple[str, ...]:
    pyext = table.strings("pyext")
    for ext in pyext or ():
        if not re.fullmatch(r"[A-Za-z0-9]+", ext):
            raise table.error("pyext", f"expected file extensions without a dot such as 'py', got {ext!r}")
    return pyext if pyext is not None else DEFAULT_PYEXT


def _sources(table: Table, kernel_dir: Path, required: bool) -> tuple[tuple[str, ...], tuple[str, ...]]:
    src = table.strings("src", required=required) or ()
    include = table.strings("include") or ()
    for path in src:
        check_project_path(table, "src", path, kernel_dir, want_dir=False)
    for path in include:
        check_project_path(table, "include", path, kernel_dir, want_dir=True)
    return src, include


def parse_torch(table: Table, kernel_dir: Path, general: General) -> Torch:
    src, include = _sources(table, kernel_dir, required=False)
    single, per_backend = _parse_stable_abi(table, general)
    torch = Torch(
        src=src,
        pyext=_pyext(table),
        include=include,
        minver=table.version("minver"),
        maxver=table.version("maxver"),
        stable_abi=single,
        stable_abi_backends=per_backend,
        cxx_flags=table.strings("cxx-flags") or (),
    )
    if torch.minver and torch.maxver and torch.minver > torch.maxver:
        raise table.error("minver", f"minver {torch.minver} is above maxver {torch.maxver}")
    table.reject_unknown()
    return torch


def _parse_stable_abi(table: Table, general: General) -> tuple[Version | None, dict[str, Version]]:
    """``stable-abi = "2.11"`` (every backend) or ``[torch.stable-abi] cuda = "2.11"``.

    Table entries for backends outside general.backends are ignored, so a
    backend can be commented out of the list alone.
    """
    table.seen.add("stable-abi")
    if not table.has("stable-abi"):
        return None, {}
    value = table.data["stable-abi"]
    if isinstance(value, str):
        version = table.parse_version("stable-abi", value)
        return version, {backend: version for backend in general.backends}
    if not isinstance(value, dict):
        raise table.error("stable-abi", 'expected a Torch version such as "2.11" or a table of backend = version')
    from .general import buildable_backends

    known = buildable_backends()
    per_backend: dict[str, Version] = {}
    for backend, text in value.items():
        key = f"stable-abi.{backend}"
        if backend not in known:
            raise table.error(key, f"unknown backend {backend!r} (expected one of: {', '.join(known)})")
        if not isinstance(text, str):
            raise table.error(key, 'expected a Torch version string such as "2.11"')
        version = table.parse_version(key, text)
        if backend in general.backends:
            per_backend[backend] = version
    return None, per_backend


def parse_torch_noarch(table: Table) -> TorchNoarch:
    noarch = TorchNoarch(
        pyext=_pyext(table),
        cuda_capabilities=table.strings("cuda-capabilities"),
        rocm_archs=table.strings("rocm-archs"),
    )
    table.reject_unknown()
    return noarch


def parse_tvm_ffi(table: Table, kernel_dir: Path) -> TvmFfi:
    src, include = _sources(table, kernel_dir, required=True)
    tvm_ffi = TvmFfi(src=src, include=include, pyext=_pyext(table), cxx_flags=table.strings("cxx-flags") or ())
    table.reject_unknown()
    return tvm_ffi
