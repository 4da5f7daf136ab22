"""`playbook init DIR [--preset NAME]` and `playbook init --list`."""

from __future__ import annotations

from pathlib import Path

import click


@click.command("init")
@click.argument("directory", metavar="DIR", required=False, type=click.Path(path_type=Path))
@click.option("--preset", metavar="NAME", help="A ready-made library (see --list).")
@click.option("--list", "show_list", is_flag=True, help="List the presets and exit.")
@click.option(
    "--force",
    is_flag=True,
    help="Write into a directory that is not empty (an existing file is still never replaced).",
)
def command(directory: Path | None, preset: str | None, show_list: bool, force: bool) -> None:
    """Write a new library into DIR: policy, playbooks, test suite, example incidents.

    Without --preset, a minimal valid library. DIR must be new or empty (--force: any folder,
    but a file that exists is never overwritten; nothing is written if one would be).
    """
    from playbook_engine.authoring.starter import PRESETS, init_library

    if show_list:
        width = max(len(name) for name in PRESETS)
        for name, summary in PRESETS.items():
            click.echo(f"{name.ljust(width)}  {summary}")
        click.echo(f"{'(none)'.ljust(width)}  a minimal library: one policy, one playbook")
        return
    if directory is None:
        raise click.UsageError("missing DIR (or --list)")
    created = init_library(directory, preset, force)
    click.echo(f"created {len(created)} files in {directory}")
    click.echo(f"next: playbook validate --strict {directory} && playbook test {directory}")
