"""Nix: drive kernel flake builds, and the steps Nix builds run.

Host side (``kernel-builder build`` / ``build-and-copy`` and the shells): where
a usable ``nix`` is on the PATH and the kernel has a ``flake.nix``, builds go
through the kernel's flake (see ``lib/gen-flake-outputs.nix``):

* ``build`` without ``--variant`` builds ``packages.<system>.bundle`` (every
  bundle variant of this system), with ``--variant`` the one
  ``packages.<system>.<variant>``;
* ``--max-jobs``, ``--cores`` and ``-L`` are passed to Nix as they are;
* the result is copied into ``build/<variant>/`` atomically: every variant is
  first copied next to its final place, and only when all copies succeeded is
  each renamed into place, so a failed build or copy leaves ``build/`` as it
  was;
* the Nix command line is printed before it runs.

``KERNEL_BUILDER_NIX_ARGS`` adds arguments to every Nix command (for example
``--offline --override-input kernel-builder path:/src/kernels``).

Sandbox side (``python -m kernel_builder.nix <step>``), called by the variant
derivations of ``lib/build.nix``:

* ``assemble``: turn a CMake install tree into ``build/<variant>/`` contents
  (metadata.json, compatibility package, runpaths stripped, no bytecode);
* ``assemble-noarch``: the same for Python-only kernels;
* ``check``: runpaths, ``check-builds`` (layout, metadata, importing the
  variant through ``kernels``) and ``check-abi``.
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import shutil
import stat
import struct
import subprocess
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Optional, Sequence

from ..config import BuildConfig, load_config
from ..errors import KernelBuilderError

NIX_ARGS_ENV = "KERNEL_BUILDER_NIX_ARGS"
FLAKE_NIX = "flake.nix"
BUILD_DIR = "build"

Log = Callable[[str], None]


# --------------------------------------------------------------------------
# Is Nix usable?


@dataclass(frozen=True)
class NixStatus:
    usable: bool
    reason: str
    executable: Optional[str] = None


def nix_status(kernel_dir: Path) -> NixStatus:
    """Whether builds of ``kernel_dir`` go through Nix, and why (not)."""
    nix = shutil.which("nix")
    if nix is None:
        return NixStatus(False, "Nix is not installed")
    if not (kernel_dir / FLAKE_NIX).is_file():
        return NixStatus(False, f"Nix is installed, but {kernel_dir / FLAKE_NIX} does not exist", nix)
    # `builtins.getFlake` exists exactly when the flakes feature is on, and
    # `nix eval` itself needs nix-command: one cheap probe for both.
    try:
        probe = subprocess.run(
            [nix, "eval", "--expr", "builtins ? getFlake"],
            capture_output=True, text=True, timeout=60, stdin=subprocess.DEVNULL,
        )
    except (OSError, subprocess.TimeoutExpired) as e:
        return NixStatus(False, f"Nix is installed, but running it failed ({e})", nix)
    if probe.returncode != 0 or probe.stdout.strip() != "true":
        return NixStatus(
            False,
            "Nix is installed, but its 'nix-command' and 'flakes' features are not enabled "
            "(add 'experimental-features = nix-command flakes' to nix.conf, or run install.sh)",
            nix,
        )
    return NixStatus(True, "Nix", nix)


# --------------------------------------------------------------------------
# Command lines.


@dataclass(frozen=True)
class NixOptions:
    max_jobs: Optional[int] = None
    cores: Optional[int] = None
    print_build_logs: bool = False
    extra_args: tuple[str, ...] = field(default_factory=tuple)

    @classmethod
    def from_env(cls, max_jobs: Optional[int] = None, cores: Optional[int] = None,
                 print_build_logs: bool = False) -> "NixOptions":
        extra = tuple(shlex.split(os.environ.get(NIX_ARGS_ENV, "")))
        return cls(max_jobs=max_jobs, cores=cores, print_build_logs=print_build_logs, extra_args=extra)

    def flags(self) -> list[str]:
        flags: list[str] = []
        if self.max_jobs is not None:
            flags += ["--max-jobs", str(self.max_jobs)]
        if self.cores is not None:
            flags += ["--cores", str(self.cores)]
        if self.print_build_logs:
            flags.append("-L")
        return flags + list(self.extra_args)


def host_system() -> str:
    """This machine as a Nix system name (``x86_64-linux``)."""
    from kernels.environment import machine_arch, os_name

    return f"{machine_arch()}-{os_name()}"


def variant_system(variant: str) -> str:
    """The Nix system a variant is built on (Python-only variants: this one)."""
    from kernels.variants import parse_variant_or_none

    parsed = parse_variant_or_none(variant)
    if parsed is None:
        raise KernelBuilderError(
            f"--variant: {variant!r} is not a build variant name (such as torch212-cxx11-cu126-x86_64-linux)"
        )
    if parsed.noarch:
        return host_system()
    return f"{parsed.arch}-{parsed.os}"


def flake_ref(kernel_dir: Path, attr: str) -> str:
    return f"{kernel_dir.resolve()}#{attr}"


def build_attr(variant: Optional[str]) -> str:
    """The flake attribute ``build`` builds."""
    if variant is None:
        return f"packages.{host_system()}.bundle"
    return f"packages.{variant_system(variant)}.{variant}"


def shell_attr(kind: str, variant: Optional[str]) -> str:
    outputs = {"devshell": "devShells", "testshell": "testShells"}
    if kind not in outputs:
        raise ValueError(f"unknown shell kind {kind!r}")
    system = host_system() if variant is None else variant_system(variant)
    return f"{outputs[kind]}.{system}.{variant or 'default'}"


def build_command(nix: str, kernel_dir: Path, attr: str, out_link: Path, options: NixOptions) -> list[str]:
    return [nix, "build", flake_ref(kernel_dir, attr), "--out-link", str(out_link), *options.flags()]


def develop_command(nix: str, kernel_dir: Path, attr: str, options: NixOptions) -> list[str]:
    return [nix, "develop", flake_ref(kernel_dir, attr), *options.flags()]


def run_command(nix: str, kernel_dir: Path, app: str, options: NixOptions, args: Sequence[str] = ()) -> list[str]:
    command = [nix, "run", flake_ref(kernel_dir, f"apps.{host_system()}.{app}"), *options.flags()]
    if args:
        command += ["--", *args]
    return command


def format_command(argv: Sequence[str]) -> str:
    """The command as one shell-quoted line, with ``nix`` rather than its full path."""
    words = list(argv)
    if words and os.path.basename(words[0]) == "nix":
        words[0] = "nix"
    return shlex.join(words)


# --------------------------------------------------------------------------
# Building and copying.


@dataclass(frozen=True)
class NixBuildResult:
    variants: list[str]
    build_dir: Path
    command: list[str]


def check_variant(config: BuildConfig, variant: str) -> None:
    """Refuse a --variant the kernel does not have (before asking Nix)."""
    from kernels.matrix import variants_for

    system = variant_system(variant)
    known = variants_for(
        config.general.backends,
        noarch=config.is_noarch,
        torch_minver=str(config.torch.minver) if config.torch and config.torch.minver else None,
        torch_maxver=str(config.torch.maxver) if config.torch and config.torch.maxver else None,
        cuda_minver=str(config.general.cuda.minver) if config.general.cuda.minver else None,
        cuda_maxver=str(config.general.cuda.maxver) if config.general.cuda.maxver else None,
        system=system,
    )
    if variant not in known:
        listed = ", ".join(known) if known else "none"
        raise KernelBuilderError(
            f"--variant: {variant!r} is not a variant of {config.general.name} on {system} "
            f"(its backends and Torch/CUDA bounds allow: {listed})"
        )


def build_with_nix(config: BuildConfig, variant: Optional[str], options: NixOptions, log: Log,
                   nix: str = "nix") -> NixBuildResult:
    """``nix build`` the bundle (or one variant) and copy it into ``build/``."""
    if variant is not None:
        check_variant(config, variant)
    kernel_dir = config.kernel_dir
    attr = build_attr(variant)
    with tempfile.TemporaryDirectory(prefix="kernel-builder-nix-") as tmp:
        out_link = Path(tmp) / "result"
        argv = build_command(nix, kernel_dir, attr, out_link, options)
        log(f"Running: {format_command(argv)}")
        try:
            completed = subprocess.run(argv, cwd=kernel_dir, stdin=subprocess.DEVNULL)
        except OSError as e:
            raise KernelBuilderError(f"cannot run {argv[0]}: {e.strerror}") from None
        if completed.returncode != 0:
            raise KernelBuilderError(
                f"nix build failed with exit status {completed.returncode} (command: {format_command(argv)}; "
                "add -L for the full build log)"
            )
        if not out_link.exists():
            raise KernelBuilderError(f"nix build succeeded but left no result at {out_link}")
        result = out_link.resolve()
        if variant is None:
            entries = _bundle_entries(result)
        else:
            entries = [(variant, result)]
        build_root = kernel_dir / BUILD_DIR
        copy_variants(entries, build_root)
    from .local import write_card

    write_card(config)
    return NixBuildResult(variants=[name for name, _ in entries], build_dir=kernel_dir / BUILD_DIR, command=argv)


def _bundle_entries(result: Path) -> list[tuple[str, Path]]:
    from kernels.variants import is_valid_variant_name

    if not result.is_dir():
        raise KernelBuilderError(f"{result}: expected a directory of build variants")
    entries = []
    for child in sorted(result.iterdir()):
        if is_valid_variant_name(child.name) and child.is_dir():
            entries.append((child.name, child))
    return entries


def _make_writable(root: Path) -> None:
    """Store paths are read-only; copies in build/ must be editable and removable."""
    for dirpath, dirnames, filenames in os.walk(root):
        for name in dirnames + filenames:
            path = Path(dirpath) / name
            if path.is_symlink():
                continue
            mode = path.stat().st_mode
            path.chmod(mode | stat.S_IWUSR | (stat.S_IXUSR if path.is_dir() else 0))
    root.chmod(root.stat().st_mode | stat.S_IWUSR | stat.S_IXUSR)


def copy_variants(entries: Sequence[tuple[str, Path]], build_root: Path) -> None:
    """Copy each ``(variant, directory)`` to ``build_root/<variant>``, all or nothing.

    Everything is copied to temporary directories inside ``build_root`` first;
    the previous builds are replaced (each one atomically) only when every copy
    succeeded.
    """
    from .local import replace_dir, umask

    created_root = not build_root.exists()
    build_root.mkdir(parents=True, exist_ok=True)
    staged: list[tuple[Path, Path]] = []
    try:
        for name, source in entries:
            staging = Path(tempfile.mkdtemp(prefix=f".{name}.tmp-", dir=build_root))
            staged.append((staging, build_root / name))
            shutil.copytree(source, staging, symlinks=False, dirs_exist_ok=True)
            _make_writable(staging)
            staging.chmod(0o777 & ~umask())
    except BaseException:
        for staging, _ in staged:
            shutil.rmtree(staging, ignore_errors=True)
        if created_root and not any(build_root.iterdir()):
            build_root.rmdir()
        raise
    for staging, final in staged:
        replace_dir(staging, final)


# --------------------------------------------------------------------------
# Shells and apps.


def run_shell(kind: str, config: BuildConfig, variant: Optional[str], options: NixOptions, log: Log,
              nix: str = "nix") -> int:
    """``nix develop`` the kernel's development (or test) shell; its exit status."""
    if variant is not None:
        check_variant(config, variant)
    argv = develop_command(nix, config.kernel_dir, shell_attr(kind, variant), options)
    log(f"Running: {format_command(argv)}")
    try:
        return subprocess.call(argv, cwd=config.kernel_dir)
    except OSError as e:
        raise KernelBuilderError(f"cannot run {argv[0]}: {e.strerror}") from None


