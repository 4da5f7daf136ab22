"""`playbook schema [KIND]`."""

from __future__ import annotations

import json

import click


@click.command("schema")
@click.argument("kind", required=False)
def command(kind: str | None) -> None:
    """Print the JSON Schema of KIND (policy, playbook, incident, plan, ...), or list them."""
    from ..schema import available_schemas, load_schema

    names = available_schemas()
    if kind is None:
        click.echo("\n".join(names))
        return
    if kind.lower() not in names:
        raise click.BadParameter(
            f"unknown kind {kind!r}; one of: {', '.join(names)}", param_hint="KIND"
        )
    click.echo(json.dumps(load_schema(kind.lower()), indent=2, ensure_ascii=False))
