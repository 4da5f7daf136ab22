"""`playbook tick`: fire the timers due now (escalations, repeats, SLA warnings) and deliver
the outbox, once — for teams that run it from cron instead of `playbook serve`."""

from __future__ import annotations

import json
from pathlib import Path

import click

from playbook_engine.cli.commands.common import at_option, library_option, library_root, parse_at
from playbook_engine.cli.commands.serve_common import (
    allow_host_option,
    attempts_option,
    deliver_option,
    delivery_policy,
    open_store,
    store_option,
    store_path,
    timeout_option,
)


@click.command("tick")
@library_option
@store_option
@at_option
@deliver_option
@allow_host_option
@timeout_option
@attempts_option
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text")
def command(
    library_dir: Path | None,
    store: str | None,
    at_text: str | None,
    deliver: bool,
    allow_hosts: tuple[str, ...],
    delivery_timeout: float,
    attempts: int,
    fmt: str,
) -> None:
    """Fire what is due at --at (default now) from the store, once, and deliver the outbox."""
    from playbook_engine.serve.scheduler import tick
    from playbook_engine.speed.cache import cached_library

    root = library_root(library_dir)
    at = parse_at(at_text)
    ledger = open_store(store_path(store, root))
    compiled = cached_library(root)
    policy = delivery_policy(allow_hosts, delivery_timeout, attempts)
    result = tick(ledger, compiled, at, policy, deliver)
    if fmt == "json":
        click.echo(json.dumps(result.as_dict()))
    else:
        click.echo(
            f"fired {result.fired}, cancelled {result.cancelled}, "
            f"delivered {result.delivered} ({'live' if deliver else 'dry-run'})"
        )
