"""Checking one playbook of a large library loads only what its checks read.

With a code store (a pre-commit hook's `playbook validate FILE`), the library index
(`speed.libindex`) says what every other document is; only the files asked for, the policy,
the Shared documents and files changed since the index was written are loaded. Whatever is
skipped, a file reports exactly what a check of the whole library reports on it: these tests
compare the two on libraries with duplicate ids, broken neighbours, links that are refused,
files changed, removed and retyped between runs.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from conftest import PLAYBOOK, edited_yaml

from playbook_engine.authoring.validate import validate_paths
from playbook_engine.load.discovery import discover, discover_listing, display_path, display_paths
from playbook_engine.speed import doccache, libindex, stores

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture()
def library(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The bundled library without its test suites (a suite is checked against the whole
    library, so a library with suites naming files is always loaded whole), shown relative."""
    monkeypatch.chdir(tmp_path)
    target = Path("lib")
    shutil.copytree(ROOT / "playbooks", target, ignore=shutil.ignore_patterns("tests"))
    return target


@pytest.fixture()
def store() -> Iterator[stores.MemoryStore]:
    memory = stores.MemoryStore({}, None)
    stores.use_code_store(memory)
    yield memory
    stores.use_code_store(None)


def whole_check(library: Path) -> dict[str, list[str]]:
    """What a check of the whole library (no store: nothing skipped) reports, by file."""
    below = stores.active_store()
    stores.use_code_store(None)
    try:
        found: dict[str, list[str]] = {}
        for d in validate_paths([library]).diagnostics:
            found.setdefault(d.span.path, []).append(repr(d))
        return found
    finally:
        stores.use_code_store(below)


def playbook_files(library: Path) -> list[Path]:
    found = discover(library)
    return [p for p in found if not p.is_symlink() and "kind: Playbook" in p.read_text()]


def assert_each_alone_matches(library: Path) -> None:
    whole = whole_check(library)
    for path in playbook_files(library):
        alone = validate_paths([path])
        assert [repr(d) for d in alone.diagnostics] == whole.get(display_path(path), []), path


