"""The ``kernels`` command line (entry point ``kernels.cli:main``).

Each subcommand that upstream ``kernels`` also has lives in a module of the
same name as upstream's (``kernels.cli.info``, ``.variants``, ``.cache``,
``.describe_api``, ``.verify_signature``), with the printing function
upstream's code and tests call.
"""

from __future__ import annotations

from typing import Any, Optional

import click

from .. import __version__
from ..variants import BACKENDS


class _Group(click.Group):
    """A group that reports errors as one ``error: ...`` line, exit status 1."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except (click.exceptions.ClickException, click.exceptions.Exit, click.exceptions.Abort):
            raise
        except Exception as e:  # noqa: BLE001 - the CLI boundary
            message = " ".join(str(e).split()) or type(e).__name__
            click.echo(f"error: {message}", err=True)
            ctx.exit(1)


@click.group(cls=_Group)
@click.version_option(__version__, prog_name="kernels")
def main() -> None:
    """Load compute kernels from the Hugging Face Hub."""


@main.command("current-variant")
@click.option("--backend", type=click.Choice(BACKENDS), help="Backend to resolve for (default: Torch's).")
def current_variant_command(backend: Optional[str]) -> None:
    """Print this environment's build variant and the variants it accepts."""
    from ..variants import current_variant, variant_candidates

    click.echo(current_variant(backend))
    click.echo("Accepted variants, most preferred first:")
    for name in variant_candidates(backend):
        click.echo(f"  {name}")


@main.command("versions")
@click.argument("repo_id")
@click.option("--backend", type=click.Choice(BACKENDS), help="Backend to resolve for (default: Torch's).")
@click.option("-v", "--verbose", is_flag=True, help="Also say why each incompatible variant is rejected.")
def versions_command(repo_id: str, backend: Optional[str], verbose: bool) -> None:
    """Deprecated: use `kernels variants --all-versions`. One line per version of a Hub kernel."""
    _print_versions(repo_id, backend, verbose)
    click.echo("warning: `kernels versions` is deprecated; use `kernels variants --all-versions`", err=True)


def _print_versions(repo_id: str, backend: Optional[str], verbose: bool) -> None:
    from ..hub import list_kernel_versions
    from ..selection import VariantAccepted

    versions = list_kernel_versions(repo_id, backend)
    if not versions:
        click.echo(f"{repo_id} has no versions (no vN branches)")
        return
    for entry in versions:
        items = []
        for decision in sorted(entry.decisions, key=lambda d: d.variant):
            if isinstance(decision, VariantAccepted):
                flag = "preferred" if decision.variant == entry.preferred else "compatible"
                items.append(f"✅ {decision.variant} ({flag})")
            else:
                items.append(decision.variant)
        suffix = "" if entry.preferred else " (none compatible)"
        click.echo(f"Version {entry.version}: {', '.join(items) or 'no build variants'}{suffix}")
        if verbose:
            for decision in entry.decisions:
                if not isinstance(decision, VariantAccepted):
                    click.echo(f"  {decision.variant}: {decision.reason}")


@main.command("benchmark")
@click.argument("target", metavar="REPO_ID|PATH")
@click.option("--version", "version", type=click.IntRange(min=0), help="Benchmark version N (branch vN) of a Hub kernel.")
@click.option("--branch", help="Benchmark this branch of a Hub kernel.")
@click.option("--warmup", type=click.IntRange(min=0), default=10, show_default=True,
              help="Untimed calls before timing each workload.")
@click.option("--iterations", type=click.IntRange(min=1), default=100, show_default=True,
              help="Timed calls per workload.")
