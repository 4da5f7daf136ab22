"""`playbook test [PATHS...]`."""

from __future__ import annotations

from pathlib import Path

import click

from playbook_engine.cli.commands.common import library_option, library_root, write_output
from playbook_engine.cli.errors import EXIT_FINDINGS, EXIT_OK, Failure


@click.command("test")
@click.argument("paths", nargs=-1, type=click.Path(path_type=Path))
@library_option
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["text", "json", "junit"]),
    default="text",
    show_default=True,
    help="Output format (junit: XML for CI test reporters).",
)
@click.option(
    "-k",
    "keywords",
    multiple=True,
    metavar="PATTERN",
    help="Run only cases whose name contains PATTERN, ignoring case (repeatable: any).",
)
@click.option("--update", is_flag=True, help="Rewrite golden files that differ, and list them.")
@click.option("-v", "--verbose", is_flag=True, help="List passed cases too (text format).")
@click.option("-o", "--output", type=click.Path(path_type=Path), help="Write to FILE atomically.")
def command(
    paths: tuple[Path, ...],
    library_dir: Path | None,
    fmt: str,
    keywords: tuple[str, ...],
    update: bool,
    verbose: bool,
    output: Path | None,
) -> None:
    """Run the test suites of a library: incidents, a clock, and what each plan must say.

    PATHS are library folders (their tests/ folder is searched), folders of suites, or suite
    files; each belongs to the library above it unless --library says otherwise. Without PATHS
    the library found from here is tested. Exit codes: 0 all cases pass, 1 a case fails, 2 a
    suite or the library cannot be used (nothing is run).
    """
    from playbook_engine.authoring.testing.collect import collect, select_cases
    from playbook_engine.authoring.testing.report import report
    from playbook_engine.authoring.testing.run import run_suites
    from playbook_engine.cli.errors import fail_input
    from playbook_engine.diagnostics import Span, error

    targets = list(paths) or [library_root(library_dir)]
    collection = collect(targets, library_dir)
    problems = list(collection.diagnostics)
    suites = select_cases(collection.suites, keywords)
    if collection.ok and not suites and keywords:
        shown = " or ".join(repr(k) for k in keywords)
        problems.append(error("TS113", f"-k {shown} selects no test case", Span("-k")))
    if any(d.is_error for d in problems):
        if fmt != "text":
            write_output(report([], fmt, problems), output)
        fail_input(problems)
    results = run_suites(suites, update)
    write_output(report(results, fmt, problems, verbose), output)
    failed = [r for r in results if not r.passed]
    if output is not None or fmt != "text":
        # The report went to a file or is for machines: a CI log still says what happened.
        names = "".join(f"\n  FAIL {r.case.name}" for r in failed[:20])
        more = f"\n  ... and {len(failed) - 20} more" if len(failed) > 20 else ""
        click.echo(
            f"playbook: {len(results) - len(failed)} passed, {len(failed)} failed" + names + more,
            err=True,
        )
    raise Failure(EXIT_FINDINGS if failed else EXIT_OK)
