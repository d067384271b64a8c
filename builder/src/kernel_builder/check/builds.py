"""``kernel-builder check-builds``: is ``build/`` what the Hub expects?

For every directory in ``build/``:

* the name is a valid build variant name;
* it has ``__init__.py`` and a ``metadata.json`` that follows the metadata
  schema; the metadata's backend matches the variant name and its ``id`` is
  the namespace that ``_ops.py`` registers the ops in (``torch.ops.<id>``);
* there is no bytecode and no build-tree debris (CMake caches, object files);
* ``python-depends`` only names dependencies from ``lib/python-depends.json``;
* a variant this machine can load is imported through the ``kernels`` loader
  in a fresh Python process.

Every problem is one line naming the variant and what is wrong.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Optional

from kernels.deps import allowed_dependencies
from kernels.metadata import Metadata, MetadataError
from kernels.variants import BACKENDS, Variant, parse_variant_or_none

from ..errors import KernelBuilderError
from .marks import status_marks

#: Files and directories that only a build tree has.
STRAY_NAMES = frozenset({
    "CMakeCache.txt", "CMakeFiles", "CMakeLists.txt", "Makefile", "build.ninja", ".ninja_log", ".ninja_deps",
    "cmake_install.cmake", "compile_commands.json", "CTestTestfile.cmake", "install_manifest.txt",
    "pyproject.toml", "setup.py", "build.log", ".DS_Store",
})
STRAY_SUFFIXES = (".o", ".obj", ".a", ".lib", ".d", ".cmake", ".ninja", ".pdb", ".ilk", ".exp", ".tmp")
BYTECODE_SUFFIXES = (".pyc", ".pyo")
_OPS_NAMESPACE = re.compile(r"\btorch\.ops\.([A-Za-z_][A-Za-z0-9_]*)")
_RESULT_MARKER = "@@kernel-builder-check-builds@@"
IMPORT_TIMEOUT_S = 600

_IMPORT_SCRIPT = r'''
import importlib.util, json, sys, types
from pathlib import Path

marker, variant_dir, module_name = sys.argv[1:4]
variant_dir = Path(variant_dir)

def one_line(e):
    text = " ".join(f"{type(e).__name__}: {e}".split())
    return text if len(text) <= 400 else text[:397] + "..."

def exports(module):
    names = getattr(module, "__all__", None)
    if names is None:
        names = [k for k in vars(module) if not k.startswith("_")]
    def imported_module(value):  # e.g. "import torch"; torch.ops namespaces are exports
        return isinstance(value, types.ModuleType) and sys.modules.get(getattr(value, "__name__", None)) is value
    return sorted(k for k in names if not imported_module(getattr(module, k, None)))

result = {}
try:
    from kernels.loader import import_variant
    module = import_variant(variant_dir)
    result["exports"] = exports(module)
except BaseException as e:
    result["error"] = one_line(e)
    result["error_type"] = type(e).__name__
    print(marker + json.dumps(result))
    sys.exit(0)
print(marker + json.dumps(result))
'''


@dataclass
class VariantReport:
    name: str
    problems: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    metadata: Optional[Metadata] = None


@dataclass
class BuildsReport:
    build_dir: Path
    variants: list[VariantReport] = field(default_factory=list)
    #: Problems of build/ itself (stray files, disagreeing variants).
    problems: list[str] = field(default_factory=list)

    @property
    def problem_count(self) -> int:
        return len(self.problems) + sum(len(v.problems) for v in self.variants)


def find_build_dir(kernel_dir: Path) -> Path:
    kernel_dir = Path(kernel_dir)
    if not kernel_dir.is_dir():
        raise KernelBuilderError(f"{kernel_dir}: kernel directory does not exist")
    build = kernel_dir / "build"
    if build.is_dir():
        return build
    if any(parse_variant_or_none(p.name) for p in kernel_dir.iterdir() if p.is_dir()):
        return kernel_dir  # KERNEL_DIR is a build directory itself
    raise KernelBuilderError(f"{kernel_dir}: no build/ directory; build the kernel first (kernel-builder build)")


def check_builds(kernel_dir: Path, import_check: bool = True, python: str = sys.executable) -> BuildsReport:
    build_dir = find_build_dir(Path(kernel_dir))
    report = BuildsReport(build_dir=build_dir)
    entries = sorted(build_dir.iterdir(), key=lambda p: p.name)
    for entry in entries:
        if entry.is_dir():
            continue
        stray = _stray_reason(entry.name, is_dir=False)
        if stray:
            report.problems.append(f"{entry.name}: {stray}")
    loadable = _loadable_variants() if import_check else None
    for entry in entries:
        if not entry.is_dir():
            continue
        variant = VariantReport(entry.name)
        report.variants.append(variant)
        parsed = parse_variant_or_none(entry.name)
        if parsed is None:
            if entry.name.startswith(".") and ".tmp-" in entry.name:
                variant.problems.append("leftover temporary directory of an interrupted build (delete it)")
            else:
                variant.problems.append(
                    "not a valid build variant name (expected e.g. torch213-cxx11-cpu-x86_64-linux, "
                    "torch-cpu or torch-universal)"
                )
            continue
        _check_variant(entry, parsed, variant)
        _check_import(entry, parsed, variant, loadable, python)
    _check_agreement(report)
    if not report.variants:
        report.problems.append("no build variant directories")
    return report


def _check_variant(path: Path, parsed: Variant, report: VariantReport) -> None:
    init = path / "__init__.py"
    if not init.is_file():
        report.problems.append("missing __init__.py")
    metadata_file = path / "metadata.json"
    metadata: Optional[Metadata] = None
    if not metadata_file.is_file():
        report.problems.append("missing metadata.json")
    else:
        try:
            metadata = Metadata.load(metadata_file, strict=True)
        except MetadataError as e:
            message = str(e)
            prefix = f"{metadata_file}: "
            report.problems.append("metadata.json: " + (message[len(prefix):] if message.startswith(prefix) else message))
    report.metadata = metadata
    _check_stray(path, report)
    if metadata is None:
        return
    if parsed.backend_name != "universal" and metadata.backend.type != parsed.backend_name:
        report.problems.append(
            f"metadata.json: backend {metadata.backend.type!r} does not match the variant name (backend {parsed.backend_name!r})"
        )
    _check_python_depends(metadata, report)
    _check_ops_namespace(path, metadata, report)


def _check_python_depends(metadata: Metadata, report: VariantReport) -> None:
    general = allowed_dependencies()
    for dep in metadata.python_depends:
        if dep not in general:
            report.problems.append(
                f"metadata.json: python-depends: {dep!r} is not an allowed dependency "
                f"(allowed for all backends: {', '.join(sorted(general)) or 'none'})"
            )
    for backend, deps in metadata.python_depends_backends.items():
        if backend not in BACKENDS:
            report.problems.append(f"metadata.json: python-depends-backends: unknown backend {backend!r}")
            continue
        allowed = allowed_dependencies(backend)
        for dep in deps:
            if dep not in allowed:
                report.problems.append(
                    f"metadata.json: python-depends-backends.{backend}: {dep!r} is not an allowed dependency "
                    f"(allowed for {backend}: {', '.join(sorted(allowed)) or 'none'})"
                )


def _check_ops_namespace(path: Path, metadata: Metadata, report: VariantReport) -> None:
    ops = path / "_ops.py"
    if not ops.is_file():
        report.notes.append("no _ops.py: the ops namespace was not checked")
        return
    try:
        text = ops.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as e:
        report.problems.append(f"_ops.py: cannot read ({e})")
        return
    namespaces = sorted(set(_OPS_NAMESPACE.findall(text)))
    if not namespaces:
        report.problems.append(f"_ops.py: does not register ops in torch.ops.{metadata.id} (metadata id)")
    for namespace in namespaces:
        if namespace != metadata.id:
            report.problems.append(
                f"_ops.py: ops namespace torch.ops.{namespace} does not match the metadata id {metadata.id!r}"
            )


def _stray_reason(name: str, is_dir: bool) -> Optional[str]:
    if name == "__pycache__" and is_dir:
        return "Python bytecode cache (delete it)"
    if not is_dir and name.endswith(BYTECODE_SUFFIXES):
        return "Python bytecode (delete it)"
    if name in STRAY_NAMES:
        return "build-tree file that does not belong in a build (delete it)"
    if not is_dir and name.endswith(STRAY_SUFFIXES):
        return "build-tree file that does not belong in a build (delete it)"
    return None


def _check_stray(path: Path, report: VariantReport) -> None:
    for current, dirs, files in os.walk(path):
        base = Path(current)
        for name in sorted(dirs):
            reason = _stray_reason(name, is_dir=True)
            if reason:
                report.problems.append(f"{(base / name).relative_to(path).as_posix()}/: {reason}")
        dirs[:] = [d for d in dirs if not _stray_reason(d, is_dir=True)]
        for name in sorted(files):
            reason = _stray_reason(name, is_dir=False)
            if reason:
                report.problems.append(f"{(base / name).relative_to(path).as_posix()}: {reason}")


def _loadable_variants() -> Optional[tuple[str, ...]]:
    """Variant names this machine's Torch can load, most preferred first; None without Torch."""
    try:
        from kernels.variants import current_environment, variant_candidates

        names = list(variant_candidates())
        if current_environment().backend != "cpu":
            names += [n for n in variant_candidates("cpu") if n not in names]
        return tuple(names)
    except ImportError:
        return None


