"""The fast paths of `playbook validate` report exactly what the full check reports.

Checking one file of a library (a pre-commit hook's call) skips work whose diagnostics could
not be about that file: suites that neither are the file nor name it as an incident file.
Whatever is skipped, the diagnostics of a file are those of a check of the whole library,
restricted to that file. Template analyses and loaded documents kept in the code store answer
as a fresh analysis or load would, only for the same bytes, and only authentic entries are
believed.
"""

from __future__ import annotations

import hashlib
import json
import marshal
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from functools import partial
from pathlib import Path
from typing import Any

import pytest

from playbook_engine import sandbox
from playbook_engine.authoring.validate import validate_paths
from playbook_engine.diagnostics import sorted_diagnostics
from playbook_engine.load.discovery import discover, display_path
from playbook_engine.speed import doccache, stores
from playbook_engine.speed.cache import FileCodeStore
from playbook_engine.speed.doccache import load_checked
from playbook_engine.speed.prework import TemplateWork

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
    - name: names an incident file through a link of another name
      incidentFile: ../incidents/linked.yaml
      expect: {priority: P1}
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
    (target / "incidents" / "other.yaml").write_text(ODD_INCIDENT.replace("INC-1", "INC-2"))
    (target / "incidents" / "linked.yaml").symlink_to("other.yaml")
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
    linked = display_path(library / "incidents" / "other.yaml")  # named through a link
    # The fixture puts problems where only the suites find them: otherwise this proves little.
    assert {suite, incident, playbook, linked} <= whole.keys()
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


def analyses(source: str, expression: bool) -> tuple[set[str], ...]:
    return (
        sandbox.attribute_paths(source, expression),
        sandbox.private_lookups(source, expression),
        sandbox.macro_uses(source) if not expression else set(),
        sandbox.template_variables(source, expression),
    )


def forget() -> None:
    """Drop this process's memo, so that the next question goes to the store."""
    sandbox.forget_templates()


@pytest.fixture()
def store(tmp_path: Path) -> Iterator[FileCodeStore]:
    code = FileCodeStore(tmp_path / "code", b"k" * 32, ("engine",))
    forget()
    stores.use_code_store(code)
    yield code
    stores.use_code_store(None)
    forget()


def test_analyses_from_the_store_equal_fresh_ones(store: FileCodeStore) -> None:
    stores.use_code_store(None)
    fresh = [analyses(*case) for case in ANALYSED]
    assert fresh[1][1] == {"__class__", "_b", "_z"} and fresh[3][0] == {"incident.labels.a\0b"}
    forget()
    stores.use_code_store(store)
    assert [analyses(*case) for case in ANALYSED] == fresh  # cold: computed and stored
    stored = sorted((store.directory).iterdir())
    assert len(stored) == len(ANALYSED)
    forget()
    assert [analyses(*case) for case in ANALYSED] == fresh  # warm: read back
    assert sorted(store.directory.iterdir()) == stored


def test_the_store_is_what_answers_when_warm(store: FileCodeStore) -> None:
    source = "{{ incident.title }}"
    assert sandbox.attribute_paths(source) == {"incident.title"}
    # An authentic entry is believed: proof that a warm run does not parse again.
    forged = (("incident.forged",), (), (), ("forged_root",))
    store.put(f"analysis\0{0}\0{source}", marshal.dumps(forged))
    forget()
    assert sandbox.attribute_paths(source) == {"incident.forged"}
    assert sandbox.template_variables(source) == {"forged_root"}


def test_damaged_or_foreign_analyses_are_recomputed(store: FileCodeStore, tmp_path: Path) -> None:
    source = "{{ incident.title }} {{ x._y }}"
    expected = analyses(source, False)
    (entry,) = store.directory.iterdir()
    blob = bytearray(entry.read_bytes())
    blob[-1] ^= 1
    entry.write_bytes(bytes(blob))
    forget()
    assert analyses(source, False) == expected
    other = FileCodeStore(tmp_path / "code", b"x" * 32, ("engine",))  # another user's secret
    other.put(f"analysis\0{0}\0{source}", marshal.dumps((("forged",), (), (), None)))
    forget()
    assert analyses(source, False) == expected
    store.put(f"analysis\0{0}\0{source}", marshal.dumps(["not", "a", "tuple"]))
    forget()
    assert analyses(source, False) == expected


def test_a_template_that_does_not_parse_is_never_stored(store: FileCodeStore) -> None:
    with pytest.raises(sandbox.TemplateError):
        sandbox.attribute_paths("{{ incident.title ")
    assert not store.directory.exists()


