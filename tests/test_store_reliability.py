"""The store under stress, for real: concurrent writers, kill -9 in the middle of writes,
and stores that cannot be used (read-only, full, not a database, a FIFO) — clear errors,
exit 2, nothing lost. Concurrency and crashes run on SQLite and PostgreSQL."""

from __future__ import annotations

import os
import random
import signal
import sqlite3
import subprocess
import sys
import textwrap
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from conftest import PLAYBOOK
from storekit import LIBRARY, P1, at, events, pb, write_incident

from playbook_engine.store import open_store


def test_two_processes_acknowledging_at_once_record_one_event(
    store_url: str, tmp_path: Path
) -> None:
    for round_ in range(3):
        ident = f"INC-{round_}"
        data = {**P1, "id": ident}
        assert pb(store_url, "incident", "open", str(write_incident(tmp_path, data)),
                  "--at", at(1)).returncode == 0  # fmt: skip
        racers = [
            subprocess.Popen(
                [
                    *PLAYBOOK,
                    "incident",
                    "ack",
                    ident,
                    "--at",
                    at(5),
                    "--by",
                    name,
                    "--store",
                    store_url,
                    "--library",
                    str(LIBRARY),
                ],
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
            )  # fmt: skip
            for name in ("bob", "carol")
        ]
        results = [(p.wait(60), *p.communicate()) for p in racers]
        codes = sorted(code for code, _, _ in results)
        assert codes == [0, 2], results
        loser = next(err for code, _, err in results if code == 2)
        assert f"error ST112 {ident} is already acknowledged (by " in loser
        acks = [e for e in events(store_url, ident) if e.kind == "acknowledged"]
        assert len(acks) == 1
        winner = next(out for code, out, _ in results if code == 0)
        assert winner.startswith(f"{ident}: acknowledged by {acks[0].by} ")


_WRITER = textwrap.dedent(
    """
    import sys
    from datetime import datetime, timezone
    from pathlib import Path
    from playbook_engine.speed.cache import cached_library
    from playbook_engine.store import Responder, open_store

    url, start = sys.argv[1], int(sys.argv[2])
    r = Responder(open_store(url), cached_library(Path(sys.argv[3])), lambda: "v")
    moment = datetime(2026, 3, 14, 3, 0, tzinfo=timezone.utc)
    print("ready", flush=True)
    number = start
    while True:
        r.note("INC-7", f"note {number}", moment, "writer", key=f"k{number}")
        print(number, flush=True)  # reported only once committed
        number += 1
    """
)


def _check_log(store_url: str, reported: set[int]) -> int:
    """No half event, the summary agrees with the log, every reported note is there."""
    if not store_url.startswith("postgresql"):
        with sqlite3.connect(store_url) as db:
            assert db.execute("PRAGMA integrity_check").fetchall() == [("ok",)]
    log = events(store_url, "INC-7")
    assert [e.n for e in log] == list(range(1, len(log) + 1))
    notes = {int(e.key[1:]) for e in log if e.kind == "note" and e.key}
    assert all(e.data == {"text": f"note {e.key[1:]}"} for e in log if e.kind == "note")
    assert reported <= notes, sorted(reported - notes)
    opened = open_store(store_url, create=False)
    try:
        (row,) = opened.summaries()
    finally:
        opened.close()
    assert row["events"] == len(log)  # written in the same transaction as the event
    return len(notes)


def test_kill_9_during_writes_loses_nothing_reported(store_url: str, tmp_path: Path) -> None:
    """A writer appends notes as fast as it can and says which committed; it is killed with
    SIGKILL at a random moment, again and again (bounded to ~25 s)."""
    assert pb(store_url, "incident", "open", str(write_incident(tmp_path)), "--at",
              at(1)).returncode == 0  # fmt: skip
    script = tmp_path / "writer.py"
    script.write_text(_WRITER, encoding="utf-8")
    chance = random.Random(16)
    reported: set[int] = set()
    deadline, rounds, start = time.monotonic() + 25, 0, 0
    while rounds < 60 and time.monotonic() < deadline:
        writer = subprocess.Popen(
            [sys.executable, str(script), store_url, str(start), str(LIBRARY)],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        )  # fmt: skip
        assert writer.stdout is not None
        assert writer.stdout.readline() == "ready\n", writer.stderr.read() if writer.stderr else ""
        time.sleep(chance.uniform(0.0, 0.12))
        writer.send_signal(signal.SIGKILL)
        out, _ = writer.communicate()
        numbers = [int(line) for line in out.split() if line.isdigit()]
        reported.update(numbers)
        start += 100_000  # keys of each round apart
        rounds += 1
        _check_log(store_url, reported)
    stored = _check_log(store_url, reported)
    print(f"kill -9: {rounds} rounds, {len(reported)} notes reported, {stored} stored")
    assert rounds >= 30 and len(reported) > rounds and stored >= len(reported)


