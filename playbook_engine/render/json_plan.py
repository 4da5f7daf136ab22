"""A plan as JSON data for automation, valid against `schemas/plan.schema.json`.

Keys are camelCase and in a fixed order; every key is always present (null or empty when there
is nothing), so consumers need no existence checks. Times are RFC 3339 in the offset of the
plan's clock (`at`); durations are written like the format's (`15m`, `1h30m`).
"""

from __future__ import annotations

from datetime import timedelta, tzinfo
from typing import Any

from playbook_engine.jsonio import dumps
from playbook_engine.plan import (
    ConditionTrace,
    EscalationEntry,
    ItemTrace,
    Plan,
    PlanStep,
    PlaybookTrace,
    RenderedNotification,
    RuleTrace,
    Trace,
)
from playbook_engine.render.common import json_value, timestamp
from playbook_engine.timeparse import format_duration, format_timestamp

API_VERSION = "playbook-engine/v1"

_GROUPS = ("all", "any", "not")


def plan_to_dict(plan: Plan, explain: bool = False) -> dict[str, Any]:
    """The plan as JSON-ready data; with `explain`, its trace under `"explain"` when recorded."""
    zone = plan.at.tzinfo
    c = plan.classification
    d = plan.deadlines
    data: dict[str, Any] = {
        "apiVersion": API_VERSION,
        "kind": "Plan",
        "incident": {"id": plan.incident_id, "title": plan.incident_title},
        "at": format_timestamp(plan.at),
        "errors": [{"where": e.where, "message": e.message} for e in plan.errors],
        "playbooks": [{"id": ident, "title": title} for ident, title in plan.playbooks],
        "priority": {
            "id": plan.priority.id,
            "name": plan.priority.name,
            "description": plan.priority.description,
            "incident": plan.priority.incident,
        },
        "classification": {
            "impact": {"value": c.impact.value, "decidedBy": c.impact.decided_by},
            "urgency": {"value": c.urgency.value, "decidedBy": c.urgency.decided_by},
            "priority": {"value": c.priority.value, "decidedBy": c.priority.decided_by},
            "matrixPriority": c.matrix_priority,
        },
        "deadlines": {
            "slaStart": timestamp(d.sla_start, zone),
            # null: the priority has no such target
            "respondWithin": _duration(d.respond_within),
            "resolveWithin": _duration(d.resolve_within),
            "respondBy": None if d.respond_by is None else timestamp(d.respond_by, zone),
            "resolveBy": None if d.resolve_by is None else timestamp(d.resolve_by, zone),
            "clock": d.clock,
            "respondOverdue": d.respond_overdue,
            "resolveOverdue": d.resolve_overdue,
        },
        "lifecycle": _lifecycle(plan, zone),
        "steps": [_step(s, zone) for s in plan.steps],
        "escalation": {
            "source": plan.escalation.source,
            "stopWhenAcknowledged": plan.escalation.stop_when_acknowledged,
            "entries": [_entry(e, zone) for e in plan.escalation.entries],
        },
        "notifications": [_notification(n) for n in plan.notifications],
    }
    if explain and plan.trace is not None:
        data["explain"] = _trace(plan.trace)
    return data


def _lifecycle(plan: Plan, zone: tzinfo | None) -> dict[str, Any]:
    life = plan.lifecycle
    if life is None:
        return {
            "status": "triggered",
            "stage": "open",
            "acknowledgedAt": None,
            "resolvedAt": None,
            "assumed": [],
            "respond": "overdue" if plan.deadlines.respond_overdue else "open",
            "resolve": "overdue" if plan.deadlines.resolve_overdue else "open",
        }
    return {
        "status": life.status,
        "stage": life.stage,
        "acknowledgedAt": None
        if life.acknowledged_at is None
        else timestamp(life.acknowledged_at, zone),
        "resolvedAt": None if life.resolved_at is None else timestamp(life.resolved_at, zone),
        "assumed": list(life.assumed),
        "respond": life.respond,
        "resolve": life.resolve,
    }


def render_json(plan: Plan, explain: bool = False) -> str:
    """The plan as indented JSON text."""
    return dumps(plan_to_dict(plan, explain))


def _step(step: PlanStep, zone: tzinfo | None) -> dict[str, Any]:
    return {
        "id": step.id,
        "playbook": step.playbook,
        "title": step.title,
        "details": step.details,
        "owner": step.owner,
        "ownerName": step.owner_name,
        "due": timestamp(step.due, zone) if step.due is not None else None,
        "dueAfter": format_duration(step.due_after) if step.due_after is not None else None,
        "overdue": step.overdue,
        "doneBy": step.done_by,
        "doneAt": timestamp(step.done_at, zone) if step.done_at is not None else None,
        "dependsOn": list(step.depends_on),
        "links": [{"title": link.title, "url": link.url} for link in step.links],
    }


def _entry(entry: EscalationEntry, zone: tzinfo | None) -> dict[str, Any]:
    return {
        "at": timestamp(entry.at, zone),
        "after": format_duration(entry.after),
        "tier": entry.tier,
        "cycle": entry.cycle,
        "status": entry.status,
        "targets": [{"id": t.id, "name": t.name, "team": t.team} for t in entry.targets],
    }


def _notification(n: RenderedNotification) -> dict[str, Any]:
    return {
        "id": n.id,
        "playbook": n.playbook,
        "channel": n.channel,
        "kind": n.kind,
        "to": list(n.to),
        "subject": n.subject,
        "body": n.body,
        "truncated": n.truncated,
    }


def _trace(trace: Trace) -> dict[str, Any]:
    return {
        "playbooks": [_playbook_trace(p) for p in trace.playbooks],
        "rules": [_rule_trace(r) for r in trace.rules],
        "matrixCell": trace.matrix_cell,
        "items": [_item_trace(i) for i in trace.items],
    }


def _playbook_trace(p: PlaybookTrace) -> dict[str, Any]:
    return {
        "id": p.id,
        "selected": p.selected,
        "reason": p.reason,
        "condition": _condition(p.condition) if p.condition is not None else None,
    }


def _rule_trace(r: RuleTrace) -> dict[str, Any]:
    return {
        "origin": r.origin,
        "id": r.id,
        "matched": r.matched,
        "effect": r.effect,
        "decided": list(r.decided),
        "condition": _condition(r.condition),
    }


def _item_trace(i: ItemTrace) -> dict[str, Any]:
    return {
        "kind": i.kind,
        "id": i.id,
        "playbook": i.playbook,
        "kept": i.kept,
        "reason": i.reason,
        "condition": _condition(i.condition) if i.condition is not None else None,
    }


def _condition(node: ConditionTrace) -> dict[str, Any]:
    data: dict[str, Any] = {"kind": node.kind, "result": node.result, "name": node.name}
    if node.kind in _GROUPS:
        data["children"] = [_condition(child) for child in node.children]
        return data
    if node.kind == "expr":
        data["expression"] = node.expected if isinstance(node.expected, str) else ""
    else:
        data["field"] = node.field
        data["operator"] = node.operator
        data["expected"] = json_value(node.expected)
        data["actual"] = json_value(node.actual)
    data["note"] = node.note
    data["location"] = node.location
    return data


def _duration(value: timedelta | None) -> str | None:
    return None if value is None else format_duration(value)
