"""`playbook status [INCIDENT]`: the open incidents at a glance, or one incident in full."""

from __future__ import annotations

from pathlib import Path

import click

from playbook_engine.cli.commands.common import at_option, library_option, parse_at
from playbook_engine.cli.commands.store_common import (
    open_incident_store,
    responder_for,
    soft_library,
    store_errors,
    store_option,
)


@click.command("status")
@click.argument("incident", required=False)
@library_option
@store_option
@at_option
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["text", "markdown", "json"]),
    default="text",
    show_default=True,
)
def command(
    incident: str | None,
    library_dir: Path | None,
    store: str | None,
    at_text: str | None,
    fmt: str,
) -> None:
    """Without INCIDENT: the open incidents (priority, age, respond and resolve deadlines
    left or overdue, next escalation, checklist progress), from the store alone. With it: the
    incident's record and its plan now (the library evaluated on the incident as its log
    makes it), done steps ticked."""
    from playbook_engine.jsonio import dumps
    from playbook_engine.store import views
    from playbook_engine.store.events import iso

    at = parse_at(at_text)
    if incident is None:
        opened = open_incident_store(store, soft_library(library_dir, store), create=False)
        with store_errors():
            rows = views.glance(opened.summaries(), at)
        if fmt == "json":
            click.echo(dumps({"asOf": iso(at), "incidents": rows}), nl=False)
            return
        from playbook_engine.render import incidents

        render = incidents.status_markdown if fmt == "markdown" else incidents.status_text
        click.echo(render(rows, iso(at)), nl=False)
        return
    _one(incident, library_dir, store, at, fmt)


def _one(incident: str, library_dir: Path | None, store: str | None, at: object, fmt: str) -> None:
    from datetime import datetime

    from playbook_engine.cli.errors import fail_input
    from playbook_engine.diagnostics import Span, error
    from playbook_engine.jsonio import dumps
    from playbook_engine.render import incidents
    from playbook_engine.render.plans import plan_to_dict, render_plan
    from playbook_engine.store import views

    assert isinstance(at, datetime)
    responder = responder_for(store, library_dir)
    with store_errors():
        state = responder.store.state(incident)
    if state is None:
        fail_input(
            [
                error(
                    "ST111",
                    f"no incident {incident!r} in the store {responder.store.where}",
                    Span(incident),
                    hint="list the open incidents with: playbook status",
                )
            ]
        )
    plan = responder.plan(state, at)
    view = views.incident_view(state, [s.id for s in plan.steps])
    view["libraryNow"] = responder.version()
    if fmt == "json":
        click.echo(dumps({"incident": view, "plan": plan_to_dict(plan)}), nl=False)
        return
    checked = {step: mark.state for step, mark in state.steps.items()}
    text = render_plan(plan, fmt, checked=checked)
    title, _, rest = text.partition("\n\n")
    click.echo(title + "\n\n" + incidents.incident_header(view, fmt) + rest, nl=False)
