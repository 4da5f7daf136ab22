"""The per-incident summary table: derived from the log, written in the same transaction as
each event, rebuildable from the log at any time (`rebuild`)."""

from __future__ import annotations

from collections.abc import Iterable

from playbook_engine.store.connection import Connection
from playbook_engine.store.events import Event, decode, moment
from playbook_engine.store.state import SUMMARY_COLUMNS, IncidentState, fold, summary_row

_UPSERT = (
    f"INSERT INTO pb_incidents ({', '.join(SUMMARY_COLUMNS)}) "
    f"VALUES ({', '.join('?' for _ in SUMMARY_COLUMNS)}) ON CONFLICT (id) DO UPDATE SET "
    + ", ".join(f"{c} = excluded.{c}" for c in SUMMARY_COLUMNS if c != "id")
)
EVENT_COLUMNS = "incident, n, kind, at, by, data, key, recorded"


def upsert(conn: Connection, state: IncidentState) -> None:
    """Write the incident's summary row, and the playbooks that have applied to it."""
    row = summary_row(state)
    conn.execute(_UPSERT, [row[c] for c in SUMMARY_COLUMNS])
    conn.execute("DELETE FROM pb_incident_playbooks WHERE incident = ?", (state.id,))
    conn.executemany(
        "INSERT INTO pb_incident_playbooks (incident, playbook) VALUES (?, ?)",
        [(state.id, playbook) for playbook in state.playbooks],
    )


def event_of(row: tuple[object, ...]) -> Event:
    """An event from a row of `SELECT {EVENT_COLUMNS} FROM pb_events`."""
    incident, n, kind, at, by, data, key, recorded = row
    return Event(
        str(incident),
        int(str(n)),
        str(kind),
        moment(float(str(at))),
        str(by),
        decode(str(data)),
        None if key is None else str(key),
        None if recorded is None else moment(float(str(recorded))),
    )


def rebuild(conn: Connection) -> int:
    """Replace every summary row by the fold of its incident's log (inside the caller's
    write transaction); how many incidents."""
    conn.execute("DELETE FROM pb_incidents")
    conn.execute("DELETE FROM pb_incident_playbooks")
    rows = conn.execute(f"SELECT {EVENT_COLUMNS} FROM pb_events ORDER BY incident, n").fetchall()
    count = 0
    for state in _states(event_of(row) for row in rows):
        upsert(conn, state)
        count += 1
    return count


def _states(events: Iterable[Event]) -> Iterable[IncidentState]:
    current: list[Event] = []
    for event in events:
        if current and event.incident != current[0].incident:
            state = fold(current)
            if state is not None:
                yield state
            current = []
        current.append(event)
    if current:
        state = fold(current)
        if state is not None:
            yield state
