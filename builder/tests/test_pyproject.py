"""create-pyproject / clean-pyproject: the generated CMake project and its removal.

Nothing is compiled here. One test configures a tiny CMake project (a second
or so) to see the per-kernel flags the compiler really gets.
"""

from __future__ import annotations

import os
import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from kernels._data import load_lib_json

from kernel_builder import cli as cli_module
from kernel_builder._toml import tomllib
from kernel_builder.generate.cmake import CMAKE_BACKENDS, cuda_arch_tables, render_cmakelists
from kernel_builder.config.capabilities import effective_cuda_capabilities
from kernel_builder.config import load_config
from kernel_builder.errors import KernelBuilderError
from kernel_builder.gitinfo import git_status, unique_id
from kernel_builder.generate.pyproject import (
    GENERATED_MARKER,
    GENERATED_PATHS,
    create_pyproject,
    generated_files,
    plan_clean,
    validate_unique_id,
)

#: What create-pyproject writes for a kernel with a [torch] extension: every generated path.
GENERATED = list(GENERATED_PATHS)
SOURCE_DIR = "${CMAKE_CURRENT_SOURCE_DIR}"
TOOLKITS: dict = load_lib_json("cuda")["toolkits"]


def create(cli, project, *args, unique_id: str | None = "abc123"):
    extra = ["--unique-id", unique_id] if unique_id is not None else []
    result = cli("create-pyproject", *extra, *args)
    assert result.exit_code == 0, result.output
    return result


# --------------------------------------------------------------------------
# Reading the generated CMakeLists.txt.


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


def arch_table(block: str) -> dict[str, list[str]]:
    """``{toolkit: [capabilities]}`` of a per-toolkit CUDA capability table."""
    table: dict[str, list[str]] = {}
    current = None
    for line in block.splitlines():
        match = re.match(r'\s*(?:if|elseif)\(KB_CUDA_TOOLKIT VERSION_EQUAL "([^"]+)"\)', line)
        if match:
            current = match[1]
            continue
        match = re.match(r'\s*set\(_kb_caps "([^"]*)"\)', line)
        if match and current is not None:
            table[current] = [c for c in match[1].split(";") if c]
            current = None
    return table


def quoted_paths(line: str) -> list[str]:
    return re.findall(r'"(\$\{CMAKE_CURRENT_SOURCE_DIR\}[^"]*)"', line)


def resolve_cmake_path(path: str, target_dir: Path) -> Path:
    return Path(os.path.normpath(path.replace(SOURCE_DIR, str(target_dir.resolve()))))


def line_with(text: str, needle: str) -> str:
    lines = [line for line in text.splitlines() if needle in line]
    assert len(lines) == 1, f"{needle!r} on {len(lines)} lines"
    return lines[0]


# --------------------------------------------------------------------------
# create-pyproject: the files.


def test_create_pyproject_writes_generated_files(project, cli) -> None:
    before = project.snapshot()
    result = create(cli, project, project.root)
    for rel in GENERATED:
        path = project.root / rel
        assert path.is_file(), rel
        assert f"wrote {path}" in result.stdout
        assert GENERATED_MARKER in path.read_text()
    assert "ops namespace: _mykernel_<backend>_abc123" in result.stdout
    after = project.snapshot()
    # Only the generated files (and the cmake/ folder) are new; nothing else changed.
    assert set(after) - set(before) == set(GENERATED) | {"cmake"}
    assert {k: after[k] for k in before} == before


def test_pyproject_toml(project, cli) -> None:
    project.general["python-depends"] = ["einops"]
    project.general["version"] = 3
    project.write()
    create(cli, project, project.root)
    text = (project.root / "pyproject.toml").read_text()
    assert text.splitlines()[0].startswith("#") and GENERATED_MARKER in text.splitlines()[0]
    data = tomllib.loads(text)
    assert data["build-system"]["build-backend"] == "scikit_build_core.build"
    assert any(r.startswith("scikit-build-core") for r in data["build-system"]["requires"])
    assert "torch" in data["build-system"]["requires"]
    assert data["project"]["name"] == "mykernel"
    assert data["project"]["version"] == "3"
    assert data["project"]["dependencies"] == ["einops"]
    assert data["tool"]["scikit-build"]["wheel"]["py-api"] == "cp39"


def test_pyproject_toml_dashed_name(project, cli) -> None:
    project.rename_package("my-kernel")
    project.write()
    create(cli, project, project.root)
    data = tomllib.loads((project.root / "pyproject.toml").read_text())
    assert data["project"]["name"] == "my-kernel"
    assert data["project"]["dependencies"] == []
    cmake = (project.root / "CMakeLists.txt").read_text()
    assert 'set(KERNEL_NAME "my_kernel")' in cmake
    assert "project(my_kernel " in cmake


