"""The responder commands end to end (`playbook incident ...`, `status`, `timeline`,
`report`), each run as a real process against a real store: an SQLite file and a database
on a private PostgreSQL server (the `store_url` fixture runs every test on both)."""

from __future__ import annotations

import copy
import getpass
import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest
from conftest import PLAYBOOK, ROOT
from storekit import LIBRARY, P1, at, events, kinds, pb, write_incident


def ok(done: subprocess.CompletedProcess[str]) -> str:
    assert done.returncode == 0, done.stderr
    return done.stdout


def test_a_life_from_open_to_reopen(store_url: str, tmp_path: Path) -> None:
    path = write_incident(tmp_path)
    out = ok(pb(store_url, "incident", "open", str(path), "--at", at(3), "--by", "alice"))
    assert out.startswith("INC-7: opened by alice at 2026-03-14T02:20:00Z; recorded classified")
    assert "escalated" in out and out.rstrip().endswith("(now open)")
    out = ok(pb(store_url, "incident", "ack", "INC-7", "--at", at(23), "--by", "bob"))
    # tier 2 (+10m) came before the acknowledgement: on the record
    assert out == (
        "INC-7: acknowledged by bob at 2026-03-14T02:40:00Z; recorded escalated "
        "(now acknowledged)\n"
    )
    ok(pb(store_url, "incident", "step", "INC-7", "open-bridge", "--at", at(25), "--by", "bob"))
    ok(pb(store_url, "incident", "step", "INC-7", "brief-support", "--skip", "--note",
          "support knows", "--at", at(26), "--by", "bob"))  # fmt: skip
    ok(pb(store_url, "incident", "note", "INC-7", "rolled", "back", "--at", at(30), "--by", "eve"))
    out = ok(pb(store_url, "incident", "resolve", "INC-7", "--note", "rollback", "--at", at(103),
                "--by", "bob"))  # fmt: skip
    assert out.startswith(
        "INC-7: resolved by bob at 2026-03-14T03:60:00Z".replace("03:60", "04:00")
    )
    ok(pb(store_url, "incident", "reopen", "INC-7", "--note", "again", "--at", at(200)))
    log = events(store_url, "INC-7")
    mine = [(e.kind, e.by) for e in log if e.by != "engine"]
    assert mine == [
        ("opened", "alice"),
        ("acknowledged", "bob"),
        ("step", "bob"),
        ("step", "bob"),
        ("note", "eve"),
        ("resolved", "bob"),
        ("reopened", getpass.getuser()),  # --by defaults to the login name
    ]
    assert [e.n for e in log] == list(range(1, len(log) + 1))
    skipped = [e for e in log if e.kind == "step"][1]
    assert skipped.data == {"step": "brief-support", "state": "skipped", "note": "support knows"}
    escalated = [(e.data["tier"], e.at.isoformat()) for e in log if e.kind == "escalated"]
    assert escalated == [(1, "2026-03-14T02:17:00+00:00"), (2, "2026-03-14T02:27:00+00:00")]
    assert sum(1 for e in log if e.kind == "notification") == 7
    assert log[0].data["library"].startswith("git:")  # the bundled library is in this repo


def test_every_command_answers_json(store_url: str, tmp_path: Path) -> None:
    path = write_incident(tmp_path)
    opened = json.loads(ok(pb(store_url, "incident", "open", str(path), "--at", at(1),
                              "--by", "a", "--format", "json")))  # fmt: skip
    assert opened["incident"] == "INC-7" and opened["action"] == "opened"
    assert opened["events"][0]["kind"] == "opened" and opened["stage"] == "open"
    acked = json.loads(ok(pb(store_url, "incident", "ack", "INC-7", "--at", at(5), "--by", "b",
                             "--format", "json")))  # fmt: skip
    assert [e["kind"] for e in acked["events"]] == ["acknowledged"]
    assert acked["events"][0]["at"] == "2026-03-14T02:22:00Z"
    listing = json.loads(ok(pb(store_url, "status", "--at", at(6), "--format", "json")))
    assert listing["asOf"] == "2026-03-14T02:23:00Z"
    (row,) = listing["incidents"]
    assert row["respond"] == {"by": "2026-03-14T02:32:00Z", "state": "met", "leftSeconds": 540}
    assert row["resolve"]["state"] == "open" and row["resolve"]["by"] == "2026-03-14T06:17:00Z"
    assert row["nextEscalation"] is None  # acknowledged before tier 2: nothing more pages
    assert row["steps"]["done"] == 0 and row["steps"]["total"] == 19
    timeline = json.loads(ok(pb(store_url, "timeline", "INC-7", "--format", "json")))
    assert [m["what"] for m in timeline["milestones"]] == [
        "started", "tier 1 paged", "opened in the store", "acknowledged",
    ]  # fmt: skip
    report = json.loads(ok(pb(store_url, "report", "--at", at(60 * 24), "--format", "json")))
    assert report["overall"]["incidents"] == 1 and report["overall"]["mttaSeconds"] == 300.0