@click.option("--output", type=click.Path(dir_okay=False, writable=True), help="Also write the results as JSON here.")
@click.option("--trust-remote-code", is_flag=True, help="Load Hub kernels of publishers the Hub does not mark as trusted.")
@click.option("--progress/--no-progress", default=None, help="Show a progress bar (default: when stderr is a terminal).")
def benchmark_command(target: str, version: Optional[int], branch: Optional[str], warmup: int, iterations: int,
                      output: Optional[str], trust_remote_code: bool, progress: Optional[bool]) -> None:
    """Run the benchmarks/benchmark*.py scripts of a kernel and print timings.

    REPO_ID|PATH is a local kernel project (built, with benchmarks/) or a Hub
    repository id with a revision: --version N, --branch B, ORG/NAME@vN or
    ORG/NAME@BRANCH.
    """
    from ..benchmark import run_benchmark

    run_benchmark(target, version=version, branch=branch, warmup=warmup, iterations=iterations,
                  output=output, progress=progress, trust_remote_code=trust_remote_code)


@main.command("check")
@click.argument("repo_id")
@click.option("--version", "version", type=click.IntRange(min=0), required=True,
              help="Kernel version to check (the branch vN).")
@click.pass_context
def check_command(ctx: click.Context, repo_id: str, version: int) -> None:
    """Check that a kernel published on the Hub is compliant (repository type, variants, metadata)."""
    from ..check import check_repo, format_check

    report = check_repo(repo_id, version)
    for line in format_check(report):
        click.echo(line)
    ctx.exit(1 if report.problem_count else 0)


@main.command("lock")
@click.argument("project_dir", type=click.Path(file_okay=False, path_type=str))
def lock_command(project_dir: str) -> None:
    """Pin the project's [tool.kernels.dependencies] to commits in PROJECT_DIR/kernels.lock."""
    from ..locking import lock_project

    path, locks = lock_project(project_dir)
    for lock in locks:
        click.echo(f"Locked {lock.repo_id} at {lock.sha} ({len(lock.variants)} variants)")
    click.echo(f"Wrote {path}")


@main.command("download")
@click.argument("project_dir", type=click.Path(file_okay=False, path_type=str))
@click.option("--all-variants", is_flag=True, help="Download every locked variant, not only this machine's.")
@click.option("--backend", type=click.Choice(BACKENDS), help="Backend to pick the variant for (default: Torch's).")
def download_command(project_dir: str, all_variants: bool, backend: Optional[str]) -> None:
    """Download the kernels locked in PROJECT_DIR/kernels.lock and verify their hashes."""
    from ..locking import download_project

    for repo_id, sha, variants in download_project(project_dir, all_variants=all_variants, backend=backend):
        click.echo(f"Downloaded {repo_id}@{sha}: {', '.join(variants)} (hash verified)")


@main.command("info")
@click.argument("kernel", metavar="REPO_ID|PATH")
@click.option("--revision", help="Branch, tag or commit (Hub only; not with --version).")
@click.option("--version", "version", type=int, help="Kernel version N (branch vN; Hub only; not with --revision).")
@click.option("--json", "json_output", is_flag=True, help="Print the information as JSON.")
def info_command(kernel: str, revision: Optional[str], version: Optional[int], json_output: bool) -> None:
    """Describe a kernel (local build or Hub repository) from its metadata; runs none of its code."""
    from .info import print_kernel_info

    print_kernel_info(kernel, revision=revision, version=version, json_output=json_output)


def _version_or_latest(value: Optional[str]) -> Any:
    if value is None or value == "latest":
        return value
    try:
        return int(value)
    except ValueError:
        raise click.BadParameter("must be an integer or 'latest'", param_hint="--version") from None


