"""``kernel-builder init``: scaffold a kernel project that builds as is.

The scaffold has the layout of the reference documentation: ``build.toml``,
``CARD.md``, ``example.py``, ``flake.nix``, one source directory per backend,
``torch-ext/`` (Torch bindings and the Python package), ``tests/`` (marked
``kernels_ci``) and ``benchmarks/``. Its example op squares a tensor
elementwise, so every file is small and the build can be checked end to end.

Templates live in ``templates/init/`` (``*.in`` files) and use ``@@KEY@@``
placeholders, which cannot clash with the ``{{key}}`` placeholders of
``CARD.md`` that the builder fills in at build time.
"""

from __future__ import annotations

import json
import keyword
import os
import re
import sys
import tempfile
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Iterable, Optional

from kernels.backends import registry

from ..config.general import KERNEL_NAME as EDITION5_NAME
from ..errors import KernelBuilderError

DEFAULT_BACKENDS = ("cuda",)
DEFAULT_LICENSE = "Apache-2.0"
#: The flake that provides ``lib.genKernelFlakeOutputs``; override with $KERNEL_BUILDER_FLAKE.
DEFAULT_FLAKE_URL = "github:huggingface/kernels"
FLAKE_URL_ENV = "KERNEL_BUILDER_FLAKE"

#: Backends whose Torch device the scaffold's tests and card prefer, in order; the
#: registry's other backends follow, and cpu comes last.
_DEVICE_PREFERENCE = ("cuda", "rocm", "xpu", "metal", "neuron")
#: The C++ scaffold a backend without sources of its own starts from.
_GENERIC_TEMPLATE = "cpu/kernel_cpu.cpp.in"


def backend_devices() -> dict[str, str]:
    """Backend -> Torch device type (the registry's ``torch-device``), in preference order."""
    specs = {spec.name: spec for spec in registry()}
    order = [b for b in _DEVICE_PREFERENCE if b in specs]
    order += [b for b in sorted(specs) if b not in order and b != "cpu"] + ["cpu"]
    return {b: specs[b].torch_device for b in order if b in specs}

#: Module names a kernel cannot take: its tests put the build variant on
#: ``sys.path`` and import the kernel by name, which would shadow these.
_RESERVED_MODULES = frozenset(
    {"torch", "kernels", "kernel_builder", "triton", "numpy", "pytest", "tests", "example", "setuptools"}
)
_KERNEL_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9_-]*$")
_OWNER = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*$")
_PLACEHOLDER = re.compile(r"@@([A-Z_]+)@@")
_MAX_NAME = 96


def _stdlib_modules() -> frozenset[str]:
    names = getattr(sys, "stdlib_module_names", None)
    if names is not None:
        return frozenset(names)
    # Python 3.9 has no list; keep the names a kernel is most likely to take.
    return frozenset(sys.builtin_module_names) | frozenset(
        {"abc", "array", "ast", "bisect", "code", "copy", "csv", "enum", "functools", "heapq", "inspect", "io",
         "json", "logging", "math", "operator", "os", "platform", "queue", "random", "re", "select", "signal",
         "socket", "statistics", "string", "struct", "test", "threading", "time", "token", "types", "typing",
         "unittest", "uuid", "warnings", "weakref"}
    )


# --------------------------------------------------------------------------
# Names.


@dataclass(frozen=True)
class KernelName:
    """The kernel's name (as in ``build.toml``) and its Hub owner, if known."""

    name: str
    owner: Optional[str] = None

    @property
    def module(self) -> str:
        """Python module and Torch op name (``-`` becomes ``_``)."""
        return self.name.replace("-", "_")

    @property
    def class_name(self) -> str:
        """CamelCase name for the layer class (``my_kernel`` -> ``MyKernel``)."""
        return "".join(part[:1].upper() + part[1:] for part in re.split(r"[-_]+", self.name) if part)

    @property
    def repo_id(self) -> Optional[str]:
        return f"{self.owner}/{self.name}" if self.owner else None