def test_status_lists_open_incidents_with_deadlines_and_escalation(
    store_url: str, tmp_path: Path
) -> None:
    path = write_incident(tmp_path)
    ok(pb(store_url, "incident", "open", str(path), "--at", at(3), "--by", "alice"))
    minor = {**P1, "id": "INC-8", "title": "Logo blurry", "severity": "low",
             "customersAffected": 1, "environment": "staging"}  # fmt: skip
    ok(pb(store_url, "incident", "open", str(write_incident(tmp_path, minor)), "--at", at(4)))
    out = ok(pb(store_url, "status", "--at", at(8)))
    lines = out.splitlines()
    assert lines[0].split()[:4] == ["ID", "PRI", "STAGE", "AGE"]
    assert lines[1].startswith("INC-7  P1")  # the most severe first
    assert "7m00s left" in lines[1] and "tier 2 in 2m00s" in lines[1] and "0/19" in lines[1]
    assert lines[2].startswith("INC-8")
    assert lines[-1] == "2 open incidents as of 2026-03-14T02:25:00Z."
    late = ok(pb(store_url, "status", "--at", at(20)))
    assert "OVERDUE 5m00s" in late.splitlines()[1]  # respond by 02:32, now 02:37
    assert "tier 2 due 10m00s ago" in late.splitlines()[1]
    md = ok(pb(store_url, "status", "--at", at(8), "--format", "markdown"))
    assert md.startswith("# Open incidents as of 2026-03-14T02:25:00Z\n\n| Id | Pri |")
    ok(pb(store_url, "incident", "resolve", "INC-7", "--at", at(30)))
    ok(pb(store_url, "incident", "resolve", "INC-8", "--at", at(30)))
    assert ok(pb(store_url, "status", "--at", at(31))) == (
        "No open incidents (as of 2026-03-14T02:48:00Z).\n"
    )


def test_status_of_one_incident_agrees_with_run(store_url: str, tmp_path: Path) -> None:
    path = write_incident(tmp_path)
    ok(pb(store_url, "incident", "open", str(path), "--at", at(3), "--by", "alice"))
    ok(pb(store_url, "incident", "ack", "INC-7", "--at", at(12), "--by", "bob"))
    ok(pb(store_url, "incident", "step", "INC-7", "open-bridge", "--at", at(14), "--by", "bob"))
    ok(pb(store_url, "incident", "set", "INC-7", "labels.team=payments", "--at", at(15)))
    shown = json.loads(ok(pb(store_url, "status", "INC-7", "--at", at(40), "--format", "json")))
    # the incident as the log makes it, given to `playbook run` as a file
    as_logged = {**P1, "labels": {"team": "payments"}, "acknowledgedAt": at(12),
                 "status": "acknowledged"}  # fmt: skip
    file = write_incident(tmp_path, as_logged)
    ran = subprocess.run(
        [*PLAYBOOK, "run", str(file), "--library", str(LIBRARY), "--at", at(40), "--format",
         "json"], capture_output=True, text=True, check=True,
    )  # fmt: skip
    assert shown["plan"] == json.loads(ran.stdout)
    assert shown["incident"]["marks"]["open-bridge"]["by"] == "bob"
    text = ok(pb(store_url, "status", "INC-7", "--at", at(40), "--format", "markdown"))
    assert "- Acknowledged: 2026-03-14T02:29:00Z by bob\n" in text
    assert "- [x] **Open the incident bridge and the incident document**" in text
    assert text.count("- [x]") == 1
    plain = ok(pb(store_url, "status", "INC-7", "--at", at(40)))
    assert plain.count("[x]") == 1 and "[ ]" in plain


