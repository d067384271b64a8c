"""Development and test shells without Nix.

With Nix, ``devshell`` / ``testshell`` enter the kernel flake's shells. Without
it we give the closest host-toolchain equivalent, and say so:

* **devshell**: ``<kernel>/.venv`` (it also sees the packages of the
  environment kernel-builder runs in, so the installed Torch is reused) with the kernel installed *editable* from
  its generated scikit-build-core project, ready for ``pip install -e`` style
  iteration and IDEs.
* **testshell**: the same ``.venv`` with this environment's freshly built
  variant importable as ``<name>`` (a ``.pth`` file puts a directory holding a
  ``<name>`` link to the variant on ``sys.path``), which is how the kernel's
  tests import it (``import <name>``).
"""

from __future__ import annotations

import os
import subprocess
import sys
import venv
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from ..config import BuildConfig
from ..errors import KernelBuilderError
from ..gitinfo import unique_id as resolve_unique_id
from ..options import BuildOptions
from ..build.local import build_local, buildable_variants, make_import_root, work_dir
from ..generate.pyproject import create_pyproject

VENV_DIR = ".venv"
_PTH_NAME = "kernel-builder-testshell.pth"
_PARENT_PTH = "kernel-builder-parent-env.pth"


@dataclass(frozen=True)
class Shell:
    kind: str  # "devshell" or "testshell"
    venv: Path
    description: str

    def environment(self) -> dict[str, str]:
        env = dict(os.environ)
        env["VIRTUAL_ENV"] = str(self.venv)
        env["PATH"] = f"{self.venv / 'bin'}{os.pathsep}{env.get('PATH', '')}"
        env.pop("PYTHONHOME", None)
        env["KERNEL_BUILDER_SHELL"] = self.kind
        return env


def _ensure_venv(config: BuildConfig) -> Path:
    path = config.kernel_dir / VENV_DIR
    python = path / "bin" / "python"
    if not python.exists():
        venv.EnvBuilder(with_pip=False, symlinks=True).create(path)
    # The shell sees this environment's packages (Torch, the build tools) instead
    # of downloading its own: a .pth file adds them after the venv's own.
    import sysconfig

    paths = dict.fromkeys([sysconfig.get_paths()["purelib"], sysconfig.get_paths()["platlib"]])
    site = _site_packages(path)
    site.mkdir(parents=True, exist_ok=True)
    (site / _PARENT_PTH).write_text("".join(f"{p}\n" for p in paths), encoding="utf-8")
    return path


def _site_packages(venv_dir: Path) -> Path:
    result = subprocess.run(
        [str(venv_dir / "bin" / "python"), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
        capture_output=True, text=True, check=True,
    )
    return Path(result.stdout.strip())


def prepare_devshell(config: BuildConfig, options: BuildOptions, log: Callable[[str], None]) -> Shell:
    """``.venv`` with the kernel installed editable from its generated project."""
    backend, variant = _chosen_variant(config, options)
    venv_dir = _ensure_venv(config)
    project = work_dir(config, variant) / "devshell-project"
    project.mkdir(parents=True, exist_ok=True)
    uid = resolve_unique_id(config.kernel_dir, options.unique_id)
    create_pyproject(config, project, uid, force=True)
    settings = [
        f"--config-settings=cmake.define.KERNEL_BACKEND={backend}",
        # A persistent build tree: re-entering the shell rebuilds only what changed.
        f"--config-settings=build-dir={work_dir(config, variant) / 'devshell-cmake'}",
    ]
    if options.print_build_logs:
        settings.append("--config-settings=build.verbose=true")
    command = [sys.executable, "-m", "pip", "--python", str(venv_dir / "bin" / "python"), "install",
               "--no-build-isolation", "--no-deps", "-q", *settings, "-e", str(project)]
    result = subprocess.run(command, capture_output=not options.print_build_logs, text=True)
    if result.returncode != 0:
        if result.stderr:
            log(result.stderr.strip()[-4000:])
        raise KernelBuilderError(f"devshell: installing {config.general.name} editable into {venv_dir} failed")
    _remove_testshell_path(venv_dir)
    _link_python_sources(config, _site_packages(venv_dir) / config.general.module_name)
    return Shell("devshell", venv_dir, f"{config.general.name} ({variant}) installed editable into {venv_dir}")


def prepare_testshell(config: BuildConfig, options: BuildOptions, log: Callable[[str], None]) -> Shell:
    """``.venv`` with this environment's built variant importable as ``<name>``."""
    _chosen_variant(config, options)
    results = build_local(config, options, log=log)
    venv_dir = _ensure_venv(config)
    site = _site_packages(venv_dir)
    site.mkdir(parents=True, exist_ok=True)
    root = make_import_root(results[0].variant_dir, config.general.module_name, venv_dir / "kernel-builder-import")
    (site / _PTH_NAME).write_text(f"{root}\n", encoding="utf-8")
    return Shell("testshell", venv_dir, f"{results[0].variant_dir} on the path of {venv_dir}")


def _link_python_sources(config: BuildConfig, installed: Path) -> None:
    """Replace the installed copies of the kernel's Python files by links to the sources.

    Edits to Python code then take effect at once; native code is rebuilt by
    entering the devshell again.
    """
    package = config.python_package_dir
    for source in package.rglob("*.py"):
        if "__pycache__" in source.parts or source.name == "_ops.py":
            continue
        target = installed / source.relative_to(package)
        if target.is_file() and not target.is_symlink():
            target.unlink()
            target.symlink_to(source.resolve())


def _remove_testshell_path(venv_dir: Path) -> None:
    pth = _site_packages(venv_dir) / _PTH_NAME
    if pth.exists():
        pth.unlink()


def _chosen_variant(config: BuildConfig, options: BuildOptions) -> tuple[str, str]:
    variants = buildable_variants(config)
    if options.variant is None:
        return variants[0]
    for backend, variant in variants:
        if variant == options.variant:
            return backend, variant
    names = ", ".join(v for _, v in variants)
    raise KernelBuilderError(f"--variant: {options.variant!r} is not available without Nix; this environment has {names}")


def run_shell(shell: Shell) -> int:
    """Start the user's shell in ``shell``'s environment; returns its exit code."""
    program = os.environ.get("SHELL") or "/bin/sh"
    return subprocess.call([program], env=shell.environment())
