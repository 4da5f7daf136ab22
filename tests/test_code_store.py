"""The store of compiled template code: warm runs reuse it, byte for byte; damaged, swapped
or foreign files are refused; only code that compiled is stored; `--no-cache` stores nothing."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from playbook_engine import sandbox
from playbook_engine.cli import runner
from playbook_engine.speed import cache, stores
from playbook_engine.speed.cache import FileCodeStore, LibraryCache, fingerprint
from playbook_engine.timeparse import parse_timestamp

ROOT = Path(__file__).resolve().parent.parent
INCIDENT = str(ROOT / "playbooks" / "incidents" / "01-gitlab-db-deletion.yaml")
AT = parse_timestamp("2026-02-01T00:30:00Z")


@pytest.fixture()
def library(tmp_path: Path) -> Path:
    """A copy of the bundled library whose files look old (trusted by their metadata)."""
    target = tmp_path / "lib"
    shutil.copytree(ROOT / "playbooks", target, ignore=shutil.ignore_patterns("tests", "incidents"))
    for path in target.rglob("*.yaml"):
        os.utime(path, ns=(1_000_000_000, 1_000_000_000))
    return target


@pytest.fixture()
def directory(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    folder = tmp_path / "cache"
    monkeypatch.setenv("PLAYBOOK_CACHE_DIR", str(folder))
    yield folder
    stores.use_code_store(None)
    sandbox.forget_templates()


def plan(root: Path) -> str:
    """The markdown plan of a run, compiling templates afresh (not from this process's memo)."""
    sandbox.forget_templates()
    compiled = cache.cached_library(root)
    return runner.run_one(compiled, INCIDENT, None, AT, (), "markdown", True, None, False)[0]


def test_warm_runs_store_the_code_they_render_and_reuse_it(directory: Path, library: Path) -> None:
    fresh = plan(library)  # cold: validates, stores the library, no code
    assert not (directory / "code").exists()
    assert plan(library) == fresh  # warm: renders, stores the code of what it rendered
    stored = sorted((directory / "code").iterdir())
    assert stored
    times = [path.stat().st_mtime_ns for path in stored]
    assert plan(library) == fresh  # warm again: the code comes from the store
    assert sorted((directory / "code").iterdir()) == stored
    assert [path.stat().st_mtime_ns for path in stored] == times


def test_damaged_or_swapped_code_is_refused_and_replaced(directory: Path, library: Path) -> None:
    fresh = plan(library)
    plan(library)
    first, second, *_ = sorted((directory / "code").iterdir())
    first_blob, second_blob = first.read_bytes(), second.read_bytes()
    second.write_bytes(first_blob)  # authentic, but for another template
    damaged = bytearray(first_blob)
    damaged[-1] ^= 1
    first.write_bytes(bytes(damaged))
    assert plan(library) == fresh
    assert first.read_bytes() == first_blob  # both recompiled and rewritten
    assert second.read_bytes() == second_blob


def test_another_secret_or_engine_does_not_read_the_code(directory: Path) -> None:
    store = FileCodeStore(directory / "code", b"k" * 32, ("engine 1",))
    store.put("plain\0{{ incident.title }}", b"data")
    assert store.get("plain\0{{ incident.title }}") == b"data"
    assert store.get("plain\0{{ incident.id }}") is None
    assert FileCodeStore(directory / "code", b"x" * 32, ("engine 1",)).get("plain\0{{ x }}") is None
    other = FileCodeStore(directory / "code", b"k" * 32, ("engine 2",))
    assert other.get("plain\0{{ incident.title }}") is None


def test_only_code_that_compiles_is_stored(directory: Path) -> None:
    stores.use_code_store(FileCodeStore(directory / "code", b"k" * 32, ("engine",)))
    with pytest.raises(sandbox.TemplateError, match="nosuch"):
        sandbox.compile_template("{{ incident.title | nosuch }}", "plain")
    with pytest.raises(sandbox.TemplateError):
        sandbox.compile_template("{{ '{}'.format(incident) }}", "plain")
    assert not (directory / "code").exists()
    sandbox.compile_template("{{ incident.title }}", "plain")
    assert len(list((directory / "code").iterdir())) == 1


def test_no_cache_stores_no_code(directory: Path, library: Path) -> None:
    plan(library)
    plan(library)
    shutil.rmtree(directory / "code")
    sandbox.forget_templates()
    compiled = cache.cached_library(library, use_cache=False)
    runner.run_one(compiled, INCIDENT, None, AT, (), "markdown", True, None, False)
    assert not (directory / "code").exists()
    assert LibraryCache(directory).load(library, fingerprint(library)) is not None


def test_validate_reports_the_same_with_a_cold_and_a_warm_store(
    directory: Path, library: Path
) -> None:
    path = library / "database-failure.yaml"
    text = path.read_text()
    text = text.replace("error logs since {{ incident.startedAt }}.", "{{ incidnt.title }}.")
    text = text.replace('"[{{ priority.id }}]', '"[{{ priority.id | nosuch }}]')
    path.write_text(text)
    env = {**os.environ, "PLAYBOOK_CACHE_DIR": str(directory)}
    validate = [sys.executable, "-m", "playbook_engine", "validate"]
    whole = subprocess.run([*validate, str(library)], capture_output=True, text=True, env=env)
    assert whole.returncode == 1
    assert not (directory / "code").exists()  # a whole directory (CI) stores nothing
    command = [*validate, str(path), str(library / "policy.yaml")]  # a pre-commit hook's call
    outputs = [subprocess.run(command, capture_output=True, text=True, env=env) for _ in range(2)]
    assert (directory / "code").is_dir()
    assert outputs[0].returncode == outputs[1].returncode == 1
    assert outputs[0].stdout == outputs[1].stdout
    assert outputs[1].stdout.splitlines()[:-1] == whole.stdout.splitlines()[:-1]  # but the count
    assert "PB403" in outputs[1].stdout and "unknown variable 'incidnt'" in outputs[1].stdout


def test_the_store_is_pruned_at_most_daily_to_half_when_too_large(tmp_path: Path) -> None:
    folder = tmp_path / "code"

    def store() -> FileCodeStore:
        made = FileCodeStore(folder, b"k" * 32, ("engine",))
        made.max_files = 10
        return made

    first = store()
    for number in range(12):
        first.put(f"key {number}", b"data")
        os.utime(folder / first._name(f"key {number}"), ns=(number * 10**9, number * 10**9))
    assert len(list(folder.iterdir())) == 12  # the first put found 1 file, nothing to prune
    second = store()
    second.put("key 12", b"data")  # pruned less than a day ago: not yet
    assert len(list(folder.iterdir())) == 13
    os.utime(tmp_path / "code.pruned", ns=(0, 1))  # long ago
    store().put("key 13", b"data")
    left = {p.name for p in folder.iterdir()}
    assert len(left) == 7  # the older-written half of 14 removed
    assert first._name("key 0") not in left and first._name("key 13") in left
    assert store().get("key 13") == b"data"
