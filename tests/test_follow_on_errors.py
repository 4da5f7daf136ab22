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