def test_registration_h(project, cli) -> None:
    create(cli, project, project.root)
    text = (project.root / "torch-ext" / "registration.h").read_text()
    assert "#define TORCH_LIBRARY_EXPAND(" in text
    assert "#define TORCH_LIBRARY_IMPL_EXPAND(" in text
    assert "#define REGISTER_EXTENSION(" in text
    assert "#pragma once" in text
    assert text.startswith("//") and GENERATED_MARKER in text.splitlines()[0]


def test_ops_py_in(project, cli) -> None:
    create(cli, project, project.root)
    text = (project.root / "cmake" / "_ops.py.in").read_text()
    assert "@OPS_NAME@" in text
    assert GENERATED_MARKER in text.splitlines()[0]
    # What CMake's configure_file(@ONLY) makes of it is valid Python.
    ops_py = text.replace("@OPS_NAME@", "_mykernel_cpu_abc123")
    compile(ops_py, "_ops.py", "exec")
    assert "torch.ops._mykernel_cpu_abc123" in ops_py
    namespace: dict = {}
    exec(compile(ops_py.replace("import torch", "").replace("from . import", "# from . import")
                 .replace("ops = torch.ops.", "# ops = torch.ops."), "_ops.py", "exec"), namespace)
    assert namespace["add_op_namespace_prefix"]("relu") == "_mykernel_cpu_abc123::relu"


def test_cmakelists_names_the_kernel(project, cli) -> None:
    create(cli, project, project.root, unique_id="u_1")
    text = (project.root / "CMakeLists.txt").read_text()
    assert GENERATED_MARKER in text.splitlines()[0]
    assert re.search(r"^project\(mykernel\b", text, re.M)
    assert 'set(KERNEL_NAME "mykernel")' in text
    assert 'set(KERNEL_UNIQUE_ID "u_1")' in text
    assert 'set(KERNEL_SUPPORTED_BACKENDS "cpu;cuda")' in text
    # The ops namespace: _<name>_<backend>_<unique id>.
    assert 'set(OPS_NAME "_${KERNEL_NAME}_${KERNEL_BACKEND}_${KERNEL_UNIQUE_ID}")' in text
    assert "TORCH_EXTENSION_NAME=${OPS_NAME}" in text
    # Both kernels, each under its own backend.
    assert kernel_block(text, "x").startswith('if(KERNEL_BACKEND STREQUAL "cuda")')
    assert kernel_block(text, "x_cpu").startswith('if(KERNEL_BACKEND STREQUAL "cpu")')


def test_cmakelists_sources_in_kernel_dir(project, cli) -> None:
    create(cli, project, project.root)
    text = (project.root / "CMakeLists.txt").read_text()
    assert f'set(KERNEL_SOURCE_DIR "{SOURCE_DIR}")' in text
    assert quoted_paths(line_with(text, "add_library(kb_kernel_x OBJECT")) == [f"{SOURCE_DIR}/x_cuda/x.cu"]
    assert quoted_paths(line_with(text, "add_library(kb_kernel_x_cpu OBJECT")) == [f"{SOURCE_DIR}/x_cpu/x.cpp"]
    assert quoted_paths(line_with(text, "Python_add_library(")) == [
        f"{SOURCE_DIR}/torch-ext/torch_binding.cpp", f"{SOURCE_DIR}/torch-ext/torch_binding.h",
    ]


@pytest.mark.parametrize(
    "where", ["sibling", "deeper", "inside-project", "relative-arg"],
)
def test_cmakelists_sources_from_other_target_dir(project, cli, tmp_path: Path, monkeypatch, where: str) -> None:
    target = {
        "sibling": tmp_path / "gen",
        "deeper": tmp_path / "out" / "a" / "b",
        "inside-project": project.root / "build-gen",
        "relative-arg": tmp_path / "rel" / "gen",
    }[where]
    arg: Path | str = target
    if where == "relative-arg":
        (tmp_path / "rel").mkdir()
        monkeypatch.chdir(tmp_path / "rel")
        arg = "gen"
    before = project.snapshot()
    create(cli, project, project.root, arg)
    for rel in GENERATED:
        assert (target / rel).is_file(), rel
        assert not (project.root / rel).exists(), f"{rel} written into the kernel dir"
    if where != "inside-project":
        assert project.snapshot() == before
    text = (target / "CMakeLists.txt").read_text()
    kernel_dir = project.root.resolve()

    source_dir = re.search(r'set\(KERNEL_SOURCE_DIR "([^"]+)"\)', text)[1]
    assert resolve_cmake_path(source_dir, target) == kernel_dir
    # Relative to the generated CMakeLists.txt, not absolute: the pair can move together.
    assert str(kernel_dir) not in text
    for line_start, files in [
        ("add_library(kb_kernel_x OBJECT", ["x_cuda/x.cu"]),
        ("add_library(kb_kernel_x_cpu OBJECT", ["x_cpu/x.cpp"]),
        ("Python_add_library(", ["torch-ext/torch_binding.cpp", "torch-ext/torch_binding.h"]),
    ]:
        paths = quoted_paths(line_with(text, line_start))
        assert [resolve_cmake_path(p, target) for p in paths] == [kernel_dir / f for f in files]
        for path in paths:
            assert resolve_cmake_path(path, target).is_file()
    # The kernel's Python package is installed from the kernel dir.
    assert '"${KERNEL_SOURCE_DIR}/torch-ext/${KERNEL_NAME}/"' in text


