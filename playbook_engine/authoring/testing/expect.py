"""Expectations of test cases: what a plan must say, read from a suite document.

`Expect` mirrors a case's `expect` mapping (see `schemas/testsuite.schema.json`). `SuiteValues`
reads the values of one schema-valid suite document that need more than the schema: timestamps
and durations are parsed (TS108), and paths are resolved against the suite's folder (TS104).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path, PureWindowsPath
from typing import Any, TypeVar

from playbook_engine.diagnostics import Diagnostic, Span, error
from playbook_engine.load.documents import SourceDoc, escape_pointer_token
from playbook_engine.timeparse import parse_duration, parse_timestamp

_T = TypeVar("_T")


@dataclass(frozen=True, slots=True)
class EntryExpect:
    """An expected escalation entry; `status` None leaves the status unchecked."""

    after: timedelta
    targets: tuple[str, ...]
    status: str | None


@dataclass(frozen=True, slots=True)
class NotificationExpect:
    """An expected notification: sent, and saying what it must."""

    id: str
    to: tuple[str, ...] | None
    subject: str | None
    contains: tuple[str, ...]
    not_contains: tuple[str, ...]
    golden: Path | None


@dataclass(frozen=True, slots=True)
class Expect:
    """Every expectation of a case; None or empty means unchecked. Mirrors the `expect` keys."""

    playbooks: tuple[str, ...] | None = None
    playbooks_include: tuple[str, ...] = ()
    playbooks_exclude: tuple[str, ...] = ()
    priority: str | None = None
    impact: str | None = None
    urgency: str | None = None
    decided_by: tuple[tuple[str, str], ...] = ()  # (impact|urgency|priority, text)
    steps_include: tuple[str, ...] = ()
    steps_exclude: tuple[str, ...] = ()
    steps_order: tuple[str, ...] = ()
    steps_due: tuple[tuple[str, datetime], ...] = ()
    escalation: tuple[EntryExpect, ...] | None = None
    escalation_include: tuple[EntryExpect, ...] = ()
    escalation_source: str | None = None
    deadlines: tuple[tuple[str, datetime], ...] = ()  # (slaStart|respondBy|resolveBy, moment)
    clock: str | None = None
    notifications: tuple[NotificationExpect, ...] = ()
    notifications_exclude: tuple[str, ...] = ()
    no_errors: bool = True


class SuiteValues:
    """Reads values of one suite document, appending each problem to `problems`."""

    def __init__(self, doc: SourceDoc, folder: Path, problems: list[Diagnostic]) -> None:
        self.doc = doc
        self.folder = folder
        self.problems = problems

    def parse(self, parse: Callable[[str], _T], pointer: str) -> _T | None:
        """The text at `pointer` parsed by `parse`, or None and a TS108 problem."""
        try:
            return parse(_at(self.doc.data, pointer))
        except ValueError as exc:
            self.problems.append(error("TS108", str(exc), self.doc.span(pointer), pointer=pointer))
            return None

    def moment(self, pointer: str) -> datetime | None:
        """The timestamp at `pointer`."""
        return self.parse(parse_timestamp, pointer)

    def path(self, relative: str, where: Span, inside: bool, example: str) -> Path | None:
        """`relative` joined to the suite's folder; with `inside`, it may not leave it."""
        path = self.folder / relative
        if Path(relative).is_absolute() or PureWindowsPath(relative).drive:
            problem = f"{relative!r} must be a path relative to the suite file"
        elif inside and not path.resolve().is_relative_to(self.folder.resolve()):
            problem = f"{relative!r} leaves the folder of the suite file"
        else:
            return path
        self.problems.append(error("TS104", problem, where, hint=f"for example {example}"))
        return None

    def expect(self, data: dict[str, Any], pointer: str) -> Expect:
        """The schema-valid `expect` mapping at `pointer`, read."""
        steps, deadlines = data.get("steps", {}), data.get("deadlines", {})
        escalation = data.get("escalation")
        return Expect(
            playbooks=tuple(data["playbooks"]) if "playbooks" in data else None,
            playbooks_include=tuple(data.get("playbooksInclude", ())),
            playbooks_exclude=tuple(data.get("playbooksExclude", ())),
            priority=data.get("priority"),
            impact=data.get("impact"),
            urgency=data.get("urgency"),
            decided_by=tuple(data.get("decidedBy", {}).items()),
            steps_include=tuple(steps.get("include", ())),
            steps_exclude=tuple(steps.get("exclude", ())),
            steps_order=tuple(steps.get("order", ())),
            steps_due=self.moments(steps.get("due", {}), f"{pointer}/steps/due"),
            escalation=(
                None if escalation is None else self.entries(escalation, f"{pointer}/escalation")
            ),
            escalation_include=self.entries(
                data.get("escalationInclude", []), f"{pointer}/escalationInclude"
            ),
            escalation_source=data.get("escalationSource"),
            deadlines=self.moments(
                {k: v for k, v in deadlines.items() if k != "clock"}, f"{pointer}/deadlines"
            ),
            clock=deadlines.get("clock"),
            notifications=tuple(
                self.notification(n, f"{pointer}/notifications/{i}")
                for i, n in enumerate(data.get("notifications", []))
            ),
            notifications_exclude=tuple(data.get("notificationsExclude", ())),
            no_errors=data.get("noErrors", True),
        )

    def moments(self, values: dict[str, str], pointer: str) -> tuple[tuple[str, datetime], ...]:
        out = []
        for key in values:
            where = f"{pointer}/{escape_pointer_token(key)}"
            moment = self.moment(where)
            if moment is not None:
                out.append((key, moment))
        return tuple(out)

    def entries(self, items: list[dict[str, Any]], pointer: str) -> tuple[EntryExpect, ...]:
        out = []
        for index, item in enumerate(items):
            after = self.parse(parse_duration, f"{pointer}/{index}/after")
            if after is not None:
                out.append(EntryExpect(after, tuple(item["targets"]), item.get("status")))
        return tuple(out)

    def notification(self, item: dict[str, Any], pointer: str) -> NotificationExpect:
        golden = None
        if "golden" in item:
            where = self.doc.span(f"{pointer}/golden")
            golden = self.path(item["golden"], where, True, "goldens/announce.txt")
        return NotificationExpect(
            id=item["id"],
            to=tuple(item["to"]) if "to" in item else None,
            subject=item.get("subject"),
            contains=tuple(item.get("contains", ())),
            not_contains=tuple(item.get("notContains", ())),
            golden=golden,
        )


def _at(data: Any, pointer: str) -> Any:
    for token in pointer.split("/")[1:]:
        token = token.replace("~1", "/").replace("~0", "~")
        data = data[int(token)] if isinstance(data, list) else data[token]
    return data