# --- loaded and schema-checked documents kept in the code store ------------------------------

DOCUMENTS = {
    "syntax.yaml": "apiVersion: playbook-engine/v1\nkind: [Playbook\n",
    "schema.yaml": "apiVersion: playbook-engine/v1\nkind: Playbook\nmetadata: {id: X}\nspec: {}\n",
    "duplicate.yaml": "a: 1\na: 2\n",
    "latin1.yaml": "title: caf\xe9\n",
    "strict.json": '{"apiVersion": "playbook-engine/v1", "kind": NaN}',
    "empty.yaml": "# nothing\n",
}


def documents(tmp_path: Path) -> list[tuple[Path, str]]:
    """Every document of the bundled library, and documents with each kind of problem."""
    folder = tmp_path / "docs"
    folder.mkdir()
    for name, text in DOCUMENTS.items():
        (folder / name).write_bytes(text.encode("latin-1"))
    found = sorted(p for p in (ROOT / "playbooks").rglob("*.yaml") if "goldens" not in p.parts)
    return [(p, display_path(p)) for p in [*found, *sorted(folder.iterdir())]]


def test_documents_from_the_store_equal_fresh_ones(store: FileCodeStore, tmp_path: Path) -> None:
    files = documents(tmp_path)
    stores.use_code_store(None)
    fresh = [load_checked(path, shown) for path, shown in files]
    codes = {d.code for _, problems, checked in fresh for d in [*problems, *checked]}
    assert {"PB101", "PB102", "PB107", "PB110"} <= codes and len(codes) >= 6
    stores.use_code_store(store)
    assert [load_checked(path, shown) for path, shown in files] == fresh  # cold: stored
    stored = sorted(store.directory.iterdir())
    assert len(stored) == len(files)
    assert [load_checked(path, shown) for path, shown in files] == fresh  # warm: read back
    assert sorted(store.directory.iterdir()) == stored
    assert repr(load_checked(*files[0])) == repr(fresh[0])


def test_the_store_answers_for_unchanged_bytes_only(store: FileCodeStore, tmp_path: Path) -> None:
    path = tmp_path / "p.yaml"
    path.write_text("apiVersion: playbook-engine/v1\nkind: Playbook\n")
    first = load_checked(path, "p.yaml")
    assert [d.code for d in first[2]] == ["PB203", "PB203"]  # metadata and spec missing
    assert len(list(store.directory.iterdir())) == 1
    # Rewrite the entry with another (authentic) answer: it is believed for these bytes...
    key = "document\0{}\0{}\0{}\0{}".format(
        doccache.FORMAT, 0, "p.yaml", hashlib.sha256(path.read_bytes()).hexdigest()
    )
    store.put(key, doccache._encode(None, [], []))
    assert load_checked(path, "p.yaml") == (None, [], [])
    # ...but not for other bytes, nor under another name.
    path.write_text("apiVersion: playbook-engine/v1\nkind: Policy\n")
    assert load_checked(path, "p.yaml")[0] is not None
    assert load_checked(path, "other.yaml")[0] is not None
    assert load_checked(path, "other.yaml")[0].path == "other.yaml"  # type: ignore[union-attr]


def test_damaged_or_foreign_documents_are_reloaded(store: FileCodeStore, tmp_path: Path) -> None:
    path = ROOT / "playbooks" / "policy.yaml"
    fresh = load_checked(path, "policy.yaml")
    (entry,) = store.directory.iterdir()
    blob = bytearray(entry.read_bytes())
    blob[-1] ^= 1
    entry.write_bytes(bytes(blob))
    assert load_checked(path, "policy.yaml") == fresh
    key = "document\0{}\0{}\0{}\0{}".format(
        doccache.FORMAT, 0, "policy.yaml", hashlib.sha256(path.read_bytes()).hexdigest()
    )
    FileCodeStore(store.directory, b"x" * 32, ("engine",)).put(key, doccache._encode(None, [], []))
    assert load_checked(path, "policy.yaml") == fresh
    store.put(key, marshal.dumps("not an entry"))
    assert load_checked(path, "policy.yaml") == fresh


