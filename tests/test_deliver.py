"""Delivery through apprise to real local servers: an HTTP receiver and an SMTP server
(aiosmtpd) on 127.0.0.1 — destination checks, timeouts, bounded answers, retries with
backoff, exactly once, every attempt in the timeline."""

from __future__ import annotations

import http.server
import socket
import socketserver
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from playbook_engine.deliver.destinations import Policy, check
from playbook_engine.deliver.outbox import run
from playbook_engine.serve.ledger import Ledger
from playbook_engine.serve.ports import AlertIn, OutboxItem

T0 = datetime(2026, 3, 14, 2, 0, tzinfo=UTC)


class Receiver(http.server.BaseHTTPRequestHandler):
    """Answers by mode: ok, 500, hang, huge, redirect:<url>."""

    protocol_version = "HTTP/1.1"
    mode = "ok"
    bodies: list[bytes] = []
    sent_bytes = 0

    def do_POST(self) -> None:  # noqa: N802
        length = int(self.headers.get("Content-Length", "0"))
        type(self).bodies.append(self.rfile.read(length))
        mode = type(self).mode
        if mode == "hang":
            time.sleep(5)
            return
        if mode.startswith("redirect:"):
            self.send_response(307)
            self.send_header("Location", mode[len("redirect:") :])
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        if mode == "huge":
            self.send_response(200)
            self.send_header("Content-Length", str(1 << 30))
            self.end_headers()
            chunk = b"\0" * (1 << 16)
            try:
                for _ in range((1 << 30) // len(chunk)):
                    self.wfile.write(chunk)
                    type(self).sent_bytes += len(chunk)
            except OSError:
                pass
            return
        status = 500 if mode == "500" else 200
        self.send_response(status)
        self.send_header("Content-Length", "2")
        self.end_headers()
        self.wfile.write(b"ok")

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def receiver() -> Iterator[tuple[int, type[Receiver]]]:
    handler = type("R", (Receiver,), {"mode": "ok", "bodies": [], "sent_bytes": 0})
    server = socketserver.ThreadingTCPServer(("127.0.0.1", 0), handler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield server.server_address[1], handler
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture
def ledger(tmp_path: Path) -> Iterator[Ledger]:
    store = Ledger(tmp_path / "store.sqlite")
    data = {"id": "x", "title": "Checkout down", "startedAt": "2026-03-14T02:00:00Z"}
    store.ingest("r1", [AlertIn("incident:x", "x", True, data)], T0)
    yield store
    store.close()


def item(ledger: Ledger, channel: str = "pager", notification: str = "page") -> OutboxItem:
    ident = ledger.open_incidents()[0].id
    return OutboxItem(f"{ident}/{notification}/1", ident, channel, notification, "1", "S", "B", 0)


def policy(url: str, **extra: Any) -> Policy:
    return Policy(
        allow_hosts=frozenset({"127.0.0.1"}),
        timeout=0.5,
        backoff=10,
        max_attempts=3,
        env={"PLAYBOOK_CHANNEL_PAGER": url},
        **extra,
    )


def deliveries(ledger: Ledger) -> list[str]:
    ident = ledger.open_incidents()[0].id
    return [e["detail"] for e in ledger.timeline(ident) if e["kind"] == "delivery"]


def test_delivered_once_and_recorded(ledger: Ledger, receiver: Any) -> None:
    port, handler = receiver
    ledger.enqueue([item(ledger)], T0)
    ledger.enqueue([item(ledger)], T0)  # the same key again: not a second notification
    url = f"json://127.0.0.1:{port}/hook"
    assert run(ledger, T0, policy(url), live=True) == 1
    assert run(ledger, T0 + timedelta(hours=1), policy(url), live=True) == 0
    assert len(handler.bodies) == 1 and b'"title": "S"' in handler.bodies[0]
    assert deliveries(ledger) == ["page to pager: attempt 1 sent"]


def test_dry_run_sends_nothing(ledger: Ledger, receiver: Any) -> None:
    port, handler = receiver
    ledger.enqueue([item(ledger)], T0)
    run(ledger, T0, policy(f"json://127.0.0.1:{port}/hook"), live=False)
    assert handler.bodies == [] and deliveries(ledger) == ["page to pager: attempt 1 dry-run"]


@pytest.mark.parametrize(
    ("url", "reason"),
    [
        ("json://127.0.0.1:{port}/hook", "loopback"),
        ("json://10.1.2.3/hook", "private"),
        ("json://169.254.169.254/latest/meta-data", "link-local"),
        ("json://[::1]:{port}/hook", "loopback"),
        ("file:///etc/passwd", "scheme"),
        ("windows://", "scheme"),
    ],
)
def test_destinations_checked_before_any_request(
    ledger: Ledger, receiver: Any, url: str, reason: str
) -> None:
    port, handler = receiver
    url = url.format(port=port)
    strict = Policy(env={"PLAYBOOK_CHANNEL_PAGER": url}, timeout=0.5)
    assert reason in (check(url, strict) or "")
    ledger.enqueue([item(ledger)], T0)
    run(ledger, T0, strict, live=True)
    assert handler.bodies == []
    (detail,) = deliveries(ledger)
    assert "failed" in detail and "PLAYBOOK_CHANNEL_PAGER" in detail


def test_a_missing_destination_is_a_clear_failure(ledger: Ledger) -> None:
    ledger.enqueue([item(ledger)], T0)
    run(ledger, T0, Policy(env={}), live=True)
    assert deliveries(ledger) == [
        "page to pager: attempt 1 failed: channel 'pager': no destination: set "
        "$PLAYBOOK_CHANNEL_PAGER"
    ]


def test_redirects_are_not_followed(ledger: Ledger, receiver: Any) -> None:
    port, handler = receiver
    target = socket.socket()
    target.bind(("127.0.0.1", 0))
    target.listen()
    target.settimeout(0.5)
    handler.mode = f"redirect:http://127.0.0.1:{target.getsockname()[1]}/internal"
    ledger.enqueue([item(ledger)], T0)
    run(ledger, T0, policy(f"json://127.0.0.1:{port}/hook"), live=True)
    with pytest.raises(TimeoutError):
        target.accept()  # nobody came
    target.close()
    assert len(handler.bodies) == 1
    assert "attempt 1 pending" in deliveries(ledger)[0]


def test_a_receiver_that_never_answers_times_out_and_retries_bounded(
    ledger: Ledger, receiver: Any
) -> None:
    port, handler = receiver
    handler.mode = "hang"
    ledger.enqueue([item(ledger)], T0)
    pol = policy(f"json://127.0.0.1:{port}/hook")
    started = time.monotonic()
    clock = T0
    for _ in range(5):
        run(ledger, clock, pol, live=True)
        clock += timedelta(minutes=5)
    assert time.monotonic() - started < 10
    details = deliveries(ledger)
    assert [d.split(":")[1].split()[1] for d in details] == ["1", "2", "3"]
    assert "retry at 2026-03-14T02:00:10" in details[0]
    assert "retry at 2026-03-14T02:05:20" in details[1]  # backoff doubles: 10 s, 20 s
    assert "failed" in details[2] and "gave up after 3 attempts" in details[2]
    assert len(handler.bodies) == 3


def test_a_500_forever_gives_up_after_the_attempts(ledger: Ledger, receiver: Any) -> None:
    port, handler = receiver
    handler.mode = "500"
    ledger.enqueue([item(ledger)], T0)
    pol = policy(f"json://127.0.0.1:{port}/hook")
    for minute in range(0, 60, 5):
        run(ledger, T0 + timedelta(minutes=minute), pol, live=True)
    assert len(handler.bodies) == 3
    assert ledger.outbox()[0]["state"] == "failed"
    assert "gave up after 3 attempts" in deliveries(ledger)[-1]


def test_a_gigabyte_answer_is_read_only_up_to_the_limit(ledger: Ledger, receiver: Any) -> None:
    port, handler = receiver
    handler.mode = "huge"
    ledger.enqueue([item(ledger)], T0)
    started = time.monotonic()
    run(ledger, T0, policy(f"json://127.0.0.1:{port}/hook", max_answer=1 << 20), live=True)
    assert time.monotonic() - started < 10
    assert deliveries(ledger) == ["page to pager: attempt 1 sent"]  # the 200 said it was taken
    time.sleep(0.2)
    assert handler.sent_bytes < 64 << 20  # the rest was never read


class Mailbox:
    """An aiosmtpd handler: refuses recipients starting with `bad`, drops the first DATA when
    asked, keeps what it accepted."""

    def __init__(self) -> None:
        self.accepted: list[tuple[list[str], bytes]] = []
        self.drop_next_data = False

    async def handle_RCPT(  # noqa: N802
        self, server: Any, session: Any, envelope: Any, address: str, options: Any
    ) -> str:
        if address.startswith("bad"):
            return "550 5.1.1 no such user"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802
        if self.drop_next_data:
            self.drop_next_data = False
            server.transport.close()
            return "421 closing"
        self.accepted.append((list(envelope.rcpt_tos), envelope.content))
        return "250 OK"


@pytest.fixture
def smtp() -> Iterator[tuple[int, Mailbox]]:
    from aiosmtpd.controller import Controller

    mailbox = Mailbox()
    port = _free_port()
    controller = Controller(mailbox, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield port, mailbox
    finally:
        controller.stop()


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def mail_policy(port: int, to: str) -> Policy:
    url = f"mailto://127.0.0.1:{port}?to={to}&from=playbook@example.com&mode=insecure"
    return Policy(
        allow_hosts=frozenset({"127.0.0.1"}),
        timeout=2,
        backoff=10,
        max_attempts=3,
        env={"PLAYBOOK_CHANNEL_EXEC_EMAIL": url},
    )


def test_email_is_delivered_once(ledger: Ledger, smtp: Any) -> None:
    port, mailbox = smtp
    ledger.enqueue([item(ledger, "exec-email", "exec")], T0)
    run(ledger, T0, mail_policy(port, "exec@example.com"), live=True)
    run(ledger, T0 + timedelta(hours=1), mail_policy(port, "exec@example.com"), live=True)
    assert [to for to, _ in mailbox.accepted] == [["exec@example.com"]]
    assert deliveries(ledger) == ["exec to exec-email: attempt 1 sent"]


def test_a_rejected_recipient_is_a_clear_failure_not_retried(ledger: Ledger, smtp: Any) -> None:
    port, mailbox = smtp
    ledger.enqueue([item(ledger, "exec-email", "exec")], T0)
    for minute in (0, 10, 20):
        run(ledger, T0 + timedelta(minutes=minute), mail_policy(port, "bad@example.com"), True)
    (detail,) = deliveries(ledger)
    assert "attempt 1 failed" in detail and "550" in detail and "no such user" in detail
    assert mailbox.accepted == []


def test_a_drop_during_data_is_retried_and_sent_once(ledger: Ledger, smtp: Any) -> None:
    port, mailbox = smtp
    mailbox.drop_next_data = True
    ledger.enqueue([item(ledger, "exec-email", "exec")], T0)
    pol = mail_policy(port, "exec@example.com")
    run(ledger, T0, pol, live=True)
    run(ledger, T0 + timedelta(seconds=5), pol, live=True)  # before the backoff: nothing
    run(ledger, T0 + timedelta(seconds=11), pol, live=True)
    run(ledger, T0 + timedelta(minutes=10), pol, live=True)
    details = deliveries(ledger)
    assert "attempt 1 pending" in details[0] and "retry at" in details[0]
    assert details[1] == "exec to exec-email: attempt 2 sent"
    assert len(details) == 2 and len(mailbox.accepted) == 1
