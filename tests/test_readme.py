"""The README stays true: its Python example runs, and its quick-start paths exist."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
README = (ROOT / "README.md").read_text(encoding="utf-8")


def test_library_api_example_runs() -> None:
    section = README.split("## Library API", 1)[1]
    code = re.search(r"```python\n(.*?)```", section, re.S)
    assert code is not None
    result = subprocess.run(
        [sys.executable, "-c", code.group(1)], cwd=ROOT, capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("P1 [")


def test_quick_start_has_two_commands_naming_real_files() -> None:
    section = README.split("## Quick start", 1)[1].split("\n## ", 1)[0]
    commands = re.findall(r"```sh\n(.*?)\n```", section, re.S)
    assert len(commands) == 2
    for path in re.findall(r"playbooks/[\w/.-]+", commands[0]):
        assert (ROOT / path).exists(), path
    assert "pip install -e '.[test]'" in commands[1] and commands[1].endswith("pytest")
