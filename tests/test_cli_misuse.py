"""The real `playbook` command misused: missing, unreadable and special files, closed or
terminal standard input, outputs that cannot be written, and Ctrl-C.

Each answer is one clear line (plus a hint), the right exit code (2 for input and usage
errors, 130 for an interrupt), no partial output file, and never a traceback.
"""

from __future__ import annotations

import os
import pty
import shutil
import signal
import stat
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parent.parent
LIBRARY = ROOT / "tests" / "data" / "hostile-playbooks" / "echo"
INCIDENT = ROOT / "playbooks" / "incidents" / "01-gitlab-db-deletion.yaml"
CLOCK = ["--at", "2026-02-01T00:30:00Z"]
PLAYBOOK = [sys.executable, "-m", "playbook_engine"]
Completed = subprocess.CompletedProcess[str]


@pytest.fixture(scope="module")
def env(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    cache = tmp_path_factory.mktemp("cache")
    return {**os.environ, "PLAYBOOK_CACHE_DIR": str(cache), "NO_COLOR": "1"}


def playbook(env: dict[str, str], *args: str | Path, **kwargs: Any) -> Completed:
    """Run the real command; every answer must come within 20 seconds."""
    kwargs.setdefault("stdin", subprocess.DEVNULL)
    kwargs.setdefault("stdout", subprocess.PIPE)
    kwargs.setdefault("stderr", subprocess.PIPE)
    return subprocess.run(
        [*PLAYBOOK, *map(str, args)],
        text=True,
        timeout=20,
        env=env,
        cwd=ROOT,
        check=False,
        **kwargs,
    )


def run(env: dict[str, str], incident: str | Path, *extra: str | Path, **kwargs: Any) -> Completed:
    return playbook(env, "run", incident, "--library", LIBRARY, *CLOCK, *extra, **kwargs)


def one_error(result: Completed, code: int, expected: str) -> None:
    """Exit `code`, nothing on stdout, and stderr one line holding `expected`, maybe a hint."""
    assert "Traceback" not in result.stderr
    assert "internal error" not in result.stderr
    assert result.returncode == code, result.stderr
    assert result.stdout == ""
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert 1 <= len(lines) <= 2, result.stderr
    assert expected in lines[0]
    assert len(lines) == 1 or lines[1].startswith("  hint: ")


def leftovers(directory: Path) -> list[str]:
    return sorted(p.name for p in directory.iterdir())


# --- input files --------------------------------------------------------------------------


def test_missing_incident_file(env: dict[str, str], tmp_path: Path) -> None:
    missing = tmp_path / "nope.yaml"
    one_error(run(env, missing), 2, f"{missing}: error IN101 cannot read incident: No such file")


def test_missing_path_to_validate(env: dict[str, str], tmp_path: Path) -> None:
    result = playbook(env, "validate", tmp_path / "nope")
    assert result.returncode == 2
    assert "error PB111 no such file or directory" in result.stdout
    assert "Traceback" not in result.stdout + result.stderr


def test_directory_where_an_incident_file_is_expected(env: dict[str, str], tmp_path: Path) -> None:
    one_error(run(env, tmp_path), 2, "error IN101 is a directory; expected an incident file")


def test_unreadable_incident_file(env: dict[str, str], tmp_path: Path) -> None:
    if os.geteuid() != 0:
        unreadable = tmp_path / "secret.yaml"
        unreadable.write_text("id: a\n")
        unreadable.chmod(0)
        reason = "Permission denied"
    else:
        # Root reads any file whatever its mode; /proc/self/mem exists and fails to read (EIO).
        unreadable = Path("/proc/self/mem")
        if not unreadable.exists():
            pytest.skip("running as root without /proc: no way to make a file unreadable")
        reason = "Input/output error"
    one_error(run(env, unreadable), 2, f"error IN101 cannot read incident: {reason}")
    result = playbook(env, "validate", unreadable)
    assert result.returncode == 2
    assert f"error PB111 cannot read file: {reason}" in result.stdout


def test_empty_incident_file(env: dict[str, str], tmp_path: Path) -> None:
    empty = tmp_path / "empty.json"
    empty.write_bytes(b"")
    one_error(run(env, empty), 2, "empty.json:1:1: error PB110 empty document")


def test_endless_device_is_refused_with_a_bound(env: dict[str, str]) -> None:
    one_error(run(env, "/dev/zero"), 2, "/dev/zero: error IN101 input is larger than")
    result = playbook(env, "validate", "/dev/zero")
    assert result.returncode == 2
    assert "/dev/zero: error PB111 is not a regular file" in result.stdout


def test_fifo_inside_a_library_does_not_hang_validate(env: dict[str, str], tmp_path: Path) -> None:
    library = tmp_path / "library"
    library.mkdir()
    for source in LIBRARY.iterdir():
        (library / source.name).write_bytes(source.read_bytes())
    os.mkfifo(library / "pipe.yaml")
    result = playbook(env, "validate", library)
    assert result.returncode == 2
    assert "pipe.yaml: error PB111 is not a regular file" in result.stdout


def test_library_that_is_a_file_or_missing(env: dict[str, str], tmp_path: Path) -> None:
    for library in (LIBRARY / "policy.yaml", tmp_path / "none"):
        result = playbook(env, "run", INCIDENT, "--library", library, *CLOCK)
        one_error(result, 2, "error PB111 library directory not found")


# --- standard input -----------------------------------------------------------------------


def test_closed_standard_input(env: dict[str, str]) -> None:
    command = " ".join([*PLAYBOOK, "run", "-", "--library", str(LIBRARY), *CLOCK])
    result = subprocess.run(
        ["sh", "-c", f"exec {command} <&-"],
        capture_output=True,
        text=True,
        timeout=20,
        env=env,
        check=False,
    )
    one_error(result, 2, "<stdin>: error IN101 standard input is closed")


def test_terminal_as_standard_input(env: dict[str, str]) -> None:
    leader, follower = pty.openpty()
    try:
        result = run(env, "-", stdin=follower)
    finally:
        os.close(leader)
        os.close(follower)
    one_error(result, 2, "<stdin>: error IN101 standard input is a terminal")


def test_empty_standard_input(env: dict[str, str]) -> None:
    one_error(run(env, "-"), 2, "<stdin>:1:1: error PB110 empty document")


# --- usage ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["frobnicate"], "Usage: playbook"),
        (["run", str(INCIDENT), "--format", "pdf"], "Usage: playbook run"),
        (["run", "--library", str(LIBRARY)], "Usage: playbook run"),
        (["run", str(INCIDENT), "--library", str(LIBRARY), "--at", "yesterday"], "IN103 --at"),
        (["run", str(INCIDENT), "--library", str(LIBRARY), "--at", "2026-01-01T00:00"], "IN103"),
        (["schema", "nosuch"], "Usage: playbook schema"),
    ],
)
def test_usage_errors_are_exit_2_without_traceback(
    env: dict[str, str], args: list[str], expected: str
) -> None:
    result = playbook(env, *args)
    assert result.returncode == 2
    assert expected in result.stderr
    assert "Traceback" not in result.stderr
    assert result.stdout == ""


