"""The Nix build driver (host side): build kernel flakes and copy their results.

Used by ``kernel-builder build`` / ``build-and-copy`` and the shells where a
usable ``nix`` is on the PATH and the kernel has a ``flake.nix``; builds go
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

The steps that run inside the Nix sandbox live in :mod:`.nix_sandbox`.
"""

from __future__ import annotations

import os
import shlex
import shutil
import stat
import subprocess
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Optional, Sequence

from ..config import BuildConfig
from ..errors import KernelBuilderError
from ..options import BuildOptions

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

    @classmethod
    def for_build(cls, options: BuildOptions) -> "NixOptions":
        """The Nix flags a build or shell with ``options`` passes (plus ``KERNEL_BUILDER_NIX_ARGS``)."""
        return cls.from_env(max_jobs=options.max_jobs, cores=options.cores, print_build_logs=options.print_build_logs)

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
    from ..plan import variants_on

    system = variant_system(variant)
    known = variants_on(config, system)
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
# Shells.


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
