"""The service's clock: the wall clock, optionally from a given start and running faster.

Tests and demos move time instead of sleeping: `--start 2026-03-14T02:00:00Z --time-scale 60`
makes one real second one service minute, so a 5-minute escalation tier fires in 5 seconds.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta


class Clock:
    """`now()` = start + (real time since creation) x scale."""

    def __init__(self, start: datetime | None = None, scale: float = 1.0) -> None:
        self._real0 = time.monotonic()
        self._start = start or datetime.now(UTC)
        self.scale = scale

    def now(self) -> datetime:
        """The service's present moment (aware, UTC)."""
        elapsed = (time.monotonic() - self._real0) * self.scale
        return self._start + timedelta(seconds=elapsed)