def test_render_cmakelists_relative_source_root(project, tmp_path: Path) -> None:
    config = load_config(project.root)
    text = render_cmakelists(config, tmp_path / "x" / "y", "id")
    assert f'set(KERNEL_SOURCE_DIR "{SOURCE_DIR}/../../mykernel")' in text


def test_cmakelists_includes(project, cli) -> None:
    project.add_file("include/common.h")
    project.add_file("x_cuda/include/x.h")
    project.torch["include"] = ["include"]
    project.kernel()["include"] = ["x_cuda/include"]
    project.write()
    create(cli, project, project.root)
    text = (project.root / "CMakeLists.txt").read_text()
    block = kernel_block(text, "x")
    assert quoted_paths(line_with(block, "target_include_directories(kb_kernel_x PRIVATE")) == [
        f"{SOURCE_DIR}/x_cuda/include"
    ]
    assert f'"{SOURCE_DIR}/include"' in line_with(text, "target_include_directories(${OPS_NAME} PRIVATE")
    assert "target_include_directories(kb_kernel_x_cpu PRIVATE" not in kernel_block(text, "x_cpu")


def test_cmakelists_per_kernel_flags(project, cli) -> None:
    project.kernel("x_cpu")["cxx-flags"] = ["-O3", "-DKB_CPU=1"]
    project.kernel()["cuda-flags"] = ["--use_fast_math", "-DKB_DEV=1"]
    project.kernel()["cxx-flags"] = ["-DKB_HOST=1"]
    project.write()
    create(cli, project, project.root)
    text = (project.root / "CMakeLists.txt").read_text()
    cpu, cuda = kernel_block(text, "x_cpu"), kernel_block(text, "x")

    cpu_opts = line_with(cpu, "target_compile_options(kb_kernel_x_cpu")
    assert "COMPILE_LANGUAGE:CXX" in cpu_opts
    assert "-O3" in cpu_opts and "-DKB_CPU=1" in cpu_opts
    assert "COMPILE_LANGUAGE:CUDA" not in cpu

    cuda_opts = line_with(cuda, "COMPILE_LANGUAGE:CUDA")
    assert cuda_opts.strip().startswith("target_compile_options(kb_kernel_x ")
    assert "--use_fast_math" in cuda_opts and "-DKB_DEV=1" in cuda_opts
    assert "-DKB_HOST=1" not in cuda_opts
    host_opts = line_with(cuda, "COMPILE_LANGUAGE:CXX")
    assert host_opts.strip().startswith("target_compile_options(kb_kernel_x ")
    assert "-DKB_HOST=1" in host_opts and "--use_fast_math" not in host_opts

    # Each kernel's flags stay on its own target.
    for flag in ("-O3", "-DKB_CPU=1"):
        assert flag not in cuda
    for flag in ("--use_fast_math", "-DKB_DEV=1", "-DKB_HOST=1"):
        assert flag not in cpu
        assert flag not in text.replace(cuda, "")


def test_cmakelists_no_flags_no_compile_options(project, cli) -> None:
    create(cli, project, project.root)
    text = (project.root / "CMakeLists.txt").read_text()
    assert "target_compile_options(kb_kernel_x_cpu" not in text
    assert "target_compile_options(kb_kernel_x " not in text


def _cmake() -> str | None:
    """The cmake that builds use: the one installed with kernel-builder, else PATH's."""
    venv_cmake = Path(sys.executable).parent / "cmake"
    return str(venv_cmake) if venv_cmake.exists() else shutil.which("cmake")


