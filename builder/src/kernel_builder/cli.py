"""The ``kernel-builder`` command line."""

from __future__ import annotations

import shutil
import sys
from pathlib import Path
from typing import Any, Optional

import click

from . import __version__
from .config import BuildConfig, load_config
from .errors import KernelBuilderError

KERNEL_DIR = click.argument(
    "kernel_dir", required=False, default=".", type=click.Path(path_type=Path, file_okay=False)
)


class _Group(click.Group):
    """Report expected errors as one line on stderr, never as a traceback."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except KernelBuilderError as e:
            click.echo(f"error: {e}", err=True)
            sys.exit(1)
        except KeyboardInterrupt:
            click.echo("interrupted", err=True)
            sys.exit(130)


@click.group(cls=_Group, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="kernel-builder")
def main() -> None:
    """Build Hugging Face Hub kernels."""


@main.command("check-config")
@KERNEL_DIR
def check_config(kernel_dir: Path) -> None:
    """Validate the build.toml file."""
    config = load_config(kernel_dir)
    kinds = "Python-only (noarch)" if config.is_noarch else f"{len(config.kernels)} kernel section(s)"
    click.echo(
        f"{kernel_dir / 'build.toml'}: OK ({config.general.name} v{config.general.version}, "
        f"backends: {', '.join(config.general.backends)}, {kinds})"
    )


@main.command("create-pyproject")
@KERNEL_DIR
@click.argument("target_dir", required=False, type=click.Path(path_type=Path, file_okay=False))
@click.option("-f", "--force", is_flag=True, help="Force-overwrite existing files.")
@click.option("--unique-id", help="Suffix for the ops namespace instead of the git short sha (e.g. a git SHA).")
def create_pyproject_command(kernel_dir: Path, target_dir: Optional[Path], force: bool, unique_id: Optional[str]) -> None:
    """Generate CMake files for a kernel extension build."""
    from .gitinfo import unique_id as resolve_unique_id
    from .pyproject import create_pyproject

    config = load_config(kernel_dir)
    target = target_dir if target_dir is not None else kernel_dir
    if target.exists() and not target.is_dir():
        raise KernelBuilderError(f"TARGET_DIR: {target} is not a directory")
    uid = resolve_unique_id(config.kernel_dir, unique_id)
    written = create_pyproject(config, target, uid, force=force)
    for path in written:
        click.echo(f"wrote {path}")
    click.echo(f"ops namespace: _{config.general.module_name}_<backend>_{uid}")


@main.command("clean-pyproject")
@KERNEL_DIR
@click.argument("target_dir", required=False, type=click.Path(path_type=Path, file_okay=False))
@click.option("-d", "--dry-run", is_flag=True, help="Show what would be deleted without deleting.")
@click.option("-f", "--force", is_flag=True, help="Delete without asking for confirmation.")
@click.option("--ops-id", help="Also remove extension modules built in place with this unique id.")
def clean_pyproject_command(kernel_dir: Path, target_dir: Optional[Path], dry_run: bool, force: bool,
                            ops_id: Optional[str]) -> None:
    """Clean generated artifacts."""
    from .pyproject import apply_clean, plan_clean

    config = load_config(kernel_dir)
    target = target_dir if target_dir is not None else kernel_dir
    plan = plan_clean(config, target, ops_id)
    for path, reason in plan.skipped:
        click.echo(f"keeping {path}: {reason}")
    if not plan.remove:
        click.echo("nothing to clean")
        return
    if dry_run:
        for path in plan.remove:
            click.echo(f"would remove {path}")
        return
    if not force:
        if not sys.stdin.isatty():
            raise KernelBuilderError("not deleting without confirmation: use -f/--force (or -d to preview)")
        for path in plan.remove:
            click.echo(f"will remove {path}")
        click.confirm(f"Delete {len(plan.remove)} generated file(s)?", abort=True)
    for path in plan.remove:
        click.echo(f"removing {path}")
    apply_clean(plan, target)


@main.command("update-build")
@KERNEL_DIR
def update_build_command(kernel_dir: Path) -> None:
    """Update a `build.toml` to the current format."""
    from ._toml import tomllib
    from .config import BUILD_TOML, parse_config
    from .formats import CURRENT_FORMAT, upgrade

    path = kernel_dir / BUILD_TOML
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as e:
        raise KernelBuilderError(f"{path}: cannot read ({e.strerror})") from None
    try:
        new_text, found = upgrade(text)
    except Exception as e:  # tomlkit parse errors and impossible conversions
        raise KernelBuilderError(f"{path}: cannot convert: {e}") from None
    if found == CURRENT_FORMAT:
        click.echo(f"{path}: already in the current format (v{CURRENT_FORMAT}); nothing to do")
        return
    # Validate the converted file before replacing the original.
    parse_config(tomllib.loads(new_text), kernel_dir.resolve(), str(path))
    tmp = path.with_name(f".{BUILD_TOML}.tmp")
    tmp.write_text(new_text, encoding="utf-8")
    tmp.replace(path)
    click.echo(f"{path}: converted from format v{found} to v{CURRENT_FORMAT}")


def _build_options(func: Any) -> Any:
    func = click.option("-L", "--print-build-logs", is_flag=True, help="Print full build logs on standard error.")(func)
    func = click.option("--cores", type=click.IntRange(min=1), help="Number of CPU cores to use for each build job (locally: nvcc threads per CUDA file).")(func)
    func = click.option(
        "--max-jobs", type=click.IntRange(min=1),
        help="Maximum number of parallel build jobs (locally: parallel compiler processes).",
    )(func)
    func = click.option("--local", is_flag=True, help="Build with the host toolchain even when Nix is installed.")(func)
    func = click.option("--unique-id", help="Suffix for the ops namespace instead of the git short sha.")(func)
    return func


def _run_build(kernel_dir: Path, variant: Optional[str], max_jobs: Optional[int], cores: Optional[int],
               print_build_logs: bool, local: bool, unique_id: Optional[str]) -> None:
    from .local_build import BuildOptions, build_local

    config: BuildConfig = load_config(kernel_dir)
    nix = shutil.which("nix")
    if nix and not local:
        reason = "Nix is installed, but the Nix driver is not available in this version; building locally"
    elif nix:
        reason = "--local given"
    else:
        reason = "Nix is not installed"
    click.echo(f"{reason}: building this environment's variant with the host toolchain (CMake + Ninja)", err=True)
    options = BuildOptions(unique_id=unique_id, max_jobs=max_jobs, cores=cores,
                           print_build_logs=print_build_logs, variant=variant)
    results = build_local(config, options, log=lambda line: click.echo(line, err=True))
    for result in results:
        rel = result.variant_dir
        try:
            rel = result.variant_dir.relative_to(Path.cwd())
        except ValueError:
            pass
        click.echo(f"Built variant {result.variant} (ops namespace {result.metadata.id}) into {rel}")
    click.echo("Only this environment's variants were built; the full variant matrix needs Nix (see install.sh).")


@main.command("build")
@KERNEL_DIR
@click.option("--variant", help="Build a specific variant.")
@_build_options
def build_command(kernel_dir: Path, variant: Optional[str], max_jobs: Optional[int], cores: Optional[int],
                  print_build_logs: bool, local: bool, unique_id: Optional[str]) -> None:
    """Build the kernel locally (alias for build-and-copy)."""
    _run_build(kernel_dir, variant, max_jobs, cores, print_build_logs, local, unique_id)


@main.command("build-and-copy")
@KERNEL_DIR
@_build_options
def build_and_copy_command(kernel_dir: Path, max_jobs: Optional[int], cores: Optional[int],
                           print_build_logs: bool, local: bool, unique_id: Optional[str]) -> None:
    """Build the kernel and copy artifacts into build/."""
    _run_build(kernel_dir, None, max_jobs, cores, print_build_logs, local, unique_id)


def _shell_command(kind: str, kernel_dir: Path, local: bool, variant: Optional[str], max_jobs: Optional[int],
                   cores: Optional[int], print_build_logs: bool) -> None:
    from .local_build import BuildOptions
    from .shells import prepare_devshell, prepare_testshell, run_shell

    config = load_config(kernel_dir)
    options = BuildOptions(max_jobs=max_jobs, cores=cores, print_build_logs=print_build_logs, variant=variant)
    log = lambda line: click.echo(line, err=True)  # noqa: E731
    prepare = prepare_devshell if kind == "devshell" else prepare_testshell
    shell = prepare(config, options, log)
    click.echo(f"{kind}: no Nix shell; host-toolchain virtual environment with {shell.description}", err=True)
    code = run_shell(shell)
    if code:
        sys.exit(code)


def _shell_options(func: Any) -> Any:
    func = click.option("-L", "--print-build-logs", is_flag=True, help="Print full build logs on standard error.")(func)
    func = click.option("--cores", type=click.IntRange(min=1), help="Number of CPU cores to use for each build job.")(func)
    func = click.option("--max-jobs", type=click.IntRange(min=1), help="Maximum number of parallel Nix build jobs.")(func)
    func = click.option("--variant", help="Use a specific variant.")(func)
    func = click.option("--local", is_flag=True, help="Use a host-toolchain virtual environment even when Nix is installed.")(func)
    return func


@main.command("devshell")
@KERNEL_DIR
@_shell_options
def devshell_command(kernel_dir: Path, local: bool, variant: Optional[str], max_jobs: Optional[int],
                     cores: Optional[int], print_build_logs: bool) -> None:
    """Spawn a kernel development shell."""
    _shell_command("devshell", kernel_dir, local, variant, max_jobs, cores, print_build_logs)


@main.command("testshell")
@KERNEL_DIR
@_shell_options
def testshell_command(kernel_dir: Path, local: bool, variant: Optional[str], max_jobs: Optional[int],
                      cores: Optional[int], print_build_logs: bool) -> None:
    """Spawn a kernel test shell."""
    _shell_command("testshell", kernel_dir, local, variant, max_jobs, cores, print_build_logs)


if __name__ == "__main__":  # pragma: no cover
    main()
