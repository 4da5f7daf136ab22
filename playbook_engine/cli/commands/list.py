"""`playbook list`."""

from __future__ import annotations

from pathlib import Path

import click

from playbook_engine.cli.commands.common import library_option, library_root


@click.command("list")
@library_option
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["text", "json"]),
    default="text",
    show_default=True,
    help="Output format.",
)
def command(library_dir: Path | None, fmt: str) -> None:
    """The library at a glance: policy, playbooks in merge order, selectors, priorities."""
    from playbook_engine.authoring.overview import render_overview
    from playbook_engine.pipeline import open_library

    compiled = open_library(library_root(library_dir))
    click.echo(render_overview(compiled.library, fmt), nl=False)
