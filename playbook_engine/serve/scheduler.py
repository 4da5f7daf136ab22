"""Durable timers: what is due at T is read from the store, fired once, and delivered.

`tick(store, compiled, at, ...)` is one pass: every timer due at `at` is claimed and fired in
the store's transaction (see `Ledger.fire_due`) — the (incident, action, due time) key
committed with the fire is what makes a restart lose none and fire none twice — and then the
outbox is delivered. `playbook serve` runs it every few seconds; `playbook tick` runs it once
(from cron). Several processes on one SQLite store serialise on `BEGIN IMMEDIATE`.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from playbook_engine.compile.compiler import CompiledLibrary
from playbook_engine.deliver.destinations import Policy
from playbook_engine.serve.ledger import Ledger
from playbook_engine.serve.planning import decide


@dataclass(frozen=True, slots=True)
class TickResult:
    """What one pass did."""

    fired: int
    cancelled: int
    delivered: int

    def as_dict(self) -> dict[str, int]:
        """For `--format json` and logs."""
        return {"fired": self.fired, "cancelled": self.cancelled, "delivered": self.delivered}


def tick(
    store: Ledger, compiled: CompiledLibrary, at: datetime, policy: Policy, live: bool
) -> TickResult:
    """Fire the timers due at `at`, then deliver the outbox."""
    from playbook_engine.deliver.outbox import run
    from playbook_engine.serve.planning import follow

    store.plan_pending(follow(compiled, at), at)
    fired = store.fire_due(at, decide)
    done = sum(1 for _timer, outcome in fired if outcome == "fired")
    delivered = run(store, at, policy, live)
    return TickResult(done, len(fired) - done, delivered)
