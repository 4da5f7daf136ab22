"""`playbook docs`: golden pages of a small library with hostile author text, the bundled
library's pages and links, well-formed tables, determinism, and writes that stay inside DIR.

Run with UPDATE_GOLDEN=1 to rewrite the expected pages after a deliberate change.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest
from conftest import PLAYBOOK
from hypothesis import given
from hypothesis import strategies as st

from playbook_engine.authoring.docsgen import build_pages, cell, code_cell, paragraph, write_pages
from playbook_engine.pipeline import load_library

REPO = Path(__file__).resolve().parent.parent
AUTHORING = "tests/data/libraries/authoring"
GOLDEN = REPO / "tests" / "data" / "golden" / "authoring" / "docs"
UPDATE = os.environ.get("UPDATE_GOLDEN") == "1"
_LINK = re.compile(r"\]\(<?([^)>\s]+)>?\)")
_UNESCAPED_PIPE = re.compile(r"(?<!\\)\|")


def playbook(*args: str, cwd: Path = REPO) -> subprocess.CompletedProcess[str]:
    """The installed `playbook` command, run for real."""
    env = {k: v for k, v in os.environ.items() if k != "PLAYBOOK_LIBRARY"}
    return subprocess.run(
        [*PLAYBOOK, *args], cwd=cwd, capture_output=True, text=True, timeout=60, env=env
    )


def pages_in(directory: Path) -> dict[str, str]:
    return {
        p.relative_to(directory).as_posix(): p.read_text(encoding="utf-8")
        for p in sorted(directory.rglob("*"))
        if p.is_file()
    }


@pytest.fixture(scope="module")
def authoring_docs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    out = tmp_path_factory.mktemp("docs")
    result = playbook("docs", "--library", AUTHORING, "--output", str(out))
    assert result.returncode == 0, result.stderr
    assert result.stdout == f"wrote 4 pages to {out}\n"
    return pages_in(out)


@pytest.fixture(scope="module")
def bundled_docs(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("bundled") / "site"  # created by the command
    result = playbook("docs", "-l", "playbooks", "-o", str(out))
    assert result.returncode == 0, result.stderr
    return out


def test_pages_match_golden(authoring_docs: dict[str, str]) -> None:
    if UPDATE:
        shutil.rmtree(GOLDEN, ignore_errors=True)
        for name, text in authoring_docs.items():
            (GOLDEN / name).parent.mkdir(parents=True, exist_ok=True)
            (GOLDEN / name).write_text(text, encoding="utf-8")
    assert GOLDEN.is_dir(), "no golden pages: run with UPDATE_GOLDEN=1 and review them"
    assert authoring_docs == pages_in(GOLDEN)


def test_author_text_is_escaped(authoring_docs: dict[str, str]) -> None:
    major = authoring_docs["playbooks/major.md"]
    assert major.startswith("# Major \\| incident \\*now\\*\n")
    assert "\\<script>alert(1)\\</script>" in major
    assert not re.search(r"(?<!\\)<script>", major)
    # A multi-line description is one paragraph; a template is shown, not rendered.
    assert "and a pipe \\| and \\`backticks\\` on the second line." in major
    assert "| `declare` | Declare {{ incident.id }} as {{ priority.id }} \\| run" in major
    # A body holding a four-backtick fence sits in a five-backtick one.
    assert "`````jinja\n<p>{{ incident.title }}</p>\n````\n" in major
    index = authoring_docs["index.md"]
    assert (
        "| **P1** | Critical \\| top | 15m | 4h | 24x7 | Everything is down. Second line" in index
    )


def test_every_table_row_has_as_many_cells_as_its_header(
    authoring_docs: dict[str, str], bundled_docs: Path
) -> None:
    for name, text in [*authoring_docs.items(), *pages_in(bundled_docs).items()]:
        lines = text.split("\n")
        for number, line in enumerate(lines):
            if not line.startswith("| ") or lines[number - 1].startswith("|"):
                continue
            width = len(_UNESCAPED_PIPE.findall(line))
            rows = [line]
            for following in lines[number + 1 :]:
                if not following.startswith("|"):
                    break
                rows.append(following)
            for row in rows:
                assert len(_UNESCAPED_PIPE.findall(row)) == width, f"{name}: {row}"


def test_bundled_library_has_a_page_per_playbook_and_links_resolve(bundled_docs: Path) -> None:
    result = load_library(REPO / "playbooks")
    assert result.compiled is not None
    ids = {p.id for p in result.compiled.library.playbooks}
    pages = pages_in(bundled_docs)
    assert set(pages) == {"index.md", *(f"playbooks/{i}.md" for i in ids)}
    index = pages["index.md"]
    for ident in ids:
        assert f"(playbooks/{ident}.md)" in index
    for name, text in pages.items():
        for target in _LINK.findall(text):
            if target.startswith("https://"):
                continue
            resolved = (bundled_docs / name).parent / target
            assert resolved.resolve().is_file(), f"{name} links to missing {target}"
    database = pages["playbooks/database-failure.md"]
    assert "| Priority | Name | Respond within" in index
    assert "| **significant** | P1 | P2 | P2 | P3 |" in index
    assert "| +50m | 2 | repeat 1 | DBA secondary on-call (`dba-secondary`)" in database
    assert "### `db-chat-announce`" in database
    assert not list(bundled_docs.rglob(".*")), "temporary files left behind"


def test_docs_are_deterministic_and_rewrite_in_place(tmp_path: Path) -> None:
    first = playbook("docs", "-l", AUTHORING, "-o", str(tmp_path))
    before = pages_in(tmp_path)
    second = playbook("docs", "-l", AUTHORING, "-o", str(tmp_path))
    assert first.returncode == second.returncode == 0
    assert pages_in(tmp_path) == before


def test_output_that_is_a_file_is_refused(tmp_path: Path) -> None:
    target = tmp_path / "file.md"
    target.write_text("keep me")
    result = playbook("docs", "-l", AUTHORING, "-o", str(target))
    assert result.returncode == 2
    assert target.read_text() == "keep me"


def test_writes_never_leave_the_output_directory(tmp_path: Path) -> None:
    out = tmp_path / "out"
    outside = tmp_path / "outside"
    outside.mkdir()
    out.mkdir()
    (out / "playbooks").symlink_to(outside, target_is_directory=True)
    problems = write_pages(
        {
            "../escape.md": "x",
            "/etc/absolute.md": "x",
            "playbooks/through-link.md": "x",
            "playbooks/deeper/through-link.md": "x",
            "./inside.md": "x",
            "fine.md": "ok\n",
        },
        out,
    )
    assert sorted((d.code, d.span.path) for d in problems) == [
        ("DC101", "../escape.md"),
        ("DC101", "/etc/absolute.md"),
        ("DC101", "playbooks/deeper/through-link.md"),
        ("DC101", "playbooks/through-link.md"),
    ]
    assert list(outside.iterdir()) == []
    assert not (tmp_path / "escape.md").exists()
    assert (out / "fine.md").read_text() == "ok\n"
    assert (out / "inside.md").read_text() == "x"


def test_build_pages_is_a_pure_function_of_the_library() -> None:
    result = load_library(REPO / AUTHORING)
    assert result.compiled is not None
    library = result.compiled.library
    assert build_pages(library) == build_pages(library)


@given(st.text())
def test_cells_never_end_early_or_span_lines(text: str) -> None:
    for rendered in (cell(text), code_cell(text)):
        assert "\n" not in rendered and "\r" not in rendered
        assert not _UNESCAPED_PIPE.search(rendered)


@given(st.text())
def test_a_paragraph_never_opens_a_block(text: str) -> None:
    rendered = paragraph(text)
    assert "\n" not in rendered
    assert not re.match(r"[#>+=|:-]|\d+[.)]|\s", rendered)
