"""`playbook report`: the metrics the policy is judged by, from the incident store."""

from __future__ import annotations

from pathlib import Path

import click

from playbook_engine.cli.commands.common import at_option, library_option, parse_at, write_output
from playbook_engine.cli.commands.store_common import (
    open_incident_store,
    soft_library,
    store_errors,
    store_option,
)


@click.command("report")
@library_option
@store_option
@at_option
@click.option(
    "--since",
    default="30d",
    show_default=True,
    metavar="DURATION|TIMESTAMP",
    help="The period's start: a duration before --at (30d, 12w) or a timestamp.",
)
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["markdown", "json", "html"]),
    default="markdown",
    show_default=True,
)
@click.option("-o", "--output", type=click.Path(path_type=Path), help="Write to FILE atomically.")
def command(
    library_dir: Path | None,
    store: str | None,
    at_text: str | None,
    since: str,
    fmt: str,
    output: Path | None,
) -> None:
    """MTTA, MTTR, respond and resolve SLA compliance, escalation, re-opened and first-contact
    resolution rates of the incidents that started between --since and --at (default now):
    overall, by peak priority, by playbook and by week. Aggregated in SQL."""
    from playbook_engine.cli.errors import fail_input
    from playbook_engine.diagnostics import Span, error
    from playbook_engine.jsonio import dumps
    from playbook_engine.timeparse import parse_duration, parse_timestamp

    until = parse_at(at_text)
    try:
        start = parse_timestamp(since) if "-" in since else until - parse_duration(since)
    except ValueError as exc:
        hint = "a duration before --at (30d, 12w, 36h) or a timestamp (2026-03-01T00:00:00Z)"
        fail_input([error("IN103", f"--since: {exc}", Span("--since"), hint=hint)])
    if start >= until:
        fail_input([error("IN103", "--since is not before --at", Span("--since"))])
    opened = open_incident_store(store, soft_library(library_dir, store), create=False)
    with store_errors():
        data = opened.report(start, until, until)
    data["store"] = opened.where
    if fmt == "json":
        text = dumps(data)
    elif fmt == "html":
        from playbook_engine.render.report import report_html

        text = report_html(data)
    else:
        from playbook_engine.render.report import report_markdown

        text = report_markdown(data)
    write_output(text, output)
