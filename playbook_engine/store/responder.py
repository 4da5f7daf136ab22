"""What responders do to an incident, on the store and the pure engine.

Each action runs in one store transaction: read the incident's log under the write lock,
refuse what makes no sense (ST11x: nothing is written), append the responder's event, then
evaluate the library on the incident as the log now makes it, at the action's moment, and
append what that plan adds to the record — a new classification (`classified`), escalation
tiers whose time came before the acknowledgement (`escalated`), notifications the plan renders
for the first time (`notification`). The plan is never stored: `plan()` evaluates it again,
so `status` agrees with `playbook run` on the same incident and clock.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from playbook_engine.compile.compiler import CompiledLibrary
from playbook_engine.engine.evaluation import evaluate
from playbook_engine.engine.lifecycle import STAGE_OF_STATUS
from playbook_engine.load.incident import Incident, parse_incident
from playbook_engine.plan import Plan
from playbook_engine.store.errors import StoreError
from playbook_engine.store.events import ENGINE, Event, iso
from playbook_engine.store.state import LIFECYCLE_FIELDS, IncidentState
from playbook_engine.store.store import Store, Transaction


@dataclass(frozen=True, slots=True)
class Outcome:
    """What an action did: its name (`acknowledged`, `unchanged`...), the events it appended
    (the responder's and the engine's), and the incident after it."""

    incident: str
    action: str
    events: tuple[Event, ...]
    state: IncidentState

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready data."""
        return {
            "incident": self.incident,
            "action": self.action,
            "stage": self.state.stage,
            "events": [event.as_dict() for event in self.events],
        }


