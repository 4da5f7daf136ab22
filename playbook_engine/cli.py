"""The `playbook` command: thin click commands over the library API.

Each command parses options, calls one library function, hands the result to a reporter and
exits with its code: 0 ok, 1 findings or failures, 2 usage or input errors, 3 internal error.
`main` is the one error boundary: no traceback reaches a user unless `--debug` is given.
"""

from __future__ import annotations

import os
import sys
import tempfile
import traceback
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import NoReturn

import click

from . import __version__
from .diagnostics import Diagnostic, InputError, Span, error, sorted_diagnostics
from .reporters import report

EXIT_OK, EXIT_FINDINGS, EXIT_INPUT, EXIT_INTERNAL, EXIT_INTERRUPTED = 0, 1, 2, 3, 130


class Failure(Exception):
    """Leave with an exit code after output has been written."""

    def __init__(self, code: int) -> None:
        super().__init__(code)
        self.code = code


def fail_input(diagnostics: Sequence[Diagnostic]) -> NoReturn:
    """Report input errors on stderr and exit 2."""
    click.echo(
        report(sorted_diagnostics(list(diagnostics)), "text", 0).rsplit("\n", 2)[0], err=True
    )
    raise Failure(EXIT_INPUT)


def write_output(text: str, output: Path | None) -> None:
    """Write to stdout, or atomically to `output` (a temporary file renamed into place)."""
    if output is None:
        click.echo(text, nl=False)
        return
    directory = output.parent if str(output.parent) else Path(".")
    try:
        fd, temp = tempfile.mkstemp(prefix=f".{output.name}.", dir=directory)
    except OSError as exc:
        fail_input([error("IN105", f"cannot write output: {exc.strerror}", Span(str(output)))])
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="") as handle:
            handle.write(text)
        os.replace(temp, output)
    except BaseException:
        Path(temp).unlink(missing_ok=True)
        raise


def library_root(path: Path | None) -> Path:
    """The library given with --library, or the one found from here."""
    from .library import find_library_root

    root = path or find_library_root()
    if root is None:
        fail_input(
            [
                error(
                    "PB111",
                    "no library found: no policy.yaml here or in ./playbooks or above",
                    Span(str(Path.cwd())),
                    hint="pass --library DIR or set PLAYBOOK_LIBRARY",
                )
            ]
        )
    return root


def parse_at(value: str | None) -> datetime:
    """The clock: --at, or now (read once, here at the command line)."""
    from .timeparse import parse_timestamp

    if value is None:
        return datetime.now(UTC).replace(microsecond=0)
    try:
        return parse_timestamp(value)
    except ValueError as exc:
        fail_input([error("IN103", f"--at: {exc}", Span("--at"))])


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="playbook")
@click.option("--debug", is_flag=True, help="Show tracebacks of internal errors.")
@click.pass_context
def cli(ctx: click.Context, debug: bool) -> None:
    """Incident-response playbooks as code: validate, test, run and explain."""
    ctx.obj = {"debug": debug}


@cli.command()
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
def validate(paths: tuple[Path, ...], fmt: str, strict: bool) -> None:
    """Validate a library: schema, references, conditions and templates.

    PATHS are library directories or files (files are checked in the context of the library they
    belong to). Without PATHS, the library found from the current directory is checked.
    """
    from .validate import validate_paths

    targets = list(paths) or [library_root(None)]
    result = validate_paths(targets)
    click.echo(report(result.diagnostics, fmt, result.files), nl=False)
    findings = any(
        d.is_error or (strict and d.severity.value == "warning") for d in result.diagnostics
    )
    if result.unreadable:
        raise Failure(EXIT_INPUT)
    raise Failure(EXIT_FINDINGS if findings else EXIT_OK)


