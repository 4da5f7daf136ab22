"""Options and set-up shared by `playbook serve` and `playbook tick`."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import click

from playbook_engine.cli.errors import fail_input
from playbook_engine.diagnostics import Span, error

STORE_ENV = "PLAYBOOK_STORE"


def store_path(option: str | None, library: Path) -> Path | str:
    """--store, else $PLAYBOOK_STORE, else `.playbook-store.sqlite` inside the library; a
    `postgresql://` URL stays a string."""
    chosen = option or os.environ.get(STORE_ENV)
    if not chosen:
        return library / ".playbook-store.sqlite"
    return chosen if chosen.startswith(("postgresql://", "postgres://")) else Path(chosen)


def open_store(path: Path | str, busy_timeout: float = 10.0, flap_window: Any = None) -> Any:
    """The store at `path`, or exit 2 saying why not."""
    from playbook_engine.serve.ledger import Ledger
    from playbook_engine.serve.ports import StoreUnavailable

    try:
        if flap_window is None:
            return Ledger(path, busy_timeout=busy_timeout)
        return Ledger(path, flap_window=flap_window, busy_timeout=busy_timeout)
    except StoreUnavailable as exc:
        shown = str(exc).split(": cannot open", 1)[0]
        fail_input([error("IN108", str(exc), Span(shown))])


def delivery_policy(allow_hosts: tuple[str, ...], timeout: float, attempts: int) -> Any:
    """The delivery policy from the command's options."""
    from playbook_engine.deliver.destinations import Policy

    return Policy(allow_hosts=frozenset(allow_hosts), timeout=timeout, max_attempts=attempts)


store_option = click.option(
    "--store",
    "store",
    metavar="PATH|URL",
    help=f"The store: an SQLite file, or a postgresql:// URL (default: ${STORE_ENV}, else "
    ".playbook-store.sqlite in the library).",
)
deliver_option = click.option(
    "--deliver",
    is_flag=True,
    help="Really send notifications (default: dry-run, recorded in the timeline only).",
)
allow_host_option = click.option(
    "--allow-host",
    "allow_hosts",
    multiple=True,
    metavar="HOST",
    help="A private or loopback host delivery may reach (repeatable; default: public only).",
)
timeout_option = click.option(
    "--delivery-timeout", default=10.0, show_default=True, help="Seconds per delivery request."
)
attempts_option = click.option(
    "--attempts", default=5, show_default=True, help="Delivery attempts before giving up."
)