class Responder:
    """The responder actions on one store with one compiled library. `version` gives the
    library's version; it is asked only when an incident opens or is reclassified."""

    def __init__(self, store: Store, library: CompiledLibrary, version: Callable[[], str]) -> None:
        self.store = store
        self.library = library
        self._version = version
        self._known: str | None = None

    def version(self) -> str:
        """The library's version (computed once)."""
        if self._known is None:
            self._known = self._version()
        return self._known

    def plan(self, state: IncidentState, at: datetime, explain: bool = False) -> Plan:
        """The plan at `at` for the incident as its log makes it."""
        return evaluate(self.library, state.incident(), at, explain)

    # --- actions ------------------------------------------------------------------------

    def open(self, incident: Incident, at: datetime, by: str, source: str = "") -> Outcome:
        """Open an incident, idempotently by its id: the same incident again changes nothing;
        with changed fields it is `updated`; a resolved one given as firing again is
        `reopened`; one given as resolved (an alert's resolve) is `resolved`."""
        given = _without_lifecycle(incident.data)
        with self.store.transaction(incident.id) as tx:
            before = tx.state
            changed = before is None or _comparable(given) != _comparable(before.data)
            if before is None:
                data = {"data": given, "library": self.version()}
                tx.append("opened", at, by, {**data, **({"source": source} if source else {})},
                          key="opened")  # fmt: skip
            elif changed:
                tx.append(
                    "updated", at, by, {"data": given, **({"source": source} if source else {})}
                )
            self._lifecycle_of(tx, incident, at, by, changed)
            state = tx.state
            assert state is not None
            if not tx.appended:
                return Outcome(incident.id, "unchanged", (), state)
            kinds = {event.kind for event in tx.appended}
            action = "opened" if before is None else "updated"
            for kind in ("acknowledged", "resolved", "reopened"):
                if before is not None and kind in kinds:
                    action = kind
            return self._follow(tx, at, action)

    def _lifecycle_of(
        self, tx: Transaction, incident: Incident, at: datetime, by: str, changed: bool
    ) -> None:
        """The status and times an incident file or alert gives, as events. A resolved
        incident reopens only when the alert comes with changed fields: a sender's retry of
        the alert that opened it does not undo a resolution."""
        state = tx.state
        assert state is not None
        stage = STAGE_OF_STATUS.get(str(incident.data.get("status") or ""), "open")
        if incident.resolved_at is not None and stage not in ("resolved", "closed"):
            stage = "resolved"
        elif incident.acknowledged_at is not None and stage == "open":
            stage = "acknowledged"
        ended = stage in ("resolved", "closed")
        if state.acknowledged_at is None and (
            incident.acknowledged_at is not None or stage == "acknowledged"
        ):
            tx.append("acknowledged", incident.acknowledged_at or at, by)
        if ended and state.stage != "resolved":
            note = "" if stage == "resolved" else str(incident.data.get("status"))
            tx.append("resolved", incident.resolved_at or at, by, {"note": note})
        elif not ended and state.stage == "resolved" and changed:
            tx.append("reopened", at, by, {"note": "the alert fired again"})

    def acknowledge(self, ident: str, at: datetime, by: str) -> Outcome:
        """Acknowledge an open incident."""
        with self.store.transaction(ident) as tx:
            state = self._existing(tx)
            if state.stage == "resolved":
                raise self._refused(
                    state,
                    "is resolved: it cannot be acknowledged; nothing was written",
                    f"reopen it first: playbook incident reopen {ident}",
                )
            if state.acknowledged_at is not None:
                raise self._refused(
                    state,
                    f"is already acknowledged (by {state.acknowledged_by} at "
                    f"{iso(state.acknowledged_at)}); nothing was written",
                )
            self._not_before_start(state, at)
            tx.append("acknowledged", at, by)
            return self._follow(tx, at, "acknowledged")

    def step(
        self, ident: str, step: str, state_name: str, note: str, at: datetime, by: str
    ) -> Outcome:
        """Mark a step of the incident's plan done or skipped (a skip needs a note)."""
        with self.store.transaction(ident) as tx:
            state = self._existing(tx)
            plan = self.plan(state, at)
            ids = [s.id for s in plan.steps]
            if step not in ids:
                known = ", ".join(ids) if ids else "none"
                raise StoreError(
                    "ST113",
                    f"no step {step!r} in the plan of {ident}; its steps: {known}",
                    ident,
                    f"see them with: playbook status {ident}",
                )
            mark = state.steps.get(step)
            if mark is not None and mark.state == state_name:
                raise self._refused(
                    state,
                    f"step {step!r} is already {state_name} (by {mark.by} at {iso(mark.at)}); "
                    "nothing was written",
                )
            tx.append("step", at, by, {"step": step, "state": state_name, "note": note})
            return self._follow(tx, at, f"step {state_name}")

    def note(self, ident: str, text: str, at: datetime, by: str, key: str | None = None) -> Outcome:
        """Add a note to the incident's timeline (idempotent by `key` when given)."""
        with self.store.transaction(ident) as tx:
            state = self._existing(tx)
            if tx.append("note", at, by, {"text": text}, key=key) is None:
                return Outcome(ident, "unchanged", (), state)
            return self._follow(tx, at, "noted")

    def reclassify(self, ident: str, assignments: Sequence[str], at: datetime, by: str) -> Outcome:
        """Change fields (`--set field=value`) and evaluate again; the peak priority stays
        on record whatever the new one is."""
        with self.store.transaction(ident) as tx:
            state = self._existing(tx)
            for assignment in assignments:
                name = assignment.partition("=")[0].strip()
                if name in (*LIFECYCLE_FIELDS, "id"):
                    raise StoreError(
                        "ST114",
                        f"--set {name} is not possible: the log owns an incident's "
                        f"{'id' if name == 'id' else 'status and times'}",
                        "--set " + name,
                        "use playbook incident ack / resolve / reopen instead",
                    )
            text = json.dumps({**state.data, "id": ident})
            changed = parse_incident(ident, text, assignments, json_only=True)
            given = _without_lifecycle(changed.data)
            if given == state.data:
                return Outcome(ident, "unchanged", (), state)
            data = {"set": list(assignments), "data": given, "library": self.version()}
            tx.append("reclassified", at, by, data)
            return self._follow(tx, at, "reclassified")

    def resolve(self, ident: str, note: str, at: datetime, by: str) -> Outcome:
        """Resolve an incident that is not resolved."""
        with self.store.transaction(ident) as tx:
            state = self._existing(tx)
            if state.stage == "resolved":
                assert state.resolved_at is not None
                raise self._refused(
                    state,
                    f"is already resolved (by {state.resolved_by} at {iso(state.resolved_at)}); "
                    "nothing was written",
                    f"to work on it again: playbook incident reopen {ident}",
                )
            self._not_before_start(state, at)
            tx.append("resolved", at, by, {"note": note})
            return self._follow(tx, at, "resolved")

    def reopen(self, ident: str, note: str, at: datetime, by: str) -> Outcome:
        """Reopen a resolved incident."""
        with self.store.transaction(ident) as tx:
            state = self._existing(tx)
            if state.stage != "resolved":
                raise self._refused(
                    state, f"is not resolved (it is {state.stage}); nothing was written"
                )
            tx.append("reopened", at, by, {"note": note})
            return self._follow(tx, at, "reopened")

    # --- helpers ------------------------------------------------------------------------

    def _existing(self, tx: Transaction) -> IncidentState:
        if tx.state is None:
            raise StoreError(
                "ST111",
                f"no incident {tx.incident!r} in the store {self.store.where}",
                tx.incident,
                "list the open incidents with: playbook status",
            )
        return tx.state

    @staticmethod
    def _refused(state: IncidentState, message: str, hint: str = "") -> StoreError:
        return StoreError("ST112", f"{state.id} {message}", state.id, hint)

    @staticmethod
    def _not_before_start(state: IncidentState, at: datetime) -> None:
        started = state.incident().get("startedAt")
        if started and at < _parse(str(started)):
            raise StoreError(
                "ST115",
                f"--at {iso(at)} is before {state.id} started ({started})",
                "--at",
                "an incident is acknowledged and resolved after it starts",
            )

    def _follow(self, tx: Transaction, at: datetime, action: str) -> Outcome:
        """Append what the plan at `at` adds to the record; the outcome."""
        state = tx.state
        assert state is not None
        plan = self.plan(state, at)
        record = classification(plan, self.library, state.library or self.version())
        last = state.classification
        if last is None or _decision(last) != _decision(record):
            tx.append("classified", at, ENGINE, record)
        escalated = set(state.escalated)
        for entry in plan.escalation.entries:
            if entry.status in ("due", "elapsed") and (entry.tier, entry.cycle) not in escalated:
                targets = [t.id for t in entry.targets]
                data = {"tier": entry.tier, "cycle": entry.cycle, "targets": targets}
                tx.append("escalated", entry.at, ENGINE, data)
        for step in plan.steps:  # done by the acknowledgement or resolution just recorded
            if step.done_at is not None and step.id not in state.steps:
                note = f"done by the {step.done_by}"
                data = {"step": step.id, "state": "done", "note": note}
                tx.append("step", step.done_at, ENGINE, data)
        for n in plan.notifications:
            if f"{n.id}/{n.channel}" not in state.notified:
                data = {"id": n.id, "channel": n.channel, "kind": n.kind, "to": list(n.to),
                        "subject": n.subject, "body": n.body}  # fmt: skip
                tx.append("notification", at, ENGINE, data)
        final = tx.state
        assert final is not None
        return Outcome(tx.incident, action, tuple(tx.appended), final)


