"""The README's table of policy rules and their forms names, for each form, preset files that
use it: each file named must say it, so the table cannot go stale."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).resolve().parent.parent
PRESETS = ROOT / "playbook_engine" / "authoring" / "presets"
MAPPINGS = ROOT / "playbooks" / "mappings"


def walk(value: Any) -> Iterator[Any]:
    yield value
    if isinstance(value, dict):
        for item in value.values():
            yield from walk(item)
    elif isinstance(value, list):
        for item in value:
            yield from walk(item)


def conditions_read(doc: Any, field: str, **operator: Any) -> bool:
    return any(
        isinstance(node, dict)
        and node.get("field") == field
        and all(node.get(k) == v for k, v in operator.items())
        for node in walk(doc)
    )


def not_an_incident(doc: Any) -> bool:
    return any(p.get("incident") is False for p in doc["spec"].get("priorities", []))


def bound(kind: str) -> Callable[[Any], bool]:
    def check(doc: Any) -> bool:
        return any(isinstance(node, dict) and set(node) == {kind} for node in walk(doc))

    return check


def keep_peak(doc: Any) -> bool:
    return doc["spec"].get("classification", {}).get("keepPeak") is True


def elapsed(doc: Any) -> bool:
    return any(
        isinstance(node, dict) and str(node.get("field", "")).startswith("elapsed.")
        for node in walk(doc)
    )


def no_target(doc: Any) -> bool:
    return any(
        "respondWithin" not in p and "resolveWithin" not in p
        for p in doc["spec"].get("priorities", [])
    )


def same_moment_tiers(doc: Any) -> bool:
    tiers = doc["spec"].get("escalation", {}).get("tiers", [])
    moments = [t["after"] for t in tiers if "when" in t]
    return len(moments) != len(set(moments))


def procedure(doc: Any) -> bool:
    return conditions_read(doc["spec"].get("appliesWhen", {}), "priority")


def holidays(doc: Any) -> bool:
    return any("country" in c.get("holidays", {}) for c in doc["spec"].get("calendars", []))


def non_square(doc: Any) -> bool:
    spec = doc["spec"]
    cells = [cell for row in spec["matrix"].values() for cell in row]
    full = len(cells) == len(spec["impacts"]) * len(spec["urgencies"])
    return len(spec["impacts"]) != len(spec["urgencies"]) and full


def completed_by(doc: Any) -> bool:
    return any(s.get("completedBy") == "acknowledgement" for s in doc["spec"].get("steps", []))


def opening_notice_guarded(doc: Any) -> bool:
    return any(
        conditions_read(n.get("when", {}), "elapsed.sinceResolved", exists=False)
        for n in doc["spec"].get("notifications", [])
    )


def typed_mapping(doc: Any) -> bool:
    fields = doc["spec"].get("fields", {})
    typed = any(isinstance(f, dict) and "type" in f for f in walk(fields))
    return typed and any(isinstance(n, dict) and n.get("default") == "received" for n in walk(doc))


CHECKS: dict[str, Callable[[Any], bool]] = {
    "incident: false": not_an_incident,
    "atLeast": bound("atLeast"),
    "atMost": bound("atMost"),
    "keepPeak": keep_peak,
    "elapsed.": elapsed,
    "without `respondWithin`": no_target,
    "the same `after`": same_moment_tiers,
    "`appliesWhen` on `priority`": procedure,
    "holidays:": holidays,
    "`impacts` and `urgencies` of different lengths": non_square,
    "completedBy": completed_by,
    "elapsed.sinceResolved, exists: false": opening_notice_guarded,
}


def table_rows() -> list[tuple[str, list[str]]]:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    start = text.index("| the policy says | the form | where a preset says it |")
    rows = []
    for line in text[start:].splitlines()[2:]:
        if not line.startswith("|"):
            break
        cells = [cell.strip() for cell in line.strip().strip("|").split(" | ")]
        form, where = cells[1], cells[2]
        files = re.findall(r"`([\w-]+/[\w.-]+\.yaml)`", where)
        rows.append((form, files))
    return rows


def test_the_table_lists_every_form() -> None:
    forms = [form for form, _ in table_rows()]
    assert len(forms) == len(CHECKS)
    for marker in CHECKS:
        assert sum(marker in form for form in forms) >= 1, marker


@pytest.mark.parametrize(("form", "files"), table_rows(), ids=lambda v: str(v)[:40])
def test_each_named_file_says_its_form(form: str, files: list[str]) -> None:
    marker = max((m for m in CHECKS if m in form), key=len)  # the most specific one
    check = CHECKS[marker]
    assert files
    for name in files:
        doc = yaml.safe_load((PRESETS / name).read_text(encoding="utf-8"))
        assert check(doc), f"{name} does not say: {form}"


def test_the_mapping_named_below_the_table_has_typed_fields_and_a_receive_time() -> None:
    doc = yaml.safe_load((MAPPINGS / "zabbix.yaml").read_text(encoding="utf-8"))
    assert typed_mapping(doc)


def test_a_square_matrix_or_one_with_a_hole_is_not_said_to_be_non_square() -> None:
    square = yaml.safe_load((PRESETS / "itil-p1-p4/policy.yaml").read_text(encoding="utf-8"))
    assert not non_square(square)
    holed = yaml.safe_load((PRESETS / "itil-5x3/policy.yaml").read_text(encoding="utf-8"))
    assert non_square(holed)
    del holed["spec"]["matrix"]["user"]["low"]
    assert not non_square(holed)