# --- outputs --------------------------------------------------------------------------------


def test_output_into_a_missing_directory(env: dict[str, str], tmp_path: Path) -> None:
    target = tmp_path / "missing" / "plan.md"
    one_error(run(env, INCIDENT, "-o", target), 2, "error IN105 cannot write output: No such file")
    assert leftovers(tmp_path) == []


def test_output_onto_a_directory(env: dict[str, str], tmp_path: Path) -> None:
    (tmp_path / "plan.md").mkdir()
    result = run(env, INCIDENT, "-o", tmp_path / "plan.md")
    one_error(result, 2, "plan.md: error IN105 cannot write output: is a directory")
    assert leftovers(tmp_path) == ["plan.md"]


def test_output_onto_a_full_device(env: dict[str, str], tmp_path: Path) -> None:
    if not Path("/dev/full").is_char_device():
        pytest.skip("no /dev/full on this system")
    result = run(env, INCIDENT, "-o", "/dev/full")
    one_error(result, 2, "/dev/full: error IN105 cannot write output: No space left on device")
    assert Path("/dev/full").is_char_device()  # written in place, never replaced


def test_standard_output_on_a_full_device(env: dict[str, str]) -> None:
    if not Path("/dev/full").is_char_device():
        pytest.skip("no /dev/full on this system")
    with open("/dev/full", "w") as full:
        result = run(env, INCIDENT, stdout=full)
    assert result.returncode == 2
    assert result.stderr == "playbook: cannot write output: No space left on device\n"


def test_a_reader_that_leaves_early_gets_no_noise(env: dict[str, str]) -> None:
    """`playbook run ... | head -1` when the reader has gone: click reports the closed pipe
    as exit 1 without a message, and the fast exit adds no "Exception ignored" either."""
    read_end, write_end = os.pipe()
    os.close(read_end)
    with os.fdopen(write_end, "w") as closed:
        result = run(env, INCIDENT, stdout=closed)
    assert (result.returncode, result.stderr) == (1, "")


def test_exit_codes_survive_the_fast_exit(env: dict[str, str], tmp_path: Path) -> None:
    """The console script ends with `os._exit`: codes and both streams still arrive whole."""
    missing = run(env, tmp_path / "missing.yaml")
    assert missing.returncode == 2 and "missing.yaml" in missing.stderr
    plan = run(env, INCIDENT, "--format", "json")
    assert plan.returncode == 0 and plan.stdout.rstrip().endswith("}")


