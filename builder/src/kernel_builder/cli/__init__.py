"""The ``kernel-builder`` command line."""

from __future__ import annotations

import sys
from dataclasses import fields
from pathlib import Path
from typing import Any, Optional

import click

from .. import __version__
from ..config import BuildConfig, load_config
from ..errors import KernelBuilderError
from ..options import BuildOptions

KERNEL_DIR = click.argument(
    "kernel_dir", required=False, default=".", type=click.Path(path_type=Path, file_okay=False)
)


class _Group(click.Group):
    """Report expected errors as one line on stderr, never as a traceback."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            result = super().invoke(ctx)
        except KernelBuilderError as e:
            click.echo(f"error: {e}", err=True)
            sys.exit(1)
        except KeyboardInterrupt:
            click.echo("interrupted", err=True)
            sys.exit(130)
        for warning in ctx.meta.get(_WARNINGS, ()):
            click.echo(f"warning: {warning}", err=True)
        return result


_WARNINGS = "kernel_builder.warnings"


def _load_config(kernel_dir: Path) -> BuildConfig:
    """``load_config``; its warnings (legacy formats) are shown on stderr once the command succeeds.

    A failing command prints only its one error line.
    """
    config = load_config(kernel_dir)
    pending = click.get_current_context().meta.setdefault(_WARNINGS, [])
    pending.extend(w for w in config.warnings if w not in pending)
    return config


@click.group(cls=_Group, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="kernel-builder")
def main() -> None:
    """Build Hugging Face Hub kernels."""


@main.command("check-config")
@KERNEL_DIR
def check_config(kernel_dir: Path) -> None:
    """Validate the build.toml file."""
    config = _load_config(kernel_dir)
    kinds = "Python-only (noarch)" if config.is_noarch else f"{len(config.kernels)} kernel section(s)"
    if config.framework == "tvm-ffi":
        kinds = f"TVM FFI, {kinds}"
    click.echo(
        f"{kernel_dir / 'build.toml'}: OK ({config.general.name} v{config.general.version}, "
        f"backends: {', '.join(config.general.backends)}, {kinds})"
    )


@main.command("create-pyproject")
@KERNEL_DIR
@click.argument("target_dir", required=False, type=click.Path(path_type=Path, file_okay=False))
@click.option("-f", "--force", is_flag=True, help="Force-overwrite existing files.")
@click.option("--unique-id", help="Unique identifier suffixed to the kernel name to avoid name collisions, e.g. a git SHA (default: the git short SHA).")
def create_pyproject_command(kernel_dir: Path, target_dir: Optional[Path], force: bool, unique_id: Optional[str]) -> None:
    """Generate CMake files for a kernel extension build.

    TARGET_DIR is the directory to write the generated files to (the
    directory of build.toml when absent).
    """
    from ..gitinfo import unique_id as resolve_unique_id
    from ..generate.pyproject import create_pyproject

    config = load_config(kernel_dir)
    target = target_dir if target_dir is not None else kernel_dir
    if target.exists() and not target.is_dir():
        raise KernelBuilderError(f"TARGET_DIR: {target} is not a directory")
    uid = resolve_unique_id(config.kernel_dir, unique_id)
    created = create_pyproject(config, target, uid, force=force)
    for path in created.written:
        click.echo(f"wrote {path}")
    for path in created.unchanged:
        click.echo(f"unchanged {path}")
    click.echo(f"ops namespace: _{config.general.module_name}_<backend>_{uid}")


@main.command("clean-pyproject")
@KERNEL_DIR
@click.argument("target_dir", required=False, type=click.Path(path_type=Path, file_okay=False))
@click.option("-d", "--dry-run", is_flag=True, help="Show what would be deleted without actually deleting.")
@click.option("-f", "--force", is_flag=True, help="Force deletion without confirmation.")
@click.option("--ops-id", help="Also remove extension modules built in place with this unique id.")
def clean_pyproject_command(kernel_dir: Path, target_dir: Optional[Path], dry_run: bool, force: bool,
                            ops_id: Optional[str]) -> None:
    """Clean generated artifacts.

    TARGET_DIR is the directory to clean from (the directory of build.toml
    when absent).
    """
    from ..generate.pyproject import apply_clean, plan_clean

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
    from .._toml import load_toml
    from ..config import BUILD_TOML, parse_config
    from ..config.formats import CURRENT_FORMAT, migrate

    path = kernel_dir / BUILD_TOML
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as e:
        raise KernelBuilderError(f"{path}: cannot read ({e.strerror})") from None
    try:
        migration = migrate(text)
    except Exception as e:  # tomlkit parse errors and impossible conversions
        raise KernelBuilderError(f"{path}: cannot convert: {e}") from None
    new_text, found = migration.text, migration.found
    if found == CURRENT_FORMAT:
        click.echo(f"{path}: already in the current edition ({CURRENT_FORMAT}); nothing to do")
        return
    # Validate the converted file before replacing the original.
    parse_config(load_toml(new_text, str(path)), kernel_dir.resolve(), str(path))
    tmp = path.with_name(f".{BUILD_TOML}.tmp")
    tmp.write_text(new_text, encoding="utf-8")
    tmp.replace(path)
    click.echo(f"{path}: converted from format v{found} to edition {CURRENT_FORMAT}")
    for note in migration.notes:
        click.echo(f"{path}: {note}")


@main.command("check-abi", short_help="Check the ABI compatibility of a kernel extension.")
@click.argument("kernel_dir", required=False, default=".", type=click.Path(path_type=Path))
@click.option("-m", "--manylinux", default="manylinux_2_28", show_default=True, metavar="VERSION",
              help="Manylinux policy (manylinux_2_17 ... manylinux_2_41, or manylinux2014).")
@click.option("--macos", default="15.0", show_default=True, metavar="VERSION",
              help="Highest allowed macOS deployment target (Mach-O libraries).")
@click.option("-p", "--python-abi", default="3.9", show_default=True, metavar="VERSION",
              help="Python version whose stable ABI (limited API) the libraries must keep to.")
@click.option("--torch-stable-abi", metavar="VERSION",
              help="Torch release whose stable ABI the libraries must keep to (default: [torch] stable-abi).")
def check_abi_command(kernel_dir: Path, manylinux: str, macos: str, python_abi: str,
                      torch_stable_abi: Optional[str]) -> None:
    """Check the ABI compatibility of a kernel's native libraries.

    KERNEL_DIR is a kernel project (its build/ and result/ are checked), a
    build or variant directory, or a single library file.
    """
    from ..check.abi.report import AbiOptions, run_check_abi

    options = AbiOptions(manylinux=manylinux, macos=macos, python=python_abi, torch_stable_abi=torch_stable_abi)
    status = run_check_abi(kernel_dir, options, out=click.echo, err=lambda line: click.echo(line, err=True))
    sys.exit(status)


@main.command("check-builds", short_help="Validate kernel builds.")
@KERNEL_DIR
def check_builds_command(kernel_dir: Path) -> None:
    """Validate kernel builds (layout, metadata, compatibility package, import)."""
    from ..check.builds import run_check_builds

    sys.exit(run_check_builds(kernel_dir, out=click.echo))


@main.command("list-variants")
@KERNEL_DIR
@click.option("--arch", "arch_only", is_flag=True, help="Only list variants for the current architecture.")
def list_variants_command(kernel_dir: Path, arch_only: bool) -> None:
    """List build variants."""
    from ..plan import kernel_variants

    config = load_config(kernel_dir)
    for name in kernel_variants(config, arch_only=arch_only):
        click.echo(name)


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


def _log(line: str) -> None:
    """Progress and diagnostics go to standard error; results to standard output."""
    click.echo(line, err=True)


def _relative(path: Path) -> Path:
    try:
        return path.relative_to(Path.cwd())
    except ValueError:
        return path


def _run_build(kernel_dir: Path, options: BuildOptions) -> None:
    from ..build import build, choose_toolchain

    config: BuildConfig = _load_config(kernel_dir)
    outcome = build(config, options, choose_toolchain(config, options), _log)
    if outcome.nix_result is not None:
        built = outcome.nix_result
        if not built.variants:
            click.echo("Nix built no variants: this kernel has no bundle variant for this system")
            return
        click.echo(f"Built {len(built.variants)} variant(s) with Nix into {_relative(built.build_dir)}: "
                   f"{', '.join(built.variants)}")
        return
    for result in outcome.local_results:
        click.echo(f"Built variant {result.variant} (ops namespace {result.metadata.id}) into "
                   f"{_relative(result.variant_dir)}")
    click.echo("Only this environment's variants were built; the full variant matrix needs Nix (see install.sh).")


def _split_options(params: dict[str, Any]) -> tuple[BuildOptions, dict[str, Any]]:
    """The build options among a command's parameters, and the rest (the upload options)."""
    names = {f.name for f in fields(BuildOptions)}
    build_params = {k: v for k, v in params.items() if k in names}
    return BuildOptions(**build_params), {k: v for k, v in params.items() if k not in names}


