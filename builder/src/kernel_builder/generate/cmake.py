"""Render the ``CMakeLists.txt`` of a kernel's Torch extension.

The generated project builds one Python extension module per backend,
``_<name>_<backend>_<unique id>.abi3.so``, from the ``[torch]`` sources and
every ``[kernel.*]`` of that backend. The backend is chosen when CMake
configures (``-DKERNEL_BACKEND=...``, else from the installed Torch), so one
generated project serves every backend the kernel supports.
"""

from __future__ import annotations

import os
from pathlib import Path

from kernels._data import load_lib_json

from ..config import BuildConfig, Kernel

#: Backends whose Torch extension this generator can configure. (Neuron
#: kernels are Python-only: they are built as noarch kernels.)
CMAKE_BACKENDS = ("cpu", "cuda", "metal", "rocm", "xpu")
#: Source suffixes compiled per backend beyond C/C++ (headers are listed too but not compiled).
_METAL_SHADER = ".metal"


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

    The kernel's ``cuda-capabilities`` (or the toolkit's defaults) intersected
    with what the toolkit can compile.
    """
    toolkits = load_lib_json("cuda")["toolkits"]
    tables = {}
    for version, toolkit in toolkits.items():
        wanted = (kernel.cuda_capabilities if kernel else None) or tuple(toolkit["default"])
        tables[version] = [cap for cap in wanted if cap in toolkit["supported"]]
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
        f'    message(FATAL_ERROR "kernel-builder: none of the CUDA capabilities of {what} '
        'can be built with CUDA toolkit ${KB_CUDA_TOOLKIT}")'
    )
    lines.append("  endif()")
    lines.append(f"  kb_set_cuda_archs({target} \"${{_kb_caps}}\" {'ON' if record else 'OFF'})")
    return "\n".join(lines)


def rocm_archs(kernel: Kernel) -> tuple[str, ...]:
    """The ROCm architectures a kernel is built for (its own or the defaults)."""
    return kernel.rocm_archs or tuple(load_lib_json("rocm")["default-archs"])


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


def _kernel_block(kernel: Kernel, source_root: str) -> str:
    target = f"kb_kernel_{kernel.name.replace('-', '_')}"
    shaders = [s for s in kernel.src if kernel.backend == "metal" and s.endswith(_METAL_SHADER)]
    compiled = [s for s in kernel.src if s not in shaders]
    sources = " ".join(_quote(f"{source_root}/{s}") for s in compiled)
    includes = " ".join(_quote(f"{source_root}/{i}") for i in kernel.include)
    parts = [f"if(KERNEL_BACKEND STREQUAL \"{kernel.backend}\")"]
    if kernel.backend == "rocm":
        # CUDA sources are translated to HIP first (Torch's hipify), then compiled as HIP.
        rel = " ".join(_quote(s) for s in compiled)
        parts += [
            f"  kb_hipify(_kb_sources \"{source_root}\" {rel})",
            f"  add_library({target} OBJECT ${{_kb_sources}})",
            "  foreach(_src IN LISTS _kb_sources)",
            '    if(_src MATCHES "\\\\.(cu|hip)$")',
            "      set_source_files_properties(${_src} PROPERTIES LANGUAGE HIP)",
            "    endif()",
            "  endforeach()",
            f'  set_target_properties({target} PROPERTIES HIP_ARCHITECTURES "{_cmake_list(rocm_archs(kernel))}")',
        ]
    else:
        parts.append(f"  add_library({target} OBJECT {sources})")
    parts.append(f"  kb_configure_object({target})")
    if includes:
        parts.append(f"  target_include_directories({target} PRIVATE {includes})")
    if kernel.cxx_flags:
        parts.append(f"  target_compile_options({target} PRIVATE {_language_flags('CXX', kernel.cxx_flags)})")
    if kernel.backend == "cuda":
        if kernel.cuda_flags:
            parts.append(f"  target_compile_options({target} PRIVATE {_language_flags('CUDA', kernel.cuda_flags)})")
        parts.append(_cuda_arch_block(kernel, target))
    if kernel.backend == "rocm":
        if kernel.hip_flags:
            parts.append(f"  target_compile_options({target} PRIVATE {_language_flags('HIP', kernel.hip_flags)})")
        parts.append(f'  kb_record_archs("{_cmake_list(rocm_archs(kernel))}")')
    if kernel.backend == "xpu":
        sycl = " ".join(_quote(f) for f in ("-fsycl", *kernel.sycl_flags))
        parts.append(f"  target_compile_options({target} PRIVATE {sycl})")
    if kernel.backend == "metal":
        parts.append(f"  set_target_properties({target} PROPERTIES OBJC_STANDARD 11)")
        if shaders:
            shader_paths = " ".join(_quote(f"{source_root}/{s}") for s in shaders)
            parts.append(f"  kb_embed_metal({target} {kernel.name.replace('-', '_')} {shader_paths})")
    parts += _dependency_lines(kernel, target)
    parts.append(f"  target_link_libraries(${{OPS_NAME}} PRIVATE {target})")
    parts.append("endif()")
    return "\n".join(parts)


def render_cmakelists(config: BuildConfig, target_dir: Path, unique_id: str) -> str:
    """The CMakeLists.txt text for ``config``, written into ``target_dir``."""
    assert config.torch is not None, "noarch kernels have no CMake project"
    rel = os.path.relpath(config.kernel_dir, target_dir.resolve())
    source_root = "${CMAKE_CURRENT_SOURCE_DIR}" if rel == "." else f"${{CMAKE_CURRENT_SOURCE_DIR}}/{Path(rel).as_posix()}"
    name = config.general.module_name
    backends = [b for b in config.general.backends if b in CMAKE_BACKENDS]
    torch_src = " ".join(_quote(f"{source_root}/{s}") for s in config.torch.src)
    torch_includes = " ".join(_quote(f"{source_root}/{i}") for i in config.torch.include)
    pyext_patterns = " ".join(f'PATTERN "*.{ext}"' for ext in config.torch.pyext)
    ext_arch_block = _cuda_arch_block(None, "${OPS_NAME}", record=False)
    kernel_blocks = "\n\n".join(_kernel_block(k, source_root) for k in config.kernels.values() if k.backend in CMAKE_BACKENDS)
    stable_abi = ""
    if config.torch.stable_abi is not None:
        major, minor = config.torch.stable_abi.release[:2]
        stable_abi = (
            "# Torch stable ABI: the extension and every kernel object may only use stable APIs.\n"
            f"set(KB_STABLE_ABI_DEFINES TORCH_STABLE_ONLY TORCH_TARGET_VERSION=0x{major:02x}{minor:02x}000000000000)\n"
            "target_compile_definitions(${OPS_NAME} PRIVATE ${KB_STABLE_ABI_DEFINES})"
        )
    return f"""\
