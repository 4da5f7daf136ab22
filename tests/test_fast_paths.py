"""The fast paths give the same answers as the slow ones.

- a cached, lazily compiled library renders byte-identical plans to a freshly validated one;
- the selection index selects what testing every `appliesWhen` selects;
- `fastschema` never calls valid what jsonschema rejects;
- a warm `playbook run` does not import jsonschema.
"""

from __future__ import annotations

import copy
import dataclasses
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from conftest import unmeasured_env
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from jsonschema import Draft202012Validator

from playbook_engine.cli import runner
from playbook_engine.compile.compiler import CompiledLibrary, SelectionIndex
from playbook_engine.engine.evaluation import evaluate
from playbook_engine.load import fastschema, schema
from playbook_engine.load.documents import load_file
from playbook_engine.render.plans import plan_to_dict
from playbook_engine.speed import cache
from playbook_engine.timeparse import parse_timestamp

ROOT = Path(__file__).resolve().parent.parent
LIBRARY = ROOT / "playbooks"
INCIDENTS = sorted((LIBRARY / "incidents").glob("*.yaml"))
AT = parse_timestamp("2026-02-01T00:30:00Z")

sys.path.insert(0, str(ROOT / "benchmarks"))
from generate import generate  # noqa: E402


@pytest.fixture(scope="module")
def generated(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return generate(tmp_path_factory.mktemp("gen") / "lib", 40, seed=7, incidents=25)


def test_cached_runs_render_byte_identical_plans(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PLAYBOOK_CACHE_DIR", str(tmp_path / "cache"))
    fresh = cache.cached_library(LIBRARY, use_cache=False)
    cache.cached_library(LIBRARY)  # stores
    cached = cache.cached_library(LIBRARY)
    assert cache.LibraryCache(tmp_path / "cache").load(LIBRARY, cache.fingerprint(LIBRARY))
    for incident in INCIDENTS:
        for fmt in ("markdown", "text", "json"):
            for explain in (False, True):
                args = (str(incident), None, AT, (), fmt, explain, None, False)
                assert runner.run_one(cached, *args) == runner.run_one(fresh, *args)


def brute_force(compiled: CompiledLibrary) -> CompiledLibrary:
    """The same library with every regular playbook tested for every incident."""
    regular = tuple(i for i, p in enumerate(compiled.playbooks) if not p.playbook.fallback)
    return dataclasses.replace(compiled, selection=SelectionIndex((), regular))


def test_the_selection_index_selects_what_testing_everything_selects(generated: Path) -> None:
    compiled = cache.cached_library(generated, use_cache=False)
    assert compiled.selection.fields, "the generated variants are indexed by incident.service"
    everything = brute_force(compiled)
    incidents = sorted((generated / "incidents").glob("*.json")) + INCIDENTS
    for path in incidents:
        doc, _ = load_file(path)
        assert doc is not None
        fast = plan_to_dict(evaluate(compiled, doc.data, AT), False)
        slow = plan_to_dict(evaluate(everything, doc.data, AT), False)
        assert fast == slow, path


def test_a_hit_loads_only_the_conditions_selection_tests(
    generated: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A cache entry stores the selection index and each `appliesWhen` pickled on its own:
    a hit unpickles the conditions of an incident's candidates only, and plans as a fresh
    library does."""
    monkeypatch.setenv("PLAYBOOK_CACHE_DIR", str(tmp_path / "cache"))
    fresh = cache.cached_library(generated, use_cache=False)
    cache.cached_library(generated)  # stores
    unpickled: list[object] = []
    load_condition = cache._condition

    def counted(blob: bytes | None) -> object:
        unpickled.append(blob)
        return load_condition(blob)

    monkeypatch.setattr(cache, "_condition", counted)
    cached = cache.cached_library(generated)
    assert cached.selection == fresh.selection
    assert unpickled == []
    assert all(callable(p._when) for p in cached.playbooks)  # none loaded yet
    incident = json.loads(next((generated / "incidents").iterdir()).read_text())
    args = (incident, AT)
    assert plan_to_dict(evaluate(cached, *args)) == plan_to_dict(evaluate(fresh, *args))
    tested = {p.id for p in cached.playbooks if not callable(p._when)}
    candidates = {
        cached.playbooks[i].id for i in cached.selection.candidates({"incident": incident})
    }
    fallbacks = {p.id for p in cached.playbooks if p.fallback}
    assert tested and tested <= candidates | fallbacks
    assert len(unpickled) == len(tested)
    assert len(tested) < len(cached.playbooks) // 4


def test_the_index_leaves_out_only_playbooks_that_cannot_apply(generated: Path) -> None:
    compiled = cache.cached_library(generated, use_cache=False)
    ctx = {"incident": {"service": "nothing-selects-this"}}
    candidates = set(compiled.selection.candidates(ctx))
    for position, cp in enumerate(compiled.playbooks):
        if position not in candidates and not cp.playbook.fallback:
            assert cp.applies_when is not None
            assert not cp.applies_when.test(ctx)
    assert len(candidates) < len(compiled.playbooks) // 2


def documents() -> list[tuple[str, Any]]:
    """(schema name, data) of every document the tests and the bundled library hold."""
    found = []
    names = {"Policy": "policy", "Playbook": "playbook", "Shared": "shared"}
    paths = [*ROOT.glob("tests/data/**/*.yaml"), *LIBRARY.rglob("*.yaml")]
    for path in sorted(paths):
        doc, _ = load_file(path)
        if doc is None or not isinstance(doc.data, dict):
            continue
        kind = doc.data.get("kind")
        if kind in names:
            found.append((names[kind], doc.data))
        elif "incidents" in path.parts:
            found.append(("incident", doc.data))
    return found


def agrees(name: str, data: Any) -> None:
    check = fastschema.compile_schema(schema.load_schema(name))
    assert check is not None
    valid = not any(True for _ in Draft202012Validator(schema.load_schema(name)).iter_errors(data))
    assert check(data) == valid, json.dumps(data)[:300]


def test_fast_check_agrees_with_jsonschema_on_every_document() -> None:
    found = documents()
    assert len(found) > 40
    for name, data in found:
        agrees(name, data)


def _paths(data: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    out = [prefix]
    if isinstance(data, dict):
        for key, value in data.items():
            out += _paths(value, (*prefix, key))
    elif isinstance(data, list):
        for index, value in enumerate(data):
            out += _paths(value, (*prefix, index))
    return out


REPLACEMENTS = st.sampled_from(
    [None, True, False, 0, 1, 1.0, -1, 2.5, "", "x", "P1", "15m", "Bad Id", [], [1], {}, {"a": 1}]
)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data(), replacement=REPLACEMENTS, delete=st.booleans())
def test_fast_check_agrees_with_jsonschema_on_mutated_playbooks(
    data: st.DataObject, replacement: Any, delete: bool
) -> None:
    doc, _ = load_file(LIBRARY / "database-failure.yaml")
    assert doc is not None
    mutated = copy.deepcopy(doc.data)
    path = data.draw(st.sampled_from(_paths(mutated)[1:]))
    parent = mutated
    for step in path[:-1]:
        parent = parent[step]
    if delete:
        del parent[path[-1]]
    else:
        parent[path[-1]] = replacement
    agrees("playbook", mutated)


def test_equal_follows_jsonschema() -> None:
    assert not fastschema.equal(True, 1) and not fastschema.equal(0, False)
    assert fastschema.equal(1, 1.0) and fastschema.equal([1, {"a": True}], [1.0, {"a": True}])
    assert not fastschema.equal([True], [1]) and not fastschema.equal({"a": 1}, {"b": 1})


def test_an_unsupported_keyword_leaves_the_answer_to_jsonschema() -> None:
    assert fastschema.compile_schema({"type": "object", "patternProperties": {}}) is None
    assert fastschema.compile_schema({"$ref": "other.json#/x"}) is None


def test_a_warm_run_does_not_import_jsonschema(tmp_path: Path) -> None:
    env = {**unmeasured_env(), "PLAYBOOK_CACHE_DIR": str(tmp_path)}
    code = (
        "import sys\n"
        "from playbook_engine.cli.main import main\n"
        "try:\n"
        "    main(sys.argv[1:])\n"
        "except SystemExit:\n"
        "    pass\n"
        "print('jsonschema' in sys.modules, file=sys.stderr)\n"
    )
    args = [str(INCIDENTS[0]), "--library", str(LIBRARY), "--at", "2026-02-01T00:30:00Z"]
    command = [sys.executable, "-c", code, "run", *args, "--format", "json"]
    runs = [subprocess.run(command, capture_output=True, text=True, env=env) for _ in range(2)]
    assert [r.stderr.strip() for r in runs] == ["False", "False"]
    assert runs[0].stdout == runs[1].stdout and runs[0].stdout.startswith("{")


def test_only_a_process_ending_without_teardown_keeps_loaded_documents() -> None:
    """The console script ends with os._exit, so it keeps what loading would free; any
    other caller (this test process) frees it as usual."""
    script = (
        "import sys, weakref\n"
        "from pathlib import Path\n"
        "from playbook_engine import pipeline as library\n"
        "from playbook_engine.speed import lifetime\n"
        "if sys.argv[1] == 'ending':\n"
        "    lifetime.end_without_teardown()\n"
        "library.load_library(Path(sys.argv[2]))\n"
        "kept = lifetime._kept or []\n"
        "print(sum(len(results) for results in kept))\n"
    )
    counts = [
        subprocess.run(
            [sys.executable, "-c", script, mode, str(LIBRARY)],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
        for mode in ("ending", "other")
    ]
    from playbook_engine.load.discovery import discover

    assert counts == [str(len(discover(LIBRARY))), "0"]
