"""The ``kernels`` command line."""

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
    """List the versions of a Hub kernel and mark the variants this environment can load."""
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


if __name__ == "__main__":
    main()