# Generated by kernel-builder from build.toml. Do not edit: run
# `kernel-builder create-pyproject -f` again instead.
cmake_minimum_required(VERSION 3.26)
# Kernel requirements for macOS: deployment target 15.0 (must precede project()).
if(CMAKE_HOST_APPLE AND NOT CMAKE_OSX_DEPLOYMENT_TARGET)
  set(CMAKE_OSX_DEPLOYMENT_TARGET "15.0")
endif()
project({name} LANGUAGES CXX)

set(KERNEL_NAME "{name}")
set(KERNEL_UNIQUE_ID "{unique_id}")
set(KERNEL_SUPPORTED_BACKENDS "{_cmake_list(backends)}")
set(KERNEL_SOURCE_DIR "{source_root}")

find_package(Python 3.9 REQUIRED COMPONENTS Interpreter Development.SABIModule)

# Pick the backend: explicit -DKERNEL_BACKEND=..., else the installed Torch's.
if(NOT DEFINED KERNEL_BACKEND OR KERNEL_BACKEND STREQUAL "")
  execute_process(
    COMMAND "${{Python_EXECUTABLE}}" -c "import torch; print('cuda' if torch.version.cuda else 'rocm' if getattr(torch.version, 'hip', None) else 'xpu' if getattr(torch.version, 'xpu', None) else 'cpu')"
    OUTPUT_VARIABLE _kb_torch_backend OUTPUT_STRIP_TRAILING_WHITESPACE COMMAND_ERROR_IS_FATAL ANY)
  if(_kb_torch_backend IN_LIST KERNEL_SUPPORTED_BACKENDS)
    set(KERNEL_BACKEND "${{_kb_torch_backend}}")
  elseif("cpu" IN_LIST KERNEL_SUPPORTED_BACKENDS)
    set(KERNEL_BACKEND "cpu")
  else()
    message(FATAL_ERROR "kernel-builder: Torch is built for ${{_kb_torch_backend}}, which this kernel does not support (backends: ${{KERNEL_SUPPORTED_BACKENDS}})")
  endif()
