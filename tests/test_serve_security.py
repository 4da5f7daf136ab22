"""`playbook serve` security against a real server: tokens, vendor signatures, limits, slow
clients, no secret in logs, 503 + Retry-After when the store is locked, SNS confirmation."""

from __future__ import annotations

import base64
import hashlib
import hmac
import http.server
import json
import socket
import sqlite3
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from servekit import ROOT, TOKEN, Server, request, serving

PAYLOADS = Path(ROOT) / "tests" / "data" / "payloads"
PD_SECRET = "pd-signing-secret-31c9"
SENTRY_SECRET = "sentry-client-secret-e04a"
AM_TOKEN = "alertmanager-only-5d2f"


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    tmp = tmp_path_factory.mktemp("secure")
    token_file = tmp / "am-token"
    token_file.write_text(AM_TOKEN + "\n")
    env = {
        "PLAYBOOK_SERVE_TOKEN_ALERTMANAGER_FILE": str(token_file),
        "PLAYBOOK_SERVE_PAGERDUTY_SECRET": PD_SECRET,
        "PLAYBOOK_SERVE_SENTRY_SECRET": SENTRY_SECRET,
    }
    args = ("--max-body", "65536", "--body-timeout", "1")
    with serving(tmp, *args, env=env) as running:
        yield running


def body_of(fmt: str) -> bytes:
    paths = sorted(p for p in (PAYLOADS / fmt).glob("*.json") if ".expected" not in p.name)
    return paths[0].read_bytes()


def test_no_or_wrong_token_is_401(server: Server) -> None:
    body = body_of("datadog")
    assert server.post("/v1/alerts/datadog", body, token=None).status == 401
    assert server.post("/v1/alerts/datadog", body, token="wrong").status == 401
    assert server.post("/v1/alerts/datadog", body).status == 202


def test_a_source_token_from_a_file_replaces_the_default(server: Server) -> None:
    body = body_of("alertmanager")
    assert server.post("/v1/alerts/alertmanager", body).status == 401  # the default token
    assert server.post("/v1/alerts/alertmanager", body, token=AM_TOKEN).status == 202


def test_basic_auth_carries_the_token_as_password(server: Server) -> None:
    basic = base64.b64encode(f"sns:{TOKEN}".encode()).decode()
    answer = server.post(
        "/v1/alerts/opsgenie", body_of("opsgenie"), token=None, Authorization=f"Basic {basic}"
    )
    assert answer.status == 202
    wrong = base64.b64encode(b"sns:nope").decode()
    answer = server.post(
        "/v1/alerts/opsgenie", body_of("opsgenie"), token=None, Authorization=f"Basic {wrong}"
    )
    assert answer.status == 401


def sign(secret: str, body: bytes) -> str:
    return hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def test_pagerduty_v3_signature(server: Server) -> None:
    body = body_of("pagerduty-webhook")
    good = f"v1=deadbeef,v1={sign(PD_SECRET, body)}"  # rotation: any listed signature may match
    ok = server.post("/v1/alerts/pagerduty-webhook", body, **{"X-PagerDuty-Signature": good})
    assert ok.status == 202, ok.body
    bad = f"v1={sign('other', body)}"
    refused = server.post("/v1/alerts/pagerduty-webhook", body, **{"X-PagerDuty-Signature": bad})
    assert refused.status == 401
    assert server.post("/v1/alerts/pagerduty-webhook", body).status == 401


def test_sentry_signature(server: Server) -> None:
    body = body_of("sentry")
    ok = server.post(
        "/v1/alerts/sentry", body, **{"Sentry-Hook-Signature": sign(SENTRY_SECRET, body)}
    )
    assert ok.status == 202, ok.body
    tampered = body.replace(b"{", b"{ ", 1)
    refused = server.post(
        "/v1/alerts/sentry", tampered, **{"Sentry-Hook-Signature": sign(SENTRY_SECRET, body)}
    )
    assert refused.status == 401


def test_oversized_bodies_are_413_declared_or_streamed(server: Server) -> None:
    big = b'{"alerts": [' + b" " * 70000 + b"]}"
    assert server.post("/v1/alerts/alertmanager", big, token=AM_TOKEN).status == 413
    # chunked, without a Content-Length: counted as it arrives
    with socket.create_connection(("127.0.0.1", int(server.url.rsplit(":", 1)[1]))) as sock:
        head = (
            "POST /v1/alerts/alertmanager HTTP/1.1\r\nHost: x\r\n"
            f"Authorization: Bearer {AM_TOKEN}\r\nTransfer-Encoding: chunked\r\n\r\n"
        )
        sock.sendall(head.encode())
        chunk = b"x" * 16384
        try:
            for _ in range(8):
                sock.sendall(b"%x\r\n" % len(chunk) + chunk + b"\r\n")
            sock.sendall(b"0\r\n\r\n")
        except OSError:
            pass  # the server may close once it has refused
        answer = sock.recv(4096)
    assert answer.startswith(b"HTTP/1.1 413"), answer[:100]