def run_app(app: str, config: BuildConfig, options: NixOptions, log: Log, args: Sequence[str] = (),
            nix: str = "nix") -> int:
    """``nix run`` one of the kernel flake's apps (build-and-copy, build-and-upload, ci-test)."""
    argv = run_command(nix, config.kernel_dir, app, options, args)
    log(f"Running: {format_command(argv)}")
    try:
        return subprocess.call(argv, cwd=config.kernel_dir)
    except OSError as e:
        raise KernelBuilderError(f"cannot run {argv[0]}: {e.strerror}") from None


# --------------------------------------------------------------------------
# Inside the build: runpaths.

_DT_NULL, _DT_RPATH, _DT_RUNPATH = 0, 15, 29


def _dynamic_table(path: Path) -> Optional[tuple[int, int, str]]:
    """``(offset, size, struct format)`` of the dynamic table of an ELF file, if any."""
    from elftools.common.exceptions import ELFError
    from elftools.elf.elffile import ELFFile

    with open(path, "rb") as f:
        if f.read(4) != b"\x7fELF":
            return None
        f.seek(0)
        try:
            elf = ELFFile(f)
            for segment in elf.iter_segments():
                if segment["p_type"] == "PT_DYNAMIC":
                    order = "<" if elf.little_endian else ">"
                    entry = "qQ" if elf.elfclass == 64 else "iI"
                    return segment["p_offset"], segment["p_filesz"], order + entry
        except ELFError:
            return None
    return None


