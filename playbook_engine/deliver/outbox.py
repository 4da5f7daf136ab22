"""Deliver the outbox through apprise: checked destinations, retries with backoff, a timeline
entry for every attempt, and never a second send of what a receiver took.

Each pending row is claimed (`sending`, committed) before its request; the result is recorded
as `sent`, `failed` (for good: refused destination, retries used up, a permanent e-mail
rejection, or a partial e-mail send that a retry would repeat), or `pending` again after a
backoff of `policy.backoff x 2^(attempt-1)`. Without `live` (dry-run, the default) nothing is
sent and each row is recorded as `dry-run`.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Protocol

from playbook_engine.deliver.destinations import DestinationError, Policy, destination
from playbook_engine.serve.ports import OutboxItem

PERMANENT = re.compile(r"\(5\d\d,|Recipients?Refused|SMTPRecipientsRefused")


class Outbox(Protocol):
    """The store's outbox operations."""

    def claim_outbox(self, at: datetime, limit: int = 50) -> list[OutboxItem]: ...

    def dry_run_outbox(self, at: datetime) -> int: ...

    def finish_outbox(
        self, item: OutboxItem, state: str, at: datetime, error: str, retry_at: datetime | None
    ) -> None: ...


@dataclass(frozen=True, slots=True)
class Attempt:
    """The result of one send."""

    ok: bool
    error: str = ""
    retry: bool = True


def send(url: str, item: OutboxItem, policy: Policy) -> Attempt:
    """Send one notification to an apprise URL, capturing why it failed."""
    import apprise

    from playbook_engine.deliver.bounded import install

    install(policy.max_answer)
    asset = apprise.AppriseAsset(http_redirects=False)
    plugin = apprise.Apprise.instantiate(url, asset=asset)
    if plugin is None:
        return Attempt(False, "apprise does not understand the destination URL", retry=False)
    plugin.socket_connect_timeout = policy.timeout
    plugin.socket_read_timeout = policy.timeout
    with apprise.LogCapture(level=logging.DEBUG) as captured:  # type: ignore[no-untyped-call]
        ok = bool(plugin.notify(body=item.body or item.subject, title=item.subject))
        lines = captured.getvalue().splitlines()
    if ok:
        return Attempt(True)
    reasons = [
        line.split(" - ", 2)[-1]
        for line in lines
        if " - WARNING - " in line or "Socket Exception" in line or "ERROR" in line
    ]
    text = _redact("; ".join(dict.fromkeys(reasons)) or "delivery failed", url)
    partial = any("Sent Email to" in line for line in lines)
    if partial:
        return Attempt(False, "partly delivered (not retried, to send none twice): " + text, False)
    return Attempt(False, text, retry=not PERMANENT.search(text))


def _redact(text: str, url: str) -> str:
    """`text` without the URL's password or path tokens (apprise may quote them)."""
    from urllib.parse import urlsplit

    parts = urlsplit(url)
    secrets = [parts.password or "", *[p for p in parts.path.split("/") if len(p) >= 8]]
    for secret in filter(None, secrets):
        text = text.replace(secret, "***")
    return text[:500]


def run(store: Outbox, at: datetime, policy: Policy, live: bool, limit: int = 50) -> int:
    """Deliver what is due at `at`; how many rows were handled."""
    if not live:
        return store.dry_run_outbox(at)
    handled = 0
    while True:
        items = store.claim_outbox(at, limit)
        for item in items:
            handled += 1
            try:
                url = destination(item.channel, policy)
            except DestinationError as exc:
                store.finish_outbox(item, "failed", at, str(exc), None)
                continue
            result = send(url, item, policy)
            if result.ok:
                store.finish_outbox(item, "sent", at, "", None)
            elif result.retry and item.attempts < policy.max_attempts:
                delay = timedelta(seconds=policy.backoff * 2 ** (item.attempts - 1))
                store.finish_outbox(item, "pending", at, result.error, at + delay)
            else:
                error = result.error
                if result.retry:
                    error += f" (gave up after {item.attempts} attempts)"
                store.finish_outbox(item, "failed", at, error, None)
        if len(items) < limit:
            return handled
