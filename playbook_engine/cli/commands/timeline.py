"""`playbook timeline INCIDENT`: the post-incident review timeline."""

from __future__ import annotations

from pathlib import Path

import click

from playbook_engine.cli.commands.common import library_option, write_output
from playbook_engine.cli.commands.store_common import (
    open_incident_store,
    soft_library,
    store_errors,
    store_option,
)


@click.command("timeline")
@click.argument("incident")
@library_option
@store_option
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["markdown", "json"]),
    default="markdown",
    show_default=True,
)
@click.option("-o", "--output", type=click.Path(path_type=Path), help="Write to FILE atomically.")
def command(
    incident: str, library_dir: Path | None, store: str | None, fmt: str, output: Path | None
) -> None:
    """INCIDENT's timeline: every event in UTC with the time since the start, and the
    milestones (start, detection, pages, acknowledgement, resolution) with the durations
    between them."""
    from playbook_engine.cli.errors import fail_input
    from playbook_engine.diagnostics import Span, error
    from playbook_engine.jsonio import dumps
    from playbook_engine.render.incidents import timeline_markdown
    from playbook_engine.store import views
    from playbook_engine.store.state import fold

    opened = open_incident_store(store, soft_library(library_dir, store), create=False)
    with store_errors():
        events = opened.events(incident)
    state = fold(events)
    if state is None:
        fail_input(
            [
                error(
                    "ST111",
                    f"no incident {incident!r} in the store {opened.where}",
                    Span(incident),
                    hint="list the open incidents with: playbook status",
                )
            ]
        )
    view = views.timeline(state, events)
    write_output(dumps(view) if fmt == "json" else timeline_markdown(view), output)