def _dynamic_entries(path: Path) -> Optional[tuple[int, str, list[tuple[int, int]]]]:
    table = _dynamic_table(path)
    if table is None:
        return None
    offset, size, fmt = table
    width = struct.calcsize(fmt)
    with open(path, "rb") as f:
        f.seek(offset)
        data = f.read(size)
    entries = [struct.unpack_from(fmt, data, i) for i in range(0, len(data) - width + 1, width)]
    return offset, fmt, entries


def runpaths(path: Path) -> list[int]:
    """The DT_RPATH/DT_RUNPATH tags an ELF file still has."""
    found = _dynamic_entries(path)
    if found is None:
        return []
    tags = []
    for tag, _ in found[2]:
        if tag == _DT_NULL:
            break
        if tag in (_DT_RPATH, _DT_RUNPATH):
            tags.append(tag)
    return tags


def strip_runpath(path: Path) -> bool:
    """Remove DT_RPATH/DT_RUNPATH from an ELF file; True if there were any.

    The remaining dynamic entries move up and the freed slots become DT_NULL,
    which is what the dynamic loader expects at the end of the table.
    """
    found = _dynamic_entries(path)
    if found is None:
        return False
    offset, fmt, entries = found
    kept = []
    removed = False
    for tag, value in entries:
        if tag == _DT_NULL:
            break
        if tag in (_DT_RPATH, _DT_RUNPATH):
            removed = True
            continue
        kept.append((tag, value))
    if not removed:
        return False
    kept += [(_DT_NULL, 0)] * (len(entries) - len(kept))
    data = b"".join(struct.pack(fmt, tag, value) for tag, value in kept)
    mode = path.stat().st_mode
    if not mode & stat.S_IWUSR:
        path.chmod(mode | stat.S_IWUSR)
    with open(path, "r+b") as f:
        f.seek(offset)
        f.write(data)
    if not mode & stat.S_IWUSR:
        path.chmod(mode)
    return True


