"""No loop escapes the render budget, and one plan's templates and expressions share a total
budget: a library that validates clean cannot make `run` or `test` take long (issue #15)."""

from __future__ import annotations

import shutil
import subprocess
import time
from pathlib import Path

import pytest
from conftest import PLAYBOOK

from playbook_engine import sandbox

RECURSIVE = (
    "{% for x in range(1000) recursive %}{% if loop.depth == 1 %}{{ loop(range(1000)) }}"
    "{% endif %}{% endfor %}"
)
# Just under the per-render cap: 9 x 999 iterations.
HEAVY = "{% for a in range(9) %}{% for b in range(999) %}{% endfor %}{% endfor %}x"


def test_a_recursive_loop_counts_every_iteration() -> None:
    template = sandbox.compile_template(RECURSIVE, "plain")
    started = time.perf_counter()
    with pytest.raises(sandbox.TemplateError, match="more than 10,000 loop iterations"):
        sandbox.render(template, {})
    assert time.perf_counter() - started < 1.0  # it ran 10^6 iterations, 5.5 s, before


def test_a_recursive_loop_within_the_budget_still_renders() -> None:
    template = sandbox.compile_template(
        "{% for x in items recursive %}{{ x.n }}{% if x.c %}[{{ loop(x.c) }}]{% endif %}"
        "{% endfor %}",
        "plain",
    )
    items = [{"n": 1, "c": [{"n": 2, "c": []}]}, {"n": 3, "c": []}]
    assert sandbox.render(template, {"items": items}) == "1[2]3"


def test_one_plan_shares_a_total_budget() -> None:
    template = sandbox.compile_template(HEAVY, "plain")
    assert sandbox.render(template, {}) == "x"  # alone, within its own cap
    rendered = 0
    with sandbox.plan_budget():
        with pytest.raises(sandbox.TemplateError, match="the plan's templates and expressions"):
            for _ in range(20):
                sandbox.render(template, {})
                rendered += 1
    assert rendered == sandbox.PLAN_STEPS // 9_000  # 11 renders of 9,000 steps fit, not 12
    assert sandbox.render(template, {}) == "x"  # outside a plan: the per-render cap only


BASIC = Path(__file__).parent / "data" / "libraries" / "basic"


def test_a_plan_of_many_heavy_notifications_ends_quickly(tmp_path: Path) -> None:
    library = tmp_path / "lib"
    shutil.copytree(BASIC, library)
    notifications = "".join(
        f'    - {{id: n{i}, channel: chat, body: "{HEAVY}"}}\n' for i in range(30)
    )
    (library / "heavy.yaml").write_text(
        "apiVersion: playbook-engine/v1\nkind: Playbook\n"
        "metadata: {id: heavy, title: Heavy, owner: sre}\n"
        "spec:\n  appliesWhen: {field: incident.title, contains: heavy}\n"
        "  steps:\n    - {id: s, title: Step, owner: responder}\n"
        f"  notifications:\n{notifications}",
        encoding="utf-8",
    )
    incident = tmp_path / "incident.yaml"
    incident.write_text("id: INC-1\ntitle: heavy\nstartedAt: 2026-01-01T00:00:00Z\n")
    validated = subprocess.run(
        [*PLAYBOOK, "validate", str(library)], capture_output=True, text=True, timeout=60
    )
    assert validated.returncode == 0, validated.stdout
    started = time.perf_counter()
    ran = subprocess.run(
        [*PLAYBOOK, "run", str(incident), "--library", str(library), "--no-cache"]
        + ["--at", "2026-01-01T00:05:00Z"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    elapsed = time.perf_counter() - started
    assert ran.returncode == 1, ran.stderr
    assert "the plan's templates and expressions run more than 100,000" in ran.stdout + ran.stderr
    assert elapsed < 30