@pytest.mark.skipif(_cmake() is None or shutil.which("c++") is None, reason="needs cmake and a C++ compiler")
def test_per_kernel_flags_reach_the_compiler_verbatim(project, cli, tmp_path: Path) -> None:
    """The target_compile_options lines, evaluated by real CMake, give the compiler exactly the flags."""
    cxx_flags = ["-DKB_A=1", "-DKB_B=2"]
    cuda_flags = ["--use_fast_math", "-DKB_C=3"]
    project.kernel("x_cpu")["cxx-flags"] = cxx_flags
    project.kernel()["cuda-flags"] = cuda_flags
    project.write()
    create(cli, project, project.root)
    text = (project.root / "CMakeLists.txt").read_text()
    cpu_line = line_with(kernel_block(text, "x_cpu"), "target_compile_options(")
    # No CUDA compiler here: evaluate the CUDA flags line as if it were for C++.
    cuda_line = line_with(kernel_block(text, "x"), "COMPILE_LANGUAGE:CUDA").replace(
        "COMPILE_LANGUAGE:CUDA", "COMPILE_LANGUAGE:CXX")

    src = tmp_path / "cmake-check"
    src.mkdir()
    (src / "a.cpp").write_text("int f() { return 0; }\n")
    (src / "CMakeLists.txt").write_text(
        "cmake_minimum_required(VERSION 3.20)\nproject(check LANGUAGES CXX)\n"
        "add_library(kb_kernel_x_cpu OBJECT a.cpp)\nadd_library(kb_kernel_x OBJECT a.cpp)\n"
        f"{cpu_line.strip()}\n{cuda_line.strip()}\n"
    )
    result = subprocess.run(
        [_cmake(), "-S", str(src), "-B", str(src / "build"), "-DCMAKE_EXPORT_COMPILE_COMMANDS=ON"],
        capture_output=True, text=True,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Warning" not in result.stderr, result.stderr
    import json

    commands = json.loads((src / "build" / "compile_commands.json").read_text())
    by_target = {}
    for entry in commands:
        target = re.search(r"CMakeFiles/(\w+)\.dir/", entry["output"] if "output" in entry else entry["command"])[1]
        by_target[target] = shlex.split(entry["command"])
    for target, flags in (("kb_kernel_x_cpu", cxx_flags), ("kb_kernel_x", cuda_flags)):
        argv = by_target[target]
        for flag in flags:
            assert flag in argv, f"{flag!r} not an argument of {argv}"
        assert not any('"' in arg for arg in argv), argv


# --------------------------------------------------------------------------
# CUDA capabilities per toolkit.


@pytest.mark.parametrize(
    "caps",
    [["8.0", "9.0"], ["7.0", "9.0", "10.0"], ["5.0", "12.1a"], ["9.0a", "11.0"], ["10.1"]],
    ids=lambda caps: "+".join(caps),
)
def test_cuda_capability_table_lists_only_supported(project, cli, caps: list[str]) -> None:
    project.kernel()["cuda-capabilities"] = caps
    project.write()
    create(cli, project, project.root)
    text = (project.root / "CMakeLists.txt").read_text()
    table = arch_table(kernel_block(text, "x"))
    assert list(table) == list(TOOLKITS)
    for version, toolkit in TOOLKITS.items():
        # Issue 16: the loose intersection with the toolkit's kernel capabilities (tested in test_editions.py).
        effective = effective_cuda_capabilities(caps, version)
        assert table[version] == [c for c in effective if c in toolkit["supported"]], version
    assert 'kb_set_cuda_archs(kb_kernel_x "${_kb_caps}"' in kernel_block(text, "x")


def test_cuda_capability_table_8_0_and_9_0(project, cli) -> None:
    project.kernel()["cuda-capabilities"] = ["8.0", "9.0"]
    project.write()
    create(cli, project, project.root)
    table = arch_table(kernel_block((project.root / "CMakeLists.txt").read_text(), "x"))
    assert table == {version: ["8.0", "9.0"] for version in TOOLKITS}


def test_cuda_capability_table_defaults(project, cli) -> None:
    """Without cuda-capabilities: each toolkit's default capabilities."""
    create(cli, project, project.root)
    table = arch_table(kernel_block((project.root / "CMakeLists.txt").read_text(), "x"))
    assert table == {v: [c for c in t["default"] if c in t["supported"]] for v, t in TOOLKITS.items()}
    assert "7.0" in table["12.6"] and "7.0" not in table["13.0"]
    assert "12.0" not in table["12.6"] and "12.0" in table["12.8"]


def test_cuda_capability_table_unknown_toolkit_fails(project, cli) -> None:
    create(cli, project, project.root)
    block = kernel_block((project.root / "CMakeLists.txt").read_text(), "x")
    else_part = block[block.index("  else()"):]
    assert "message(FATAL_ERROR" in else_part.splitlines()[1]
    for version in TOOLKITS:
        assert version in else_part.splitlines()[1]


def test_cpu_kernel_has_no_cuda_table(project, cli) -> None:
    create(cli, project, project.root)
    block = kernel_block((project.root / "CMakeLists.txt").read_text(), "x_cpu")
    assert "KB_CUDA_TOOLKIT" not in block
    assert "kb_set_cuda_archs" not in block


def test_cuda_arch_tables_api(project) -> None:
    project.kernel()["cuda-capabilities"] = ["7.0", "12.0a"]
    project.write()
    config = load_config(project.root)
    tables = cuda_arch_tables(config.kernels["x"])
    assert tables["12.6"] == ["7.0"]
    assert tables["12.8"] == ["7.0", "12.0a"]
    assert tables["13.0"] == ["12.0a"]
    assert cuda_arch_tables(None) == {v: [c for c in t["default"] if c in t["supported"]] for v, t in TOOLKITS.items()}


# --------------------------------------------------------------------------
# Other [torch] and [kernel] options in CMake.


def test_cmakelists_stable_abi(project, cli) -> None:
    create(cli, project, project.root)
    assert "TORCH_STABLE_ONLY" not in (project.root / "CMakeLists.txt").read_text()
    project.torch["stable-abi"] = "2.11"
    project.write()
    create(cli, project, "-f", project.root)
    text = (project.root / "CMakeLists.txt").read_text()
    # Issue 16: only TORCH_TARGET_VERSION = (2 << 56) | (11 << 48), set per backend.
    assert "TORCH_STABLE_ONLY" not in text
    assert "set(KB_STABLE_ABI_TARGET 0x020b000000000000)" in text
    assert 'set(KB_STABLE_ABI_DEFINES "TORCH_TARGET_VERSION=${KB_STABLE_ABI_TARGET}")' in text


def test_cmakelists_pyext(project, cli) -> None:
    project.torch["pyext"] = ["py", "json"]
    project.write()
    create(cli, project, project.root)
    text = (project.root / "CMakeLists.txt").read_text()
    assert 'PATTERN "*.py" PATTERN "*.json"' in text
    assert 'PATTERN "*.pyi"' not in text


def test_cmakelists_default_pyext(project, cli) -> None:
    create(cli, project, project.root)
    assert 'PATTERN "*.py" PATTERN "*.pyi"' in (project.root / "CMakeLists.txt").read_text()


def test_cmakelists_dashed_kernel_section(project, cli) -> None:
    project.data["kernel"]["my-op"] = project.data["kernel"].pop("x_cpu")
    project.write()
    create(cli, project, project.root)
    text = (project.root / "CMakeLists.txt").read_text()
    assert "add_library(kb_kernel_my_op OBJECT" in text
    assert "target_link_libraries(${OPS_NAME} PRIVATE kb_kernel_my_op)" in text


def test_cmakelists_skips_backends_it_cannot_build(project, cli) -> None:
    """Neuron is Python-only (no [kernel.*] sections, issue 16): it is left out, the rest is generated."""
    project.general["backends"] = ["cpu", "cuda", "neuron"]
    project.write()
    create(cli, project, project.root)
    text = (project.root / "CMakeLists.txt").read_text()
    assert 'set(KERNEL_SUPPORTED_BACKENDS "cpu;cuda")' in text
    assert "kb_kernel_n" not in text
    assert "x_neuron" not in text
    assert "neuron" not in text.lower()


def test_cmake_backends() -> None:
    assert set(CMAKE_BACKENDS) == {"cpu", "cuda", "metal", "rocm", "xpu"}
    assert "neuron" not in CMAKE_BACKENDS


# --------------------------------------------------------------------------
# Overwriting.


def test_refuses_to_overwrite_without_force(project, cli, expect_error) -> None:
    create(cli, project, project.root)
    cmakelists = project.root / "CMakeLists.txt"
    cmakelists.write_text(cmakelists.read_text() + "# my edit\n")
    before = project.snapshot()
    line = expect_error(cli("create-pyproject", "--unique-id", "other", project.root), "already exists", "-f")
    assert str(project.root) in line
    assert project.snapshot() == before


def test_refuses_to_overwrite_hand_written_pyproject(project, cli, expect_error) -> None:
    """A kernel with its own pyproject.toml: nothing is written at all without -f."""
    own = '[project]\nname = "mine"\n'
    project.add_file("pyproject.toml", own)
    before = project.snapshot()
    expect_error(cli("create-pyproject", "--unique-id", "abc", project.root),
                 str(project.root / "pyproject.toml"), "already exists")
    assert project.snapshot() == before
    assert not (project.root / "CMakeLists.txt").exists()


def test_force_overwrites(project, cli) -> None:
    create(cli, project, project.root)
    (project.root / "CMakeLists.txt").write_text("# my edit\n")
    (project.root / "pyproject.toml").write_text("[project]\n")
    create(cli, project, "-f", project.root, unique_id="second")
    text = (project.root / "CMakeLists.txt").read_text()
    assert 'set(KERNEL_UNIQUE_ID "second")' in text
    assert "# my edit" not in text
    assert GENERATED_MARKER in (project.root / "pyproject.toml").read_text()
    result = create(cli, project, "--force", project.root, unique_id="third")
    assert 'set(KERNEL_UNIQUE_ID "third")' in (project.root / "CMakeLists.txt").read_text()
    # Only the file holding the id is rewritten; the CLI says which files were left as they were.
    assert f"wrote {project.root / 'CMakeLists.txt'}" in result.stdout
    assert f"unchanged {project.root / 'pyproject.toml'}" in result.stdout


def test_regenerating_leaves_unchanged_files_untouched(project, tmp_path: Path) -> None:
    """Each local build regenerates the project: identical files keep their mtime, so
    Ninja does not recompile every source including torch-ext/registration.h."""
    config = load_config(project.root)
    target = tmp_path / "generated"
    first = create_pyproject(config, target, "same")
    written = first.written
    assert written and first.unchanged == []
    old = 1_000_000_000_000_000_000  # 2001, far older than any write below
    for path in written:
        os.utime(path, ns=(old, old))
    again = create_pyproject(config, target, "same", force=True)
    assert again.written == [] and again.unchanged == written
    assert {p.relative_to(target).as_posix(): p.stat().st_mtime_ns for p in written} == {
        p.relative_to(target).as_posix(): old for p in written
    }
    # A changed id rewrites exactly the file that holds it.
    other = create_pyproject(config, target, "other", force=True)
    assert [p.relative_to(target).as_posix() for p in other.written] == ["CMakeLists.txt"]
    changed = sorted(p.relative_to(target).as_posix() for p in written if p.stat().st_mtime_ns != old)
    assert changed == ["CMakeLists.txt"]
    assert 'set(KERNEL_UNIQUE_ID "other")' in (target / "CMakeLists.txt").read_text()


def test_force_does_not_follow_symlinks(project, cli, expect_error, tmp_path: Path) -> None:
    victim = tmp_path / "victim.txt"
    victim.write_text("keep me\n")
    (project.root / "CMakeLists.txt").symlink_to(victim)
    result = cli("create-pyproject", "-f", "--unique-id", "abc", project.root)
    expect_error(result, "symlink")
    assert victim.read_text() == "keep me\n"


def test_library_create_pyproject(project, tmp_path: Path) -> None:
    config = load_config(project.root)
    target = tmp_path / "lib-target"
    written = create_pyproject(config, target, "lib_id").written
    assert sorted(p.relative_to(target).as_posix() for p in written) == sorted(GENERATED)
    with pytest.raises(KernelBuilderError, match="already exists"):
        create_pyproject(config, target, "lib_id")
    with pytest.raises(KernelBuilderError, match="--unique-id"):
        create_pyproject(config, target, "bad-id", force=True)
    assert [f.path for f in generated_files(config, target, "x")] == GENERATED


@pytest.mark.parametrize("good", ["abc", "ABC_123", "0", "deadbee_dirty", "_"])
def test_validate_unique_id_accepts(good: str) -> None:
    assert validate_unique_id(good) == good


@pytest.mark.parametrize("bad", ["", "a-b", "a b", "a/b", "a.b", "é", "a\tb"])
def test_validate_unique_id_rejects(bad: str) -> None:
    with pytest.raises(KernelBuilderError) as info:
        validate_unique_id(bad)
    assert "--unique-id" in str(info.value)
    assert repr(bad) in str(info.value)


# --------------------------------------------------------------------------
# The unique id from git.


@pytest.fixture
def repo(project, git, no_git_above):
    """The project as a git repository with one commit."""
    git(project.root, "init", "-q")
    git(project.root, "add", "-A")
    git(project.root, "commit", "-q", "-m", "initial")
    return project


def _ops_id(project) -> str:
    return re.search(r'set\(KERNEL_UNIQUE_ID "([^"]*)"\)', (project.root / "CMakeLists.txt").read_text())[1]


def test_unique_id_is_git_short_sha(repo, cli, git) -> None:
    head = git(repo.root, "rev-parse", "HEAD")
    result = create(cli, repo, repo.root, unique_id=None)
    assert _ops_id(repo) == head[:7]
    assert f"ops namespace: _mykernel_<backend>_{head[:7]}" in result.stdout


def test_generated_files_do_not_make_the_tree_dirty(repo, cli, git) -> None:
    head = git(repo.root, "rev-parse", "HEAD")
    create(cli, repo, repo.root, unique_id=None)
    # The generated files are untracked now; generating again keeps the clean id.
    create(cli, repo, "-f", repo.root, unique_id=None)
    assert _ops_id(repo) == head[:7]


def test_unique_id_dirty_after_modifying_tracked_file(repo, cli, git) -> None:
    head = git(repo.root, "rev-parse", "HEAD")
    with open(repo.root / "x_cpu" / "x.cpp", "a") as f:
        f.write("// changed\n")
    result = create(cli, repo, repo.root, unique_id=None)
    assert _ops_id(repo) == f"{head[:7]}_dirty"
    assert f"_mykernel_<backend>_{head[:7]}_dirty" in result.stdout


def test_unique_id_dirty_after_staged_change(repo, cli, git) -> None:
    head = git(repo.root, "rev-parse", "HEAD")
    (repo.root / "build.toml").write_text(repo.build_toml.read_text() + "\n")
    git(repo.root, "add", "build.toml")
    create(cli, repo, repo.root, unique_id=None)
    assert _ops_id(repo) == f"{head[:7]}_dirty"


def test_unique_id_clean_again_after_commit(repo, cli, git) -> None:
    with open(repo.root / "x_cpu" / "x.cpp", "a") as f:
        f.write("// changed\n")
    git(repo.root, "commit", "-q", "-am", "second")
    head = git(repo.root, "rev-parse", "HEAD")
    create(cli, repo, repo.root, unique_id=None)
    assert _ops_id(repo) == head[:7]


def test_unique_id_of_kernel_in_subdirectory(tmp_path: Path, cli, git, no_git_above, new_project) -> None:
    """A kernel inside a larger repository uses that repository's commit."""
    repo_root = tmp_path / "repo"
    project = new_project(repo_root / "kernels" / "mykernel")
    (repo_root / "README.md").write_text("repo\n")
    git(repo_root, "init", "-q")
    git(repo_root, "add", "-A")
    git(repo_root, "commit", "-q", "-m", "initial")
    head = git(repo_root, "rev-parse", "HEAD")
    create(cli, project, project.root, unique_id=None)
    assert _ops_id(project) == head[:7]
    with open(project.root / "x_cuda" / "x.cu", "a") as f:
        f.write("// changed\n")
    create(cli, project, "-f", project.root, unique_id=None)
    assert _ops_id(project) == f"{head[:7]}_dirty"


def test_given_unique_id_wins_over_git(repo, cli) -> None:
    with open(repo.root / "x_cpu" / "x.cpp", "a") as f:
        f.write("// changed\n")
    create(cli, repo, repo.root, unique_id="given_1")
    assert _ops_id(repo) == "given_1"


def test_unique_id_without_git(project, cli, no_git_above) -> None:
    create(cli, project, project.root, unique_id=None)
    assert re.fullmatch(r"[0-9a-f]{8}", _ops_id(project))


def test_gitinfo_api(repo, git, project) -> None:
    status = git_status(repo.root)
    assert status is not None
    assert status.commit == git(repo.root, "rev-parse", "HEAD")
    assert len(status.commit) == 40
    assert status.short == status.commit[:7]
    assert not status.dirty
    (repo.root / "torch-ext" / "mykernel" / "__init__.py").write_text("# changed\n")
    assert git_status(repo.root).dirty
    assert unique_id(repo.root) == status.short + "_dirty"
    assert unique_id(repo.root, "given") == "given"


def test_gitinfo_outside_git(tmp_path: Path, no_git_above) -> None:
    assert git_status(tmp_path) is None
    first, second = unique_id(tmp_path), unique_id(tmp_path)
    assert re.fullmatch(r"[0-9a-f]{8}", first)
    assert first != second  # random, so two builds never share a namespace


# --------------------------------------------------------------------------
# clean-pyproject.


def test_clean_removes_exactly_the_generated_files(project, cli) -> None:
    project.add_file("torch-ext/other.h", "// mine\n")
    project.add_file("torch-ext/mykernel/helpers.py", "X = 1\n")
    before = project.snapshot()
    create(cli, project, project.root)
    result = cli("clean-pyproject", "-f", project.root)
    assert result.exit_code == 0, result.output
    for rel in GENERATED:
        assert f"removing {project.root / rel}" in result.stdout
    assert project.snapshot() == before


def test_clean_other_target_dir(project, cli, tmp_path: Path) -> None:
    target = tmp_path / "gen"
    before = project.snapshot()
    create(cli, project, project.root, target)
    result = cli("clean-pyproject", "-f", project.root, target)
    assert result.exit_code == 0, result.output
    for rel in GENERATED:
        assert not (target / rel).exists()
    assert not (target / "cmake").exists()
    assert project.snapshot() == before


def test_clean_other_target_dir_leaves_nothing_behind(project, cli, tmp_path: Path) -> None:
    target = tmp_path / "gen"
    create(cli, project, project.root, target)
    assert cli("clean-pyproject", "-f", project.root, target).exit_code == 0
    assert list(target.rglob("*")) == []


def test_clean_keeps_hand_written_pyproject(project, cli) -> None:
    create(cli, project, project.root)
    own = '[project]\nname = "mykernel"\n# hand-written, mentions kernel-builder but no marker\n'
    (project.root / "pyproject.toml").write_text(own)
    result = cli("clean-pyproject", "-f", project.root)
    assert result.exit_code == 0, result.output
    assert (project.root / "pyproject.toml").read_text() == own
    assert f"keeping {project.root / 'pyproject.toml'}: not generated by kernel-builder" in result.stdout
    assert not (project.root / "CMakeLists.txt").exists()
    assert not (project.root / "torch-ext" / "registration.h").exists()


def test_clean_keeps_edited_registration_h_and_author_cmake_files(project, cli) -> None:
    create(cli, project, project.root)
    own_h = "#pragma once\n// my own registration helpers\n"
    (project.root / "torch-ext" / "registration.h").write_text(own_h)
    project.add_file("cmake/utils.cmake", "# mine\n")
    result = cli("clean-pyproject", "-f", project.root)
    assert result.exit_code == 0, result.output
    assert (project.root / "torch-ext" / "registration.h").read_text() == own_h
    assert (project.root / "cmake" / "utils.cmake").read_text() == "# mine\n"
    assert not (project.root / "cmake" / "_ops.py.in").exists()
    assert not (project.root / "CMakeLists.txt").exists()
    assert (project.root / "torch-ext" / "mykernel" / "__init__.py").exists()
    assert (project.root / "torch-ext" / "torch_binding.cpp").exists()


def test_clean_keeps_symlinks(project, cli, tmp_path: Path) -> None:
    elsewhere = tmp_path / "elsewhere"
    create(cli, project, project.root, elsewhere)
    (project.root / "CMakeLists.txt").symlink_to(elsewhere / "CMakeLists.txt")
    result = cli("clean-pyproject", "-f", project.root)
    assert result.exit_code == 0, result.output
    assert (project.root / "CMakeLists.txt").is_symlink()
    assert (elsewhere / "CMakeLists.txt").is_file()
    assert "not a regular file" in result.stdout


def test_clean_dry_run_deletes_nothing(project, cli) -> None:
    create(cli, project, project.root)
    before = project.snapshot()
    for args in (["-d"], ["--dry-run"], ["-d", "-f"]):
        result = cli("clean-pyproject", *args, project.root)
        assert result.exit_code == 0, result.output
        for rel in GENERATED:
            assert f"would remove {project.root / rel}" in result.stdout
        assert "removing" not in result.stdout
        assert project.snapshot() == before


def test_clean_without_force_and_tty_refuses(project, cli, expect_error) -> None:
    create(cli, project, project.root)
    before = project.snapshot()
    result = cli("clean-pyproject", project.root)
    expect_error(result, "-f")
    assert project.snapshot() == before


def test_clean_refusal_does_not_claim_removal(project, cli) -> None:
    create(cli, project, project.root)
    result = cli("clean-pyproject", project.root)
    assert result.exit_code != 0
    assert "removing" not in result.stdout


class _TTY:
    def isatty(self) -> bool:
        return True


class _SysWithTTY:
    """kernel_builder.cli's view of ``sys``, with stdin a terminal."""

    stdin = _TTY()

    def __getattr__(self, name: str):
        return getattr(sys, name)


@pytest.mark.parametrize("answer,removed", [("y\n", True), ("n\n", False), ("\n", False)])
def test_clean_asks_on_a_tty(project, cli, monkeypatch, answer: str, removed: bool) -> None:
    create(cli, project, project.root)
    before = project.snapshot()
    monkeypatch.setattr(cli_module, "sys", _SysWithTTY())
    result = cli("clean-pyproject", project.root, input=answer)
    assert f"Delete {len(GENERATED)} generated file(s)?" in result.output
    if removed:
        assert result.exit_code == 0, result.output
        for rel in GENERATED:
            assert not (project.root / rel).exists()
    else:
        assert result.exit_code != 0
        assert isinstance(result.exception, SystemExit)
        assert project.snapshot() == before


def test_clean_nothing_to_clean(project, cli) -> None:
    before = project.snapshot()
    result = cli("clean-pyproject", project.root)
    assert result.exit_code == 0, result.output
    assert "nothing to clean" in result.stdout
    assert project.snapshot() == before


def test_clean_ops_id_removes_only_that_build(project, cli) -> None:
    package = project.root / "torch-ext" / "mykernel"
    built = [package / "_mykernel_cpu_abc123.abi3.so", package / "_mykernel_cuda_abc123.abi3.so"]
    kept = [
        package / "_mykernel_cpu_other.abi3.so",      # another build
        package / "_mykernel_cpu_abc1234.abi3.so",    # id with the same prefix
        package / "_mykernel_cpu_abc123.py",          # not a library
        package / "__init__.py",
    ]
    for path in built + kept[:3]:
        path.write_bytes(b"\x7fELF")
    create(cli, project, project.root)
    # Without --ops-id, built extensions stay.
    assert cli("clean-pyproject", "-f", project.root).exit_code == 0
    assert all(p.exists() for p in built)
    result = cli("clean-pyproject", "-f", "--ops-id", "abc123", project.root)
    assert result.exit_code == 0, result.output
    for path in built:
        assert not path.exists()
        assert f"removing {path}" in result.stdout
    for path in kept:
        assert path.exists(), path


def test_clean_ops_id_does_not_match_suffix_of_other_id(project, cli) -> None:
    package = project.root / "torch-ext" / "mykernel"
    other = package / "_mykernel_cpu_1234567_dirty.abi3.so"
    other.write_bytes(b"\x7fELF")
    assert cli("clean-pyproject", "-f", "--ops-id", "dirty", project.root).exit_code == 0
    assert other.exists()


def test_plan_clean_api(project, cli) -> None:
    config = load_config(project.root)
    assert plan_clean(config, project.root).remove == []
    create(cli, project, project.root)
    plan = plan_clean(config, project.root)
    assert sorted(p.relative_to(project.root).as_posix() for p in plan.remove) == sorted(GENERATED)
    assert plan.skipped == []
    with pytest.raises(KernelBuilderError, match="--ops-id"):
        plan_clean(config, project.root, "a-b")
