"""Shared step groups, escalations, notifications and macros used by reference."""

from __future__ import annotations

import shutil
from pathlib import Path

from playbook_engine.engine.evaluation import evaluate
from playbook_engine.pipeline import load_library
from playbook_engine.timeparse import parse_timestamp

LIBRARY = Path(__file__).parent / "data" / "libraries" / "reuse"
AT = parse_timestamp("2026-03-13T16:30:00Z")


def incident(**fields: object) -> dict[str, object]:
    return {"id": "INC-9", "title": "Down *now*", "startedAt": "2026-03-13T16:00:00Z", **fields}


def test_shared_definitions_expand_into_the_playbook() -> None:
    result = load_library(LIBRARY)
    assert [d for d in result.diagnostics if d.is_error] == []
    assert result.compiled is not None
    plan = evaluate(result.compiled, incident(severity="critical", environment="production"), at=AT)
    assert [s.id for s in plan.steps] == ["assign-ic", "review", "rollback"]
    assert plan.steps[0].title == "Assign an incident commander (**P1** Critical)"
    assert plan.escalation.source == "outage"
    assert [e.after.seconds // 60 for e in plan.escalation.entries] == [0, 15]
    (announce,) = plan.notifications
    assert announce.body == "**P1** Critical Down *now*"


def test_include_condition_is_anded_with_each_step() -> None:
    result = load_library(LIBRARY)
    assert result.compiled is not None
    plan = evaluate(result.compiled, incident(severity="critical", environment="staging"), at=AT)
    assert [s.id for s in plan.steps] == ["rollback"]


def codes(root: Path) -> list[tuple[str, str, int]]:
    return [(d.code, Path(d.span.path).name, d.span.line) for d in load_library(root).diagnostics]


def test_unknown_references_and_cycles_are_reported_where_written(tmp_path: Path) -> None:
    root = tmp_path / "lib"
    shutil.copytree(LIBRARY, root)
    shared = root / "shared.yaml"
    text = shared.read_text()
    text = text.replace("        - include: review-only\n", "        - include: major-basics\n")
    shared.write_text(text)
    outage = root / "outage.yaml"
    text = outage.read_text()
    text = text.replace("escalation: {use: standard}", "escalation: {use: standrd}")
    text = text.replace("    - use: announce", "    - use: announce\n    - use: missing")
    outage.write_text(text)
    found = codes(root)
    assert ("PB316", "shared.yaml", 15) in found  # the include that closes the cycle
    assert ("PB303", "outage.yaml", 19) in found  # escalation {use: standrd}
    assert ("PB303", "outage.yaml", 22) in found  # notification {use: missing}
    messages = [d.message for d in load_library(root).diagnostics]
    assert "step groups include each other in a cycle: major-basics → major-basics" in messages
    assert "unknown shared escalation 'standrd'" in messages


def test_duplicate_shared_ids_and_unknown_macros(tmp_path: Path) -> None:
    root = tmp_path / "lib"
    shutil.copytree(LIBRARY, root)
    (root / "more.yaml").write_text(
        "apiVersion: playbook-engine/v1\nkind: Shared\nmetadata: {id: more}\nspec:\n"
        "  escalations:\n    - id: standard\n      tiers: [{after: 0m, targets: [sre-primary]}]\n"
        "  notifications:\n    - id: extra\n      channel: chat\n"
        "      body: '{{ macros.nope(priority) }}'\n"
    )
    result = load_library(root)
    found = {(d.code, d.message) for d in result.diagnostics}
    assert any(code == "PB302" and "shared escalation id 'standard'" in m for code, m in found)
    assert ("PB404", "template uses unknown macro 'nope'") in found


def test_macro_output_is_escaped_once_not_twice() -> None:
    from playbook_engine import sandbox

    macros = "{% macro badge(p) %}**{{ p.id }}** {{ p.name }}{% endmacro %}"
    template = sandbox.compile_template("{{ macros.badge(priority) }}", "markdown", macros)
    rendered = sandbox.render(template, {"priority": {"id": "P1", "name": "x*y\n- [ ] forged"}})
    assert rendered == "**P1** x\\*y - \\[ \\] forged"