@pytest.fixture()
def loads(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The display paths of the documents loaded from now on (loading itself unchanged)."""
    seen: list[str] = []
    real = doccache.load_checked

    def counted(path: Path, shown: str) -> doccache.Checked:
        seen.append(shown)
        return real(path, shown)

    monkeypatch.setattr(doccache, "load_checked", counted)
    return seen


def test_a_warm_index_loads_the_file_the_policy_and_nothing_else(
    library: Path, store: stores.MemoryStore, loads: list[str]
) -> None:
    target = library / "database-failure.yaml"
    first = validate_paths([target])
    assert len(loads) == len(discover(library))  # no index yet: everything, then the index
    loads.clear()
    second = validate_paths([target])
    assert second == first
    assert sorted(loads) == ["lib/database-failure.yaml", "lib/policy.yaml"]


def test_an_unchanged_library_reports_the_same_file_by_file(
    library: Path, store: stores.MemoryStore
) -> None:
    assert_each_alone_matches(library)  # the first file builds the index, the rest use it
    assert_each_alone_matches(library)


def test_a_duplicate_id_is_reported_at_the_later_file_either_way(
    library: Path, store: stores.MemoryStore
) -> None:
    validate_paths([library / "default.yaml"])  # the index, before the copies exist
    source = (library / "default.yaml").read_text()
    (library / "aaa-copy.yaml").write_text(source)  # before default.yaml in file order
    (library / "zzz-copy.yaml").write_text(source)
    whole = whole_check(library)
    assert any("PB302" in d for d in whole["lib/default.yaml"])
    assert any("PB302" in d and "aaa-copy" in d for d in whole["lib/zzz-copy.yaml"])
    assert_each_alone_matches(library)
    assert_each_alone_matches(library)  # now all three are in the index


def test_a_neighbour_that_does_not_load_hides_the_follow_ons_as_before(
    library: Path, store: stores.MemoryStore
) -> None:
    assert_each_alone_matches(library)
    # The first file in order does not parse, so nothing of it loads (no salvage): a
    # reference error elsewhere may follow from it and is folded into one note.
    target = library / "database-failure.yaml"
    target.write_text(target.read_text().replace("  order: 30\n", "  order: [30\n", 1))
    with edited_yaml(library / "security-breach.yaml") as doc:
        doc["spec"]["steps"][0]["owner"] = "nobody-we-know"  # a reference error (PB303)
    whole = whole_check(library)
    assert not any("PB303" in d for d in whole.get("lib/security-breach.yaml", []))
    assert_each_alone_matches(library)
    # A schema error instead: the rest of the file is checked, and an error that names
    # nothing it left out is reported.
    target.write_text(target.read_text().replace("  order: [30\n", "  order: 30\n  bogus: 1\n"))
    whole = whole_check(library)
    assert any("PB303" in d for d in whole["lib/security-breach.yaml"])
    assert_each_alone_matches(library)
    target.unlink()  # gone: the reference error shows
    whole = whole_check(library)
    assert any("PB303" in d for d in whole["lib/security-breach.yaml"])
    assert_each_alone_matches(library)


def test_a_link_out_of_the_library_counts_as_a_document_that_did_not_load(
    library: Path, store: stores.MemoryStore, tmp_path: Path
) -> None:
    assert_each_alone_matches(library)
    (tmp_path / "outside.yaml").write_text("kind: Playbook\n")
    (library / "outside.yaml").symlink_to(tmp_path / "outside.yaml")
    with edited_yaml(library / "database-failure.yaml") as doc:
        doc["spec"]["steps"][0]["owner"] = "nobody-we-know"
    assert_each_alone_matches(library)


def test_files_changed_removed_and_retyped_between_runs(
    library: Path, store: stores.MemoryStore
) -> None:
    assert_each_alone_matches(library)
    with edited_yaml(library / "payment-failures.yaml") as doc:
        doc["metadata"]["id"] = "database-failure"  # now a duplicate of an unchanged file
    assert_each_alone_matches(library)
    (library / "security-breach.yaml").unlink()
    assert_each_alone_matches(library)
    with edited_yaml(library / "payment-failures.yaml") as doc:
        doc["kind"] = "Shared"  # another kind: its playbook id is gone, and a schema error
    assert_each_alone_matches(library)


def test_a_broken_file_asked_for_reports_as_in_the_whole_check(
    library: Path, store: stores.MemoryStore
) -> None:
    assert_each_alone_matches(library)
    target = library / "degraded-performance.yaml"
    target.write_text(target.read_text().replace("spec:", "spec: [", 1))
    whole = whole_check(library)
    assert whole["lib/degraded-performance.yaml"]
    assert [repr(d) for d in validate_paths([target]).diagnostics] == whole[
        "lib/degraded-performance.yaml"
    ]


def test_an_example_incident_asked_for_loads_no_playbook(
    library: Path, store: stores.MemoryStore, loads: list[str]
) -> None:
    validate_paths([library / "default.yaml"])
    odd = library / "incidents" / "odd.yaml"
    odd.write_text("id: INC-1\ntitle: A start that is no time\nstartedAt: yesterday\n")
    whole = whole_check(library)
    assert whole["lib/incidents/odd.yaml"]
    loads.clear()
    found = validate_paths([odd])
    assert [repr(d) for d in found.diagnostics] == whole["lib/incidents/odd.yaml"]
    assert loads == ["lib/policy.yaml"]


def test_the_policy_asked_for_is_checked_with_the_whole_library(
    library: Path, store: stores.MemoryStore
) -> None:
    validate_paths([library / "default.yaml"])
    policy = library / "policy.yaml"
    with edited_yaml(policy) as doc:
        doc["spec"]["teams"].append({"id": "unused-team", "name": "Nobody uses it"})
    whole = whole_check(library)
    assert any("PB504" in d for d in whole["lib/policy.yaml"])  # judged on every playbook
    assert [repr(d) for d in validate_paths([policy]).diagnostics] == whole["lib/policy.yaml"]


def test_a_damaged_or_foreign_index_is_ignored(library: Path, store: stores.MemoryStore) -> None:
    target = library / "database-failure.yaml"
    expected = validate_paths([target])
    key = next(k for k in store.entries if k.startswith("library-index"))
    for damaged in (b"not marshal", b"\x00", json.dumps([1, 2]).encode()):
        store.entries[key] = damaged
        assert libindex.read(library) == {}
        assert validate_paths([target]) == expected


def test_the_index_is_written_only_when_something_changed(
    library: Path, store: stores.MemoryStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    target = library / "database-failure.yaml"
    validate_paths([target])
    writes: list[int] = []
    real: Callable[..., Any] = libindex.write
    monkeypatch.setattr(libindex, "write", lambda *a: writes.append(1) or real(*a))
    validate_paths([target])
    assert writes == []
    os.utime(library / "default.yaml", ns=(1, 1))
    validate_paths([target])
    assert writes == [1]


def run_cli(args: list[str], env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*PLAYBOOK, *args], capture_output=True, text=True, env=env, timeout=60)


def test_a_pre_commit_run_of_the_cli_reports_what_the_whole_check_does(
    library: Path, tmp_path: Path
) -> None:
    env = {**os.environ, "PLAYBOOK_CACHE_DIR": str(tmp_path / "cache")}
    target = library / "outage-customer-facing.yaml"
    with edited_yaml(target) as doc:
        doc["spec"]["steps"][0]["owner"] = "nobody-we-know"
    whole = json.loads(run_cli(["validate", "--format", "json", str(library)], env).stdout)
    expected = [d for d in whole["diagnostics"] if d["path"] == display_path(target)]
    assert expected
    for _ in range(2):  # the first run writes the index, the second reads it
        done = run_cli(["validate", "--format", "json", str(target)], env)
        assert done.returncode == 1, done.stderr
        assert json.loads(done.stdout)["diagnostics"] == expected


def test_display_paths_resolve_linked_folders_and_follow_the_working_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for folder in ("a/lib", "b/other"):
        (tmp_path / folder).mkdir(parents=True)
        (tmp_path / folder / "x.yaml").write_text("x: 1\n")
    (tmp_path / "a" / "alias").symlink_to(tmp_path / "a" / "lib")
    (tmp_path / "b" / "alias").symlink_to(tmp_path / "b" / "other")
    (tmp_path / "a" / "lib" / "y.yaml").symlink_to(tmp_path / "a" / "lib" / "x.yaml")
    monkeypatch.chdir(tmp_path / "a")
    assert display_path(Path("alias/x.yaml")) == "lib/x.yaml"
    assert display_path(Path("lib/y.yaml")) == "lib/x.yaml"  # a linked file itself
    assert display_path(tmp_path / "a" / "alias" / "x.yaml") == "lib/x.yaml"
    monkeypatch.chdir(tmp_path / "b")  # the same relative folder is another folder now
    assert display_path(Path("alias/x.yaml")) == "other/x.yaml"
    assert display_path(Path("../a/alias/x.yaml")) == "../a/alias/x.yaml"  # outside: as given


def test_the_listing_finds_what_discovery_finds(tmp_path: Path) -> None:
    root = tmp_path / "lib"
    for name in ("a.yaml", "b/c.yml", "b/d.json", "b/e.txt", ".hidden/f.yaml", "tests/g.yaml"):
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text("x: 1\n")
    (root / "b" / ".h.yaml").write_text("x: 1\n")
    (root / "linked.yaml").symlink_to(root / "a.yaml")
    (root / "dangling.yaml").symlink_to(root / "nowhere.yaml")
    (root / "folder-link").symlink_to(root / "b")  # not followed, as os.walk does not
    (tmp_path / "outside").mkdir()
    (root / "z").symlink_to(tmp_path / "outside")
    for given in (root, Path(str(root) + "/"), Path(os.path.relpath(root))):
        listing = discover_listing(given)
        assert [path for path, _ in listing] == [str(p) for p in discover(given)]
        links = {path for path, link in listing if link}
        assert links == {path for path, _ in listing if os.path.islink(path)}
        assert len(links) == 2
        texts = [path for path, _ in listing]
        assert display_paths(texts, links) == [display_path(Path(path)) for path in texts]


def test_a_check_the_store_answers_imports_no_jinja2(
    library: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from conftest import modules_loaded_by

    monkeypatch.setenv("PLAYBOOK_CACHE_DIR", str(tmp_path / "cache"))
    target = str(library / "database-failure.yaml")
    first = modules_loaded_by("validate", target, watched=("jinja2",))
    assert first == {"jinja2"}  # nothing stored yet: templates are parsed
    assert modules_loaded_by("validate", target, watched=("jinja2",)) == set()
    with edited_yaml(library / "database-failure.yaml") as doc:
        doc["spec"]["steps"][0]["title"] = "A title never checked before {{ incident.id }}"
    assert modules_loaded_by("validate", target, watched=("jinja2",)) == {"jinja2"}


def test_two_libraries_shown_alike_keep_their_own_index(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, store: stores.MemoryStore, loads: list[str]
) -> None:
    for repository in ("one", "two"):
        shutil.copytree(ROOT / "playbooks", tmp_path / repository / "lib")
    for _ in range(2):
        for repository in ("one", "two"):
            monkeypatch.chdir(tmp_path / repository)
            loads.clear()
            validate_paths([Path("lib/default.yaml")])
    assert sorted(loads) == ["lib/default.yaml", "lib/policy.yaml"]  # "two", from its index
