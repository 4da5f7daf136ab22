"""`playbook docs`: a library as Markdown reference pages for a team's wiki.

`index.md` holds the policy (priorities and SLA targets, the impact × urgency matrix, rules,
default escalation, calendars, roles, teams, on-call rotas, channels) and links to one page per
playbook under `playbooks/<id>.md`. Pages are a pure function of the library: no dates, no
absolute paths, the same bytes on every run. Templates are shown as their source, never
rendered. Author text is escaped so it renders as typed, and a table cell can neither end early
(`|`) nor span lines.
"""

from __future__ import annotations

import re
from pathlib import Path, PurePosixPath
from urllib.parse import quote

from playbook_engine.authoring.describe import (
    TimelineEntry,
    can_produce,
    condition_text,
    duration_text,
    escalation_summary,
    library_path,
    own_priorities,
    timeline,
    value_text,
)
from playbook_engine.diagnostics import Diagnostic, Span, error
from playbook_engine.files import write_atomically
from playbook_engine.model import (
    AllOf,
    AnyOf,
    Condition,
    Escalation,
    Expr,
    Leaf,
    Library,
    Link,
    Notification,
    Playbook,
    Policy,
    Rule,
    Step,
    Template,
)
from playbook_engine.render.common import lines
from playbook_engine.render.markdown import code, md

INDEX = "index.md"
_WS = re.compile(r"\s+")
_BLOCK_START = re.compile(r"[#>+=|:-]")  # what opens a block (or a table row) at a line start
_ORDERED_START = re.compile(r"^(\d+)([.)])")
_BACKTICKS = re.compile("`+")
_WEB_URL = re.compile(r"(?i)https?://")
_URL_SAFE = "!#$%&'()*+,/:;=?@[]~"
_WORDS = {
    "equals": "is",
    "greaterThan": "is greater than",
    "greaterOrEqual": "is at least",
    "lessThan": "is less than",
    "lessOrEqual": "is at most",
    "contains": "contains",
}


def playbook_page(playbook_id: str) -> str:
    """The path of a playbook's page, relative to the output directory."""
    return f"playbooks/{playbook_id}.md"


def build_pages(library: Library) -> dict[str, str]:
    """Every page of the reference: relative POSIX path → Markdown text ending in a newline."""
    playbooks = sorted(library.playbooks, key=lambda p: (p.order, p.id))
    pages = {INDEX: _index(library, playbooks)}
    for playbook in playbooks:
        pages[playbook_page(playbook.id)] = _playbook(library, playbook)
    return pages


def write_pages(pages: dict[str, str], output: Path) -> list[Diagnostic]:
    """Write each page below `output` atomically; refuse any path that would leave it.

    Returns diagnostics for the pages not written (nothing is raised for one bad page).
    """
    problems: list[Diagnostic] = []
    try:
        output.mkdir(parents=True, exist_ok=True)
        root = output.resolve(strict=True)
    except OSError as exc:
        reason = exc.strerror or type(exc).__name__
        return [error("IN105", f"cannot create the output directory: {reason}", Span(str(output)))]
    for relative, text in sorted(pages.items()):
        try:
            target = _inside(root, relative)
            if target is None:
                problems.append(
                    error("DC101", "refusing to write outside the output directory", Span(relative))
                )
                continue
            write_atomically(target, text)
        except OSError as exc:
            reason = exc.strerror or type(exc).__name__
            problems.append(error("IN105", f"cannot write page: {reason}", Span(relative)))
    return problems


def _inside(root: Path, relative: str) -> Path | None:
    """`root / relative` if it stays inside `root` (after following symlinks), else None.

    Folders are created one at a time and each is checked before the next, so a symlink to
    elsewhere gets nothing created behind it.
    """
    path = PurePosixPath(relative)
    if path.is_absolute() or ".." in path.parts or not path.parts:
        return None
    current = root
    for part in path.parts[:-1]:
        (current / part).mkdir(exist_ok=True)
        current = (current / part).resolve(strict=True)
        if root not in current.parents:
            return None
    return current / path.name


