"""The package reads as the pipeline: stage subpackages, no import cycles, layers that depend
inward only, light `__init__`s, and one place that builds Jinja2 environments."""

from __future__ import annotations

import ast
import subprocess
import sys
from collections import defaultdict
from pathlib import Path

import pytest
from conftest import unmeasured_env

PACKAGE = Path(__file__).resolve().parent.parent / "playbook_engine"
NAME = "playbook_engine"

# What a stage may import besides itself and the foundation modules at the top. `speed` is
# the exception by design: its low modules (stores, lifetime) serve every stage, its high ones
# (cache, doccache, prework) drive the pipeline.
FOUNDATION = {
    "_lazy",
    "diagnostics",
    "limits",
    "timeparse",
    "textsafe",
    "files",
    "model",
    "plan",
    "calendars",
    "jsonio",
}
ALLOWED = {
    "load": {"speed"},
    "check": {"sandbox", "load"},
    "sandbox": {"speed"},
    "compile": {"sandbox", "check", "load", "speed"},
    "engine": {"compile", "sandbox", "load"},
    "render": {"authoring"},  # render.diff renders authoring's behaviour diff
    "adapters": set(),
}
NEVER_IMPORTS_CLI = {"load", "check", "sandbox", "compile", "engine", "render", "adapters"}


def _modules() -> dict[str, Path]:
    found = {}
    for path in PACKAGE.rglob("*.py"):
        parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts = parts[:-1]
        found[".".join(parts)] = path
    return found


def _imports(modules: dict[str, Path]) -> dict[str, set[str]]:
    """Every playbook_engine module each module imports, at the top or inside a function."""
    graph: dict[str, set[str]] = defaultdict(set)
    for name, path in modules.items():
        is_package = path.name == "__init__.py"
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom):
                if node.level:
                    base = name.split(".") if is_package else name.split(".")[:-1]
                    base = base[: len(base) - (node.level - 1)]
                    target = ".".join([*base, *([node.module] if node.module else [])])
                else:
                    target = node.module or ""
                if not target.startswith(NAME):
                    continue
                for alias in node.names:
                    candidate = f"{target}.{alias.name}"
                    graph[name].add(candidate if candidate in modules else target)
            elif isinstance(node, ast.Import):
                graph[name].update(a.name for a in node.names if a.name.startswith(NAME))
        graph[name].discard(name)
    return graph


def _stage(module: str) -> str:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else ""


def test_no_import_cycles() -> None:
    modules = _modules()
    graph = _imports(modules)
    state: dict[str, int] = {}
    cycles: list[list[str]] = []

    def visit(node: str, path: list[str]) -> None:
        state[node] = 1
        path.append(node)
        for nxt in sorted(graph.get(node, ())):
            if nxt == NAME:
                continue  # the package itself: only __version__ and the lazy API
            if state.get(nxt) == 1:
                cycles.append(path[path.index(nxt) :] + [nxt])
            elif nxt not in state:
                visit(nxt, path)
        path.pop()
        state[node] = 2

    for module in sorted(modules):
        if module not in state:
            visit(module, [])
    assert cycles == []


def test_stages_depend_inward_only() -> None:
    graph = _imports(_modules())
    wrong = []
    for module, targets in sorted(graph.items()):
        stage = _stage(module)
        if stage not in ALLOWED:
            continue
        for target in targets:
            other = _stage(target)
            if other in ("", stage) or other in FOUNDATION or other in ALLOWED[stage]:
                continue
            wrong.append(f"{module} -> {target}")
    assert wrong == []


def test_nothing_below_the_cli_imports_it() -> None:
    graph = _imports(_modules())
    wrong = [
        f"{m} -> {t}"
        for m, targets in graph.items()
        for t in targets
        if _stage(m) in NEVER_IMPORTS_CLI and _stage(t) == "cli"
    ]
    assert wrong == []


def test_few_modules_sit_flat_in_the_package() -> None:
    flat = sorted(p.name for p in PACKAGE.glob("*.py"))
    assert len(flat) <= 15, flat


@pytest.mark.parametrize(
    "package",
    [
        "playbook_engine",
        "playbook_engine.load",
        "playbook_engine.check",
        "playbook_engine.sandbox",
        "playbook_engine.compile",
        "playbook_engine.engine",
        "playbook_engine.render",
        "playbook_engine.authoring",
        "playbook_engine.speed",
        "playbook_engine.cli",
        "playbook_engine.adapters",
    ],
)
def test_a_package_init_imports_nothing_heavy(package: str) -> None:
    code = (
        f"import sys, {package}\n"
        "heavy = [m for m in ('jinja2', 'yaml', 'jsonschema', 'click') if m in sys.modules]\n"
        "print(','.join(heavy))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
        env=unmeasured_env(),
    )
    assert result.stdout.strip() == ""


def test_the_public_api_resolves_lazily() -> None:
    import playbook_engine

    for name in playbook_engine.__all__:
        assert getattr(playbook_engine, name) is not None, name
    with pytest.raises(AttributeError, match="no attribute 'nothing'"):
        playbook_engine.nothing  # noqa: B018


def test_only_the_sandbox_builds_jinja2_environments() -> None:
    builders = ("Environment(", "SandboxedEnvironment(", "ImmutableSandboxedEnvironment(")
    outside = [
        str(path.relative_to(PACKAGE))
        for path in PACKAGE.rglob("*.py")
        if "sandbox" not in path.relative_to(PACKAGE).parts
        and any(b in path.read_text(encoding="utf-8") for b in builders)
    ]
    assert outside == []
