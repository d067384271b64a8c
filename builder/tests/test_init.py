"""kernel-builder init: the scaffold, its names and backends, and writing it safely.

Building and running the CPU scaffold end to end is in tests/test_init_e2e.py.
"""

from __future__ import annotations

import ast
import os
import shutil
import subprocess
import sys
import sysconfig
from pathlib import Path

import pytest

from kernel_builder.upload.card import fill_card
from kernel_builder.config import load_config
from kernel_builder.cli.init import (
    init_backends,
    DEFAULT_FLAKE_URL,
    FLAKE_URL_ENV,
    KernelName,
    resolve_backends,
    scaffold_files,
)

ALL = tuple(init_backends())

#: Backend -> the source files its kernel section adds (module "my_kernel").
BACKEND_FILES = {
    "cpu": {"my_kernel_cpu/my_kernel_cpu.cpp"},
    "cuda": {"my_kernel_cuda/my_kernel.cu"},
    "metal": {"my_kernel_metal/my_kernel.mm", "my_kernel_metal/my_kernel.metal"},
    "rocm": {"my_kernel_rocm/my_kernel.cu"},  # shares my_kernel_cuda/ when cuda is selected too
    "xpu": {"my_kernel_xpu/my_kernel.cpp"},
}
COMMON_FILES = {
    "build.toml", "CARD.md", "example.py", "flake.nix",
    "torch-ext/torch_binding.cpp", "torch-ext/torch_binding.h",
    "torch-ext/my_kernel/__init__.py", "torch-ext/my_kernel/layers.py",
    "tests/__init__.py", "tests/conftest.py", "tests/test_my_kernel.py",
    "benchmarks/benchmark.py",
}


def project_files(root: Path) -> set[str]:
    return {p.relative_to(root).as_posix() for p in root.rglob("*") if p.is_file()}


def snapshot(root: Path) -> dict[str, bytes]:
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in root.rglob("*") if p.is_file()}


def expected_files(backends: tuple[str, ...]) -> set[str]:
    files = set(COMMON_FILES)
    for backend in backends:
        if backend == "rocm" and "cuda" in backends:
            continue
        files |= BACKEND_FILES[backend]
    return files


# --------------------------------------------------------------------------
# The scaffold for every backend set.

BACKEND_SETS = [
    pytest.param([], ("cuda",), id="default"),
    *[pytest.param([b], (b,), id=b) for b in ALL],
    pytest.param(["cpu", "cuda"], ("cpu", "cuda"), id="cpu-cuda"),
    pytest.param(["cuda", "rocm"], ("cuda", "rocm"), id="cuda-rocm"),
    pytest.param(["xpu", "cpu"], ("cpu", "xpu"), id="xpu-cpu-reordered"),
    pytest.param(["all"], ALL, id="all"),
]


@pytest.mark.parametrize("args, backends", BACKEND_SETS)
def test_init_each_backend_set(tmp_path: Path, cli, args: list[str], backends: tuple[str, ...]) -> None:
    target = tmp_path / "my-kernel"
    options = ["--backends", *args] if args else []
    result = cli("init", target, "--name", "myorg/my-kernel", *options)
    assert result.exit_code == 0, result.output
    assert f"Initialized `myorg/my-kernel` at {target}" in result.stdout
    assert f"(backends: {', '.join(backends)})" in result.stdout

    assert project_files(target) == expected_files(backends)
    for path in target.rglob("*"):
        if path.is_file():
            text = path.read_text(encoding="utf-8")
            assert "@@" not in text, f"unfilled placeholder in {path}"
            if path.suffix == ".py":
                ast.parse(text, filename=str(path))

    # The generated build.toml passes check-config and says what was asked for.
    check = cli("check-config", target)
    assert check.exit_code == 0, check.output
    assert "OK" in check.stdout
    config = load_config(target)
    assert config.general.name == "my-kernel"
    assert config.general.backends == backends
    assert config.general.license == "Apache-2.0"
    assert config.general.hub.repo_id == "myorg/my-kernel"
    assert sorted(k.backend for k in config.kernels.values()) == sorted(backends)
    assert set(config.kernels) == {f"my_kernel_{b}" for b in backends}

    # Only the selected backends are registered in the binding.
    binding = (target / "torch-ext" / "torch_binding.cpp").read_text()
    for backend in ALL:
        assert (f"defined({backend.upper()}_KERNEL)" in binding) == (backend in backends)
    assert 'ops.def("my_kernel(Tensor! out, Tensor input) -> ()");' in binding

    # The card template keeps the build-time placeholders and fills cleanly.
    card_template = (target / "CARD.md").read_text()
    assert "{{repo_id}}" in card_template and "{{functions}}" in card_template
    card = fill_card(config, card_template)
    assert "{{" not in card
    assert 'get_kernel("myorg/my-kernel", version=1)' in card
    assert "- `my_kernel`" in card and "- `MyKernel`" in card
    assert "license: apache-2.0" in card
    assert "kernels benchmark myorg/my-kernel" in card