def _elf_files(root: Path) -> list[Path]:
    files = []
    for path in sorted(root.rglob("*")):
        if path.is_file() and not path.is_symlink():
            with open(path, "rb") as f:
                if f.read(4) == b"\x7fELF":
                    files.append(path)
    return files


def strip_runpaths(root: Path) -> list[Path]:
    """Strip the runpaths of every ELF file under ``root``; the files changed."""
    return [path for path in _elf_files(root) if strip_runpath(path)]


# --------------------------------------------------------------------------
# Inside the build: assembling and checking build/<variant>/.


def _finish_variant(config: BuildConfig, out: Path, metadata) -> None:  # type: ignore[no-untyped-def]
    from ..generate.compat import write_compat_package
    from .local import remove_bytecode, write_metadata

    write_metadata(out, metadata)
    write_compat_package(out, config.general.module_name)
    remove_bytecode(out)


def assemble(kernel_dir: Path, backend: str, install_dir: Path, cmake_build: Path, out: Path) -> None:
    """``out`` = build/<variant>/ from a CMake install tree of the generated project."""
    from .local import variant_metadata

    config = load_config(kernel_dir)
    package = install_dir / config.general.module_name
    if not package.is_dir():
        raise KernelBuilderError(f"{install_dir}: the CMake install holds no '{config.general.module_name}' package")
    info_file = cmake_build / "kernel-build-info.json"
    try:
        info = json.loads(info_file.read_text(encoding="utf-8"))
    except (OSError, ValueError) as e:
        raise KernelBuilderError(f"{info_file}: cannot read build information ({e})") from None
    if info.get("backend") != backend:
        raise KernelBuilderError(f"{info_file}: built for backend {info.get('backend')!r}, expected {backend!r}")
    out.mkdir(parents=True, exist_ok=True)
    shutil.copytree(package, out, dirs_exist_ok=True, ignore=shutil.ignore_patterns("__pycache__", "*.py[co]"))
    archs = tuple(info.get("archs", ())) if backend in ("cuda", "rocm") else ()
    _finish_variant(config, out, variant_metadata(config, backend, info["ops_name"], archs))
    strip_runpaths(out)


