"""`playbook convert --from FORMAT PAYLOAD`."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import click

from playbook_engine.cli.commands.common import parse_at, read_stdin, write_output


@click.command("convert")
@click.argument("payload")
@click.option(
    "--from",
    "source_format",
    metavar="FORMAT",
    default="auto",
    show_default=True,
    help="alertmanager, pagerduty-events, pagerduty-webhook, grafana, opsgenie, datadog, "
    "cloudwatch-sns, sentry, a payload mapping id of the library, or auto.",
)
@click.option(
    "-l",
    "--library",
    "library_dir",
    type=click.Path(path_type=Path),
    help="Library whose PayloadMapping documents --from may name (default: $PLAYBOOK_LIBRARY, "
    "or found from here; needed only for a mapping id).",
)
@click.option(
    "--at",
    "at_text",
    metavar="TIMESTAMP",
    help="When the payload was received, e.g. 2026-03-14T02:30:00Z: the start time of a payload "
    "that has none (default: none, and such a payload is refused).",
)
@click.option("--jsonl", is_flag=True, help="One incident per line (input for run --jsonl).")
@click.option(
    "--group-alerts",
    is_flag=True,
    help="An Alertmanager or Grafana notification is one incident (default: the library's "
    "alertGrouping, else one per alert).",
)
@click.option("-o", "--output", type=click.Path(path_type=Path), help="Write to FILE atomically.")
def command(
    payload: str,
    source_format: str,
    library_dir: Path | None,
    at_text: str | None,
    jsonl: bool,
    output: Path | None,
    group_alerts: bool,
) -> None:
    """Print the canonical incident(s) of an alert PAYLOAD (a file, or - for stdin).

    This is what conditions and templates see as `incident`: use it to write them. A payload
    with several alerts gives several incidents (a JSON array, or one per line with --jsonl).
    The format picked by `auto` is reported on stderr.
    """
    from playbook_engine.adapters import FORMATS
    from playbook_engine.cli.runner import convert_payload
    from playbook_engine.jsonio import dumps
    from playbook_engine.load.discovery import find_library_root
    from playbook_engine.load.incident import read_source
    from playbook_engine.speed.cache import cached_library

    received_at = parse_at(at_text) if at_text is not None else None
    mappings: Mapping[str, Any] = {}
    # A built-in format needs no library, so convert works outside one; a mapping id is looked
    # up in the library found the way every command finds it.
    grouped = group_alerts
    if library_dir is not None or source_format not in (*FORMATS, "auto"):
        root = library_dir or find_library_root()
        if root is not None:
            library = cached_library(root)
            mappings = library.mappings
            grouped = grouped or library.policy.alert_grouping == "group"
    display, content = read_source(payload, read_stdin() if payload == "-" else None)
    fmt, incidents = convert_payload(
        display, content, source_format, mappings, received_at, grouped
    )
    if source_format == "auto":
        click.echo(f"playbook: detected format {fmt}", err=True)
    if jsonl:
        text = "".join(dumps(incident, indent=None) for incident in incidents)
    else:
        text = dumps(incidents)  # always an array, however many incidents: one shape
    write_output(text, output)
