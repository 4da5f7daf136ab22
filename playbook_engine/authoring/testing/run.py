"""Run test cases: evaluate each incident at its clock and check the plan against `expect`.

Every expectation that does not hold is one `Mismatch`, placed at the line of the expectation
that failed, with the expected and actual values and, where it helps, why (a step skipped
because its condition does not hold, a playbook not selected). Cases are evaluated with the
explain trace on so that those reasons are available. Golden files hold a notification's exact
rendered body (trailing newlines aside); with `update=True` a differing or missing golden file is
rewritten instead of failing.
"""

from __future__ import annotations

import difflib
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from playbook_engine.authoring.testing.expect import EntryExpect, NotificationExpect
from playbook_engine.authoring.testing.suites import Case, Suite
from playbook_engine.compile.compiler import CompiledLibrary
from playbook_engine.diagnostics import Span
from playbook_engine.engine.evaluation import evaluate
from playbook_engine.files import write_atomically
from playbook_engine.load.discovery import display_path
from playbook_engine.plan import EscalationEntry, Plan, RenderedNotification
from playbook_engine.timeparse import format_duration, format_timestamp


@dataclass(frozen=True, slots=True)
class Mismatch:
    """One expectation the plan does not meet: where it is written, which, and how it differs."""

    span: Span
    what: str  # the expectation as written: priority, steps.include, notifications[x].to, ...
    message: str
    expected: Any = None  # JSON-ready
    actual: Any = None
    detail: str = ""  # further lines: a diff, or the plan's actual list


@dataclass(frozen=True, slots=True)
class CaseResult:
    """The outcome of one case."""

    suite: Suite
    case: Case
    mismatches: tuple[Mismatch, ...]
    updated: tuple[str, ...]  # golden files rewritten by --update

    @property
    def passed(self) -> bool:
        return not self.mismatches


def run_suites(suites: Sequence[Suite], update: bool = False) -> list[CaseResult]:
    """Run every case of `suites` in order; `update` rewrites golden files that differ."""
    return [run_case(suite, case, update) for suite in suites for case in suite.cases]


def run_case(suite: Suite, case: Case, update: bool = False) -> CaseResult:
    """Evaluate one case and check all its expectations."""
    plan = evaluate(suite.library, case.incident, case.at, explain=True)
    checker = _Checker(case, plan, suite.library, update)
    checker.check()
    found = sorted(checker.found, key=lambda m: (m.span.line, m.span.col))  # in reading order
    return CaseResult(suite, case, tuple(found), tuple(checker.updated))


def _ids(items: Sequence[str]) -> str:
    return "[" + ", ".join(items) + "]"


def _entry(entry: EntryExpect | EscalationEntry, status: bool = True) -> str:
    targets = (
        entry.targets if isinstance(entry, EntryExpect) else tuple(t.id for t in entry.targets)
    )
    text = f"{format_duration(entry.after)} -> {', '.join(targets)}"
    return f"{text} ({entry.status})" if status and entry.status else text


def _entry_yaml(entry: EscalationEntry) -> str:
    targets = ", ".join(t.id for t in entry.targets)
    return (
        f"- {{after: {format_duration(entry.after)}, targets: [{targets}], status: {entry.status}}}"
    )


def _matches(expected: EntryExpect, actual: EscalationEntry) -> bool:
    return (
        expected.after == actual.after
        and expected.targets == tuple(t.id for t in actual.targets)
        and expected.status in (None, actual.status)
    )


def _moment(actual: datetime | None, like: datetime) -> str:
    """`actual` written in the offset of `like`, so that the two read alike."""
    return "no target" if actual is None else format_timestamp(actual.astimezone(like.tzinfo))