# --- Markdown helpers -------------------------------------------------------------------


def cell(text: str) -> str:
    """Author text as one table cell: whitespace runs (newlines too) become one space."""
    return md(_WS.sub(" ", text).strip()) or "—"


def paragraph(text: str) -> str:
    """Author prose as one Markdown paragraph: lines joined, escaped, and unable to open a
    heading, list, quote or table at its start."""
    text = md(_WS.sub(" ", text).strip())
    if _BLOCK_START.match(text):
        return "\\" + text
    return _ORDERED_START.sub(r"\1\\\2", text, count=1)


def code_cell(text: str) -> str:
    """Text as an inline code span inside a table cell (GFM splits cells on `|` even there)."""
    return code(_WS.sub(" ", text).strip()).replace("|", "\\|")


def _table(header: list[str], rows: list[list[str]]) -> list[str]:
    out = ["| " + " | ".join(header) + " |", "|" + " --- |" * len(header)]
    return out + ["| " + " | ".join(row) + " |" for row in rows]


def _fence(source: str, info: str = "jinja") -> list[str]:
    longest = max((len(run) for run in _BACKTICKS.findall(source)), default=0)
    fence = "`" * max(3, longest + 1)
    return [f"{fence}{info}", *lines(source.rstrip("\n")), fence]


def _link(link: Link) -> str:
    if not _WEB_URL.match(link.url):
        return f"{md(link.title)}: {code(link.url)}"
    return f"[{md(link.title)}](<{quote(link.url, safe=_URL_SAFE)}>)"


def _ids(values: tuple[str, ...] | list[str]) -> str:
    return ", ".join(code(v) for v in values) or "—"


# --- conditions in words ----------------------------------------------------------------


def condition_words(condition: Condition, depth: int = 0) -> list[str]:
    """A condition as a nested Markdown list in words, leaf names in bold."""
    indent = "  " * depth
    if isinstance(condition, AllOf | AnyOf):
        label = "all of these hold:" if isinstance(condition, AllOf) else "any of these holds:"
        if not condition.conditions:
            label = "always" if isinstance(condition, AllOf) else "never"
            return [f"{indent}- {label}"]
        out = [f"{indent}- {label}"]
        for child in condition.conditions:
            out += condition_words(child, depth + 1)
        return out
    if isinstance(condition, Expr):
        name = f"**{md(condition.name)}**: " if condition.name else ""
        return [f"{indent}- {name}the expression {code(condition.source.strip())} is true"]
    if isinstance(condition, Leaf):
        name = f"**{md(condition.name)}**: " if condition.name else ""
        return [f"{indent}- {name}{_leaf_words(condition)}"]
    return [f"{indent}- this does not hold:", *condition_words(condition.condition, depth + 1)]


def _leaf_words(leaf: Leaf) -> str:
    field, op, value = code(leaf.field), leaf.operator, leaf.value
    if op in _WORDS:
        text = f"{field} {_WORDS[op]} {code(value_text(value))}"
    elif op == "oneOf":
        text = f"{field} is one of {_ids([value_text(v) for v in value])}"
    elif op == "matches":
        text = f"{field} matches the regular expression {code(str(value))}"
    elif op == "between":
        text = f"{field} is between {code(value_text(value[0]))} and {code(value_text(value[1]))}"
    elif op == "exists":
        text = f"{field} is present" if value is True else f"{field} is absent"
    else:  # withinCalendar
        text = f"{field} falls in the working hours of calendar {code(str(value))}"
    return text + ", ignoring case" if leaf.ignore_case else text


# --- index ------------------------------------------------------------------------------