endif()
if(NOT KERNEL_BACKEND IN_LIST KERNEL_SUPPORTED_BACKENDS)
  message(FATAL_ERROR "kernel-builder: KERNEL_BACKEND=${{KERNEL_BACKEND}} is not one of this kernel's backends: ${{KERNEL_SUPPORTED_BACKENDS}}")
endif()
set(OPS_NAME "_${{KERNEL_NAME}}_${{KERNEL_BACKEND}}_${{KERNEL_UNIQUE_ID}}")
message(STATUS "kernel-builder: building ${{OPS_NAME}} for backend ${{KERNEL_BACKEND}}")

# Torch's CMake package: kernel-builder passes its location (it has imported
# Torch already); otherwise ask the Python that builds (importing Torch takes a second).
if(KB_TORCH_CMAKE_PREFIX)
  set(_kb_torch_prefix "${{KB_TORCH_CMAKE_PREFIX}}")
else()
  execute_process(
    COMMAND "${{Python_EXECUTABLE}}" -c "import sys, torch.utils; sys.stdout.write(torch.utils.cmake_prefix_path)"
    OUTPUT_VARIABLE _kb_torch_prefix COMMAND_ERROR_IS_FATAL ANY)
endif()
list(APPEND CMAKE_PREFIX_PATH "${{_kb_torch_prefix}}")

if(KERNEL_BACKEND STREQUAL "cuda")
  enable_language(CUDA)
  string(REGEX MATCH "^[0-9]+\\.[0-9]+" KB_CUDA_TOOLKIT "${{CMAKE_CUDA_COMPILER_VERSION}}")
  # Architectures are set per kernel target; Torch warns if this is defined.
  unset(CMAKE_CUDA_ARCHITECTURES)
  unset(CMAKE_CUDA_ARCHITECTURES CACHE)
  # Torch adds -gencode flags for TORCH_CUDA_ARCH_LIST to CMAKE_CUDA_FLAGS;
  # each kernel sets its own architectures below, so those are dropped again.
  if(NOT DEFINED ENV{{TORCH_CUDA_ARCH_LIST}})
    set(ENV{{TORCH_CUDA_ARCH_LIST}} "7.5")
  endif()
endif()

if(KERNEL_BACKEND STREQUAL "rocm")
  enable_language(HIP)
elseif(KERNEL_BACKEND STREQUAL "xpu")
  # SYCL kernels need the oneAPI DPC++ compiler: configure with CXX=icpx.
  if(NOT CMAKE_CXX_COMPILER_ID STREQUAL "IntelLLVM")
    message(FATAL_ERROR "kernel-builder: the xpu backend needs the oneAPI DPC++ compiler (CXX=icpx), found ${{CMAKE_CXX_COMPILER_ID}}")
  endif()
elseif(KERNEL_BACKEND STREQUAL "metal")
  if(NOT APPLE)
    message(FATAL_ERROR "kernel-builder: the metal backend builds on macOS only")
  endif()
  # Kernel requirements: macOS deployment target 15.0 and Metal 3.0.
  set(CMAKE_OSX_DEPLOYMENT_TARGET "15.0")
  enable_language(OBJCXX)
  find_program(KB_XCRUN xcrun REQUIRED)
endif()

find_package(Torch REQUIRED)