class _Checker:
    def __init__(self, case: Case, plan: Plan, library: CompiledLibrary, update: bool) -> None:
        self.case = case
        self.plan = plan
        self.update = update
        self.found: list[Mismatch] = []
        self.updated: list[str] = []
        # Which playbooks a step or notification id belongs to, to say why it is missing.
        self.owners: dict[str, list[str]] = {}
        for cp in library.playbooks:
            ids = [s.id for s in cp.playbook.steps] + [n.id for n in cp.playbook.notifications]
            for ident in ids:
                self.owners.setdefault(ident, []).append(cp.playbook.id)

    def miss(
        self,
        at: str,
        what: str,
        message: str,
        expected: Any = None,
        actual: Any = None,
        detail: str = "",
    ) -> None:
        span = self.case.span(f"expect/{at}")
        self.found.append(Mismatch(span, what, message, expected, actual, detail))

    def why(self, kind: str, ident: str) -> str:
        """Why a step or notification is not in the plan, from the explain trace."""
        trace = self.plan.trace
        reasons = (
            [i.reason for i in trace.items if (i.kind, i.id) == (kind, ident)] if trace else []
        )
        if reasons:
            return reasons[-1]
        owners = self.owners.get(ident, [])
        if len(owners) == 1:
            return f"its playbook {owners[0]} is not selected"
        return f"none of its playbooks {', '.join(owners)} is selected"

    def check(self) -> None:
        self.playbooks()
        self.classification()
        self.steps()
        self.escalation()
        self.deadlines()
        self.notifications()
        if self.case.expect.no_errors:
            for problem in self.plan.errors:
                message = f"template error at {problem.where}: {problem.message}"
                self.miss("noErrors", "noErrors", message, [], problem.message)

    def playbooks(self) -> None:
        expect = self.case.expect
        selected = [ident for ident, _ in self.plan.playbooks]
        reasons = {p.id: p.reason for p in self.plan.trace.playbooks} if self.plan.trace else {}
        if expect.playbooks is not None and list(expect.playbooks) != selected:
            message = f"expected {_ids(expect.playbooks)}, got {_ids(selected)}"
            self.miss("playbooks", "playbooks", message, list(expect.playbooks), selected)
        for index, ident in enumerate(expect.playbooks_include):
            if ident not in selected:
                message = f"'{ident}' is not selected ({reasons.get(ident, 'not evaluated')})"
                self.miss(f"playbooksInclude/{index}", "playbooksInclude", message, ident, selected)
        for index, ident in enumerate(expect.playbooks_exclude):
            if ident in selected:
                message = f"'{ident}' is selected ({reasons.get(ident, '')})"
                self.miss(f"playbooksExclude/{index}", "playbooksExclude", message, ident, selected)

    def classification(self) -> None:
        expect, c = self.case.expect, self.plan.classification
        decisions = {"impact": c.impact, "urgency": c.urgency, "priority": c.priority}
        for key, wanted in (
            ("priority", expect.priority),
            ("impact", expect.impact),
            ("urgency", expect.urgency),
        ):
            got = decisions[key]
            if wanted is not None and wanted != got.value:
                message = f"expected {wanted}, got {got.value} (decided by {got.decided_by})"
                self.miss(key, key, message, wanted, got.value)
        for key, wanted in expect.decided_by:
            got_text = decisions[key].decided_by
            if wanted != got_text:
                message = f"expected '{wanted}', got '{got_text}'"
                self.miss(f"decidedBy/{key}", f"decidedBy.{key}", message, wanted, got_text)

    def steps(self) -> None:
        expect = self.case.expect
        steps = {s.id: s for s in self.plan.steps}
        order = list(steps)
        for key, ids in (("include", expect.steps_include), ("order", expect.steps_order)):
            for index, ident in enumerate(ids):
                if ident not in steps:
                    message = f"step '{ident}' is not in the plan ({self.why('step', ident)})"
                    self.miss(f"steps/{key}/{index}", f"steps.{key}", message, ident, order)
        for index, ident in enumerate(expect.steps_exclude):
            if ident in steps:
                message = f"step '{ident}' is in the plan (from playbook {steps[ident].playbook})"
                self.miss(f"steps/exclude/{index}", "steps.exclude", message, ident, order)
        present = [ident for ident in expect.steps_order if ident in steps]
        actual = sorted(present, key=order.index)
        if present == list(expect.steps_order) and actual != present:
            message = f"expected the order {_ids(present)}, got {_ids(actual)}"
            self.miss("steps/order", "steps.order", message, present, actual)
        for ident, wanted in expect.steps_due:
            at, what = f"steps/due/{ident}", f"steps.due.{ident}"
            step = steps.get(ident)
            if step is None:
                message = f"step '{ident}' is not in the plan ({self.why('step', ident)})"
                self.miss(at, what, message, format_timestamp(wanted), None)
            elif step.due is None:
                self.miss(at, what, f"step '{ident}' has no due time", format_timestamp(wanted))
            elif step.due != wanted:
                got = _moment(step.due, wanted)
                message = f"expected {format_timestamp(wanted)}, got {got}"
                self.miss(at, what, message, format_timestamp(wanted), got)

    def escalation(self) -> None:
        expect, plan = self.case.expect, self.plan.escalation
        entries = plan.entries
        listing = "the plan's entries:\n" + (
            "\n".join(_entry_yaml(e) for e in entries) if entries else "(none)"
        )
        actual = [_entry(e) for e in entries]
        if expect.escalation is not None:
            wanted = expect.escalation
            index = next(
                (
                    i
                    for i, (x, a) in enumerate(zip(wanted, entries, strict=False))
                    if not _matches(x, a)
                ),
                min(len(wanted), len(entries)),
            )
            expected = [_entry(x) for x in wanted]
            if index < len(wanted) and index < len(entries):
                message = f"entry {index + 1}: expected {expected[index]}, got {actual[index]}"
                self.miss(f"escalation/{index}", "escalation", message, expected, actual, listing)
            elif len(wanted) != len(entries):
                extra = (
                    f"entry {index + 1} ({expected[index]}) is missing"
                    if index < len(wanted)
                    else f"unexpected entry {index + 1} ({actual[index]})"
                )
                message = f"expected {len(wanted)} entries, got {len(entries)}: {extra}"
                self.miss("escalation", "escalation", message, expected, actual, listing)
        for index, wanted_entry in enumerate(expect.escalation_include):
            if not any(_matches(wanted_entry, a) for a in entries):
                message = f"no entry {_entry(wanted_entry)}"
                at = f"escalationInclude/{index}"
                self.miss(at, "escalationInclude", message, _entry(wanted_entry), actual, listing)
        source = plan.source or "none"
        if expect.escalation_source is not None and expect.escalation_source != source:
            message = f"expected {expect.escalation_source}, got {source}"
            self.miss(
                "escalationSource", "escalationSource", message, expect.escalation_source, source
            )

    def deadlines(self) -> None:
        d = self.plan.deadlines
        actual = {"slaStart": d.sla_start, "respondBy": d.respond_by, "resolveBy": d.resolve_by}
        for key, wanted in self.case.expect.deadlines:
            if actual[key] != wanted:
                got = _moment(actual[key], wanted)
                message = f"expected {format_timestamp(wanted)}, got {got}"
                self.miss(
                    f"deadlines/{key}", f"deadlines.{key}", message, format_timestamp(wanted), got
                )
        clock = self.case.expect.clock
        if clock is not None and clock != d.clock:
            self.miss(
                "deadlines/clock",
                "deadlines.clock",
                f"expected {clock}, got {d.clock}",
                clock,
                d.clock,
            )

    def notifications(self) -> None:
        expect = self.case.expect
        sent = {n.id: n for n in self.plan.notifications}
        for index, wanted in enumerate(expect.notifications):
            at = f"notifications/{index}"
            got = sent.get(wanted.id)
            if got is None:
                message = f"not sent ({self.why('notification', wanted.id)})"
                self.miss(f"{at}/id", f"notifications[{wanted.id}]", message, wanted.id, list(sent))
                continue
            self.notification(wanted, got, at)
        for index, ident in enumerate(expect.notifications_exclude):
            if ident in sent:
                message = f"'{ident}' is sent (from playbook {sent[ident].playbook})"
                self.miss(
                    f"notificationsExclude/{index}",
                    "notificationsExclude",
                    message,
                    ident,
                    list(sent),
                )

    def notification(self, wanted: NotificationExpect, got: RenderedNotification, at: str) -> None:
        what = f"notifications[{wanted.id}]"
        if wanted.to is not None and wanted.to != got.to:
            message = f"expected {_ids(wanted.to)}, got {_ids(got.to)}"
            self.miss(f"{at}/to", f"{what}.to", message, list(wanted.to), list(got.to))
        if wanted.subject is not None and wanted.subject != got.subject:
            message = f"expected {wanted.subject!r}, got {got.subject!r}"
            self.miss(f"{at}/subject", f"{what}.subject", message, wanted.subject, got.subject)
        text = f"{got.subject}\n{got.body}" if got.subject is not None else got.body
        shown = "subject and body:\n" + text
        for index, part in enumerate(wanted.contains):
            if part not in text:
                message = f"does not contain {part!r}"
                self.miss(f"{at}/contains/{index}", f"{what}.contains", message, part, text, shown)
        for index, part in enumerate(wanted.not_contains):
            if part in text:
                message = f"contains {part!r}"
                self.miss(
                    f"{at}/notContains/{index}", f"{what}.notContains", message, part, text, shown
                )
        if wanted.golden is not None:
            self.golden(wanted.golden, got.body, f"{at}/golden", f"{what}.golden")

    def golden(self, path: Path, body: str, at: str, what: str) -> None:
        shown = display_path(path)
        try:
            current = path.read_bytes().decode("utf-8")
        except FileNotFoundError:
            current = None
        except (OSError, UnicodeDecodeError) as exc:
            reason = exc.strerror if isinstance(exc, OSError) else "not UTF-8"
            if not self.update:
                self.miss(at, what, f"cannot read golden file {shown}: {reason}", None, body)
                return
            current = None
        # Trailing newlines do not count, so that a golden file can end like any text file
        # (editors and end-of-file fixers add one; a rendered body has none).
        if current is not None and current.rstrip("\n") == body.rstrip("\n"):
            return
        if self.update:
            try:
                path.parent.mkdir(parents=True, exist_ok=True)
                write_atomically(path, body.rstrip("\n") + "\n")
            except OSError as exc:
                message = f"cannot write golden file {shown}: {exc.strerror or exc}"
                self.miss(at, what, message, current, body)
                return
            self.updated.append(shown)
            return
        if current is None:
            message = f"golden file {shown} does not exist (playbook test --update writes it)"
            self.miss(at, what, message, None, body)
            return
        diff = "\n".join(
            difflib.unified_diff(
                current.splitlines(), body.splitlines(), shown, "rendered body", lineterm=""
            )
        )
        detail = diff or "the texts differ only in their line endings (CR LF or LF)"
        message = f"the rendered body differs from {shown} (playbook test --update rewrites it)"
        self.miss(at, what, message, current, body, detail)
