"""kernel-builder check-builds on hand-made build directories.

A Python-only ``torch-cpu`` variant (what ``kernel-builder build`` writes for
a kernel without native code) is valid and loadable on this machine; each
test breaks one rule and expects one problem line naming the variant. The
check of a real compiled variant is in tests/test_check_e2e.py.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any, Callable

import pytest
from click.testing import Result

from kernel_builder.check.builds import check_builds

NAME = "mykernel"
OPS = "_mykernel_cpu_abc123"
VARIANT = "torch-cpu"

INIT = """\
from ._ops import ops


def hello():
    return "hello"


def goodbye():
    return "goodbye"
"""

OPS_PY = f"""\
import torch

ops = torch.ops.{OPS}


def add_op_namespace_prefix(op_name: str) -> str:
    return f"{OPS}::{{op_name}}"
"""


def metadata(**changes: Any) -> dict[str, Any]:
    data: dict[str, Any] = {"id": OPS, "name": NAME, "version": 1, "license": "Apache-2.0",
                            "backend": {"type": "cpu"}}
    data.update(changes)
    return data


def make_variant(build: Path, name: str = VARIANT, **meta: Any) -> Path:
    variant = build / name
    (variant / NAME).mkdir(parents=True)
    (variant / "__init__.py").write_text(INIT)
    (variant / "_ops.py").write_text(OPS_PY)
    (variant / "metadata.json").write_text(json.dumps(metadata(**meta), indent=2))
    return variant


@pytest.fixture
def kernel(tmp_path: Path) -> Path:
    root = tmp_path / NAME
    make_variant(root / "build")
    (root / "build" / "CARD.md").write_text("# card\n")
    return root


def problems(kernel: Path, import_check: bool = False) -> list[str]:
    report = check_builds(kernel, import_check=import_check)
    return report.problems + [f"{v.name}: {p}" for v in report.variants for p in v.problems]


def test_valid_build_has_no_problems(kernel: Path) -> None:
    assert problems(kernel) == []


def test_valid_build_passes_on_the_command_line_and_imports(kernel: Path, cli: Callable[..., Result]) -> None:
    result = cli("check-builds", kernel)
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert lines[0] == f"Checking 1 build variant(s) in {kernel / 'build'}"
    assert f"✅ {VARIANT}: layout and metadata OK (ops namespace {OPS})" in lines
    assert f"   {VARIANT}: imports through the kernels loader" in lines
    assert lines[-1] == "✅ All 1 build variant(s) are valid"
    # The import left no bytecode behind.
    assert not list((kernel / "build").rglob("__pycache__"))


def _rename(kernel: Path, new: str) -> None:
    (kernel / "build" / VARIANT).rename(kernel / "build" / new)


def _write(rel: str, text: str) -> Callable[[Path], None]:
    def mutate(kernel: Path) -> None:
        path = kernel / "build" / VARIANT / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return mutate


def _delete(rel: str) -> Callable[[Path], None]:
    def mutate(kernel: Path) -> None:
        path = kernel / "build" / VARIANT / rel
        shutil.rmtree(path) if path.is_dir() else path.unlink()
    return mutate


def _metadata(**changes: Any) -> Callable[[Path], None]:
    return _write("metadata.json", json.dumps(metadata(**changes)))


def _second_variant(**meta: Any) -> Callable[[Path], None]:
    def mutate(kernel: Path) -> None:
        make_variant(kernel / "build", "torch-universal", **meta)
    return mutate


DEFECTS: list[tuple[str, Callable[[Path], None], str]] = [
    ("bad-variant-name", lambda k: _rename(k, "torch213-cpu-x86_64"),
     "torch213-cpu-x86_64: not a valid build variant name"),
    ("leftover-staging-dir", lambda k: make_variant(k / "build", ".torch-cpu.tmp-x1y2"),
     ".torch-cpu.tmp-x1y2: leftover temporary directory of an interrupted build"),
    ("missing-init", _delete("__init__.py"), f"{VARIANT}: missing __init__.py"),
    ("missing-metadata", _delete("metadata.json"), f"{VARIANT}: missing metadata.json"),
    ("metadata-not-json", _write("metadata.json", "{'id': 1"), f"{VARIANT}: metadata.json: invalid JSON"),
    ("metadata-missing-license", _write("metadata.json", json.dumps(
        {k: v for k, v in metadata().items() if k != "license"})),
     f"{VARIANT}: metadata.json: missing required key 'license'"),
    ("metadata-unknown-key", _metadata(extra=1), f"{VARIANT}: metadata.json: unknown key 'extra'"),
    ("id-not-module-name", _metadata(id="mykernel-cpu-1"),
     f"{VARIANT}: metadata.json: 'id' must be a valid Python module name, got 'mykernel-cpu-1'"),
    ("backend-mismatch", _metadata(backend={"type": "cuda", "archs": ["8.0"]}),
     f"{VARIANT}: metadata.json: backend 'cuda' does not match the variant name (backend 'cpu')"),
    ("ops-namespace-mismatch", _write("_ops.py", "import torch\nops = torch.ops._mykernel_cpu_other\n"),
     f"{VARIANT}: _ops.py: ops namespace torch.ops._mykernel_cpu_other does not match the metadata id '{OPS}'"),
    ("ops-without-namespace", _write("_ops.py", "ops = None\n"),
     f"{VARIANT}: _ops.py: does not register ops in torch.ops.{OPS}"),
    ("pycache", _write("__pycache__/_ops.cpython-311.pyc", ""),
     f"{VARIANT}: __pycache__/: Python bytecode cache"),
    ("pyc", _write("layers.pyc", ""), f"{VARIANT}: layers.pyc: Python bytecode"),
    ("cmake-cache", _write("CMakeCache.txt", ""), f"{VARIANT}: CMakeCache.txt: build-tree file"),
    ("cmake-files", _write("CMakeFiles/x/y.txt", ""), f"{VARIANT}: CMakeFiles/: build-tree file"),
    ("object-file", _write("csrc/relu.o", ""), f"{VARIANT}: csrc/relu.o: build-tree file"),
    ("python-depends", _metadata(**{"python-depends": ["einops", "numpy"]}),
     f"{VARIANT}: metadata.json: python-depends: 'numpy' is not an allowed dependency (allowed for all backends: "
     "einops, helion, tvm-ffi)"),
    ("python-depends-backend", _metadata(**{"python-depends-backends": {"cpu": ["nvidia-cutlass-dsl"]}}),
     f"{VARIANT}: metadata.json: python-depends-backends.cpu: 'nvidia-cutlass-dsl' is not an allowed dependency"),
    ("python-depends-unknown-backend", _metadata(**{"python-depends-backends": {"vulkan": ["einops"]}}),
     f"{VARIANT}: metadata.json: python-depends-backends: unknown backend 'vulkan'"),
    ("variants-disagree-on-version", _second_variant(version=2),
     "variants disagree on the kernel version in metadata.json (torch-cpu: 1, torch-universal: 2)"),
    ("stray-file-in-build", lambda k: (k / "build" / "build.ninja").write_text(""),
     "build.ninja: build-tree file"),
]


@pytest.mark.parametrize("mutate, expected", [pytest.param(m, e, id=i) for i, m, e in DEFECTS])
def test_each_defect_is_one_clear_problem(kernel: Path, mutate: Callable[[Path], None], expected: str) -> None:
    mutate(kernel)
    found = problems(kernel)
    assert len(found) == 1, found
    assert found[0].startswith(expected), found[0]


def test_defect_on_the_command_line(kernel: Path, cli: Callable[..., Result]) -> None:
    _delete("__init__.py")(kernel)
    _write("CMakeCache.txt", "")(kernel)
    result = cli("check-builds", kernel)
    assert result.exit_code == 1
    lines = result.stdout.splitlines()
    assert f"❌ {VARIANT}: missing __init__.py" in lines
    assert any(line.startswith(f"❌ {VARIANT}: CMakeCache.txt: build-tree file") for line in lines)
    assert lines[-1] == "❌ Found 2 problems (1 of 1 variant(s) affected)"


def test_variant_whose_init_raises_fails_the_import(kernel: Path) -> None:
    _write("__init__.py", INIT + "\nraise RuntimeError('kernel is broken')\n")(kernel)
    assert problems(kernel) == []  # the layout is fine...
    assert problems(kernel, import_check=True) == [  # ...but it does not import
        f"{VARIANT}: import through the kernels loader failed: RuntimeError: kernel is broken"
    ]


def test_variant_for_another_machine_is_not_imported(kernel: Path) -> None:
    make_variant(kernel / "build", "torch213-cxx11-cu130-x86_64-linux", backend={"type": "cuda", "archs": ["9.0"]})
    report = check_builds(kernel, import_check=True)
    cuda = next(v for v in report.variants if v.name.endswith("cu130-x86_64-linux"))
    assert cuda.problems == []
    assert any(note.startswith("import not tried (this machine loads") for note in cuda.notes)


def test_no_build_directory(tmp_path: Path, cli: Callable[..., Result], expect_error: Callable[..., str]) -> None:
    expect_error(cli("check-builds", tmp_path), "no build/ directory")
