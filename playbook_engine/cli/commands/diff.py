"""`playbook diff [REV_A [REV_B]]`."""

from __future__ import annotations

from pathlib import Path

import click

from playbook_engine.cli.commands.common import library_option, library_root, parse_at
from playbook_engine.cli.errors import EXIT_FINDINGS, EXIT_OK, Failure


@click.command("diff")
@click.argument("rev_a", required=False, default="HEAD")
@click.argument("rev_b", required=False)
@library_option
@click.option(
    "--incidents",
    "incidents_dir",
    type=click.Path(path_type=Path),
    metavar="DIR",
    help="Also compare with the incident files in DIR.",
)
@click.option(
    "--at",
    "at_text",
    metavar="TIMESTAMP",
    help="One clock for every incident (default: each incident's startedAt + 30m).",
)
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["markdown", "text", "json"]),
    default="markdown",
    show_default=True,
    help="Output format (markdown: a pull-request comment).",
)
@click.option("--exit-code", is_flag=True, help="Exit 1 when any plan changed (like git diff).")
@click.option(
    "--max-length",
    type=click.IntRange(min=1000),
    metavar="N",
    help="Markdown: leave out details until the output fits in N characters (a pull-request "
    "comment's limit; GitHub's is 65536).",
)
def command(
    rev_a: str,
    rev_b: str | None,
    library_dir: Path | None,
    incidents_dir: Path | None,
    at_text: str | None,
    fmt: str,
    exit_code: bool,
    max_length: int | None,
) -> None:
    """Show how plans change between REV_A (default HEAD) and REV_B (default: working tree).

    Every example incident (the library's incidents/ and its test cases, plus --incidents) is
    evaluated by both versions at the same clock: --at, else each incident's startedAt + 30m.
    """
    from playbook_engine.authoring.behaviour_diff import diff_library
    from playbook_engine.render.diff import render_diff

    at = parse_at(at_text) if at_text is not None else None
    result = diff_library(library_root(library_dir), rev_a, rev_b, incidents_dir, at)
    click.echo(render_diff(result, fmt, max_length), nl=False)
    raise Failure(EXIT_FINDINGS if exit_code and result.changed else EXIT_OK)
