"""Public holidays by country and subdivision (`holidays: {country: GB, subdivision: ENG}`), from
the `holidays` package, beside listed dates: the SLA clock skips them, `withinCalendar` is false
on them, validate refuses an unknown country or subdivision."""

from __future__ import annotations

import shutil
import subprocess
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from conftest import PLAYBOOK, edited_yaml, valid_library

from playbook_engine.calendars import public_holidays
from playbook_engine.engine.evaluation import evaluate
from playbook_engine.pipeline import load_library
from playbook_engine.timeparse import parse_timestamp

BASIC = Path(__file__).parent / "data" / "libraries" / "basic"


def library(folder: Path, holidays: Any) -> Path:
    shutil.copytree(BASIC, folder)
    with edited_yaml(folder / "policy.yaml") as policy:
        policy["spec"]["calendars"][0]["holidays"] = holidays
    return folder


def test_the_package_gives_englands_bank_holidays() -> None:
    found = public_holidays("GB", "ENG", 2026)
    assert {date(2026, 4, 3), date(2026, 4, 6), date(2026, 12, 25), date(2026, 12, 28)} <= found
    assert date(2026, 3, 17) not in found  # St Patrick's Day: Northern Ireland only
    assert date(2026, 3, 17) in public_holidays("GB", "NIR", 2026)


@pytest.mark.parametrize(
    "holidays",
    [
        {"country": "GB", "subdivision": "ENG"},
        [{"country": "GB", "subdivision": "ENG"}],
        ["2026-01-02", {"country": "GB", "subdivision": "ENG"}],
    ],
)
def test_the_sla_clock_skips_public_holidays(tmp_path: Path, holidays: Any) -> None:
    compiled = valid_library(library(tmp_path / "lib", holidays))
    # A P3 (office calendar, 09:00-17:00 Europe/London, 4h to respond) on Thursday 2 April
    # 2026 at 15:00: 2h that day, then Good Friday and Easter Monday are bank holidays, so
    # the remaining 2h run on Tuesday 7 April.
    data = {"id": "I", "title": "t", "startedAt": "2026-04-02T14:00:00Z"}
    plan = evaluate(compiled, data, parse_timestamp("2026-04-02T14:30:00Z"))
    assert plan.priority.id == "P3"
    assert plan.deadlines.respond_by == parse_timestamp("2026-04-07T11:00:00+01:00")


def test_without_public_holidays_good_friday_is_a_working_day(tmp_path: Path) -> None:
    result = load_library(library(tmp_path / "lib", []))
    assert result.compiled is not None
    data = {"id": "I", "title": "t", "startedAt": "2026-04-02T14:00:00Z"}
    plan = evaluate(result.compiled, data, parse_timestamp("2026-04-02T14:30:00Z"))
    assert plan.deadlines.respond_by == parse_timestamp("2026-04-03T11:00:00+01:00")


@pytest.mark.parametrize(
    ("holidays", "message"),
    [
        ({"country": "XX"}, "no public holidays are known for country 'XX'"),
        ({"country": "GB", "subdivision": "XYZ"}, "country 'GB' has no subdivision 'XYZ'"),
        ({"country": "gb"}, "PB201"),
        ({"country": "GB", "region": "ENG"}, "PB201"),
    ],
)
def test_validate_refuses_an_unknown_place(tmp_path: Path, holidays: Any, message: str) -> None:
    folder = library(tmp_path / "lib", holidays)
    done = subprocess.run([*PLAYBOOK, "validate", str(folder)], capture_output=True, text=True)
    assert done.returncode == 1
    assert message in done.stdout
    assert "policy.yaml:" in done.stdout and "Traceback" not in done.stdout + done.stderr


def test_run_does_not_import_the_package_without_such_a_calendar() -> None:
    from conftest import modules_loaded_by

    library = Path(__file__).parent.parent / "playbooks"
    incident = library / "incidents" / "01-gitlab-db-deletion.yaml"
    args = ["run", str(incident), "--library", str(library), "--at", "2026-02-01T00:30:00Z"]
    assert modules_loaded_by(*args, watched=("holidays",)) == set()


def test_the_import_check_can_fail(tmp_path: Path) -> None:
    # A P3 on a calendar that names a country: the same probe sees the package imported.
    from conftest import modules_loaded_by

    folder = library(tmp_path / "lib", {"country": "GB", "subdivision": "ENG"})
    path = tmp_path / "inc.json"
    path.write_text('{"id": "I", "title": "t", "startedAt": "2026-04-02T14:00:00Z"}')
    args = ["run", str(path), "--library", str(folder), "--at", "2026-04-02T14:30:00Z"]
    assert "holidays" in modules_loaded_by(*args, watched=("holidays",))