def check_kernel_name(name: str, what: str) -> None:
    """Raise if ``name`` cannot name a kernel (Hub repository and Python module)."""
    def fail(reason: str) -> KernelBuilderError:
        return KernelBuilderError(f"{what}: {name!r} cannot be a kernel name: {reason}")

    if not _KERNEL_NAME.fullmatch(name):
        raise fail("it must start with a letter and contain only letters, digits, '-' and '_'")
    if len(name) > _MAX_NAME:
        raise fail(f"it is longer than {_MAX_NAME} characters")
    if name.endswith("-") or "--" in name:
        raise fail("Hub repository names cannot end with '-' or contain '--'")
    if not EDITION5_NAME.fullmatch(name):
        raise fail("build.toml (edition 5) names use lowercase letters, digits and '-' only")
    module = name.replace("-", "_")
    if keyword.iskeyword(module):
        raise fail(f"{module!r} is a Python keyword")
    if module in _RESERVED_MODULES or module in _stdlib_modules():
        raise fail(
            f"the kernel is imported as the Python module {module!r}, which would shadow the module of "
            "that name (the standard library, torch, or the kernel's own tests and example)"
        )


def _check_owner(owner: str, value: str) -> None:
    if (not _OWNER.fullmatch(owner) or len(owner) > _MAX_NAME or owner[-1] in "-."
            or "--" in owner or ".." in owner):
        raise KernelBuilderError(
            f"--name: {value!r}: the owner {owner!r} is not a valid Hub user or organization name "
            "(letters, digits, '-', '_' and '.'; no leading or trailing '-' or '.')"
        )


def parse_repo_name(value: str) -> KernelName:
    """Parse ``--name OWNER/REPO``."""
    parts = value.split("/")
    if len(parts) != 2 or not parts[0] or not parts[1]:
        raise KernelBuilderError(f"--name: expected OWNER/REPO (e.g. myorg/mykernel), got {value!r}")
    owner, name = parts
    _check_owner(owner, value)
    check_kernel_name(name, "--name")
    return KernelName(name=name, owner=owner)


def name_from_directory(directory: Path) -> KernelName:
    """The kernel name a directory implies (no owner: that needs ``--name``).

    ``my_Kernel/`` implies ``my-kernel``: edition 5 names are lowercase with '-'.
    """
    name = directory.name.lower().replace("_", "-")
    if not name:
        raise KernelBuilderError(f"cannot take a kernel name from {str(directory)!r}; pass --name OWNER/REPO")
    try:
        check_kernel_name(name, "directory name")
    except KernelBuilderError as e:
        raise KernelBuilderError(f"{e}; pass --name OWNER/REPO to choose another name") from None
    return KernelName(name=name)


def init_backends() -> tuple[str, ...]:
    """Backends ``init`` scaffolds a compiled kernel for (those that take ``[kernel.*]`` sections)."""
    return registry().kernel_section_names()


def resolve_backends(values: Iterable[str]) -> tuple[str, ...]:
    """``--backends`` values (``all``, names, comma-separated lists) -> backends in canonical order."""
    known = init_backends()
    values = list(values)
    wanted: set[str] = set()
    seen_any = False
    for value in values:
        for item in value.split(","):
            item = item.strip().lower()
            if not item:
                continue
            seen_any = True
            if item == "all":
                wanted.update(known)
            elif item in known:
                wanted.add(item)
            else:
                raise KernelBuilderError(
                    f"--backends: unknown backend {item!r} (expected 'all' or some of: {', '.join(known)}; "
                    "give PATH before --backends)"
                )
    if not seen_any:
        if values:
            raise KernelBuilderError("--backends: expected at least one backend")
        wanted.update(DEFAULT_BACKENDS)
    return tuple(b for b in known if b in wanted)


def check_license(license: str) -> None:
    if not license.strip() or not license.isprintable():
        raise KernelBuilderError(f"--license: expected a license identifier such as 'Apache-2.0', got {license!r}")


# --------------------------------------------------------------------------
# Rendering.


def _template(rel: str) -> str:
    return resources.files("kernel_builder").joinpath("templates", "init", rel).read_text(encoding="utf-8")


def _render(rel: str, values: dict[str, str]) -> str:
    text = _template(rel)

    def replace(match: re.Match[str]) -> str:
        key = match.group(1)
        if key not in values:
            raise KeyError(f"template {rel}: no value for @@{key}@@")
        return values[key]

    return _PLACEHOLDER.sub(replace, text)


def _toml_string(text: str) -> str:
    return json.dumps(text)  # JSON strings are valid TOML basic strings


def _toml_list(items: Iterable[str]) -> str:
    return "[\n" + "".join(f"  {_toml_string(i)},\n" for i in items) + "]"


def gpu_source(kname: KernelName, backends: tuple[str, ...]) -> str:
    """The CUDA source, shared by the cuda and rocm kernels."""
    directory = f"{kname.module}_cuda" if "cuda" in backends else f"{kname.module}_rocm"
    return f"{directory}/{kname.module}.cu"


