"""`playbook new NAME`: a starting playbook and a test suite whose one case passes.

The playbook uses ids the library's policy defines (the owning team, its on-call rota and chat
channel, a role), so it validates as written. Before anything is written the scaffold is loaded
with the library and its test case is run; the expectations written are the ones the plan
meets. Existing files are never overwritten: each file is created only if it does not exist.
"""

from __future__ import annotations

import json
import os
import re
import tempfile
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

from playbook_engine.authoring.testing.collect import discover_suites
from playbook_engine.authoring.testing.run import run_case
from playbook_engine.authoring.testing.suites import SuiteLoader
from playbook_engine.compile.compiler import CompiledLibrary
from playbook_engine.diagnostics import Diagnostic, InputError, Span, error
from playbook_engine.engine.evaluation import evaluate
from playbook_engine.files import user_file_mode
from playbook_engine.load import documents
from playbook_engine.load.discovery import discover, display_path
from playbook_engine.model import Policy
from playbook_engine.pipeline import load_library
from playbook_engine.timeparse import format_timestamp, parse_timestamp

ID = re.compile(r"[a-z0-9][a-z0-9-]{0,62}")
# Plain YAML scalars that stay strings: start with a letter, no YAML 1.1 booleans or null.
_PLAIN = re.compile(r"[A-Za-z][A-Za-z0-9 -]*")
_KEYWORDS = frozenset({"true", "false", "null", "yes", "no", "on", "off", "y", "n", "~"})
STARTED_AT = "2026-01-05T10:00:00Z"  # a Monday morning: inside any usual business hours
AT = parse_timestamp(STARTED_AT) + timedelta(minutes=30)
_PREFIX_LENGTH = 40  # keeps `<prefix>-mitigate` within the 63 characters of an id


@dataclass(frozen=True, slots=True)
class Choices:
    """The policy ids the scaffold uses; None where the policy defines none."""

    team: str | None
    role: str | None
    oncall: str | None
    channel: str | None


def check_name(name: str) -> list[Diagnostic]:
    """Problems with NAME as a playbook id (and file name)."""
    if ID.fullmatch(name):
        return []
    kebab = re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-")[:63].rstrip("-")
    suggestion = f"did you mean '{kebab}'? " if ID.fullmatch(kebab) else ""
    return [
        error(
            "NW101",
            f"invalid playbook name {name!r}",
            Span("NAME"),
            hint=suggestion + "use a lower-case kebab-case id: letters, digits and '-', such "
            "as 'cache-outage' (at most 63 characters, starting with a letter or digit)",
        )
    ]


def choose(policy: Policy, owner: str | None) -> Choices:
    """The team (`owner`, else the policy's first), a role, its on-call rota and channel."""
    teams = {t.id: t for t in policy.teams}
    if owner is not None and owner not in teams:
        known = ", ".join(sorted(teams)) or "none"
        raise InputError(
            [
                error(
                    "NW103",
                    f"unknown team {owner!r}",
                    Span("--owner"),
                    hint=f"teams of the policy: {known}",
                )
            ]
        )
    team = teams[owner] if owner else (policy.teams[0] if policy.teams else None)
    channels = {c.id: c for c in policy.channels}
    chat = [c.id for c in policy.channels if c.kind == "chat"]
    channel = team.channel if team and team.channel in channels else None
    channel = channel or (chat[0] if chat else None)
    oncall = [o.id for o in policy.oncall if team is not None and o.team == team.id]
    return Choices(
        team=team.id if team else None,
        role=policy.roles[0].id if policy.roles else None,
        oncall=oncall[0] if oncall else None,
        channel=channel or (policy.channels[0].id if policy.channels else None),
    )


def _scalar(value: str) -> str:
    """`value` as a YAML string: plain when it reads back as itself, else double-quoted."""
    if _PLAIN.fullmatch(value) and value.lower() not in _KEYWORDS and not value.endswith(" "):
        return value
    return json.dumps(value)


def schema_modeline(path: Path, kind: str) -> list[str]:
    """The yaml-language-server line pointing the file `path` at the nearest
    `schemas/KIND.schema.json` in its folder or above (`playbook schema --output schemas`
    writes them), as a relative path; none when there is no such file to point at."""
    here = path.parent.resolve()
    for folder in (here, *here.parents):
        candidate = folder / "schemas" / f"{kind}.schema.json"
        if candidate.is_file():
            relative = Path(os.path.relpath(candidate, here)).as_posix()
            return [f"# yaml-language-server: $schema={relative}", "#"]
    return []


