"""Semantic and compile diagnostics (PB3xx, PB4xx, PB5xx): each case in tests/data/semantic is a
playbook added to the small `basic` library; `expected.json` lists its exact diagnostics."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from playbook_engine.pipeline import load_library

DATA = Path(__file__).parent / "data"
CASES = DATA / "semantic"
EXPECTED = json.loads((CASES / "expected.json").read_text())


@pytest.mark.parametrize("case", sorted(EXPECTED))
def test_case_has_exactly_its_diagnostics(case: str, tmp_path: Path) -> None:
    library = tmp_path / "lib"
    shutil.copytree(DATA / "libraries" / "basic", library)
    shutil.copy(CASES / case, library / case)
    found = [
        [d.code, d.span.line, d.span.col, d.message]
        for d in load_library(library).diagnostics
        if Path(d.span.path).name == case
    ]
    assert found == EXPECTED[case]


def test_every_case_file_has_expectations() -> None:
    assert sorted(p.name for p in CASES.glob("*.yaml")) == sorted(EXPECTED)
