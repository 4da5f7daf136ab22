"""The benchmark harness: whole-process and in-process timings, peers side by side.

Run from the repository root:

    python benchmarks/bench.py            # our own timings and check-jsonschema
    python benchmarks/bench.py --peers    # also ajv-cli (installed by npm under benchmarks/out/)
    python benchmarks/bench.py --quick    # fewer runs and sizes, for a smoke test

Everything it makes goes under `benchmarks/out/` (git-ignored): generated libraries, the
library cache used by the runs, ajv-cli, and `results.json`, which `docs/benchmarks.md`
quotes. Whole-process timings are hyperfine-style: warm-up runs, then several timed runs,
reporting the median (and min/max). Every target is a ratio of two timings taken in the same
run on the same files, never an absolute threshold.
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
OUT = HERE / "out"
CACHE = OUT / "cache"
NODE = OUT / "node"
INCIDENT = "playbooks/incidents/01-gitlab-db-deletion.yaml"
CLOCK = "2026-02-01T00:30:00Z"

sys.path.insert(0, str(HERE))
from generate import generate  # noqa: E402


def playbook_command() -> list[str]:
    """The `playbook` console script of this interpreter, else `python -m playbook_engine`."""
    script = Path(sys.executable).with_name("playbook")
    return [str(script)] if script.exists() else [sys.executable, "-m", "playbook_engine"]


Timing = tuple[Sequence[str], Callable[[], None] | None]
"""A command, and what to do before each run of it (or None)."""


def timed(commands: dict[str, Timing], runs: int, warmup: int) -> dict[str, dict[str, float]]:
    """Median, min and max wall time (ms) of each command as a whole process, run in turn
    (round-robin, hyperfine-style warm-up first): commands compared in a ratio see the same
    moments of a shared machine, so drift between batches cannot bend the ratio."""
    env = process_environment()
    samples: dict[str, list[float]] = {name: [] for name in commands}
    for index in range(warmup + runs):
        for name, (command, prepare) in commands.items():
            if prepare:
                prepare()
            start = time.perf_counter()
            subprocess.run(
                command, cwd=REPO, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
            )
            elapsed = (time.perf_counter() - start) * 1000
            if index >= warmup:
                samples[name].append(elapsed)
    return {
        name: {
            "median_ms": round(statistics.median(found), 1),
            "min_ms": round(min(found), 1),
            "max_ms": round(max(found), 1),
            "runs": runs,
        }
        for name, found in samples.items()
    }


def process_environment() -> dict[str, str]:
    """The environment of every timed process: our library cache, and Python's bytecode
    cache on for everything alike. An editable install under PYTHONDONTWRITEBYTECODE=1 would
    compile the engine's modules from source on every run (about 50 ms) while the packages
    of the yardstick load from the .pyc files their installation wrote; the cache folder
    keeps the bytecode of every module timed, ours and theirs, after the warm-up runs."""
    env = {**os.environ, "PLAYBOOK_CACHE_DIR": str(CACHE)}
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    env["PYTHONPYCACHEPREFIX"] = str(OUT / "pycache")
    return env


def clear_cache() -> None:
    """Empty the library cache: the next run is a cold one."""
    shutil.rmtree(CACHE, ignore_errors=True)


def ajv_cli(install: bool) -> list[str] | None:
    """ajv-cli from benchmarks/out/node, installed there with npm if asked; None without Node."""
    binary = NODE / "node_modules" / ".bin" / "ajv"
    if not binary.exists() and install and shutil.which("npm"):
        NODE.mkdir(parents=True, exist_ok=True)
        subprocess.run(
            ["npm", "install", "--silent", "--no-audit", "--no-fund", "ajv-cli@5", "ajv-formats@3"],
            cwd=NODE,
            check=False,
        )
    if not binary.exists():
        return None
    return [str(binary), "validate", "--spec=draft2020", "--strict=false", "--errors=text"]


def process_timings(args: argparse.Namespace, lib200: Path, lib1000: Path) -> dict[str, Any]:
    """Whole-process timings of `playbook run` and `playbook validate`, and of the peers."""
    runs, big = (3, 2) if args.quick else (21, 5)
    pb = playbook_command()
    run = [*pb, "run", INCIDENT, "--at", CLOCK, "--format", "json"]
    results: dict[str, Any] = {}

    def record(name: str, value: dict[str, float]) -> None:
        results[name] = value
        print(f"  {name:<42} {value['median_ms']:>9.1f} ms", flush=True)

    def record_all(found: dict[str, dict[str, float]]) -> None:
        for name, value in found.items():
            record(name, value)

    yardstick: Timing = ([sys.executable, "-c", "import yaml, jsonschema, jinja2, click"], None)
    bundled, lib200_run = [*run, "--library", "playbooks"], [*run, "--library", str(lib200)]
    clear_cache()
    record_all(
        timed(
            {
                "import yaml+jsonschema+jinja2+click": yardstick,
                "python -c pass": ([sys.executable, "-c", "pass"], None),
                "run bundled warm cache": (bundled, None),
                "run 200 warm cache": (lib200_run, None),
            },
            runs,
            2,
        )
    )
    for label, command in (("bundled", bundled), ("200", lib200_run)):
        record_all(timed({f"run {label} cold cache": (command, clear_cache)}, runs, 0))
        record_all(timed({f"run {label} --no-cache": ([*command, "--no-cache"], None)}, runs, 1))

    files = sorted(str(p) for p in lib1000.rglob("*.yaml") if p.name != "policy.yaml")
    one = "playbooks/database-failure.yaml"
    schema = "schemas/playbook.schema.json"
    # The pre-commit case proper: the file given has just changed, so nothing stored about
    # it is current (the rest of its library is).
    edited = OUT / "edited"
    shutil.rmtree(edited, ignore_errors=True)
    shutil.copytree(REPO / "playbooks", edited)
    target = edited / "database-failure.yaml"
    original = target.read_text(encoding="utf-8")
    edits = itertools.count()

    def edit() -> None:
        target.write_text(original + f"# edit {next(edits)}\n", encoding="utf-8")

    many: dict[str, Timing] = {"validate 1000 (ours)": ([*pb, "validate", str(lib1000)], None)}
    single: dict[str, Timing] = {
        "validate 1 file (ours)": ([*pb, "validate", one], None),
        "validate 1 file, just edited (ours)": ([*pb, "validate", str(target)], edit),
    }
    # The same pre-commit case in a large repository: one playbook of the 1,000 (#13).
    large_one = str(lib1000 / "database-failure.yaml")
    edited_large = OUT / "edited1000"
    shutil.rmtree(edited_large, ignore_errors=True)
    shutil.copytree(lib1000, edited_large, ignore=shutil.ignore_patterns("incidents"))
    large_target = edited_large / "database-failure.yaml"

    def edit_large() -> None:
        large_target.write_text(original + f"# edit {next(edits)}\n", encoding="utf-8")

    single["validate 1 of 1000 files (ours)"] = ([*pb, "validate", large_one], None)
    single["validate 1 of 1000 files, just edited (ours)"] = (
        [*pb, "validate", str(large_target)],
        edit_large,
    )
    checker = shutil.which("check-jsonschema")
    if checker:
        single["validate 1 of 1000 files (check-jsonschema)"] = (
            [checker, "--schemafile", schema, large_one],
            None,
        )
        many["validate 999 (check-jsonschema)"] = ([checker, "--schemafile", schema, *files], None)
        single["validate 1 file (check-jsonschema)"] = (
            [checker, "--schemafile", schema, one],
            None,
        )
    ajv = ajv_cli(args.peers)
    if ajv:
        every = [arg for f in files for arg in ("-d", f)]
        many["validate 999 (ajv-cli)"] = ([*ajv, "-s", schema, *every], None)
        single["validate 1 file (ajv-cli)"] = ([*ajv, "-s", schema, "-d", one], None)
    record_all(timed(many, big, 1))
    record_all(timed(single, runs, 2))
    return results


def _best(function: Callable[[], Any], repeat: int = 5) -> float:
    """The best of `repeat` timings of `function` (seconds)."""
    best = float("inf")
    for _ in range(repeat):
        start = time.perf_counter()
        function()
        best = min(best, time.perf_counter() - start)
    return best


def scaled_library(base: Any, count: int) -> Any:
    """A compiled library of `count` playbooks made in memory from the variants of `base`
    (each copy gets its own id and services), for sizes too large to generate as files."""
    import dataclasses

    from playbook_engine.compile.compiler import compile_library
    from playbook_engine.load.discovery import incident_fields
    from playbook_engine.model import AllOf, Leaf

    library = base.library
    variants = [
        p
        for p in library.playbooks
        if isinstance(p.applies_when, AllOf)
        and isinstance(p.applies_when.conditions[0], Leaf)
        and p.applies_when.conditions[0].field == "incident.service"
    ]
    made = list(library.playbooks)
    number = 0
    while len(made) < count:
        source = variants[number % len(variants)]
        assert isinstance(source.applies_when, AllOf)
        scope, rest = source.applies_when.conditions[0], source.applies_when.conditions[1:]
        assert isinstance(scope, Leaf)
        services = [f"{service}-x{number}" for service in scope.value]
        when = AllOf((dataclasses.replace(scope, value=services), *rest), source.applies_when.span)
        made.append(dataclasses.replace(source, id=f"{source.id}-x{number}", applies_when=when))
        number += 1
    bigger = dataclasses.replace(library, playbooks=tuple(made))
    compiled, _ = compile_library(bigger, incident_fields(), lazy=True)
    return compiled


def evaluation_timings(args: argparse.Namespace) -> dict[str, Any]:
    """In-process: evaluation per incident as the library grows, rendering, leaf predicates."""
    from playbook_engine import sandbox
    from playbook_engine.compile.conditions import ConditionCompiler
    from playbook_engine.engine.evaluation import evaluate
    from playbook_engine.load.documents import load_file
    from playbook_engine.model import Leaf
    from playbook_engine.pipeline import load_library
    from playbook_engine.render.plans import render_plan
    from playbook_engine.timeparse import parse_timestamp

    at = parse_timestamp(CLOCK)
    sizes = [10, 100] if args.quick else [10, 100, 1000]
    results: dict[str, Any] = {"evaluation": {}}
    compiled = None
    for size in sizes:
        lib = generate(OUT / f"lib{size}", size, incidents=200)
        start = time.perf_counter()
        loaded = load_library(lib)
        load_ms = (time.perf_counter() - start) * 1000
        assert loaded.ok and loaded.compiled is not None, loaded.diagnostics[:3]
        compiled = loaded.compiled
        incidents = [
            load_file(p)[0].data  # type: ignore[union-attr]
            for p in sorted((lib / "incidents").glob("*.json"))
        ]
        results["evaluation"][str(size)] = _evaluate(compiled, incidents, at, load_ms)
    if compiled is not None and not args.quick:
        big = scaled_library(compiled, 10_000)
        incidents = [load_file(p)[0].data for p in sorted((OUT / "lib1000/incidents").glob("*"))]  # type: ignore[union-attr]
        results["evaluation"]["10000"] = _evaluate(big, incidents, at, None)
    for size, row in results["evaluation"].items():
        print(
            f"  evaluate, {size:>5} playbooks: {row['per_incident_us']:>8.1f} µs per incident, "
            f"{row['incidents_per_s']:>7.0f}/s",
            flush=True,
        )

    assert compiled is not None
    plan = evaluate(compiled, load_file(REPO / INCIDENT)[0].data, at)  # type: ignore[union-attr]
    for fmt in ("markdown", "text", "json"):
        seconds = _best(lambda f=fmt: [render_plan(plan, f, True, False) for _ in range(50)])  # type: ignore[misc]
        results[f"render {fmt} (explain) µs"] = round(seconds / 50 * 1e6, 1)
        print(f"  render {fmt:<8} {results[f'render {fmt} (explain) µs']:>8.1f} µs", flush=True)

    leaf = Leaf("incident.service", "equals", "postgres-main", plan_span())
    test = ConditionCompiler({}).compile(leaf).test
    expression = sandbox.compile_expression("incident.service == 'postgres-main'")
    ctx = {"incident": {"service": "postgres-main", "labels": {}}}
    loops = 20_000
    leaf_s = _best(lambda: [test(ctx) for _ in range(loops)]) / loops
    expr_loops = 2000
    expr_s = _best(
        lambda: [sandbox.evaluate_expression(expression, ctx) for _ in range(expr_loops)]
    )
    expr_s /= expr_loops
    compile_s = _best(lambda: ConditionCompiler({}).compile(leaf), 50)
    results["leaf predicate µs"] = round(leaf_s * 1e6, 3)
    results["jinja2 expression µs"] = round(expr_s * 1e6, 3)
    results["leaf compile µs"] = round(compile_s * 1e6, 2)
    print(
        f"  leaf predicate {leaf_s * 1e6:.2f} µs, Jinja2 expression {expr_s * 1e6:.2f} µs "
        f"({expr_s / leaf_s:.0f}x), compiling a leaf {compile_s * 1e6:.1f} µs",
        flush=True,
    )
    return results


def plan_span() -> Any:
    """A span for conditions made in the harness."""
    from playbook_engine.diagnostics import Span

    return Span("bench", 1, 1)


def _evaluate(
    compiled: Any, incidents: list[Any], at: datetime, load_ms: float | None
) -> dict[str, Any]:
    from playbook_engine.engine.evaluation import evaluate

    seconds = _best(lambda: [evaluate(compiled, data, at) for data in incidents], 3)
    per = seconds / len(incidents)
    return {
        "playbooks": len(compiled.playbooks),
        "load_and_validate_ms": None if load_ms is None else round(load_ms, 1),
        "per_incident_us": round(per * 1e6, 1),
        "incidents_per_s": round(1 / per),
    }


MEMORY_SCRIPT = """
import resource, sys
from pathlib import Path
from playbook_engine.engine.evaluation import evaluate
from playbook_engine.load.documents import load_file
from playbook_engine.pipeline import load_library
from playbook_engine.timeparse import parse_timestamp
lib = Path(sys.argv[1])
compiled = load_library(lib).compiled
at = parse_timestamp("2026-02-01T00:30:00Z")
for path in sorted((lib / "incidents").glob("*.json")):
    evaluate(compiled, load_file(path)[0].data, at)