def _index(library: Library, playbooks: list[Playbook]) -> str:
    policy = library.policy
    blocks = [f"# {md(policy.title)}"]
    if policy.description:
        blocks.append(paragraph(policy.description))
    blocks.append(
        "Reference of this incident-response library, generated by `playbook docs`. "
        "Edit the YAML, not these pages."
    )
    blocks.append("\n".join(_playbooks_table(library, playbooks)))
    blocks.append("\n".join(_priorities(policy)))
    blocks.append("\n".join(_matrix(policy)))
    blocks.append("\n".join(_policy_rules(policy)))
    blocks.append("\n".join(_escalation(library, policy.escalation, "## Default escalation")))
    blocks.append("\n".join(_directory(policy)))
    return "\n\n".join(blocks) + "\n"


def _playbooks_table(library: Library, playbooks: list[Playbook]) -> list[str]:
    out = [
        "## Playbooks",
        "",
        "In merge order (`order`, then id): every playbook whose condition holds is selected; "
        "a fallback only when no other one is.",
        "",
    ]
    rows = []
    for p in playbooks:
        applies = code_cell(condition_text(p.applies_when)) if p.applies_when else "—"
        if p.fallback:
            applies = f"fallback: {applies}" if p.applies_when else "fallback"
        rows.append(
            [
                f"[{cell(p.title)}]({playbook_page(p.id)})",
                code(p.owner) if p.owner else "—",
                str(p.order),
                applies,
                ", ".join(can_produce(library.policy, p)),
                str(len(p.steps)),
                str(len(p.notifications)),
            ]
        )
    header = ["Playbook", "Owner", "Order", "Applies when", "Can produce", "Steps", "Notifications"]
    return out + _table(header, rows)


def _priorities(policy: Policy) -> list[str]:
    out = ["## Priorities and SLA targets", ""]
    out.append(
        "Most severe first. On a calendar clock the targets count working time only; "
        "deadlines count from `detectedAt`, else `startedAt`."
    )
    out.append("")
    rows = [
        [
            f"**{p.id}**",
            cell(p.name),
            duration_text(p.respond_within),
            duration_text(p.resolve_within),
            code(p.calendar) if p.calendar else "24x7",
            cell(p.description),
        ]
        for p in policy.priorities
    ]
    header = ["Priority", "Name", "Respond within", "Resolve within", "Clock", "Definition"]
    return out + _table(header, rows)


def _matrix(policy: Policy) -> list[str]:
    out = ["## Priority matrix", "", "Rows are impact, columns urgency.", ""]
    header = ["Impact ↓ urgency →", *(code(u.id) for u in policy.urgencies)]
    rows = [
        [f"**{i.id}**", *(policy.matrix.get(i.id, {}).get(u.id, "—") for u in policy.urgencies)]
        for i in policy.impacts
    ]
    out += _table(header, rows)
    for title, levels in (("Impact", policy.impacts), ("Urgency", policy.urgencies)):
        out += ["", f"### {title} levels", ""]
        out += _table([title, "Description"], [[code(v.id), cell(v.description)] for v in levels])
    return out


def _rules_table(rules: tuple[Rule, ...]) -> list[str]:
    rows = [
        [
            code(r.id),
            code_cell(condition_text(r.when)),
            code(r.impact) if r.impact else "—",
            code(r.urgency) if r.urgency else "—",
            _priority_effect(r),
        ]
        for r in rules
    ]
    header = ["Rule", "When", "Sets impact", "Sets urgency", "Priority"]
    return _table(header, rows)


def _priority_effect(rule: Rule) -> str:
    """`**P1**` for an override, `at least **P2**` / `at most **P3**` for a bound."""
    parts = [f"**{rule.priority}**"] if rule.priority else []
    parts += [f"at least **{rule.at_least}**"] if rule.at_least else []
    parts += [f"at most **{rule.at_most}**"] if rule.at_most else []
    return ", ".join(parts) or "—"


def _policy_rules(policy: Policy) -> list[str]:
    out = ["## Classification", ""]
    out.append(
        "The selected playbooks' rules come first (merge order), then the policy's. Per "
        "dimension the first matching rule decides; the most severe matching override wins "
        "over the matrix."
    )
    out.append("")
    if policy.rules:
        out += _rules_table(policy.rules)
        out.append("")
    else:
        out += ["The policy has no rules of its own.", ""]
    d = policy.defaults
    out.append(
        f"Defaults when no rule or playbook decides: impact {code(str(d.impact))}, "
        f"urgency {code(str(d.urgency))}."
    )
    return out


