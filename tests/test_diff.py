"""`playbook diff`: a real git repository in tmp_path holding a small library, changed in the
working tree or between commits, compared by the real `playbook diff`."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
from conftest import PLAYBOOK

from playbook_engine.authoring.plan_compare import compare_plans
from playbook_engine.engine.evaluation import evaluate
from playbook_engine.pipeline import load_library
from playbook_engine.timeparse import parse_timestamp

REPO = Path(__file__).resolve().parent.parent
BASIC = REPO / "tests" / "data" / "libraries" / "basic"
GIT_ENV = {
    "GIT_AUTHOR_NAME": "Test",
    "GIT_AUTHOR_EMAIL": "test@example.com",
    "GIT_COMMITTER_NAME": "Test",
    "GIT_COMMITTER_EMAIL": "test@example.com",
    "GIT_CONFIG_NOSYSTEM": "1",
}

CRITICAL = """\
id: INC-1
title: Checkout down for everyone
startedAt: "2026-03-13T16:00:00Z"
severity: critical
customersAffected: 5000
service: payments-api
"""
MINOR = """\
id: INC-2
title: A typo on the invoice page
startedAt: "2026-03-13T11:00:00Z"
"""
SUITE = """\
apiVersion: playbook-engine/v1
kind: TestSuite
metadata: {id: staging}
spec:
  at: "2026-03-13T12:00:00Z"
  cases:
    - name: staging is low
      incident: {id: INC-3, title: Staging broken, startedAt: "2026-03-13T11:00:00Z",
                 environment: staging, severity: sev1}
      expect: {priority: P4}
    - name: same as an example
      incidentFile: ../incidents/critical.yaml
"""


def run(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, **GIT_ENV}
    env.pop("PLAYBOOK_LIBRARY", None)
    return subprocess.run(args, cwd=cwd, capture_output=True, text=True, timeout=60, env=env)


def playbook(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    """The checkout's `playbook` command, run for real."""
    return run(*PLAYBOOK, *args, cwd=cwd)


def git(repo: Path, *args: str) -> str:
    result = run("git", *args, cwd=repo)
    assert result.returncode == 0, result.stderr
    return result.stdout


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    """A git repository with the basic library under lib/, its incidents and a test suite."""
    lib = tmp_path / "lib"
    shutil.copytree(BASIC, lib)
    (lib / "incidents").mkdir()
    (lib / "incidents" / "critical.yaml").write_text(CRITICAL)
    (lib / "incidents" / "minor.yaml").write_text(MINOR)
    (lib / "tests").mkdir()
    (lib / "tests" / "staging.yaml").write_text(SUITE)
    git(tmp_path, "init", "-q", "-b", "main")
    git(tmp_path, "add", ".")
    git(tmp_path, "commit", "-q", "-m", "library")
    return tmp_path


def edit(path: Path, old: str, new: str) -> None:
    text = path.read_text()
    assert old in text
    path.write_text(text.replace(old, new))


def test_unchanged_library_says_so(repo: Path) -> None:
    status = git(repo, "status", "--porcelain")
    result = playbook("diff", "--library", "lib", "--exit-code", cwd=repo)
    assert result.returncode == 0, result.stderr
    assert result.stdout == (
        "## Behaviour diff of lib: HEAD → working tree\n\n"
        "**No behavioural change** for 3 incidents. Clock: each incident's startedAt + 30m.\n"
    )
    assert git(repo, "status", "--porcelain") == status  # nothing written into the repository


def test_changed_playbook_is_reported(repo: Path) -> None:
    major = repo / "lib" / "major.yaml"
    edit(major, "due: 5m", "due: 10m")
    edit(major, "title: Post to the status page", "title: Update the status page")
    edit(major, "      when: {field: priority, equals: P1}\n", "")  # execs: every priority
    edit(major, "{after: 10m, targets: [sre-secondary]}", "{after: 5m, targets: [sre-secondary]}")
    result = playbook("diff", "--library", "lib", cwd=repo)
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert out.startswith(
        "## Behaviour diff of lib: HEAD → working tree\n\n"
        "| Incident | Before | After | Changes |\n| --- | --- | --- | --- |\n"
        "| `incidents/critical.yaml` | P1 · major, payments | P1 · major, payments |"
        " 2 steps, 8 escalation changes |\n"
        "| `tests/staging.yaml#staging is low` | P4 · major | P4 · major |"
        " 1 step, 6 escalation changes, 1 notification |\n\n"
        "2 of 3 incidents changed, 1 unchanged."
    )
    assert "- Step: `declare` due: 2026-03-13T16:05:00Z (+5m) → 2026-03-13T16:10:00Z (+10m)" in out
    assert "- Step: `status-page` title: Post to the status page → Update the status page" in out
    assert "- Notification added: `execs`: email to execs@example.com: [P4] Staging broken" in out
    assert "- Escalation removed: `2026-03-13T16:10:00Z (+10m) tier 2 first: sre-secondary" in out
    assert "- Escalation added: `2026-03-13T16:05:00Z (+5m) tier 2 first: sre-secondary" in out
    assert "incidents/minor.yaml" not in out  # the triage playbook did not change
    strict = playbook("diff", "--library", "lib", "--exit-code", "--format", "text", cwd=repo)
    assert strict.returncode == 1
    assert "~ step declare due: 2026-03-13T16:05:00Z (+5m) -> 2026-03-13T16:10:00Z (+10m)" in (
        strict.stdout
    )