def kernel_sources(kname: KernelName, backends: tuple[str, ...]) -> dict[str, list[str]]:
    """Backend -> source files (relative paths) of its ``[kernel.*]`` section."""
    m = kname.module
    sources = {
        "cpu": [f"{m}_cpu/{m}_cpu.cpp"],
        "cuda": [gpu_source(kname, backends)],
        "rocm": [gpu_source(kname, backends)],
        "metal": [f"{m}_metal/{m}.mm", f"{m}_metal/{m}.metal"],
        "xpu": [f"{m}_xpu/{m}.cpp"],
    }
    # A registry backend without a scaffold of its own starts from a plain C++ source.
    return {b: sources.get(b, [f"{m}_{b}/{m}.cpp"]) for b in backends}


_KERNEL_NOTES = {
    "cuda": (
        "# Without cuda-capabilities the kernel is built for the default capabilities\n"
        "# of each CUDA toolkit. Set it only when the kernel needs specific hardware:\n"
        '# cuda-capabilities = ["9.0"]\n'
    ),
    "rocm": (
        "# The CUDA source is compiled as HIP. Without rocm-archs the kernel is built\n"
        "# for the default ROCm architectures; to choose them:\n"
        '# rocm-archs = ["gfx942"]\n'
    ),
    "metal": "# The .metal shaders are compiled and embedded in the extension.\n",
}


def render_build_toml(kname: KernelName, backends: tuple[str, ...], license: str) -> str:
    lines = [
        "[general]",
        f"name = {_toml_string(kname.name)}",
        "version = 1",
        "edition = 5",
        f"license = {_toml_string(license)}",
        f"backends = {_toml_list(backends)}",
        "",
    ]
    if kname.repo_id:
        lines += ["[general.hub]", f"repo-id = {_toml_string(kname.repo_id)}", ""]
    else:
        lines += [
            "# The Hub repository that `kernel-builder upload` publishes to:",
            "# [general.hub]",
            f'# repo-id = "<owner>/{kname.name}"',
            "",
        ]
    lines += [
        "[torch]",
        "src = " + _toml_list(["torch-ext/torch_binding.cpp", "torch-ext/torch_binding.h"]),
        "",
    ]
    for backend, sources in kernel_sources(kname, backends).items():
        lines += [
            f"[kernel.{kname.module}_{backend}]",
            f"backend = {_toml_string(backend)}",
            'depends = ["torch"]',
            "src = " + (_toml_string(sources[0]).join("[]") if len(sources) == 1 else _toml_list(sources)),
        ]
        note = _KERNEL_NOTES.get(backend)
        if note:
            lines.append(note.rstrip("\n"))
        lines.append("")
    return "\n".join(lines)


def _binding_impls(kname: KernelName, backends: tuple[str, ...]) -> str:
    """The ``#if defined(<BACKEND>_KERNEL)`` chain of torch_binding.cpp."""
    op, fn = kname.module, f"&{kname.module}_out"
    branches: list[tuple[str, list[str]]] = []
    if "cpu" in backends:
        branches.append(("defined(CPU_KERNEL)", [f'ops.impl("{op}", c10::kCPU, {fn});']))
    gpu = [f"defined({b.upper()}_KERNEL)" for b in ("cuda", "rocm") if b in backends]
    if gpu:
        branches.append((" || ".join(gpu), [f'ops.impl("{op}", c10::kCUDA, {fn});']))
    if "metal" in backends:
        branches.append(("defined(METAL_KERNEL)", [f'ops.impl("{op}", c10::kMPS, {fn});']))
    if "xpu" in backends:
        branches.append(("defined(XPU_KERNEL)", [f'ops.impl("{op}", c10::kXPU, {fn});']))
    out: list[str] = []
    for i, (condition, body) in enumerate(branches):
        out.append(f"#{'if' if i == 0 else 'elif'} {condition}")
        out += [f"  {line}" for line in body]
    out.append("#endif")
    return "\n".join(out)


def devices_for(backends: tuple[str, ...]) -> list[str]:
    """Torch devices of ``backends``, accelerators first."""
    devices: list[str] = []
    for backend, device in backend_devices().items():  # preference order
        if backend in backends and device not in devices:
            devices.append(device)
    return devices


def flake_url() -> str:
    return os.environ.get(FLAKE_URL_ENV) or DEFAULT_FLAKE_URL


