"""Tests of the JSON Schemas and of schema validation with line numbers."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import time
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from jsonschema import Draft202012Validator

from playbook_engine.diagnostics import Diagnostic, Span
from playbook_engine.load import documents, schema
from playbook_engine.load.documents import SourceDoc

REPO = Path(__file__).resolve().parent.parent
DATA = Path(__file__).resolve().parent / "data"
INVALID = DATA / "invalid"
VALID = DATA / "valid"
EXPECTED: dict[str, dict[str, Any]] = json.loads((INVALID / "expected.json").read_text())
DOCUMENT_SCHEMAS = ("policy", "playbook")


# --- loading ----------------------------------------------------------------------------


def load_case(path: Path) -> tuple[SourceDoc | None, list[Diagnostic]]:
    """A document through the real loader, named relative to the repository."""
    return documents.load_text(path.read_bytes(), path.relative_to(REPO).as_posix())


def diagnostics_of(path: Path) -> list[Diagnostic]:
    doc, found = load_case(path)
    if doc is not None:
        found = found + schema.validate_document(doc)
    return found


def codes_and_lines(found: list[Diagnostic]) -> list[list[object]]:
    return sorted([d.code, d.span.line] for d in found)


INVALID_CASES = sorted(p.name for p in INVALID.glob("*.yaml"))
VALID_DOCS = sorted(p.name for p in VALID.iterdir() if p.suffix in (".yaml", ".yml", ".json"))


# --- the invalid documents --------------------------------------------------------------


def test_there_are_enough_cases_and_every_code_is_covered() -> None:
    assert sorted(EXPECTED) == INVALID_CASES
    assert len(INVALID_CASES) >= 25
    codes = {code for case in EXPECTED.values() for code, _ in case["diagnostics"]}
    assert {f"PB20{n}" for n in range(1, 8)} <= codes


@pytest.mark.parametrize("name", INVALID_CASES)
def test_invalid_document_diagnostics(name: str) -> None:
    case = EXPECTED[name]
    found = diagnostics_of(INVALID / name)
    assert codes_and_lines(found) == sorted(case["diagnostics"])
    for d in found:
        assert "\n" not in d.message and d.message, d
        assert d.span.path == f"tests/data/invalid/{name}"
        assert d.is_error


@pytest.mark.parametrize("name", VALID_DOCS)
def test_valid_documents_have_no_diagnostics(name: str) -> None:
    assert diagnostics_of(VALID / name) == []


def _messages(name: str) -> list[tuple[str, str, str]]:
    return [(d.code, d.message, d.hint) for d in diagnostics_of(INVALID / name)]


def test_unknown_key_points_at_the_key_and_suggests() -> None:
    (d,) = diagnostics_of(INVALID / "typo-step-key.yaml")
    assert (d.code, d.message, d.hint) == (
        "PB202",
        "unknown key 'titel' in spec.steps[0]",
        "did you mean 'title'?",
    )
    assert (d.span.line, d.span.col) == (8, 7)
    assert d.pointer == "/spec/steps/0/titel"


def test_yes_for_a_boolean_gets_a_hint() -> None:
    assert _messages("yes-for-boolean.yaml") == [
        (
            "PB204",
            'expected a boolean, got the string "yes"',
            "write true or false: 'yes' is read as a string here",
        )
    ]


def test_misspelt_operator_is_one_clear_diagnostic() -> None:
    [(code, message, hint)] = _messages("misspelt-operator.yaml")
    assert (code, message) == ("PB207", "unknown operator 'equal' — did you mean 'equals'?")
    assert hint.startswith("operators: equals, oneOf")


def test_shape_messages() -> None:
    assert _messages("two-operators.yaml")[0][:2] == (
        "PB207",
        "a condition has exactly one operator, found 'contains' and 'matches'",
    )
    assert _messages("bad-duration.yaml")[0][1] == (
        'expected a duration like 15m, 4h, 1h30m, got the string "15 minutes"'
    )
    assert _messages("missing-step-title.yaml") == [
        ("PB203", "missing required key 'title' in spec.steps[1]", "")
    ]
    assert _messages("time-unquoted.yaml")[0][2] == 'write two-digit hours: "09:30"'
    assert _messages("weekday-enum.yaml")[0][2] == "did you mean 'tue'?"
    assert _messages("bad-id.yaml")[0][2] == "try 'database-failure'"
    assert _messages("rule-without-effect.yaml")[0][1] == (
        "missing required key 'set' or 'priority' in spec.classification.rules[0]"
    )


def test_api_version_and_kind_messages() -> None:
    (old,) = _messages("apiversion-v0.yaml")
    (new,) = _messages("apiversion-v2.yaml")
    assert old[1] == new[1].replace("v2", "v0") == 'unsupported apiVersion "playbook-engine/v0"'
    assert "upgrade the document" in old[2] and "supports playbook-engine/v1" in old[2]
    assert "upgrade playbook-engine" in new[2]
    (kind,) = _messages("unknown-kind.yaml")
    assert kind == (
        "PB206",
        'unknown kind "Playbok"',
        "did you mean 'Playbook'? kinds: Policy, Playbook, Shared, PayloadMapping, TestSuite",
    )


def test_header_problems_are_all_reported_and_stop_validation() -> None:
    doc = SourceDoc("x.yaml", {"apiVersion": "v1", "metadata": {"titel": 1}})
    found = schema.validate_document(doc)
    assert [d.code for d in found] == ["PB205", "PB203"]


# --- values a YAML 1.1 loader or JSON might produce -------------------------------------


def _instance_errors(data: dict[str, Any]) -> list[tuple[str, str, str, str]]:
    found = schema.validate_instance(data, "policy", lambda pointer: Span("p.json", 1, 1))
    return [(d.code, d.pointer, d.message, d.hint) for d in found]


def _policy(**calendar: Any) -> dict[str, Any]:
    doc = yaml.safe_load((VALID / "policy.yaml").read_text())
    doc["spec"]["calendars"][0].update(calendar)
    assert isinstance(doc, dict)
    return doc


def test_time_read_as_a_number_says_to_quote() -> None:
    found = _instance_errors(_policy(hours={"start": 570, "end": "17:30"}))
    assert found == [
        (
            "PB204",
            "/spec/calendars/0/hours/start",
            'expected a quoted time of day like "09:30", got the number 570',
            'quote it: "09:30" (YAML reads an unquoted 9:30 as 570)',
        )
    ]


def test_a_quoted_number_to_compare_says_to_unquote() -> None:
    doc = yaml.safe_load((VALID / "policy.yaml").read_text())
    doc["spec"]["classification"]["rules"][0]["when"] = {
        "field": "incident.customersAffected",
        "greaterOrEqual": "1000",
    }
    hints = {d.hint for d in schema.validate_instance(doc, "policy", lambda p: Span("p", 1, 1))}
    assert "write the number without quotes: 1000" in hints
    doc["spec"]["classification"]["rules"][0]["when"]["greaterOrEqual"] = "2026-03-14T02:17:00"
    hints = {d.hint for d in schema.validate_instance(doc, "policy", lambda p: Span("p", 1, 1))}
    assert any(h.startswith("include the offset: Z or +01:00") for h in hints)


def test_date_read_as_a_date_says_to_quote() -> None:
    import datetime

    found = _instance_errors(_policy(holidays=[datetime.date(2026, 12, 25)]))
    assert found == [
        (
            "PB204",
            "/spec/calendars/0/holidays/0",
            'expected a quoted date like "2026-12-25", got the unquoted date 2026-12-25',
            'quote it: "2026-12-25"',
        )
    ]


# --- incidents --------------------------------------------------------------------------


INCIDENT = {"id": "INC-1", "title": "Checkout returns 502", "startedAt": "2026-03-14T02:17:00Z"}


def _incident_errors(data: dict[str, Any]) -> list[tuple[str, str, int]]:
    lines = {"": 1, "/startedAt": 3, "/labels/team": 7}
    found = schema.validate_instance(
        data, "incident", lambda pointer: Span("i.json", lines.get(pointer, 99))
    )
    return [(d.code, d.pointer, d.span.line) for d in found]


def test_incident_schema_accepts_extra_fields_labels_and_source() -> None:
    data = {
        **INCIDENT,
        "detectedAt": "2026-03-14T03:17:00.250+01:00",
        "status": "acknowledged",
        "customersAffected": 1200,
        "labels": {"team": "payments"},
        "source": {"alerts": [{"status": "firing", "value": 3}]},
        "myTeamField": ["anything", 1, None],
    }
    assert _incident_errors(data) == []


def test_incident_schema_problems() -> None:
    assert _incident_errors({"id": "INC-1", "title": "t"}) == [("PB203", "/startedAt", 1)]
    assert _incident_errors({**INCIDENT, "startedAt": "2026-03-14T02:17:00"}) == [
        ("PB201", "/startedAt", 3)
    ]
    assert _incident_errors({**INCIDENT, "labels": {"team": 5}}) == [("PB204", "/labels/team", 7)]
    assert _incident_errors({**INCIDENT, "status": "open"}) == [("PB201", "/status", 99)]


# --- never silent, never raising --------------------------------------------------------

_KEYS = st.sampled_from(["field", "equals", "equal", "all", "any", "not", "expr", "id", "titel"])
_VALUES = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-5, 600)
    | st.sampled_from(["yes", "15m", "9:30", "P1", "incident.service", "Bad Id", ""]),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(_KEYS, inner, max_size=3),
    max_leaves=6,
)


def _mutated(doc: SourceDoc, data: st.DataObject) -> Any:
    """A copy of `doc.data` with one value replaced, one key removed or one key added."""
    copy = json.loads(json.dumps(doc.data))
    pointer = data.draw(st.sampled_from(sorted(p for p in doc.value_positions if p)))
    *parents, last = pointer.split("/")[1:]
    parent = copy
    for part in parents:
        parent = parent[int(part)] if isinstance(parent, list) else parent[part]
    index: Any = int(last) if isinstance(parent, list) else last
    action = data.draw(st.sampled_from(["replace", "remove", "add"]))
    if action == "replace":
        parent[index] = data.draw(_VALUES)
    elif action == "remove":
        del parent[index]
    elif isinstance(parent, dict):
        parent[data.draw(_KEYS)] = data.draw(_VALUES)
    return copy


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(name=st.sampled_from(["policy.yaml", "playbook.yaml"]), data=st.data())
def test_every_invalid_document_gets_a_diagnostic(name: str, data: st.DataObject) -> None:
    doc, _ = load_case(VALID / name)
    assert doc is not None
    mutated = _mutated(doc, data)
    kind = doc.data["kind"].lower()
    found = schema.validate_document(
        SourceDoc(doc.path, mutated, doc.value_positions, doc.key_positions)
    )
    valid = Draft202012Validator(schema.load_schema(kind)).is_valid(mutated)
    assert bool(found) != valid, found
    for d in found:
        assert d.code in {f"PB20{n}" for n in range(1, 8)}
        assert d.message and "\n" not in d.message and d.span.line > 0


# --- the schemas themselves -------------------------------------------------------------


def test_schemas_are_valid_draft_2020_12_with_ids() -> None:
    for name in ("policy", "playbook", "incident"):
        document = schema.load_schema(name)
        Draft202012Validator.check_schema(document)
        assert document["$schema"] == "https://json-schema.org/draft/2020-12/schema"
        assert document["$id"] == f"https://playbook-engine.dev/schemas/v1/{name}.schema.json"
        assert document["title"] and document["description"]
        assert "$ref" not in json.dumps(document).replace('"$ref": "#/', "")


def _property_schemas(node: Any, where: str) -> list[tuple[str, dict[str, Any]]]:
    found: list[tuple[str, dict[str, Any]]] = []
    if isinstance(node, dict):
        for key, child in node.get("properties", {}).items():
            found.append((f"{where}/{key}", child))
        for key, child in node.items():
            found += _property_schemas(child, f"{where}/{key}")
    elif isinstance(node, list):
        for i, child in enumerate(node):
            found += _property_schemas(child, f"{where}/{i}")
    return found


def test_every_property_has_a_description() -> None:
    for name in ("policy", "playbook", "incident"):
        for where, child in _property_schemas(schema.load_schema(name), name):
            assert child.get("description"), f"{where} has no description"


def test_shared_defs_are_identical_across_schemas() -> None:
    defs = {name: schema.load_schema(name)["$defs"] for name in ("policy", "playbook", "incident")}
    shared = {"condition", "duration", "link", "escalation", "rule", "timestamp", "id"}
    assert shared <= set(defs["policy"]) & set(defs["playbook"])
    for name in set(defs["policy"]) | set(defs["playbook"]) | set(defs["incident"]):
        versions = [d[name] for d in defs.values() if name in d]
        assert all(v == versions[0] for v in versions), f"$defs/{name} differs between schemas"


def test_additional_properties_are_closed_except_in_incidents() -> None:
    def walk(node: Any, where: str) -> None:
        if isinstance(node, dict):
            if node.get("type") == "object" and "properties" in node:
                assert node.get("additionalProperties") is False, where
            for key, child in node.items():
                walk(child, f"{where}/{key}")
        elif isinstance(node, list):
            for i, child in enumerate(node):
                walk(child, f"{where}/{i}")

    walk(schema.load_schema("policy"), "policy")
    walk(schema.load_schema("playbook"), "playbook")
    assert schema.load_schema("incident")["additionalProperties"] is True


def test_schema_loading() -> None:
    assert (schema.schemas_dir() / "playbook.schema.json").is_file()
    assert schema.load_schema("playbook") is schema.load_schema("playbook")
    assert {"policy", "playbook", "incident"} <= set(schema.available_schemas())
    with pytest.raises(ValueError, match="unknown schema"):
        schema.load_schema("nope")


# --- agreement with check-jsonschema ----------------------------------------------------

CHECK_JSONSCHEMA = shutil.which("check-jsonschema")
needs_check_jsonschema = pytest.mark.skipif(
    CHECK_JSONSCHEMA is None, reason="check-jsonschema is not installed"
)


def _check_jsonschema(kind: str, files: list[Path]) -> dict[str, Any]:
    """check-jsonschema's JSON report for `files` against our schema of `kind`."""
    assert CHECK_JSONSCHEMA is not None
    command = [CHECK_JSONSCHEMA, "-o", "json", "--schemafile", f"schemas/{kind}.schema.json"]
    names = [path.relative_to(REPO).as_posix() for path in files]
    result = subprocess.run(
        [*command, *names], cwd=REPO, capture_output=True, text=True, timeout=120
    )
    report: dict[str, Any] = json.loads(result.stdout)
    assert result.returncode == (0 if report["status"] == "ok" else 1), result.stderr
    return report