@main.command("variants")
@click.argument("repo_id")
@click.option("--all-versions", is_flag=True, help="Show every version (default: the latest only).")
@click.option("--version", "version", help="Show version N, or 'latest'.")
@click.option("--revision", help="Show a branch, tag or commit.")
@click.option("--only-compatible", is_flag=True, help="Only show variants this machine can load.")
@click.option("--json", "json_output", is_flag=True, help="Print the variants and decisions as JSON.")
@click.option("--backend", type=click.Choice(BACKENDS), help="Backend to resolve for (default: Torch's).")
def variants_command(repo_id: str, all_versions: bool, version: Optional[str], revision: Optional[str],
                     only_compatible: bool, json_output: bool, backend: Optional[str]) -> None:
    """Show a Hub kernel's build variants and whether this machine can load each."""
    from .variants import print_kernel_variants

    print_kernel_variants(repo_id, all_versions=all_versions, only_compatible=only_compatible,
                          version=_version_or_latest(version), revision=revision, json_output=json_output,
                          backend=backend)


@main.group("cache", cls=_Group)
def cache_group() -> None:
    """Inspect the kernel cache."""


@cache_group.command("ls")
@click.option("--cache-dir", type=click.Path(file_okay=False, path_type=str), help="Inspect this cache directory.")
@click.option("--json", "json_output", is_flag=True, help="Print the cached kernels as JSON.")
@click.option("--show-warnings", is_flag=True, help="List the cache inconsistencies found.")
@click.option("--no-truncate", is_flag=True, help="Accepted for upstream compatibility (values are never cut).")
def cache_ls_command(cache_dir: Optional[str], json_output: bool, show_warnings: bool, no_truncate: bool) -> None:
    """List the cached kernel versions and their build variants."""
    from pathlib import Path

    from .cache import print_cached_kernels

    print_cached_kernels(cache_dir=Path(cache_dir) if cache_dir else None, json_output=json_output,
                         show_warnings=show_warnings)


@main.command("describe-api")
@click.argument("kernel", metavar="REPO_ID|PATH")
@click.option("--revision", help="Branch, tag or commit (Hub only).")
@click.option("--version", "version", type=int, help="Kernel version N (default: the latest; Hub only).")
@click.option("--json", "json_output", is_flag=True, help="Print the symbols as JSON.")
@click.option("--trust-remote-code", is_flag=True, help="Allow kernels of publishers the Hub does not trust.")
def describe_api_command(kernel: str, revision: Optional[str], version: Optional[int], json_output: bool,
                         trust_remote_code: bool) -> None:
    """List a kernel's public functions and layers without running its code."""
    from .describe_api import print_kernel_api

    print_kernel_api(kernel, revision=revision, version=version, json_output=json_output,
                     trust_remote_code=trust_remote_code)


@main.command("verify-signature")
@click.argument("repo_id")
@click.argument("version", type=int)
@click.option("--all-variants", is_flag=True, help="Verify every build variant, not only this machine's.")
@click.option("--filter-unsigned", is_flag=True, help="Skip unsigned variants.")
@click.option("--filter-no-digest", is_flag=True, help="Skip variants whose metadata has no digest.")
def verify_signature_command(repo_id: str, version: int, all_variants: bool, filter_unsigned: bool,
                             filter_no_digest: bool) -> None:
    """Verify the Sigstore signature of a kernel version (needs the optional `sigstore` package)."""
    from .verify_signature import verify_signature

    verify_signature(repo_id, version, all_variants=all_variants, filter_unsigned=filter_unsigned,
                     filter_no_digest=filter_no_digest)


def download_kernels(args: Any) -> None:
    """Upstream's ``kernels download`` handler: ``args.project_dir`` and ``args.all_variants``.

    Downloads the kernels locked in ``<project_dir>/kernels.lock`` (hashes
    verified); a problem is one ``error:`` line and exit status 1.
    """
    from ..locking import download_project
    from ._common import fail

    try:
        results = download_project(str(args.project_dir), all_variants=bool(getattr(args, "all_variants", False)),
                                   backend=getattr(args, "backend", None))
        for repo_id, sha, variants in results:
            click.echo(f"Downloaded {repo_id}@{sha}: {', '.join(variants)} (hash verified)")
    except (OSError, ValueError, LookupError) as e:
        fail(str(e))


if __name__ == "__main__":
    main()
