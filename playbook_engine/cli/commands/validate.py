"""`playbook validate [PATHS...]`."""

from __future__ import annotations

from pathlib import Path

import click

from playbook_engine.cli.commands.common import library_option, library_root
from playbook_engine.cli.errors import EXIT_FINDINGS, EXIT_INPUT, EXIT_OK, Failure


@click.command("validate")
@click.argument("paths", nargs=-1, type=click.Path(path_type=Path))
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["text", "json", "github"]),
    default="text",
    show_default=True,
    help="Output format (github: workflow annotations).",
)
@click.option("--strict", is_flag=True, help="Treat warnings as findings (exit 1).")
@library_option
def command(paths: tuple[Path, ...], fmt: str, strict: bool, library_dir: Path | None) -> None:
    """Validate a library: schema, references, conditions and templates.

    PATHS are library directories or files (a file is checked in the context of the library it
    belongs to). Without PATHS, the library found from the current directory is checked.
    """
    from playbook_engine.authoring.validate import validate_paths
    from playbook_engine.render.diagnostics import report
    from playbook_engine.speed.cache import open_code_store

    # -l/--library DIR, as every command takes it, is one more path to check.
    paths = (*paths, library_dir) if library_dir is not None else paths
    # Checking files (a pre-commit hook's case) compiles their whole library on every commit:
    # keep the code of its templates. Compiling is deterministic and only code that compiled
    # is kept, so no diagnostic changes. Whole directories (CI, often on a fresh machine) are
    # compiled afresh rather than writing thousands of files a later run may never read.
    if paths and not any(path.is_dir() for path in paths):
        open_code_store()
    targets = list(paths) or [library_root(None)]
    result = validate_paths(targets)
    click.echo(report(result.diagnostics, fmt, result.files), nl=False)
    if result.unreadable:
        raise Failure(EXIT_INPUT)
    findings = any(d.is_error or (strict and not d.is_error) for d in result.diagnostics)
    raise Failure(EXIT_FINDINGS if findings else EXIT_OK)
