"""Parse ``[kernel.<name>]`` sections."""

from __future__ import annotations

import re
from pathlib import Path

from kernels._data import load_lib_json
from kernels.backends import registry

from ..errors import ConfigError
from .capabilities import (
    capability_sort_key,
    cuda_toolkit_targets,
    effective_cuda_capabilities,
    effective_rocm_archs,
    rocm_targets,
)
from .general import buildable_backends
from .model import General, Kernel
from .paths import check_project_path
from .table import Table

def backend_kernel_keys() -> dict[str, frozenset[str]]:
    """Keys each ``[kernel.<name>]`` may have besides the shared ones, per backend (the registry's
    ``kernel-keys``)."""
    return {spec.name: frozenset(spec.kernel_keys) for spec in registry() if spec.kernel_sections}


SHARED_KERNEL_KEYS = frozenset({"backend", "depends", "src", "include"})


def known_dependencies() -> dict[str, tuple[str, ...]]:
    """Build dependency name -> backends it is available for."""
    data = load_lib_json("dependencies")
    return {k: tuple(v["backends"]) for k, v in data.items() if not k.startswith("_")}


def parse_kernel(name: str, table: Table, general: General, kernel_dir: Path) -> Kernel:
    if not re.fullmatch(r"[A-Za-z0-9_-]+", name):
        raise ConfigError(table.file, table.key, "kernel names may only use letters, digits, '_' and '-'")
    backend = _parse_backend(table, general)
    per_backend = backend_kernel_keys()
    allowed_keys = SHARED_KERNEL_KEYS | per_backend.get(backend, frozenset())
    for key in table.data:
        if key not in allowed_keys:
            other = [b for b, keys in per_backend.items() if key in keys]
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
        check_project_path(table, "src", path, kernel_dir, want_dir=False)
    include = table.strings("include") or ()
    for path in include:
        check_project_path(table, "include", path, kernel_dir, want_dir=True)
    capabilities = table.strings("cuda-capabilities")
    if capabilities is not None:
        check_cuda_capabilities(table, "cuda-capabilities", capabilities)
    rocm_archs = table.strings("rocm-archs") or ()
    if rocm_archs:
        check_rocm_archs(table, "rocm-archs", rocm_archs)
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


def _parse_backend(table: Table, general: General) -> str:
    backend = table.string("backend", required=True)
    allowed = buildable_backends()
    if backend not in allowed:
        raise table.error("backend", f"unknown backend {backend!r} (expected one of: {', '.join(allowed)})")
    compiled = registry().kernel_section_names()
    if backend not in compiled:
        raise table.error(
            "backend",
            f"backend {backend!r} is Python-only and takes no [kernel.*] sections "
            f"(compiled backends: {', '.join(compiled)})",
        )
    if backend not in general.backends:
        raise table.error(
            "backend", f"backend {backend!r} is not listed in general.backends ({', '.join(general.backends)})"
        )
    return backend


def check_cuda_capabilities(table: Table, key: str, capabilities: tuple[str, ...]) -> None:
    """Any capability is accepted; refused only when no CUDA toolkit builds any of them."""
    if not capabilities:
        raise table.error(key, "expected at least one capability (or leave it out)")
    if any(effective_cuda_capabilities(capabilities, toolkit) for toolkit in cuda_toolkit_targets()):
        return
    supported = sorted({c for caps in cuda_toolkit_targets().values() for c in caps}, key=capability_sort_key)
    raise table.error(
        key,
        f"kernel {_kernel_name(table)!r}: empty set of capabilities after intersection with every CUDA "
        f"toolkit: {_unsupported('CUDA capability', 'CUDA capabilities', capabilities)} "
        f"(supported: {', '.join(supported)})",
    )


def _unsupported(one: str, many: str, values: tuple[str, ...]) -> str:
    listed = ", ".join(repr(v) for v in values)
    return f"unsupported {one} {listed}" if len(values) == 1 else f"unsupported {many} {listed}"


def check_rocm_archs(table: Table, key: str, archs: tuple[str, ...]) -> None:
    if effective_rocm_archs(archs):
        return
    raise table.error(
        key,
        f"kernel {_kernel_name(table)!r}: empty set of architectures after intersection: "
        f"{_unsupported('ROCm architecture', 'ROCm architectures', archs)} (supported: {', '.join(rocm_targets())})",
    )


def _kernel_name(table: Table) -> str:
    return table.key.split(".", 1)[-1]
