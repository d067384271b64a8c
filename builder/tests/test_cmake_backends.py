"""create-pyproject for every backend: rocm, xpu, metal, build dependencies,
the stable ABI, kernels with several backends, and Python-only (noarch) kernels.

No ROCm, oneAPI or Xcode toolchain is needed: what these backends would build
is checked in the generated CMake text. Where the host tools suffice, the
pieces are run for real: the generated CMake functions in small CMake
projects, ``cmake/embed_metallib.cmake`` with ``cmake -P`` and a C++ compiler,
``cmake/hipify.py`` with Torch's hipify, a configure of the generated project
that stops at the backend's toolchain check, and a wheel of a noarch kernel.
"""

from __future__ import annotations

import json
import os
import py_compile
import re
import shlex
import shutil
import subprocess
import sys
import zipfile
from importlib import resources
from pathlib import Path

import pytest
from kernels._data import load_lib_json

from kernel_builder.generate.cmake import CMAKE_BACKENDS, rocm_archs
from kernels.backends import registry
from kernel_builder.config import load_config
from kernel_builder.generate.pyproject import GENERATED_MARKER, GENERATED_PATHS, generated_files

SOURCE_DIR = "${CMAKE_CURRENT_SOURCE_DIR}"
DEPENDENCIES: dict = {k: v for k, v in load_lib_json("dependencies").items() if not k.startswith("_")}
ROCM_DEFAULT_ARCHS: list[str] = load_lib_json("rocm")["default-archs"]
NOARCH_GENERATED = ["pyproject.toml", "CMakeLists.txt", "cmake/_ops.py.in"]


def _cmake() -> str | None:
    """The cmake that builds use: the one installed with kernel-builder, else PATH's."""
    venv_cmake = Path(sys.executable).parent / "cmake"
    return str(venv_cmake) if venv_cmake.exists() else shutil.which("cmake")


def _has_hipify() -> bool:
    try:
        from torch.utils.hipify import hipify_python  # noqa: F401
    except Exception:
        return False
    return True


def _has_python_dev() -> bool:
    import sysconfig

    return (Path(sysconfig.get_paths()["include"]) / "Python.h").is_file()


CMAKE = _cmake()
CXX = shutil.which("c++") or shutil.which("g++")
needs_cmake = pytest.mark.skipif(CMAKE is None, reason="needs cmake")
needs_cmake_cxx = pytest.mark.skipif(CMAKE is None or CXX is None, reason="needs cmake and a C++ compiler")
needs_hipify = pytest.mark.skipif(not _has_hipify(), reason="Torch's hipify (torch.utils.hipify) is not importable")
needs_configure = pytest.mark.skipif(
    CMAKE is None or CXX is None or not _has_python_dev(),
    reason="needs cmake, a C++ compiler and the Python headers",
)


# --------------------------------------------------------------------------
# Building kernel projects and reading the generated CMake.


def add_kernel(project, name: str, backend: str, files: dict[str, str], **keys) -> None:
    """Add ``[kernel.<name>]`` for ``backend`` with ``files`` (path -> content) as its sources."""
    for rel, content in files.items():
        project.add_file(rel, content)
    if backend not in project.general["backends"]:
        project.general["backends"].append(backend)
    project.data["kernel"][name] = {"backend": backend, "depends": ["torch"], "src": list(files), **keys}


def only_backend(project, backend: str) -> None:
    """Turn the cpu + cuda fixture project into one for ``backend`` alone (no kernels yet)."""
    project.general["backends"] = [backend]
    project.data["kernel"] = {}


def generate(cli, project, *args) -> str:
    project.write()
    result = cli("create-pyproject", "-f", "--unique-id", "abc123", project.root, *args)
    assert result.exit_code == 0, result.output
    target = Path(args[0]) if args else project.root
    return (target / "CMakeLists.txt").read_text()


def kernel_block(text: str, kernel: str) -> str:
    """The ``if(KERNEL_BACKEND ...) ... endif()`` block that builds ``[kernel.<kernel>]``."""
    target = "kb_kernel_" + kernel.replace("-", "_")
    lines = text.splitlines()
    starts = [i for i, line in enumerate(lines) if line.strip().startswith(f"add_library({target} OBJECT")]
    assert len(starts) == 1, f"no single add_library for {target}"
    start = starts[0]
    while not lines[start].startswith("if(KERNEL_BACKEND STREQUAL"):
        start -= 1
    end = lines.index("endif()", start)
    return "\n".join(lines[start:end + 1])


def block_backend(block: str) -> str:
    return re.match(r'if\(KERNEL_BACKEND STREQUAL "(\w+)"\)', block)[1]


def function_text(text: str, name: str) -> str:
    """The ``function(<name> ...) ... endfunction()`` definition in the generated CMake."""
    match = re.search(rf"^function\({name}\b.*?^endfunction\(\)$", text, re.M | re.S)
    assert match, f"no function {name}"
    return match[0]


def backend_setup_block(text: str) -> str:
    """The ``if(KERNEL_BACKEND STREQUAL "rocm") ... endif()`` that enables each backend's toolchain."""
    match = re.search(r'^if\(KERNEL_BACKEND STREQUAL "rocm"\)\n  enable_language\(HIP\)\n.*?^endif\(\)$',
                      text, re.M | re.S)
    assert match, "no toolchain setup block"
    return match[0]


def line_with(text: str, needle: str) -> str:
    lines = [line for line in text.splitlines() if needle in line]
    assert len(lines) == 1, f"{needle!r} on {len(lines)} lines"
    return lines[0]


def cmake_args(line: str) -> list[str]:
    """The arguments of one CMake command line (quoted arguments unquoted)."""
    inner = line.strip()
    inner = inner[inner.index("(") + 1:inner.rindex(")")]
    args = re.findall(r'"((?:[^"\\]|\\.)*)"|(\S+)', inner)
    return [re.sub(r"\\(.)", r"\1", quoted) if quoted or not bare else bare for quoted, bare in args]


def run_cmake_project(tmp_path: Path, body: str, *args: str, env: dict | None = None,
                      languages: str = "NONE") -> subprocess.CompletedProcess:
    """Configure a small CMake project whose CMakeLists.txt ends with ``body``."""
    src = tmp_path / "cmake-project"
    src.mkdir(exist_ok=True)
    (src / "CMakeLists.txt").write_text(
        f"cmake_minimum_required(VERSION 3.26)\nproject(check LANGUAGES {languages})\n{body}\n")
    return subprocess.run([CMAKE, "-S", str(src), "-B", str(src / "build"), *args],
                          capture_output=True, text=True, env=env)


