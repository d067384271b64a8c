"""``kernel-builder check-abi``: find a kernel's native libraries, check each, report.

Every library gets one header line saying what it is checked against, then
either "No compatibility issues found" or one line per offending symbol or
library, followed by a few facts about the file (minimum Python, highest
symbol versions, linked libraries). A file that cannot be read gives one
``error:`` line on standard error and the checks go on with the next file.
"""

from __future__ import annotations

import os
import platform
import re
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Optional

from ..._toml import tomllib
from ...errors import KernelBuilderError
from ..marks import status_marks
from .binary import BinaryFormatError, BinaryInfo, Violation, read_binary
from .manylinux import TOOLCHAIN_FAMILIES, check_manylinux, split_version
from .policies import (
    is_kernel_library,
    kernel_library_groups,
    manylinux_policy,
    parse_version_option,
    python_stable_abi,
    torch_stable_abi,
    version_key,
)
from .python_abi import check_python_abi
from .torch_abi import check_torch_stable_abi

#: File names that are native libraries: ``x.so``, ``x.so.1.2``, ``x.dylib``.
LIBRARY_NAME = re.compile(r"\.(so(\.\d+)*|dylib)$")
#: Where built variants live in a kernel project.
BUILD_DIRS = ("build", "result")


@dataclass(frozen=True)
class AbiOptions:
    manylinux: str = "manylinux_2_28"
    macos: str = "15.0"
    python: str = "3.9"
    torch_stable_abi: Optional[str] = None

    def validated(self) -> "AbiOptions":
        """Normalized options; a :class:`KernelBuilderError` names a bad one."""
        policy = manylinux_policy(self.manylinux).name
        macos = ".".join(map(str, parse_version_option("--macos", self.macos, "15.0")))
        python = parse_version_option("-p/--python-abi", self.python, "3.9")
        if len(python) != 2 or python[0] != 3 or python[1] < 2:
            raise KernelBuilderError(f"-p/--python-abi: expected a Python 3 version such as 3.9, got {self.python!r}")
        torch = None
        if self.torch_stable_abi is not None:
            key = parse_version_option("--torch-stable-abi", self.torch_stable_abi, "2.10")[:2]
            _, oldest, _ = torch_stable_abi()
            if key < version_key(oldest):
                raise KernelBuilderError(
                    f"--torch-stable-abi: the Torch stable ABI starts with Torch {oldest}, got {self.torch_stable_abi!r}"
                )
            torch = f"{key[0]}.{key[1]}"
        return AbiOptions(policy, macos, f"{python[0]}.{python[1]}", torch)


@dataclass
class FileReport:
    path: Path
    checks: str = ""
    info: Optional[BinaryInfo] = None
    violations: list[Violation] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    error: Optional[str] = None

    @property
    def ok(self) -> bool:
        return self.error is None and not self.violations


def check_library(path: Path, options: AbiOptions) -> FileReport:
    """Check one native library against ``options`` (already validated)."""
    report = FileReport(path=Path(path))
    try:
        info = read_binary(report.path)
    except BinaryFormatError as e:
        report.error = str(e)
        return report
    report.info = info
    python = check_python_abi(info, options.python)
    if info.format == "Mach-O":
        report.checks = f"macOS {options.macos} and Python ABI version {options.python}"
        report.violations += _check_macos(info, options.macos)
    else:
        policy = manylinux_policy(options.manylinux)
        report.checks = f"{policy.name} and Python ABI version {options.python}"
        manylinux = check_manylinux(info, policy)
        report.violations += manylinux.violations
        if manylinux.highest:
            versions = ", ".join(f"{f} {v}" for f, v in sorted(manylinux.highest.items()))
            oldest = f"; oldest manylinux policy they fit: {manylinux.satisfied_by}" if manylinux.satisfied_by else ""
            report.notes.append(f"highest symbol versions: {versions}{oldest}")
        toolchain = sorted({v.found for v in manylinux.violations
                            if split_version(v.found)[0] in TOOLCHAIN_FAMILIES})
        if toolchain:
            report.notes.append(_toolchain_note(info, policy.name, toolchain))
    report.violations += python.violations
    if python.used == 0:
        report.notes.append("Python C-API: none used")
    elif python.minimum is not None:
        newest = f" (newest: {python.minimum_symbol})" if python.minimum_symbol else ""
        report.notes.append(
            f"Python C-API: {python.used} symbol(s), all in the stable ABI; minimum Python {python.minimum}{newest}"
        )
    else:
        report.notes.append(f"Python C-API: {python.used} symbol(s), not all in the stable ABI: "
                            "the file only works with the Python it was built for")
    if options.torch_stable_abi:
        report.checks += f" and Torch stable ABI {options.torch_stable_abi}"
        report.violations += check_torch_stable_abi(info, options.torch_stable_abi)
    if info.needed:
        report.notes.append(f"linked libraries: {', '.join(info.needed)}")
    return report


def _check_macos(info: BinaryInfo, target: str) -> list[Violation]:
    check = f"macOS {target}"
    violations = []
    if info.min_os is None:
        violations.append(Violation(check, "deployment target", "not recorded in the file",
                                    f"a minimum macOS version of at most {target}"))
    elif version_key(info.min_os) > version_key(target):
        violations.append(Violation(check, "deployment target", f"macOS {info.min_os}", f"at most macOS {target}"))
    for library in info.needed:
        name = library.rsplit("/", 1)[-1]
        if library.startswith(("/usr/lib/", "/System/Library/")) or is_kernel_library(name, kernel_library_groups("macos")):
            continue
        violations.append(Violation(check, library, "linked library",
                                    "a macOS system library or framework, or Torch"))
    return violations