def _schema_for(path: Path) -> str:
    match = re.search(r'^"?kind"?:\s*"?(\w+)', path.read_text(), re.MULTILINE)
    kind = match.group(1).lower() if match else "playbook"
    return kind if kind in DOCUMENT_SCHEMAS else "playbook"


@needs_check_jsonschema
@pytest.mark.parametrize("kind", DOCUMENT_SCHEMAS)
def test_check_jsonschema_agrees_with_us(kind: str) -> None:
    """It accepts every valid document and rejects every schema-invalid one (one run per kind)."""
    valid = [VALID / n for n in VALID_DOCS if _schema_for(VALID / n) == kind]
    invalid = [
        INVALID / n
        for n in INVALID_CASES
        if "loaderLevel" not in EXPECTED[n] and _schema_for(INVALID / n) == kind
    ]
    assert valid and invalid
    report = _check_jsonschema(kind, valid + invalid)
    assert report["parse_errors"] == []
    rejected = {error["filename"] for error in report["errors"]}
    assert rejected == {path.relative_to(REPO).as_posix() for path in invalid}


EXAMPLES = sorted(
    p
    for p in (REPO / "playbooks").rglob("*.y*ml")
    if not {"tests", "incidents"} & set(p.relative_to(REPO / "playbooks").parts)
)


