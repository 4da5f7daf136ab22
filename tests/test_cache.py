"""The library cache: hits, every kind of change that must miss, damage, and its secret."""

from __future__ import annotations

import os
import shutil
from datetime import UTC, datetime
from pathlib import Path

import pytest

from playbook_engine.diagnostics import InputError
from playbook_engine.engine.evaluation import evaluate
from playbook_engine.model import Playbook
from playbook_engine.speed import cache
from playbook_engine.speed.cache import MAGIC, LibraryCache, fingerprint

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture()
def library(tmp_path: Path) -> Path:
    """A copy of the bundled library (without its tests and incidents)."""
    target = tmp_path / "lib"
    shutil.copytree(ROOT / "playbooks", target, ignore=shutil.ignore_patterns("tests", "incidents"))
    return target


@pytest.fixture()
def store(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> LibraryCache:
    directory = tmp_path / "cache"
    monkeypatch.setenv("PLAYBOOK_CACHE_DIR", str(directory))
    return LibraryCache(directory)


def entry_of(store: LibraryCache, root: Path) -> Path:
    return store.entry_path(fingerprint(root))


def age(path: Path) -> None:
    """Make a file look old, so that its metadata alone is trusted (not racily clean)."""
    os.utime(path, ns=(1_000_000_000, 1_000_000_000))


def warm(store: LibraryCache, root: Path) -> None:
    for path in root.rglob("*.yaml"):
        age(path)
    cache.cached_library(root)
    assert store.load(root, fingerprint(root)) is not None


def test_location_follows_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PLAYBOOK_CACHE_DIR", "/x/y")
    assert cache.cache_dir() == Path("/x/y")
    monkeypatch.delenv("PLAYBOOK_CACHE_DIR")
    monkeypatch.setenv("XDG_CACHE_HOME", "/xdg")
    assert cache.cache_dir() == Path("/xdg/playbook-engine")
    monkeypatch.delenv("XDG_CACHE_HOME")
    monkeypatch.setenv("HOME", "/home/someone")
    assert cache.cache_dir() == Path("/home/someone/.cache/playbook-engine")


def test_first_run_stores_and_second_run_hits(store: LibraryCache, library: Path) -> None:
    assert store.load(library, fingerprint(library)) is None
    first = cache.cached_library(library)
    assert store.load(library, fingerprint(library)) is not None
    second = cache.cached_library(library)
    assert second.library == first.library  # every playbook, loaded back, equal
    assert [p.playbook.id for p in second.playbooks] == [p.playbook.id for p in first.playbooks]
    assert second.file_order == first.file_order
    secret = store.directory / "secret.key"
    assert secret.stat().st_mode & 0o777 == 0o600
    assert entry_of(store, library).read_bytes().startswith(MAGIC)


def test_a_hit_loads_only_the_playbooks_the_incident_selects(
    store: LibraryCache, library: Path
) -> None:
    warm(store, library)
    compiled = cache.cached_library(library)
    loaded = [p.id for p in compiled.playbooks if isinstance(p._source, Playbook)]
    assert loaded == []
    incident = {
        "id": "INC-1",
        "title": "Primary database down",
        "service": "postgres-main",
        "startedAt": "2026-02-01T00:00:00Z",
    }
    plan = evaluate(compiled, incident, datetime(2026, 2, 1, tzinfo=UTC))
    loaded = [p.id for p in compiled.playbooks if isinstance(p._source, Playbook)]
    assert loaded == [ident for ident, _ in plan.playbooks] and loaded
    assert len(loaded) < len(compiled.playbooks)


def test_no_cache_writes_nothing(store: LibraryCache, library: Path) -> None:
    cache.cached_library(library, use_cache=False)
    assert not store.directory.exists()


def test_an_edited_file_misses(store: LibraryCache, library: Path) -> None:
    warm(store, library)
    path = library / "database-failure.yaml"
    path.write_text(path.read_text().replace("Database failure", "Database trouble"))
    age(path)  # same old time: the size and change time still tell
    assert store.load(library, fingerprint(library)) is None
    compiled = cache.cached_library(library)
    titles = {p.playbook.title for p in compiled.playbooks}
    assert "Database trouble" in titles


def test_a_same_size_edit_within_the_clock_tick_misses(store: LibraryCache, library: Path) -> None:
    cache.cached_library(
        library
    )  # the change time moves with any write, even if size and mtime do not
    path = library / "database-failure.yaml"
    before = path.stat()
    path.write_text(path.read_text().replace("Database failure", "Database fAilure"))
    os.utime(path, ns=(before.st_atime_ns, before.st_mtime_ns))
    assert path.stat().st_size == before.st_size
    assert store.load(library, fingerprint(library)) is None


def test_added_removed_and_renamed_files_miss(store: LibraryCache, library: Path) -> None:
    warm(store, library)
    extra = library / "team" / "copy.yaml"
    extra.parent.mkdir()
    extra.write_text(
        (library / "default.yaml")
        .read_text()
        .replace("id: default", "id: default-copy")
        .replace("fallback: true", "fallback: false")
    )
    assert store.load(library, fingerprint(library)) is None
    warm(store, library)
    extra.rename(library / "team" / "renamed.yaml")
    assert store.load(library, fingerprint(library)) is None
    warm(store, library)
    (library / "team" / "renamed.yaml").unlink()
    assert store.load(library, fingerprint(library)) is None


def test_a_changed_policy_misses(store: LibraryCache, library: Path) -> None:
    warm(store, library)
    policy = library / "policy.yaml"
    policy.write_text(policy.read_text().replace("respondWithin: 15m", "respondWithin: 10m", 1))
    assert store.load(library, fingerprint(library)) is None


def test_a_new_engine_misses(
    store: LibraryCache, library: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    warm(store, library)
    monkeypatch.setattr(cache, "__version__", "999.0.0")
    assert store.load(library, fingerprint(library)) is None


def test_the_engine_is_known_by_every_module_of_the_whole_package() -> None:
    # A cache entry written by the flat layout of before names modules such as `engine.py`;
    # the engine's identity now lists each module by its path in the package, subpackages
    # included, so such an entry cannot match and is rebuilt.
    parts = cache.engine_fingerprint()
    paths = {part.split(":", 1)[0] for part in parts[3:]}
    assert {"engine/evaluation.py", "load/documents.py", "sandbox/templates.py"} <= paths
    assert "engine.py" not in paths and "sandbox.py" not in paths


def test_another_working_directory_has_its_own_entry(
    store: LibraryCache, library: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    warm(store, library)
    monkeypatch.chdir(library)
    assert store.load(Path("."), fingerprint(Path("."))) is None


@pytest.mark.parametrize("damage", ["truncate", "flip", "garbage", "empty"])
def test_a_damaged_entry_is_rebuilt_not_trusted(
    store: LibraryCache, library: Path, damage: str
) -> None:
    warm(store, library)
    path = entry_of(store, library)
    blob = path.read_bytes()
    if damage == "truncate":
        path.write_bytes(blob[: len(blob) // 2])
    elif damage == "flip":
        middle = len(blob) // 2
        path.write_bytes(blob[:middle] + bytes([blob[middle] ^ 1]) + blob[middle + 1 :])
    elif damage == "garbage":
        path.write_bytes(os.urandom(len(blob)))
    else:
        path.write_bytes(b"")
    assert store.load(library, fingerprint(library)) is None
    cache.cached_library(library)
    assert store.load(library, fingerprint(library)) is not None


def test_an_entry_signed_with_another_secret_is_refused(store: LibraryCache, library: Path) -> None:
    warm(store, library)
    (store.directory / "secret.key").write_bytes(b"k" * 32)
    assert store.load(library, fingerprint(library)) is None


def test_a_secret_readable_by_others_disables_the_cache(store: LibraryCache, library: Path) -> None:
    warm(store, library)
    (store.directory / "secret.key").chmod(0o644)
    assert store.load(library, fingerprint(library)) is None
    cache.cached_library(library)  # still runs, uncached
    assert store.load(library, fingerprint(library)) is None


def test_a_library_with_errors_is_not_cached(store: LibraryCache, library: Path) -> None:
    (library / "policy.yaml").unlink()
    with pytest.raises(InputError):
        cache.cached_library(library)
    assert not any(store.directory.glob("*.lib"))
    assert not any(store.directory.glob(".entry.*"))


def test_an_unwritable_cache_only_costs_speed(store: LibraryCache, library: Path) -> None:
    store.directory.parent.mkdir(exist_ok=True)
    store.directory.write_text("not a directory")
    compiled = cache.cached_library(library)
    assert compiled.playbooks


def test_racily_clean_files_are_checked_by_content(store: LibraryCache, library: Path) -> None:
    for path in library.rglob("*.yaml"):
        os.utime(path)  # written just now, as an editor would
    before = fingerprint(library)  # what a coarse file-system clock would still show
    cache.cached_library(library)
    path = library / "default.yaml"
    path.write_text(path.read_text().replace("triage", "Triage", 1))
    assert store.load(library, before) is None


def test_old_files_are_trusted_by_their_metadata(store: LibraryCache, library: Path) -> None:
    for path in library.rglob("*.yaml"):
        age(path)
    before = fingerprint(library)
    cache.cached_library(library)
    assert store.load(library, before) is not None
