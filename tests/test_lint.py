"""Lint warnings (PB501–PB507) and their suppression comments."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from playbook_engine.pipeline import load_library

BASIC = Path(__file__).parent / "data" / "libraries" / "basic"


@pytest.fixture()
def library(tmp_path: Path) -> Path:
    root = tmp_path / "lib"
    shutil.copytree(BASIC, root)
    return root


def edit(path: Path, old: str, new: str) -> None:
    text = path.read_text()
    assert old in text
    path.write_text(text.replace(old, new))


def findings(root: Path) -> list[tuple[str, str, int, str]]:
    return [
        (d.code, Path(d.span.path).name, d.span.line, d.message)
        for d in load_library(root).diagnostics
        if d.code.startswith("PB5")
    ]


def test_the_fixture_has_one_lint_finding(library: Path) -> None:
    assert findings(library) == [
        ("PB505", "payments.yaml", 20, "step 'declare' can run at P1 but has no owner")
    ]


def test_unreachable_rule_after_a_catch_all(library: Path) -> None:
    edit(
        library / "major.yaml",
        "    rules:\n",
        "    rules:\n      - id: everything\n        when: {all: []}\n"
        "        set: {impact: extensive}\n",
    )
    assert (
        "PB501",
        "major.yaml",
        15,
        "rule 'many-customers' can never decide anything: the earlier rule 'everything' "
        "matches whenever it does and sets the same values",
    ) in findings(library)


def test_unselectable_playbook_and_contradictions(library: Path) -> None:
    edit(
        library / "payments.yaml",
        "      - {field: incident.labels.team, equals: payments, ignoreCase: true}",
        "      - all:\n          - {field: incident.service, equals: a}\n"
        "          - {field: incident.service, equals: b}",
    )
    edit(library / "payments.yaml", "      - {field: incident.service, equals: payments-api}\n", "")
    messages = {m for code, _, _, m in findings(library) if code == "PB502"}
    assert messages == {
        "no incident can select playbook 'payments': its appliesWhen can never hold"
    }


def test_mistyped_comparison(library: Path) -> None:
    edit(library / "major.yaml", "greaterOrEqual: 1000", "equals: '1000'")
    assert (
        "PB503",
        "major.yaml",
        13,
        "'incident.customersAffected': the field is a number, but 'equals' compares with "
        "'1000'; this leaf never holds",
    ) in [(c, f, line, m) for c, f, line, m in findings(library)]


def test_unused_definitions_and_empty_escalation(library: Path) -> None:
    edit(
        library / "policy.yaml",
        "    - {id: email, kind: email, address: execs@example.com}\n",
        "    - {id: email, kind: email, address: execs@example.com}\n"
        "    - {id: spare, kind: webhook}\n",
    )
    edit(
        library / "policy.yaml",
        "  escalation:\n    tiers:\n      - {after: 0m, targets: [sre-primary]}\n",
        "",
    )
    found = findings(library)
    assert ("PB504", "policy.yaml", 52, "channel 'spare' is defined but never used") in found
    assert any(
        code == "PB506" and "playbook 'payments' pages nobody at P1, P2, P3, P4" in message
        for code, _, _, message in found
    )


def test_notification_without_recipient(library: Path) -> None:
    edit(
        library / "policy.yaml",
        '{id: chat, kind: chat, address: "#incidents"}',
        "{id: chat, kind: chat}",
    )
    assert any(code == "PB507" and "'announce'" in m for code, _, _, m in findings(library))


def test_comments_disable_warnings_per_line_and_per_file(library: Path) -> None:
    edit(
        library / "payments.yaml",
        "    - id: declare\n",
        "    - id: declare  # playbook: disable=PB505\n",
    )
    assert findings(library) == []
    edit(library / "payments.yaml", "  # playbook: disable=PB505\n", "\n")
    edit(library / "payments.yaml", "  steps:\n", "  steps:\n    # playbook: disable=PB505\n")
    assert findings(library) == []
    edit(library / "payments.yaml", "    # playbook: disable=PB505\n", "")
    assert len(findings(library)) == 1
    edit(
        library / "payments.yaml",
        "kind: Playbook\n",
        "kind: Playbook\n# playbook: disable-file=PB505\n",
    )
    assert findings(library) == []


def test_errors_cannot_be_disabled(library: Path) -> None:
    edit(
        library / "payments.yaml",
        "      owner: responder\n",
        "      owner: nobody  # playbook: disable=PB303\n",
    )
    codes = [d.code for d in load_library(library).diagnostics if d.is_error]
    assert codes == ["PB303"]


def test_a_document_with_errors_does_not_make_its_definitions_look_unused(library: Path) -> None:
    """One typo in the fallback playbook drops it; what only it uses is not 'unused', and
    'no fallback playbook' is not said either: the one real error stands alone."""
    triage = library / "triage.yaml"
    edit(triage, "fallback: true", "fallback: true\n  unknownKey: 1")
    codes = [d.code for d in load_library(library).diagnostics]
    assert "PB202" in codes
    assert "PB504" not in codes and "PB312" not in codes


def test_an_incident_saved_in_the_library_is_named_as_one(library: Path) -> None:
    (library / "my-incident.yaml").write_text(
        "id: INC-1\ntitle: Checkout down\nstartedAt: 2026-03-14T02:17:00Z\n"
    )
    [problem] = [d for d in load_library(library).diagnostics if d.is_error]
    assert (problem.code, problem.span.path.endswith("my-incident.yaml")) == ("PB203", True)
    assert problem.message == "missing required keys 'apiVersion' and 'kind'"
    assert problem.hint.startswith("this looks like an incident: keep incidents in an incidents/")


def test_zone_problems_point_at_the_zone_name(library: Path) -> None:
    policy = library / "policy.yaml"
    text = policy.read_text()
    edit(policy, "Europe/London", "EST")
    line = next(n for n, row in enumerate(policy.read_text().splitlines(), 1) if "EST" in row)
    column = policy.read_text().splitlines()[line - 1].index("EST") + 1
    [found] = [d for d in load_library(library).diagnostics if d.code == "PB318"]
    assert (found.span.line, found.span.col) == (line, column)
    policy.write_text(text.replace("Europe/London", "Mars/Olympus"))
    [bad] = [d for d in load_library(library).diagnostics if d.code == "PB308"]
    assert (bad.span.line, bad.span.col) == (line, column)