@cli.command()
@click.argument("incident", required=False)
@click.option(
    "-l", "--library", "library_dir", type=click.Path(path_type=Path), help="Library directory."
)
@click.option(
    "--at",
    "at_text",
    metavar="TIMESTAMP",
    help="The clock, e.g. 2026-03-14T02:30:00Z (default: now).",
)
@click.option(
    "--set",
    "overrides",
    multiple=True,
    metavar="FIELD=VALUE",
    help="Add or override an incident field (repeatable).",
)
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["markdown", "text", "json"]),
    help="Output format (default: text on a terminal, else markdown).",
)
@click.option(
    "--explain",
    is_flag=True,
    help="Show why: every playbook, rule, condition leaf and step decision.",
)
@click.option("-o", "--output", type=click.Path(path_type=Path), help="Write to FILE (atomically).")
@click.option(
    "--jsonl",
    is_flag=True,
    help="Batch: one JSON incident per input line, one JSON plan per output line.",
)
@click.option(
    "--from",
    "source_format",
    metavar="FORMAT",
    help="Read an alert payload (alertmanager, pagerduty-events, ..., auto).",
)
@click.option(
    "--color/--no-color",
    default=None,
    help="Colour text output (default: on a terminal unless NO_COLOR).",
)
def run(
    incident: str | None,
    library_dir: Path | None,
    at_text: str | None,
    overrides: tuple[str, ...],
    fmt: str | None,
    explain: bool,
    output: Path | None,
    jsonl: bool,
    source_format: str | None,
    color: bool | None,
) -> None:
    """Evaluate INCIDENT (a JSON or YAML file, or - for stdin) and print the response plan."""
    from . import runner

    if incident is None:
        raise click.UsageError("missing INCIDENT (a file, or - for standard input)")
    at = parse_at(at_text)
    stdin_text = read_stdin() if incident == "-" else None
    compiled = runner.open_library(library_root(library_dir))
    if jsonl:
        text, failed = runner.run_jsonl(compiled, incident, stdin_text, at, overrides, explain)
        write_output(text, output)
        raise Failure(EXIT_FINDINGS if failed else EXIT_OK)
    chosen = fmt or ("text" if output is None and sys.stdout.isatty() else "markdown")
    use_color = (
        color
        if color is not None
        else output is None and sys.stdout.isatty() and "NO_COLOR" not in os.environ
    )
    text, failed = runner.run_one(
        compiled, incident, stdin_text, at, overrides, chosen, explain, source_format, use_color
    )
    write_output(text, output)
    raise Failure(EXIT_FINDINGS if failed else EXIT_OK)


def read_stdin() -> str:
    """Standard input as text; a terminal or closed stdin is an input error, not a hang."""
    stream = click.get_text_stream("stdin")
    if stream is None or stream.closed:
        fail_input([error("IN101", "standard input is closed", Span("<stdin>"))])
    if stream.isatty():
        fail_input(
            [
                error(
                    "IN101",
                    "standard input is a terminal; pipe an incident in",
                    Span("<stdin>"),
                    hint="playbook run - < incident.json",
                )
            ]
        )
    return stream.read()


@cli.command("schema")
@click.argument("kind", required=False)
def schema_command(kind: str | None) -> None:
    """Print the JSON Schema of KIND (policy, playbook, incident, plan, ...), or list them."""
    import json

    from .schema import available_schemas, load_schema

    names = available_schemas()
    if kind is None:
        click.echo("\n".join(names))
        return
    if kind.lower() not in names:
        raise click.BadParameter(
            f"unknown kind {kind!r}; one of: {', '.join(names)}", param_hint="KIND"
        )
    click.echo(json.dumps(load_schema(kind.lower()), indent=2, ensure_ascii=False))


def main(argv: Sequence[str] | None = None) -> NoReturn:
    """Entry point: run the CLI inside the one error boundary."""
    args = list(sys.argv[1:] if argv is None else argv)
    debug = "--debug" in args
    try:
        cli.main(args=args, prog_name="playbook", standalone_mode=False)
        code = EXIT_OK
    except Failure as exc:
        code = exc.code
    except InputError as exc:
        try:
            fail_input(exc.diagnostics)
        except Failure as failure:
            code = failure.code
    except click.exceptions.Exit as exc:
        code = exc.exit_code
    except click.ClickException as exc:
        exc.show()
        code = EXIT_INPUT
    except (KeyboardInterrupt, click.exceptions.Abort):
        click.echo("playbook: interrupted", err=True)
        code = EXIT_INTERRUPTED
    except BrokenPipeError:
        code = EXIT_OK
    except Exception as exc:  # the one boundary: never a traceback unless asked for
        if debug:
            traceback.print_exc()
        click.echo(
            f"playbook: internal error: {type(exc).__name__}: {exc}\n"
            "This is a bug in playbook-engine; please report it with the command and inputs "
            "(run with --debug for a traceback).",
            err=True,
        )
        code = EXIT_INTERNAL
    sys.exit(code)
