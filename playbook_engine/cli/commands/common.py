"""Options and helpers shared by several commands."""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import BinaryIO, NoReturn

import click

from playbook_engine.cli.errors import fail_input
from playbook_engine.diagnostics import Span, error
from playbook_engine.files import open_atomically, write_atomically
from playbook_engine.limits import DEFAULT_LIMITS


def write_output(text: str, output: Path | None) -> None:
    """Write to stdout, or atomically to `output` (a temporary file renamed into place).

    A device or pipe (`/dev/stdout`, a FIFO) is written in place: renaming over it would
    replace it with a regular file. A symbolic link is followed, so its target is replaced.
    """
    if output is None:
        click.echo(text, nl=False)
        return
    if output.is_dir():
        _cannot_write(output, "is a directory")
    if output.exists() and not output.is_file():
        try:
            with output.open("w", encoding="utf-8", newline="") as handle:
                handle.write(text)
        except OSError as exc:
            _cannot_write(output, exc.strerror or type(exc).__name__)
        return
    try:
        write_atomically(output.resolve() if output.is_symlink() else output, text)
    except OSError as exc:
        _cannot_write(output, exc.strerror or type(exc).__name__)


@contextmanager
def output_lines(output: Path | None) -> Iterator[Callable[[str], object]]:
    """A function writing one line of a stream as soon as it is made: to stdout (flushed, so a
    reader sees each plan as its incident is read), or into `output`, which is replaced
    whole when the stream ends (a device or pipe is written in place)."""
    if output is None:
        stdout = sys.stdout

        def to_stdout(line: str) -> None:
            stdout.write(line)
            stdout.flush()

        yield to_stdout
        return
    if output.is_dir():
        _cannot_write(output, "is a directory")
    try:
        if output.exists() and not output.is_file():
            with output.open("w", encoding="utf-8", newline="") as handle:
                yield handle.write
        else:
            target = output.resolve() if output.is_symlink() else output
            with open_atomically(target) as replacing:
                yield replacing.write
    except OSError as exc:
        _cannot_write(output, exc.strerror or type(exc).__name__)


@contextmanager
def open_stream(source: str) -> Iterator[tuple[str, BinaryIO]]:
    """A stream of incident lines, read as it comes: a file, or `-` for standard input (a
    terminal or closed stdin is an input error, not a hang). Each line is bounded by the
    incident size limit, the stream by nothing: a `--jsonl` batch can be any length."""
    if source == "-":
        stream = sys.stdin
        if stream is None or stream.closed:
            fail_input([error("IN101", "standard input is closed", Span("<stdin>"))])
        if stream.isatty():
            fail_input(
                [
                    error(
                        "IN101",
                        "standard input is a terminal; pipe incidents in",
                        Span("<stdin>"),
                        hint="playbook run --jsonl - < incidents.jsonl",
                    )
                ]
            )
        buffer = getattr(stream, "buffer", None)
        if buffer is None:  # a text stream of the caller's (click's test runner): bounded
            import io

            text = stream.read(DEFAULT_LIMITS.input_bytes + 1)
            buffer = io.BytesIO(text.encode("utf-8", "surrogateescape"))
        yield "<stdin>", buffer
        return
    path = Path(source)
    if path.is_dir():
        fail_input([error("IN101", "is a directory; expected an incident file", Span(source))])
    try:
        handle = path.open("rb")
    except OSError as exc:
        fail_input([error("IN101", f"cannot read incident: {exc.strerror or exc}", Span(source))])
    with handle:
        yield source, handle


def _cannot_write(output: Path, reason: str) -> NoReturn:
    fail_input([error("IN105", f"cannot write output: {reason}", Span(str(output)))])


def library_root(path: Path | None, near: str | None = None) -> Path:
    """The library given with --library (or `$PLAYBOOK_LIBRARY`), else the one holding the
    file `near` (an incident: `playbook run ../team-a/incidents/x.yaml` uses team-a's
    library), else the one found from here."""
    import os

    from playbook_engine.load.discovery import ENV_VAR, find_library_root, library_root_of

    root = path
    if root is None and near is not None and near != "-" and not os.environ.get(ENV_VAR):
        root = library_root_of(Path(near))
    root = root or find_library_root()
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
    from playbook_engine.timeparse import parse_timestamp

    if value is None:
        return datetime.now(UTC).replace(microsecond=0)
    try:
        return parse_timestamp(value)
    except ValueError as exc:
        fail_input([error("IN103", f"--at: {exc}", Span("--at"))])


def read_stdin() -> str:
    """Standard input as text; a terminal or closed stdin is an input error, not a hang."""
    stream = sys.stdin
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
    cap = DEFAULT_LIMITS.input_bytes
    text: str = stream.read(cap + 1)  # bounded: `< /dev/zero` must not fill the memory
    if len(text) > cap:
        fail_input([error("IN101", f"input is larger than {cap:,} characters", Span("<stdin>"))])
    return text


library_option = click.option(
    "-l",
    "--library",
    "library_dir",
    type=click.Path(path_type=Path),
    help="Library directory (default: $PLAYBOOK_LIBRARY, or found from here).",
)
at_option = click.option(
    "--at",
    "at_text",
    metavar="TIMESTAMP",
    help="The clock, e.g. 2026-03-14T02:30:00Z (default: now).",
)