print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)
"""


def memory(lib: Path) -> float:
    """Peak resident memory (MB) of loading, validating and evaluating a library."""
    done = subprocess.run(
        [sys.executable, "-c", MEMORY_SCRIPT, str(lib)],
        cwd=REPO,
        capture_output=True,
        text=True,
        check=True,
    )
    return round(int(done.stdout.strip()) / 1024, 1)


def machine() -> dict[str, str]:
    """What the numbers were measured on."""
    cpu = ""
    info = Path("/proc/cpuinfo")
    if info.exists():
        for line in info.read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    node = shutil.which("node")
    return {
        "date": datetime.now(UTC).strftime("%Y-%m-%d"),
        "cpu": cpu,
        "cores": str(os.cpu_count()),
        "python": platform.python_version(),
        "platform": platform.platform(),
        "node": subprocess.run([node, "--version"], capture_output=True, text=True).stdout.strip()
        if node
        else "",
    }


def main() -> None:
    """Run every benchmark and write benchmarks/out/results.json."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--peers", action="store_true", help="install and time ajv-cli too")
    parser.add_argument("--quick", action="store_true", help="fewer runs and sizes")
    parser.add_argument("--skip-process", action="store_true", help="in-process timings only")
    args = parser.parse_args()
    OUT.mkdir(exist_ok=True)
    print("generating libraries", flush=True)
    lib200 = generate(OUT / "lib200", 200, incidents=20)
    lib1000 = generate(OUT / "lib1000", 1000, incidents=200)
    results: dict[str, Any] = {"machine": machine()}
    print("whole process", flush=True)
    if not args.skip_process:
        results["process"] = process_timings(args, lib200, lib1000)
    print("in process", flush=True)
    results.update(evaluation_timings(args))
    results["rss 1000 playbooks MB"] = memory(lib1000)
    print(f"  peak RSS, 1000 playbooks: {results['rss 1000 playbooks MB']} MB", flush=True)
    (OUT / "results.json").write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8")
    print(f"written {OUT / 'results.json'}")


if __name__ == "__main__":
    main()