def scaffold_files(kname: KernelName, backends: tuple[str, ...], license: str = DEFAULT_LICENSE,
                   flake: Optional[str] = None) -> dict[str, str]:
    """Relative path -> content of every scaffold file, in writing order."""
    m = kname.module
    devices = devices_for(backends)
    values = {
        "NAME": kname.name,
        "MODULE": m,
        "CLASS": kname.class_name,
        "DEVICES": json.dumps(devices),
        "CARD_DEVICE": devices[0],
        "FLAKE_URL": flake or flake_url(),
        "IMPLS": _binding_impls(kname, backends),
    }
    files: dict[str, str] = {
        "build.toml": render_build_toml(kname, backends, license),
        "CARD.md": _render("CARD.md.in", values),
        "example.py": _render("example.py.in", values),
        "flake.nix": _render("flake.nix.in", values),
        "torch-ext/torch_binding.h": _render("torch-ext/torch_binding.h.in", values),
        "torch-ext/torch_binding.cpp": _render("torch-ext/torch_binding.cpp.in", values),
        f"torch-ext/{m}/__init__.py": _render("torch-ext/package/__init__.py.in", values),
        f"torch-ext/{m}/layers.py": _render("torch-ext/package/layers.py.in", values),
    }
    templates = {
        "cpu": ["cpu/kernel_cpu.cpp.in"],
        "cuda": ["cuda/kernel.cu.in"],
        "rocm": ["cuda/kernel.cu.in"],
        "metal": ["metal/kernel.mm.in", "metal/kernel.metal.in"],
        "xpu": ["xpu/kernel.cpp.in"],
    }
    for backend, sources in kernel_sources(kname, backends).items():
        for rel, template in zip(sources, templates.get(backend, [_GENERIC_TEMPLATE])):
            files[rel] = _render(template, values)
    files["tests/__init__.py"] = _render("tests/__init__.py.in", values)
    files["tests/conftest.py"] = _render("tests/conftest.py.in", values)
    files[f"tests/test_{m}.py"] = _render("tests/test_kernel.py.in", values)
    files["benchmarks/benchmark.py"] = _render("benchmarks/benchmark.py.in", values)
    return files


# --------------------------------------------------------------------------
# Writing.


@dataclass(frozen=True)
class InitResult:
    kernel: KernelName
    backends: tuple[str, ...]
    target: Path
    written: list[Path]
    replaced: list[Path]


def resolve_target(path: Optional[Path], name: Optional[str], cwd: Optional[Path] = None) -> tuple[Path, KernelName]:
    """Where to initialise and under which name.

    ``PATH`` given: initialise there (the name comes from ``--name`` or the
    directory). Only ``--name`` given: ``./<repo name>``, as in the reference
    example ``kernel-builder init --name myorg/mykernel``. Neither: the
    current directory, named after it.
    """
    cwd = Path.cwd() if cwd is None else cwd
    kname = parse_repo_name(name) if name is not None else None
    if path is not None:
        target = path if path.is_absolute() else cwd / path
    elif kname is not None:
        target = cwd / kname.name
    else:
        target = cwd
    target = Path(os.path.normpath(target))
    if kname is None:
        kname = name_from_directory(target.resolve() if target.exists() else target)
    return target, kname


def _relative(path: Path) -> str:
    """``path`` relative to the current directory when it lies below it, else absolute."""
    try:
        rel = os.path.relpath(path)
    except ValueError:
        return str(path.resolve())
    return str(path.resolve()) if rel == ".." or rel.startswith(".." + os.sep) else rel


def _plan(target: Path, files: dict[str, str], overwrite: bool) -> list[str]:
    """Check every scaffold path; return those that exist (and would be replaced)."""
    if target.exists() and not target.is_dir():
        raise KernelBuilderError(f"{target} exists and is not a directory")
    root = target.resolve()
    existing: list[str] = []
    for rel in files:
        path = target / rel
        # No parent may be a file, or a link that leads out of the project.
        parent = target
        for part in Path(rel).parts[:-1]:
            parent = parent / part
            if parent.is_symlink() or parent.exists():
                if not parent.is_dir():
                    raise KernelBuilderError(f"cannot create {target / rel}: {parent} exists and is not a directory")
                resolved = parent.resolve()
                if resolved != root and root not in resolved.parents:
                    raise KernelBuilderError(f"cannot create {target / rel}: {parent} leads outside {target}")
        if path.is_symlink() or path.exists():
            if path.is_dir() and not path.is_symlink():
                raise KernelBuilderError(f"{path} is a directory; the scaffold needs a file there")
            existing.append(rel)
    if existing and not overwrite:
        raise KernelBuilderError(
            f"{target / existing[0]} already exists: use --overwrite to replace the scaffold files "
            f"({len(existing)} of them exist; files that are not part of the scaffold are kept)"
        )
    return existing