def test_validate_notices_a_changed_file_between_runs(library: Path, tmp_path: Path) -> None:
    env = {**os.environ, "PLAYBOOK_CACHE_DIR": str(tmp_path / "cache")}
    validate = [sys.executable, "-m", "playbook_engine", "validate", "--format", "json"]
    target = library / "database-failure.yaml"

    def run(path: Path) -> list[Any]:
        command = [*validate, str(path)]
        done = subprocess.run(command, capture_output=True, text=True, env=env)
        found: list[Any] = json.loads(done.stdout)["diagnostics"]
        return found

    assert run(target) == run(target) == []
    assert (tmp_path / "cache" / "code").is_dir()  # the second run read the store
    target.write_text(target.read_text().replace("owner: dba", "owner: dbx", 1))
    changed = run(target)
    assert "dbx" in changed[0]["message"]
    whole = run(library)  # a whole directory: no store
    assert changed == [d for d in whole if d["path"] == "lib/database-failure.yaml"]
    assert run(target) == changed


def test_documents_loaded_on_two_cores_equal_those_loaded_in_one(tmp_path: Path) -> None:
    files = documents(tmp_path)
    alone = doccache.load_many(files, fork=False)
    assert alone == [load_checked(path, shown) for path, shown in files]
    assert doccache.load_many(files, fork=True) == alone
    assert repr(doccache.load_many(files, fork=True)) == repr(alone)
    assert doccache.load_many(files[:1], fork=True) == alone[:1]  # the child has nothing to do
    assert doccache.load_many([], fork=True) == []


# --- a large library: two processes -----------------------------------------------------------

BREAKAGES = (
    "{{ incidnt.service }}",  # PB404
    "{{ incident.service ",  # PB403
    "{{ incident.__class__ }}",  # PB405
)


