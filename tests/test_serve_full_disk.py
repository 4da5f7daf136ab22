"""A full disk under the store: intake answers 503 with Retry-After (the sender retries),
never a 5xx of another kind, and the retry is stored once space is back. Needs root to mount
a small tmpfs (CI runs as root); skipped elsewhere."""

from __future__ import annotations

from pathlib import Path

from servekit import serving


def incident(n: int) -> dict[str, str]:
    return {"id": f"INC-{n}", "title": f"Disk test {n}", "startedAt": "2026-03-14T02:00:00Z"}


def test_a_full_disk_is_503_and_nothing_is_lost(tmp_path: Path, small_disk: Path) -> None:
    store = small_disk / "store.sqlite"
    with serving(tmp_path, "--interval", "0", store=store) as server:
        assert server.post("/v1/incidents", incident(0)).status == 202
        filler = small_disk / "filler"
        with filler.open("wb") as sink:
            try:
                while True:
                    sink.write(b"\0" * 65536)
                    sink.flush()
            except OSError:
                pass
        statuses = [server.post("/v1/incidents", incident(n)).status for n in range(1, 6)]
        assert 503 in statuses and set(statuses) <= {202, 503}, statuses
        answer = server.post("/v1/incidents", incident(99))
        assert answer.status == 503 and answer.headers["retry-after"] == "5"
        filler.unlink()
        assert server.post("/v1/incidents", incident(99)).status == 202
        assert server.get("/healthz").status == 200
    import sqlite3

    with sqlite3.connect(store) as db:
        assert db.execute("PRAGMA integrity_check").fetchone() == ("ok",)
        titles = {
            row[0] for row in db.execute("SELECT json_extract(data, '$.title') FROM incidents")
        }
    accepted = {0, 99} | {n for n, s in zip(range(1, 6), statuses, strict=True) if s == 202}
    assert {f"Disk test {n}" for n in accepted} <= titles
