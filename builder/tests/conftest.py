"""Fixtures for the kernel-builder tests: a minimal kernel project in tmp_path.

The project is described by a Python dict (``KernelProject.data``) that tests
mutate before calling ``KernelProject.write()``; the dict is written as TOML by
a small writer below, so each test states only the part of ``build.toml`` it
changes.

``pytest_generate_tests`` parametrises every test that takes a
``config_error_case`` argument with ``CONFIG_ERROR_CASES``: one mistake in a
kernel project each, with the dotted key the error must name and words the
message must contain.
"""

from __future__ import annotations

import copy
import json
import os
import subprocess
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Optional

import pytest
from click.testing import CliRunner, Result

NAME = "mykernel"

#: Files of the minimal project (relative path -> content).
PROJECT_FILES: dict[str, str] = {
    "torch-ext/torch_binding.cpp": "// torch binding placeholder\n",
    "torch-ext/torch_binding.h": "#pragma once\n",
    f"torch-ext/{NAME}/__init__.py": "def my_op(x):\n    return x\n",
    "x_cuda/x.cu": "// cuda kernel placeholder\n",
    "x_cpu/x.cpp": "// cpu kernel placeholder\n",
}

#: The minimal valid build.toml, as data.
BUILD_TOML: dict[str, Any] = {
    "general": {"name": NAME, "version": 1, "backends": ["cpu", "cuda"]},
    "torch": {"src": ["torch-ext/torch_binding.cpp", "torch-ext/torch_binding.h"]},
    "kernel": {
        "x": {"backend": "cuda", "depends": ["torch"], "src": ["x_cuda/x.cu"]},
        "x_cpu": {"backend": "cpu", "depends": ["torch"], "src": ["x_cpu/x.cpp"]},
    },
}


# --------------------------------------------------------------------------
# A small TOML writer (the venv has no tomli_w).


def _toml_key(key: str) -> str:
    if key and all(c.isalnum() or c in "-_" for c in key) and key.isascii():
        return key
    return json.dumps(key)