def test_priority_change_and_json(repo: Path) -> None:
    edit(repo / "lib" / "policy.yaml", "extensive: {critical: P1,", "extensive: {critical: P2,")
    broken = SUITE.replace("metadata: {id: staging}", "metadata: {id: broken}")
    (repo / "lib" / "tests" / "broken.yaml").write_text(
        broken.replace("expect: {priority: P4}", "expect: {priority: P9}")
    )
    git(repo, "add", ".")
    git(repo, "commit", "-q", "-m", "extensive x critical is P2; a suite expecting P9")
    result = playbook("diff", "HEAD~1", "HEAD", "--library", "lib", "--format", "json", cwd=repo)
    assert result.returncode == 0, result.stderr
    data: dict[str, Any] = json.loads(result.stdout)
    assert (data["before"], data["after"], data["changed"]) == ("HEAD~1", "HEAD", True)
    # A suite the library cannot load is named relative to the library, not the scratch copy.
    assert data["skipped"] == [
        {
            "source": "tests/broken.yaml",
            "reason": "test suite does not load: TS111 unknown priority 'P9' "
            "(tests/broken.yaml:10:26)",
        }
    ]
    changed = [i for i in data["incidents"] if i["changed"]]
    assert [i["source"] for i in changed] == ["incidents/critical.yaml"]
    incident = changed[0]
    assert (incident["before"]["priority"], incident["after"]["priority"]) == ("P1", "P2")
    assert incident["at"] == "2026-03-13T16:30:00Z"
    changes = {(c["area"], c["subject"], c["field"]): c for c in incident["changes"]}
    assert changes["classification", "priority", "value"]["after"] == "P2"
    assert changes["deadlines", "respond by", ""]["after"] == "2026-03-13T16:30:00Z (+30m)"
    body = changes["notifications", "announce", "body"]
    assert body["diff"] == [
        "@@ -1 +1 @@",
        "-P1 Checkout down for everyone",
        "+P2 Checkout down for everyone",
    ]
    # The P1-only tier and the P1-only notification are gone.
    assert ("notifications", "execs", "") in changes
    assert changes["notifications", "execs", ""]["kind"] == "removed"


def test_fixed_clock_and_extra_incidents(repo: Path, tmp_path: Path) -> None:
    extra = tmp_path / "more"
    extra.mkdir()
    (extra / "new.json").write_text(
        json.dumps(
            {
                "id": "INC-9",
                "title": "Payments",
                "startedAt": "2026-03-13T09:00:00Z",
                "service": "payments-api",
            }
        )
    )
    (extra / "broken.yaml").write_text("id: INC-10\n")  # no title, no startedAt
    edit(repo / "lib" / "payments.yaml", "due: 10m", "due: 20m")
    result = playbook(
        "diff",
        "--library",
        "lib",
        "--incidents",
        str(extra),
        "--at",
        "2026-03-13T17:00:00Z",
        "--format",
        "text",
        cwd=repo,
    )
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert "Clock: 2026-03-13T17:00:00Z." in out
    assert (
        "~ step check-provider due: 2026-03-13T09:10:00Z (+10m) -> 2026-03-13T09:20:00Z (+20m)"
        in out
    )
    assert "Skipped inputs:\n" in out and "broken.yaml: " in out


def test_not_a_git_repository(tmp_path: Path) -> None:
    shutil.copytree(BASIC, tmp_path / "lib")
    result = playbook("diff", "--library", "lib", cwd=tmp_path)
    assert result.returncode == 2
    assert result.stdout == ""
    assert result.stderr.splitlines()[0] == (
        "lib: error GT101 not a git repository (or any parent up to the mount point)"
    )


def test_unknown_revision(repo: Path) -> None:
    result = playbook("diff", "no-such-branch", "--library", "lib", cwd=repo)
    assert result.returncode == 2
    assert result.stderr.splitlines()[0] == (
        "playbook diff: error GT102 unknown revision: no-such-branch"
    )
    option_like = playbook("diff", "--library", "lib", "--", "--output=x", cwd=repo)
    assert option_like.returncode == 2
    assert "GT102 unknown revision: --output=x" in option_like.stderr


