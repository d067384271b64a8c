"""Parse ``[general]`` (and its per-backend sub-tables) of any edition."""

from __future__ import annotations

import re
from typing import Any

from kernels._data import load_lib_json
from kernels.backends import registry
from kernels.hub import is_valid_repo_id
from kernels.metadata import is_module_name

from .editions import Edition
from .model import CudaGeneral, General, Hub, KernelDependency
from .table import Table, is_integer

#: Edition 4+ kernel names (upstream: ``^[a-z][-a-z0-9]*[a-z0-9]$``; one letter is accepted too).
KERNEL_NAME = re.compile(r"^[a-z](?:[-a-z0-9]*[a-z0-9])?$")


def is_repo_id(text: str) -> bool:
    """Whether ``text`` is a Hub repository id (``owner/name``), by the one pattern in ``kernels.hub``."""
    return is_valid_repo_id(text)


def buildable_backends() -> tuple[str, ...]:
    """Backends build.toml may list (the registry's ``build-toml`` records)."""
    return registry().build_toml_names()


def parse_general(table: Table, edition: Edition) -> General:
    for key in ("edition", *edition.required_general):
        if key in edition.general_keys and not table.has(key):
            raise table.error(key, f"missing required key (required in edition {edition.number})")
    table.seen.add("edition")
    name = _parse_name(table, edition)
    version = table.integer("version")
    if version is not None and version < 0:
        raise table.error("version", f"expected a non-negative integer, got {version}")
    backends = _parse_backends(table)
    allowed = load_lib_json("python-depends")
    python_depends = table.strings("python-depends") or ()
    check_python_depends(table, "python-depends", python_depends, allowed["general"], "")
    backend_python: dict[str, tuple[str, ...]] = {}
    backend_kernels: dict[str, tuple[KernelDependency, ...]] = {}
    cuda = CudaGeneral()
    for backend in ("cuda", "neuron", "tpu", "xpu"):
        if backend not in edition.general_keys:
            continue
        sub = table.table(backend)
        if sub is None:
            continue
        depends = sub.strings("python-depends") or ()
        check_python_depends(sub, "python-depends", depends, allowed["backends"].get(backend, {}), backend)
        if depends:
            backend_python[backend] = depends
        kernel_depends = parse_kernel_depends(sub) if "kernel-depends" in edition.backend_keys(backend) else ()
        if kernel_depends:
            backend_kernels[backend] = kernel_depends
        if backend == "cuda":
            cuda = CudaGeneral(minver=sub.version("minver"), maxver=sub.version("maxver"), python_depends=depends)
            if cuda.minver and cuda.maxver and cuda.minver > cuda.maxver:
                raise sub.error("minver", f"minver {cuda.minver} is above maxver {cuda.maxver}")
        sub.reject_unknown(edition.backend_keys(backend))
    general = General(
        name=name,
        backends=backends,
        version=1 if version is None else version,
        license=table.string("license") or "Apache-2.0",
        upstream=table.string("upstream"),
        source=table.string("source") if "source" in edition.general_keys else None,
        python_depends=python_depends,
        hub=_parse_hub(table),
        cuda=cuda,
        backend_python_depends=backend_python,
        kernel_depends=parse_kernel_depends(table) if "kernel-depends" in edition.general_keys else (),
        backend_kernel_depends=backend_kernels,
    )
    table.reject_unknown(edition.general_keys)
    return general


def _parse_name(table: Table, edition: Edition) -> str:
    name = table.string("name", required=True)
    assert name is not None
    if edition.strict_name:
        if not KERNEL_NAME.fullmatch(name):
            raise table.error(
                "name",
                "expected lowercase letters, digits and '-', starting with a letter and not ending "
                f"with '-', got {name!r}",
            )
    elif not is_module_name(name.replace("-", "_")):
        raise table.error("name", f"expected a valid Python module name once '-' become '_', got {name!r}")
    return name


def _parse_backends(table: Table) -> tuple[str, ...]:
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
    allowed = buildable_backends()
    for backend in backends:
        if backend not in allowed:
            raise table.error("backends", f"unknown backend {backend!r} (expected one of: {', '.join(allowed)})")
    if len(set(backends)) != len(backends):
        raise table.error("backends", "backends are listed more than once")
    return backends


def _parse_hub(table: Table) -> Hub:
    hub_table = table.table("hub")
    if hub_table is None:
        return Hub()
    repo_id = hub_table.string("repo-id")
    if repo_id is not None and not is_repo_id(repo_id):
        raise hub_table.error("repo-id", f"expected a Hub repository id like 'org/name', got {repo_id!r}")
    hub = Hub(repo_id=repo_id, branch=hub_table.string("branch"))
    hub_table.reject_unknown()
    return hub


def parse_kernel_depends(table: Table) -> tuple[KernelDependency, ...]:
    """``kernel-depends = [{repo-id = "org/k", version = 1} | {repo-id, revision}]``."""
    entries = table.get(
        "kernel-depends", "a list of tables", lambda v: isinstance(v, list) and all(isinstance(i, dict) for i in v), False
    )
    depends = []
    for i, entry in enumerate(entries or ()):
        item = Table(entry, table.path(f"kernel-depends[{i}]"), table.file)
        repo_id = item.string("repo-id", required=True)
        assert repo_id is not None
        if not is_repo_id(repo_id):
            raise item.error("repo-id", f"expected a Hub repository id like 'org/name', got {repo_id!r}")
        version = item.get("version", "a non-negative integer", lambda v: is_integer(v) and v >= 0, False)
        revision = item.string("revision")
        if (version is None) == (revision is None):
            raise item.error("version", "expected exactly one of 'version' (an integer) or 'revision' (a git revision)")
        item.reject_unknown()
        depends.append(KernelDependency(repo_id=repo_id, version=version, revision=revision))
    return tuple(depends)


def check_python_depends(table: Table, key: str, depends: tuple[str, ...], allowed: dict[str, Any], backend: str) -> None:
    for dep in depends:
        if dep not in allowed:
            scope = f"for backend {backend!r}" if backend else "for all backends"
            names = ", ".join(sorted(allowed)) or "none"
            raise table.error(key, f"Python dependency {dep!r} is not allowed {scope} (allowed: {names})")
