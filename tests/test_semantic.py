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


def test_a_literal_blocks_wrong_line_survives_the_document_cache(tmp_path: Path) -> None:
    # The second validate reads the documents from the cache: the block's position is kept.
    import os
    import subprocess

    from conftest import PLAYBOOK

    library = tmp_path / "lib"
    shutil.copytree(DATA / "libraries" / "basic", library)
    shutil.copy(CASES / "template-lines.yaml", library)
    env = {**os.environ, "PLAYBOOK_CACHE_DIR": str(tmp_path / "cache")}
    runs = [
        subprocess.run(
            [*PLAYBOOK, "validate", str(library)], capture_output=True, text=True, env=env
        )
        for _ in range(2)
    ]
    assert [r.returncode for r in runs] == [1, 1]
    assert runs[0].stdout == runs[1].stdout
    assert "template-lines.yaml:14:9: error PB403 template does not compile: unexpected '}'" in (
        runs[1].stdout
    )