def test_a_library_that_does_not_validate_now_or_before(repo: Path) -> None:
    triage = repo / "lib" / "triage.yaml"
    edit(triage, "owner: responder", "owner: nobody")
    now = playbook("diff", "--library", "lib", cwd=repo)
    assert now.returncode == 2
    assert (
        now.stderr.splitlines()[0]
        == "lib: error GT105 the library at working tree does not validate"
    )
    assert "lib/triage.yaml:" in now.stderr and "PB303" in now.stderr
    git(repo, "commit", "-q", "-am", "broken")
    edit(triage, "owner: nobody", "owner: responder")
    # The change that repairs a broken base: no plans before, every plan is new (exit 0).
    repair = playbook("diff", "--library", "lib", "--format", "json", cwd=repo)
    assert repair.returncode == 0, repair.stderr
    found = json.loads(repair.stdout)
    assert found["beforeMissing"] == "the library at HEAD does not validate (1 error)"
    assert all(i["before"] is None for i in found["incidents"]) and found["incidents"]
    text = playbook("diff", "--library", "lib", "--format", "text", cwd=repo).stdout
    assert "No plans before: the library at HEAD does not validate (1 error); every plan" in text


def test_a_library_new_since_the_revision_is_all_additions(repo: Path) -> None:
    shutil.copytree(BASIC, repo / "newlib")
    (repo / "newlib" / "incidents").mkdir()
    (repo / "newlib" / "incidents" / "db.yaml").write_text(
        "id: INC-9\ntitle: db down\nstartedAt: 2026-03-13T16:00:00Z\nseverity: critical\n"
    )
    result = playbook("diff", "--library", "newlib", "--exit-code", "--format", "json", cwd=repo)
    assert result.returncode == 1, result.stderr
    [incident] = json.loads(result.stdout)["incidents"]
    assert incident["before"] is None
    assert incident["after"]["priority"] == incident["changes"][-1]["after"]
    assert [c["kind"] for c in incident["changes"]][-1] == "changed"
    assert {c["area"] for c in incident["changes"]} == {"playbooks", "classification"}
    text = playbook("diff", "--library", "newlib", "--format", "text", cwd=repo).stdout
    assert "incidents/db.yaml: (no library) -> " in text
    # A revision after which the library is gone is still an error.
    git(repo, "add", "newlib")
    git(repo, "commit", "-q", "-m", "add newlib")
    gone = playbook("diff", "HEAD", "HEAD~1", "--library", "newlib", cwd=repo)
    assert gone.returncode == 2
    assert "GT103 the library directory newlib does not exist at" in gone.stderr


def test_compare_plans_of_one_library_is_empty() -> None:
    result = load_library(BASIC)
    assert result.compiled is not None
    incident = {"id": "I", "title": "T", "startedAt": "2026-03-13T16:00:00Z", "severity": "sev1"}
    at = parse_timestamp("2026-03-13T16:30:00Z")
    plan = evaluate(result.compiled, incident, at)
    assert compare_plans(plan, evaluate(result.compiled, incident, at)) == []


def test_a_skipped_suite_is_named_in_the_library_not_in_a_scratch_copy(repo: Path) -> None:
    git(repo, "mv", "lib/incidents/critical.yaml", "lib/incidents/renamed.yaml")
    git(repo, "commit", "-q", "-m", "rename")
    result = playbook("diff", "HEAD~1", "HEAD", "--library", "lib", "--format", "json", cwd=repo)
    assert result.returncode == 0, result.stderr
    [skipped] = json.loads(result.stdout)["skipped"]
    assert skipped["source"] == "tests/staging.yaml"
    assert "(looked for tests/../incidents/critical.yaml)" in skipped["reason"]
    assert "playbook-diff-" not in skipped["reason"]


def test_max_length_leaves_details_out_until_the_comment_fits(
    repo: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from playbook_engine.authoring.behaviour_diff import diff_library
    from playbook_engine.render.diff import render_diff

    policy = repo / "lib" / "policy.yaml"
    policy.write_text(policy.read_text().replace("respondWithin: 15m", "respondWithin: 10m"))
    monkeypatch.chdir(repo)
    result = diff_library(Path("lib"))
    full = render_diff(result, "markdown")
    details = full.index("### ")
    assert details > 0
    assert len(full) > details + 160  # the details are more than the note that replaces them
    short = render_diff(result, "markdown", max_length=details + 160)
    assert len(short) <= details + 160
    assert "are left out to stay under" in short
    assert short.startswith(full[:details])  # the title, table and summary stay whole
    tiny = render_diff(result, "markdown", max_length=120)
    assert len(tiny) <= 120 and tiny.endswith("shows all.*\n")
    assert render_diff(result, "markdown", max_length=len(full)) == full
    refused = playbook("diff", "--library", "lib", "--max-length", "10", cwd=repo)
    assert refused.returncode == 2