def classification(plan: Plan, library: CompiledLibrary, version: str) -> dict[str, Any]:
    """What the engine decided for an incident, as a `classified` event records it."""
    ranks = {p.id: i for i, p in enumerate(library.policy.priorities)}
    c, d = plan.classification, plan.deadlines
    return {
        "priority": plan.priority.id,
        "rank": ranks.get(plan.priority.id, len(ranks)),
        "impact": c.impact.value,
        "urgency": c.urgency.value,
        "decidedBy": c.priority.decided_by,
        "playbooks": [ident for ident, _ in plan.playbooks],
        "slaStart": iso(d.sla_start),
        "respondBy": None if d.respond_by is None else iso(d.respond_by),
        "resolveBy": None if d.resolve_by is None else iso(d.resolve_by),
        "stopWhenAcknowledged": plan.escalation.stop_when_acknowledged,
        "escalation": [[iso(e.at), e.tier, e.cycle] for e in plan.escalation.entries],
        "steps": [s.id for s in plan.steps],
        "library": version,
    }


def _decision(record: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in record.items() if k not in ("library", "decidedBy")}


def _without_lifecycle(data: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in data.items() if k not in LIFECYCLE_FIELDS}


def _comparable(data: dict[str, Any]) -> dict[str, Any]:
    """Fields that make an update: an alert's raw payload (`source`) changes on every
    delivery and is not one of them."""
    return {k: v for k, v in data.items() if k != "source"}


def _parse(text: str) -> datetime:
    from playbook_engine.timeparse import parse_timestamp

    return parse_timestamp(text)


def open_all(
    responder: Responder, incidents: Iterable[Incident], at: datetime, by: str, source: str
) -> list[Outcome]:
    """Open each incident (each in its own transaction)."""
    return [responder.open(incident, at, by, source) for incident in incidents]
