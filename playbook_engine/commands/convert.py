"""`playbook convert --from FORMAT PAYLOAD`."""

from __future__ import annotations

from pathlib import Path

import click

from .common import read_stdin, write_output


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
    help="Library whose PayloadMapping documents --from may name.",
)
@click.option("--jsonl", is_flag=True, help="One incident per line (input for run --jsonl).")
@click.option("-o", "--output", type=click.Path(path_type=Path), help="Write to FILE atomically.")
def command(
    payload: str, source_format: str, library_dir: Path | None, jsonl: bool, output: Path | None
) -> None:
    """Print the canonical incident(s) of an alert PAYLOAD (a file, or - for stdin).

    This is what conditions and templates see as `incident`: use it to write them. A payload
    with several alerts gives several incidents (a JSON array, or one per line with --jsonl).
    The format picked by `auto` is reported on stderr.
    """
    from ..incident import read_source
    from ..render_json import dumps
    from ..runner import convert_payload, open_library

    mappings = {}
    if library_dir is not None:
        mappings = open_library(library_dir).mappings
    display, content = read_source(payload, read_stdin() if payload == "-" else None)
    fmt, incidents = convert_payload(display, content, source_format, mappings)
    if source_format == "auto":
        click.echo(f"playbook: detected format {fmt}", err=True)
    if jsonl:
        text = "".join(dumps(incident, indent=None) for incident in incidents)
    else:
        text = dumps(incidents[0] if len(incidents) == 1 else incidents)
    write_output(text, output)