def _toolchain_note(info: BinaryInfo, policy: str, versions: list[str]) -> str:
    compiler = next((p for p in info.producers if p.startswith("GCC:") or "clang" in p.lower()), None)
    libc = platform.libc_ver()
    here = f"this machine has {libc[0]} {libc[1]}" if libc[0] else "this machine's C library"
    made = f"compiled by {compiler!r}" if compiler else "compiled by an unknown toolchain"
    return (
        f"note: {', '.join(versions)} {'comes' if len(versions) == 1 else 'come'} from the toolchain that built "
        f"the file ({made}; {here}). "
        f"A build with the host toolchain legitimately fails {policy} when that toolchain is newer; "
        "build with Nix (or in a manylinux container) for a compliant kernel."
    )


# --------------------------------------------------------------------------
# Finding the libraries.


def _walk_libraries(root: Path) -> list[Path]:
    found: list[Path] = []
    seen: set[str] = set()
    for current, dirs, files in os.walk(root, followlinks=True):
        real = os.path.realpath(current)
        if real in seen:
            dirs[:] = []
            continue
        seen.add(real)
        for name in list(dirs):
            if LIBRARY_NAME.search(name):
                found.append(Path(current) / name)  # a directory named like a library
        for name in files:
            if LIBRARY_NAME.search(name):
                found.append(Path(current) / name)
    return found


def find_libraries(target: Path) -> list[Path]:
    """The native libraries to check for ``target``: a kernel directory (its
    ``build/`` and ``result/``), a build or variant directory, or one file."""
    target = Path(target)
    if not target.exists() and not target.is_symlink():
        raise KernelBuilderError(f"{target}: no such file or directory")
    if not target.is_dir() or LIBRARY_NAME.search(target.name):
        return [target]  # one file (a directory named like a library is reported as such)
    roots = [target / d for d in BUILD_DIRS if (target / d).is_dir()]
    if not roots:
        if (target / "build.toml").is_file():
            raise KernelBuilderError(
                f"{target}: no build/ or result/ directory; build the kernel first (kernel-builder build)"
            )
        roots = [target]
    libraries: dict[str, Path] = {}
    for root in roots:
        for path in _walk_libraries(root):
            libraries.setdefault(os.path.realpath(path), path)
    return sorted(libraries.values())


def _stable_abi_from_build_toml(target: Path, warn: Callable[[str], None]) -> Optional[str]:
    path = target / "build.toml"
    if not target.is_dir() or not path.is_file():
        return None
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as e:
        warn(f"warning: {path}: cannot read [torch] stable-abi ({' '.join(str(e).split())})")
        return None
    value = data.get("torch", {}).get("stable-abi") if isinstance(data.get("torch"), dict) else None
    return value if isinstance(value, str) else None


# --------------------------------------------------------------------------
# Output.


def format_report(report: FileReport, marks: dict[str, str]) -> list[str]:
    lines = [f"{marks['check']} Checking for compatibility with {report.checks}: {report.path}"]
    if report.violations:
        count = len(report.violations)
        lines.append(f"{marks['bad']} Found {count} compatibility issue{'s' if count != 1 else ''}:")
        lines += [f"   {v}" for v in report.violations]
    else:
        lines.append(f"{marks['ok']} No compatibility issues found")
    lines += [f"   {note}" for note in report.notes]
    return lines


def run_check_abi(target: Path, options: AbiOptions, out: Callable[[str], None],
                  err: Callable[[str], None]) -> int:
    """Check every native library of ``target``; the exit status (0: all compatible)."""
    if options.torch_stable_abi is None:
        from_toml = _stable_abi_from_build_toml(Path(target), err)
        if from_toml is not None:
            options = AbiOptions(options.manylinux, options.macos, options.python, from_toml)
    try:
        options = options.validated()
    except KernelBuilderError as e:
        if options.torch_stable_abi and "--torch-stable-abi" in str(e):
            raise KernelBuilderError(f"{e} (from the option or [torch] stable-abi in build.toml)") from None
        raise
    python_stable_abi()  # load the data before the first file, so data errors are not per-file
    libraries = find_libraries(Path(target))
    if not libraries:
        out(f"No native libraries found in {target}: nothing to check (Python-only kernel?)")
        return 0
    marks = status_marks(sys.stdout)
    failed = unreadable = 0
    for path in libraries:
        report = check_library(path, options)
        if report.error is not None:
            unreadable += 1
            err(f"error: {report.error}")
            continue
        if report.violations:
            failed += 1
        for line in format_report(report, marks):
            out(line)
    if len(libraries) > 1 or failed or unreadable:
        parts = [f"{len(libraries)} librar{'ies' if len(libraries) != 1 else 'y'} checked"]
        if failed:
            parts.append(f"{failed} with compatibility issues")
        if unreadable:
            parts.append(f"{unreadable} unreadable")
        out(", ".join(parts))
    return 1 if failed or unreadable else 0
