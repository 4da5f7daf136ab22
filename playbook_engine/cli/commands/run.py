"""`playbook run INCIDENT`."""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING

import click

from playbook_engine.cli.commands.common import (
    at_option,
    library_option,
    library_root,
    open_stream,
    output_lines,
    parse_at,
    read_stdin,
    write_output,
)
from playbook_engine.cli.errors import EXIT_FINDINGS, EXIT_OK, Failure

if TYPE_CHECKING:
    from playbook_engine.speed.cache import LastValid


@click.command("run")
@click.argument("incident", required=False)
@library_option
@at_option
@click.option(
    "--set",
    "overrides",
    multiple=True,
    metavar="FIELD=VALUE",
    help="Add or override an incident field, e.g. --set labels.team=payments (repeatable).",
)
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["markdown", "text", "json"]),
    help="Output format (default: from the --output name's .json/.txt/.md, else text on a "
    "terminal, else markdown).",
)
@click.option("--explain", is_flag=True, help="Show why: every playbook, rule, leaf and step.")
@click.option("-o", "--output", type=click.Path(path_type=Path), help="Write to FILE atomically.")
@click.option(
    "--jsonl",
    is_flag=True,
    help="Batch: one JSON incident per line in, one JSON plan per line out.",
)
@click.option(
    "--from",
    "source_format",
    metavar="FORMAT",
    help="Read an alert payload: alertmanager, pagerduty-events, pagerduty-webhook, grafana, "
    "opsgenie, datadog, cloudwatch-sns, sentry, a mapping id of the library, or auto.",
)
@click.option(
    "--no-cache",
    is_flag=True,
    help="Validate the library afresh instead of using the library cache.",
)
@click.option(
    "--group-alerts",
    is_flag=True,
    help="With --from: an Alertmanager or Grafana notification is one incident (default: the "
    "library's alertGrouping, else one per alert).",
)
@click.option(
    "--color/--no-color",
    default=None,
    help="Colour text output (default: on a TTY without NO_COLOR).",
)
def command(
    incident: str | None,
    library_dir: Path | None,
    at_text: str | None,
    overrides: tuple[str, ...],
    fmt: str | None,
    explain: bool,
    output: Path | None,
    jsonl: bool,
    source_format: str | None,
    color: bool | None,
    no_cache: bool,
    group_alerts: bool,
) -> None:
    """Evaluate INCIDENT (a JSON or YAML file, or - for stdin) and print the response plan."""
    from playbook_engine.cli import runner
    from playbook_engine.speed.cache import library_for_run

    if incident is None:
        raise click.UsageError("missing INCIDENT (a file, or - for standard input)")
    if jsonl and fmt not in (None, "json"):
        raise click.UsageError(
            f"--jsonl writes one JSON plan per line; --format {fmt} is not possible"
        )
    at = parse_at(at_text)
    if jsonl:
        with open_stream(incident) as (display, stream):
            compiled, stale = library_for_run(
                library_root(library_dir, incident), use_cache=not no_cache
            )
            _say_stale(stale)
            with output_lines(output) as write:
                failed = runner.run_jsonl(compiled, display, stream, at, overrides, explain, write)
        raise Failure(EXIT_FINDINGS if failed or stale else EXIT_OK)
    stdin_text = read_stdin() if incident == "-" else None
    compiled, stale = library_for_run(library_root(library_dir, incident), use_cache=not no_cache)
    _say_stale(stale)
    terminal = output is None and sys.stdout.isatty()
    chosen = fmt or _format_of(output) or ("text" if terminal else "markdown")
    use_color = color if color is not None else terminal and "NO_COLOR" not in os.environ
    text, failed, note = runner.run_one(
        compiled,
        incident,
        stdin_text,
        at,
        overrides,
        chosen,
        explain,
        source_format,
        use_color,
        group_alerts,
    )
    if note:
        click.echo(f"playbook: {note}", err=True)
    write_output(text, output)
    raise Failure(EXIT_FINDINGS if failed or stale else EXIT_OK)


def _say_stale(stale: LastValid | None) -> None:
    """Say loudly that the plan comes from the last library that validated, and why."""
    if stale is None:
        return
    from datetime import UTC, datetime

    from playbook_engine.render.diagnostics import text_lines
    from playbook_engine.timeparse import format_timestamp

    when = format_timestamp(datetime.fromtimestamp(int(stale.validated_at), UTC))
    count = len(stale.errors)
    click.echo(
        f"playbook: WARNING the library does not validate ({count} error"
        f"{'s' if count != 1 else ''}); this plan comes from the last library that validated "
        f"here ({when}); the current library's errors:",
        err=True,
    )
    for line in text_lines(stale.errors):
        click.echo(f"  {line}", err=True)
    click.echo(
        "playbook: fix them (playbook validate); until then plans come from that library and "
        "the exit code is 1",
        err=True,
    )


def _format_of(output: Path | None) -> str | None:
    """The format an output file's name asks for: `plan.json` is JSON, `plan.txt` text."""
    suffix = output.suffix.lower() if output is not None else ""
    return {".json": "json", ".txt": "text", ".md": "markdown", ".markdown": "markdown"}.get(suffix)