def test_a_slow_body_is_408_not_a_held_worker(server: Server) -> None:
    port = int(server.url.rsplit(":", 1)[1])
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        head = (
            "POST /v1/alerts/datadog HTTP/1.1\r\nHost: x\r\n"
            f"Authorization: Bearer {TOKEN}\r\nContent-Length: 1000\r\n\r\n"
        )
        sock.sendall(head.encode() + b"{")
        started = time.monotonic()
        answer = sock.recv(4096)
        waited = time.monotonic() - started
    assert answer.startswith(b"HTTP/1.1 408"), answer[:100]
    assert waited < 5


def test_no_secret_reaches_the_logs(server: Server) -> None:
    server.post("/v1/alerts/datadog", body_of("datadog"), token="a-guessed-token-99")
    server.post("/v1/alerts/datadog", body_of("datadog"))
    logs = server.logs()
    for secret in (TOKEN, AM_TOKEN, PD_SECRET, SENTRY_SECRET, "a-guessed-token-99"):
        assert secret not in logs
    lines = [json.loads(line) for line in logs.splitlines() if line.startswith("{")]
    assert any(line["event"] == "intake unauthenticated" for line in lines)


def test_a_locked_store_is_503_with_retry_after(tmp_path: Path) -> None:
    with serving(tmp_path, "--busy-timeout", "0.3") as srv:
        holder = sqlite3.connect(srv.store, isolation_level=None)
        holder.execute("BEGIN EXCLUSIVE")
        try:
            answer = srv.post("/v1/alerts/datadog", body_of("datadog"))
        finally:
            holder.execute("ROLLBACK")
            holder.close()
        assert answer.status == 503 and answer.headers["retry-after"] == "5"
        # the sender's retry is taken once the store is back, and nothing was lost
        assert srv.post("/v1/alerts/datadog", body_of("datadog")).status == 202


def sns_confirmation(url: str) -> bytes:
    return json.dumps(
        {
            "Type": "SubscriptionConfirmation",
            "MessageId": "165545c9-2a5c-472c-8df2-7ff2be2b3b1b",
            "Token": "2336412f37",
            "TopicArn": "arn:aws:sns:us-east-1:123456789012:alarms",
            "Message": "You have chosen to subscribe to the topic ...",
            "SubscribeURL": url,
            "Timestamp": "2026-03-14T02:00:00.000Z",
        }
    ).encode()


class _Receiver(http.server.BaseHTTPRequestHandler):
    hits: list[str] = []

    def do_GET(self) -> None:  # noqa: N802
        _Receiver.hits.append(self.path)
        self.send_response(200)
        self.end_headers()
        self.wfile.write(b"<ConfirmSubscriptionResponse/>")

    def log_message(self, *args: object) -> None:
        pass


def test_sns_confirmation_fetches_only_amazonaws_https(tmp_path: Path) -> None:
    receiver = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Receiver)
    threading.Thread(target=receiver.serve_forever, daemon=True).start()
    port = receiver.server_address[1]
    try:
        # without the test allowance even loopback is refused, and so is any other host
        (tmp_path / "a").mkdir()
        with serving(tmp_path / "a") as srv:
            for url in (
                f"http://127.0.0.1:{port}/confirm",
                "https://sns.us-east-1.amazonaws.com.evil.example/?Action=ConfirmSubscription",
                "http://sns.us-east-1.amazonaws.com/?Action=ConfirmSubscription",
                "https://169.254.169.254/latest/meta-data/",
            ):
                answer = srv.post("/v1/alerts/cloudwatch-sns", sns_confirmation(url))
                assert answer.status == 400 and "refused" in answer.body["error"], url
        assert _Receiver.hits == []
        env = {"PLAYBOOK_SERVE_SNS_TEST_LOOPBACK": "1"}
        (tmp_path / "b").mkdir()
        with serving(tmp_path / "b", env=env) as srv:
            url = f"http://127.0.0.1:{port}/confirm?Token=2336412f37"
            answer = srv.post(
                "/v1/alerts/cloudwatch-sns",
                sns_confirmation(url),
                **{"x-amz-sns-message-type": "SubscriptionConfirmation"},
            )
            assert answer.status == 200, answer.body
        assert _Receiver.hits == ["/confirm?Token=2336412f37"]
    finally:
        receiver.shutdown()
        receiver.server_close()


def test_healthz_and_metrics(server: Server) -> None:
    assert server.get("/healthz").body == {"status": "ok"}
    metrics = request(server.url + "/metrics").body
    assert "playbook_intake_requests_total" in metrics
    assert 'status="401"' in metrics and "playbook_open_incidents" in metrics
