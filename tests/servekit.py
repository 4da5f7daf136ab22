"""A real `playbook serve` on 127.0.0.1 for tests: started as a subprocess, spoken to over
HTTP with urllib, stopped with SIGTERM."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from conftest import PLAYBOOK, ROOT

LIBRARY = Path(ROOT) / "playbooks"
TOKEN = "test-token-7b1e"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class Answer:
    status: int
    body: Any
    headers: Mapping[str, str]


def request(
    url: str,
    body: bytes | None = None,
    headers: Mapping[str, str] | None = None,
    method: str | None = None,
    timeout: float = 20,
) -> Answer:
    req = urllib.request.Request(url, data=body, headers=dict(headers or {}), method=method)
    try:
        with urllib.request.urlopen(req, timeout=timeout) as resp:
            raw = resp.read()
            status, hdrs = resp.status, dict(resp.headers)
    except urllib.error.HTTPError as exc:
        raw, status, hdrs = exc.read(), exc.code, dict(exc.headers)
    try:
        parsed: Any = json.loads(raw)
    except ValueError:
        parsed = raw.decode("utf-8", "replace")
    return Answer(status, parsed, {k.lower(): v for k, v in hdrs.items()})


@dataclass
class Server:
    url: str
    store: Path
    process: subprocess.Popen[bytes]
    log: Path

    def post(self, path: str, payload: Any, token: str | None = TOKEN, **headers: str) -> Answer:
        body = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
        all_headers = {"Content-Type": "application/json", **headers}
        if token is not None:
            all_headers["Authorization"] = f"Bearer {token}"
        return request(self.url + path, body, all_headers)

    def get(self, path: str, **headers: str) -> Answer:
        return request(self.url + path, headers=headers)

    def logs(self) -> str:
        return self.log.read_text(encoding="utf-8")


@contextmanager
def serving(
    tmp: Path,
    *args: str,
    env: Mapping[str, str] | None = None,
    store: Path | None = None,
    library: Path = LIBRARY,
) -> Iterator[Server]:
    port = free_port()
    store = store or tmp / "store.sqlite"
    log = tmp / f"serve-{port}.log"
    environment = {
        **os.environ,
        "PLAYBOOK_SERVE_TOKEN": TOKEN,
        **(env or {}),
    }
    command = [
        *PLAYBOOK, "serve", "--library", str(library), "--store", str(store),
        "--port", str(port), "--interval", "0.2", *args,
    ]  # fmt: skip
    with log.open("wb") as sink:
        process = subprocess.Popen(command, env=environment, stdout=sink, stderr=sink)
    server = Server(f"http://127.0.0.1:{port}", store, process, log)
    try:
        deadline = time.monotonic() + 30
        while True:
            if process.poll() is not None:
                raise AssertionError(f"serve exited {process.returncode}:\n{server.logs()}")
            try:
                if request(server.url + "/healthz", timeout=2).status == 200:
                    break
            except OSError:
                pass
            if time.monotonic() > deadline:
                raise AssertionError(f"serve did not start:\n{server.logs()}")
            time.sleep(0.1)
        yield server
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