def playbook_text(name: str, choices: Choices, modeline: list[str] | None = None) -> str:
    """The playbook document, with every interpolated value written to read back as text."""
    q = _scalar
    prefix = name[:_PREFIX_LENGTH].rstrip("-")
    title = name.replace("-", " ").capitalize()
    out = [
        *(modeline or []),
        f"# Scaffolded by `playbook new {name}`. Say when it applies, what to do, who is paged",
        "# and who is told; keep tests/" + name + ".yaml in step (`playbook test`).",
        "apiVersion: playbook-engine/v1",
        "kind: Playbook",
        "metadata:",
        f"  id: {q(name)}",
        f"  title: {q(title)}",
    ]
    if choices.team:
        out.append(f"  owner: {q(choices.team)}")
    out += [
        "  description: >-",
        "    Which incidents this playbook is for, and what it knows that others do not.",
        "spec:",
        "  # Selected when this condition holds; see the README, Conditions.",
        "  appliesWhen:",
        "    any:",
        f"      - {{field: incident.service, equals: {q(name)}}}",
        f"      - {{field: incident.labels.playbook, equals: {q(name)}}}",
        "  order: 100  # merge order: lower first, then id",
        "  # classification:",
        "  #   rules:",
        "  #     - {id: ..., when: {field: ..., equals: ...}, set: {impact: ..., urgency: ...}}",
        "  steps:",
        f"    - id: {q(prefix + '-assess')}",
        '      title: "Assess the impact of {{ incident.title }}"',
        "      details: |",
        "        What to check first: dashboards, logs, recent deploys and changes.",
    ]
    owner = [f"      owner: {q(choices.role)}"] if choices.role else []
    out += [*owner, "      due: 15m"]
    out += [f"    - id: {q(prefix + '-mitigate')}", "      title: Mitigate, then confirm recovery"]
    out += [*owner, "      due: 1h", f"      dependsOn: [{q(prefix + '-assess')}]"]
    if choices.oncall:
        out += [
            "  escalation:",
            "    tiers:",
            f"      - {{after: 0m, targets: [{q(choices.oncall)}]}}",
        ]
    if choices.channel:
        out += [
            "  notifications:",
            f"    - id: {q(prefix + '-announce')}",
            f"      channel: {q(choices.channel)}",
            '      subject: "[{{ priority.id }}] {{ incident.title }}"',
            "      body: |",
            "        {{ priority.id }} {{ priority.name }}: {{ incident.title }}",
            "        Playbook: {{ playbook.title }}. Respond by {{ deadlines.respondBy }}.",
        ]
    return "\n".join(out) + "\n"


def example_incident(name: str) -> dict[str, str]:
    """The incident of the suite's one case: a service named like the playbook."""
    return {
        "id": "INC-EXAMPLE-1",
        "title": f"Example incident for {name}",
        "startedAt": STARTED_AT,
        "service": name,
        "environment": "production",
    }


def suite_text(
    name: str, priority: str, steps: list[str], modeline: list[str] | None = None
) -> str:
    """The test suite: one case selecting the playbook, with the plan's priority and steps."""
    q = _scalar
    out = [
        *(modeline or [])[:1],
        "apiVersion: playbook-engine/v1",
        "kind: TestSuite",
        "metadata:",
        f"  id: {q(name)}",
        f"  title: {q('Playbook ' + name)}",
        "spec:",
        f"  at: {q(format_timestamp(AT))}",
        "  cases:",
        f"    - name: {q('selected for service ' + name)}",
        "      incident:",
        *(f"        {key}: {q(value)}" for key, value in example_incident(name).items()),
        "      expect:",
        f"        playbooksInclude: [{q(name)}]",
        f"        priority: {q(priority)}",
    ]
    if steps:
        out += ["        steps:", f"          include: [{', '.join(q(s) for s in steps)}]"]
    return "\n".join(out) + "\n"