@pytest.mark.parametrize("backends", [("cpu",), ("cuda", "rocm"), ("metal",), ("xpu",), ALL],
                         ids=lambda b: "-".join(b))
def test_create_pyproject_accepts_the_scaffold(tmp_path: Path, cli, backends: tuple[str, ...]) -> None:
    target = tmp_path / "k"
    assert cli("init", target, "--name", "o/k", "--backends", *backends).exit_code == 0
    result = cli("create-pyproject", target, tmp_path / "generated", "--unique-id", "abc")
    assert result.exit_code == 0, result.output
    cmake = (tmp_path / "generated" / "CMakeLists.txt").read_text()
    for backend in backends:
        if backend != "neuron":
            assert f'KERNEL_BACKEND STREQUAL "{backend}"' in cmake


def test_devices_and_layer_names_follow_the_backends(tmp_path: Path) -> None:
    files = scaffold_files(KernelName("fused-norm", "o"), ("cpu", "metal", "rocm", "xpu"))
    test = files["tests/test_fused_norm.py"]
    assert 'DEVICES = ["cuda", "xpu", "mps", "cpu"]' in test
    assert "import fused_norm" in test and "fused_norm.layers.FusedNorm()" in test
    assert 'DEVICES = ["cuda", "xpu", "mps", "cpu"]' in files["example.py"]
    assert "class FusedNormBenchmark(Benchmark)" in files["benchmarks/benchmark.py"]
    assert "class FusedNorm(nn.Module)" in files["torch-ext/fused_norm/layers.py"]
    # ROCm without CUDA: the CUDA-style source lives in a rocm directory.
    assert "fused_norm_rocm/fused_norm.cu" in files and "fused_norm_cuda/fused_norm.cu" not in files
    both = scaffold_files(KernelName("fused-norm", "o"), ("cuda", "rocm"))
    assert "fused_norm_cuda/fused_norm.cu" in both and "fused_norm_rocm/fused_norm.cu" not in both


def test_layer_is_pure() -> None:
    """The scaffold's layer follows the layer rules: forward only, allowed class variables."""
    files = scaffold_files(KernelName("k", "o"), ("cpu",))
    tree = ast.parse(files["torch-ext/k/layers.py"])
    (layer,) = [n for n in tree.body if isinstance(n, ast.ClassDef)]
    methods = [n.name for n in layer.body if isinstance(n, ast.FunctionDef)]
    variables = [n.target.id for n in layer.body if isinstance(n, ast.AnnAssign)]
    assert methods == ["forward"]
    assert set(variables) <= {"has_backward", "can_torch_compile"}
    init = files["torch-ext/k/__init__.py"]
    assert 'add_op_namespace_prefix("k")' in init
    assert 'from . import layers' in init and '__all__ = ["k", "layers"]' in init


def test_tests_are_marked_kernels_ci() -> None:
    files = scaffold_files(KernelName("k", "o"), ("cpu",))
    tree = ast.parse(files["tests/test_k.py"])
    tests = [n for n in tree.body if isinstance(n, ast.FunctionDef) and n.name.startswith("test_")]
    assert len(tests) >= 5
    for test in tests:
        decorators = [ast.unparse(d) for d in test.decorator_list]
        assert "pytest.mark.kernels_ci" in decorators, test.name
    assert "kernels_ci" in files["tests/conftest.py"]


def test_license_option(tmp_path: Path, cli) -> None:
    target = tmp_path / "k"
    result = cli("init", target, "--name", "o/k", "--backends", "cpu", "--license", "MIT")
    assert result.exit_code == 0, result.output
    assert load_config(target).general.license == "MIT"


