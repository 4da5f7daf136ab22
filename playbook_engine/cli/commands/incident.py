"""`playbook incident open|ack|step|note|set|resolve|reopen`: the responder's record.

Each subcommand appends to the incident's log in the store (one transaction), evaluates the
library on the incident as the log makes it, records what that plan adds (classification,
escalations whose time came, notifications), and prints what it did. Refused input (an unknown
incident or step, acknowledging a resolved incident, resolving twice) exits 2 and writes
nothing.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import click

from playbook_engine.cli.commands.common import at_option, library_option, parse_at
from playbook_engine.cli.commands.store_common import (
    by_option,
    responder_for,
    store_errors,
    store_option,
    who,
)

format_option = click.option(
    "--format", "fmt", type=click.Choice(["text", "json"]), default="text", show_default=True
)


@click.group("incident")
def command() -> None:
    """Record what happens to an incident: open, ack, step, note, set, resolve, reopen."""


def _common(function: Callable[..., Any]) -> Callable[..., Any]:
    for option in reversed((library_option, store_option, at_option, by_option, format_option)):
        function = option(function)
    return function


def _act(
    store: str | None, library_dir: Path | None, fmt: str, action: Callable[[Any], Any]
) -> None:
    """Run `action` on a responder and print its outcome."""
    responder = responder_for(store, library_dir)
    with store_errors():
        outcome = action(responder)
    _print([outcome], fmt, many=False)


def _line(outcome: Any) -> str:
    from playbook_engine.store.events import iso

    if not outcome.events:
        return f"{outcome.incident}: unchanged (nothing written)"
    first = outcome.events[0]
    kinds = [e.kind for e in outcome.events]
    engine = [k for k in kinds[1:] if k in ("classified", "escalated", "notification")]
    text = f"{outcome.incident}: {outcome.action} by {first.by} at {iso(first.at)}"
    if engine:
        counted = {k: engine.count(k) for k in dict.fromkeys(engine)}
        text += "; recorded " + ", ".join(f"{k} x{n}" if n > 1 else k for k, n in counted.items())
    return text + f" (now {outcome.state.stage})"


@command.command("open")
@click.argument("source", default="-")
@click.option(
    "--from",
    "source_format",
    metavar="FORMAT",
    help="Read an alert payload (a format of `playbook run --from`, a mapping id, or auto).",
)
@click.option("--set", "overrides", multiple=True, metavar="FIELD=VALUE", help="Set a field.")
@_common
def open_(
    source: str,
    source_format: str | None,
    overrides: tuple[str, ...],
    library_dir: Path | None,
    store: str | None,
    at_text: str | None,
    by: str | None,
    fmt: str,
) -> None:
    """Open incidents from SOURCE (an incident file, an alert payload with --from, or - for
    standard input). Idempotent by incident id: the same incident again changes nothing,
    changed fields update it, a resolved alert resolves it, a resolved one firing again
    reopens it."""
    from playbook_engine.cli import runner
    from playbook_engine.cli.commands.common import read_stdin
    from playbook_engine.load.incident import parse_incident, read_source

    at, person = parse_at(at_text), who(by)
    stdin_text = read_stdin() if source == "-" else None
    display, content = read_source(source, stdin_text)
    responder = responder_for(store, library_dir)
    if source_format:
        used, incidents = runner.incidents_from_payload(
            display, content, source_format, overrides, responder.library.mappings, at
        )
        origin = used
    else:
        incidents, origin = [parse_incident(display, content, overrides)], ""
    with store_errors():
        outcomes = [responder.open(incident, at, person, origin) for incident in incidents]
    _print(outcomes, fmt, many=bool(source_format))


def _print(outcomes: list[Any], fmt: str, many: bool) -> None:
    from playbook_engine.jsonio import dumps

    if fmt == "json":
        data = [o.as_dict() for o in outcomes]
        click.echo(dumps(data if many else data[0]), nl=False)
        return
    for outcome in outcomes:
        click.echo(_line(outcome))


@command.command("ack")
@click.argument("incident")
@_common
def ack(
    incident: str,
    library_dir: Path | None,
    store: str | None,
    at_text: str | None,
    by: str | None,
    fmt: str,
) -> None:
    """Acknowledge INCIDENT: the respond SLA is judged now, later tiers stop paging."""
    at, person = parse_at(at_text), who(by)
    _act(store, library_dir, fmt, lambda r: r.acknowledge(incident, at, person))


@command.command("step")
@click.argument("incident")
@click.argument("step")
@click.option("--skip", is_flag=True, help="Mark it skipped (needs --note saying why).")
@click.option("--note", default="", help="A note kept with the step.")
@_common
def step(
    incident: str,
    step: str,
    skip: bool,
    note: str,
    library_dir: Path | None,
    store: str | None,
    at_text: str | None,
    by: str | None,
    fmt: str,
) -> None:
    """Mark STEP (a step id of the incident's plan) done, or skipped with --skip."""
    if skip and not note.strip():
        raise click.UsageError("a skipped step needs --note saying why")
    at, person = parse_at(at_text), who(by)
    state = "skipped" if skip else "done"
    _act(store, library_dir, fmt, lambda r: r.step(incident, step, state, note, at, person))


@command.command("note")
@click.argument("incident")
@click.argument("text", nargs=-1, required=True)
@click.option("--key", help="An idempotency key: the same key is recorded once.")
@_common
def note(
    incident: str,
    text: tuple[str, ...],
    key: str | None,
    library_dir: Path | None,
    store: str | None,
    at_text: str | None,
    by: str | None,
    fmt: str,
) -> None:
    """Add a note (TEXT) to INCIDENT's timeline."""
    at, person, words = parse_at(at_text), who(by), " ".join(text)
    _act(store, library_dir, fmt, lambda r: r.note(incident, words, at, person, key))


@command.command("set")
@click.argument("incident")
@click.argument("assignments", nargs=-1, required=True, metavar="FIELD=VALUE...")
@_common
def set_(
    incident: str,
    assignments: tuple[str, ...],
    library_dir: Path | None,
    store: str | None,
    at_text: str | None,
    by: str | None,
    fmt: str,
) -> None:
    """Reclassify INCIDENT: change fields (as `playbook run --set`) and evaluate again. The
    peak priority stays on record."""
    at, person = parse_at(at_text), who(by)
    _act(store, library_dir, fmt, lambda r: r.reclassify(incident, assignments, at, person))


@command.command("resolve")
@click.argument("incident")
@click.option("--note", default="", help="How it was resolved.")
@_common
def resolve(
    incident: str,
    note: str,
    library_dir: Path | None,
    store: str | None,
    at_text: str | None,
    by: str | None,
    fmt: str,
) -> None:
    """Resolve INCIDENT."""
    at, person = parse_at(at_text), who(by)
    _act(store, library_dir, fmt, lambda r: r.resolve(incident, note, at, person))


@command.command("reopen")
@click.argument("incident")
@click.option("--note", default="", help="Why it is reopened.")
@_common
def reopen(
    incident: str,
    note: str,
    library_dir: Path | None,
    store: str | None,
    at_text: str | None,
    by: str | None,
    fmt: str,
) -> None:
    """Reopen a resolved INCIDENT."""
    at, person = parse_at(at_text), who(by)
    _act(store, library_dir, fmt, lambda r: r.reopen(incident, note, at, person))
