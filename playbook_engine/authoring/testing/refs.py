"""Expectations must name what the library has: a typo in an id is an error, not a failure.

A test expecting step `db-page-dba` when the step is `db-page-oncall` would otherwise fail
forever for the wrong reason, or worse, pass: `steps.exclude: [db-page-dba]` holds for any plan.
Every id in `expect` is checked against the compiled library before any case runs (TS111), and
each `decidedBy` text must have one of the forms the engine writes (TS114).
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Mapping
from typing import Any

from playbook_engine.compile.compiler import CompiledLibrary
from playbook_engine.diagnostics import Diagnostic, Span, error
from playbook_engine.load.documents import SourceDoc, escape_pointer_token

# expect key -> the kind of id its list holds
_ID_LISTS = {
    "playbooks": "playbook",
    "playbooksInclude": "playbook",
    "playbooksExclude": "playbook",
    "notificationsExclude": "notification",
}
_ID_VALUES = {"priority": "priority", "impact": "impact", "urgency": "urgency"}
_STEP_LISTS = ("include", "exclude", "order")

_RULE = re.compile(r"rule ([^/]+)/(.+)")
_OVERRIDE = re.compile(r"override by rule ([^/]+)/(.+)")
_BOUND = re.compile(r"(?:raised to at least|lowered to at most) \S+ by rule ([^/]+)/(.+)")
_PEAK = re.compile(r"kept at its peak \S+ \(policy keepPeak\)")
_DEFAULTS = re.compile(r"defaults of playbook (.+)")
_MATRIX = re.compile(r"matrix\[([^\]]+)\]\[([^\]]+)\]")
_LEVEL_FORMS = (
    "'rule <playbook or policy>/<rule>', 'defaults of playbook <id>' or 'policy defaults'"
)
_PRIORITY_FORMS = (
    "'matrix[<impact>][<urgency>]' or 'override by rule <playbook or policy>/<rule>', "
    "optionally followed by bounds (', raised to at least <P> by rule ...')"
)


# What a library document defines: an expectation naming one of these may name what a
# document that did not load would have defined.
_DOCUMENT_KINDS = frozenset(
    {"playbook", "step", "notification", "rule", "escalation source", "on-call target"}
)


class References:
    """The ids of one compiled library that expectations may name.

    With `unsure` (the library documents that did not load), an unknown id of a kind those
    documents define is not reported but counted in `unchecked`: it may be theirs. When each
    of them was checked in part (`removed`: by path, the ids of the parts left out, see
    `load.salvage`), only an id of those parts is; any other unknown step, notification, rule
    or playbook is reported."""

    def __init__(
        self,
        compiled: CompiledLibrary,
        unsure: tuple[str, ...] = (),
        removed: Mapping[str, frozenset[str]] | None = None,
    ) -> None:
        self.unsure = unsure
        self.unchecked = 0
        parts = removed or {}
        self.partial = bool(unsure) and all(path in parts for path in unsure)
        self.removed = frozenset[str]().union(*parts.values())
        policy, playbooks = compiled.policy, compiled.library.playbooks
        tiers = [t for p in playbooks if p.escalation for t in p.escalation.tiers]
        tiers += list(policy.escalation.tiers) if policy.escalation else []
        sources = {p.id for p in playbooks if p.escalation} | {"none"}
        sources |= {"policy"} if policy.escalation else set()
        self.known: dict[str, frozenset[str]] = {
            "playbook": frozenset(p.id for p in playbooks),
            "step": frozenset(s.id for p in playbooks for s in p.steps),
            "notification": frozenset(n.id for p in playbooks for n in p.notifications),
            "priority": frozenset(p.id for p in policy.priorities),
            "impact": frozenset(level.id for level in policy.impacts),
            "urgency": frozenset(level.id for level in policy.urgencies),
            "on-call target": frozenset(o.id for o in policy.oncall)
            | frozenset(target for t in tiers for target in t.targets),
            "escalation source": frozenset(sources),
            "rule": frozenset(f"{p.id}/{r.id}" for p in playbooks for r in p.rules)
            | frozenset(f"policy/{r.id}" for r in policy.rules),
        }
        self.defaults = {
            dimension: frozenset(
                p.id for p in playbooks if p.defaults and getattr(p.defaults, dimension)
            )
            for dimension in ("impact", "urgency")
        }

    def check(self, expect: dict[str, Any], doc: SourceDoc, pointer: str) -> list[Diagnostic]:
        """Diagnostics for ids in the schema-valid `expect` mapping at `pointer` in `doc`."""
        found: list[Diagnostic] = []

        def ref(kind: str, ident: str, at: str) -> None:
            found.extend(self.one(kind, ident, doc.span(f"{pointer}/{at}")))

        for key, kind in _ID_LISTS.items():
            for index, ident in enumerate(expect.get(key, ())):
                ref(kind, ident, f"{key}/{index}")
        for key, kind in _ID_VALUES.items():
            if key in expect:
                ref(kind, expect[key], key)
        steps = expect.get("steps", {})
        for key in _STEP_LISTS:
            for index, ident in enumerate(steps.get(key, ())):
                ref("step", ident, f"steps/{key}/{index}")
        for ident in steps.get("due", {}):
            found.extend(self.one("step", ident, doc.key_span(f"{pointer}/steps/due/{ident}")))
        for key in ("escalation", "escalationInclude"):
            for index, entry in enumerate(expect.get(key, ())):
                for number, target in enumerate(entry["targets"]):
                    ref("on-call target", target, f"{key}/{index}/targets/{number}")
        if "escalationSource" in expect:
            found += self.source(
                expect["escalationSource"], doc.span(f"{pointer}/escalationSource")
            )
        for index, item in enumerate(expect.get("notifications", ())):
            ref("notification", item["id"], f"notifications/{index}/id")
        for dimension, text in expect.get("decidedBy", {}).items():
            where = doc.span(f"{pointer}/decidedBy/{escape_pointer_token(dimension)}")
            found += self.decided_by(dimension, text, where)
        return found

    def one(self, kind: str, ident: str, span: Span) -> list[Diagnostic]:
        """TS111 if the library has no `kind` named `ident`."""
        known = self.known[kind]
        if ident in known:
            return []
        if self.unsure and kind in _DOCUMENT_KINDS and self.may_be_left_out(kind, ident):
            self.unchecked += 1
            return []
        close = difflib.get_close_matches(ident, sorted(known), n=1, cutoff=0.6)
        if close:
            hint = f"did you mean '{close[0]}'?"
        else:
            listed = sorted(known)
            hint = "known: " + ", ".join(listed[:12]) + (", ..." if len(listed) > 12 else "")
        return [error("TS111", f"unknown {kind} '{ident}'", span, hint)]

    def may_be_left_out(self, kind: str, ident: str) -> bool:
        """Whether an unknown `ident` may be defined in what did not load. (Escalation targets
        and sources name no part of their own: any left-out escalation may hold them.)"""
        if not self.partial or kind in ("escalation source", "on-call target"):
            return True
        return (ident.split("/", 1)[-1] if kind == "rule" else ident) in self.removed

    def source(self, ident: str, span: Span) -> list[Diagnostic]:
        if ident in self.known["playbook"] and ident not in self.known["escalation source"]:
            return [
                error(
                    "TS111",
                    f"playbook '{ident}' has no escalation path of its own",
                    span,
                    hint="the source is the first selected playbook that has one, else policy",
                )
            ]
        if ident == "policy" and ident not in self.known["escalation source"]:
            return [error("TS111", "the policy has no escalation path", span)]
        return self.one("escalation source", ident, span)

    def decided_by(self, dimension: str, text: str, span: Span) -> list[Diagnostic]:
        """TS114 for a text of no known form, TS111 for an id the library does not have."""
        if dimension == "priority" and ", " in text:
            # A bounded decision: `<matrix or override>, raised to at least P2 by rule
            # policy/x`, `..., lowered to at most P3 by rule ...`, `..., kept at its peak P1
            # (policy keepPeak)`: the base, then each bound.
            base, *bounds = text.split(", ")
            found_problems = self.decided_by(dimension, base, span)
            for bound in bounds:
                if match := _BOUND.fullmatch(bound):
                    found_problems += self.one("rule", f"{match[1]}/{match[2]}", span)
                elif not _PEAK.fullmatch(bound):
                    found_problems.append(_form(dimension, text, _PRIORITY_FORMS, span, ""))
            return found_problems
        if dimension == "priority":
            if found := _OVERRIDE.fullmatch(text):
                return self.one("rule", f"{found[1]}/{found[2]}", span)
            if found := _MATRIX.fullmatch(text):
                return self.one("impact", found[1], span) + self.one("urgency", found[2], span)
            hint = ""
            if found := _RULE.fullmatch(text):
                hint = f"a rule decides a priority by override: 'override by rule {text[5:]}'"
            return [_form(dimension, text, _PRIORITY_FORMS, span, hint)]
        if found := _RULE.fullmatch(text):
            return self.one("rule", f"{found[1]}/{found[2]}", span)
        if found := _DEFAULTS.fullmatch(text):
            playbook = found[1]
            if playbook in self.known["playbook"] and playbook not in self.defaults[dimension]:
                return [
                    error(
                        "TS111",
                        f"playbook '{playbook}' has no default {dimension}",
                        span,
                    )
                ]
            return self.one("playbook", playbook, span)
        if text == "policy defaults":
            return []
        return [_form(dimension, text, _LEVEL_FORMS, span, "")]


def _form(dimension: str, text: str, forms: str, span: Span, hint: str) -> Diagnostic:
    return error(
        "TS114",
        f"decidedBy.{dimension} {text!r} is not a form the plan uses: {forms}",
        span,
        hint=hint or "see classification.*.decidedBy in `playbook run --format json`",
    )