def test_kill_9_of_commands_loses_no_reported_note(tmp_path: Path) -> None:
    """`playbook incident note` processes killed at random points (importing, reading,
    writing, printing): every one that printed success is in the log."""
    store = str(tmp_path / "store.sqlite")
    assert pb(store, "incident", "open", str(write_incident(tmp_path)), "--at",
              at(1)).returncode == 0  # fmt: skip
    chance, reported, rounds = random.Random(7), set(), 0
    # The window spans a whole command (about 0.3 s alone, more when coverage measures it), so
    # some rounds finish and report while others die importing, reading or writing.
    deadline = time.monotonic() + 25
    while rounds < 40 and time.monotonic() < deadline:
        key = f"k{rounds}"
        command = subprocess.Popen(
            [*PLAYBOOK, "incident", "note", "INC-7", f"note {rounds}", "--key", key, "--at",
             at(2), "--store", store, "--library", str(LIBRARY)],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        )  # fmt: skip
        time.sleep(chance.uniform(0.05, 0.9))
        command.send_signal(signal.SIGKILL)
        out, _ = command.communicate()
        if out.startswith("INC-7: noted"):
            reported.add(rounds)
        rounds += 1
    with sqlite3.connect(store) as db:
        assert db.execute("PRAGMA integrity_check").fetchall() == [("ok",)]
    notes = {e.key for e in events(store, "INC-7") if e.kind == "note"}
    assert {f"k{n}" for n in reported} <= notes
    print(f"kill -9 of commands: {rounds} rounds, {len(reported)} reported, {len(notes)} stored")
    assert rounds >= 20 and 0 < len(reported) < rounds


def _refused(store: str, *args: str) -> str:
    done = pb(store, *args, timeout=20)
    assert done.returncode == 2, (done.stdout, done.stderr)
    assert "Traceback" not in done.stderr and done.stdout == ""
    return done.stderr


def test_a_file_that_is_not_a_database_is_refused_and_left_alone(tmp_path: Path) -> None:
    store = tmp_path / "notes.txt"
    store.write_text("my shopping list\n" * 100, encoding="utf-8")
    for args in (["status"], ["incident", "ack", "INC-7"], ["report"]):
        err = _refused(str(store), *args)
        assert err.startswith(f"{store}: error ST101 cannot open the store: the file is not an "
                              "SQLite database\n")  # fmt: skip
    assert store.read_text(encoding="utf-8") == "my shopping list\n" * 100


def test_a_fifo_or_a_directory_at_the_store_path_is_refused(tmp_path: Path) -> None:
    fifo = tmp_path / "store.sqlite"
    os.mkfifo(fifo)
    err = _refused(str(fifo), "incident", "open", str(write_incident(tmp_path)))
    assert err.startswith(f"{fifo}: error ST101 cannot open the store: it is a FIFO, not a file")
    err = _refused(str(tmp_path), "status")
    assert "error ST101 cannot open the store: it is a directory, not a file" in err


def test_a_store_in_a_missing_folder_is_refused(tmp_path: Path) -> None:
    store = tmp_path / "no" / "such" / "store.sqlite"
    err = _refused(str(store), "incident", "open", str(write_incident(tmp_path)))
    assert f"error ST101 cannot create the store: its folder {store.parent} does not exist" in err


@pytest.fixture
def read_only_disk(small_disk: Path) -> Iterator[Path]:
    """`small_disk`, remounted read-only by the test (root ignores file permissions, so a
    read-only file system is how a store is made read-only for real)."""
    yield small_disk
    subprocess.run(["mount", "-o", "remount,rw", str(small_disk)], check=False)


def test_a_read_only_store_is_refused_for_writes_and_nothing_changes(
    read_only_disk: Path, tmp_path: Path
) -> None:
    store = read_only_disk / "store.sqlite"
    assert pb(str(store), "incident", "open", str(write_incident(tmp_path)), "--at",
              at(1)).returncode == 0  # fmt: skip
    before = store.read_bytes()
    subprocess.run(["mount", "-o", "remount,ro", str(read_only_disk)], check=True)
    err = _refused(str(store), "incident", "ack", "INC-7", "--at", at(5))
    assert err.startswith(f"{store}: error ST10")
    assert "read-only" in err or "readonly" in err, err
    assert store.read_bytes() == before


def test_a_full_disk_is_refused_and_nothing_is_lost(small_disk: Path, tmp_path: Path) -> None:
    store = str(small_disk / "store.sqlite")
    assert pb(store, "incident", "open", str(write_incident(tmp_path)), "--at",
              at(1)).returncode == 0  # fmt: skip
    assert pb(store, "incident", "note", "INC-7", "before", "--at", at(2)).returncode == 0
    filler = small_disk / "filler"
    with filler.open("wb", buffering=0) as sink:
        for size in (65536, 4096, 1):  # to the last byte
            try:
                while True:
                    sink.write(b"\0" * size)
            except OSError:
                pass
    err = _refused(store, "incident", "note", "INC-7", "x" * 100_000, "--at", at(3))
    assert f"{store}: error ST103 cannot write to the store: " in err
    assert "nothing was written" in err
    filler.unlink()
    with sqlite3.connect(store) as db:
        assert db.execute("PRAGMA integrity_check").fetchall() == [("ok",)]
    texts = [e.data.get("text") for e in events(store, "INC-7") if e.kind == "note"]
    assert texts == ["before"]
    assert pb(store, "incident", "note", "INC-7", "after", "--at", at(4)).returncode == 0