def test_reclassification_keeps_the_peak_priority_and_records_the_library(
    store_url: str, tmp_path: Path
) -> None:
    library = tmp_path / "lib"
    shutil.copytree(LIBRARY, library, ignore=shutil.ignore_patterns(".playbook"))
    path = write_incident(tmp_path)

    def run(*args: str) -> str:
        done = subprocess.run(
            [*PLAYBOOK, *args, "--store", store_url, "--library", str(library)],
            capture_output=True, text=True,
        )  # fmt: skip
        assert done.returncode == 0, done.stderr
        return done.stdout

    run("incident", "open", str(path), "--at", at(3), "--by", "alice")
    (policy,) = [p for p in library.glob("policy.y*ml")]
    policy.write_text(policy.read_text(encoding="utf-8") + "\n# changed\n", encoding="utf-8")
    run("incident", "set", "INC-7", "severity=minor", "customersAffected=1", "--at", at(20))
    log = events(store_url, "INC-7")
    versions = [e.data["library"] for e in log if e.kind in ("opened", "reclassified")]
    assert all(v.startswith("sha256:") for v in versions)  # a copy outside git: content hash
    assert versions[0] != versions[1]  # the playbook changed mid-incident: visible
    classified = [e.data["priority"] for e in log if e.kind == "classified"]
    assert classified == ["P1", "P4"]
    (row,) = json.loads(run("status", "--at", at(21), "--format", "json"))["incidents"]
    assert (row["priority"], row["peak"]) == ("P4", "P1")
    # the SLA is the peak priority's: respond by +15m, missed without an acknowledgement
    assert row["respond"]["by"] == "2026-03-14T02:32:00Z" and row["respond"]["state"] == "overdue"
    report = json.loads(run("report", "--at", at(60 * 24), "--format", "json"))
    assert [p["priority"] for p in report["byPriority"]] == ["P1"]
    assert "P4 (peak P1)" in run("status", "--at", at(21))


def test_open_is_idempotent_updates_resolves_and_reopens(store_url: str, tmp_path: Path) -> None:
    path = write_incident(tmp_path)
    ok(pb(store_url, "incident", "open", str(path), "--at", at(3)))
    before = len(events(store_url, "INC-7"))
    assert ok(pb(store_url, "incident", "open", str(path), "--at", at(4))) == (
        "INC-7: unchanged (nothing written)\n"
    )
    assert len(events(store_url, "INC-7")) == before
    changed = {**P1, "title": "Checkout returns 502 and 504"}
    out = ok(pb(store_url, "incident", "open", str(write_incident(tmp_path, changed)), "--at",
                at(5)))  # fmt: skip
    assert out.startswith("INC-7: updated")
    resolved = {**changed, "status": "resolved", "resolvedAt": at(50)}
    out = ok(pb(store_url, "incident", "open", str(write_incident(tmp_path, resolved)), "--at",
                at(51)))  # fmt: skip
    assert out.startswith("INC-7: resolved") and "(now resolved)" in out
    # a sender's retry of the firing alert does not undo the resolution
    assert "unchanged" in ok(pb(store_url, "incident", "open", str(write_incident(tmp_path,
                                changed)), "--at", at(52)))  # fmt: skip
    fired = {**P1, "title": "Checkout returns 502 again"}
    out = ok(pb(store_url, "incident", "open", str(write_incident(tmp_path, fired)), "--at",
                at(60)))  # fmt: skip
    assert out.startswith("INC-7: reopened")
    mine = [k for k, e in zip(kinds(store_url, "INC-7"), events(store_url, "INC-7"), strict=True)
            if e.by != "engine"]  # fmt: skip
    assert mine == ["opened", "updated", "resolved", "updated", "reopened"]


def test_open_from_alert_payloads_by_dedup_identity(store_url: str, tmp_path: Path) -> None:
    resolved_payload = Path(ROOT) / "tests/data/payloads/alertmanager/resolved.json"
    firing = json.loads(resolved_payload.read_text(encoding="utf-8"))
    firing = copy.deepcopy(firing)
    firing["status"] = firing["alerts"][0]["status"] = "firing"
    firing["alerts"][0]["endsAt"] = "0001-01-01T00:00:00Z"
    source = tmp_path / "firing.json"
    source.write_text(json.dumps(firing), encoding="utf-8")
    out = ok(pb(store_url, "incident", "open", str(source), "--from", "auto", "--at",
                "2026-03-14T01:45:00Z"))  # fmt: skip
    assert out.startswith("0f3e9a1c55d2b6e0: opened")
    again = ok(pb(store_url, "incident", "open", "-", "--from", "alertmanager", "--at",
                  "2026-03-14T01:50:00Z", stdin=json.dumps(firing)))  # fmt: skip
    assert again == "0f3e9a1c55d2b6e0: unchanged (nothing written)\n"
    out = ok(pb(store_url, "incident", "open", str(resolved_payload), "--from", "auto", "--at",
                "2026-03-14T02:11:00Z", "--format", "json"))  # fmt: skip
    (outcome,) = json.loads(out)
    assert outcome["action"] == "resolved" and outcome["stage"] == "resolved"
    first = events(store_url, "0f3e9a1c55d2b6e0")
    assert first[0].data["source"] == "alertmanager"
    (resolution,) = [e for e in first if e.kind == "resolved"]
    assert resolution.at.isoformat() == "2026-03-14T02:10:30.500000+00:00"


