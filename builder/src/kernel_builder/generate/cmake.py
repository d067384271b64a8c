"""Render the ``CMakeLists.txt`` of a kernel's Torch extension.

The generated project builds one Python extension module per backend,
``_<name>_<backend>_<unique id>.abi3.so``, from the ``[torch]`` sources and
every ``[kernel.*]`` of that backend. The backend is chosen when CMake
configures (``-DKERNEL_BACKEND=...``, else from the installed Torch), so one
generated project serves every backend the kernel supports.
"""

from __future__ import annotations

import os
import re
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import Callable, Optional, Union

from kernels._data import load_lib_json

from ..config import BuildConfig, Kernel
from ..config.capabilities import effective_cuda_capabilities, effective_rocm_archs

#: Source suffixes compiled per backend beyond C/C++ (headers are listed too but not compiled).
_METAL_SHADER = ".metal"


Value = Union[str, Callable[[], str]]
_PLACEHOLDER = re.compile(r"\{\{(\??)([a-z_:-]+)\}\}")
_SECTION = "#@ "


_TEMPLATES = resources.files("kernel_builder").joinpath("templates", "cmakelists")
#: Templates that belong to no backend: the project and the [kernel.*] block.
_SHARED_TEMPLATES = ("common.cmake", "kernel.cmake")

#: Backends whose Torch extension this generator can configure: those with a
#: template in templates/cmakelists/. (Neuron, TPU and CANN kernels are
#: Python-only: they are built as noarch kernels.)
CMAKE_BACKENDS = tuple(sorted(entry.name[: -len(".cmake")] for entry in _TEMPLATES.iterdir()
                              if entry.name.endswith(".cmake") and entry.name not in _SHARED_TEMPLATES))
_ORDER_LINE = re.compile(r"^# order: (\d+)", re.MULTILINE)


def _template_order(backend: str) -> int:
    """A template's ``# order: N`` header line (default 50)."""
    found = _ORDER_LINE.search(_TEMPLATES.joinpath(f"{backend}.cmake").read_text(encoding="utf-8"))
    return int(found.group(1)) if found else 50


#: The order in which backend templates contribute their sections (and their
#: ``if()/elseif()`` branches): each template's ``# order:`` line, then the name.
TEMPLATE_ORDER = tuple(sorted(CMAKE_BACKENDS, key=lambda b: (_template_order(b), b)))


def _template(name: str) -> str:
    return _TEMPLATES.joinpath(name).read_text(encoding="utf-8")


@lru_cache(maxsize=None)
def backend_sections(backend: str) -> dict[str, str]:
    """The named sections (``#@ <name>`` lines start each) of ``templates/cmakelists/<backend>.cmake``."""
    sections: dict[str, list[str]] = {}
    current: Optional[list[str]] = None
    for line in _template(f"{backend}.cmake").splitlines():
        if line.startswith(_SECTION):
            current = sections.setdefault(line[len(_SECTION):].strip(), [])
        elif current is not None:
            current.append(line)
    return {name: "\n".join(lines) for name, lines in sections.items()}


def substitute(template: str, values: dict[str, Value]) -> str:
    """Replace each ``{{name}}`` with its value; a line with an empty ``{{?name}}`` is left out.

    Plain string substitution (CMake's own ``${...}`` and ``@...@`` pass through untouched).
    """
    def value(name: str) -> str:
        if name not in values:
            raise KeyError(f"CMake template placeholder {{{{{name}}}}} has no value")
        found = values[name]
        return found() if callable(found) else found

    lines = []
    for line in template.split("\n"):
        if any(m[1] == "?" and value(m[2]) == "" for m in _PLACEHOLDER.finditer(line)):
            continue
        lines.append(_PLACEHOLDER.sub(lambda m: value(m[2]), line))
    return "\n".join(lines)


def _cmake_list(items: list[str] | tuple[str, ...]) -> str:
    return ";".join(i.replace(";", "\\;") for i in items)