def compile_arguments(tmp_path: Path, lines: list[str], targets: list[str]) -> dict[str, list[str]]:
    """Configure ``lines`` with one object library per target over a C++ file: target -> compiler argv."""
    (tmp_path / "a.cpp").write_text("int f() { return 0; }\n")
    body = "".join(f"add_library({t} OBJECT \"{(tmp_path / 'a.cpp').as_posix()}\")\n" for t in targets)
    body += "\n".join(line.strip() for line in lines)
    result = run_cmake_project(tmp_path, body, "-DCMAKE_EXPORT_COMPILE_COMMANDS=ON", languages="CXX")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Warning" not in result.stderr, result.stderr
    commands = json.loads((tmp_path / "cmake-project" / "build" / "compile_commands.json").read_text())
    by_target = {}
    for entry in commands:
        target = re.search(r"CMakeFiles/(\w+)\.dir/", entry.get("output", entry["command"]))[1]
        by_target[target] = shlex.split(entry["command"])
    return by_target


# --------------------------------------------------------------------------
# All backends.


def test_every_buildable_backend_but_neuron_is_a_cmake_backend() -> None:
    # Issue 16: tpu and cann are build.toml backends too; like neuron they are Python-only.
    assert set(CMAKE_BACKENDS) == set(registry().build_toml_names()) - {"neuron", "tpu", "cann"}
    assert set(CMAKE_BACKENDS) == set(registry().kernel_section_names())


def test_generated_helper_files_are_the_templates(project, cli) -> None:
    generate(cli, project)
    templates = resources.files("kernel_builder").joinpath("templates")
    for generated, template in (("cmake/hipify.py", "hipify.py"),
                                ("cmake/embed_metallib.cmake", "embed_metallib.cmake")):
        text = (project.root / generated).read_text()
        assert text == templates.joinpath(template).read_text()
        assert GENERATED_MARKER in text.splitlines()[0]
    assert sorted(f.path for f in generated_files(load_config(project.root), project.root, "x")) \
        == sorted(GENERATED_PATHS)