set(KB_EXTRA_INCLUDES "")
if(KERNEL_BACKEND STREQUAL "cuda")
  string(REGEX REPLACE "-gencode +arch=[^ ]+" "" CMAKE_CUDA_FLAGS "${{CMAKE_CUDA_FLAGS}}")
  # nvcc compiles the architectures of one file in parallel (0: one thread per core).
  if(NOT DEFINED KB_NVCC_THREADS)
    set(KB_NVCC_THREADS 0)
  endif()
  string(APPEND CMAKE_CUDA_FLAGS " --threads=${{KB_NVCC_THREADS}}")
  # Torch's CUDA headers include the CUDA math libraries (cuSPARSE, cuBLAS, ...).
  # A toolkit without them can use the headers of Torch's pip dependencies.
  if(NOT EXISTS "${{CUDAToolkit_INCLUDE_DIRS}}/cusparse.h")
    execute_process(
      COMMAND "${{Python_EXECUTABLE}}" -c "import glob, importlib.util, os; s = importlib.util.find_spec('nvidia'); print(';'.join(sorted(d for p in (s.submodule_search_locations if s else []) for d in glob.glob(os.path.join(p, '*', 'include')))))"
      OUTPUT_VARIABLE KB_EXTRA_INCLUDES OUTPUT_STRIP_TRAILING_WHITESPACE)
    message(STATUS "kernel-builder: CUDA math library headers from Torch's dependencies: ${{KB_EXTRA_INCLUDES}}")
  endif()
endif()

if(Torch_VERSION VERSION_GREATER_EQUAL "2.10")
  set(CMAKE_CXX_STANDARD 20)
else()
  set(CMAKE_CXX_STANDARD 17)
endif()
set(CMAKE_CXX_STANDARD_REQUIRED ON)
set(CMAKE_CUDA_STANDARD ${{CMAKE_CXX_STANDARD}})
set(CMAKE_POSITION_INDEPENDENT_CODE ON)

set(KB_BACKEND_DEFINE "")
string(TOUPPER "${{KERNEL_BACKEND}}_KERNEL" KB_BACKEND_DEFINE)

# The extension module: stable Python ABI (abi3, Python >= 3.9).
Python_add_library(${{OPS_NAME}} MODULE USE_SABI 3.9 WITH_SOABI {torch_src})
target_include_directories(${{OPS_NAME}} PRIVATE "${{CMAKE_CURRENT_SOURCE_DIR}}/torch-ext" "${{KERNEL_SOURCE_DIR}}/torch-ext" {torch_includes})
target_compile_definitions(${{OPS_NAME}} PRIVATE TORCH_EXTENSION_NAME=${{OPS_NAME}} ${{KB_BACKEND_DEFINE}})
target_link_libraries(${{OPS_NAME}} PRIVATE torch)
if(KB_EXTRA_INCLUDES)
  target_include_directories(${{OPS_NAME}} SYSTEM PRIVATE ${{KB_EXTRA_INCLUDES}})
endif()
{stable_abi}

if(KERNEL_BACKEND STREQUAL "xpu")
  target_link_options(${{OPS_NAME}} PRIVATE -fsycl)
elseif(KERNEL_BACKEND STREQUAL "metal")
  target_link_libraries(${{OPS_NAME}} PRIVATE "-framework Metal" "-framework Foundation")
endif()

# Headers of a build dependency (CUTLASS, metal-cpp, ...): under $ENV{{<var>}}/include.
function(kb_use_dependency target dep header envvar)
  find_path(_kb_dep_include "${{header}}" HINTS "$ENV{{${{envvar}}}}" PATH_SUFFIXES include NO_CACHE)
  if(NOT _kb_dep_include)
    message(FATAL_ERROR "kernel-builder: dependency ${{dep}} not found (no ${{header}}); set ${{envvar}} to its install prefix (Nix builds provide it)")
  endif()
  target_include_directories(${{target}} SYSTEM PRIVATE "${{_kb_dep_include}}")
  get_filename_component(_kb_dep_prefix "${{_kb_dep_include}}" DIRECTORY)
  if(EXISTS "${{_kb_dep_prefix}}/tools/util/include")
    target_include_directories(${{target}} SYSTEM PRIVATE "${{_kb_dep_prefix}}/tools/util/include")
  endif()
endfunction()

# ROCm: hipify CUDA sources into the build tree; OUT receives the translated paths.
function(kb_hipify out source_root)
  execute_process(
    COMMAND "${{Python_EXECUTABLE}}" "${{CMAKE_CURRENT_SOURCE_DIR}}/cmake/hipify.py"
            "${{CMAKE_CURRENT_BINARY_DIR}}/hipified" "${{source_root}}" ${{ARGN}}
    OUTPUT_VARIABLE _translated COMMAND_ERROR_IS_FATAL ANY)
  set(${{out}} "${{_translated}}" PARENT_SCOPE)
