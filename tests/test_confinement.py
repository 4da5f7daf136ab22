"""A library never reads outside itself (issue #15): a committed symbolic link to a file
elsewhere is refused by name, and nothing of its target reaches the output."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

from conftest import PLAYBOOK

BASIC = Path(__file__).parent / "data" / "libraries" / "basic"
SECRET = "root-password-hash-must-never-print"


def _library(tmp_path: Path) -> Path:
    library = tmp_path / "lib"
    shutil.copytree(BASIC, library)
    outside = tmp_path / "outside.yaml"
    outside.write_text(f"this: is not a document\n{SECRET}: [\n", encoding="utf-8")
    (library / "leak.yaml").symlink_to(outside)
    return library


def test_validate_refuses_a_link_leaving_the_library(tmp_path: Path) -> None:
    library = _library(tmp_path)
    result = subprocess.run(
        [*PLAYBOOK, "validate", str(library)], capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 1
    assert "leak.yaml: error PB113 is a symbolic link to a file outside the library" in (
        result.stdout
    )
    assert SECRET not in result.stdout + result.stderr
    assert "outside.yaml" not in result.stdout + result.stderr


def test_run_refuses_it_too_and_shows_nothing_of_the_target(tmp_path: Path) -> None:
    library = _library(tmp_path)
    incident = tmp_path / "incident.yaml"
    incident.write_text("id: I\ntitle: t\nstartedAt: 2026-01-01T00:00:00Z\n", encoding="utf-8")
    result = subprocess.run(
        [*PLAYBOOK, "run", str(incident), "--library", str(library), "--at", "2026-01-01T00:05Z"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2
    assert "PB113" in result.stderr and SECRET not in result.stdout + result.stderr


def test_a_link_inside_the_library_is_read(tmp_path: Path) -> None:
    library = tmp_path / "lib"
    shutil.copytree(BASIC, library)
    (library / "shared").mkdir()
    (library / "triage.yaml").rename(library / "shared" / "triage.yaml")
    (library / "triage.yaml").symlink_to(library / "shared" / "triage.yaml")
    result = subprocess.run(
        [*PLAYBOOK, "validate", str(library)], capture_output=True, text=True, timeout=60
    )
    assert "PB113" not in result.stdout


def test_file_names_cannot_forge_diagnostic_lines(tmp_path: Path) -> None:
    library = tmp_path / "lib"
    shutil.copytree(BASIC, library)
    forged = "evil\nfake.yaml:1:1: error PB000 forged.yaml"
    (library / forged).write_text("kind: Playbook\n", encoding="utf-8")
    raw = bytes(library) + b"/bad\xff.yaml"
    with open(raw, "wb") as handle:
        handle.write(b"kind: Nope\n")
    result = subprocess.run([*PLAYBOOK, "validate", str(library)], capture_output=True, timeout=60)
    text = result.stdout.decode("utf-8")  # valid UTF-8: no raw undecodable byte
    errors = [line for line in text.splitlines() if ": error " in line]
    assert not any(line.startswith("fake.yaml") for line in text.splitlines())
    assert any(
        "evil\\nfake.yaml:1:1: error PB000 forged.yaml:1:1: error PB203" in e for e in errors
    )
    assert any("bad\\udcff.yaml:1:1: error PB203" in e for e in errors)


def test_a_file_outside_any_library_says_only_its_schema_was_checked(tmp_path: Path) -> None:
    """Before, a playbook outside a library validated with "no problems", even one whose
    template escapes the sandbox: only its schema had been checked (issue #13)."""
    lone = tmp_path / "lone.yaml"
    lone.write_text(
        (BASIC / "triage.yaml")
        .read_text(encoding="utf-8")
        .replace("title: Triage {{ incident.title }}", "title: \"{{ ''.__class__ }}\""),
        encoding="utf-8",
    )
    result = subprocess.run(
        [*PLAYBOOK, "validate", "lone.yaml"],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=tmp_path,
    )
    assert result.returncode == 0
    assert result.stdout.startswith(
        "lone.yaml: warning PB319 outside any library: only its schema was checked"
    )
    strict = subprocess.run(
        [*PLAYBOOK, "validate", "--strict", "lone.yaml"],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=tmp_path,
    )
    assert strict.returncode == 1