def test_output_onto_a_device_keeps_the_device(env: dict[str, str], tmp_path: Path) -> None:
    if os.geteuid() != 0:
        pytest.skip("creating a device node needs root")
    device = tmp_path / "null"
    os.mknod(device, stat.S_IFCHR | 0o666, os.makedev(1, 3))  # a private /dev/null
    result = run(env, INCIDENT, "-o", device)
    assert (result.returncode, result.stderr) == (0, "")
    assert device.is_char_device()
    assert leftovers(tmp_path) == ["null"]


def test_output_through_a_symlink_replaces_its_target(env: dict[str, str], tmp_path: Path) -> None:
    target = tmp_path / "plan.md"
    target.write_text("old\n")
    (tmp_path / "link.md").symlink_to(target)
    result = run(env, INCIDENT, "-o", tmp_path / "link.md")
    assert (result.returncode, result.stderr) == (0, "")
    assert (tmp_path / "link.md").is_symlink()
    assert target.read_text().startswith("# INC-2026-0131")
    assert leftovers(tmp_path) == ["link.md", "plan.md"]


# --- interrupts -----------------------------------------------------------------------------


@pytest.fixture
def blocked_stdin(tmp_path: Path) -> Iterator[int]:
    """A FIFO opened for reading and writing: a reader of it blocks, and never sees its end."""
    fifo = tmp_path / "stdin.fifo"
    os.mkfifo(fifo)
    fd = os.open(fifo, os.O_RDWR)
    try:
        yield fd
    finally:
        os.close(fd)


def test_ctrl_c_while_reading_standard_input(
    env: dict[str, str], tmp_path: Path, blocked_stdin: int
) -> None:
    out = tmp_path / "out"
    out.mkdir()
    process = subprocess.Popen(
        [*PLAYBOOK, "run", "-", "--library", str(LIBRARY), *CLOCK, "-o", str(out / "plan.md")],
        stdin=blocked_stdin,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    _wait_until_blocked(process.pid)
    process.send_signal(signal.SIGINT)
    stdout, stderr = process.communicate(timeout=20)
    assert process.returncode == 130
    assert stdout == ""
    assert [line for line in stderr.splitlines() if line.strip()] == ["playbook: interrupted"]
    assert leftovers(out) == []


def _wait_until_blocked(pid: int) -> None:
    """Until the process sleeps in a read of its standard input (or 10 seconds pass)."""
    deadline = time.monotonic() + 10
    stdin_link = Path(f"/proc/{pid}/fd/0")
    while time.monotonic() < deadline:
        try:
            syscall = Path(f"/proc/{pid}/syscall").read_text().split()
        except OSError:
            syscall = []
        # syscall 0 is read on x86-64 and 63 on arm64, with fd 0 as its first argument.
        if syscall[:2] in (["0", "0x0"], ["63", "0x0"]) and stdin_link.exists():
            return
        if not Path("/proc").is_dir():
            time.sleep(1.5)
            return
        time.sleep(0.05)


def test_output_files_get_ordinary_permissions(env: dict[str, str], tmp_path: Path) -> None:
    """mkstemp makes files private; a plan written with -o is an ordinary file (umask 022:
    0644), and a file it replaces keeps its own mode."""
    target = tmp_path / "plan.md"
    old = os.umask(0o022)
    try:
        assert run(env, INCIDENT, "-o", target).returncode == 0
        assert stat.S_IMODE(target.stat().st_mode) == 0o644
        target.chmod(0o640)
        assert run(env, INCIDENT, "-o", target).returncode == 0
        assert stat.S_IMODE(target.stat().st_mode) == 0o640
    finally:
        os.umask(old)


# --- crashes found by the hostile tester (issue #15) ----------------------------------------


def test_closed_standard_output_is_said_not_a_traceback(env: dict[str, str]) -> None:
    command = " ".join([*PLAYBOOK, "run", str(INCIDENT), "--library", str(LIBRARY), *CLOCK])
    result = subprocess.run(
        ["sh", "-c", f"exec {command} >&-"],
        capture_output=True,
        text=True,
        timeout=20,
        env=env,
        check=False,
    )
    one_error(result, 2, "playbook: standard output is closed")


def test_a_huge_duration_is_a_diagnostic_not_an_overflow(
    env: dict[str, str], tmp_path: Path
) -> None:
    library = tmp_path / "lib"
    shutil.copytree(LIBRARY, library)
    step = library / "echo.yaml"
    text = step.read_text(encoding="utf-8")
    assert "due: 5m" in text
    step.write_text(text.replace("due: 5m", 'due: "999999999999d"', 1), encoding="utf-8")
    result = playbook(env, "validate", library)
    assert result.returncode == 1, result.stderr
    assert "error PB301 invalid value '999999999999d': a duration may be at most 366 days" in (
        result.stdout
    )
    assert "internal error" not in result.stderr


def test_set_deeper_than_an_incident_may_nest_is_refused(env: dict[str, str]) -> None:
    deep = ".".join(["a"] * 5000) + "=1"
    result = run(env, INCIDENT, "--set", deep)
    one_error(result, 2, "--set: error IN104 --set names a field 5000 levels deep")