endfunction()

# Metal: compile the shaders to one metallib (Metal 3.0, macOS 15) and embed it
# as the byte array <name>_metallib / <name>_metallib_size.
function(kb_embed_metal target name)
  set(_airs "")
  foreach(_shader IN LISTS ARGN)
    get_filename_component(_stem "${{_shader}}" NAME_WE)
    set(_air "${{CMAKE_CURRENT_BINARY_DIR}}/metal/${{name}}/${{_stem}}.air")
    add_custom_command(OUTPUT "${{_air}}"
      COMMAND "${{KB_XCRUN}}" -sdk macosx metal -std=metal3.0 -mmacosx-version-min=15.0 -c "${{_shader}}" -o "${{_air}}"
      DEPENDS "${{_shader}}" VERBATIM)
    list(APPEND _airs "${{_air}}")
  endforeach()
  set(_lib "${{CMAKE_CURRENT_BINARY_DIR}}/metal/${{name}}.metallib")
  set(_cpp "${{CMAKE_CURRENT_BINARY_DIR}}/metal/${{name}}_metallib.cpp")
  add_custom_command(OUTPUT "${{_lib}}" COMMAND "${{KB_XCRUN}}" -sdk macosx metallib ${{_airs}} -o "${{_lib}}" DEPENDS ${{_airs}} VERBATIM)
  add_custom_command(OUTPUT "${{_cpp}}"
    COMMAND "${{CMAKE_COMMAND}}" -DMETALLIB=${{_lib}} -DSYMBOL=${{name}}_metallib -DOUTPUT=${{_cpp}} -P "${{CMAKE_CURRENT_SOURCE_DIR}}/cmake/embed_metallib.cmake"
    DEPENDS "${{_lib}}" VERBATIM)
  target_sources(${{target}} PRIVATE "${{_cpp}}")
  target_compile_definitions(${{target}} PRIVATE EMBEDDED_METALLIB_SYMBOL=${{name}}_metallib)
endfunction()

# Record architectures for metadata.json (ROCm).
function(kb_record_archs archs)
  set(_all ${{KB_ALL_CUDA_ARCHS}} ${{archs}})
  list(REMOVE_DUPLICATES _all)
  set(KB_ALL_CUDA_ARCHS "${{_all}}" PARENT_SCOPE)
endfunction()

# Compile settings shared by the object libraries of the [kernel.*] sections.
function(kb_configure_object target)
  target_compile_definitions(${{target}} PRIVATE TORCH_EXTENSION_NAME=${{OPS_NAME}} ${{KB_BACKEND_DEFINE}} ${{KB_STABLE_ABI_DEFINES}})
  target_include_directories(${{target}} PRIVATE "${{CMAKE_CURRENT_SOURCE_DIR}}/torch-ext" "${{KERNEL_SOURCE_DIR}}/torch-ext")
  target_link_libraries(${{target}} PRIVATE torch)
  if(KB_EXTRA_INCLUDES)
    target_include_directories(${{target}} SYSTEM PRIVATE ${{KB_EXTRA_INCLUDES}})
  endif()
endfunction()

# Turn ["8.0", "9.0a"] into CUDA_ARCHITECTURES "80-real;90a-real", giving the
# highest plain capability PTX too so newer GPUs can JIT it.
set(KB_ALL_CUDA_ARCHS "")
function(kb_set_cuda_archs target caps record)
  set(_archs "")
  set(_ptx "")
  foreach(_cap IN LISTS caps)
    string(REPLACE "." "" _arch "${{_cap}}")
    list(APPEND _archs "${{_arch}}-real")
    if(_cap MATCHES "^[0-9]+\\\\.[0-9]+$")
      set(_ptx "${{_arch}}")
    endif()
  endforeach()
  if(_ptx)
    list(REMOVE_ITEM _archs "${{_ptx}}-real")
    list(APPEND _archs "${{_ptx}}")
  endif()
  set_target_properties(${{target}} PROPERTIES CUDA_ARCHITECTURES "${{_archs}}")
  if(NOT record)
    return()
  endif()
  set(_all ${{KB_ALL_CUDA_ARCHS}})
  foreach(_cap IN LISTS caps)
    string(REPLACE "." "" _arch "${{_cap}}")
    if(_arch STREQUAL _ptx)
      list(APPEND _all "${{_cap}}+PTX")
    else()
      list(APPEND _all "${{_cap}}")
    endif()
  endforeach()
  list(REMOVE_DUPLICATES _all)
  set(KB_ALL_CUDA_ARCHS "${{_all}}" PARENT_SCOPE)
