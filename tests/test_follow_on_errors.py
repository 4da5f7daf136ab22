"""A document that does not load (its syntax or schema fails) must not bury its own error under
errors it causes elsewhere: references to what it defined are replaced by one note (PB323)."""

from __future__ import annotations

import shutil
from pathlib import Path

from playbook_engine.pipeline import load_library

REUSE = Path(__file__).parent / "data" / "libraries" / "reuse"


def codes(folder: Path) -> list[tuple[str, str]]:
    return [(d.code, Path(d.span.path).name) for d in load_library(folder).diagnostics]


def test_a_shared_file_that_does_not_load_hides_its_follow_ons(tmp_path: Path) -> None:
    folder = tmp_path / "lib"
    shutil.copytree(REUSE, folder)
    shared = folder / "shared.yaml"
    shared.write_text(
        shared.read_text().replace("  stepGroups:\n", "  stepGroups:\n   bad: [\n", 1)
    )
    found = codes(folder)
    assert ("PB101", "shared.yaml") in found
    assert not any(code in ("PB303", "PB307") for code, _ in found), found
    note = [d for d in load_library(folder).diagnostics if d.code == "PB323"]
    assert len(note) == 1 and note[0].message.startswith("4 errors in other files not shown")
    assert note[0].severity.value == "info"


def test_with_every_document_loaded_a_real_unknown_reference_is_reported(tmp_path: Path) -> None:
    folder = tmp_path / "lib"
    shutil.copytree(REUSE, folder)
    outage = folder / "outage.yaml"
    outage.write_text(outage.read_text().replace("major-basics", "major-basicz", 1))
    found = codes(folder)
    assert ("PB303", "outage.yaml") in found
    assert not any(code == "PB323" for code, _ in found)


BUNDLED = Path(__file__).resolve().parent.parent / "playbooks"


def validate_codes(folder: Path) -> list[tuple[str, str]]:
    from playbook_engine.authoring.validate import validate_paths

    return [(d.code, Path(d.span.path).name) for d in validate_paths([folder]).diagnostics]


def bundled_with_database_failure(tmp_path: Path, order_line: str) -> Path:
    """The bundled library with database-failure.yaml's `order: 30` line written otherwise."""
    folder = tmp_path / "lib"
    shutil.copytree(BUNDLED, folder)
    playbook = folder / "database-failure.yaml"
    playbook.write_text(playbook.read_text().replace("  order: 30\n", order_line))
    return folder


def test_suites_naming_what_a_broken_playbook_defines_get_one_note_each(tmp_path: Path) -> None:
    found = validate_codes(bundled_with_database_failure(tmp_path, "  order: [30\n"))
    assert [c for c in found if c[0][:2] == "PB"] == [("PB101", "database-failure.yaml")]
    assert not any(code == "TS111" for code, _ in found), found
    notes = [name for code, name in found if code == "TS115"]
    assert len(notes) >= 3 and len(notes) == len(set(notes))  # one per suite naming its ids


def test_suites_naming_a_salvaged_playbook_are_checked_against_what_is_left(
    tmp_path: Path,
) -> None:
    found = validate_codes(bundled_with_database_failure(tmp_path, "  order: 30\n  bogus: 1\n"))
    assert [c for c in found if c[0][:2] == "PB"] == [("PB202", "database-failure.yaml")]
    assert not any(code in ("TS111", "TS115") for code, _ in found), found


def test_with_every_document_loaded_a_suites_unknown_id_is_an_error(tmp_path: Path) -> None:
    folder = tmp_path / "lib"
    shutil.copytree(BUNDLED, folder)
    suite = folder / "tests" / "playbooks.yaml"
    suite.write_text(suite.read_text().replace("[database-failure]", "[database-failur]", 1))
    found = validate_codes(folder)
    assert ("TS111", "playbooks.yaml") in found
    assert not any(code == "TS115" for code, _ in found)
