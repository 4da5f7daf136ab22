"""`playbook list`: the library at a glance, as text for a terminal or JSON for scripts.

The policy (priorities with their SLA targets and clocks, defaults, rules, default escalation)
and every playbook in merge order with its selector, rules, counts, escalation and the
priorities it can produce. Built from the model only; no incident is evaluated.
"""

from __future__ import annotations

from typing import Any

from playbook_engine.authoring.describe import (
    can_produce,
    condition_text,
    duration_text,
    escalation_summary,
    library_path,
    own_priorities,
    policy_overrides,
)
from playbook_engine.engine.evaluation import rule_effect
from playbook_engine.jsonio import dumps
from playbook_engine.model import Library, Playbook, Rule
from playbook_engine.textsafe import one_line

FORMATS = ("text", "json")


def overview(library: Library) -> dict[str, Any]:
    """The library at a glance as JSON-ready data (playbooks in merge order)."""
    policy = library.policy
    return {
        "library": library.root,
        "policy": {
            "id": policy.id,
            "title": policy.title,
            "path": library_path(library, policy.path),
            "priorities": [
                {
                    "id": p.id,
                    "name": p.name,
                    "respondWithin": duration_text(p.respond_within),
                    "resolveWithin": duration_text(p.resolve_within),
                    "clock": p.calendar or "24x7",
                }
                for p in policy.priorities
            ],
            "defaults": {"impact": policy.defaults.impact, "urgency": policy.defaults.urgency},
            "rules": [_rule(r) for r in policy.rules],
            "canOverrideTo": list(policy_overrides(policy)),
            "escalation": escalation_summary(policy.escalation) if policy.escalation else None,
        },
        "playbooks": [_playbook(library, p) for p in merge_order(library)],
    }


def merge_order(library: Library) -> list[Playbook]:
    """The playbooks in merge order: `order` ascending, then id."""
    return sorted(library.playbooks, key=lambda p: (p.order, p.id))


def _rule(rule: Rule) -> dict[str, Any]:
    return {"id": rule.id, "when": condition_text(rule.when), "effect": rule_effect(rule)}


def _playbook(library: Library, playbook: Playbook) -> dict[str, Any]:
    defaults = playbook.defaults
    return {
        "id": playbook.id,
        "title": playbook.title,
        "owner": playbook.owner,
        "fallback": playbook.fallback,
        "order": playbook.order,
        "path": library_path(library, playbook.path),
        "appliesWhen": (
            condition_text(playbook.applies_when) if playbook.applies_when is not None else None
        ),
        "rules": [_rule(r) for r in playbook.rules],
        "defaults": (
            {"impact": defaults.impact, "urgency": defaults.urgency} if defaults else None
        ),
        "steps": len(playbook.steps),
        "notifications": len(playbook.notifications),
        "escalation": escalation_summary(playbook.escalation) if playbook.escalation else None,
        "canProduce": list(can_produce(library.policy, playbook)),
        "ownRulesProduce": list(own_priorities(library.policy, playbook)),
    }


def render_overview(library: Library, fmt: str) -> str:
    """The overview in `fmt` (text or json), ending in one newline."""
    data = overview(library)
    if fmt == "json":
        return dumps(data)
    if fmt == "text":
        return "\n".join(_text(data)) + "\n"
    raise ValueError(f"unknown list format {fmt!r}; known: {', '.join(FORMATS)}")


def _text(data: dict[str, Any]) -> list[str]:
    policy = data["policy"]
    out = [
        f"Library {one_line(data['library'])}",
        f"Policy {policy['id']}: {one_line(policy['title'])} ({one_line(policy['path'])})",
        "",
        "Priorities (most severe first):",
    ]
    rows = [
        [p["id"], one_line(p["name"]), p["respondWithin"], p["resolveWithin"], p["clock"]]
        for p in policy["priorities"]
    ]
    out += _table(["", "name", "respond", "resolve", "clock"], rows)
    defaults = policy["defaults"]
    out += [
        "",
        f"Defaults: impact {defaults['impact']}, urgency {defaults['urgency']}",
        f"Policy rules (after the playbooks' rules): {_count(len(policy['rules']), 'rule')}",
    ]
    out += [f"  {_rule_line(r)}" for r in policy["rules"]]
    forced = ", ".join(policy["canOverrideTo"]) or "none"
    out.append(f"Policy overrides can force: {forced}")
    out.append(f"Default escalation: {one_line(policy['escalation'] or 'none')}")
    out += ["", f"Playbooks in merge order: {len(data['playbooks'])}"]
    for p in data["playbooks"]:
        out += ["", *_playbook_lines(p)]
    return out


def _playbook_lines(p: dict[str, Any]) -> list[str]:
    fallback = " [fallback]" if p["fallback"] else ""
    owner = f"owner {p['owner']}" if p["owner"] else "no owner"
    applies = p["appliesWhen"]
    if applies is None:
        applies = "always (fallback)" if p["fallback"] else "never (no appliesWhen)"
    out = [
        f"{p['id']}{fallback}: {one_line(p['title'])}",
        f"  {owner} · order {p['order']} · {_count(p['steps'], 'step')} · "
        f"{_count(p['notifications'], 'notification')} · {one_line(p['path'])}",
        f"  applies when: {one_line(applies)}",
    ]
    if p["rules"]:
        out.append(f"  rules ({len(p['rules'])}):")
        out += [f"    {_rule_line(r)}" for r in p["rules"]]
    else:
        out.append("  rules: none")
    if p["defaults"]:
        chosen = [f"{k} {v}" for k, v in p["defaults"].items() if v]
        out.append(f"  defaults: {', '.join(chosen)}")
    escalation = p["escalation"] or "none of its own"
    out.append(f"  escalation: {one_line(escalation)}")
    own = ", ".join(p["ownRulesProduce"]) or "none: no rules or defaults of its own"
    out.append(
        f"  can produce: {', '.join(p['canProduce'])} (selected alone); its own rules: {own}"
    )
    return out


def _rule_line(rule: dict[str, Any]) -> str:
    return f"{rule['id']}: {rule['effect']} when {one_line(rule['when'])}"


def _count(number: int, noun: str) -> str:
    return f"{number} {noun}{'s' * (number != 1)}"


def _table(header: list[str], rows: list[list[str]]) -> list[str]:
    widths = [max(len(cell) for cell in column) for column in zip(header, *rows, strict=True)]

    def line(cells: list[str]) -> str:
        return "  " + "  ".join(c.ljust(w) for c, w in zip(cells, widths, strict=True)).rstrip()

    return [line(header), *(line(row) for row in rows)]