endfunction()

{kernel_blocks}

if(KERNEL_BACKEND STREQUAL "cuda")
  # The extension's own sources ([torch] src) use the toolkit's default capabilities.
{ext_arch_block}
endif()

# Python package: the kernel's own files, the generated _ops.py and the extension.
configure_file("${{CMAKE_CURRENT_SOURCE_DIR}}/cmake/_ops.py.in" "${{CMAKE_CURRENT_BINARY_DIR}}/_ops.py" @ONLY)
install(TARGETS ${{OPS_NAME}} LIBRARY DESTINATION "${{KERNEL_NAME}}")
install(FILES "${{CMAKE_CURRENT_BINARY_DIR}}/_ops.py" DESTINATION "${{KERNEL_NAME}}")
install(DIRECTORY "${{KERNEL_SOURCE_DIR}}/torch-ext/${{KERNEL_NAME}}/" DESTINATION "${{KERNEL_NAME}}"
        FILES_MATCHING {pyext_patterns}
        PATTERN "__pycache__" EXCLUDE PATTERN "_ops.py" EXCLUDE)

# What was built, for kernel-builder's metadata.json (read from the build tree).
string(REPLACE ";" "\\",\\"" _kb_archs_json "${{KB_ALL_CUDA_ARCHS}}")
if(_kb_archs_json STREQUAL "")
  set(_kb_archs_json "[]")
else()
  set(_kb_archs_json "[\\"${{_kb_archs_json}}\\"]")
endif()
file(WRITE "${{CMAKE_CURRENT_BINARY_DIR}}/kernel-build-info.json"
  "{{\\"ops_name\\": \\"${{OPS_NAME}}\\", \\"backend\\": \\"${{KERNEL_BACKEND}}\\", \\"archs\\": ${{_kb_archs_json}}}}\\n")
"""


def render_noarch_cmakelists(config: BuildConfig, target_dir: Path, unique_id: str) -> str:
    """CMakeLists.txt of a Python-only kernel: installs the package and ``_ops.py``."""
    rel = os.path.relpath(config.kernel_dir, target_dir.resolve())
    source_root = "${CMAKE_CURRENT_SOURCE_DIR}" if rel == "." else f"${{CMAKE_CURRENT_SOURCE_DIR}}/{Path(rel).as_posix()}"
    name = config.general.module_name
    return f"""\
# Generated by kernel-builder from build.toml. Do not edit: run
# `kernel-builder create-pyproject -f` again instead.
# A Python-only (noarch) kernel: nothing is compiled.
cmake_minimum_required(VERSION 3.26)
project({name} LANGUAGES NONE)

set(KERNEL_NAME "{name}")
set(KERNEL_SOURCE_DIR "{source_root}")
if(NOT DEFINED KERNEL_BACKEND OR KERNEL_BACKEND STREQUAL "")
  set(KERNEL_BACKEND "{config.general.backends[0]}")
endif()
set(OPS_NAME "_${{KERNEL_NAME}}_${{KERNEL_BACKEND}}_{unique_id}")

configure_file("${{CMAKE_CURRENT_SOURCE_DIR}}/cmake/_ops.py.in" "${{CMAKE_CURRENT_BINARY_DIR}}/_ops.py" @ONLY)
install(FILES "${{CMAKE_CURRENT_BINARY_DIR}}/_ops.py" DESTINATION "${{KERNEL_NAME}}")
install(DIRECTORY "${{KERNEL_SOURCE_DIR}}/torch-ext/${{KERNEL_NAME}}/" DESTINATION "${{KERNEL_NAME}}"
        FILES_MATCHING PATTERN "*.py" PATTERN "*.pyi"
        PATTERN "__pycache__" EXCLUDE PATTERN "_ops.py" EXCLUDE)
"""