def _toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return repr(value)
    if isinstance(value, str):
        return json.dumps(value)  # JSON strings are valid TOML basic strings
    if isinstance(value, list):
        return "[" + ", ".join(_toml_value(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{_toml_key(k)} = {_toml_value(v)}" for k, v in value.items()) + "}"
    raise TypeError(f"cannot write {value!r} as TOML")


def dump_toml(data: dict[str, Any]) -> str:
    """TOML text for ``data``: scalars first, then nested tables as [a.b] sections."""
    lines: list[str] = []

    def emit(table: dict[str, Any], prefix: list[str]) -> None:
        scalars = {k: v for k, v in table.items() if not isinstance(v, dict)}
        tables = {k: v for k, v in table.items() if isinstance(v, dict)}
        if prefix and (scalars or not tables):
            lines.append("[" + ".".join(_toml_key(p) for p in prefix) + "]")
        for key, value in scalars.items():
            lines.append(f"{_toml_key(key)} = {_toml_value(value)}")
        if scalars:
            lines.append("")
        for key, value in tables.items():
            emit(value, prefix + [key])

    emit(data, [])
    return "\n".join(lines) + "\n"


# --------------------------------------------------------------------------
# The kernel project fixture.


@dataclass
class KernelProject:
    root: Path
    data: dict[str, Any] = field(default_factory=lambda: copy.deepcopy(BUILD_TOML))

    @property
    def name(self) -> str:
        return self.data["general"]["name"]

    def toml_text(self) -> str:
        return dump_toml(self.data)

    @property
    def build_toml(self) -> Path:
        return self.root / "build.toml"

    @property
    def general(self) -> dict[str, Any]:
        return self.data["general"]

    @property
    def torch(self) -> dict[str, Any]:
        return self.data["torch"]

    def kernel(self, name: str = "x") -> dict[str, Any]:
        return self.data["kernel"][name]

    def write(self) -> "KernelProject":
        self.build_toml.write_text(dump_toml(self.data), encoding="utf-8")
        return self

    def write_text(self, text: str) -> "KernelProject":
        self.build_toml.write_text(text, encoding="utf-8")
        return self

    def add_file(self, rel: str, content: str = "") -> Path:
        path = self.root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(content, encoding="utf-8")
        return path

    def rename_package(self, new_name: str) -> None:
        """Set general.name and move torch-ext/<module> to match it."""
        old = self.root / "torch-ext" / self.general["name"].replace("-", "_")
        self.general["name"] = new_name
        old.rename(self.root / "torch-ext" / new_name.replace("-", "_"))

    def snapshot(self) -> dict[str, Optional[str]]:
        """Every path under the project -> file content (None for directories, link target for symlinks)."""
        result: dict[str, Optional[str]] = {}
        for path in sorted(self.root.rglob("*")):
            rel = path.relative_to(self.root).as_posix()
            if path.is_symlink():
                result[rel] = "-> " + os.readlink(path)
            elif path.is_dir():
                result[rel] = None
            else:
                result[rel] = path.read_text(encoding="utf-8", errors="replace")
        return result


def make_project(root: Path) -> KernelProject:
    root.mkdir(parents=True, exist_ok=True)
    project = KernelProject(root)
    for rel, content in PROJECT_FILES.items():
        project.add_file(rel, content)
    return project.write()


@pytest.fixture
def project(tmp_path: Path) -> KernelProject:
    """A minimal valid kernel project (cpu + cuda) in ``tmp_path/mykernel``."""
    return make_project(tmp_path / "mykernel")


@pytest.fixture
def new_project() -> Callable[[Path], KernelProject]:
    """``new_project(root)``: another minimal valid project, at ``root``."""
    return make_project


@pytest.fixture
def outside(tmp_path: Path) -> Path:
    """A directory next to the project (outside it) holding ``evil.cpp``."""
    path = tmp_path / "outside"
    path.mkdir()
    (path / "evil.cpp").write_text("// not part of the project\n", encoding="utf-8")
    return path


# --------------------------------------------------------------------------
# Running the command line.


def invoke(*args: Any, **kwargs: Any) -> Result:
    from kernel_builder.cli import main

    try:  # click < 8.2 mixes stderr into stdout unless told not to
        runner = CliRunner(mix_stderr=False)  # type: ignore[call-arg]
    except TypeError:
        runner = CliRunner()
    return runner.invoke(main, [str(a) for a in args], **kwargs)


def assert_one_line_error(result: Result, *needles: str) -> str:
    """The command failed with exactly one ``error: `` line on stderr, no traceback."""
    assert result.exit_code != 0, f"expected failure, got exit 0:\n{result.output}"
    assert isinstance(result.exception, SystemExit), (
        f"expected a clean exit, got {result.exception!r}\n{result.output}"
    )
    assert "Traceback" not in result.output
    lines = result.stderr.splitlines()
    assert len(lines) == 1, f"expected one line on stderr, got {len(lines)}:\n{result.stderr}"
    line = lines[0]
    assert line.startswith("error: "), line
    for needle in needles:
        assert needle in line, f"{needle!r} not in {line!r}"
    return line


@pytest.fixture
def cli() -> Callable[..., Result]:
    """``cli(*args)``: run ``kernel-builder`` in-process through click's CliRunner."""
    return invoke


@pytest.fixture
def expect_error() -> Callable[..., str]:
    """``expect_error(result, *needles)``: see :func:`assert_one_line_error`."""
    return assert_one_line_error


# --------------------------------------------------------------------------
# git helpers.


def git(cwd: Path, *args: str) -> str:
    result = subprocess.run(
        ["git", "-c", "user.name=Test", "-c", "user.email=test@example.com", "-c", "commit.gpgsign=false",
         "-c", "init.defaultBranch=main", *args],
        cwd=cwd, capture_output=True, text=True, check=True,
    )
    return result.stdout.strip()


@pytest.fixture(name="git")
def git_fixture() -> Callable[..., str]:
    """``git(cwd, *args)``: run git with a fixed identity, return its stdout."""
    return git


@pytest.fixture
def no_git_above(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Keep git from finding a repository above tmp_path."""
    monkeypatch.setenv("GIT_CEILING_DIRECTORIES", str(tmp_path))


# --------------------------------------------------------------------------
# Bad kernel projects: each case mutates the valid project.


@dataclass(frozen=True)
class ConfigErrorCase:
    id: str
    mutate: Callable[[KernelProject, Path], None]  # (project, outside dir)
    key: str  # the dotted key the error names
    hints: tuple[str, ...]  # words of what is expected / what is wrong
    marks: tuple[Any, ...] = ()


def _set(path: str, value: Any) -> Callable[[KernelProject, Path], None]:
    """Mutation that sets ``a.b.c = value`` in build.toml."""

    def mutate(project: KernelProject, outside: Path) -> None:
        *parents, last = path.split(".")
        table = project.data
        for part in parents:
            table = table.setdefault(part, {})
        table[last] = value

    return mutate


def _delete(path: str) -> Callable[[KernelProject, Path], None]:
    def mutate(project: KernelProject, outside: Path) -> None:
        *parents, last = path.split(".")
        table = project.data
        for part in parents:
            table = table[part]
        del table[last]

    return mutate


def _all(*mutations: Callable[[KernelProject, Path], None]) -> Callable[[KernelProject, Path], None]:
    def mutate(project: KernelProject, outside: Path) -> None:
        for m in mutations:
            m(project, outside)

    return mutate


def _symlink_out(project: KernelProject, outside: Path) -> None:
    (project.root / "x_cpu" / "evil.cpp").symlink_to(outside / "evil.cpp")
    project.kernel("x_cpu")["src"] = ["x_cpu/x.cpp", "x_cpu/evil.cpp"]


def _symlinked_dir_out(project: KernelProject, outside: Path) -> None:
    (project.root / "vendor").symlink_to(outside, target_is_directory=True)
    project.kernel("x")["src"] = ["x_cuda/x.cu", "vendor/evil.cpp"]


def _symlink_loop(project: KernelProject, outside: Path) -> None:
    (project.root / "x_cpu" / "a.cpp").symlink_to("b.cpp")
    (project.root / "x_cpu" / "b.cpp").symlink_to("a.cpp")
    project.kernel("x_cpu")["src"] = ["x_cpu/a.cpp"]


def _dotdot(project: KernelProject, outside: Path) -> None:
    # The file exists, so only the '..' can be the problem.
    (project.root.parent / "x.cpp").write_text("// outside\n", encoding="utf-8")
    project.kernel("x_cpu")["src"] = ["../x.cpp"]


def _absolute_inside(project: KernelProject, outside: Path) -> None:
    # Even an absolute path to a file inside the project is refused.
    project.kernel("x_cpu")["src"] = [str(project.root / "x_cpu" / "x.cpp")]


def _absolute_outside(project: KernelProject, outside: Path) -> None:
    project.torch["src"] = ["torch-ext/torch_binding.cpp", str(outside / "evil.cpp")]


def _include_is_file(project: KernelProject, outside: Path) -> None:
    project.kernel("x")["include"] = ["x_cuda/x.cu"]


def _no_package(project: KernelProject, outside: Path) -> None:
    (project.root / "torch-ext" / NAME / "__init__.py").unlink()


def _dashed_name_wrong_package(project: KernelProject, outside: Path) -> None:
    # name = "my-kernel" needs torch-ext/my_kernel/, not torch-ext/my-kernel/.
    project.general["name"] = "my-kernel"
    (project.root / "torch-ext" / NAME).rename(project.root / "torch-ext" / "my-kernel")


def _package_symlinked_out(project: KernelProject, outside: Path) -> None:
    package = project.root / "torch-ext" / NAME
    target = outside / NAME
    package.rename(target)
    package.symlink_to(target, target_is_directory=True)


def _rocm_kernel(archs: list[str]) -> Callable[[KernelProject, Path], None]:
    def mutate(project: KernelProject, outside: Path) -> None:
        project.general["backends"] = ["cpu", "cuda", "rocm"]
        project.add_file("x_rocm/x.hip")
        project.data["kernel"]["r"] = {
            "backend": "rocm", "depends": ["torch"], "src": ["x_rocm/x.hip"], "rocm-archs": archs,
        }

    return mutate


def _kernel_named(name: str) -> Callable[[KernelProject, Path], None]:
    def mutate(project: KernelProject, outside: Path) -> None:
        project.data["kernel"][name] = project.data["kernel"].pop("x_cpu")

    return mutate


_FEW = ("expected",)

CONFIG_ERROR_CASES: list[ConfigErrorCase] = [
    # Unknown keys.
    ConfigErrorCase("unknown-top-level-key", _set("extra", 1), "extra", ("unknown key", "general", "kernel", "torch")),
    ConfigErrorCase("unknown-top-level-table", _set("tool.x", 1), "tool", ("unknown key",)),
    ConfigErrorCase("unknown-general-key", _set("general.colour", "red"), "general.colour", ("unknown key", "backends", "name")),
    ConfigErrorCase("unknown-general-hub-key", _set("general.hub", {"repo-id": "org/k", "repoid": "org/k"}),
                    "general.hub.repoid", ("unknown key", "repo-id")),
    ConfigErrorCase("unknown-general-cuda-key", _set("general.cuda.maxversion", "12.8"), "general.cuda.maxversion",
                    ("unknown key", "maxver")),
    ConfigErrorCase("unknown-general-backend-table", _set("general.rocm.python-depends", []), "general.rocm",
                    ("unknown key",)),
    ConfigErrorCase("unknown-torch-key", _set("torch.source", ["a.cpp"]), "torch.source", ("unknown key", "src")),
    ConfigErrorCase("unknown-kernel-key", _set("kernel.x.sources", ["x_cuda/x.cu"]), "kernel.x.sources",
                    ("unknown key", "src", "depends")),
    ConfigErrorCase("rocm-archs-on-cuda-kernel", _set("kernel.x.rocm-archs", ["gfx942"]), "kernel.x.rocm-archs",
                    ("not valid for backend 'cuda'", "rocm")),
    ConfigErrorCase("cuda-capabilities-on-cpu-kernel", _set("kernel.x_cpu.cuda-capabilities", ["8.0"]),
                    "kernel.x_cpu.cuda-capabilities", ("not valid for backend 'cpu'", "cuda")),
    ConfigErrorCase("cuda-flags-on-cpu-kernel", _set("kernel.x_cpu.cuda-flags", ["-O3"]),
                    "kernel.x_cpu.cuda-flags", ("not valid for backend 'cpu'", "cuda")),
    ConfigErrorCase("sycl-flags-on-cuda-kernel", _set("kernel.x.sycl-flags", ["-O3"]),
                    "kernel.x.sycl-flags", ("not valid for backend 'cuda'", "xpu")),
    ConfigErrorCase("old-format-universal", _set("general.universal", False), "general.universal",
                    ("update-build",)),
    # Wrong types.
    ConfigErrorCase("version-string", _set("general.version", "1"), "general.version", ("expected an integer", "'1'")),
    ConfigErrorCase("version-bool", _set("general.version", True), "general.version", ("expected an integer",)),
    ConfigErrorCase("version-float", _set("general.version", 1.5), "general.version", ("expected an integer",)),
    ConfigErrorCase("version-negative", _set("general.version", -1), "general.version", ("non-negative integer",)),
    ConfigErrorCase("backends-string", _set("general.backends", "cpu"), "general.backends",
                    ("expected a list of strings", "'cpu'")),
    ConfigErrorCase("backends-list-of-int", _set("general.backends", ["cpu", 1]), "general.backends",
                    ("expected a list of strings",)),
    ConfigErrorCase("backends-empty", _set("general.backends", []), "general.backends", ("at least one backend",)),
    ConfigErrorCase("backends-duplicate", _set("general.backends", ["cpu", "cuda", "cpu"]), "general.backends",
                    ("more than once",)),
    ConfigErrorCase("name-int", _set("general.name", 1), "general.name", ("expected a string",)),
    ConfigErrorCase("name-missing", _delete("general.name"), "general.name", ("missing required key", "a string")),
    ConfigErrorCase("backends-missing", _delete("general.backends"), "general.backends",
                    ("missing required key", "list of backends", "update-build")),
    ConfigErrorCase("general-missing", _delete("general"), "general", ("missing required table [general]",)),
    ConfigErrorCase("general-not-a-table", _all(_delete("general"), _set("general", "x")), "general",
                    ("expected a table",)),
    ConfigErrorCase("hub-not-a-table", _set("general.hub", "org/k"), "general.hub", ("expected a table",)),
    ConfigErrorCase("hub-repo-id-int", _set("general.hub", {"repo-id": 1}), "general.hub.repo-id",
                    ("expected a string",)),
    ConfigErrorCase("hub-repo-id-invalid", _set("general.hub", {"repo-id": "no-slash"}), "general.hub.repo-id",
                    ("org/name", "'no-slash'")),
    ConfigErrorCase("hub-repo-id-three-parts", _set("general.hub", {"repo-id": "a/b/c"}), "general.hub.repo-id",
                    ("org/name",)),
    ConfigErrorCase("hub-repo-id-trailing-newline", _set("general.hub", {"repo-id": "org/k\n"}),
                    "general.hub.repo-id", ("org/name",)),
    ConfigErrorCase("license-list", _set("general.license", ["MIT"]), "general.license", ("expected a string",)),
    ConfigErrorCase("torch-src-string", _set("torch.src", "torch-ext/torch_binding.cpp"), "torch.src",
                    ("expected a list of strings",)),
    ConfigErrorCase("torch-pyext-with-dot", _set("torch.pyext", [".py"]), "torch.pyext",
                    ("without a dot", "'.py'")),
    ConfigErrorCase("torch-minver-invalid", _set("torch.minver", "two"), "torch.minver",
                    ("version string", "'two'")),
    ConfigErrorCase("torch-minver-int", _set("torch.minver", 2), "torch.minver", ("version string",)),
    ConfigErrorCase("torch-minver-above-maxver", _all(_set("torch.minver", "2.12"), _set("torch.maxver", "2.11")),
                    "torch.minver", ("above maxver",)),
    ConfigErrorCase("torch-not-a-table", _all(_delete("torch"), _delete("kernel"), _set("torch", ["a"])), "torch",
                    ("expected a table",)),
    ConfigErrorCase("cuda-minver-invalid", _set("general.cuda.minver", "twelve"), "general.cuda.minver",
                    ("version string",)),
    ConfigErrorCase("cuda-minver-above-maxver",
                    _all(_set("general.cuda.minver", "13.0"), _set("general.cuda.maxver", "12.8")),
                    "general.cuda.minver", ("above maxver",)),
    ConfigErrorCase("kernel-src-string", _set("kernel.x.src", "a.cpp"), "kernel.x.src",
                    ("expected a list of strings", "'a.cpp'")),
    ConfigErrorCase("kernel-src-empty", _set("kernel.x.src", []), "kernel.x.src", ("at least one source file",)),
    ConfigErrorCase("kernel-src-missing", _delete("kernel.x.src"), "kernel.x.src", ("missing required key",)),
    ConfigErrorCase("kernel-depends-string", _set("kernel.x.depends", "torch"), "kernel.x.depends",
                    ("expected a list of strings",)),
    ConfigErrorCase("kernel-depends-missing", _delete("kernel.x.depends"), "kernel.x.depends",
                    ("missing required key",)),
    ConfigErrorCase("kernel-backend-missing", _delete("kernel.x.backend"), "kernel.x.backend",
                    ("missing required key", "a string")),
    ConfigErrorCase("kernel-backend-int", _set("kernel.x.backend", 1), "kernel.x.backend", ("expected a string",)),
    ConfigErrorCase("kernel-cxx-flags-string", _set("kernel.x_cpu.cxx-flags", "-O3"), "kernel.x_cpu.cxx-flags",
                    ("expected a list of strings",)),
    ConfigErrorCase("kernel-cuda-capabilities-string", _set("kernel.x.cuda-capabilities", "8.0"),
                    "kernel.x.cuda-capabilities", ("expected a list of strings",)),
    ConfigErrorCase("kernel-not-a-table", _set("kernel.x", 1), "kernel.x", ("expected a table",)),
    ConfigErrorCase("kernel-section-not-a-table", _all(_delete("kernel"), _set("kernel", [1])), "kernel",
                    ("expected a table",)),
    ConfigErrorCase("kernel-name-with-space", _kernel_named("a b"), "kernel.a b", ("letters, digits",)),
    ConfigErrorCase("kernel-name-with-dot", _kernel_named("a.b"), "kernel.a.b", ("letters, digits",)),
    ConfigErrorCase("kernel-name-trailing-newline", _kernel_named("k\n"), "kernel.k\\n", ("letters, digits",)),
    ConfigErrorCase("kernels-without-torch", _delete("torch"), "torch", ("missing [torch] section",)),
    # Backends and dependencies.
    ConfigErrorCase("unknown-general-backend", _set("general.backends", ["cpu", "cuda", "vulkan"]), "general.backends",
                    ("unknown backend 'vulkan'", "cuda", "rocm")),
    ConfigErrorCase("unknown-kernel-backend", _set("kernel.x.backend", "vulkan"), "kernel.x.backend",
                    ("unknown backend 'vulkan'", "cuda")),
    ConfigErrorCase("kernel-backend-not-in-general", _set("general.backends", ["cuda"]), "kernel.x_cpu.backend",
                    ("'cpu'", "not listed in general.backends")),
    ConfigErrorCase("unknown-dependency", _set("kernel.x.depends", ["torch", "cutlass_9_9"]), "kernel.x.depends",
                    ("unknown dependency 'cutlass_9_9'", "cutlass_3_6")),
    ConfigErrorCase("dependency-wrong-backend", _set("kernel.x_cpu.depends", ["torch", "cutlass_3_6"]),
                    "kernel.x_cpu.depends", ("'cutlass_3_6'", "not available for backend 'cpu'")),
    ConfigErrorCase("metal-cpp-on-cuda", _set("kernel.x.depends", ["metal-cpp"]),
                    "kernel.x.depends", ("'metal-cpp'", "not available for backend 'cuda'")),
    # CUDA capabilities and ROCm architectures.
    ConfigErrorCase("cuda-capability-4.0", _set("kernel.x.cuda-capabilities", ["4.0"]), "kernel.x.cuda-capabilities",
                    ("unsupported CUDA capability '4.0'", "8.0", "9.0")),
    ConfigErrorCase("cuda-capability-sm-name", _set("kernel.x.cuda-capabilities", ["sm_90"]),
                    "kernel.x.cuda-capabilities", ("'sm_90'", "9.0")),
    ConfigErrorCase("cuda-capability-int", _set("kernel.x.cuda-capabilities", [80]),
                    "kernel.x.cuda-capabilities", ("expected a list of strings",)),
    ConfigErrorCase("cuda-capabilities-empty", _set("kernel.x.cuda-capabilities", []), "kernel.x.cuda-capabilities",
                    ("at least one capability",)),
    ConfigErrorCase("cuda-minver-kernel-invalid", _set("kernel.x.cuda-minver", "x"), "kernel.x.cuda-minver",
                    ("version string",)),
    ConfigErrorCase("rocm-arch-invalid", _rocm_kernel(["mi300"]), "kernel.r.rocm-archs", ("gfx942", "'mi300'")),
    # Kernel name / Python module.
    ConfigErrorCase("name-starts-with-digit", _set("general.name", "1relu"), "general.name",
                    ("valid Python module name", "'1relu'")),
    ConfigErrorCase("name-with-space", _set("general.name", "my kernel"), "general.name",
                    ("valid Python module name", "'my kernel'")),
    ConfigErrorCase("name-keyword", _set("general.name", "class"), "general.name",
                    ("valid Python module name", "'class'")),
    ConfigErrorCase("name-with-dot", _set("general.name", "my.kernel"), "general.name", ("valid Python module name",)),
    ConfigErrorCase("name-empty", _set("general.name", ""), "general.name", ("valid Python module name",)),
    ConfigErrorCase("name-trailing-newline", _set("general.name", "mykernel\n"), "general.name",
                    ("valid Python module name",)),
    ConfigErrorCase("missing-package-init", _no_package, "general.name",
                    (f"torch-ext/{NAME}/__init__.py", "not found")),
    ConfigErrorCase("dashed-name-needs-underscored-package", _dashed_name_wrong_package, "general.name",
                    ("torch-ext/my_kernel/__init__.py",)),
    ConfigErrorCase("package-symlinked-outside", _package_symlinked_out, "general.name",
                    ("outside the kernel directory",)),
    # Python dependencies.
    ConfigErrorCase("python-depends-not-allowed", _set("general.python-depends", ["numpy"]),
                    "general.python-depends", ("'numpy'", "not allowed", "einops")),
    ConfigErrorCase("python-depends-backend-only-in-general", _set("general.python-depends", ["nvidia-cutlass-dsl"]),
                    "general.python-depends", ("'nvidia-cutlass-dsl'", "not allowed")),
    ConfigErrorCase("python-depends-wrong-backend", _set("general.cuda.python-depends", ["onednn"]),
                    "general.cuda.python-depends", ("'onednn'", "'cuda'", "nvidia-cutlass-dsl")),
    ConfigErrorCase("python-depends-string", _set("general.python-depends", "einops"),
                    "general.python-depends", ("expected a list of strings",)),
    # Source paths.
    ConfigErrorCase("src-dotdot", _dotdot, "kernel.x_cpu.src", ("'../x.cpp'", "leaves the kernel directory")),
    ConfigErrorCase("src-dotdot-inner", _set("kernel.x_cpu.src", ["x_cpu/../../x.cpp"]), "kernel.x_cpu.src",
                    ("leaves the kernel directory",)),
    ConfigErrorCase("src-absolute-inside", _absolute_inside, "kernel.x_cpu.src", ("absolute path", "relative")),
    ConfigErrorCase("torch-src-absolute-outside", _absolute_outside, "torch.src", ("absolute path",)),
    ConfigErrorCase("src-home", _set("kernel.x_cpu.src", ["~/x.cpp"]), "kernel.x_cpu.src", ("relative",)),
    ConfigErrorCase("src-symlink-outside", _symlink_out, "kernel.x_cpu.src",
                    ("'x_cpu/evil.cpp'", "outside the kernel directory")),
    ConfigErrorCase("src-through-symlinked-dir", _symlinked_dir_out, "kernel.x.src",
                    ("'vendor/evil.cpp'", "outside the kernel directory")),
    ConfigErrorCase("src-symlink-loop", _symlink_loop, "kernel.x_cpu.src", ("'x_cpu/a.cpp'",)),
    ConfigErrorCase("src-missing-file", _set("kernel.x_cpu.src", ["x_cpu/x.cpp", "x_cpu/missing.cpp"]),
                    "kernel.x_cpu.src", ("'x_cpu/missing.cpp'", "does not exist")),
    ConfigErrorCase("src-is-directory", _set("kernel.x_cpu.src", ["x_cpu"]), "kernel.x_cpu.src",
                    ("'x_cpu'", "file")),
    ConfigErrorCase("src-empty-string", _set("kernel.x_cpu.src", [""]), "kernel.x_cpu.src", ("empty string",)),
    ConfigErrorCase("torch-src-missing-file", _set("torch.src", ["torch-ext/nope.cpp"]), "torch.src",
                    ("'torch-ext/nope.cpp'", "does not exist")),
    ConfigErrorCase("torch-include-missing", _set("torch.include", ["include"]), "torch.include",
                    ("directory", "'include'", "does not exist")),
    ConfigErrorCase("kernel-include-dotdot", _set("kernel.x.include", [".."]), "kernel.x.include",
                    ("leaves the kernel directory",)),
    ConfigErrorCase("kernel-include-is-file", _include_is_file, "kernel.x.include", ("directory", "'x_cuda/x.cu'")),
]


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "config_error_case" in metafunc.fixturenames:
        metafunc.parametrize(
            "config_error_case",
            [pytest.param(case, id=case.id, marks=case.marks) for case in CONFIG_ERROR_CASES],
        )


@pytest.fixture
def bad_project(project: KernelProject, outside: Path, config_error_case: ConfigErrorCase) -> KernelProject:
    """The minimal project with ``config_error_case`` applied."""
    config_error_case.mutate(project, outside)
    return project.write()
