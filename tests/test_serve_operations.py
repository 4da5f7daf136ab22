"""Operations of `playbook serve`: JSON-line logs, /metrics, and a graceful shutdown that
finishes the request in flight."""

from __future__ import annotations

import json
import signal
import socket
import time
from pathlib import Path

from servekit import TOKEN, request, serving

INCIDENT = {"id": "INC-9", "title": "Queue backlog", "startedAt": "2026-03-14T02:00:00Z"}


def test_sigterm_finishes_the_request_in_flight(tmp_path: Path) -> None:
    with serving(tmp_path) as server:
        port = int(server.url.rsplit(":", 1)[1])
        body = json.dumps(INCIDENT).encode()
        sock = socket.create_connection(("127.0.0.1", port), timeout=20)
        head = (
            f"POST /v1/incidents HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {TOKEN}\r\n"
            f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n"
        )
        sock.sendall(head.encode() + body[:10])
        time.sleep(0.5)
        server.process.send_signal(signal.SIGTERM)  # while the body is still arriving
        time.sleep(0.5)
        sock.sendall(body[10:])
        answer = sock.recv(4096)
        sock.close()
        assert answer.startswith(b"HTTP/1.1 202"), answer[:200]
        assert server.process.wait(timeout=30) == 0
        logs = [json.loads(line) for line in server.logs().splitlines() if line.startswith("{")]
        events = [entry["event"] for entry in logs]
        assert "intake stored" in events and "stopped" in events
        assert events.index("intake stored") < events.index("stopped")
        assert all({"at", "level", "event"} <= set(entry) for entry in logs)


def test_metrics_count_intake(tmp_path: Path) -> None:
    with serving(tmp_path) as server:
        assert server.post("/v1/incidents", INCIDENT).status == 202
        assert server.post("/v1/incidents", INCIDENT).status == 200
        text = request(server.url + "/metrics").body
        assert 'playbook_intake_requests_total{source="incidents",status="202"} 1.0' in text
        assert 'playbook_intake_requests_total{source="incidents",status="200"} 1.0' in text
        assert 'playbook_intake_alerts_total{source="incidents"} 1.0' in text
        assert "playbook_open_incidents 1.0" in text
        assert "playbook_intake_seconds_bucket" in text