@main.command("build")
@KERNEL_DIR
@click.option("--variant", help="Build a specific variant.")
@_build_options
def build_command(kernel_dir: Path, **params: Any) -> None:
    """Build the kernel locally (alias for build-and-copy)."""
    _run_build(kernel_dir, BuildOptions(**params))


@main.command("build-and-copy", short_help="Build the kernel and copy artifacts locally.")
@KERNEL_DIR
@_build_options
def build_and_copy_command(kernel_dir: Path, **params: Any) -> None:
    """Build the kernel and copy artifacts locally (into build/)."""
    _run_build(kernel_dir, BuildOptions(**params))


def _upload_options(func: Any) -> Any:
    options = [
        click.option("--repo-id", help="Hub repository, e.g. `org/my-kernel` (default: general.hub.repo-id in build.toml)."),
        click.option("--branch", help="Branch to upload to (default: v<version> from the builds' metadata; created if missing)."),
        click.option("--private", is_flag=True, help="Create the repository as private (if it does not exist yet)."),
        click.option("--repo-type", type=click.Choice(["kernel", "model"]), default="kernel", show_default=True,
                     help="Hub repository type (`model` only for legacy kernel repositories)."),
        click.option("--create-pr", is_flag=True, help="Open pull requests instead of committing to the branches."),
        click.option("--output-json", is_flag=True, help="Print the result as JSON on standard output."),
        click.option("--allow-dirty", is_flag=True, help="Upload variants built from a dirty git tree."),
        click.option("--allow-mixed-versions", is_flag=True,
                     help="Upload variants that disagree on the kernel version (needs --branch)."),
        click.option("-q", "--quiet", is_flag=True, help="Suppress progress output (only print the URL)."),
    ]
    for option in reversed(options):
        func = option(func)
    return func


