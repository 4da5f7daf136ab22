"""Exit codes and the helpers commands use to leave with one."""

from __future__ import annotations

from collections.abc import Sequence
from typing import NoReturn

import click

from playbook_engine.diagnostics import Diagnostic, sorted_diagnostics

EXIT_OK, EXIT_FINDINGS, EXIT_INPUT, EXIT_INTERNAL, EXIT_INTERRUPTED = 0, 1, 2, 3, 130


class Failure(Exception):
    """Leave with an exit code after output has been written."""

    def __init__(self, code: int) -> None:
        super().__init__(code)
        self.code = code


def fail_input(diagnostics: Sequence[Diagnostic]) -> NoReturn:
    """Report input errors on stderr and exit 2."""
    from playbook_engine.render.diagnostics import text_lines

    click.echo("\n".join(text_lines(sorted_diagnostics(list(diagnostics)))), err=True)
    raise Failure(EXIT_INPUT)