def _write_file(path: Path, content: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="\n") as f:
            f.write(content)
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)  # replaces a symlink itself, never its target
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise


def write_scaffold(target: Path, files: dict[str, str], overwrite: bool = False) -> tuple[list[Path], list[Path]]:
    """Write ``files`` under ``target``; returns (written, replaced). Checks everything before writing."""
    existing = set(_plan(target, files, overwrite))
    written: list[Path] = []
    replaced: list[Path] = []
    for rel, content in files.items():
        path = target / rel
        try:
            _write_file(path, content)
        except OSError as e:
            raise KernelBuilderError(f"cannot write {path}: {e.strerror or e}") from None
        (replaced if rel in existing else written).append(path)
    return written, replaced


def init_kernel(path: Optional[Path], name: Optional[str], backends: Iterable[str] = (),
                license: str = DEFAULT_LICENSE, overwrite: bool = False,
                cwd: Optional[Path] = None) -> InitResult:
    """Create (or with ``overwrite``, refresh) a kernel project."""
    check_license(license)
    selected = resolve_backends(list(backends))
    target, kname = resolve_target(path, name, cwd)
    files = scaffold_files(kname, selected, license)
    written, replaced = write_scaffold(target, files, overwrite)
    return InitResult(kernel=kname, backends=selected, target=target, written=written, replaced=replaced)


# --------------------------------------------------------------------------
# Command line.

import click  # noqa: E402


class _ValuesOption(click.Option):
    """An option that takes several values after one flag (``--backends cpu cuda``).

    Click options take one value per flag; like the reference CLI, this one
    also takes the words that follow it up to the next option. It can still be
    repeated and take comma-separated lists.
    """

    def add_to_parser(self, parser: "click.parser._OptionParser", ctx: click.Context) -> None:  # type: ignore[name-defined]
        super().add_to_parser(parser, ctx)
        long_opts = getattr(parser, "_long_opt", None)
        if not isinstance(long_opts, dict):  # a click without these internals: one value per flag
            return
        for opt in self.opts:
            parser_option = long_opts.get(opt)
            if parser_option is None or not hasattr(parser_option, "process"):
                continue
            original = parser_option.process

            def process(value: object, state: object, original=original) -> None:
                original(value, state)
                rargs = getattr(state, "rargs", None)
                while rargs and not rargs[0].startswith("-"):
                    original(rargs.pop(0), state)

            parser_option.process = process


def _complete_backends(ctx: click.Context, param: click.Parameter, incomplete: str) -> list[str]:
    return [b for b in ("all", *init_backends()) if b.startswith(incomplete)]


def _backends_help() -> str:
    return "Backends to enable (`all`, " + ", ".join(f"`{b}`" for b in init_backends()) + ")."


@click.command("init")
@click.argument("path", required=False, type=click.Path(path_type=Path))
@click.option("--license", "license_", default=DEFAULT_LICENSE, show_default=True, metavar="LICENSE",
              help="The kernel's license.")
@click.option("--name", metavar="OWNER/REPO", help="Name of the kernel repo (e.g. `myorg/my-kernel`).")
@click.option("--backends", cls=_ValuesOption, multiple=True, metavar="BACKENDS...", shell_complete=_complete_backends,
              help=_backends_help() + " Default: cuda.")
@click.option("--overwrite", is_flag=True, help="Overwrite existing scaffold files (preserves other files).")
def init_command(path: Optional[Path], license_: str, name: Optional[str], backends: tuple[str, ...],
                 overwrite: bool) -> None:
    """Initialize a new kernel project from template.

    PATH is the directory to initialize. It defaults to the current directory,
    or to ./REPO when --name OWNER/REPO is given. Without --name, the kernel is
    named after the directory and the Hub repository is left for you to set in
    build.toml.
    """
    result = init_kernel(path, name, backends, license_, overwrite)
    kname = result.kernel
    where = result.target.resolve()
    label = f"`{kname.repo_id}`" if kname.repo_id else f"kernel `{kname.name}`"
    click.echo(f"Initialized {label} at {where} (backends: {', '.join(result.backends)})")
    if result.replaced:
        click.echo(f"Replaced {len(result.replaced)} existing scaffold file(s); other files were kept.")
    if not kname.repo_id:
        click.echo("No --name OWNER/REPO given: set general.hub.repo-id in build.toml before uploading.")
    rel = _relative(result.target)
    build = "kernel-builder build" if rel == "." else f"kernel-builder build {rel}"
    click.echo(f"Next: `{build}`, then `python {os.path.join(rel, 'example.py')}`.")
