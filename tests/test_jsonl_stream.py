"""`playbook run --jsonl` streams (issue #15): each plan is written as its line is read, and
memory does not grow with the number of lines."""

from __future__ import annotations

import json
import select
import subprocess
import sys
from pathlib import Path

from conftest import PLAYBOOK

LIBRARY = Path(__file__).parent / "data" / "libraries" / "basic"
CLOCK = ["--at", "2026-01-01T00:05:00Z"]
LINE = (
    json.dumps(
        {
            "id": "INC-{n}",
            "title": "Checkout errors",
            "startedAt": "2026-01-01T00:00:00Z",
            "severity": "critical",
            "customersAffected": 5000,
        }
    )
    + "\n"
)

PEAK = """
import resource, subprocess, sys
lines, command = int(sys.argv[1]), sys.argv[2:]
child = subprocess.Popen(command, stdin=subprocess.PIPE, stdout=subprocess.DEVNULL)
line = sys.stdin.read()
for n in range(lines):
    child.stdin.write(line.replace("{n}", str(n)).encode())
child.stdin.close()
assert child.wait() == 0
print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)
"""


def _peak_kib(lines: int) -> int:
    command = [*PLAYBOOK, "run", "--jsonl", "-", "--library", str(LIBRARY), *CLOCK]
    result = subprocess.run(
        [sys.executable, "-c", PEAK, str(lines), *command],
        input=LINE,
        capture_output=True,
        text=True,
        timeout=300,
        check=True,
    )
    return int(result.stdout)


def test_memory_does_not_grow_with_the_stream() -> None:
    small, large = _peak_kib(500), _peak_kib(5000)
    # Ten times the lines: before, every plan was kept until the end (4.49 GB for 100,000).
    assert large - small < 16 * 1024, (small, large)


def test_each_plan_is_written_as_its_line_is_read() -> None:
    child = subprocess.Popen(
        [*PLAYBOOK, "run", "--jsonl", "-", "--library", str(LIBRARY), *CLOCK],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
    )
    assert child.stdin is not None and child.stdout is not None
    try:
        for n in range(2):
            child.stdin.write(LINE.replace("{n}", str(n)).encode())
            child.stdin.flush()
            ready, _, _ = select.select([child.stdout], [], [], 30)
            assert ready, "no plan before standard input was closed"
            plan = json.loads(child.stdout.readline())
            assert plan["incident"]["id"] == f"INC-{n}"
    finally:
        child.stdin.close()
        child.wait(timeout=30)
        child.stdout.close()
    assert child.returncode == 0


def test_a_line_over_the_incident_limit_is_an_error_line_and_the_rest_goes_on(
    tmp_path: Path,
) -> None:
    stream = tmp_path / "in.jsonl"
    with stream.open("w") as handle:
        handle.write(LINE.replace("{n}", "0"))
        handle.write('{"id": "' + "x" * (1 << 21) + '"}\n')
        handle.write(LINE.replace("{n}", "2"))
    result = subprocess.run(
        [*PLAYBOOK, "run", "--jsonl", str(stream), "--library", str(LIBRARY), *CLOCK],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 1
    first, refused, last = (json.loads(line) for line in result.stdout.splitlines())
    assert first["incident"]["id"] == "INC-0" and last["incident"]["id"] == "INC-2"
    assert refused["line"] == 2
    assert refused["errors"][0]["message"] == "line is longer than 1,048,576 bytes"