def _directory(policy: Policy) -> list[str]:
    out = ["## Calendars", ""]
    if policy.calendars:
        weekday = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
        rows = [
            [
                code(c.id),
                code(c.timezone),
                ", ".join(weekday[d] for d in sorted(c.weekdays)),
                f"{c.start:%H:%M}–{c.end:%H:%M}",
                ", ".join(
                    [
                        *(
                            f"public holidays of {country}" + (f"-{sub}" if sub else "")
                            for country, sub in c.public_holidays
                        ),
                        *(d.isoformat() for d in sorted(c.holidays)),
                    ]
                )
                or "—",
            ]
            for c in policy.calendars
        ]
        out += _table(["Calendar", "Time zone", "Days", "Hours", "Holidays"], rows)
    else:
        out.append("None: every clock runs round the clock.")
    out += ["", "## Roles", ""]
    out += _table(["Role", "Name"], [[code(r.id), cell(r.name)] for r in policy.roles])
    out += ["", "## Teams", ""]
    out += _table(
        ["Team", "Name", "Channel"],
        [[code(t.id), cell(t.name), _ids([t.channel] if t.channel else [])] for t in policy.teams],
    )
    out += ["", "## On-call rotas", ""]
    rows = [
        [code(o.id), cell(o.name), code(o.team), _ids([o.channel] if o.channel else [])]
        for o in policy.oncall
    ]
    out += _table(["On-call", "Name", "Team", "Channel"], rows)
    out += ["", "## Channels", ""]
    rows = [[code(c.id), c.kind, code_cell(c.address), str(c.max_length)] for c in policy.channels]
    return out + _table(["Channel", "Kind", "Address", "Max length"], rows)


# --- playbook pages ---------------------------------------------------------------------


def _playbook(library: Library, p: Playbook) -> str:
    policy = library.policy
    teams = {t.id: t.name for t in policy.teams}
    facts = [f"Id {code(p.id)}"]
    if p.owner:
        facts.append(f"owned by {md(teams.get(p.owner, p.owner))} ({code(p.owner)})")
    facts.append(f"merge order {p.order}")
    if p.fallback:
        facts.append("fallback")
    facts.append(f"source {code(library_path(library, p.path))}")
    blocks = [f"# {md(p.title)}", "[← All playbooks](../index.md)", " · ".join(facts)]
    if p.description:
        blocks.append(paragraph(p.description))
    if p.tags:
        blocks.append("Tags: " + _ids(list(p.tags)))
    if p.links:
        blocks.append("\n".join(f"- {_link(link)}" for link in p.links))
    blocks.append("\n".join(_trigger(p)))
    blocks.append("\n".join(_classification(library, p)))
    blocks.append("\n".join(_steps(policy, p.steps)))
    blocks.append("\n".join(_escalation(library, p.escalation, "## Escalation")))
    blocks.append("\n".join(_notifications(policy, p.notifications)))
    return "\n\n".join(blocks) + "\n"


def _trigger(p: Playbook) -> list[str]:
    out = ["## When it applies", ""]
    if p.applies_when is None:
        if p.fallback:
            return [*out, "Selected whenever no other playbook applies (fallback)."]
        return [*out, "Never selected: it has no `appliesWhen` and is not a fallback."]
    if p.fallback:
        out.append("A fallback: considered only when no other playbook applies, and then when")
    else:
        out.append("Selected when")
    return out + ["", *condition_words(p.applies_when)]


