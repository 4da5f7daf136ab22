"""The `playbook` command: a thin click group whose commands live in `commands/`.

Each command parses options, calls one library function, hands the result to a reporter and
exits with its code: 0 ok, 1 findings or failures, 2 usage or input errors, 3 internal error.
Commands are imported only when used, so `playbook run` does not pay for what `validate` needs.
`main` is the one error boundary: no traceback reaches a user unless `--debug` is given.
"""

from __future__ import annotations

import errno
import gc
import importlib
import importlib.util
import os
import sys
from collections.abc import Sequence
from typing import NoReturn

import click

from playbook_engine import __version__
from playbook_engine.cli.errors import (
    EXIT_INPUT,
    EXIT_INTERNAL,
    EXIT_INTERRUPTED,
    EXIT_OK,
    Failure,
    fail_input,
)
from playbook_engine.diagnostics import InputError
from playbook_engine.speed import lifetime

COMMANDS = {
    "validate": "Validate a library: schema, references, conditions and templates.",
    "run": "Evaluate an incident and print the response plan.",
    "test": "Run a library's test cases.",
    "diff": "Show how the library's behaviour changes between two git revisions.",
    "list": "The library at a glance: playbooks, selectors, priorities.",
    "docs": "Render the library as Markdown reference pages.",
    "init": "Write a new library: minimal, or a ready-made preset (--list).",
    "new": "Scaffold a new playbook and its test.",
    "convert": "Convert an alert payload into a canonical incident.",
    "schema": "Print a JSON Schema (policy, playbook, incident, plan, ...).",
    "serve": "Serve webhook intake, timers, delivery and the web page.",
    "tick": "Fire the timers due now and deliver the outbox, once (for cron).",
    "incident": "Record an incident's life: open, ack, step, note, set, resolve, reopen.",
    "status": "The open incidents at a glance, or one incident's plan now.",
    "timeline": "An incident's timeline for the post-incident review (Markdown).",
    "report": "MTTA, MTTR, SLA compliance and rates from the store.",
}


class LazyGroup(click.Group):
    """A group that imports `playbook_engine.cli.commands.<name>` only when that command runs."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return [name for name in COMMANDS if _module_exists(name)]

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name not in COMMANDS or not _module_exists(cmd_name):
            return None
        module = importlib.import_module(f"{__package__}.commands.{cmd_name}")
        command: click.Command = module.command
        return command

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        rows = [(name, COMMANDS[name]) for name in self.list_commands(ctx)]
        with formatter.section("Commands"):
            formatter.write_dl(rows)


def _module_exists(name: str) -> bool:
    return importlib.util.find_spec(f"{__package__}.commands.{name}") is not None


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="playbook")
@click.option("--debug", is_flag=True, help="Show tracebacks of internal errors.")
def cli(debug: bool) -> None:
    """Incident-response playbooks as code: validate, test, run and explain.

    Exit codes: 0 ok, 1 findings or failed tests, 2 usage or input error, 3 internal error.
    """


def main(argv: Sequence[str] | None = None) -> NoReturn:
    """Entry point: run the CLI inside the one error boundary."""
    args = list(sys.argv[1:] if argv is None else argv)
    debug = "--debug" in args
    if sys.stdout is None or sys.stderr is None:  # started with `>&-` or `2>&-`
        _closed_streams()
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
    except OSError as exc:
        if exc.errno in _OUTPUT_FULL:  # standard output cannot take the text: say so, no bug
            click.echo(f"playbook: cannot write output: {exc.strerror}", err=True)
            code = EXIT_INPUT
        else:
            code = _internal_error(exc, debug)
    except Exception as exc:  # the one boundary: never a traceback unless asked for
        code = _internal_error(exc, debug)
    sys.exit(code)


_OUTPUT_FULL = frozenset({errno.ENOSPC, errno.EDQUOT, errno.EFBIG})


def console() -> NoReturn:
    """The `playbook` console script: `main`, then an immediate exit.

    Tearing the interpreter down (freeing every module, template and compiled condition)
    takes longer than a warm `playbook run` itself, and nothing is left to do by then: the
    output is written, files are closed. So the streams are flushed here and the process
    ends with `os._exit`, as mypy does. `main` itself raises `SystemExit`, for callers in
    the same process.
    """
    # The cyclic collector is off for the process: its passes over the objects that imports
    # and loading build are a measurable part of a one-file validate, and evaluating and
    # rendering a plan leaves no cyclic garbage (tested), so a long --jsonl batch does not grow.
    gc.disable()
    lifetime.end_without_teardown()
    try:
        main()
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else EXIT_INTERNAL
    _save_measured_coverage()
    os._exit(_flushed(code))


def _save_measured_coverage() -> None:
    """Save coverage.py's data when the test suite measures this process (`os._exit` skips
    the atexit hook that would); nothing otherwise, and nothing is imported."""
    coverage = sys.modules.get("coverage")
    measuring = coverage.Coverage.current() if coverage is not None else None
    if measuring is not None:
        measuring.stop()
        measuring.save()


def _closed_streams() -> NoReturn:
    """A closed standard output or error: say so where it is still possible, exit 2."""
    if sys.stderr is not None:
        sys.stderr.write("playbook: standard output is closed: nothing could be written\n")
        sys.stderr.flush()
    os._exit(EXIT_INPUT)


def _flushed(code: int) -> int:
    """Flush standard output and error; the exit code, changed if the output was lost."""
    try:
        sys.stdout.flush()
    except BrokenPipeError:  # the reader left (`| head`): not an error, as in `main`
        pass
    except OSError as exc:
        click.echo(f"playbook: cannot write output: {exc.strerror}", err=True)
        code = EXIT_INPUT
    try:
        sys.stderr.flush()
    except OSError:
        pass
    return code


def _internal_error(exc: Exception, debug: bool) -> int:
    if debug:
        import traceback  # only here: the import would cost every run

        traceback.print_exc()
    click.echo(
        f"playbook: internal error: {type(exc).__name__}: {exc}\n"
        "This is a bug in playbook-engine; please report it with the command and inputs "
        "(run with --debug for a traceback).",
        err=True,
    )
    return EXIT_INTERNAL