def _quote(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _language_flags(language: str, flags: tuple[str, ...]) -> str:
    """One quoted generator expression per flag, so flags reach only ``language``."""
    def escape(flag: str) -> str:
        return flag.replace(">", "$<ANGLE-R>").replace(",", "$<COMMA>").replace(";", "$<SEMICOLON>")

    return " ".join(_quote(f"$<$<COMPILE_LANGUAGE:{language}>:{escape(f)}>") for f in flags)


def cuda_arch_tables(kernel: Kernel | None) -> dict[str, list[str]]:
    """Per CUDA toolkit: the capabilities this kernel is compiled for there.

    The loose intersection of the kernel's ``cuda-capabilities`` with the
    toolkit's kernel capabilities (all of those when it lists none); see
    :mod:`kernel_builder.config.capabilities`.
    """
    toolkits = load_lib_json("cuda")["toolkits"]
    requested = kernel.cuda_capabilities if kernel else None
    tables = {}
    for version, toolkit in toolkits.items():
        caps = effective_cuda_capabilities(requested, version)
        tables[version] = [cap for cap in caps if cap.removesuffix("+PTX") in toolkit["supported"]]
    return tables


def _cuda_arch_block(kernel: Kernel | None, target: str, record: bool = True) -> str:
    what = f"kernel '{kernel.name}'" if kernel else "the extension's own sources"
    lines = [f"  # CUDA capabilities of {what} per toolkit version."]
    first = True
    for version, caps in cuda_arch_tables(kernel).items():
        keyword = "if" if first else "elseif"
        first = False
        lines.append(f'  {keyword}(KB_CUDA_TOOLKIT VERSION_EQUAL "{version}")')
        lines.append(f'    set(_kb_caps "{_cmake_list(caps)}")')
    lines.append("  else()")
    lines.append(
        '    message(FATAL_ERROR "kernel-builder: CUDA toolkit ${KB_CUDA_TOOLKIT} is not supported '
        f'(supported: {", ".join(cuda_arch_tables(kernel))})")'
    )
    lines.append("  endif()")
    lines.append("  if(NOT _kb_caps)")
    lines.append(
        f'    message(FATAL_ERROR "kernel-builder: {what}: empty set of capabilities after intersection '
        f'with CUDA toolkit ${{KB_CUDA_TOOLKIT}} (kernel: {_cmake_list(kernel.cuda_capabilities or ()) if kernel else "default"})")'
    )
    lines.append("  endif()")
    lines.append(f"  kb_set_cuda_archs({target} \"${{_kb_caps}}\" {'ON' if record else 'OFF'})")
    return "\n".join(lines)


def rocm_archs(kernel: Kernel) -> tuple[str, ...]:
    """The ROCm architectures a kernel is built for: its own intersected with the supported set (or all of those)."""
    return effective_rocm_archs(kernel.rocm_archs)


def _dependency_lines(kernel: Kernel, target: str) -> list[str]:
    """Find each build dependency's headers (Nix sets the variables; locally the user does)."""
    known = load_lib_json("dependencies")
    lines = []
    for dep in kernel.depends:
        info = known.get(dep, {})
        if dep == "torch" or "env" not in info:
            continue
        lines.append(f'  kb_use_dependency({target} "{dep}" "{info["header"]}" "{info["env"]}")')
    return lines


def _kernel_values(kernel: Kernel, source_root: str) -> dict[str, Value]:
    """The placeholders of one ``[kernel.*]`` block (computed only when its templates use them)."""
    target = f"kb_kernel_{kernel.name.replace('-', '_')}"
    shaders = [s for s in kernel.src if kernel.backend == "metal" and s.endswith(_METAL_SHADER)]
    compiled = [s for s in kernel.src if s not in shaders]
    return {
        "backend": kernel.backend,
        "target": target,
        "source_root": source_root,
        "sources": " ".join(_quote(f"{source_root}/{s}") for s in compiled),
        "relative_sources": " ".join(_quote(s) for s in compiled),
        "includes": " ".join(_quote(f"{source_root}/{i}") for i in kernel.include),
        "cxx_flags": _language_flags("CXX", kernel.cxx_flags),
        "cuda_flags": _language_flags("CUDA", kernel.cuda_flags),
        "hip_flags": _language_flags("HIP", kernel.hip_flags),
        "sycl_flags": " ".join(_quote(f) for f in ("-fsycl", *kernel.sycl_flags)),
        "rocm_archs": lambda: _cmake_list(rocm_archs(kernel)),
        "cuda_arch_block": lambda: _cuda_arch_block(kernel, target),
        "metal_name": kernel.name.replace("-", "_"),
        "shaders": " ".join(_quote(f"{source_root}/{s}") for s in shaders),
        "dependencies": "\n".join(_dependency_lines(kernel, target)),
    }


def _kernel_block(kernel: Kernel, source_root: str) -> str:
    values = _kernel_values(kernel, source_root)
    sections = backend_sections(kernel.backend)
    common = backend_sections("kernel")
    values["kernel_sources"] = substitute(sections.get("kernel-sources", common["kernel-sources"]), values)
    values["kernel_options"] = substitute(sections.get("kernel-options", ""), values)
    return substitute(common["kernel"], values)


def _per_backend(section: str, chained: bool) -> str:
    """``section`` of every backend template that has one, each under ``if(KERNEL_BACKEND ...)``.

    ``chained`` joins them into one ``if()/elseif()`` chain instead of one block each.
    """
    blocks = [(b, backend_sections(b)[section]) for b in TEMPLATE_ORDER if section in backend_sections(b)]
    if not blocks:
        return ""
    if not chained:
        return "\n\n".join(f'if(KERNEL_BACKEND STREQUAL "{b}")\n{body}\nendif()' for b, body in blocks)
    lines = [f'{"if" if i == 0 else "elseif"}(KERNEL_BACKEND STREQUAL "{b}")\n{body}' for i, (b, body) in enumerate(blocks)]
    return "\n".join(lines) + "\nendif()"


def _stable_abi_lines(config: BuildConfig) -> str:
    """Per backend with a ``stable-abi`` version: define only TORCH_TARGET_VERSION, refuse an older Torch."""
    assert config.torch is not None
    versions = {b: config.torch.stable_abi_for(b) for b in config.general.backends if b in CMAKE_BACKENDS}
    versions = {b: v for b, v in versions.items() if v is not None}
    if not versions:
        return ""
    lines = ["# Torch stable ABI ([torch] stable-abi): the backends listed build against a Torch version's",
             "# stable API only; TORCH_TARGET_VERSION is (major << 56) | (minor << 48).",
             'set(KB_STABLE_ABI_VERSION "")']
    for i, (backend, version) in enumerate(versions.items()):
        major, minor = (version.release + (0,))[:2]
        lines.append(f'{"if" if i == 0 else "elseif"}(KERNEL_BACKEND STREQUAL "{backend}")')
        lines.append(f'  set(KB_STABLE_ABI_VERSION "{major}.{minor}")')
        lines.append(f"  set(KB_STABLE_ABI_TARGET 0x{(major << 56) | (minor << 48):016x})")
    lines += [
        "endif()",
        "if(KB_STABLE_ABI_VERSION)",
        "  if(Torch_VERSION VERSION_LESS KB_STABLE_ABI_VERSION)",
        '    message(FATAL_ERROR "kernel-builder: [torch] stable-abi targets Torch ${KB_STABLE_ABI_VERSION} '
        'for ${KERNEL_BACKEND}, but the installed Torch is ${Torch_VERSION}")',
        "  endif()",
        '  set(KB_STABLE_ABI_DEFINES "TORCH_TARGET_VERSION=${KB_STABLE_ABI_TARGET}")',
        "  target_compile_definitions(${OPS_NAME} PRIVATE ${KB_STABLE_ABI_DEFINES})",
        "endif()",
    ]
    return "\n".join(lines)


def _source_root(config: BuildConfig, target_dir: Path) -> str:
    """The kernel's directory as CMake sees it from the generated project in ``target_dir``."""
    rel = os.path.relpath(config.kernel_dir, target_dir.resolve())
    return "${CMAKE_CURRENT_SOURCE_DIR}" if rel == "." else f"${{CMAKE_CURRENT_SOURCE_DIR}}/{Path(rel).as_posix()}"


def render_cmakelists(config: BuildConfig, target_dir: Path, unique_id: str) -> str:
    """The CMakeLists.txt text for ``config``, written into ``target_dir``.

    ``templates/cmakelists/common.cmake`` is the project; each backend's
    template adds its sections (toolchain setup, CMake functions, how a
    ``[kernel.*]`` of that backend is compiled).
    """
    assert config.torch is not None, "noarch kernels have no CMake project"
    source_root = _source_root(config, target_dir)
    kernels = [k for k in config.kernels.values() if k.backend in CMAKE_BACKENDS]
    values: dict[str, Value] = {
        "name": config.general.module_name,
        "unique_id": unique_id,
        "backends": _cmake_list([b for b in config.general.backends if b in CMAKE_BACKENDS]),
        "source_root": source_root,
        "torch_src": " ".join(_quote(f"{source_root}/{s}") for s in config.torch.src),
        "torch_includes": " ".join(_quote(f"{source_root}/{i}") for i in config.torch.include),
        "pyext_patterns": " ".join(f'PATTERN "*.{ext}"' for ext in config.torch.pyext),
        "torch_cxx_flags": _language_flags("CXX", config.torch.cxx_flags),
        "stable_abi": _stable_abi_lines(config),
        "functions": "\n\n".join(backend_sections(b)["functions"] for b in TEMPLATE_ORDER
                               if "functions" in backend_sections(b)),
        "kernel_blocks": "\n\n".join(_kernel_block(k, source_root) for k in kernels),
        "extension_arch_block": lambda: _cuda_arch_block(None, "${OPS_NAME}", record=False),
    }
    for section in ("languages", "after-torch", "extension"):
        values[f"each:{section}"] = _per_backend(section, chained=False)
    for section in ("toolchain", "link"):
        values[f"chain:{section}"] = _per_backend(section, chained=True)
    # The per-backend sections may use the project's placeholders too.
    for key in [k for k in values if k.startswith(("each:", "chain:"))]:
        values[key] = substitute(values[key], values)  # type: ignore[arg-type]
    return substitute(_template("common.cmake"), values)


def render_noarch_cmakelists(config: BuildConfig, target_dir: Path, unique_id: str) -> str:
    """CMakeLists.txt of a Python-only kernel: installs the package and ``_ops.py``."""
    source_root = _source_root(config, target_dir)
    name = config.general.module_name
    patterns = " ".join(f'PATTERN "*.{ext}"' for ext in config.pyext)
    return f"""\
# Generated by kernel-builder from build.toml. Do not edit: run
# `kernel-builder create-pyproject -f` again instead.
# A Python-only (noarch) kernel: nothing is compiled; _ops.py picks the
# backend's ops namespace when it is imported.
cmake_minimum_required(VERSION 3.26)
project({name} LANGUAGES NONE)

set(KERNEL_NAME "{name}")
set(KERNEL_SOURCE_DIR "{source_root}")
if(NOT DEFINED KERNEL_BACKEND OR KERNEL_BACKEND STREQUAL "")
  set(KERNEL_BACKEND "{config.general.backends[0]}")
endif()
set(OPS_NAME "_${{KERNEL_NAME}}_${{KERNEL_BACKEND}}_{unique_id}")
set(MODULE_NAME "{name}")
set(UNIQUE_ID "{unique_id}")

configure_file("${{CMAKE_CURRENT_SOURCE_DIR}}/cmake/_ops.py.in" "${{CMAKE_CURRENT_BINARY_DIR}}/_ops.py" @ONLY)
install(FILES "${{CMAKE_CURRENT_BINARY_DIR}}/_ops.py" DESTINATION "${{KERNEL_NAME}}")
install(DIRECTORY "${{KERNEL_SOURCE_DIR}}/torch-ext/${{KERNEL_NAME}}/" DESTINATION "${{KERNEL_NAME}}"
        FILES_MATCHING {patterns}
        PATTERN "__pycache__" EXCLUDE PATTERN "_ops.py" EXCLUDE)
"""