def _classification(library: Library, p: Playbook) -> list[str]:
    out = ["## Classification", ""]
    if p.rules:
        out.append("Rules, in order, before the policy's rules:")
        out += ["", *_rules_table(p.rules)]
    else:
        out.append("No rules of its own: the policy's rules decide.")
    if p.defaults is not None:
        chosen = [
            f"{name} {code(value)}"
            for name, value in (("impact", p.defaults.impact), ("urgency", p.defaults.urgency))
            if value
        ]
        out += ["", f"Defaults, before the policy's: {', '.join(chosen)}."]
    produced = ", ".join(can_produce(library.policy, p))
    own = ", ".join(own_priorities(library.policy, p)) or "none (no rules or defaults)"
    out += ["", f"Can produce {produced} when selected alone; its own rules and defaults: {own}."]
    return out


def _steps(policy: Policy, steps: tuple[Step, ...]) -> list[str]:
    out = ["## Steps", ""]
    if not steps:
        return [*out, "No steps."]
    roles = {r.id: r.name for r in policy.roles}
    out.append("Due times count from the SLA start on the priority's clock.")
    out.append("")
    rows = []
    for number, s in enumerate(steps, start=1):
        owner = f"{cell(roles.get(s.owner, s.owner))} ({code(s.owner)})" if s.owner else "—"
        rows.append(
            [
                str(number),
                code(s.id),
                cell(s.title.source),
                owner,
                f"+{duration_text(s.due)}" if s.due is not None else "—",
                _ids(list(s.depends_on)),
                code_cell(condition_text(s.when)) if s.when else "always",
            ]
        )
    out += _table(["#", "Step", "Title", "Owner", "Due", "Depends on", "Only when"], rows)
    for s in steps:
        if s.details is None and not s.links:
            continue
        out += ["", f"### {code(s.id)}"]
        if s.details is not None:
            out += ["", *_fence(s.details.source)]
        if s.links:
            out += ["", *(f"- {_link(x)}" for x in s.links)]
    return out


def _escalation(library: Library, escalation: Escalation | None, heading: str) -> list[str]:
    out = [heading, ""]
    if escalation is None:
        if heading == "## Default escalation":
            return [*out, "None: only playbooks with their own escalation page anyone."]
        return [
            *out,
            "None of its own: the first selected playbook with one decides, else the policy's.",
        ]
    summary = escalation_summary(escalation)
    out.append(md(summary[0].upper() + summary[1:]) + ".")
    out += ["", "Times are after the SLA start, assuming every tier applies.", ""]
    names = {o.id: o.name for o in library.policy.oncall}
    rows = [_timeline_row(e, names) for e in timeline(escalation)]
    return out + _table(["After", "Tier", "Pass", "Targets", "Only when"], rows)


def _timeline_row(entry: TimelineEntry, names: dict[str, str]) -> list[str]:
    targets = ", ".join(f"{cell(names.get(t, t))} ({code(t)})" for t in entry.targets)
    return [
        f"+{duration_text(entry.after)}",
        str(entry.tier),
        "first" if entry.cycle == 0 else f"repeat {entry.cycle}",
        targets or "—",
        code_cell(condition_text(entry.when)) if entry.when else "always",
    ]


def _notifications(policy: Policy, notifications: tuple[Notification, ...]) -> list[str]:
    out = ["## Notifications", ""]
    if not notifications:
        return [*out, "No notifications."]
    out.append("Templates are shown as written; `playbook run` renders them for an incident.")
    channels = {c.id: c for c in policy.channels}
    for n in notifications:
        channel = channels.get(n.channel)
        where = f"{channel.kind}, {code_cell(channel.address)}" if channel else "unknown channel"
        rows = [
            ["Channel", f"{code(n.channel)} ({where})"],
            ["To", _templates(n.to) or "the channel's address"],
            ["Only when", code_cell(condition_text(n.when)) if n.when else "always"],
        ]
        if n.subject is not None:
            rows.append(["Subject", code_cell(n.subject.source)])
        out += ["", f"### {code(n.id)}", "", *_table(["", ""], rows), "", "Body:", ""]
        out += _fence(n.body.source)
    return out


def _templates(templates: tuple[Template, ...]) -> str:
    return ", ".join(code_cell(t.source) for t in templates)