def _check_import(path: Path, parsed: Variant, report: VariantReport, loadable: Optional[tuple[str, ...]],
                  python: str) -> None:
    if loadable is None:
        report.notes.append("import not tried (Torch is not installed here)")
        return
    if parsed.name not in loadable:
        report.notes.append("import not tried (this machine loads " + ", ".join(loadable) + ")")
        return
    if not (path / "__init__.py").is_file() or report.metadata is None:
        report.notes.append("import not tried (the variant is incomplete)")
        return
    env = dict(os.environ)
    env["PYTHONDONTWRITEBYTECODE"] = "1"  # an import must not leave bytecode in the build
    command = [python, "-c", _IMPORT_SCRIPT, _RESULT_MARKER, str(path.resolve()), report.metadata.python_module_name]
    try:
        done = subprocess.run(command, capture_output=True, text=True, timeout=IMPORT_TIMEOUT_S, env=env,
                              cwd=str(path.parent))
    except subprocess.TimeoutExpired:
        report.problems.append(f"import through the kernels loader did not finish in {IMPORT_TIMEOUT_S} s")
        return
    except OSError as e:
        report.notes.append(f"import not tried ({python}: {e.strerror})")
        return
    result = None
    for line in reversed(done.stdout.splitlines()):
        if line.startswith(_RESULT_MARKER):
            try:
                result = json.loads(line[len(_RESULT_MARKER):])
            except ValueError:
                result = None
            break
    if result is None:
        tail = " ".join((done.stderr.strip().splitlines() or ["no output"])[-1].split())
        report.problems.append(f"import in a subprocess failed (exit status {done.returncode}): {tail}")
        return
    if "error" in result:
        if result.get("error_type") == "MissingDependencyError":
            report.notes.append(f"import not completed: {result['error']}")
        else:
            report.problems.append(f"import through the kernels loader failed: {result['error']}")
        return
    report.notes.append("imports through the kernels loader")


