"""The fast paths of `playbook validate` report exactly what the full check reports.

Checking one file of a library (a pre-commit hook's call) skips work whose diagnostics could
not be about that file: suites that neither are the file nor name it as an incident file.
Whatever is skipped, the diagnostics of a file are those of a check of the whole library,
restricted to that file. Template analyses kept in the code store answer as a fresh analysis
would, and only authentic entries are believed.
"""

from __future__ import annotations

import marshal
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from playbook_engine import sandbox
from playbook_engine.cache import CodeStore
from playbook_engine.diagnostics import sorted_diagnostics
from playbook_engine.library import display_path
from playbook_engine.validate import validate_paths

ROOT = Path(__file__).resolve().parent.parent

BROKEN_SUITE = """\
apiVersion: playbook-engine/v1
kind: TestSuite
metadata: {id: broken-refs}
spec:
  at: "2026-02-01T00:30:00Z"
  cases:
    - name: names an incident file with an unknown field
      incidentFile: ../incidents/odd.yaml
      expect: {priority: P1}
    - name: names a playbook as its incident
      incidentFile: ../payment-failures.yaml
      expect: {priority: P1}
    - name: expects a playbook that does not exist
      incidentFile: ../incidents/01-gitlab-db-deletion.yaml
      expect: {playbooks: [no-such-playbook]}
"""

ODD_INCIDENT = """\
id: INC-1
title: An incident whose start is not a timestamp
startedAt: "yesterday"
"""


@pytest.fixture()
def library(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The bundled library with its suites and incidents, plus a suite whose problems lie in
    itself, in an incident file it names and in a library document it names as an incident.
    The working directory is above it, so that paths are shown relative, as in a repository."""
    monkeypatch.chdir(tmp_path)
    target = Path("lib")
    shutil.copytree(ROOT / "playbooks", target)
    (target / "tests" / "broken-refs.yaml").write_text(BROKEN_SUITE)
    (target / "incidents" / "odd.yaml").write_text(ODD_INCIDENT)
    return target


def by_file(library: Path) -> dict[str, list[str]]:
    """The diagnostics of a check of the whole library, by file, as text."""
    found: dict[str, list[str]] = {}
    for d in validate_paths([library]).diagnostics:
        found.setdefault(d.span.path, []).append(repr(d))
    return found


def test_each_file_alone_reports_what_the_whole_check_reports_on_it(library: Path) -> None:
    whole = by_file(library)
    suite = display_path(library / "tests" / "broken-refs.yaml")
    incident = display_path(library / "incidents" / "odd.yaml")
    assert incident == "lib/incidents/odd.yaml"
    playbook = display_path(library / "payment-failures.yaml")
    # The fixture puts problems where only the suites find them: otherwise this proves little.
    assert {suite, incident, playbook} <= whole.keys()
    files = sorted(
        p
        for p in library.rglob("*")
        if p.suffix in (".yaml", ".yml", ".json") and "goldens" not in p.parts
    )
    assert len(files) > 25
    for path in files:
        alone = validate_paths([path])
        assert [repr(d) for d in alone.diagnostics] == whole.get(display_path(path), [])
        assert alone.files == 1


def test_files_asked_for_together_report_what_each_reports_alone(library: Path) -> None:
    paths = [
        library / "incidents" / "odd.yaml",
        library / "database-failure.yaml",
        library / "tests" / "playbooks.yaml",
        library / "tests" / "broken-refs.yaml",
    ]
    together = validate_paths(paths)
    alone = [d for path in paths for d in validate_paths([path]).diagnostics]
    assert together.diagnostics == sorted_diagnostics(alone)
    assert len(together.diagnostics) > 1
    assert together.files == 4


# --- template analyses kept in the code store ----------------------------------------------

ANALYSED = [
    ("{{ incident.labels['team'] }} {{ incident.title.upper() }}", False),
    ("{{ x.__class__ }} {{ items | map(attribute='a._b') | list }} {{ y['_z'] }}", False),
    ("{{ macros.badge(priority.id) }} {{ macros.other }}", False),
    ("{{ incident.labels['a\\x00b'] }}", False),  # any text may be a key
    ("incident.metrics.errors > 5 and incident._secret", True),
]


def analyses(source: str, expression: bool) -> tuple[set[str], set[str], set[str]]:
    return (
        sandbox.attribute_paths(source, expression),
        sandbox.private_lookups(source, expression),
        sandbox.macro_uses(source) if not expression else set(),
    )


def forget() -> None:
    """Drop this process's memo, so that the next question goes to the store."""
    sandbox._analysis.cache_clear()


@pytest.fixture()
def store(tmp_path: Path) -> Iterator[CodeStore]:
    code = CodeStore(tmp_path / "code", b"k" * 32, ("engine",))
    forget()
    sandbox.use_code_store(code)
    yield code
    sandbox.use_code_store(None)
    forget()


def test_analyses_from_the_store_equal_fresh_ones(store: CodeStore) -> None:
    sandbox.use_code_store(None)
    fresh = [analyses(*case) for case in ANALYSED]
    assert fresh[1][1] == {"__class__", "_b", "_z"} and fresh[3][0] == {"incident.labels.a\0b"}
    forget()
    sandbox.use_code_store(store)
    assert [analyses(*case) for case in ANALYSED] == fresh  # cold: computed and stored
    stored = sorted((store.directory).iterdir())
    assert len(stored) == len(ANALYSED)
    forget()
    assert [analyses(*case) for case in ANALYSED] == fresh  # warm: read back
    assert sorted(store.directory.iterdir()) == stored


def test_the_store_is_what_answers_when_warm(store: CodeStore) -> None:
    source = "{{ incident.title }}"
    assert sandbox.attribute_paths(source) == {"incident.title"}
    # An authentic entry is believed: proof that a warm run does not parse again.
    store.put(f"analysis\0{0}\0{source}", marshal.dumps((("incident.forged",), (), ())))
    forget()
    assert sandbox.attribute_paths(source) == {"incident.forged"}


def test_damaged_or_foreign_analyses_are_recomputed(store: CodeStore, tmp_path: Path) -> None:
    source = "{{ incident.title }} {{ x._y }}"
    expected = analyses(source, False)
    (entry,) = store.directory.iterdir()
    blob = bytearray(entry.read_bytes())
    blob[-1] ^= 1
    entry.write_bytes(bytes(blob))
    forget()
    assert analyses(source, False) == expected
    other = CodeStore(tmp_path / "code", b"x" * 32, ("engine",))  # another user's secret
    other.put(f"analysis\0{0}\0{source}", marshal.dumps((("forged",), (), ())))
    forget()
    assert analyses(source, False) == expected
    store.put(f"analysis\0{0}\0{source}", marshal.dumps(["not", "a", "tuple"]))
    forget()
    assert analyses(source, False) == expected


def test_a_template_that_does_not_parse_is_never_stored(store: CodeStore) -> None:
    with pytest.raises(sandbox.TemplateError):
        sandbox.attribute_paths("{{ incident.title ")
    assert not store.directory.exists()