@pytest.mark.parametrize("backend", ["cpu", "cuda", "metal", "rocm", "xpu"])
@needs_cmake
def test_backend_define(backend: str, tmp_path: Path, project, cli) -> None:
    """Sources see <BACKEND>_KERNEL (ROCM_KERNEL, XPU_KERNEL, ...), on the extension and every kernel object."""
    text = generate(cli, project)
    setup = [line_with(text, "set(KB_BACKEND_DEFINE"), line_with(text, "string(TOUPPER")]
    script = tmp_path / "define.cmake"
    script.write_text(f'set(KERNEL_BACKEND "{backend}")\n' + "\n".join(setup) + '\nmessage("${KB_BACKEND_DEFINE}")\n')
    result = subprocess.run([CMAKE, "-P", str(script)], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert result.stderr.strip() == f"{backend.upper()}_KERNEL"
    assert "${KB_BACKEND_DEFINE}" in line_with(text, "target_compile_definitions(${OPS_NAME} PRIVATE TORCH_EXTENSION_NAME")
    assert "${KB_BACKEND_DEFINE}" in function_text(text, "kb_configure_object")


# --------------------------------------------------------------------------
# ROCm.


CUDA_SOURCE = """\
#include <cuda_runtime.h>
#include "r.h"
__global__ void fill(float* x) { x[threadIdx.x] = 1.0f; }
void run() {
  float* p;
  cudaMalloc(&p, 4 * sizeof(float));
  fill<<<1, 4>>>(p);
  cudaDeviceSynchronize();
}
"""
CUDA_HEADER = "#pragma once\n#include <cuda_fp16.h>\ninline void g() { cudaStream_t s; (void)s; }\n"


@pytest.fixture
def rocm_project(project):
    """cpu + cuda + rocm: [kernel.r] has a .cu source and a header, in a subdirectory."""
    add_kernel(project, "r", "rocm", {"x_rocm/sub/r.cu": CUDA_SOURCE, "x_rocm/sub/r.h": CUDA_HEADER})
    return project


def test_rocm_sources_are_hipified_then_compiled_as_hip(rocm_project, cli) -> None:
    text = generate(cli, rocm_project)
    assert 'set(KERNEL_SUPPORTED_BACKENDS "cpu;cuda;rocm")' in text
    block = kernel_block(text, "r")
    assert block_backend(block) == "rocm"
    hipify = line_with(block, "kb_hipify(")
    assert cmake_args(hipify) == ["_kb_sources", SOURCE_DIR, "x_rocm/sub/r.cu", "x_rocm/sub/r.h"]
    # The object library compiles the translated files, never the CUDA originals.
    assert line_with(block, "add_library(").strip() == "add_library(kb_kernel_r OBJECT ${_kb_sources})"
    assert block.index("kb_hipify(") < block.index("add_library(")
    assert "x_rocm/sub/r.cu\"" not in line_with(block, "add_library(")
    assert "PROPERTIES LANGUAGE HIP" in block
    assert "CUDA_ARCHITECTURES" not in block and "KB_CUDA_TOOLKIT" not in block
    # The toolchain: HIP is enabled for rocm, and the script kb_hipify runs is generated.
    assert "enable_language(HIP)" in backend_setup_block(text)
    hipify_fn = function_text(text, "kb_hipify")
    assert '"${CMAKE_CURRENT_SOURCE_DIR}/cmake/hipify.py"' in hipify_fn
    assert (rocm_project.root / "cmake" / "hipify.py").is_file()


def test_rocm_hipify_sources_from_other_target_dir(rocm_project, cli, tmp_path: Path) -> None:
    """The relative sources given to kb_hipify resolve against its source root from any target dir."""
    target = tmp_path / "elsewhere" / "gen"
    text = generate(cli, rocm_project, target)
    args = cmake_args(line_with(kernel_block(text, "r"), "kb_hipify("))
    root = Path(os.path.normpath(args[1].replace(SOURCE_DIR, str(target.resolve()))))
    assert root == rocm_project.root.resolve()
    for rel in args[2:]:
        assert (root / rel).is_file(), rel


def test_rocm_hip_language_regex(rocm_project, cli, tmp_path: Path) -> None:
    """The MATCHES test that marks translated files as HIP, evaluated by CMake."""
    if CMAKE is None:
        pytest.skip("needs cmake")
    block = kernel_block(generate(cli, rocm_project), "r")
    condition = re.search(r"^\s*if\(_src MATCHES (.*)\)$", block, re.M)[1]
    script = tmp_path / "match.cmake"
    names = ["/b/hipified/r.hip", "/b/hipified/r.cu", "/b/hipified/r_hip.h", "/b/hipified/r_hip.cpp",
             "/b/x.hip/r.h", "/b/rcu"]
    script.write_text("".join(
        f'set(_src "{n}")\nif(_src MATCHES {condition})\n  message("{n} HIP")\nelse()\n  message("{n} other")\nendif()\n'
        for n in names))
    result = subprocess.run([CMAKE, "-P", str(script)], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert result.stderr.splitlines() == [
        "/b/hipified/r.hip HIP", "/b/hipified/r.cu HIP", "/b/hipified/r_hip.h other",
        "/b/hipified/r_hip.cpp other", "/b/x.hip/r.h other", "/b/rcu other",
    ]


def test_rocm_archs_from_build_toml(rocm_project, cli) -> None:
    rocm_project.kernel("r")["rocm-archs"] = ["gfx942", "gfx90a"]
    block = kernel_block(generate(cli, rocm_project), "r")
    assert line_with(block, "HIP_ARCHITECTURES").strip() == \
        'set_target_properties(kb_kernel_r PROPERTIES HIP_ARCHITECTURES "gfx942;gfx90a")'
    assert line_with(block, "kb_record_archs(").strip() == 'kb_record_archs("gfx942;gfx90a")'


def test_rocm_archs_default_from_lib_rocm_json(rocm_project, cli) -> None:
    assert ROCM_DEFAULT_ARCHS
    block = kernel_block(generate(cli, rocm_project), "r")
    archs = ";".join(ROCM_DEFAULT_ARCHS)
    assert f'HIP_ARCHITECTURES "{archs}")' in block
    assert f'kb_record_archs("{archs}")' in block
    config = load_config(rocm_project.root)
    assert rocm_archs(config.kernels["r"]) == tuple(ROCM_DEFAULT_ARCHS)


@needs_cmake
def test_rocm_archs_are_recorded_for_metadata(rocm_project, cli, tmp_path: Path) -> None:
    """kernel-build-info.json lists the union of the rocm kernels' architectures, once each."""
    rocm_project.kernel("r")["rocm-archs"] = ["gfx942", "gfx90a"]
    add_kernel(rocm_project, "r2", "rocm", {"x_rocm/r2.cu": "// second\n"}, **{"rocm-archs": ["gfx90a", "gfx1100"]})
    text = generate(cli, rocm_project)
    records = [line_with(kernel_block(text, k), "kb_record_archs(") for k in ("r", "r2")]
    tail = text[text.index("# What was built"):]
    script = tmp_path / "record.cmake"
    script.write_text(
        f'set(CMAKE_CURRENT_BINARY_DIR "{tmp_path.as_posix()}")\nset(OPS_NAME "_mykernel_rocm_abc123")\n'
        'set(KERNEL_BACKEND "rocm")\nset(KB_ALL_CUDA_ARCHS "")\n'
        + function_text(text, "kb_record_archs") + "\n" + "\n".join(r.strip() for r in records) + "\n" + tail)
    result = subprocess.run([CMAKE, "-P", str(script)], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    info = json.loads((tmp_path / "kernel-build-info.json").read_text())
    assert info == {"ops_name": "_mykernel_rocm_abc123", "backend": "rocm",
                    "archs": ["gfx942", "gfx90a", "gfx1100"]}


def test_rocm_hip_flags_only_for_hip(rocm_project, cli) -> None:
    hip_flags = ["-ffast-math", "-DKB_LIST=a,b", "-DKB_GT=a>b", "--offload-compress"]
    rocm_project.kernel("r")["hip-flags"] = hip_flags
    rocm_project.kernel("r")["cxx-flags"] = ["-DKB_HOST=1"]
    block = kernel_block(generate(cli, rocm_project), "r")
    hip = line_with(block, "COMPILE_LANGUAGE:HIP")
    assert hip.strip().startswith("target_compile_options(kb_kernel_r PRIVATE ")
    assert hip.count("$<$<COMPILE_LANGUAGE:HIP>:") == len(hip_flags)
    assert '"$<$<COMPILE_LANGUAGE:HIP>:-ffast-math>"' in hip
    assert '"$<$<COMPILE_LANGUAGE:HIP>:-DKB_LIST=a$<COMMA>b>"' in hip
    assert '"$<$<COMPILE_LANGUAGE:HIP>:-DKB_GT=a$<ANGLE-R>b>"' in hip
    assert "-DKB_HOST=1" not in hip
    assert '"$<$<COMPILE_LANGUAGE:CXX>:-DKB_HOST=1>"' in line_with(block, "COMPILE_LANGUAGE:CXX")
    # hip-flags go nowhere else.
    assert block.count("-ffast-math") == 1


@needs_cmake_cxx
def test_rocm_hip_flags_reach_the_compiler_verbatim(rocm_project, cli, tmp_path: Path) -> None:
    """No HIP compiler here: evaluate the HIP flags line as if it were for C++."""
    hip_flags = ["-ffast-math", "-DKB_LIST=a,b", "-DKB_GT=a>b"]
    rocm_project.kernel("r")["hip-flags"] = hip_flags
    block = kernel_block(generate(cli, rocm_project), "r")
    line = line_with(block, "COMPILE_LANGUAGE:HIP").replace("COMPILE_LANGUAGE:HIP", "COMPILE_LANGUAGE:CXX")
    argv = compile_arguments(tmp_path, [line], ["kb_kernel_r"])["kb_kernel_r"]
    for flag in hip_flags:
        assert flag in argv, f"{flag!r} not an argument of {argv}"


def test_adding_rocm_leaves_the_cuda_kernel_alone(rocm_project, cli) -> None:
    """Adding rocm leaves the cuda kernel's block a plain CUDA block (no hipify)."""
    block = kernel_block(generate(cli, rocm_project), "x")
    assert block_backend(block) == "cuda"
    assert "kb_hipify" not in block and "HIP" not in block


# hipify.py: the script the generated CMake runs for ROCm.


def test_hipify_script_compiles(project, cli, tmp_path: Path) -> None:
    generate(cli, project)
    py_compile.compile(str(project.root / "cmake" / "hipify.py"), cfile=str(tmp_path / "hipify.pyc"), doraise=True)


def _run_hipify(script: Path, out: Path, root: Path, *files: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(script), str(out), str(root), *files],
                          capture_output=True, text=True, timeout=300)


@needs_hipify
def test_hipify_script_translates_cuda(rocm_project, cli, tmp_path: Path) -> None:
    generate(cli, rocm_project)
    out = tmp_path / "build" / "hipified"
    result = _run_hipify(rocm_project.root / "cmake" / "hipify.py", out, rocm_project.root,
                         "x_rocm/sub/r.cu", "x_rocm/sub/r.h")
    assert result.returncode == 0, result.stderr
    # stdout is exactly the ';'-separated list CMake reads: nothing else may be printed there.
    translated = [Path(p) for p in result.stdout.split(";")]
    assert len(translated) == 2, result.stdout
    source, header = translated
    assert source.parent == header.parent == (out / "x_rocm" / "sub").resolve()
    assert source.suffix == ".hip"
    hip = source.read_text()
    assert "hipMalloc(" in hip and "cudaMalloc" not in hip
    assert "hipDeviceSynchronize()" in hip
    assert "hipLaunchKernelGGL" in hip and "<<<" not in hip
    assert "#include <hip/hip_runtime.h>" in hip
    assert f'#include "{header.name}"' in hip  # the include follows the translated header
    header_text = header.read_text()
    assert "hipStream_t" in header_text and "cuda_fp16.h" not in header_text
    # The sources themselves are untouched.
    assert (rocm_project.root / "x_rocm" / "sub" / "r.cu").read_text() == CUDA_SOURCE


@needs_hipify
def test_hipify_script_picks_up_edits_when_run_again(rocm_project, cli, tmp_path: Path) -> None:
    """A re-configure hipifies again into the same directory; the result follows the edited source."""
    generate(cli, rocm_project)
    script, out = rocm_project.root / "cmake" / "hipify.py", tmp_path / "hipified"
    first = _run_hipify(script, out, rocm_project.root, "x_rocm/sub/r.cu")
    assert first.returncode == 0, first.stderr
    rocm_project.add_file("x_rocm/sub/r.cu", CUDA_SOURCE + "void more() { cudaFree(nullptr); }\n")
    second = _run_hipify(script, out, rocm_project.root, "x_rocm/sub/r.cu")
    assert second.returncode == 0, second.stderr
    assert second.stdout == first.stdout
    assert "hipFree(nullptr)" in Path(second.stdout).read_text()


@needs_hipify
@needs_cmake
def test_kb_hipify_in_cmake(rocm_project, cli, tmp_path: Path) -> None:
    """The generated kb_hipify function and the kernel's call, run by CMake: the list holds the HIP files."""
    text = generate(cli, rocm_project)
    call = line_with(kernel_block(text, "r"), "kb_hipify(").strip()
    # The project under test lives in the kernel directory: its CMAKE_CURRENT_SOURCE_DIR is the root.
    body = (
        f'set(Python_EXECUTABLE "{Path(sys.executable).as_posix()}")\n'
        + function_text(text, "kb_hipify") + "\n"
        + call + "\n"
        + 'file(WRITE "${CMAKE_CURRENT_BINARY_DIR}/sources.txt" "${_kb_sources}")\n'
    )
    build = tmp_path / "build"
    cmake_file = rocm_project.root / "CMakeLists.txt"
    cmake_file.write_text(f"cmake_minimum_required(VERSION 3.26)\nproject(check LANGUAGES NONE)\n{body}")
    result = subprocess.run([CMAKE, "-S", str(rocm_project.root), "-B", str(build)], capture_output=True, text=True,
                            timeout=300)
    assert result.returncode == 0, result.stdout + result.stderr
    sources = (build / "sources.txt").read_text().split(";")
    assert [Path(s).name for s in sources] == ["r.hip", "r_hip.h"], sources
    for source in sources:
        assert Path(source).is_file()
        assert Path(source).is_relative_to(build.resolve() / "hipified")
    assert "hipMalloc(" in Path(sources[0]).read_text()


# --------------------------------------------------------------------------
# XPU.


@pytest.fixture
def xpu_project(project):
    add_kernel(project, "s", "xpu", {"x_xpu/s.cpp": "// sycl kernel\n"},
               **{"sycl-flags": ["-fsycl-targets=spir64_gen,spir64", "-Xs", "-device pvc"]})
    return project


def test_xpu_needs_intel_llvm(xpu_project, cli) -> None:
    text = generate(cli, xpu_project)
    setup = backend_setup_block(text)
    xpu = setup[setup.index('elseif(KERNEL_BACKEND STREQUAL "xpu")'):setup.index('elseif(KERNEL_BACKEND STREQUAL "metal")')]
    assert 'if(NOT CMAKE_CXX_COMPILER_ID STREQUAL "IntelLLVM")' in xpu
    assert "FATAL_ERROR" in xpu and "icpx" in xpu
    # The SYCL check comes before Torch is looked for.
    assert text.index('CMAKE_CXX_COMPILER_ID STREQUAL "IntelLLVM"') < text.index("find_package(Torch REQUIRED)")


def test_xpu_sycl_flags_on_the_kernel_target(xpu_project, cli) -> None:
    text = generate(cli, xpu_project)
    block = kernel_block(text, "s")
    assert block_backend(block) == "xpu"
    assert line_with(block, "add_library(").strip() == \
        f'add_library(kb_kernel_s OBJECT "{SOURCE_DIR}/x_xpu/s.cpp")'
    line = line_with(block, '"-fsycl"')
    assert line.strip().startswith("target_compile_options(kb_kernel_s PRIVATE ")
    assert cmake_args(line)[2:] == ["-fsycl", "-fsycl-targets=spir64_gen,spir64", "-Xs", "-device pvc"]
    # The extension is linked with -fsycl; other backends' kernels get no SYCL flags.
    assert "target_link_options(${OPS_NAME} PRIVATE -fsycl)" in text
    for other in ("x", "x_cpu"):
        assert "fsycl" not in kernel_block(text, other)


@needs_cmake_cxx
def test_xpu_sycl_flags_reach_the_compiler_verbatim(xpu_project, cli, tmp_path: Path) -> None:
    block = kernel_block(generate(cli, xpu_project), "s")
    argv = compile_arguments(tmp_path, [line_with(block, '"-fsycl"')], ["kb_kernel_s"])["kb_kernel_s"]
    for flag in ("-fsycl", "-fsycl-targets=spir64_gen,spir64", "-Xs", "-device pvc"):
        assert flag in argv, f"{flag!r} not an argument of {argv}"


@needs_configure
def test_xpu_configure_without_icpx_fails_clearly(xpu_project, cli, tmp_path: Path) -> None:
    """A real configure of the generated project with the host's (GNU/Clang) C++ compiler stops at the check."""
    generate(cli, xpu_project)
    result = subprocess.run(
        [CMAKE, "-S", str(xpu_project.root), "-B", str(tmp_path / "build"), "-DKERNEL_BACKEND=xpu",
         f"-DPython_EXECUTABLE={sys.executable}"],
        capture_output=True, text=True, timeout=300)
    assert result.returncode != 0
    assert "the xpu backend needs the oneAPI DPC++ compiler (CXX=icpx)" in result.stderr, result.stderr


# --------------------------------------------------------------------------
# Metal.


@pytest.fixture
def metal_project(project):
    add_kernel(project, "my-op", "metal", {
        "x_metal/op.mm": "// objective-c++ host code\n",
        "x_metal/op.h": "#pragma once\n",
        "x_metal/shaders/a.metal": "// shader a\n",
        "x_metal/shaders/b.metal": "// shader b\n",
    })
    return project


def test_metal_shaders_are_embedded_not_compiled(metal_project, cli) -> None:
    text = generate(cli, metal_project)
    block = kernel_block(text, "my-op")
    assert block_backend(block) == "metal"
    add = line_with(block, "add_library(")
    assert cmake_args(add)[2:] == [f"{SOURCE_DIR}/x_metal/op.mm", f"{SOURCE_DIR}/x_metal/op.h"]
    assert ".metal" not in add
    embed = line_with(block, "kb_embed_metal(")
    assert cmake_args(embed) == ["kb_kernel_my_op", "my_op",
                                 f"{SOURCE_DIR}/x_metal/shaders/a.metal", f"{SOURCE_DIR}/x_metal/shaders/b.metal"]


def test_metal_without_shaders_embeds_nothing(project, cli) -> None:
    add_kernel(project, "m", "metal", {"x_metal/m.mm": ""})
    block = kernel_block(generate(cli, project), "m")
    assert "kb_embed_metal" not in block


def test_metal_toolchain(metal_project, cli) -> None:
    text = generate(cli, metal_project)
    setup = backend_setup_block(text)
    metal = setup[setup.index('elseif(KERNEL_BACKEND STREQUAL "metal")'):]
    assert "if(NOT APPLE)" in metal
    assert 'set(CMAKE_OSX_DEPLOYMENT_TARGET "15.0")' in metal
    assert "enable_language(OBJCXX)" in metal
    assert "find_program(KB_XCRUN xcrun REQUIRED)" in metal
    embed = function_text(text, "kb_embed_metal")
    compile_line = line_with(embed, " metal ")
    assert "-std=metal3.0" in compile_line and "-mmacosx-version-min=15.0" in compile_line
    assert "-c" in compile_line
    assert " metallib " in line_with(embed, "metallib ${_airs}")
    assert 'target_link_libraries(${OPS_NAME} PRIVATE "-framework Metal" "-framework Foundation")' in text


def test_metal_embed_command_matches_the_script(metal_project, cli) -> None:
    """kb_embed_metal passes exactly the variables embed_metallib.cmake reads, to the generated script."""
    text = generate(cli, metal_project)
    embed = function_text(text, "kb_embed_metal")
    command = line_with(embed, "embed_metallib.cmake")
    passed = set(re.findall(r"-D(\w+)=", command))
    script = (metal_project.root / "cmake" / "embed_metallib.cmake").read_text()
    code = "\n".join(line for line in script.splitlines() if not line.startswith("#"))
    read = set(re.findall(r"\$\{([A-Z]+)\}", code))
    assert passed == read == {"METALLIB", "SYMBOL", "OUTPUT"}
    assert "-DSYMBOL=${name}_metallib" in command
    assert '"${CMAKE_CURRENT_SOURCE_DIR}/cmake/embed_metallib.cmake"' in command
    assert "EMBEDDED_METALLIB_SYMBOL=${name}_metallib" in embed


@needs_configure
def test_metal_configure_off_macos_fails_clearly(metal_project, cli, tmp_path: Path) -> None:
    if sys.platform == "darwin":
        pytest.skip("checks the refusal off macOS")
    generate(cli, metal_project)
    result = subprocess.run(
        [CMAKE, "-S", str(metal_project.root), "-B", str(tmp_path / "build"), "-DKERNEL_BACKEND=metal",
         f"-DPython_EXECUTABLE={sys.executable}"],
        capture_output=True, text=True, timeout=300)
    assert result.returncode != 0
    assert "the metal backend builds on macOS only" in result.stderr, result.stderr


@needs_cmake_cxx
@pytest.mark.parametrize("size", [1, 4099])
def test_embed_metallib_script(project, cli, tmp_path: Path, size: int) -> None:
    """cmake -P embed_metallib.cmake on random bytes, compiled and checked by a C++ program."""
    generate(cli, project)
    data = bytes(range(256)) + os.urandom(size) if size > 1 else b"\x00"
    metallib = tmp_path / "shaders.metallib"
    metallib.write_bytes(data)
    out = tmp_path / "out.cpp"
    result = subprocess.run(
        [CMAKE, f"-DMETALLIB={metallib}", "-DSYMBOL=my_op_metallib", f"-DOUTPUT={out}",
         "-P", str(project.root / "cmake" / "embed_metallib.cmake")],
        capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    expected = tmp_path / "expected.bin"
    expected.write_bytes(data)
    main = tmp_path / "main.cpp"
    main.write_text(
        "#include <cstddef>\n#include <cstdio>\n#include <cstring>\n#include <vector>\n"
        'extern "C" const unsigned char my_op_metallib[];\n'
        'extern "C" const std::size_t my_op_metallib_size;\n'
        "int main(int argc, char** argv) {\n"
        '  std::FILE* f = std::fopen(argv[1], "rb");\n'
        "  std::vector<unsigned char> want(1 << 20);\n"
        "  std::size_t n = std::fread(want.data(), 1, want.size(), f);\n"
        '  if (n != my_op_metallib_size) { std::printf("size %zu != %zu\\n", my_op_metallib_size, n); return 1; }\n'
        '  if (std::memcmp(want.data(), my_op_metallib, n) != 0) { std::printf("bytes differ\\n"); return 1; }\n'
        '  std::printf("ok %zu\\n", n);\n'
        "  return 0;\n}\n")
    exe = tmp_path / "check"
    # Two translation units: the symbols must have external (C) linkage.
    build = subprocess.run([CXX, "-std=c++17", "-o", str(exe), str(main), str(out)], capture_output=True, text=True)
    assert build.returncode == 0, build.stderr
    run = subprocess.run([str(exe), str(expected)], capture_output=True, text=True)
    assert run.returncode == 0, run.stdout
    assert run.stdout == f"ok {len(data)}\n"


# --------------------------------------------------------------------------
# Build dependencies.


def test_dependencies_json_entries() -> None:
    assert DEPENDENCIES["cutlass_3_6"]["env"] == "CUTLASS_DIR"
    assert DEPENDENCIES["metal-cpp"]["env"] == "METAL_CPP_DIR"
    assert DEPENDENCIES["sycl_tla"]["env"] == "SYCL_TLA_DIR"
    for name, info in DEPENDENCIES.items():
        if name != "torch":
            assert set(info) >= {"backends", "env", "header"}, name


_DEPENDENCY_CASES = [
    (name, info["backends"][0]) for name, info in DEPENDENCIES.items() if name != "torch"
]


@pytest.mark.parametrize("dep,backend", _DEPENDENCY_CASES, ids=[d for d, _ in _DEPENDENCY_CASES])
def test_dependency_is_looked_up_through_its_env_var(project, cli, dep: str, backend: str) -> None:
    source = {"cuda": "k/a.cu", "metal": "k/a.mm", "xpu": "k/a.cpp", "rocm": "k/a.cu", "cpu": "k/a.cpp"}[backend]
    add_kernel(project, "dep", backend, {source: ""})
    project.kernel("dep")["depends"] = ["torch", dep]
    text = generate(cli, project)
    block = kernel_block(text, "dep")
    info = DEPENDENCIES[dep]
    line = line_with(block, "kb_use_dependency(")
    assert line.strip() == f'kb_use_dependency(kb_kernel_dep "{dep}" "{info["header"]}" "{info["env"]}")'
    # Only that kernel uses it; torch never needs a lookup.
    assert text.count("kb_use_dependency(kb_kernel_") == 1
    assert '"torch"' not in text


def test_cutlass_on_the_cuda_kernel_and_metal_cpp_on_the_metal_kernel(project, cli) -> None:
    project.kernel("x")["depends"] = ["torch", "cutlass_3_6"]
    add_kernel(project, "m", "metal", {"x_metal/m.mm": ""})
    project.kernel("m")["depends"] = ["torch", "metal-cpp"]
    text = generate(cli, project)
    assert 'kb_use_dependency(kb_kernel_x "cutlass_3_6" "cutlass/cutlass.h" "CUTLASS_DIR")' in kernel_block(text, "x")
    assert 'kb_use_dependency(kb_kernel_m "metal-cpp" "Metal/Metal.hpp" "METAL_CPP_DIR")' in kernel_block(text, "m")
    assert "kb_use_dependency" not in kernel_block(text, "x_cpu")


def _dependency_project(project, cli) -> tuple[str, str]:
    project.kernel("x_cpu")["depends"] = ["torch"]
    project.kernel("x")["depends"] = ["torch", "cutlass_3_6"]
    text = generate(cli, project)
    call = line_with(kernel_block(text, "x"), "kb_use_dependency(").strip()
    body = (function_text(text, "kb_use_dependency") + "\n" + call + "\n"
            'get_target_property(_inc kb_kernel_x INCLUDE_DIRECTORIES)\n'
            'message(STATUS "includes=${_inc}")\n')
    return text, body


@needs_cmake_cxx
def test_kb_use_dependency_finds_headers_under_the_env_prefix(project, cli, tmp_path: Path) -> None:
    _, body = _dependency_project(project, cli)
    prefix = tmp_path / "cutlass"
    (prefix / "include" / "cutlass").mkdir(parents=True)
    (prefix / "include" / "cutlass" / "cutlass.h").write_text("#pragma once\n")
    (prefix / "tools" / "util" / "include").mkdir(parents=True)
    (tmp_path / "a.cpp").write_text("int f() { return 0; }\n")
    body = f'add_library(kb_kernel_x OBJECT "{(tmp_path / "a.cpp").as_posix()}")\n' + body
    result = run_cmake_project(tmp_path, body, env={**os.environ, "CUTLASS_DIR": str(prefix)}, languages="CXX")
    assert result.returncode == 0, result.stdout + result.stderr
    includes = [i.rstrip("/") for i in re.search(r"includes=(.*)", result.stdout)[1].split(";")]
    assert includes == [(prefix / "include").as_posix(), (prefix / "tools" / "util" / "include").as_posix()]


@needs_cmake_cxx
def test_kb_use_dependency_missing_names_the_env_var(project, cli, tmp_path: Path) -> None:
    _, body = _dependency_project(project, cli)
    (tmp_path / "a.cpp").write_text("int f() { return 0; }\n")
    body = f'add_library(kb_kernel_x OBJECT "{(tmp_path / "a.cpp").as_posix()}")\n' + body
    empty = tmp_path / "empty-prefix"
    empty.mkdir()
    if any(Path(p, "include", "cutlass", "cutlass.h").exists() for p in ("/usr", "/usr/local", "/opt/homebrew")):
        pytest.skip("CUTLASS is installed system-wide here")
    result = run_cmake_project(tmp_path, body, env={**os.environ, "CUTLASS_DIR": str(empty)}, languages="CXX")
    assert result.returncode != 0
    message = " ".join(result.stderr.split())
    assert "dependency cutlass_3_6 not found (no cutlass/cutlass.h); set CUTLASS_DIR" in message, result.stderr


# --------------------------------------------------------------------------
# Stable ABI.


@pytest.mark.parametrize("version,expected", [
    ("2.9", "0x0209000000000000"),
    ("2.10", "0x020a000000000000"),
    ("2.11", "0x020b000000000000"),
])
def test_stable_abi_defines(project, cli, version: str, expected: str) -> None:
    assert "TORCH_STABLE_ONLY" not in generate(cli, project)
    project.torch["stable-abi"] = version
    text = generate(cli, project)
    # Issue 16: only TORCH_TARGET_VERSION is defined, per backend (here cpu and cuda, both from the string).
    assert "TORCH_STABLE_ONLY" not in text
    assert text.count(f"set(KB_STABLE_ABI_TARGET {expected})") == 2
    assert 'set(KB_STABLE_ABI_DEFINES "TORCH_TARGET_VERSION=${KB_STABLE_ABI_TARGET}")' in text
    assert "target_compile_definitions(${OPS_NAME} PRIVATE ${KB_STABLE_ABI_DEFINES})" in text
    # The value Torch's headers expect: major << 56 | minor << 48.
    major, minor = (int(p) for p in version.split("."))
    assert int(expected, 16) == (major << 56) | (minor << 48)


def test_stable_abi_defines_reach_kernel_objects(project, cli) -> None:
    project.torch["stable-abi"] = "2.11"
    text = generate(cli, project)
    configure = function_text(text, "kb_configure_object")
    kernel_lines = "\n".join([configure, kernel_block(text, "x"), kernel_block(text, "x_cpu")])
    assert "${KB_STABLE_ABI_DEFINES}" in kernel_lines


# --------------------------------------------------------------------------
# Several backends in one project.


@pytest.fixture
def all_backends_project(project):
    """cpu + cuda (fixture kernels) plus one kernel each for rocm, xpu and metal."""
    add_kernel(project, "r", "rocm", {"x_rocm/r.cu": CUDA_SOURCE})
    add_kernel(project, "s", "xpu", {"x_xpu/s.cpp": ""}, **{"sycl-flags": ["-DSYCL_ONLY=1"]})
    add_kernel(project, "m", "metal", {"x_metal/m.mm": "", "x_metal/m.metal": ""})
    return project


def test_one_project_for_all_backends(all_backends_project, cli) -> None:
    text = generate(cli, all_backends_project)
    assert 'set(KERNEL_SUPPORTED_BACKENDS "cpu;cuda;rocm;xpu;metal")' in text
    expected = {"x": "cuda", "x_cpu": "cpu", "r": "rocm", "s": "xpu", "m": "metal"}
    for kernel, backend in expected.items():
        block = kernel_block(text, kernel)
        assert block_backend(block) == backend
        target = "kb_kernel_" + kernel
        # Each kernel is linked into the extension once, inside its backend's block only.
        assert text.count(f"target_link_libraries(${{OPS_NAME}} PRIVATE {target})") == 1
        assert f"target_link_libraries(${{OPS_NAME}} PRIVATE {target})" in block
    # The backend is chosen at configure time; every per-backend setting is behind KERNEL_BACKEND.
    assert 'set(OPS_NAME "_${KERNEL_NAME}_${KERNEL_BACKEND}_${KERNEL_UNIQUE_ID}")' in text
    outside_blocks = text
    for kernel in expected:
        outside_blocks = outside_blocks.replace(kernel_block(text, kernel), "")
    for needle in ("kb_hipify(_kb_sources", "-DSYCL_ONLY=1", "kb_embed_metal(kb_kernel_m"):
        assert needle not in outside_blocks


def test_general_backends_order_is_kept(all_backends_project, cli) -> None:
    all_backends_project.general["backends"] = ["xpu", "metal", "rocm", "cuda", "cpu"]
    assert 'set(KERNEL_SUPPORTED_BACKENDS "xpu;metal;rocm;cuda;cpu")' in generate(cli, all_backends_project)


@needs_configure
def test_configure_selects_only_the_chosen_backend(all_backends_project, cli, tmp_path: Path) -> None:
    """A real configure for cpu of the all-backends project: only the cpu kernel is part of the build."""
    generate(cli, all_backends_project)
    build = tmp_path / "build"
    result = subprocess.run(
        [CMAKE, "-S", str(all_backends_project.root), "-B", str(build), "-G", "Ninja", "-DKERNEL_BACKEND=cpu",
         f"-DPython_EXECUTABLE={sys.executable}"] if shutil.which("ninja") else
        [CMAKE, "-S", str(all_backends_project.root), "-B", str(build), "-DKERNEL_BACKEND=cpu",
         f"-DPython_EXECUTABLE={sys.executable}"],
        capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "kernel-builder: building _mykernel_cpu_abc123 for backend cpu" in result.stdout
    info = json.loads((build / "kernel-build-info.json").read_text())
    assert info == {"ops_name": "_mykernel_cpu_abc123", "backend": "cpu", "archs": []}
    assert not (build / "hipified").exists()
    rules = "\n".join(p.read_text(errors="replace") for p in build.rglob("*")
                      if p.is_file() and p.name in ("build.ninja", "Makefile", "build.make"))
    assert "kb_kernel_x_cpu" in rules
    for other in ("kb_kernel_r", "kb_kernel_s", "kb_kernel_m"):
        assert other not in rules


@needs_configure
def test_configure_rejects_a_backend_the_kernel_lacks(project, cli, tmp_path: Path) -> None:
    generate(cli, project)
    result = subprocess.run(
        [CMAKE, "-S", str(project.root), "-B", str(tmp_path / "build"), "-DKERNEL_BACKEND=rocm",
         f"-DPython_EXECUTABLE={sys.executable}"],
        capture_output=True, text=True, timeout=300)
    assert result.returncode != 0
    message = " ".join(result.stderr.split())
    assert "KERNEL_BACKEND=rocm is not one of this kernel's backends: cpu;cuda" in message, result.stderr


# --------------------------------------------------------------------------
# Noarch (Python-only) kernels.


@pytest.fixture
def noarch_project(project):
    del project.data["torch"]
    del project.data["kernel"]
    project.general["backends"] = ["cuda", "xpu"]
    package = project.root / "torch-ext" / project.name
    (package / "__init__.py").write_text("from ._ops import ops, add_op_namespace_prefix\n\n\ndef my_op(x):\n"
                                         "    return x\n")
    project.add_file(f"torch-ext/{project.name}/layers/__init__.py", "LAYER = 1\n")
    project.add_file(f"torch-ext/{project.name}/stubs.pyi", "X: int\n")
    project.add_file(f"torch-ext/{project.name}/__pycache__/junk.cpython-311.pyc", "junk")
    project.add_file(f"torch-ext/{project.name}/notes.txt", "not installed\n")
    return project.write()


def test_noarch_create_pyproject_files(noarch_project, cli) -> None:
    before = noarch_project.snapshot()
    result = cli("create-pyproject", "--unique-id", "abc123", noarch_project.root)
    assert result.exit_code == 0, result.output
    assert set(noarch_project.snapshot()) - set(before) == set(NOARCH_GENERATED) | {"cmake"}
    for rel in NOARCH_GENERATED:
        assert f"wrote {noarch_project.root / rel}" in result.stdout
        assert GENERATED_MARKER in (noarch_project.root / rel).read_text()
    assert not (noarch_project.root / "torch-ext" / "registration.h").exists()
    ops_in = (noarch_project.root / "cmake" / "_ops.py.in").read_text()
    assert ops_in == resources.files("kernel_builder").joinpath("templates", "_ops_noarch.py.in").read_text()
    # Issue 16: the backend (and so the namespace) is picked when _ops.py is imported.
    assert '_OPS_NAME = f"_@MODULE_NAME@_{get_backend()}_@UNIQUE_ID@"' in ops_in
    assert "ops = getattr(torch.ops, _OPS_NAME)" in ops_in
    assert "from . import" not in ops_in  # no extension module to import


def test_noarch_cmakelists_compiles_nothing(noarch_project, cli) -> None:
    text = generate(cli, noarch_project)
    assert "project(mykernel LANGUAGES NONE)" in text
    for needle in ("add_library", "Python_add_library", "find_package", "enable_language", "kb_kernel_"):
        assert needle not in text
    assert 'install(FILES "${CMAKE_CURRENT_BINARY_DIR}/_ops.py" DESTINATION "${KERNEL_NAME}")' in text
    assert 'install(DIRECTORY "${KERNEL_SOURCE_DIR}/torch-ext/${KERNEL_NAME}/" DESTINATION "${KERNEL_NAME}"' in text
    assert 'configure_file("${CMAKE_CURRENT_SOURCE_DIR}/cmake/_ops.py.in" "${CMAKE_CURRENT_BINARY_DIR}/_ops.py" @ONLY)' \
        in text
    assert 'set(OPS_NAME "_${KERNEL_NAME}_${KERNEL_BACKEND}_abc123")' in text
    # The default backend is the kernel's first.
    assert 'set(KERNEL_BACKEND "cuda")' in text


def test_noarch_neuron_only(noarch_project, cli) -> None:
    """Neuron has no CMake build, but a Python-only neuron kernel gets the noarch project."""
    noarch_project.general["backends"] = ["neuron"]
    text = generate(cli, noarch_project)
    assert 'set(KERNEL_BACKEND "neuron")' in text
    assert not (noarch_project.root / "torch-ext" / "registration.h").exists()


def test_noarch_clean_pyproject(noarch_project, cli) -> None:
    before = noarch_project.snapshot()
    generate(cli, noarch_project)
    result = cli("clean-pyproject", "-f", noarch_project.root)
    assert result.exit_code == 0, result.output
    for rel in NOARCH_GENERATED:
        assert f"removing {noarch_project.root / rel}" in result.stdout
    assert noarch_project.snapshot() == before


def _build_wheel(root: Path, out: Path, *config: str) -> Path:
    env = {**os.environ, "PIP_NO_INDEX": "1", "PIP_DISABLE_PIP_VERSION_CHECK": "1"}
    result = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-build-isolation", "--no-deps", "-w", str(out),
         *[f"--config-settings={c}" for c in config], str(root)],
        capture_output=True, text=True, env=env, timeout=600)
    assert result.returncode == 0, result.stdout + result.stderr
    wheels = list(out.glob("*.whl"))
    assert len(wheels) == 1, wheels
    return wheels[0]


def _has_scikit_build_core() -> bool:
    try:
        import scikit_build_core  # noqa: F401
    except ImportError:
        return False
    return True


needs_wheel_build = pytest.mark.skipif(CMAKE is None or not _has_scikit_build_core(),
                                       reason="needs cmake and scikit-build-core")


@needs_wheel_build
def test_noarch_wheel(noarch_project, cli, tmp_path: Path) -> None:
    generate(cli, noarch_project)
    wheel = _build_wheel(noarch_project.root, tmp_path / "dist")
    assert wheel.name.startswith("mykernel-1-")
    with zipfile.ZipFile(wheel) as zf:
        names = set(zf.namelist())
        package = {n for n in names if not n.startswith("mykernel-1.dist-info/")}
        assert package == {"mykernel/__init__.py", "mykernel/_ops.py", "mykernel/layers/__init__.py",
                           "mykernel/stubs.pyi"}
        ops = zf.read("mykernel/_ops.py").decode()
        assert zf.read("mykernel/__init__.py").decode() == \
            (noarch_project.root / "torch-ext" / "mykernel" / "__init__.py").read_text()
    assert "@MODULE_NAME@" not in ops and "@UNIQUE_ID@" not in ops
    assert '_OPS_NAME = f"_mykernel_{get_backend()}_abc123"\n' in ops
    assert 'return f"{_OPS_NAME}::{op_name}"' in ops
    # The same _ops.py as a local (non-CMake) noarch build writes.
    template = resources.files("kernel_builder").joinpath("templates", "_ops_noarch.py.in").read_text()
    assert ops == template.replace("@MODULE_NAME@", "mykernel").replace("@UNIQUE_ID@", "abc123")
    # Nothing was written into the kernel's sources.
    assert not (noarch_project.root / "torch-ext" / "mykernel" / "_ops.py").exists()


@needs_wheel_build
def test_noarch_wheel_for_another_backend(noarch_project, cli, tmp_path: Path) -> None:
    noarch_project.rename_package("my-kernel")
    generate(cli, noarch_project)
    wheel = _build_wheel(noarch_project.root, tmp_path / "dist", "cmake.define.KERNEL_BACKEND=xpu")
    with zipfile.ZipFile(wheel) as zf:
        assert "my_kernel/__init__.py" in zf.namelist()
        ops = zf.read("my_kernel/_ops.py").decode()
    assert '_OPS_NAME = f"_my_kernel_{get_backend()}_abc123"\n' in ops