def test_flake_points_at_the_kernel_builder_flake(tmp_path: Path, cli, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(FLAKE_URL_ENV, raising=False)
    assert cli("init", tmp_path / "a", "--name", "o/a", "--backends", "cpu").exit_code == 0
    flake = (tmp_path / "a" / "flake.nix").read_text()
    assert f'kernel-builder.url = "{DEFAULT_FLAKE_URL}";' in flake
    assert "kernel-builder.lib.genKernelFlakeOutputs" in flake and "path = ./.;" in flake
    monkeypatch.setenv(FLAKE_URL_ENV, "path:/src/kernels")
    assert cli("init", tmp_path / "b", "--name", "o/b", "--backends", "cpu").exit_code == 0
    assert 'kernel-builder.url = "path:/src/kernels";' in (tmp_path / "b" / "flake.nix").read_text()


# --------------------------------------------------------------------------
# Where and under which name.


def test_name_without_path_creates_repo_directory(tmp_path: Path, cli, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    result = cli("init", "--name", "myorg/mykernel", "--backends", "cpu")
    assert result.exit_code == 0, result.output
    assert (tmp_path / "mykernel" / "build.toml").is_file()
    assert "Next: `kernel-builder build mykernel`" in result.stdout


def test_path_and_name(tmp_path: Path, cli, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    result = cli("init", "some/dir", "--name", "myorg/other-name", "--backends", "cpu")
    assert result.exit_code == 0, result.output
    config = load_config(tmp_path / "some" / "dir")
    assert config.general.name == "other-name"
    assert (tmp_path / "some" / "dir" / "torch-ext" / "other_name" / "__init__.py").is_file()
    assert not (tmp_path / "other-name").exists()


def test_path_without_name_uses_directory_name(tmp_path: Path, cli) -> None:
    target = tmp_path / "act-fn"
    result = cli("init", target, "--backends", "cpu")
    assert result.exit_code == 0, result.output
    assert "Initialized kernel `act-fn`" in result.stdout
    assert "set general.hub.repo-id" in result.stdout
    text = (target / "build.toml").read_text()
    assert '# repo-id = "<owner>/act-fn"' in text
    config = load_config(target)
    assert config.general.name == "act-fn" and config.general.hub.repo_id is None


def test_no_arguments_initialises_the_current_directory(tmp_path: Path, cli, monkeypatch) -> None:
    target = tmp_path / "here_kernel"
    target.mkdir()
    (target / "README.md").write_text("mine\n")
    monkeypatch.chdir(target)
    result = cli("init", "--backends", "cpu")
    assert result.exit_code == 0, result.output
    # Edition 5 names use '-': the directory here_kernel/ names the kernel here-kernel (module here_kernel).
    assert load_config(target).general.name == "here-kernel"
    assert (target / "README.md").read_text() == "mine\n"  # files outside the scaffold are fine
    assert "Next: `kernel-builder build`" in result.stdout


@pytest.mark.parametrize("name, needles", [
    ("bad", ("expected OWNER/REPO",)),
    ("a/b/c", ("expected OWNER/REPO",)),
    ("org/", ("expected OWNER/REPO",)),
    ("/kernel", ("expected OWNER/REPO",)),
    ("org/1kernel", ("'1kernel'", "start with a letter")),
    ("org/my.kernel", ("'my.kernel'", "letters, digits")),
    ("org/my kernel", ("letters, digits",)),
    ("org/_private", ("start with a letter",)),
    ("org/class", ("'class'", "Python keyword")),
    ("org/import", ("Python keyword",)),
    ("org/random", ("'random'", "shadow")),
    ("org/torch", ("'torch'", "shadow")),
    ("org/tests", ("shadow",)),
    ("org/my--kernel", ("'--'",)),
    ("org/kernel-", ("end with '-'",)),
    ("org/" + "k" * 97, ("longer than 96",)),
    ("-org/k", ("owner '-org'",)),
    ("or g/k", ("owner 'or g'",)),
    ("org./k", ("owner 'org.'",)),
])
def test_invalid_names(tmp_path: Path, cli, expect_error, name: str, needles: tuple[str, ...]) -> None:
    target = tmp_path / "k"
    expect_error(cli("init", target, "--name", name, "--backends", "cpu"), "--name", *needles)
    assert not target.exists()


@pytest.mark.parametrize("dirname, needle", [("my.kernel", "letters, digits"), ("json", "shadow"),
                                             ("2fast", "start with a letter")])
def test_invalid_directory_name_suggests_name_option(tmp_path: Path, cli, expect_error, dirname: str,
                                                     needle: str) -> None:
    target = tmp_path / dirname
    expect_error(cli("init", target, "--backends", "cpu"), "directory name", needle, "--name OWNER/REPO")
    assert not target.exists()


# --------------------------------------------------------------------------
# --backends parsing.


@pytest.mark.parametrize("argv, backends", [
    (["--backends", "cpu", "cuda"], ("cpu", "cuda")),
    (["--backends", "cpu,xpu", "--backends", "metal"], ("cpu", "metal", "xpu")),
    (["--backends", "CUDA", "cpu"], ("cpu", "cuda")),
    (["--backends", "cpu", "all"], ALL),
    (["--backends", "cuda", "cuda"], ("cuda",)),
    (["--backends", "rocm", "--overwrite"], ("rocm",)),
])
def test_backends_values(tmp_path: Path, cli, argv: list[str], backends: tuple[str, ...]) -> None:
    target = tmp_path / "k"
    result = cli("init", target, "--name", "o/k", *argv)
    assert result.exit_code == 0, result.output
    assert load_config(target).general.backends == backends


def test_backends_before_name_option(tmp_path: Path, cli, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    result = cli("init", "--backends", "cuda", "xpu", "--name", "o/k")
    assert result.exit_code == 0, result.output
    assert load_config(tmp_path / "k").general.backends == ("cuda", "xpu")


@pytest.mark.parametrize("argv, needles", [
    (["--backends", "tpu"], ("unknown backend 'tpu'", "cpu, cuda, metal, rocm, xpu")),
    (["--backends", "cpu,tpu"], ("unknown backend 'tpu'",)),
    (["--backends", ","], ("at least one backend",)),
])
def test_invalid_backends(tmp_path: Path, cli, expect_error, argv: list[str], needles: tuple[str, ...]) -> None:
    target = tmp_path / "k"
    expect_error(cli("init", target, "--name", "o/k", *argv), "--backends", *needles)
    assert not target.exists()


def test_path_after_backends_is_reported(tmp_path: Path, cli, expect_error, monkeypatch) -> None:
    # Like the reference CLI, --backends takes every word up to the next option.
    monkeypatch.chdir(tmp_path)
    expect_error(cli("init", "--backends", "cpu", "mydir"), "unknown backend 'mydir'", "PATH before --backends")
    assert not (tmp_path / "mydir").exists()


def test_resolve_backends_default_and_order() -> None:
    assert resolve_backends([]) == ("cuda",)
    assert resolve_backends(["xpu", "cpu"]) == ("cpu", "xpu")


def test_invalid_license(tmp_path: Path, cli, expect_error) -> None:
    expect_error(cli("init", tmp_path / "k", "--name", "o/k", "--license", " "), "--license")
    assert not (tmp_path / "k").exists()


# --------------------------------------------------------------------------
# Existing files: refuse, or --overwrite the scaffold only.


def test_refuses_existing_scaffold_without_overwrite(tmp_path: Path, cli, expect_error) -> None:
    target = tmp_path / "k"
    assert cli("init", target, "--name", "o/k", "--backends", "cpu").exit_code == 0
    (target / "torch-ext" / "k" / "__init__.py").write_text("# edited\n")
    before = snapshot(target)
    line = expect_error(cli("init", target, "--name", "o/k", "--backends", "cpu"), "--overwrite")
    assert f"{target / 'build.toml'} already exists" in line
    assert snapshot(target) == before


def test_refusal_names_first_conflicting_file(tmp_path: Path, cli, expect_error) -> None:
    target = tmp_path / "k"
    (target / "tests").mkdir(parents=True)
    (target / "tests" / "conftest.py").write_text("# mine\n")
    line = expect_error(cli("init", target, "--name", "o/k", "--backends", "cpu"))
    assert f"{target / 'tests' / 'conftest.py'} already exists" in line
    assert "1 of them exist" in line
    assert project_files(target) == {"tests/conftest.py"}


def test_overwrite_rewrites_scaffold_and_keeps_other_files(tmp_path: Path, cli) -> None:
    target = tmp_path / "k"
    assert cli("init", target, "--name", "o/k", "--backends", "cpu", "cuda").exit_code == 0
    pristine = snapshot(target)
    (target / "k_cpu" / "k_cpu.cpp").write_text("broken\n")
    (target / "build.toml").write_text("garbage\n")
    (target / "NOTES.md").write_text("my notes\n")
    (target / "k_cpu" / "helper.h").write_text("// mine\n")

    result = cli("init", target, "--name", "o/k", "--backends", "cpu", "cuda", "--overwrite")
    assert result.exit_code == 0, result.output
    assert "Replaced 14 existing scaffold file(s); other files were kept." in result.stdout
    after = snapshot(target)
    assert {k: v for k, v in after.items() if k in pristine} == pristine
    assert after["NOTES.md"] == b"my notes\n"
    assert after["k_cpu/helper.h"] == b"// mine\n"


def test_overwrite_with_other_backends_keeps_old_sources(tmp_path: Path, cli) -> None:
    target = tmp_path / "k"
    assert cli("init", target, "--name", "o/k", "--backends", "cuda").exit_code == 0
    assert cli("init", target, "--name", "o/k", "--backends", "cpu", "--overwrite").exit_code == 0
    assert (target / "k_cuda" / "k.cu").is_file()  # not part of the new scaffold: kept
    assert load_config(target).general.backends == ("cpu",)


def test_overwrite_into_empty_directory(tmp_path: Path, cli) -> None:
    result = cli("init", tmp_path / "k", "--name", "o/k", "--backends", "cpu", "--overwrite")
    assert result.exit_code == 0, result.output
    assert "Replaced" not in result.stdout


def test_target_is_a_file(tmp_path: Path, cli, expect_error) -> None:
    (tmp_path / "k").write_text("x")
    expect_error(cli("init", tmp_path / "k", "--name", "o/k", "--backends", "cpu"), "not a directory")


def test_scaffold_file_is_a_directory(tmp_path: Path, cli, expect_error) -> None:
    (tmp_path / "k" / "build.toml").mkdir(parents=True)
    expect_error(cli("init", tmp_path / "k", "--name", "o/k", "--backends", "cpu", "--overwrite"),
                 "build.toml", "is a directory")
    assert project_files(tmp_path / "k") == set()


def test_scaffold_parent_is_a_file(tmp_path: Path, cli, expect_error) -> None:
    (tmp_path / "k").mkdir()
    (tmp_path / "k" / "tests").write_text("x")
    expect_error(cli("init", tmp_path / "k", "--name", "o/k", "--backends", "cpu", "--overwrite"),
                 "tests", "not a directory")
    assert project_files(tmp_path / "k") == {"tests"}


def test_symlinked_directory_leading_outside_is_refused(tmp_path: Path, cli, expect_error) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    (tmp_path / "k").mkdir()
    (tmp_path / "k" / "torch-ext").symlink_to(outside, target_is_directory=True)
    expect_error(cli("init", tmp_path / "k", "--name", "o/k", "--backends", "cpu", "--overwrite"),
                 "leads outside")
    assert list(outside.iterdir()) == []
    assert not (tmp_path / "k" / "build.toml").exists()


def test_overwrite_replaces_a_symlinked_file_not_its_target(tmp_path: Path, cli) -> None:
    outside = tmp_path / "elsewhere.py"
    outside.write_text("keep me\n")
    target = tmp_path / "k"
    target.mkdir()
    (target / "example.py").symlink_to(outside)
    result = cli("init", target, "--name", "o/k", "--backends", "cpu", "--overwrite")
    assert result.exit_code == 0, result.output
    assert not (target / "example.py").is_symlink()
    assert "get_local_kernel" in (target / "example.py").read_text()
    assert outside.read_text() == "keep me\n"


def test_help_reads_like_the_reference(cli) -> None:
    result = cli("init", "--help")
    assert result.exit_code == 0
    out = " ".join(result.stdout.split())
    assert "init [OPTIONS] [PATH]" in out
    assert "Initialize a new kernel project from template." in out
    for needle in ("--license LICENSE", "[default: Apache-2.0]", "--name OWNER/REPO", "--backends",
                   "`all`, `cpu`, `cuda`, `metal`, `rocm`, `xpu`",
                   "Overwrite existing scaffold files (preserves other files)."):
        assert needle in out


# --------------------------------------------------------------------------
# Backends that cannot be built here: compile what the host compiler can check.

_TORCH_INCLUDE = Path(__import__("torch").__file__).parent / "include"
_GXX = shutil.which("g++") or shutil.which("c++")
needs_compiler = pytest.mark.skipif(_GXX is None or not _TORCH_INCLUDE.is_dir(),
                                    reason="needs a C++ compiler and Torch's headers")


def _syntax_check(source: Path, *extra: str) -> None:
    templates = Path(__import__("kernel_builder").__file__).parent / "templates"
    cmd = [_GXX, "-std=c++20", "-fsyntax-only", *extra, f"-I{templates}",
           f"-I{sysconfig.get_paths()['include']}", f"-I{_TORCH_INCLUDE}",
           f"-I{_TORCH_INCLUDE / 'torch' / 'csrc' / 'api' / 'include'}", str(source)]
    result = subprocess.run(cmd, capture_output=True, text=True)
    assert result.returncode == 0, result.stderr


@pytest.fixture(scope="module")
def all_backends_project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from kernel_builder.cli.init import write_scaffold

    root = tmp_path_factory.mktemp("all") / "k"
    write_scaffold(root, scaffold_files(KernelName("k", "o"), ALL))
    return root


@needs_compiler
@pytest.mark.parametrize("backend", ALL)
def test_binding_compiles_for_each_backend(all_backends_project: Path, backend: str) -> None:
    _syntax_check(all_backends_project / "torch-ext" / "torch_binding.cpp", f"-D{backend.upper()}_KERNEL",
                  "-DTORCH_EXTENSION_NAME=_k_x_1", f"-I{all_backends_project / 'torch-ext'}")


SYCL_STUB = """\
#pragma once
#include <cstddef>
namespace sycl {
template <int D> struct range { explicit range(std::size_t n) : size(n) {} std::size_t size; };
template <int D> struct id { std::size_t operator[](int) const { return 0; } };
struct event {};
struct queue {
  template <typename F> event parallel_for(range<1>, F f) { f(id<1>{}); return {}; }
};
}
"""
XPU_STREAM_STUB = """\
#pragma once
#include <sycl/sycl.hpp>
namespace c10::xpu {
struct XPUStream { sycl::queue &queue() const; };
XPUStream getCurrentXPUStream();
}
"""


@needs_compiler
def test_xpu_kernel_compiles_against_sycl_stubs(all_backends_project: Path, tmp_path: Path) -> None:
    """The SYCL kernel's host-side C++ (dispatch, checks, launch) against minimal SYCL stand-ins."""
    (tmp_path / "sycl").mkdir()
    (tmp_path / "sycl" / "sycl.hpp").write_text(SYCL_STUB)
    (tmp_path / "c10" / "xpu").mkdir(parents=True)
    (tmp_path / "c10" / "xpu" / "XPUStream.h").write_text(XPU_STREAM_STUB)
    _syntax_check(all_backends_project / "k_xpu" / "k.cpp", f"-I{tmp_path}")


def test_gpu_source_has_a_rocm_branch(all_backends_project: Path) -> None:
    source = (all_backends_project / "k_cuda" / "k.cu").read_text()
    assert "#if defined(ROCM_KERNEL) || defined(USE_ROCM)" in source
    assert "getCurrentHIPStreamMasqueradingAsCUDA" in source and "c10::cuda::getCurrentCUDAStream" in source


def test_metal_sources_use_the_embedded_metallib(all_backends_project: Path) -> None:
    host = (all_backends_project / "k_metal" / "k.mm").read_text()
    shader = (all_backends_project / "k_metal" / "k.metal").read_text()
    assert "EMBEDDED_METALLIB_SYMBOL" in host and "newLibraryWithData" in host
    for name in ("k_square_float", "k_square_half"):
        assert f'@"{name}"' in host
    assert '[[host_name("k_square_" #T)]]' in shader
    assert "INSTANTIATE_SQUARE(float)" in shader and "INSTANTIATE_SQUARE(half)" in shader
    assert "kernel void k_square(" in shader


def test_completes_backend_values(tmp_path: Path) -> None:
    env = dict(os.environ, _KERNEL_BUILDER_COMPLETE="bash_complete", COMP_WORDS="kernel-builder init --backends c",
               COMP_CWORD="3")
    code = "from kernel_builder.cli import main; main(prog_name='kernel-builder')"
    result = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["plain,cpu", "plain,cuda"]
