"""A document checked in part (`load.salvage`) is known but for its left-out parts: only a
reference to one of those follows from its schema error and folds into a note (PB323 in other
documents, TS115 in test suites); any other unknown reference is reported as it would be with
every document valid. A document nothing of which loaded still folds every such reference."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest
from conftest import PLAYBOOK

from playbook_engine.authoring.validate import validate_paths
from playbook_engine.diagnostics import Diagnostic

BUNDLED = Path(__file__).parent.parent / "playbooks"
REUSE = Path(__file__).parent / "data" / "libraries" / "reuse"


def edit(path: Path, old: str, new: str) -> None:
    text = path.read_text(encoding="utf-8")
    assert text.count(old) == 1, old
    path.write_text(text.replace(old, new), encoding="utf-8")


def line_of(path: Path, text: str) -> int:
    lines = path.read_text(encoding="utf-8").splitlines()
    return next(number for number, line in enumerate(lines, 1) if text in line)


def found(folder: Path) -> list[Diagnostic]:
    return validate_paths([folder]).diagnostics


@pytest.fixture
def bundled(tmp_path: Path) -> Path:
    folder = tmp_path / "lib"
    shutil.copytree(BUNDLED, folder)
    # The first step of database-failure.yaml loses its title: the schema leaves it out.
    edit(
        folder / "database-failure.yaml",
        "      title: Stop every manual and automated write operation on the database\n",
        "",
    )
    return folder


def test_a_suite_typo_is_reported_beside_a_playbook_checked_in_part(bundled: Path) -> None:
    """Through the CLI: the schema error, the suite's typo at its line (TS111), and the suite's
    references to the left-out step folded into one note."""
    suite = bundled / "tests" / "example-incidents.yaml"
    edit(suite, "db-protect-backups, db-decide-failover]", "db-protect-backups, db-decide-failovr]")
    done = subprocess.run(
        [*PLAYBOOK, "validate", str(bundled), "--format", "json"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 1, done.stderr
    report = json.loads(done.stdout)["diagnostics"]
    errors = [(d["code"], Path(d["path"]).name, d["message"]) for d in report]
    errors = [e for e in errors if e[0] != "TS115"]
    assert errors == [
        ("PB203", "database-failure.yaml", "missing required key 'title' in spec.steps[0]"),
        ("TS111", "example-incidents.yaml", "unknown step 'db-decide-failovr'"),
    ], report
    typo = next(d for d in report if d["code"] == "TS111")
    assert typo["line"] == line_of(suite, "db-decide-failovr")
    notes = [d for d in report if d["code"] == "TS115"]
    # example-incidents.yaml names db-stop-risky-operations in an order and a due time.
    assert [(Path(d["path"]).name, d["message"].split()[0]) for d in notes] == [
        ("example-incidents.yaml", "2")
    ], notes


def test_an_unknown_playbook_in_a_suite_is_reported_beside_a_partial_one(bundled: Path) -> None:
    """A playbook id is never left out (without it nothing is salvaged): an unknown one in a
    suite is a finding, as with every document valid."""
    suite = bundled / "tests" / "playbooks.yaml"
    text = suite.read_text(encoding="utf-8")
    assert "        playbooks: [database-failure]\n" in text
    suite.write_text(
        text.replace("playbooks: [database-failure]", "playbooks: [database-failur]", 1)
    )
    diagnostics = found(bundled)
    assert "unknown playbook 'database-failur'" in [d.message for d in diagnostics]


def test_nothing_loaded_still_folds_every_reference(tmp_path: Path) -> None:
    """A YAML syntax error leaves no part to know: the suites' 29 references, typo or not,
    are counted by notes, as before."""
    folder = tmp_path / "lib"
    shutil.copytree(BUNDLED, folder)
    edit(folder / "database-failure.yaml", "  order: 30\n", "  order: [30\n")
    diagnostics = found(folder)
    assert [d.code for d in diagnostics if d.is_error] == ["PB101"]
    notes = [d for d in diagnostics if d.code == "TS115"]
    assert sum(int(d.message.split()[0]) for d in notes) == 29


def test_a_shared_file_checked_in_part_folds_only_references_to_its_left_out_parts(
    tmp_path: Path,
) -> None:
    """The shared notification `announce` is left out (its channel has the wrong type): the
    playbook's `use: announce` folds into PB323; its misspelt step group is reported."""
    folder = tmp_path / "lib"
    shutil.copytree(REUSE, folder)
    edit(folder / "shared.yaml", "      channel: chat\n", "      channel: [chat]\n")
    edit(folder / "outage.yaml", "include: major-basics", "include: major-basicz")
    diagnostics = found(folder)
    unknown = [(d.message, Path(d.span.path).name) for d in diagnostics if d.code == "PB303"]
    assert unknown == [("unknown shared step group 'major-basicz'", "outage.yaml")], diagnostics
    note = [d for d in diagnostics if d.code == "PB323"]
    assert len(note) == 1 and note[0].message.startswith("1 error in other files not shown")
    assert Path(note[0].span.path).name == "shared.yaml"
