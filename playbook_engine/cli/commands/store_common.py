"""Options and set-up shared by the incident-store commands (`incident`, `status`,
`timeline`, `report`)."""

from __future__ import annotations

import contextlib
import getpass
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import click

from playbook_engine.cli.errors import fail_input
from playbook_engine.diagnostics import Span, error

store_option = click.option(
    "--store",
    "store",
    metavar="PATH|URL",
    help="The incident store: an SQLite file, or a postgresql:// URL (default: "
    "$PLAYBOOK_STORE, else .playbook/incidents.sqlite in the library).",
)
by_option = click.option("--by", metavar="NAME", help="Who did it (default: your login name).")


def who(by: str | None) -> str:
    """--by, else the login name."""
    if by:
        return by
    try:
        return getpass.getuser()
    except Exception:  # no login name in the environment or the password database
        return "unknown"


@contextlib.contextmanager
def store_errors() -> Iterator[None]:
    """Report a `StoreError` as a diagnostic and exit 2."""
    from playbook_engine.store.errors import StoreError

    try:
        yield
    except StoreError as exc:
        fail_input([error(exc.code, exc.message, Span(exc.where), hint=exc.hint)])


def open_incident_store(option: str | None, library: Path | None, create: bool) -> Any:
    """The store (`--store`, `$PLAYBOOK_STORE`, else the library's); exit 2 if unusable.
    `library` may be None when --store or $PLAYBOOK_STORE names it."""
    from playbook_engine.cli.commands.common import library_root
    from playbook_engine.store.location import prepare_default, store_location
    from playbook_engine.store.store import open_store

    try:
        location, default = store_location(option, library)
    except ValueError:
        location, default = store_location(option, library_root(None))
    if default and create:
        assert isinstance(location, Path)
        prepare_default(location)
    with store_errors():
        return open_store(location, create=create)


def responder_for(option: str | None, library_dir: Path | None) -> Any:
    """A `Responder` on the store with the compiled library."""
    from playbook_engine.cli.commands.common import library_root
    from playbook_engine.speed.cache import cached_library
    from playbook_engine.store.location import library_version
    from playbook_engine.store.responder import Responder

    root = library_root(library_dir)
    compiled = cached_library(root)
    store = open_incident_store(option, root, create=True)
    return Responder(store, compiled, lambda: library_version(root))


def soft_library(library_dir: Path | None, store: str | None) -> Path | None:
    """The library if one is given or found, else None (commands that only read the store
    need it only to find the default store, so not at all with --store)."""
    if library_dir is not None or store is not None:
        return library_dir
    from playbook_engine.load.discovery import find_library_root

    return find_library_root()