def test_timeline_is_markdown_with_milestones(store_url: str, tmp_path: Path) -> None:
    path = write_incident(tmp_path)
    ok(pb(store_url, "incident", "open", str(path), "--at", at(3), "--by", "alice"))
    ok(pb(store_url, "incident", "ack", "INC-7", "--at", at(23), "--by", "bob"))
    ok(pb(store_url, "incident", "note", "INC-7", "a | pipe *and* stars", "--at", at(30)))
    ok(pb(store_url, "incident", "resolve", "INC-7", "--at", at(103), "--by", "carol"))
    text = ok(pb(store_url, "timeline", "INC-7"))
    assert text.startswith("# Timeline: INC-7 — Checkout returns 502\n")
    assert "- Time to acknowledge: 23m00s; **missed**\n" in text  # respond by +15m
    assert "- Time to resolve: 1h43m; met\n" in text
    assert "| acknowledged (bob) | 2026-03-14T02:40:00Z | 23m00s | 13m00s |" in text
    assert "| resolved (carol) | 2026-03-14T04:00:00Z | 1h43m | 1h20m |" in text
    assert "a \\| pipe \\*and\\* stars" in text  # escaped: one table cell, no emphasis
    out = tmp_path / "timeline.md"
    ok(pb(store_url, "timeline", "INC-7", "-o", str(out)))
    assert out.read_text(encoding="utf-8") == text


def test_report_formats(store_url: str, tmp_path: Path) -> None:
    for number, (ack, resolve) in enumerate([(5, 60), (30, 400), (None, 20)], start=1):
        data = {**P1, "id": f"INC-{number}"}
        ok(pb(store_url, "incident", "open", str(write_incident(tmp_path, data)), "--at", at(1)))
        if ack is not None:
            ok(pb(store_url, "incident", "ack", f"INC-{number}", "--at", at(ack)))
        ok(pb(store_url, "incident", "resolve", f"INC-{number}", "--at", at(resolve)))
    ok(pb(store_url, "incident", "reopen", "INC-3", "--at", at(30)))
    ok(pb(store_url, "incident", "resolve", "INC-3", "--at", at(40)))
    data = json.loads(ok(pb(store_url, "report", "--since", "30d", "--at", at(60 * 24),
                            "--format", "json")))  # fmt: skip
    overall = data["overall"]
    assert overall["incidents"] == 3 and overall["resolved"] == 3
    assert overall["mttaSeconds"] == (5 + 30) / 2 * 60
    assert overall["mttrSeconds"] == (60 + 400 + 40) / 3 * 60
    assert overall["respond"] == {"met": 1, "judged": 3, "rate": 0.3333}  # 15m for a P1
    assert overall["resolve"] == {"met": 2, "judged": 3, "rate": 0.6667}  # 4h for a P1
    assert overall["reopenedRate"] == 0.3333
    # tier 2 pages at +10m: INC-1 was acknowledged before (first-contact resolution), INC-2
    # (acknowledged at +30m) and INC-3 (never acknowledged) were not
    assert overall["escalated"] == 2 and overall["escalationRate"] == 0.6667
    assert overall["firstContactResolution"] == 0.3333
    assert [w["week"] for w in data["byWeek"]] == ["2026-03-09"]
    assert {p["playbook"] for p in data["byPlaybook"]} == {"major-incident", "payment-failures"}
    md = ok(pb(store_url, "report", "--at", at(60 * 24)))
    assert "| 3 | 17m30s | 2h46m | 33.3% (1/3) | 66.7% (2/3) | 66.7% | 33.3% | 33.3% |" in md
    page = ok(pb(store_url, "report", "--at", at(60 * 24), "--format", "html"))
    assert page.startswith("<!DOCTYPE html>") and page.count("<svg") == 5
    assert "<script" not in page and "http://" not in page.replace(
        'xmlns="http://www.w3.org/2000/svg"', ""
    ) and "https://" not in page  # fmt: skip
    none = json.loads(ok(pb(store_url, "report", "--since", "2026-01-01T00:00:00Z", "--at",
                            "2026-02-01T00:00:00Z", "--format", "json")))  # fmt: skip
    assert none["overall"]["incidents"] == 0 and none["overall"]["mttaSeconds"] is None


