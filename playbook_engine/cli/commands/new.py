"""`playbook new NAME`."""

from __future__ import annotations

from pathlib import Path

import click

from playbook_engine.cli.commands.common import library_option, library_root


@click.command("new")
@click.argument("name")
@library_option
@click.option("--owner", metavar="TEAM", help="Owning team id (default: the policy's first).")
def command(name: str, library_dir: Path | None, owner: str | None) -> None:
    """Scaffold playbook NAME (<library>/NAME.yaml) and its test (<library>/tests/NAME.yaml).

    The playbook uses the policy's ids, so it validates; the test's one case passes. Existing
    files are never overwritten.
    """
    from playbook_engine.authoring.scaffold import create, scaffold

    files = scaffold(library_root(library_dir), name, owner)
    for shown in create(files):
        click.echo(f"created {shown}")
