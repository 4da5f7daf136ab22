"""`playbook docs --output DIR`."""

from __future__ import annotations

from pathlib import Path

import click

from playbook_engine.cli.commands.common import library_option, library_root
from playbook_engine.cli.errors import fail_input


@click.command("docs")
@library_option
@click.option(
    "-o",
    "--output",
    type=click.Path(path_type=Path, file_okay=False),
    required=True,
    help="Directory to write the pages into (created if missing).",
)
def command(library_dir: Path | None, output: Path) -> None:
    """Render the library as Markdown reference pages: index.md and one page per playbook."""
    from playbook_engine.authoring.docsgen import build_pages, write_pages
    from playbook_engine.pipeline import open_library

    compiled = open_library(library_root(library_dir))
    pages = build_pages(compiled.library)
    problems = write_pages(pages, output)
    if problems:
        fail_input(problems)
    click.echo(f"wrote {len(pages)} pages to {output}")