REFUSALS = [
    (["incident", "ack", "INC-404"], "INC-404: error ST111 no incident 'INC-404' in the store"),
    (["incident", "step", "INC-7", "no-such-step"], "error ST113 no step 'no-such-step'"),
    (["incident", "ack", "INC-7"], "INC-7: error ST112 INC-7 is resolved: it cannot be ack"),
    (["incident", "resolve", "INC-7"], "INC-7: error ST112 INC-7 is already resolved (by bob"),
    (["incident", "reopen", "INC-8"], "INC-8: error ST112 INC-8 is not resolved (it is open)"),
    (["incident", "set", "INC-8", "status=resolved"], "--set status: error ST114"),
    (["incident", "ack", "INC-8", "--at", "2026-03-14T00:00:00Z"], "--at: error ST115 --at"),
    (["incident", "step", "INC-8", "open-bridge", "--skip"], "a skipped step needs --note"),
    (["incident", "note", "INC-404", "x"], "error ST111 no incident 'INC-404'"),
    (["timeline", "INC-404"], "INC-404: error ST111 no incident 'INC-404'"),
    (["status", "INC-404"], "INC-404: error ST111 no incident 'INC-404'"),
    (["report", "--since", "soon"], "--since: error IN103"),
]


def test_bad_input_is_refused_with_exit_2_and_nothing_written(
    store_url: str, tmp_path: Path
) -> None:
    ok(pb(store_url, "incident", "open", str(write_incident(tmp_path)), "--at", at(3)))
    ok(pb(store_url, "incident", "resolve", "INC-7", "--at", at(30), "--by", "bob"))
    other = {**P1, "id": "INC-8"}
    ok(pb(store_url, "incident", "open", str(write_incident(tmp_path, other)), "--at", at(3)))
    before = {i: len(events(store_url, i)) for i in ("INC-7", "INC-8", "INC-404")}
    for args, message in REFUSALS:
        done = pb(store_url, *args)
        assert done.returncode == 2, (args, done.stdout, done.stderr)
        assert message in done.stderr, (args, done.stderr)
        assert "Traceback" not in done.stderr and done.stdout == ""
    assert {i: len(events(store_url, i)) for i in before} == before


def test_the_default_store_lives_in_the_library(tmp_path: Path) -> None:
    library = tmp_path / "lib"
    shutil.copytree(LIBRARY, library)
    env = {k: v for k, v in os.environ.items() if k != "PLAYBOOK_STORE"}
    done = subprocess.run(
        [*PLAYBOOK, "incident", "open", "-", "--at", at(3)],
        input=json.dumps(P1), capture_output=True, text=True, cwd=library, env=env,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    store = library / ".playbook" / "incidents.sqlite"
    assert store.is_file()
    assert (library / ".playbook" / ".gitignore").read_text(encoding="utf-8").endswith("*\n")
    listed = subprocess.run(
        [*PLAYBOOK, "status", "--at", at(4)], capture_output=True, text=True, cwd=library, env=env
    )
    assert listed.stdout.splitlines()[1].startswith("INC-7")
    env["PLAYBOOK_STORE"] = str(tmp_path / "elsewhere.sqlite")
    subprocess.run(
        [*PLAYBOOK, "incident", "open", "-", "--at", at(3)],
        input=json.dumps(P1), capture_output=True, text=True, cwd=library, env=env, check=True,
    )  # fmt: skip
    assert (tmp_path / "elsewhere.sqlite").is_file()


def test_reading_a_store_nobody_wrote_creates_nothing(tmp_path: Path) -> None:
    store = tmp_path / "never.sqlite"
    done = pb(str(store), "status", "--at", at(0))
    assert done.returncode == 0 and done.stdout.startswith("No open incidents")
    assert pb(str(store), "report", "--at", at(0), "--format", "json").returncode == 0
    assert not store.exists()


@pytest.mark.parametrize("command", [["status"], ["report"], ["timeline", "INC-7"]])
def test_reading_commands_need_no_library_with_a_store(tmp_path: Path, command: list[str]) -> None:
    store = tmp_path / "s.sqlite"
    ok(pb(str(store), "incident", "open", str(write_incident(tmp_path)), "--at", at(3)))
    env = {k: v for k, v in os.environ.items() if k != "PLAYBOOK_LIBRARY"}
    done = subprocess.run(
        [*PLAYBOOK, *command, "--store", str(store)],
        capture_output=True, text=True, cwd=tmp_path, env=env,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