def scaffold(root: Path, name: str, owner: str | None) -> dict[Path, str]:
    """The files to create for playbook NAME: path → text, checked against the library.

    Raises `InputError` for a bad name, an unknown team, a library with errors, an id or file
    that exists already, or (a bug) a scaffold that does not validate or whose test fails.
    """
    problems = check_name(name)
    if problems:
        raise InputError(problems)
    result = load_library(root)
    if not result.ok or result.compiled is None:
        raise InputError([d for d in result.diagnostics if d.is_error])
    library = result.compiled.library
    if any(p.id == name for p in library.playbooks):
        where = next(p.path for p in library.playbooks if p.id == name)
        raise InputError(
            [error("NW102", f"a playbook with id {name!r} exists already", Span(where))]
        )
    files = {root / f"{name}.yaml": "", root / "tests" / f"{name}.yaml": ""}
    taken = [path for path in files if path.exists() or path.is_symlink()]
    if taken:
        raise InputError(
            [
                error("NW102", "file exists already; refusing to overwrite it", Span(str(p)))
                for p in taken
            ]
        )
    for path in discover_suites(root / "tests"):
        doc, _ = documents.load_file(path, display_path(path))
        if doc is None or not isinstance(doc.data, dict):
            continue  # not a suite `playbook test` can load; it reports that itself
        metadata = doc.data.get("metadata")
        if isinstance(metadata, dict) and metadata.get("id") == name:
            raise InputError(
                [error("NW102", f"a test suite with id {name!r} exists already", Span(doc.path))]
            )
    choices = choose(library.policy, owner)
    playbook = playbook_text(name, choices, schema_modeline(root / f"{name}.yaml", "playbook"))
    with tempfile.TemporaryDirectory(prefix="playbook-new-") as scratch:
        draft = Path(scratch) / f"{name}.yaml"
        draft.write_text(playbook, encoding="utf-8")
        checked = load_library(root, [*discover(root), draft])
        if not checked.ok or checked.compiled is None:
            raise InputError(_broken("the scaffold does not validate", checked.diagnostics))
        modeline = schema_modeline(root / "tests" / f"{name}.yaml", "testsuite")
        suite = _suite(checked.compiled, name, Path(scratch), modeline)
    paths = list(files)
    return {paths[0]: playbook, paths[1]: suite}


def _suite(compiled: CompiledLibrary, name: str, scratch: Path, modeline: list[str]) -> str:
    """The suite text, with the expectations the plan meets, after running its case."""
    plan = evaluate(compiled, example_incident(name), AT)
    own = [s.id for s in plan.steps if s.playbook == name]
    text = suite_text(name, plan.priority.id, own, modeline)
    draft = scratch / "tests" / f"{name}.yaml"
    draft.parent.mkdir()
    draft.write_text(text, encoding="utf-8")
    loaded, problems = SuiteLoader(compiled).load(draft)
    if loaded is None:
        raise InputError(_broken("the scaffolded test suite does not load", problems))
    outcome = run_case(loaded, loaded.cases[0])
    if not outcome.passed:
        reasons = "; ".join(m.message for m in outcome.mismatches)
        raise InputError(_broken(f"the scaffolded test fails: {reasons}", []))
    return text


def _broken(what: str, diagnostics: list[Diagnostic]) -> list[Diagnostic]:
    headline = error(
        "NW105",
        what + " (a bug in playbook new: please report it)",
        Span("playbook new"),
    )
    return [headline, *(d for d in diagnostics if d.is_error)]


def create(files: dict[Path, str]) -> list[str]:
    """Create each file, never replacing one: written in full to a temporary file, then
    hard-linked into place, which fails if the name exists. All or nothing: on a failure the
    files created so far are removed. Returns the paths as shown to the user."""
    created: list[Path] = []
    try:
        for path, text in files.items():
            path.parent.mkdir(parents=True, exist_ok=True)
            fd, temp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
            try:
                os.fchmod(fd, user_file_mode())  # mkstemp makes it private; this is source
                with os.fdopen(fd, "w", encoding="utf-8", newline="") as handle:
                    handle.write(text)
                os.link(temp, path)
            finally:
                Path(temp).unlink(missing_ok=True)
            created.append(path)
    except OSError as exc:
        for path in created:
            path.unlink(missing_ok=True)
        where = Span(str(exc.filename or ""))
        if isinstance(exc, FileExistsError):
            problem = error("NW102", "file exists already; refusing to overwrite it", where)
        else:
            problem = error("IN105", f"cannot write: {exc.strerror or exc}", where)
        raise InputError([problem]) from None
    return [display_path(p) for p in created]