@pytest.fixture()
def large(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The bundled library with each playbook copied under 9 new ids (about 90 files), some
    copies with broken templates, so that both halves of the files report problems."""
    monkeypatch.chdir(tmp_path)
    target = Path("big")
    shutil.copytree(ROOT / "playbooks", target, ignore=shutil.ignore_patterns("tests"))
    originals = sorted(p for p in target.glob("*.yaml") if p.name != "policy.yaml")
    for number in range(9):
        for index, path in enumerate(originals):
            text = path.read_text()
            ident = path.stem
            text = text.replace(f"\n  id: {ident}\n", f"\n  id: {ident}-{number}\n", 1)
            if number % 2:
                broken = BREAKAGES[(number + index) % len(BREAKAGES)]
                step = f'\n  steps:\n    - {{id: broken, title: "{broken}"}}\n'
                text = text.replace("\n  steps:\n", step, 1)
            (target / f"{ident}-{number}.yaml").write_text(text)
    return target


def test_a_large_library_validates_the_same_on_two_cores(large: Path) -> None:
    files = [(path, display_path(path)) for path in discover(large)]
    assert len(files) >= doccache.FORK_MIN_FILES
    sandbox.forget_templates()
    two = validate_paths([large])  # forks: a child loads half and compiles its templates
    sandbox.forget_templates()
    waiting = threading.Event()
    other = threading.Thread(target=waiting.wait)
    other.start()  # with another thread running, nothing forks
    try:
        one = validate_paths([large])
    finally:
        waiting.set()
        other.join()
    assert repr(two) == repr(one)
    codes = {d.code for d in one.diagnostics}
    assert {"PB403", "PB404", "PB405"} <= codes
    halves = {files.index((Path(d.span.path), d.span.path)) % 2 for d in one.diagnostics}
    assert halves == {0, 1}


def test_the_child_checks_the_templates_of_both_halves(large: Path) -> None:
    files = [(path, display_path(path)) for path in discover(large)]
    work = TemplateWork(large / "policy.yaml")
    alone = doccache.load_many(files, fork=False)
    sandbox.forget_templates()
    expected: dict[str, bytes] = {}
    for batch in work.run(alone[1::2], partial(work.wanted, alone[::2])):
        expected.update(batch)
    wanted = work.wanted(alone[::2])
    compiles = [(source, mode) for source, mode in wanted if source not in BREAKAGES]
    assert len(compiles) > 100 and all(f"checked\0{m}\0{s}" in expected for s, m in compiles)
    modes = {key.split("\0", 2)[1] for key in expected}
    assert {"markdown", "chat", "chat-header", "header"} <= modes
    sandbox.forget_templates()
    loading = doccache.Loading(files, True, work)
    try:
        assert loading.results == alone
        store = loading.store(None)
        assert isinstance(store, stores.MemoryStore)
        deadline = time.monotonic() + 30
        while store.entries != expected and time.monotonic() < deadline:
            store.get("")  # takes what has arrived (never waits)
            time.sleep(0.005)
        assert store.entries == expected
    finally:
        loading.close()
    assert loading.store(None) is None  # once closed, nothing more comes


def test_without_a_temporary_file_everything_loads_here(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    files = documents(tmp_path)
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path / "missing"))
    loading = doccache.Loading(files, True, None)
    assert loading.pid == 0 and loading.store(None) is None  # no child was started
    assert loading.results == doccache.load_many(files, fork=False)
    loading.close()


def test_display_path_is_relative_to_the_working_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from playbook_engine.load.discovery import display_path

    (tmp_path / "lib").mkdir()
    (tmp_path / "lib" / "a.yaml").write_text("x: 1\n")
    (tmp_path / "link.yaml").symlink_to(tmp_path / "lib" / "a.yaml")
    monkeypatch.chdir(tmp_path)
    assert display_path(Path("lib/a.yaml")) == "lib/a.yaml"
    assert display_path(tmp_path / "lib" / "a.yaml") == "lib/a.yaml"
    assert display_path(Path("./lib/../lib/a.yaml")) == "lib/a.yaml"
    assert display_path(Path("link.yaml")) == "lib/a.yaml"  # links resolved, as before
    assert display_path(Path(".")) == "."
    assert display_path(Path("/")) == "/"  # outside: as given
    monkeypatch.chdir("/")
    assert display_path(tmp_path / "lib") == str(tmp_path / "lib")[1:]


BROKEN_PLAYBOOK = """\
apiVersion: playbook-engine/v1
kind: Playbook
metadata: {id: broken-conditions, title: Broken conditions, owner: sre}
spec:
  appliesWhen: {field: incident.description, matches: '(a+)b\\1'}
  classification:
    rules:
      - id: bad-regex
        when: {field: incident.title, matches: "(unclosed"}
        set: {impact: extensive, urgency: critical}
      - id: reversed
        when: {field: incident.customersAffected, between: [100, 10]}
        set: {impact: extensive, urgency: critical}
  steps:
    - id: bad-expr
      title: "{{ incident.title | nosuch }}"
      when: {expr: "incident.title.__class__"}
    - id: bad-compare
      title: "Check {{ incident.servce }}"
      details: "{{ priority.nmae }} {{ incident.title }}"
      when: {field: incident.customersAffected, between: [5, 1]}
  notifications:
    - id: page
      channel: pager
      when: {expr: "incident.title ~"}
      subject: "{{ incident.title"
      body: "{{ incident._secret }}"
"""


def test_checking_a_library_reports_what_compiling_all_of_it_reports(tmp_path: Path) -> None:
    """compile_library checks conditions and templates without making predicates or
    template objects (those are made on first use): it must report exactly what compiling
    every playbook's parts does, and the predicates made later must work."""
    from playbook_engine.compile.compiler import _Compiler, compile_library
    from playbook_engine.load.discovery import incident_fields
    from playbook_engine.pipeline import load_library

    library_dir = tmp_path / "lib"
    shutil.copytree(ROOT / "playbooks", library_dir, ignore=shutil.ignore_patterns("tests"))
    (library_dir / "broken.yaml").write_text(BROKEN_PLAYBOOK)
    for name in ("database-failure.yaml", "security-breach.yaml"):  # a copy repeats templates
        copy = (library_dir / name).read_text().replace("\n  id: ", "\n  id: copy-", 1)
        (library_dir / f"copy-{name}").write_text(copy)
    sandbox.forget_templates()
    result = load_library(library_dir)
    assert result.compiled is not None
    library = result.compiled.library
    fields = incident_fields()
    compiled, checked = compile_library(library, fields)
    eager = _Compiler(library, fields, lazy=False)
    channels = {c.id: c for c in library.policy.channels}
    for playbook in (*library.shared, *library.playbooks):
        eager.condition(playbook.applies_when)
        eager.parts(playbook, channels)
    eager.rules(library.policy.rules, "policy")
    eager.escalation(library.policy.escalation)
    everything = eager.diagnostics + eager.conditions.diagnostics
    assert sorted_diagnostics(checked) == sorted_diagnostics(everything)
    codes = {d.code for d in checked}
    assert {"PB401", "PB402", "PB403", "PB404", "PB405", "PB408"} <= codes
    # Predicates and templates are made when first used, and behave.
    ctx = {"incident": {"service": "postgres-main", "description": "x", "title": "t"}}
    (database,) = [p for p in compiled.playbooks if p.id == "database-failure"]
    assert database.applies_when is not None and database.applies_when.test(ctx)
    title = database.steps[0].title.compiled
    assert title is not None
    (broken,) = [p for p in compiled.playbooks if p.id == "broken-conditions"]
    assert broken.steps[0].title.compiled is None  # does not compile: reported above
