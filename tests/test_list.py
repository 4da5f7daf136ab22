"""`playbook list`: golden output on a small library, the bundled library, and the static
descriptions it is built from (conditions on one line, priorities a playbook can produce).

Run with UPDATE_GOLDEN=1 to rewrite the expected files after a deliberate change.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest
from conftest import PLAYBOOK

from playbook_engine.authoring.describe import can_produce, condition_text, own_priorities, timeline
from playbook_engine.diagnostics import Span
from playbook_engine.engine.evaluation import evaluate
from playbook_engine.model import AllOf, AnyOf, Expr, Leaf, Library, Not
from playbook_engine.pipeline import load_library
from playbook_engine.timeparse import parse_timestamp

REPO = Path(__file__).resolve().parent.parent
AUTHORING = "tests/data/libraries/authoring"
GOLDEN = REPO / "tests" / "data" / "golden" / "authoring"
UPDATE = os.environ.get("UPDATE_GOLDEN") == "1"
S = Span("t.yaml", 1, 1)


def playbook(*args: str, cwd: Path = REPO) -> subprocess.CompletedProcess[str]:
    """The installed `playbook` command, run for real."""
    env = {k: v for k, v in os.environ.items() if k != "PLAYBOOK_LIBRARY"}
    return subprocess.run(
        [*PLAYBOOK, *args], cwd=cwd, capture_output=True, text=True, timeout=60, env=env
    )


def check_golden(name: str, actual: str) -> None:
    golden = GOLDEN / name
    if UPDATE:
        golden.parent.mkdir(parents=True, exist_ok=True)
        golden.write_text(actual, encoding="utf-8")
    assert golden.exists(), f"no {name}: run with UPDATE_GOLDEN=1 and review it"
    assert actual == golden.read_text(encoding="utf-8")


def library(path: str) -> Library:
    result = load_library(REPO / path)
    assert result.compiled is not None
    return result.compiled.library


@pytest.mark.parametrize(("fmt", "name"), [("text", "list.txt"), ("json", "list.json")])
def test_list_matches_golden(fmt: str, name: str) -> None:
    result = playbook("list", "--library", AUTHORING, "--format", fmt)
    assert result.returncode == 0, result.stderr
    assert result.stderr == ""
    check_golden(name, result.stdout)


def test_list_json_of_the_bundled_library() -> None:
    result = playbook("list", "--library", "playbooks", "--format", "json")
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)
    assert [p["id"] for p in data["policy"]["priorities"]] == ["P1", "P2", "P3", "P4"]
    p3 = data["policy"]["priorities"][2]
    assert (p3["respondWithin"], p3["resolveWithin"], p3["clock"]) == (
        "4h",
        "25h30m",
        "business-hours",
    )
    ids = [p["id"] for p in data["playbooks"]]
    assert ids[0] == "major-incident" and ids[-1] == "default"  # merge order, fallback last
    orders = [(p["order"], p["id"]) for p in data["playbooks"]]
    assert orders == sorted(orders)
    by_id = {p["id"]: p for p in data["playbooks"]}
    assert by_id["default"]["fallback"] is True and by_id["default"]["appliesWhen"] is None
    assert by_id["database-failure"]["appliesWhen"] == (
        "incident.service in [postgres-main, postgres-replica, orders-db, redis-sessions] "
        "or incident.labels.component == database or incident.labels.category == database"
    )
    assert by_id["database-failure"]["rules"][0]["effect"] == (
        "impact=extensive, urgency=critical, priority=P1"
    )
    assert by_id["security-breach"]["ownRulesProduce"] == ["P1", "P2"]
    # breach-baseline always matches: the policy's impact rules and defaults cannot decide.
    assert by_id["security-breach"]["canProduce"] == ["P1", "P2", "P4"]
    assert by_id["major-incident"]["ownRulesProduce"] == []
    assert by_id["database-failure"]["escalation"].startswith("3 tiers: 0m dba-primary")


def test_list_reports_a_broken_library_and_exits_2(tmp_path: Path) -> None:
    broken = tmp_path / "lib"
    shutil.copytree(REPO / "tests/data/libraries/basic", broken)
    text = (broken / "triage.yaml").read_text().replace("owner: responder", "owner: nobody")
    (broken / "triage.yaml").write_text(text)
    result = playbook("list", "--library", str(broken))
    assert result.returncode == 2
    assert result.stdout == ""
    assert "PB303" in result.stderr and "triage.yaml" in result.stderr


def test_list_without_a_library_exits_2(tmp_path: Path) -> None:
    result = playbook("list", cwd=tmp_path)
    assert result.returncode == 2
    assert "PB111 no library found" in result.stderr


# --- the static descriptions ----------------------------------------------------------


def leaf(field: str, op: str, value: object, ignore_case: bool = False) -> Leaf:
    return Leaf(field, op, value, S, ignore_case=ignore_case)


def test_condition_text_reads_like_the_brief() -> None:
    condition = AnyOf(
        (
            leaf("incident.severity", "oneOf", ["critical", "sev1"]),
            leaf("incident.customersAffected", "greaterOrEqual", 100),
        ),
        S,
    )
    assert condition_text(condition) == (
        "incident.severity in [critical, sev1] or incident.customersAffected >= 100"
    )


def test_condition_text_groups_negations_and_values() -> None:
    inner_any = AnyOf((leaf("a", "equals", "x"), leaf("b", "exists", True)), S)
    condition = AllOf(
        (
            inner_any,
            Not(leaf("c", "oneOf", ["staging", "dev"]), S),
            Not(leaf("d", "exists", True), S),
            Not(leaf("e", "matches", "^a|b$"), S),
            Not(AllOf((leaf("f", "equals", 1), leaf("g", "equals", 2)), S), S),
            leaf("h", "equals", "true"),
            leaf("i", "equals", "two words"),
            leaf("j", "between", [0.2, 1]),
            leaf("k", "withinCalendar", "office"),
            leaf("l", "contains", "Down", ignore_case=True),
            Expr("incident.x is defined ", S),
        ),
        S,
    )
    assert condition_text(condition) == (
        "(a == x or b exists) and c not in [staging, dev] and d is absent"
        ' and not (e matches /^a|b$/) and not (f == 1 and g == 2) and h == "true"'
        ' and i == "two words" and 0.2 <= j <= 1 and k within calendar office'
        " and l contains Down (any case) and expr(incident.x is defined)"
    )
    assert condition_text(AllOf((), S)) == "always"
    assert condition_text(AnyOf((), S)) == "never"
    assert condition_text(None) == "always"
    assert condition_text(Not(Not(leaf("a", "equals", 1), S), S)) == "a == 1"


def test_can_produce_on_the_basic_library() -> None:
    lib = library("tests/data/libraries/basic")
    by_id = {p.id: p for p in lib.playbooks}
    # payments: its default impact significant, its rule (significant, high), the policy's
    # default urgency medium, and the policy's staging override to P4.
    assert can_produce(lib.policy, by_id["payments"]) == ("P2", "P4")
    assert own_priorities(lib.policy, by_id["payments"]) == ("P2",)
    # major: impacts extensive (rule) or moderate (default), urgencies critical or medium.
    assert own_priorities(lib.policy, by_id["major"]) == ("P1", "P2", "P3")
    assert own_priorities(lib.policy, by_id["triage"]) == ()


def test_timeline_matches_the_engine_when_every_tier_applies() -> None:
    result = load_library(REPO / "tests/data/libraries/basic")
    assert result.compiled is not None
    major = next(p for p in result.compiled.library.playbooks if p.id == "major")
    assert major.escalation is not None
    static = [(e.after, e.tier, e.cycle) for e in timeline(major.escalation)]
    incident = {
        "id": "INC-1",
        "title": "Down",
        "startedAt": "2026-03-13T16:00:00Z",
        "severity": "critical",
        "customersAffected": 5000,
    }
    plan = evaluate(result.compiled, incident, parse_timestamp("2026-03-13T16:30:00Z"))
    assert plan.priority.id == "P1"  # every tier applies, the P1-only one too
    assert static == [(e.after, e.tier, e.cycle) for e in plan.escalation.entries]
    minutes = [(int(after.total_seconds()) // 60, tier, cycle) for after, tier, cycle in static]
    # Tiers at 0, 10, 20; repeats of tiers 2-3 start 15m after the last tier, 25m apart.
    assert minutes == [
        (0, 1, 0),
        (10, 2, 0),
        (20, 3, 0),
        (35, 2, 1),
        (45, 3, 1),
        (60, 2, 2),
        (70, 3, 2),
    ]
