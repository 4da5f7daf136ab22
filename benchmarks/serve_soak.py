"""Memory of `playbook serve` across a soak: alerts posted at a steady rate for N minutes
(loopback, SQLite), the server's resident memory sampled every 30 s.

Usage: python benchmarks/serve_soak.py [--minutes 10] [--rate 100]
Prints one JSON line per sample and a summary; docs/benchmarks.md records a run.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from serve_bench import LIBRARY, ROOT, TOKEN, free_port, wait_http, webhook  # noqa: E402


def rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, default=10)
    parser.add_argument("--rate", type=float, default=100, help="alerts per second")
    parser.add_argument("--groups", type=int, default=500)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as name:
        tmp = Path(name)
        port = free_port()
        env = {**os.environ, "PLAYBOOK_SERVE_TOKEN": TOKEN, "PYTHONPATH": str(ROOT)}
        log = (tmp / "serve.log").open("wb")
        proc = subprocess.Popen(
            [sys.executable, "-m", "playbook_engine", "serve", "--library", str(LIBRARY),
             "--store", str(tmp / "soak.sqlite"), "--port", str(port), "--log-level",
             "warning", "--interval", "1"],
            env=env, stdout=log, stderr=log,
        )  # fmt: skip
        try:
            wait_http(port, "/healthz")
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
            now = datetime.now(UTC)
            began = time.monotonic()
            end = began + args.minutes * 60
            samples = []
            next_sample = began
            n = 0
            while time.monotonic() < end:
                if time.monotonic() >= next_sample:
                    sample = {"t_s": round(time.monotonic() - began), "rss_kib": rss_kib(proc.pid),
                              "alerts": n}  # fmt: skip
                    samples.append(sample)
                    print(json.dumps(sample), flush=True)
                    next_sample += 30
                body = webhook(n, now, args.groups)
                conn.request("POST", "/v1/alerts/alertmanager", body,
                             {"Authorization": f"Bearer {TOKEN}"})  # fmt: skip
                answer = conn.getresponse()
                answer.read()
                assert answer.status in (200, 202), answer.status
                n += 1
                pause = began + n / args.rate - time.monotonic()
                if pause > 0:
                    time.sleep(pause)
            samples.append({"t_s": round(time.monotonic() - began), "rss_kib": rss_kib(proc.pid),
                            "alerts": n})  # fmt: skip
            after_warmup = [s["rss_kib"] for s in samples if s["t_s"] >= 60]
            print(json.dumps({
                "alerts": n,
                "minutes": args.minutes,
                "rss_first_kib": samples[0]["rss_kib"],
                "rss_at_1min_kib": after_warmup[0] if after_warmup else None,
                "rss_last_kib": samples[-1]["rss_kib"],
                "rss_max_after_1min_kib": max(after_warmup) if after_warmup else None,
            }))  # fmt: skip
        finally:
            proc.send_signal(signal.SIGTERM)
            proc.wait(timeout=60)
            log.close()


if __name__ == "__main__":
    main()