def _check_agreement(report: BuildsReport) -> None:
    for key in ("name", "version"):
        values = {v.name: getattr(v.metadata, key) for v in report.variants if v.metadata is not None}
        if len(set(values.values())) > 1:
            listed = ", ".join(f"{name}: {value!r}" for name, value in sorted(values.items()))
            report.problems.append(f"variants disagree on the kernel {key} in metadata.json ({listed})")


def run_check_builds(kernel_dir: Path, out: Callable[[str], None]) -> int:
    """Print the report for ``kernel_dir``; the exit status (0: no problems)."""
    report = check_builds(kernel_dir)
    marks = status_marks(sys.stdout)
    out(f"Checking {len(report.variants)} build variant(s) in {report.build_dir}")
    for problem in report.problems:
        out(f"{marks['bad']} build/{problem}" if not problem.startswith(("variants", "no build")) else
            f"{marks['bad']} {problem}")
    for variant in report.variants:
        if variant.problems:
            for problem in variant.problems:
                out(f"{marks['bad']} {variant.name}: {problem}")
        else:
            summary = "layout and metadata OK"
            if variant.metadata is not None:
                summary += f" (ops namespace {variant.metadata.id})"
            out(f"{marks['ok']} {variant.name}: {summary}")
        for note in variant.notes:
            out(f"   {variant.name}: {note}")
    count = report.problem_count
    if count:
        bad = sum(1 for v in report.variants if v.problems)
        out(f"{marks['bad']} Found {count} problem{'s' if count != 1 else ''} "
            f"({bad} of {len(report.variants)} variant(s) affected)")
        return 1
    out(f"{marks['ok']} All {len(report.variants)} build variant(s) are valid")
    return 0
