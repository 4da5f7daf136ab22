"""`playbook init`: every preset (and the minimal library) is written by a real subprocess run,
then validates with --strict, passes its own tests and runs each example incident; `--list`;
refusals that write nothing."""

from __future__ import annotations

import re
import subprocess
from datetime import datetime, timedelta
from pathlib import Path

import pytest
import yaml
from conftest import PLAYBOOK

from playbook_engine.authoring.starter import MINIMAL, PRESETS

PRESETS_DIR = Path(__file__).resolve().parent.parent / "playbook_engine/authoring/presets"


def playbook(*args: str | Path, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*PLAYBOOK, *map(str, args)], capture_output=True, text=True, cwd=cwd, timeout=120
    )


def tree(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in root.rglob("*") if p.is_file()}


def test_the_packaged_presets_are_the_listed_ones() -> None:
    folders = {p.name for p in PRESETS_DIR.iterdir() if p.is_dir() and not p.name.startswith("_")}
    assert folders == {*PRESETS, MINIMAL}


@pytest.mark.parametrize("preset", [*PRESETS, MINIMAL])
def test_preset_validates_strictly_passes_its_tests_and_runs_its_incidents(
    preset: str, tmp_path: Path
) -> None:
    library = tmp_path / "lib"
    extra = [] if preset == MINIMAL else ["--preset", preset]
    done = playbook("init", library, *extra)
    assert done.returncode == 0, done.stderr
    assert f"in {library}" in done.stdout
    assert tree(library) == {
        str(k): v for k, v in tree(PRESETS_DIR / preset).items() if "__pycache__" not in k
    }

    done = playbook("validate", "--strict", library)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "no problems" in done.stdout

    done = playbook("test", library)
    assert done.returncode == 0, done.stdout + done.stderr
    passed = re.search(r"(\d+) passed, 0 failed", done.stdout + done.stderr)
    assert passed is not None and int(passed.group(1)) >= 3

    incidents = sorted((library / "incidents").glob("*.yaml"))
    assert incidents
    for path in incidents:
        started = yaml.safe_load(path.read_text(encoding="utf-8"))["startedAt"]
        at = (datetime.fromisoformat(started) + timedelta(minutes=30)).isoformat()
        done = playbook("run", path, "--library", library, "--at", at, "--format", "json")
        assert done.returncode == 0, f"{path.name}: {done.stderr}"
        assert '"priority"' in done.stdout

    readme = (library / "README.md").read_text(encoding="utf-8")
    if preset != MINIMAL:
        assert re.search(r"<https://[^>]+>", readme), "a preset cites its public source"
        assert "## Not yet expressible" in readme


def test_list_names_every_preset() -> None:
    done = playbook("init", "--list")
    assert done.returncode == 0, done.stderr
    names = [line.split()[0] for line in done.stdout.splitlines()]
    assert names == [*PRESETS, "(none)"]


def test_a_non_empty_directory_is_refused_and_nothing_is_written(tmp_path: Path) -> None:
    (tmp_path / "notes.txt").write_text("mine\n", encoding="utf-8")
    done = playbook("init", tmp_path, "--preset", "itil")
    assert done.returncode == 2
    assert "error NW106 the directory is not empty; nothing was written" in done.stderr
    assert "Traceback" not in done.stderr
    assert tree(tmp_path) == {"notes.txt": b"mine\n"}


def test_force_never_overwrites_a_file_and_then_writes_nothing(tmp_path: Path) -> None:
    (tmp_path / "policy.yaml").write_text("# my policy\n", encoding="utf-8")
    done = playbook("init", tmp_path, "--force")
    assert done.returncode == 2
    assert "policy.yaml: error NW106 file exists already; refusing to overwrite it" in done.stderr
    assert tree(tmp_path) == {"policy.yaml": b"# my policy\n"}


def test_force_adds_to_a_folder_whose_names_are_free(tmp_path: Path) -> None:
    (tmp_path / "notes.txt").write_text("mine\n", encoding="utf-8")
    done = playbook("init", tmp_path, "--force", "--preset", "google-sre")
    assert done.returncode == 0, done.stderr
    assert (tmp_path / "notes.txt").read_text(encoding="utf-8") == "mine\n"
    assert playbook("validate", "--strict", tmp_path).returncode == 0


def test_usage_errors(tmp_path: Path) -> None:
    done = playbook("init", tmp_path / "new", "--preset", "cobit")
    assert done.returncode == 2
    assert "--preset: error NW107 unknown preset 'cobit'" in done.stderr
    assert not (tmp_path / "new").exists()

    a_file = tmp_path / "file.txt"
    a_file.write_text("x", encoding="utf-8")
    done = playbook("init", a_file)
    assert done.returncode == 2
    assert "error NW106 not a directory" in done.stderr

    done = playbook("init")
    assert done.returncode == 2
    assert "missing DIR" in done.stderr


def test_a_library_inside_another_is_refused(tmp_path: Path) -> None:
    outer = tmp_path / "outer"
    assert playbook("init", outer).returncode == 0
    before = tree(outer)
    done = playbook("init", outer / "team" / "lib", "--preset", "gitlab")
    assert done.returncode == 2
    assert f"error NW108 inside the library {outer}: it would hold two policies" in done.stderr
    assert tree(outer) == before and not (outer / "team").exists()
    # --force into the library itself: every name it would write is taken, nothing changes
    done = playbook("init", outer, "--force")
    assert done.returncode == 2 and "NW106 file exists already" in done.stderr
    assert tree(outer) == before


def test_the_minimal_library_is_found_from_inside_it(tmp_path: Path) -> None:
    library = tmp_path / "incidents-lib"
    assert playbook("init", library).returncode == 0
    done = playbook("test", cwd=library)
    assert done.returncode == 0, done.stdout + done.stderr