@pytest.mark.skipif(not EXAMPLES, reason="no example library under playbooks/ yet")
@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: p.relative_to(REPO).as_posix())
def test_example_library_documents_are_schema_valid(path: Path) -> None:
    assert diagnostics_of(path) == []


# --- speed ------------------------------------------------------------------------------


def test_validation_is_fast() -> None:
    doc, _ = load_case(VALID / "playbook.yaml")
    assert doc is not None
    schema.validate_document(doc)  # warm the cached validator
    rounds = 50
    start = time.perf_counter()
    for _ in range(rounds):
        schema.validate_document(doc)
    per_document_ms = (time.perf_counter() - start) * 1000 / rounds
    assert per_document_ms < 25, f"{per_document_ms:.2f} ms per playbook"


def test_alternatives_rank_the_branch_the_value_fits() -> None:
    # `status` is a path (a string) or a source object: a mapping with a bad value is judged
    # by the object branch, not reported as "expected a string".
    text = (
        "apiVersion: playbook-engine/v1\nkind: PayloadMapping\nmetadata: {id: m}\n"
        "spec:\n  id: $.id\n  title: $.t\n  startedAt: $.ts\n"
        "  status: {path: $.state, map: {DOWN: broken}}\n"
    )
    doc, problems = documents.load_text(text, "m.yaml")
    assert doc is not None and problems == []
    found = [(d.code, d.span.line, d.message) for d in schema.validate_document(doc)]
    assert found == [
        (
            "PB201",
            8,
            "expected one of triggered, acknowledged, resolved, investigating, identified, "
            'monitoring, false-alarm, duplicate, not-an-incident, got the string "broken"',
        )
    ]
