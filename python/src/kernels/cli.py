"""The ``kernels`` command line."""

from __future__ import annotations

from typing import Any, Optional

import click

from . import __version__
from .variants import BACKENDS


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
    from .variants import current_variant, variant_candidates

    click.echo(current_variant(backend))
    click.echo("Accepted variants, most preferred first:")
    for name in variant_candidates(backend):
        click.echo(f"  {name}")


if __name__ == "__main__":
    main()