def _run_upload(kernel_dir: Path, repo_id: Optional[str], branch: Optional[str], private: bool, repo_type: str,
                create_pr: bool, output_json: bool, allow_dirty: bool, allow_mixed_versions: bool,
                quiet: bool) -> None:
    from ..upload import describe, plan_upload, result_json, upload

    plan = plan_upload(kernel_dir, repo_id=repo_id, branch=branch, repo_type=repo_type,
                       allow_dirty=allow_dirty, allow_mixed_versions=allow_mixed_versions)
    progress = (lambda line: None) if quiet or output_json else (lambda line: click.echo(line, err=True))
    result = upload(plan, private=private, create_pr=create_pr, log=progress)
    if output_json:
        click.echo(result_json(result))
        return
    if not quiet:
        for line in describe(result):
            click.echo(line, err=True)
    click.echo(result.url)


@main.command("upload")
@KERNEL_DIR
@_upload_options
def upload_command(kernel_dir: Path, **options: Any) -> None:
    """Upload kernel build artifacts to the Hugging Face Hub."""
    _run_upload(kernel_dir, **options)


@main.command("build-and-upload")
@KERNEL_DIR
@click.option("--variant", help="Build a specific variant.")
@_build_options
@_upload_options
def build_and_upload_command(kernel_dir: Path, **params: Any) -> None:
    """Build the kernel and upload it to the Hugging Face Hub."""
    import contextlib

    build_options, options = _split_options(params)
    # Check the upload arguments before spending time on a build.
    if options["repo_id"] is None:
        if load_config(kernel_dir).general.hub.repo_id is None:
            raise KernelBuilderError(
                f"{kernel_dir / 'build.toml'}: general.hub.repo-id is not set; set it or pass --repo-id"
            )
    # With --output-json, standard output carries only the JSON result.
    redirect = contextlib.redirect_stdout(sys.stderr) if options["output_json"] else contextlib.nullcontext()
    with redirect:
        _run_build(kernel_dir, build_options)
    _run_upload(kernel_dir, **options)


def _shell_command(kind: str, kernel_dir: Path, options: BuildOptions) -> None:
    from ..build import choose_toolchain
    from .shells import prepare_devshell, prepare_testshell, run_shell

    config = _load_config(kernel_dir)
    toolchain = choose_toolchain(config, options)
    if toolchain.uses_nix:
        from ..build.nix import NixOptions
        from ..build.nix import run_shell as run_nix_shell

        code = run_nix_shell(kind, config, options.variant, NixOptions.for_build(options), _log,
                             nix=toolchain.nix or "nix")
        if code:
            sys.exit(code)
        return
    if not options.local:
        _log(f"{toolchain.reason}: using a host-toolchain environment")
    prepare = prepare_devshell if kind == "devshell" else prepare_testshell
    shell = prepare(config, options, _log)
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
def devshell_command(kernel_dir: Path, **params: Any) -> None:
    """Spawn a kernel development shell."""
    _shell_command("devshell", kernel_dir, BuildOptions(**params))


@main.command("testshell")
@KERNEL_DIR
@_shell_options
def testshell_command(kernel_dir: Path, **params: Any) -> None:
    """Spawn a kernel test shell."""
    _shell_command("testshell", kernel_dir, BuildOptions(**params))


from .completions import completions_command  # noqa: E402
from .init import init_command  # noqa: E402
from .skills import skills_group  # noqa: E402

main.add_command(completions_command)
main.add_command(init_command)
main.add_command(skills_group)


if __name__ == "__main__":  # pragma: no cover
    main()
