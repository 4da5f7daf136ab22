"""`playbook schema [KIND] [--output DIR]`."""

from __future__ import annotations

import json
from pathlib import Path

import click

from playbook_engine.cli.commands.common import write_output


@click.command("schema")
@click.argument("kind", required=False)
@click.option(
    "-o",
    "--output",
    type=click.Path(path_type=Path, file_okay=False),
    metavar="DIR",
    help="Write KIND's schema (without KIND: every schema) to DIR/<kind>.schema.json, for "
    "editors: `# yaml-language-server: $schema=schemas/playbook.schema.json`.",
)
def command(kind: str | None, output: Path | None) -> None:
    """Print the JSON Schema of KIND (policy, playbook, incident, plan, ...), or list them."""
    from playbook_engine.load.schema import available_schemas, load_schema

    names = available_schemas()
    if kind is not None and kind.lower() not in names:
        raise click.BadParameter(
            f"unknown kind {kind!r}; one of: {', '.join(names)}", param_hint="KIND"
        )
    chosen = [kind.lower()] if kind is not None else names
    if output is not None:
        output.mkdir(parents=True, exist_ok=True)
        for name in chosen:
            target = output / f"{name}.schema.json"
            write_output(json.dumps(load_schema(name), indent=2, ensure_ascii=False) + "\n", target)
            click.echo(f"wrote {target}")
        return
    if kind is None:
        width = max(len(name) for name in names)
        for name in names:
            title = load_schema(name).get("description", "").split(". ")[0].rstrip(".")
            click.echo(f"{name.ljust(width)}  {title}")
        return
    click.echo(json.dumps(load_schema(kind.lower()), indent=2, ensure_ascii=False))