def assemble_noarch(kernel_dir: Path, backend: str, unique_id: str, out: Path) -> None:
    from .local import assemble_noarch
    from ..generate.pyproject import validate_unique_id

    config = load_config(kernel_dir)
    out.mkdir(parents=True, exist_ok=True)
    metadata, _ = assemble_noarch(config, backend, validate_unique_id(unique_id), out)
    _finish_variant(config, out, metadata)


def check_variant_dir(variant_dir: Path, variant: str, abi: bool = True, abi_args: Sequence[str] = (),
                      import_check: bool = True, log: Log = print) -> None:
    """The checks a Nix build runs on its output (``variant_dir`` is ``build/<variant>/``).

    * runpaths: no ELF file may keep a DT_RPATH/DT_RUNPATH;
    * layout: ``kernel-builder check-builds`` (metadata, ops namespace,
      compatibility package, no bytecode or build debris) and, unless
      ``import_check`` is off, importing the variant through ``kernels``;
    * ABI: ``kernel-builder check-abi`` with ``abi_args`` (manylinux_2_28 and
      the Python stable ABI by default).
    """
    problems = [f"{path.relative_to(variant_dir)} still has a runpath" for path in _elf_files(variant_dir)
                if runpaths(path)]
    if problems:
        raise KernelBuilderError(f"{variant}: {'; '.join(problems)}")
    log(f"runpaths: OK ({variant})")

    with tempfile.TemporaryDirectory(prefix="kernel-builder-check-") as tmp:
        # check-builds checks a build/ directory: give it one holding this variant.
        (Path(tmp) / variant).symlink_to(variant_dir.resolve(), target_is_directory=True)
        from ..check.builds import check_builds

        report = check_builds(Path(tmp), import_check=import_check)
        problems = report.problems + [f"{v.name}: {p}" for v in report.variants for p in v.problems]
        for v in report.variants:
            for note in v.notes:
                log(f"check-builds: {v.name}: {note}")
        if problems:
            raise KernelBuilderError("check-builds: " + "; ".join(problems))
        log(f"check-builds: OK{'' if import_check else ' (import check disabled)'}")

    if abi:
        command = [sys.executable, "-m", "kernel_builder", "check-abi", *abi_args, str(variant_dir)]
        log(f"check-abi: {format_command(command)}")
        if subprocess.run(command).returncode != 0:
            raise KernelBuilderError(f"{variant}: kernel-builder check-abi found problems (see above)")
    else:
        log("check-abi: disabled (doAbiCheck = false)")


def _sandbox_main(argv: Optional[Sequence[str]] = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m kernel_builder.nix", description="Steps of kernel-builder's Nix builds.")
    sub = parser.add_subparsers(dest="step", required=True)
    p = sub.add_parser("assemble", help="build/<variant>/ from a CMake install tree")
    p.add_argument("--kernel-dir", type=Path, required=True)
    p.add_argument("--backend", required=True)
    p.add_argument("--install-dir", type=Path, required=True)
    p.add_argument("--cmake-build", type=Path, required=True)
    p.add_argument("--out", type=Path, required=True)
    p = sub.add_parser("assemble-noarch", help="build/torch-<backend>/ of a Python-only kernel")
    p.add_argument("--kernel-dir", type=Path, required=True)
    p.add_argument("--backend", required=True)
    p.add_argument("--unique-id", required=True)
    p.add_argument("--out", type=Path, required=True)
    p = sub.add_parser("check", help="check an assembled variant directory")
    p.add_argument("--variant-dir", type=Path, required=True)
    p.add_argument("--variant", required=True, help="the variant's name")
    p.add_argument("--abi-arg", action="append", default=[], help="argument for check-abi (repeatable)")
    p.add_argument("--no-abi", action="store_true")
    p.add_argument("--no-import", action="store_true")
    p = sub.add_parser("strip-runpaths", help="remove DT_RPATH/DT_RUNPATH from the ELF files under a directory")
    p.add_argument("directory", type=Path)
    args = parser.parse_args(argv)
    try:
        if args.step == "assemble":
            assemble(args.kernel_dir, args.backend, args.install_dir, args.cmake_build, args.out)
        elif args.step == "assemble-noarch":
            assemble_noarch(args.kernel_dir, args.backend, args.unique_id, args.out)
        elif args.step == "check":
            check_variant_dir(args.variant_dir, args.variant, abi=not args.no_abi, abi_args=args.abi_arg,
                              import_check=not args.no_import)
        else:
            for path in strip_runpaths(args.directory):
                print(f"stripped runpath: {path}")
    except KernelBuilderError as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(_sandbox_main())
