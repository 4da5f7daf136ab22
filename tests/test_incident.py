"""Incidents: `--set` overrides, and where their problems are reported."""

from __future__ import annotations

import pytest

from playbook_engine.diagnostics import InputError
from playbook_engine.load.incident import parse_incident

INCIDENT = "id: INC-1\ntitle: t\nstartedAt: 2026-03-14T02:17:00Z\n"


def problems(*overrides: str) -> list[tuple[str, str, str, str]]:
    with pytest.raises(InputError) as caught:
        parse_incident("inc.yaml", INCIDENT, overrides)
    return [(str(d.span), d.code, d.message, d.hint) for d in caught.value.diagnostics]


def test_values_are_typed_like_yaml_and_nest() -> None:
    data = parse_incident(
        "inc.yaml", INCIDENT, ["customersAffected=12", "labels.team=payments", "title='a: b'"]
    ).data
    assert data["customersAffected"] == 12
    assert data["labels"] == {"team": "payments"}
    assert data["title"] == "a: b"


def test_an_empty_value_is_the_empty_text_and_a_comment_is_text() -> None:
    data = parse_incident("inc.yaml", INCIDENT, ["description=# see the runbook", "labels.a="]).data
    assert data["description"] == "# see the runbook"
    assert data["labels"] == {"a": ""}


def test_free_text_stays_whole() -> None:
    data = parse_incident(
        "inc.yaml",
        INCIDENT,
        ["description=errors #123 since 2am", "title=@here look", "labels.q='a #b'"],
    ).data
    assert data["description"] == "errors #123 since 2am"
    assert data["title"] == "@here look"
    assert data["labels"] == {"q": "a #b"}


def test_a_bad_value_is_reported_at_its_set_not_at_the_file() -> None:
    # The file's own startedAt (line 3) is valid: the bad value came from --set.
    [(where, code, message, _)] = problems("startedAt=2026-03-14T02:17:00")
    assert (where, code) == ("--set startedAt", "PB201")
    assert message.startswith("startedAt: expected a timestamp with an offset")
    [(where, code, message, hint)] = problems("labels.team=123")
    assert (where, code, message) == (
        "--set labels.team",
        "PB204",
        "labels.team: expected a string, got the number 123",
    )
    assert hint == """quote it, and the quotes for the shell: --set 'labels.team="123"'"""


def test_the_last_set_of_a_field_is_the_one_reported() -> None:
    [(where, _, _, _)] = problems("labels.team=x", "labels={team: 1}")
    assert where == "--set labels"


def test_a_field_of_the_file_is_still_reported_at_the_file() -> None:
    with pytest.raises(InputError) as caught:
        parse_incident("inc.yaml", INCIDENT + "severity: [1]\n", ["labels.team=x"])
    assert [str(d.span) for d in caught.value.diagnostics] == ["inc.yaml:4:11"]


def test_malformed_assignments() -> None:
    assert problems("title")[0][:2] == ("--set", "IN104")
    assert problems("title.x=1")[0][:3] == (
        "--set",
        "IN104",
        "--set title.x: 'title' is not a mapping",
    )
    assert problems("title=[unclosed")[0][1] == "PB101"  # a list that does not parse
    assert problems("labels={team: x")[0][1] == "PB101"
